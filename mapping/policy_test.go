package mapping

import (
	"reflect"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
)

func TestDesiredUserPolicyMatching(t *testing.T) {
	bb := newApp("bitbucket", "atlassian")
	bb.Protected = []string{"BreakGlass@example.com"}
	wiki := newApp("wiki", "scim")
	p := mustCompile(t, []config.App{bb, wiki}, []config.Policy{
		{Name: "eng-by-name", App: "bitbucket", Groups: []string{"engineering"}, Filter: `emails[type eq "work"].value ew "@example.com"`},
		{Name: "ops-by-id", App: "bitbucket", Groups: []string{"id:" + opsID}},
		{Name: "sales-leads", App: "wiki", Groups: []string{"Sales"}, Filter: `title eq "Lead"`},
		{Name: "wiki-via-groups-filter", App: "wiki", Groups: []string{"Engineering", "Ops"}, Filter: `groups.display eq "ops" and not (userName sw "contractor")`},
	})
	lead := person(t, "u-lead", "lead@example.com", sales)
	lead.Doc["title"] = "lead"
	for name, tc := range map[string]struct {
		app     string
		user    UserView
		present bool
		reason  string
	}{
		"member by name, case-insensitive, filter matches": {"bitbucket", person(t, "u1", "ann@example.com", eng), true, "policy eng-by-name"},
		"member by name, filter fails":                     {"bitbucket", person(t, "u2", "ann@other.example", eng), false, "no policy matches"},
		"member by id":                                     {"bitbucket", person(t, "u3", "bob@other.example", ops), true, "policy ops-by-id"},
		"id reference ignores the name":                    {"bitbucket", person(t, "u4", "x@example.com", GroupRef{ID: "other", DisplayName: "Ops"}), false, "no policy matches"},
		"name reference ignores the id":                    {"bitbucket", person(t, "u5", "x@example.com", GroupRef{ID: engID, DisplayName: "Eng (renamed)"}), false, "no policy matches"},
		"member of both, first policy wins":                {"bitbucket", person(t, "u6", "c@example.com", ops, eng), true, "policy eng-by-name"},
		"member of none":                                   {"bitbucket", person(t, "u7", "d@example.com", sales), false, "no policy matches"},
		"no groups at all":                                 {"bitbucket", person(t, "u8", "e@example.com"), false, "no policy matches"},
		"filter is case-insensitive like SCIM":             {"wiki", lead, true, "policy sales-leads"},
		"filter on groups the document lacks":              {"wiki", person(t, "u9", "f@example.com", ops), true, "policy wiki-via-groups-filter"},
		"filter on groups, not in the group":               {"wiki", person(t, "u10", "g@example.com", eng), false, "no policy matches"},
		"filter with not":                                  {"wiki", person(t, "u11", "contractor-h@example.com", ops), false, "no policy matches"},
		"unknown app":                                      {"jira", person(t, "u12", "i@example.com", eng), false, "unknown app jira"},
	} {
		t.Run(name, func(t *testing.T) {
			d := p.DesiredUser(tc.app, tc.user)
			if d.Present != tc.present || d.Reason != tc.reason {
				t.Errorf("Present = %v (%s), want %v (%s)", d.Present, d.Reason, tc.present, tc.reason)
			}
			if !d.Present && (d.Attributes != nil || d.GroupNames != nil || d.Active) {
				t.Errorf("a user who is not present has a desired state: %+v", d)
			}
			if d.Present && d.Attributes["externalId"] != tc.user.ID {
				t.Errorf("externalId = %v, want the hub id %s", d.Attributes["externalId"], tc.user.ID)
			}
		})
	}
	// The groups filled in for the filter are not written to the caller's
	// document.
	u := person(t, "u9", "f@example.com", ops)
	p.DesiredUser("wiki", u)
	if _, ok := u.Doc["groups"]; ok {
		t.Error("DesiredUser changed the user's document")
	}
}

func TestDesiredUserActive(t *testing.T) {
	p := mustCompile(t, []config.App{newApp("bitbucket", "atlassian")},
		[]config.Policy{{Name: "eng", App: "bitbucket", Groups: []string{"Engineering"}}})
	for name, tc := range map[string]struct {
		active any
		want   bool
	}{
		"absent":        {nil, true},
		"true":          {true, true},
		"false":         {false, false},
		"Entra string":  {"False", false},
		"string true":   {"True", true},
		"unknown value": {42, true},
	} {
		u := person(t, "u1", "ann@example.com", eng)
		if tc.active != nil {
			u.Doc["active"] = tc.active
		}
		d := p.DesiredUser("bitbucket", u)
		if !d.Present || d.Active != tc.want || d.Attributes["active"] != tc.want {
			t.Errorf("%s: Present %v, Active %v, attributes active %v; want present, %v", name, d.Present, d.Active, d.Attributes["active"], tc.want)
		}
	}
}

func TestDesiredUserProtected(t *testing.T) {
	bb := newApp("bitbucket", "atlassian")
	bb.Protected = []string{"  BreakGlass@Example.com "}
	p := mustCompile(t, []config.App{bb, newApp("wiki", "scim")},
		[]config.Policy{{Name: "eng", App: "bitbucket", Groups: []string{"Engineering"}}})
	for _, tc := range []struct {
		app       string
		user      UserView
		present   bool
		protected bool
	}{
		{"bitbucket", person(t, "u1", "breakglass@example.com"), false, true},
		{"bitbucket", person(t, "u1", "breakglass@example.com", eng), true, true},
		{"bitbucket", person(t, "u2", "ann@example.com", eng), true, false},
		{"wiki", person(t, "u1", "breakglass@example.com", eng), false, false}, // protected per app
		{"bitbucket", UserView{ID: "u3", Doc: map[string]any{}}, false, false},
	} {
		d := p.DesiredUser(tc.app, tc.user)
		if d.Present != tc.present || d.Protected != tc.protected {
			t.Errorf("%s %s: Present %v Protected %v, want %v %v", tc.app, tc.user.ID, d.Present, d.Protected, tc.present, tc.protected)
		}
	}
}

func TestDesiredGroups(t *testing.T) {
	bb := newApp("bitbucket", "atlassian") // groups off by default
	jira := newApp("jira", "atlassian")
	jira.Actions.Groups = new(true)
	wiki := newApp("wiki", "scim")
	p := mustCompile(t, []config.App{bb, jira, wiki}, []config.Policy{
		{Name: "bb", App: "bitbucket", Groups: []string{"Engineering"}},
		{Name: "jira", App: "jira", Groups: []string{"Engineering"}, PushGroups: []config.PushGroup{{Group: "engineering", As: "jira-eng"}}},
		{Name: "wiki", App: "wiki", Groups: []string{"Engineering", "Ops"}, PushGroups: []config.PushGroup{{Group: "Engineering"}, {Group: "id:" + opsID, As: "wiki-ops"}}},
		{Name: "wiki-more", App: "wiki", Groups: []string{"Sales"}, PushGroups: []config.PushGroup{{Group: "Sales"}, {Group: "id:" + opsID, As: "later-entry-loses"}}},
	})
	for _, tc := range []struct {
		app    string
		group  GroupView
		name   string
		pushed bool
	}{
		{"bitbucket", GroupView(eng), "", false},
		{"jira", GroupView(eng), "jira-eng", true},
		{"jira", GroupView(ops), "", false},
		{"wiki", GroupView(eng), "Engineering", true},
		{"wiki", GroupView{ID: "renamed", DisplayName: "ENGINEERING"}, "ENGINEERING", true}, // named by the hub's spelling
		{"wiki", GroupView(ops), "wiki-ops", true},
		{"wiki", GroupView{ID: opsID}, "wiki-ops", true},
		{"wiki", GroupView{ID: "x", DisplayName: "Other"}, "", false},
		{"nope", GroupView(eng), "", false},
	} {
		name, pushed := p.DesiredGroup(tc.app, tc.group)
		if name != tc.name || pushed != tc.pushed {
			t.Errorf("DesiredGroup(%s, %+v) = %q, %v; want %q, %v", tc.app, tc.group, name, pushed, tc.name, tc.pushed)
		}
	}
	u := person(t, "u1", "ann@example.com", ops, eng, sales, GroupRef{ID: "x", DisplayName: "Unpushed"})
	for app, want := range map[string][]string{
		"bitbucket": nil,
		"jira":      {"jira-eng"},
		"wiki":      {"Engineering", "Sales", "wiki-ops"},
	} {
		if got := p.DesiredUser(app, u).GroupNames; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Groups = %q, want %q", app, got, want)
		}
	}
	if got := p.DesiredUser("wiki", person(t, "u2", "b@example.com")).GroupNames; got != nil {
		t.Errorf("a user who is not present has groups %q", got)
	}
}

func TestAppsAndNilPolicies(t *testing.T) {
	p := mustCompile(t, []config.App{newApp("b", "scim"), newApp("a", "atlassian")}, nil)
	if got := p.Apps(); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("Apps() = %q, want configuration order", got)
	}
	var none *Policies
	if none.Apps() != nil || none.DesiredUser("a", person(t, "u", "x")).Present {
		t.Error("nil Policies must have no apps")
	}
	if _, ok := none.DesiredGroup("a", GroupView(eng)); ok {
		t.Error("nil Policies push no group")
	}
	if p.DesiredUser("a", person(t, "u", "x", eng)).Present {
		t.Error("an app without policies admits a user")
	}
}

func TestCompilePolicyProblems(t *testing.T) {
	bb := newApp("bitbucket", "atlassian")
	bad := newApp("bad", "ldap")
	problems := compileProblems(t, []config.App{bb, bb, bad}, []config.Policy{
		{Name: "p0", App: "jira", Groups: []string{"x"}},
		{Name: "p1", App: "bitbucket", Groups: []string{"x"}, Filter: `emial ew "@example.com"`},
		{Name: "p2", App: "bitbucket", Groups: []string{"x"}, PushGroups: []config.PushGroup{{Group: "x"}}},
		{Name: "p3", App: "bitbucket", Groups: []string{"x"}, Filter: `userName eq "a" or`},
	})
	wantProblems(t, problems, []config.Problem{
		{Path: "apps[1].name", Msg: "app names must be unique"},
		{Path: "apps[2].type", Msg: "must be atlassian or scim"},
		{Path: "policies[0].app", Msg: "names no app: it must be the name of an entry of apps"},
		{Path: "policies[1].filter", Msg: `not a valid SCIM filter on Users: unknown attribute "emial"`},
		{Path: "policies[2].push_groups", Msg: "the app does not push groups; set actions.groups: true on the app first"},
		{Path: "policies[3].filter", Msg: `not a valid SCIM filter on Users: invalid filter syntax: "userName eq \"a\" or"`},
	})
}

// The example configuration compiles: what config accepts, mapping does.
func TestCompileExampleConfig(t *testing.T) {
	cfg, err := config.Parse(readFile(t, "../configs/example.yaml"), func(name string) (string, bool) {
		return map[string]string{"SCIM_GATEWAY_TOKEN": "example-token-0123456789"}[name], name == "SCIM_GATEWAY_TOKEN"
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, cfg.Apps, cfg.Policies)
	u := person(t, "u1", "Ann@Example.com", GroupRef{ID: engID, DisplayName: "Engineering"})
	u.Doc["title"] = "Engineer"
	d := p.DesiredUser("bitbucket", u)
	want := map[string]any{
		"schemas":     []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    "ann@example.com",
		"displayName": "Given Family",
		"title":       "Engineer",
		"emails":      []any{map[string]any{"type": "work", "primary": true, "value": "Ann@Example.com"}},
		"externalId":  "u1",
		"active":      true,
	}
	if !d.Present || !reflect.DeepEqual(d.Attributes, want) {
		t.Errorf("bitbucket: %s\n got %s\nwant %s", d.Reason, jsonOf(d.Attributes), jsonOf(want))
	}
	if d := p.DesiredUser("wiki", u); !reflect.DeepEqual(d.GroupNames, []string{"wiki-engineering"}) {
		t.Errorf("wiki groups = %q", d.GroupNames)
	}
}
