package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
)

// TestEngineDesiredGroup: the engine's group desired state and the
// pushed groups it gives each user.
func TestEngineDesiredGroup(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse([]byte(`
store:
  url: bolt://unused.db
auth:
  idp:
    tokens: [{name: idp, token: `+testIdPToken+`}]
apps:
  - name: bitbucket
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/d
    token: `+testAppToken+`
    actions: {groups: true}
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
    push_groups:
      - {group: Engineering, as: bb-engineering}
      - {group: Design}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "gw.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(w store.Write) {
		t.Helper()
		if _, err := st.Apply(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	user := func(id, userName string, active bool) {
		data, _ := json.Marshal(map[string]any{"userName": userName, "active": active,
			"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}}})
		put(store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id, Data: data}})
	}
	group := func(id, name string, members ...string) {
		data, _ := json.Marshal(map[string]any{"displayName": name})
		put(store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: id, Data: data}, Group: id, AddMembers: members})
	}
	user("u-alice", "alice@example.com", true)
	user("u-bob", "bob@example.com", true)
	user("u-carol", "carol@example.com", false)
	group("g-eng", "Engineering", "u-alice", "u-carol")
	group("g-design", "Design", "u-alice", "u-bob")
	group("g-ops", "Ops", "u-alice")
	e := NewEngine(st, p)

	for _, tc := range []struct {
		id      string
		present bool
		name    string
		members []string
	}{
		// carol is admitted but inactive; bob is not admitted.
		{"g-eng", true, "bb-engineering", []string{"u-alice"}},
		{"g-design", true, "Design", []string{"u-alice"}},
		{"g-ops", false, "", nil},
		{"g-gone", false, "", nil},
	} {
		d, err := e.DesiredGroup(ctx, "bitbucket", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Present != tc.present || d.Name != tc.name || !slices.Equal(d.Members, tc.members) || d.Reason == "" {
			t.Errorf("DesiredGroup(%s) = %+v, want present %v name %q members %v", tc.id, d, tc.present, tc.name, tc.members)
		}
	}
	for _, tc := range []struct {
		id      string
		present bool
		groups  []string
	}{
		{"u-alice", true, []string{"g-design", "g-eng"}},
		{"u-bob", false, []string{"g-design"}}, // not admitted, still listed: it must leave the group
		{"u-gone", false, nil},
	} {
		d, err := e.DesiredUser(ctx, "bitbucket", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Present != tc.present || !slices.Equal(d.GroupIDs, tc.groups) {
			t.Errorf("DesiredUser(%s) = present %v groups %v, want %v %v", tc.id, d.Present, d.GroupIDs, tc.present, tc.groups)
		}
	}
	if apps := appConfigs(cfg, slog.New(slog.DiscardHandler)); len(apps) != 1 || !apps[0].Groups {
		t.Errorf("app configs = %+v, want groups pushed", apps)
	}
}

// engineConfig has two apps: bitbucket, fed and pushed the Engineering
// group, with a protected break-glass account; jira, fed by Staff.
const engineConfig = `
store:
  url: bolt://unused.db
auth:
  idp:
    tokens: [{name: idp, token: ` + testIdPToken + `}]
apps:
  - name: bitbucket
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/b
    token: ` + testAppToken + `
    actions: {groups: true}
    protected: ["breakglass@example.com"]
  - name: jira
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/j
    token: ` + testAppToken + `
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
    push_groups:
      - {group: Engineering, as: bb-engineering}
  - name: staff
    app: jira
    groups: ["Staff"]
`

// TestEngineDesiredUser: what an app should hold for a user in the hub,
// admitted or not, and for a user deleted from the hub, whose account is
// judged protected by the userName last applied to the app.
func TestEngineDesiredUser(t *testing.T) {
	ctx := context.Background()
	_, p := compile(t, engineConfig)
	st := openStore(t)
	putUser(t, st, "u-alice", "alice@example.com", true)
	putUser(t, st, "u-carol", "carol@example.com", false)
	putUser(t, st, "u-glass", "breakglass@example.com", true)
	putGroup(t, st, "g-eng", "Engineering", "u-alice", "u-carol")
	link := func(hubID, state string) {
		t.Helper()
		if err := st.PutLink(ctx, store.Link{App: "bitbucket", Kind: store.KindUser, HubID: hubID, RemoteID: "r-" + hubID,
			State: json.RawMessage(state), Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	link("u-ghost-glass", `{"userName":"breakglass@example.com","active":true}`)
	link("u-ghost-dave", `{"userName":"dave@example.com","active":true}`)
	link("u-ghost-garbled", `"not an object"`)
	e := NewEngine(st, p)

	for _, tc := range []struct {
		app, id                    string
		present, active, protected bool
		userName                   string
		groups                     []string
		reason                     string // "" for any non-empty reason
	}{
		{app: "bitbucket", id: "u-alice", present: true, active: true, userName: "alice@example.com", groups: []string{"g-eng"}},
		{app: "bitbucket", id: "u-carol", present: true, userName: "carol@example.com", groups: []string{"g-eng"}},
		{app: "jira", id: "u-alice"},
		{app: "bitbucket", id: "u-glass", protected: true},
		{app: "bitbucket", id: "u-ghost-glass", protected: true, reason: "user deleted from the hub"},
		{app: "bitbucket", id: "u-ghost-dave", reason: "user deleted from the hub"},
		{app: "bitbucket", id: "u-ghost-garbled", reason: "user deleted from the hub"},
		{app: "bitbucket", id: "u-never", reason: "user deleted from the hub"},
	} {
		d, err := e.DesiredUser(ctx, tc.app, tc.id)
		if err != nil {
			t.Fatalf("DesiredUser(%s, %s): %v", tc.app, tc.id, err)
		}
		if d.Present != tc.present || d.Protected != tc.protected || !slices.Equal(d.GroupIDs, tc.groups) ||
			(tc.present && d.Active != tc.active) {
			t.Errorf("DesiredUser(%s, %s) = present %v active %v protected %v groups %v, want %v %v %v %v",
				tc.app, tc.id, d.Present, d.Active, d.Protected, d.GroupIDs, tc.present, tc.active, tc.protected, tc.groups)
		}
		if tc.present && d.Attributes["userName"] != tc.userName {
			t.Errorf("DesiredUser(%s, %s) attributes %v, want userName %s", tc.app, tc.id, d.Attributes, tc.userName)
		}
		if (tc.reason == "" && d.Reason == "") || (tc.reason != "" && d.Reason != tc.reason) {
			t.Errorf("DesiredUser(%s, %s) reason %q, want %q", tc.app, tc.id, d.Reason, tc.reason)
		}
	}
}

// TestEngineMarks: a user change marks the user in every app; a
// membership change marks the members where the group feeds a policy and
// the group where it is pushed; a group change marks the group where it
// is pushed; after Swap the marks follow the new policies.
func TestEngineMarks(t *testing.T) {
	_, p := compile(t, engineConfig)
	e := NewEngine(openStore(t), p)
	due := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	keys := func(marks []store.Mark) []string {
		var out []string
		for _, m := range marks {
			if !m.Due.Equal(due) {
				t.Errorf("mark %+v: due %v, want %v", m, m.Due, due)
			}
			out = append(out, m.App+" "+m.Key)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		what  string
		marks []store.Mark
		want  []string
	}{
		{"user changed", e.UserChanged("u1", due), []string{"bitbucket user:u1", "jira user:u1"}},
		{"pushed source group's members", e.MembershipChanged("g-eng", "Engineering", []string{"u1", "u2", "u1"}, due),
			[]string{"bitbucket group:g-eng", "bitbucket user:u1", "bitbucket user:u2"}},
		{"source group's members", e.MembershipChanged("g-staff", "Staff", []string{"u3"}, due), []string{"jira user:u3"}},
		{"unrelated group's members", e.MembershipChanged("g-ops", "Ops", []string{"u1"}, due), nil},
		{"pushed group", e.GroupChanged("g-eng", "Engineering", due), []string{"bitbucket group:g-eng"}},
		{"group not pushed", e.GroupChanged("g-staff", "Staff", due), nil},
	} {
		if got := keys(tc.marks); !slices.Equal(got, tc.want) {
			t.Errorf("%s: marks %v, want %v", tc.what, got, tc.want)
		}
	}

	_, onlyJira := compile(t, `
auth:
  idp:
    tokens: [{name: idp, token: `+testIdPToken+`}]
apps:
  - name: jira
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/j
    token: `+testAppToken+`
`)
	if prev := e.Swap(onlyJira); prev != p || e.Policies() != onlyJira {
		t.Fatalf("Swap returned %p, policies %p; want %p, %p", prev, e.Policies(), p, onlyJira)
	}
	if got := keys(e.UserChanged("u1", due)); !slices.Equal(got, []string{"jira user:u1"}) {
		t.Errorf("after Swap: user marks %v", got)
	}
	if got := keys(e.GroupChanged("g-eng", "Engineering", due)); got != nil {
		t.Errorf("after Swap: group marks %v", got)
	}
}

// TestEngineSwapAnswers: DesiredUser and DesiredGroup answer from the
// policies swapped in, at once.
func TestEngineSwapAnswers(t *testing.T) {
	ctx := context.Background()
	_, before := compile(t, engineConfig)
	st := openStore(t)
	putUser(t, st, "u-alice", "alice@example.com", true)
	putGroup(t, st, "g-eng", "Engineering", "u-alice")
	e := NewEngine(st, before)
	if d, err := e.DesiredUser(ctx, "bitbucket", "u-alice"); err != nil || !d.Present {
		t.Fatalf("before: %+v %v", d, err)
	}
	_, after := compile(t, strings.Replace(engineConfig, `groups: ["Engineering"]`, `groups: ["Nobody"]`, 1))
	e.Swap(after)
	if d, err := e.DesiredUser(ctx, "bitbucket", "u-alice"); err != nil || d.Present || !slices.Equal(d.GroupIDs, []string{"g-eng"}) {
		t.Errorf("after: %+v %v; want absent, still listed in the pushed group it must leave", d, err)
	}
	if g, err := e.DesiredGroup(ctx, "bitbucket", "g-eng"); err != nil || !g.Present || len(g.Members) != 0 {
		t.Errorf("after: group %+v %v; want pushed with no admitted member", g, err)
	}
}
