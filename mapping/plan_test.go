package mapping

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
)

// population returns n engineers (e0…) and m ops people (o0…), and a
// breakglass admin in both groups.
func population(t *testing.T, n, m int) []UserView {
	var users []UserView
	for i := range n {
		users = append(users, person(t, fmt.Sprintf("e%d", i), fmt.Sprintf("e%d@example.com", i), eng))
	}
	for i := range m {
		users = append(users, person(t, fmt.Sprintf("o%d", i), fmt.Sprintf("o%d@example.com", i), ops))
	}
	return append(users, person(t, "admin", "breakglass@example.com", eng, ops))
}

func seq(users []UserView) iter.Seq[UserView] { return slices.Values(users) }

func bbPolicies(t *testing.T, mutate func(*config.App), groups ...string) *Policies {
	t.Helper()
	app := newApp("bitbucket", "atlassian")
	app.Protected = []string{"breakglass@example.com"}
	if mutate != nil {
		mutate(&app)
	}
	return mustCompile(t, []config.App{app}, []config.Policy{{Name: "bb", App: "bitbucket", Groups: groups}})
}

func TestPlanFromNothing(t *testing.T) {
	users := population(t, 3, 2)
	users[0].Doc["active"] = false // an inactive user gets no account
	plans := Plan(nil, bbPolicies(t, nil, "Engineering"), seq(users))
	pl := plans["bitbucket"]
	if len(plans) != 1 || pl == nil {
		t.Fatalf("plans = %v", plans)
	}
	want := &AppPlan{App: "bitbucket", Create: []string{"breakglass@example.com", "e1@example.com", "e2@example.com"},
		Safeguard: config.Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 20}}
	if !reflect.DeepEqual(pl, want) {
		t.Errorf("plan = %+v\nwant %+v", pl, want)
	}
}

func TestPlanDeprovisioningAndSafeguard(t *testing.T) {
	users := population(t, 30, 3) // 34 users
	both := bbPolicies(t, nil, "Engineering", "Ops")
	for name, tc := range map[string]struct {
		after         *Policies
		deactivate    []string
		delete        []string
		exceeds       bool
		protected     []string
		wantPopulaton int
	}{
		"dropping ops deactivates 3 of 34 (8.8%)": {
			after: bbPolicies(t, nil, "Engineering"), deactivate: []string{"o0@example.com", "o1@example.com", "o2@example.com"},
		},
		"dropping engineering deactivates 30 (88%), the admin is protected": {
			after: bbPolicies(t, nil, "Ops"), deactivate: names("e", 30), exceeds: true,
		},
		"delete mode": {
			after:  bbPolicies(t, func(a *config.App) { a.Actions.Delete, a.Deprovision = true, config.DeprovisionDelete }, "Engineering"),
			delete: []string{"o0@example.com", "o1@example.com", "o2@example.com"},
		},
		"a larger threshold": {
			after: bbPolicies(t, func(a *config.App) { a.Safeguard.MaxDeprovisionPercent = 90 }, "Ops"), deactivate: names("e", 30),
		},
		"a small app is not guarded": {
			after: bbPolicies(t, func(a *config.App) { a.Safeguard.MinPopulation = 35 }, "Ops"), deactivate: names("e", 30),
		},
		"no group left": {
			after: bbPolicies(t, nil, "Sales"), deactivate: append(names("e", 30), "o0@example.com", "o1@example.com", "o2@example.com"),
			exceeds: true, protected: []string{"breakglass@example.com"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			pl := Plan(both, tc.after, seq(users))["bitbucket"]
			slices.Sort(tc.deactivate)
			if !slices.Equal(pl.Deactivate, tc.deactivate) || !slices.Equal(pl.Delete, tc.delete) ||
				pl.ExceedsSafeguard != tc.exceeds || !slices.Equal(pl.Protected, tc.protected) {
				t.Errorf("plan = %+v", pl)
			}
			if pl.Population != 34 || len(pl.Create)+len(pl.Update)+len(pl.Reactivate) != 0 {
				t.Errorf("population %d, creates/updates/reactivations %d %d %d", pl.Population, len(pl.Create), len(pl.Update), len(pl.Reactivate))
			}
		})
	}
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d@example.com", prefix, i))
	}
	slices.Sort(out)
	return out
}

func TestPlanWithAccounts(t *testing.T) {
	u := func(id string, active any, groups []GroupRef, acct Account) UserView {
		v := person(t, id, id+"@example.com", groups...)
		if active != nil {
			v.Doc["active"] = active
		}
		v.Accounts = map[string]Account{"other-app": ActiveAccount}
		if acct != NoAccount {
			v.Accounts["bitbucket"] = acct
		}
		return v
	}
	users := []UserView{
		u("new", nil, []GroupRef{eng}, NoAccount),                 // create
		u("back", nil, []GroupRef{eng}, InactiveAccount),          // reactivate
		u("adopted", nil, []GroupRef{eng}, ActiveAccount),         // update: not admitted before
		u("same", nil, []GroupRef{eng, ops}, ActiveAccount),       // nothing
		u("suspended", false, []GroupRef{eng}, ActiveAccount),     // deactivate: inactive in the IdP
		u("gone-suspended", false, []GroupRef{eng}, NoAccount),    // nothing
		u("left", nil, []GroupRef{sales}, ActiveAccount),          // deactivate
		u("left-before", nil, []GroupRef{sales}, InactiveAccount), // nothing: already deactivated
		u("never", nil, []GroupRef{sales}, NoAccount),             // nothing
	}
	before := bbPolicies(t, nil, "Ops")
	pl := Plan(before, bbPolicies(t, nil, "Engineering"), seq(users))["bitbucket"]
	want := &AppPlan{
		App:        "bitbucket",
		Create:     []string{"new@example.com"},
		Reactivate: []string{"back@example.com"},
		Update:     []string{"adopted@example.com"},
		Deactivate: []string{"left@example.com", "suspended@example.com"},
		Population: 4, // same (admitted before), adopted, suspended, left (active accounts)
		Safeguard:  config.Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 20},
	}
	if !reflect.DeepEqual(pl, want) {
		t.Errorf("plan = %+v\nwant %+v", pl, want)
	}

	// In delete mode, deactivated accounts of users no policy admits are
	// deleted too.
	pl = Plan(before, bbPolicies(t, func(a *config.App) { a.Actions.Delete, a.Deprovision = true, config.DeprovisionDelete }, "Engineering"), seq(users))["bitbucket"]
	if !slices.Equal(pl.Delete, []string{"left-before@example.com", "left@example.com"}) || !slices.Equal(pl.Deactivate, []string{"suspended@example.com"}) {
		t.Errorf("delete mode: delete %q, deactivate %q", pl.Delete, pl.Deactivate)
	}
}

func TestPlanUpdatesOnMappingChange(t *testing.T) {
	users := population(t, 2, 1)
	users[1].Doc["title"] = "Engineer"
	before := bbPolicies(t, nil, "Engineering")
	after := bbPolicies(t, func(a *config.App) {
		a.Attributes = []config.AttributeMapping{
			{Target: "userName", Source: "userName"},
			{Target: `emails[type eq "work"].value`, Source: "emails.value"},
			{Target: "name.givenName", Source: "name.givenName"},
			{Target: "name.familyName", Source: "name.familyName"},
			{Target: "displayName", Template: "{{name.givenName}} {{name.familyName}}"},
			{Target: "title", Source: "title", Transform: config.TransformUppercase},
		}
	}, "Engineering")
	pl := Plan(before, after, seq(users))["bitbucket"]
	if !slices.Equal(pl.Update, []string{"e1@example.com"}) || len(pl.Create)+pl.Deprovisions() != 0 || pl.Population != 3 {
		t.Errorf("plan = %+v", pl)
	}
	if pl := Plan(before, before, seq(users))["bitbucket"]; len(pl.Update)+len(pl.Create)+pl.Deprovisions() != 0 {
		t.Errorf("an unchanged configuration plans changes: %+v", pl)
	}
}

func TestPlanGroupsAndApps(t *testing.T) {
	compile := func(pushes []config.PushGroup, apps ...string) *Policies {
		var as []config.App
		var ps []config.Policy
		for _, name := range apps {
			as = append(as, newApp(name, "scim"))
			ps = append(ps, config.Policy{Name: name, App: name, Groups: []string{"Engineering", "Ops"}, PushGroups: pushes})
		}
		return mustCompile(t, as, ps)
	}
	before := compile([]config.PushGroup{{Group: "Engineering"}, {Group: "Ops", As: "ops-old"}}, "wiki", "retired")
	after := compile([]config.PushGroup{{Group: "Engineering"}, {Group: "Ops", As: "ops-new"}, {Group: "Empty"}}, "wiki", "fresh")
	users := population(t, 1, 1)
	plans := Plan(before, after, seq(users))
	if _, ok := plans["retired"]; ok || len(plans) != 2 {
		t.Errorf("plans for %v; an app only the old configuration has is left out", slices.Sorted(mapsKeys(plans)))
	}
	wiki := plans["wiki"]
	if !slices.Equal(wiki.GroupsPushed, []string{"Engineering", "ops-new"}) || !slices.Equal(wiki.GroupsAdded, []string{"ops-new"}) ||
		!slices.Equal(wiki.GroupsRemoved, []string{"ops-old"}) {
		t.Errorf("wiki groups: pushed %q added %q removed %q", wiki.GroupsPushed, wiki.GroupsAdded, wiki.GroupsRemoved)
	}
	if fresh := plans["fresh"]; len(fresh.Create) != 3 || !slices.Equal(fresh.GroupsAdded, fresh.GroupsPushed) {
		t.Errorf("fresh app: %+v", fresh)
	}
}

func mapsKeys[V any](m map[string]V) iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestAppPlanString(t *testing.T) {
	for _, tc := range []struct {
		plan AppPlan
		want string
	}{
		{AppPlan{App: "bitbucket", Population: 0}, "bitbucket: create 0, reactivate 0, update 0, deactivate 0, delete 0 of 0"},
		{AppPlan{App: "wiki", Create: []string{"a"}, Update: []string{"b", "c"}, Protected: []string{"x"}, Population: 7,
			GroupsPushed: []string{"g1", "g2"}, GroupsAdded: []string{"g2"}, GroupsRemoved: []string{"g0"}},
			"wiki: create 1, reactivate 0, update 2, deactivate 0, delete 0 of 7; 1 protected kept; groups pushed 2 (+1 -1)"},
		{AppPlan{App: "bitbucket", Deactivate: []string{"a", "b"}, Delete: []string{"c"}, Population: 20, ExceedsSafeguard: true,
			Safeguard: config.Safeguard{MaxDeprovisionPercent: 12.5, MinPopulation: 20}},
			"bitbucket: create 0, reactivate 0, update 0, deactivate 2, delete 1 of 20; REFUSED unless forced: 3 deprovisions exceed 12.5% of 20"},
	} {
		if got := tc.plan.String(); got != tc.want {
			t.Errorf("String() =\n %q\nwant\n %q", got, tc.want)
		}
	}
}

// Without Accounts, an inactive user the old policies admitted is taken to
// have a deactivated account: deleted in delete mode when no longer
// admitted, left alone in deactivate mode.
func TestPlanInfersDeactivatedAccounts(t *testing.T) {
	users := population(t, 1, 1)
	users[1].Doc["active"] = "False" // o0, in Ops
	before := bbPolicies(t, nil, "Engineering", "Ops")
	if pl := Plan(before, bbPolicies(t, nil, "Engineering"), seq(users))["bitbucket"]; pl.Deprovisions() != 0 || pl.Population != 3 {
		t.Errorf("deactivate mode: %+v", pl)
	}
	del := bbPolicies(t, func(a *config.App) { a.Actions.Delete, a.Deprovision = true, config.DeprovisionDelete }, "Engineering")
	if pl := Plan(before, del, seq(users))["bitbucket"]; !slices.Equal(pl.Delete, []string{"o0@example.com"}) || len(pl.Deactivate) != 0 {
		t.Errorf("delete mode: %+v", pl)
	}
}
