package mapping

import (
	"reflect"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
)

func TestMarks(t *testing.T) {
	due := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	bb := newApp("bitbucket", "atlassian")
	wiki := newApp("wiki", "scim")
	filtered := newApp("filtered", "scim")
	idle := newApp("idle", "scim")
	p := mustCompile(t, []config.App{bb, wiki, filtered, idle}, []config.Policy{
		{Name: "bb", App: "bitbucket", Groups: []string{"Engineering", "id:" + opsID}},
		{Name: "wiki", App: "wiki", Groups: []string{"Sales"}, PushGroups: []config.PushGroup{{Group: "engineering", As: "eng"}}},
		{Name: "filtered", App: "filtered", Groups: []string{"Everyone"}, Filter: `groups[display eq "Contractors"]`},
	})
	mark := func(app, key string) store.Mark { return store.Mark{App: app, Key: key, Due: due} }

	if got, want := p.MarksForUser("u1", due), []store.Mark{
		mark("bitbucket", "user:u1"), mark("wiki", "user:u1"), mark("filtered", "user:u1"), mark("idle", "user:u1"),
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("MarksForUser = %v, want %v", got, want)
	}

	for name, tc := range map[string]struct {
		id, name string
		members  []string
		want     []store.Mark
	}{
		"source group by name, pushed elsewhere": {engID, "ENGINEERING", []string{"u1", "u2", "u1", ""}, []store.Mark{
			mark("bitbucket", "user:u1"), mark("bitbucket", "user:u2"),
			mark("wiki", "group:"+engID),
			mark("filtered", "user:u1"), mark("filtered", "user:u2")}},
		"source group by id": {opsID, "Operations", []string{"u3"}, []store.Mark{
			mark("bitbucket", "user:u3"), mark("filtered", "user:u3")}},
		"source of a pushing app": {salesI, "Sales", []string{"u4"}, []store.Mark{
			mark("wiki", "user:u4"), mark("filtered", "user:u4")}},
		"unrelated group: only the app whose filter reads groups": {"g9", "Contractors", []string{"u5"}, []store.Mark{
			mark("filtered", "user:u5")}},
		"no members, pushed group": {engID, "Engineering", nil, []store.Mark{mark("wiki", "group:"+engID)}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := p.MarksForMembership(tc.id, tc.name, tc.members, due); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MarksForMembership = %v\nwant %v", got, tc.want)
			}
		})
	}

	if got, want := p.MarksForGroup(engID, "Engineering", due), []store.Mark{mark("wiki", "group:"+engID)}; !reflect.DeepEqual(got, want) {
		t.Errorf("MarksForGroup(pushed) = %v, want %v", got, want)
	}
	if got := p.MarksForGroup(opsID, "Ops", due); got != nil {
		t.Errorf("MarksForGroup(a source group nobody pushes) = %v, want none", got)
	}

	var none *Policies
	if none.MarksForUser("u", due) != nil || none.MarksForMembership("g", "G", []string{"u"}, due) != nil || none.MarksForGroup("g", "G", due) != nil {
		t.Error("nil Policies mark something")
	}
}
