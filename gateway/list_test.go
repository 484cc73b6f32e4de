package gateway

import (
	"fmt"
	"sort"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

// TestListReadsGroupsOnce: a list page shows each user's groups, read for
// the whole page at once (GroupsOfMany), not once per user; a page that
// does not show groups reads none.
func TestListReadsGroupsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		var users []string
		for i := range 4 {
			users = append(users, str(ts.do("POST", "/Users", oktaUser(fmt.Sprintf("l%d@example.com", i))).must(t, 201).Body["id"]))
		}
		groups := map[string][]string{"Eng": {users[0], users[1]}, "Ops": {users[1]}}
		gids := map[string]string{}
		for name, members := range groups {
			var ms []any
			for _, m := range members {
				ms = append(ms, map[string]any{"value": m})
			}
			gids[name] = str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": name, "members": ms}).must(t, 201).Body["id"])
		}
		want := map[string][]string{users[0]: {"Eng"}, users[1]: {"Eng", "Ops"}, users[2]: nil, users[3]: nil}

		for _, path := range []string{"/Users?count=100", "/Users?filter=active%20eq%20true&count=100"} {
			ts.store.groupsOf.Store(0)
			ts.store.groupsOfMany.Store(0)
			body := ts.do("GET", path, nil).must(t, 200).Body
			res, _ := body["Resources"].([]any)
			if len(res) != 4 {
				t.Fatalf("%s: %d resources", path, len(res))
			}
			for _, r := range res {
				u := r.(map[string]any)
				var names []string
				gs, _ := u["groups"].([]any)
				for _, g := range gs {
					gm := g.(map[string]any)
					if gids[str(gm["display"])] != str(gm["value"]) {
						t.Errorf("%s: group %v does not match its id", path, gm)
					}
					names = append(names, str(gm["display"]))
				}
				sort.Strings(names)
				if fmt.Sprint(names) != fmt.Sprint(want[str(u["id"])]) {
					t.Errorf("%s: user %s has groups %v, want %v", path, u["id"], names, want[str(u["id"])])
				}
			}
			if n, m := ts.store.groupsOf.Load(), ts.store.groupsOfMany.Load(); n != 0 || m != 1 {
				t.Errorf("%s: %d GroupsOf and %d GroupsOfMany reads, want 0 and 1", path, n, m)
			}
		}
		ts.store.groupsOf.Store(0)
		ts.store.groupsOfMany.Store(0)
		ts.do("GET", "/Users?excludedAttributes=groups", nil).must(t, 200)
		if n, m := ts.store.groupsOf.Load(), ts.store.groupsOfMany.Load(); n != 0 || m != 0 {
			t.Errorf("excludedAttributes=groups: %d GroupsOf and %d GroupsOfMany reads, want none", n, m)
		}
	})
}

// TestWriteAnswersReadGroupsWithTheWrite: a user's PATCH and PUT answer
// with its groups read in the write itself (store.Write.ReadGroups), not
// in a read of their own, and they are the groups it is in.
func TestWriteAnswersReadGroupsWithTheWrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		user := ts.do("POST", "/Users", oktaUser("rg@example.com")).must(t, 201).Body
		id := str(user["id"])
		gid := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Eng", "members": []any{map[string]any{"value": id}}}).must(t, 201).Body["id"])
		wantGroups := func(what string, body map[string]any) {
			t.Helper()
			gs, _ := body["groups"].([]any)
			if len(gs) != 1 {
				t.Fatalf("%s: groups %v, want Eng", what, body["groups"])
			}
			if g := gs[0].(map[string]any); str(g["value"]) != gid || str(g["display"]) != "Eng" {
				t.Errorf("%s: group %v, want %s Eng", what, g, gid)
			}
		}

		ts.store.groupsOf.Store(0)
		patched := ts.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Lead"}}}).must(t, 200).Body
		wantGroups("PATCH answer", patched)
		delete(user, "groups")
		user["title"] = "Staff"
		wantGroups("PUT answer", ts.do("PUT", "/Users/"+id, user).must(t, 200).Body)
		if n := ts.store.groupsOf.Load(); n != 0 {
			t.Errorf("PATCH and PUT made %d GroupsOf reads, want 0: the write reads the groups", n)
		}
	})
}
