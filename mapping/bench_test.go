package mapping

import (
	"fmt"
	"slices"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
)

func benchPolicies(b testing.TB) *Policies {
	return mustCompile(b, []config.App{newApp("bitbucket", "atlassian")}, []config.Policy{
		{Name: "ops", App: "bitbucket", Groups: []string{"Ops"}},
		{Name: "eng", App: "bitbucket", Groups: []string{"Engineering", "id:" + engID}, Filter: `emails[type eq "work"].value ew "@example.com"`},
	})
}

func benchUser(b testing.TB) UserView {
	d := doc(b, richUser)
	d["emails"] = []any{map[string]any{"value": "ann.lee@example.com", "type": "work", "primary": true}}
	return UserView{ID: "hub-1", Doc: d, Groups: []GroupRef{sales, eng}}
}

func desiredBench(b testing.TB) map[string]any {
	return benchPolicies(b).DesiredUser("bitbucket", benchUser(b)).Attributes
}

func BenchmarkDesiredUser(b *testing.B) {
	p, u := benchPolicies(b), benchUser(b)
	b.ReportAllocs()
	for b.Loop() {
		if !p.DesiredUser("bitbucket", u).Present {
			b.Fatal("not present")
		}
	}
}

func BenchmarkPlan10k(b *testing.B) {
	before, after := benchPolicies(b), mustCompile(b, []config.App{newApp("bitbucket", "atlassian")},
		[]config.Policy{{Name: "eng", App: "bitbucket", Groups: []string{"Engineering"}}})
	users := make([]UserView, 10_000)
	for i := range users {
		u := benchUser(b)
		u.ID = fmt.Sprint("u", i)
		u.Doc = map[string]any{"userName": fmt.Sprintf("u%d@example.com", i), "emails": u.Doc["emails"], "name": u.Doc["name"]}
		if i%2 == 0 {
			u.Groups = []GroupRef{ops}
		}
		users[i] = u
	}
	b.ReportAllocs()
	for b.Loop() {
		if pl := Plan(before, after, slices.Values(users))["bitbucket"]; len(pl.Deactivate) != 5000 {
			b.Fatalf("deactivate %d", len(pl.Deactivate))
		}
	}
}
