package gateway

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// keyMarker marks every change for one app: users by id, members of any
// group, and groups.
type keyMarker struct{ app string }

func (m keyMarker) UserChanged(id string, due time.Time) []store.Mark {
	return []store.Mark{{App: m.app, Key: "user:" + id, Due: due}}
}

func (m keyMarker) MembershipChanged(_, _ string, members []string, due time.Time) []store.Mark {
	var out []store.Mark
	for _, id := range members {
		out = append(out, store.Mark{App: m.app, Key: "user:" + id, Due: due})
	}
	return out
}

func (m keyMarker) GroupChanged(id, name string, due time.Time) []store.Mark {
	return []store.Mark{{App: m.app, Key: "group:" + id, Due: due}}
}

// drain claims and acks every due key of app, returning them sorted.
func drain(t *testing.T, st store.Store, app string, now time.Time) []string {
	t.Helper()
	cs, err := st.Claim(context.Background(), app, now, time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range cs {
		keys = append(keys, c.Key)
		if err := st.Ack(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestWritesMarkAffectedKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ts := startServer(t, st, func(o *Options) { o.Marker = keyMarker{app: "bb"} })
		now := func() time.Time { return *ts.now.Load() }
		u1 := str(ts.do("POST", "/Users", oktaUser("m1@example.com")).must(t, 201).Body["id"])
		u2 := str(ts.do("POST", "/Users", oktaUser("m2@example.com")).must(t, 201).Body["id"])
		// The same user marked twice is queued once.
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("user:"+u1, "user:"+u2)) {
			t.Fatalf("after creates: %v", got)
		}
		// A refused write queues nothing.
		ts.do("POST", "/Users", oktaUser("m1@example.com")).must(t, 409)
		if n, _ := st.QueueLen(context.Background(), "bb"); n != 0 {
			t.Errorf("a 409 left %d marks", n)
		}
		g := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Eng", "members": []any{map[string]any{"value": u1}}}).must(t, 201).Body["id"])
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("group:"+g, "user:"+u1)) {
			t.Errorf("after group create: %v", got)
		}
		// A membership change marks only the member that changed.
		ts.do("PATCH", "/Groups/"+g, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u2}}}}}).must(t, 204)
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("user:"+u2)) {
			t.Errorf("after member add: %v", got)
		}
		// A rename affects every member (policies may name the group).
		ts.do("PATCH", "/Groups/"+g, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Platform"}}}).must(t, 204)
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("group:"+g, "user:"+u1, "user:"+u2)) {
			t.Errorf("after rename: %v", got)
		}
		ts.do("DELETE", "/Users/"+u1, nil).must(t, 204)
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("user:"+u1)) {
			t.Errorf("after user delete: %v", got)
		}
		ts.do("DELETE", "/Groups/"+g, nil).must(t, 204)
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(sorted("group:"+g, "user:"+u2)) {
			t.Errorf("after group delete: %v", got)
		}
	})
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// pushMarker marks as an app that pushes every group does: a membership
// change marks the group.
type pushMarker struct{ keyMarker }

func (m pushMarker) MembershipChanged(groupID, _ string, members []string, due time.Time) []store.Mark {
	return append(m.keyMarker.MembershipChanged(groupID, "", members, due), store.Mark{App: m.app, Key: "group:" + groupID, Due: due})
}

// TestDeletedUserMarksItsGroups: deleting a user drops it from its groups
// in the store; the groups an app pushes must be marked with it, or the
// app keeps the member until the group next changes.
func TestDeletedUserMarksItsGroups(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ts := startServer(t, st, func(o *Options) { o.Marker = pushMarker{keyMarker{app: "bb"}} })
		now := func() time.Time { return *ts.now.Load() }
		u1 := str(ts.do("POST", "/Users", oktaUser("d1@example.com")).must(t, 201).Body["id"])
		u2 := str(ts.do("POST", "/Users", oktaUser("d2@example.com")).must(t, 201).Body["id"])
		var groups []string
		for _, name := range []string{"Eng", "Ops"} {
			g := ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": name, "members": []any{map[string]any{"value": u1}, map[string]any{"value": u2}}}).must(t, 201)
			groups = append(groups, str(g.Body["id"]))
		}
		drain(t, st, "bb", now())

		ts.do("DELETE", "/Users/"+u1, nil).must(t, 204)
		want := sorted("user:"+u1, "group:"+groups[0], "group:"+groups[1])
		if got := drain(t, st, "bb", now()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after deleting a member of two groups: %v, want %v", got, want)
		}
		members, err := st.Members(context.Background(), groups[0])
		if err != nil || fmt.Sprint(members) != fmt.Sprint([]string{u2}) {
			t.Errorf("members of %s: %v, %v; want only %s", groups[0], members, err, u2)
		}
	})
}
