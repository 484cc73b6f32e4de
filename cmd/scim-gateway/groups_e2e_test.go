package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/outbound/atlassiantest"
)

// groupPushConfig is a configuration with one Atlassian app that pushes
// the Engineering group, under another name, to the members it admits.
func groupPushConfig(storeURL, simURL string) string {
	return fmt.Sprintf(`
server:
  listen: 127.0.0.1:0
store:
  url: %q
auth:
  idp:
    tokens:
      - name: idp
        token: %s
apps:
  - name: bitbucket
    type: atlassian
    base_url: %q
    token: %s
    actions:
      groups: true
    rate_limit:
      requests_per_second: 500
      burst: 50
    concurrency: 2
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
    push_groups:
      - group: Engineering
        as: bb-engineering
`, storeURL, e2eIdPToken, simURL, e2eAppToken)
}

// simMembers returns the userNames of a simulator group's members, sorted,
// and whether the group exists.
func simMembers(sim *atlassiantest.Server, name string) ([]string, bool) {
	g, ok := sim.GroupByDisplayName(name)
	if !ok {
		return nil, false
	}
	var out []string
	for _, m := range g.Members {
		out = append(out, m.UserName)
	}
	slices.Sort(out)
	return out, true
}

// TestGroupPushEndToEnd: a pushed hub group reaches the app through the
// real gateway with the members the policies admit, follows membership
// changes (a member whose account is created after the group is added
// once the account exists; a member who leaves, or is deleted from the
// hub, is removed and deactivated), and is deleted when the hub group is.
func TestGroupPushEndToEnd(t *testing.T) {
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	defer sim.Close()
	g := startGateway(t, groupPushConfig("bolt://"+filepath.Join(t.TempDir(), "gw.db"), sim.URL()))

	_, alice := g.do("POST", "/Users", userBody("alice@example.com", "Alice"))
	_, bob := g.do("POST", "/Users", userBody("bob@example.com", "Bob"))
	aliceID, bobID := alice["id"].(string), bob["id"].(string)
	code, grp := g.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering", "members": []any{map[string]any{"value": aliceID}}})
	if code != 201 {
		t.Fatalf("create group: %d %v", code, grp)
	}
	gid := grp["id"].(string)
	eventually(t, "the group pushed with alice", func() bool {
		m, ok := simMembers(sim, "bb-engineering")
		return ok && slices.Equal(m, []string{"alice@example.com"})
	})
	if _, ok := sim.GroupByDisplayName("Engineering"); ok {
		t.Error("the group was pushed under its hub name, not its push_groups name")
	}

	// Bob joins: his account is created, then he is added to the group.
	g.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": bobID}}}))
	eventually(t, "bob in the group", func() bool {
		m, _ := simMembers(sim, "bb-engineering")
		return slices.Equal(m, []string{"alice@example.com", "bob@example.com"})
	})

	// Alice leaves: removed from the group, and deactivated (no policy).
	g.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "remove", "path": `members[value eq "` + aliceID + `"]`}))
	eventually(t, "alice out of the group and deactivated", func() bool {
		m, _ := simMembers(sim, "bb-engineering")
		a, _ := sim.UserByUserName("alice@example.com")
		return slices.Equal(m, []string{"bob@example.com"}) && !a.Active
	})

	// Bob is deleted from the hub: his account is deactivated and he
	// leaves the remote group now, not at the group's next change.
	if code, _ := g.do("DELETE", "/Users/"+bobID, nil); code != 204 {
		t.Fatalf("delete bob: %d", code)
	}
	eventually(t, "bob out of the group and deactivated", func() bool {
		m, _ := simMembers(sim, "bb-engineering")
		b, _ := sim.UserByUserName("bob@example.com")
		return len(m) == 0 && !b.Active
	})

	// The hub group goes: so does the remote one.
	if code, _ := g.do("DELETE", "/Groups/"+gid, nil); code != 204 {
		t.Fatalf("delete group: %d", code)
	}
	eventually(t, "the remote group deleted", func() bool {
		_, ok := sim.GroupByDisplayName("bb-engineering")
		return !ok
	})
	if n := len(sim.Groups()); n != 0 {
		t.Errorf("simulator holds %d groups", n)
	}
}

// TestPolicyEngineDesiredGroup: the adapter's group desired state and the
// pushed groups it gives each user.
func TestPolicyEngineDesiredGroup(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse([]byte(`
store:
  url: bolt://unused.db
auth:
  idp:
    tokens: [{name: idp, token: `+e2eIdPToken+`}]
apps:
  - name: bitbucket
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/d
    token: `+e2eAppToken+`
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
	p, err := compilePolicies(cfg)
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
	e := newPolicyEngine(st, p)

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
		if d.Present != tc.present || !slices.Equal(d.Groups, tc.groups) {
			t.Errorf("DesiredUser(%s) = present %v groups %v, want %v %v", tc.id, d.Present, d.Groups, tc.present, tc.groups)
		}
	}
	if apps := appConfigs(cfg, slog.New(slog.DiscardHandler)); len(apps) != 1 || !apps[0].Groups {
		t.Errorf("app configs = %+v, want groups pushed", apps)
	}
}

// TestReloadPushesNewGroups: a reload that starts pushing a group queues
// it (no membership change is needed for it to appear), and one that
// stops pushing it has it deleted remotely.
func TestReloadPushesNewGroups(t *testing.T) {
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	defer sim.Close()
	withPush := groupPushConfig("bolt://"+filepath.Join(t.TempDir(), "gw.db"), sim.URL())
	withoutPush := strings.Replace(withPush, "    push_groups:\n      - group: Engineering\n        as: bb-engineering\n", "", 1)
	if withoutPush == withPush {
		t.Fatal("config template changed")
	}
	path := writeFile(t, "gw.yaml", withoutPush)
	g := startGatewayAt(t, path)
	_, alice := g.do("POST", "/Users", userBody("alice@example.com", "Alice"))
	g.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering", "members": []any{map[string]any{"value": alice["id"]}}})
	eventually(t, "alice provisioned", func() bool { _, ok := sim.UserByUserName("alice@example.com"); return ok })
	if _, ok := sim.GroupByDisplayName("bb-engineering"); ok {
		t.Fatal("group pushed before any policy pushes it")
	}
	if err := os.WriteFile(path, []byte(withPush), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "group pushed after the reload", func() bool {
		m, ok := simMembers(sim, "bb-engineering")
		return ok && len(m) == 1 && m[0] == "alice@example.com"
	})
	if err := os.WriteFile(path, []byte(withoutPush), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "group deleted after push_groups is dropped", func() bool { _, ok := sim.GroupByDisplayName("bb-engineering"); return !ok })
}
