package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

// addMemberOp is Okta's group push of one member.
func addMemberOp(id string) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members",
			"value": []any{map[string]any{"value": id, "display": id + "@example.com"}}}}}
}

// removeMemberOp is Entra's removal of one member.
func removeMemberOp(id string) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Remove", "path": `members[value eq "` + id + `"]`}}}
}

// TestParallelMembershipPushes: 16 IdP workers add and remove members of
// ONE group at once, as Okta and Entra push a big group. Every PATCH
// answers 204 at its first try (no 503, no compare-and-set on the group,
// no version refused), each with an entity tag of its own; afterwards the
// group has exactly the expected members, one version per PATCH, and one
// report entry per PATCH naming its member.
func TestParallelMembershipPushes(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ts := startServer(t, st)
		gid := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Everyone"}).must(t, 201).Body["id"])
		const workers, each = 16, 6
		ids := make([][]string, workers)
		for w := range ids {
			for i := range each {
				ids[w] = append(ids[w], str(ts.do("POST", "/Users", oktaUser(fmt.Sprintf("w%d-%d@example.com", w, i))).must(t, 201).Body["id"]))
			}
		}
		var (
			mu    sync.Mutex
			etags = map[string]bool{}
			wg    sync.WaitGroup
		)
		patch := func(body map[string]any) {
			r := ts.do("PATCH", "/Groups/"+gid, body)
			if r.Status != http.StatusNoContent {
				t.Errorf("PATCH: %d %s", r.Status, r.Raw)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if tag := r.Header.Get("ETag"); tag == "" || etags[tag] {
				t.Errorf("PATCH answered entity tag %q, given before or empty", tag)
			} else {
				etags[tag] = true
			}
		}
		for w := range workers {
			wg.Go(func() {
				for _, id := range ids[w] {
					patch(addMemberOp(id))
				}
				for _, id := range ids[w][:each/2] {
					patch(removeMemberOp(id))
				}
			})
		}
		wg.Wait()
		patches := workers * (each + each/2)
		if n := ts.store.groupCAS.Load(); n != 0 {
			t.Errorf("membership PATCHes made %d compare-and-set writes of the group, want none", n)
		}
		if n := ts.store.versionMismatches.Load(); n != 0 {
			t.Errorf("%d writes were refused for a stale version", n)
		}
		g := ts.do("GET", "/Groups/"+gid, nil).must(t, 200)
		got := memberIDs(g.Body)
		for w := range ids {
			for i, id := range ids[w] {
				if want := i >= each/2; got[id] != want {
					t.Errorf("member %s present = %v, want %v", id, got[id], want)
				}
			}
		}
		if len(got) != workers*(each-each/2) {
			t.Errorf("%d members, want %d", len(got), workers*(each-each/2))
		}
		if want := fmt.Sprintf(`W/"%d"`, 1+patches); g.Header.Get("ETag") != want {
			t.Errorf("group ETag after %d PATCHes = %s, want %s", patches, g.Header.Get("ETag"), want)
		}
		entries, _, err := st.QueryReports(context.Background(), store.ReportQuery{Operation: store.OpPatch, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != patches {
			t.Fatalf("%d report entries for %d PATCHes", len(entries), patches)
		}
		for _, e := range entries {
			if e.Status != store.ReportSuccess || e.ResourceID != gid || e.User != "Everyone" || len(e.Changes) != 1 || e.Changes[0].Attr != "members" {
				t.Fatalf("report entry of a membership PATCH: %+v", e)
			}
		}
	})
}

// TestMembershipPatchEdges: the commutative membership PATCH keeps every
// answer of the general one: a PATCH that changes nothing keeps the
// version and is reported without changes, an unknown member is 400
// invalidValue with nothing changed, a missing group 404, a stale If-Match
// 412, and asking for attributes answers 200 with the members.
func TestMembershipPatchEdges(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ts := startServer(t, st)
		uid := str(ts.do("POST", "/Users", oktaUser("edge@example.com")).must(t, 201).Body["id"])
		gid := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Edges"}).must(t, 201).Body["id"])
		first := ts.do("PATCH", "/Groups/"+gid, addMemberOp(uid)).must(t, 204)
		if first.Header.Get("ETag") != `W/"2"` {
			t.Errorf("ETag after adding a member = %s, want W/\"2\"", first.Header.Get("ETag"))
		}

		again := ts.do("PATCH", "/Groups/"+gid, addMemberOp(uid)).must(t, 204)
		if again.Header.Get("ETag") != `W/"2"` {
			t.Errorf("ETag after adding a present member = %s, want W/\"2\" (unchanged)", again.Header.Get("ETag"))
		}
		gone := ts.do("PATCH", "/Groups/"+gid, removeMemberOp("no-such-member")).must(t, 204)
		if gone.Header.Get("ETag") != `W/"2"` {
			t.Errorf("ETag after removing an absent member = %s, want W/\"2\"", gone.Header.Get("ETag"))
		}
		entries, _, err := st.QueryReports(context.Background(), store.ReportQuery{Operation: store.OpPatch, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 || len(entries[0].Changes) != 0 || len(entries[1].Changes) != 0 || len(entries[2].Changes) != 1 {
			t.Errorf("report entries of add, re-add, remove of an absent member: %+v", entries)
		}

		bad := ts.do("PATCH", "/Groups/"+gid, addMemberOp("no-such-user")).must(t, 400)
		if bad.Body["scimType"] != "invalidValue" {
			t.Errorf("unknown member: %s", bad.Raw)
		}
		ts.do("PATCH", "/Groups/no-such-group", addMemberOp(uid)).must(t, 404)
		ts.do("PATCH", "/Groups/"+gid, addMemberOp(uid), "If-Match", `W/"1"`).must(t, 412)

		other := str(ts.do("POST", "/Users", oktaUser("edge2@example.com")).must(t, 201).Body["id"])
		shown := ts.do("PATCH", "/Groups/"+gid+"?attributes=members", addMemberOp(other)).must(t, 200)
		if m := memberIDs(shown.Body); !m[uid] || !m[other] || len(m) != 2 {
			t.Errorf("PATCH asking for members answered %s", shown.Raw)
		}
		if shown.Header.Get("ETag") != `W/"3"` {
			t.Errorf("ETag = %s, want W/\"3\"", shown.Header.Get("ETag"))
		}
		g := ts.do("GET", "/Groups/"+gid, nil).must(t, 200)
		if m := memberIDs(g.Body); len(m) != 2 {
			t.Errorf("members after the edge cases: %v", m)
		}

		// A PATCH of several members reports only those that really
		// joined or left, found in one store read.
		third := str(ts.do("POST", "/Users", oktaUser("edge3@example.com")).must(t, 201).Body["id"])
		before := ts.store.groupsOfMany.Load()
		ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{
				map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": uid}, map[string]any{"value": third}}},
				map[string]any{"op": "remove", "path": "members", "value": []any{map[string]any{"value": other}, map[string]any{"value": "never-in"}}},
			}}).must(t, 204)
		if n := ts.store.groupsOfMany.Load() - before; n != 1 {
			t.Errorf("a PATCH of 4 members read memberships %d times, want once", n)
		}
		latest, _, err := st.QueryReports(context.Background(), store.ReportQuery{Operation: store.OpPatch, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 1 || len(latest[0].Changes) != 1 ||
			fmt.Sprint(latest[0].Changes[0].New) != fmt.Sprint([]any{third}) || fmt.Sprint(latest[0].Changes[0].Old) != fmt.Sprint([]any{other}) {
			t.Errorf("report of a PATCH adding a present and a new member, removing a present and an absent one: %+v", latest)
		}
		if m := memberIDs(ts.do("GET", "/Groups/"+gid, nil).must(t, 200).Body); !m[uid] || !m[third] || m[other] || len(m) != 2 {
			t.Errorf("members after the multi-member PATCH: %v", m)
		}
	})
}
