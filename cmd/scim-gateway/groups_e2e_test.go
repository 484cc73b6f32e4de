package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
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
