package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func resourceTests() []test {
	return []test{
		{"CreateGet", testCreateGet},
		{"CreateExistingID", testCreateExistingID},
		{"GetMissing", testGetMissing},
		{"GetMany", testGetMany},
		{"Replace", testReplace},
		{"ReplaceVersionMismatch", testReplaceVersionMismatch},
		{"ReplaceMissing", testReplaceMissing},
		{"Delete", testDelete},
		{"DeleteConditional", testDeleteConditional},
		{"DeleteLeavesLinksAndQueue", testDeleteLeavesLinksAndQueue},
		{"RoundTrip", testRoundTrip},
		{"ReturnsCopies", testResourceCopies},
		{"PutAndDeleteRejected", testPutAndDeleteRejected},
		{"WriteWithoutPut", testWriteWithoutPut},
	}
}

func listTests() []test {
	return []test{
		{"Empty", testListEmpty},
		{"OrderedByID", testListOrdered},
		{"OffsetCount", testListOffsetCount},
		{"AfterDelete", testListAfterDelete},
		{"EveryOffset", testListEveryOffset},
	}
}

// testCreateGet: a create stores the resource at version 1, whatever
// Put.Version says, and Apply returns what Get returns.
func testCreateGet(t *testing.T, s store.Store) {
	in := withExternalID(newUser("u1", "alice", "alice@example.com"), "ext-1")
	in.Version = 42 // ignored by the store
	got := mustCreate(t, s, in)
	want := *in
	want.Version = 1
	checkResource(t, "Apply result", got, &want)
	checkResource(t, "Get", mustGet(t, s, store.KindUser, "u1"), &want)

	g := mustCreate(t, s, newGroup("g1", "Engineering"))
	if g.Version != 1 {
		t.Errorf("group create: Version = %d, want 1", g.Version)
	}
	if _, err := s.Get(t.Context(), store.KindUser, "g1"); err == nil {
		t.Errorf("Get(User, g1) found the group; kinds must not mix")
	}
}

// testCreateExistingID: ExpectVersion 0 on an existing id is ErrConflict,
// and the failed write leaves the resource, its indexes and the queue alone.
func testCreateExistingID(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := newUser("u1", "alice")
	mustCreate(t, s, orig)

	_, err := s.Apply(ctx, store.Write{
		Put:   newUser("u1", "bob", "bob@example.com"),
		Marks: []store.Mark{{App: "app1", Key: "User/u1", Due: t0}},
	})
	wantErr(t, err, store.ErrConflict, "create over an existing id")

	want := *orig
	want.Version = 1
	checkResource(t, "after failed create", mustGet(t, s, store.KindUser, "u1"), &want)
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "bob@example.com")
	wantQueueLen(t, s, "app1", 0)
}

func testGetMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, store.KindUser, "nope")
	mustCreate(t, s, newUser("u1", "alice"))
	wantMissing(t, s, store.KindGroup, "u1")
	wantMissing(t, s, store.KindUser, "U1")
}

// testGetMany: one read returns each existing resource of the kind among
// the ids, whole and current; missing ids, ids of the other kind and
// duplicates are no error, and no ids is an empty map.
func testGetMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	u1 := mustCreate(t, s, newUser("u1", "alice", "alice@example.com"))
	mustCreate(t, s, newUser("u2", "bob"))
	mustCreate(t, s, newGroup("g1", "Eng"))
	u2 := mustApply(t, s, store.Write{Put: newUser("u2", "robert"), ExpectVersion: 1})
	got, err := s.GetMany(ctx, store.KindUser, []string{"u2", "nope", "g1", "u1", "u2"})
	noErr(t, err, "get many")
	if len(got) != 2 {
		t.Fatalf("GetMany = %d resources (%v), want u1 and u2", len(got), got)
	}
	checkResource(t, "GetMany u1", got["u1"], u1)
	checkResource(t, "GetMany u2, replaced", got["u2"], u2)
	empty, err := s.GetMany(ctx, store.KindGroup, nil)
	noErr(t, err, "get many of nothing")
	if len(empty) != 0 {
		t.Errorf("GetMany of no ids = %v", empty)
	}
	groups, err := s.GetMany(ctx, store.KindGroup, []string{"g1", "u1"})
	noErr(t, err, "get many groups")
	if len(groups) != 1 || groups["g1"] == nil {
		t.Errorf("GetMany of groups = %v, want g1 only", groups)
	}
}

// testReplace: each replace bumps the version by one and stores exactly the
// given attributes, times and origin (the store does not stamp times).
func testReplace(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice"))

	upd := newUser("u1", "alice")
	upd.Modified = at(time.Hour)
	upd.Origin = "app:bitbucket"
	upd.Data = mustJSON(map[string]any{"userName": "alice", "displayName": "Alice A."})
	upd.Version = 99 // ignored
	got := mustApply(t, s, store.Write{Put: upd, ExpectVersion: 1})
	want := *upd
	want.Version = 2
	checkResource(t, "first replace", got, &want)
	checkResource(t, "Get after first replace", mustGet(t, s, store.KindUser, "u1"), &want)

	upd2 := newUser("u1", "alice")
	upd2.Modified = at(2 * time.Hour)
	upd2.Data = mustJSON(map[string]any{"userName": "alice", "displayName": "Alice B."})
	got = mustApply(t, s, store.Write{Put: upd2, ExpectVersion: 2})
	want = *upd2
	want.Version = 3
	checkResource(t, "second replace", got, &want)
	checkResource(t, "Get after second replace", mustGet(t, s, store.KindUser, "u1"), &want)
}

// testReplaceVersionMismatch: a stale or future ExpectVersion fails with
// ErrVersionMismatch and changes nothing (data, indexes, marks).
func testReplaceVersionMismatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	cur := newUser("u1", "alice", "alice@example.com")
	cur.Modified = at(time.Minute)
	mustApply(t, s, store.Write{Put: cur, ExpectVersion: 1})

	for _, expect := range []int64{1, 3, 100} {
		_, err := s.Apply(ctx, store.Write{
			Put:           newUser("u1", "mallory", "mallory@example.com"),
			ExpectVersion: expect,
			Marks:         []store.Mark{{App: "app1", Key: "User/u1", Due: t0}},
		})
		wantErr(t, err, store.ErrVersionMismatch, "replace with ExpectVersion %d at version 2", expect)
	}
	want := *cur
	want.Version = 2
	checkResource(t, "after failed replaces", mustGet(t, s, store.KindUser, "u1"), &want)
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com", "u1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "mallory")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "mallory@example.com")
	wantQueueLen(t, s, "app1", 0)
}

// testReplaceMissing: ExpectVersion > 0 on a missing id is ErrNotFound and
// creates nothing.
func testReplaceMissing(t *testing.T, s store.Store) {
	_, err := s.Apply(t.Context(), store.Write{
		Put:           newUser("u9", "ghost"),
		ExpectVersion: 1,
		Marks:         []store.Mark{{App: "app1", Key: "User/u9", Due: t0}},
	})
	wantErr(t, err, store.ErrNotFound, "replace of a missing resource")
	wantMissing(t, s, store.KindUser, "u9")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "ghost")
	wantQueueLen(t, s, "app1", 0)
	page, err := s.List(t.Context(), store.KindUser, 0, 10)
	noErr(t, err, "list")
	if page.Total != 0 {
		t.Errorf("list total = %d after a failed replace, want 0", page.Total)
	}
}

// testDelete: delete removes the resource and its index keys; a second
// delete is ErrNotFound; the id can be created again, at version 1.
func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, withExternalID(newUser("u1", "alice", "alice@example.com"), "ext-1"))
	mustCreate(t, s, newUser("u2", "bob"))

	r, err := s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
	noErr(t, err, "delete")
	if r != nil {
		t.Errorf("delete returned resource %+v, want nil", r)
	}
	wantMissing(t, s, store.KindUser, "u1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "alice")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com")
	wantNoLookup(t, s, store.KindUser, store.IndexExternalID, "ext-1")
	mustGet(t, s, store.KindUser, "u2")

	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
	wantErr(t, err, store.ErrNotFound, "second delete")
	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, DeleteVersion: 1})
	wantErr(t, err, store.ErrNotFound, "conditional delete of a missing resource")
	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "u2"}})
	wantErr(t, err, store.ErrNotFound, "delete of a user id as a group")
	mustGet(t, s, store.KindUser, "u2")

	again := mustCreate(t, s, newUser("u1", "alice"))
	if again.Version != 1 {
		t.Errorf("re-created resource has Version %d, want 1", again.Version)
	}
}

// testDeleteConditional: DeleteVersion > 0 must match, else
// ErrVersionMismatch and nothing changes.
func testDeleteConditional(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	mustApply(t, s, store.Write{Put: newUser("u1", "alice"), ExpectVersion: 1})
	ref := &store.Ref{Kind: store.KindUser, ID: "u1"}

	for _, v := range []int64{1, 3} {
		_, err := s.Apply(ctx, store.Write{
			Delete: ref, DeleteVersion: v,
			Marks: []store.Mark{{App: "app1", Key: "User/u1", Due: t0}},
		})
		wantErr(t, err, store.ErrVersionMismatch, "delete with DeleteVersion %d at version 2", v)
	}
	if r := mustGet(t, s, store.KindUser, "u1"); r.Version != 2 {
		t.Errorf("Version = %d after failed deletes, want 2", r.Version)
	}
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantQueueLen(t, s, "app1", 0)

	mustApply(t, s, store.Write{Delete: ref, DeleteVersion: 2})
	wantMissing(t, s, store.KindUser, "u1")
}

// testDeleteLeavesLinksAndQueue: a delete removes "nothing else": links and
// queued keys stay, and the marks of the delete's Write are queued.
func testDeleteLeavesLinksAndQueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	mustCreate(t, s, newUser("u2", "bob"))
	link := store.Link{App: "bitbucket", Kind: store.KindUser, HubID: "u1", RemoteID: "r-1", AppliedAt: t0, Status: "active"}
	noErr(t, s.PutLink(ctx, link), "put link")
	noErr(t, s.Enqueue(ctx, store.Mark{App: "bitbucket", Key: "User/u2", Due: t0}), "enqueue")

	mustApply(t, s, store.Write{
		Delete: &store.Ref{Kind: store.KindUser, ID: "u1"},
		Marks:  []store.Mark{{App: "bitbucket", Key: "User/u1", Due: t0}},
	})
	wantMissing(t, s, store.KindUser, "u1")
	mustGet(t, s, store.KindUser, "u2")
	if _, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1"); err != nil {
		t.Errorf("link of a deleted resource: %v; links are the caller's to delete", err)
	}
	if _, err := s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1"); err != nil {
		t.Errorf("reverse link of a deleted resource: %v", err)
	}
	wantQueueLen(t, s, "bitbucket", 2)
}

// testRoundTrip: times keep their instant (nanoseconds included), Origin and
// Data survive (Data compared as JSON, so re-encoding is allowed).
func testRoundTrip(t *testing.T, s store.Store) {
	in := &store.Resource{
		Kind:     store.KindUser,
		ID:       "2819c223-7f76-453a-919d-413861904646",
		Created:  time.Date(2029, time.January, 2, 3, 4, 5, 123456789, time.UTC),
		Modified: time.Date(2030, time.June, 7, 8, 9, 10, 987654321, time.FixedZone("CEST", 2*60*60)),
		Origin:   "app:bitbucket",
		Indexes: []store.IndexKey{
			{Name: store.IndexUserName, Value: "Zoë.O'Brien@Example.com"},
			{Name: store.IndexExternalID, Value: "00u1ab2cd3"},
			{Name: store.IndexEmail, Value: "zoe@example.com"},
		},
		Data: json.RawMessage(`{
			"userName" : "Zoë.O'Brien@Example.com",
			"name": {"givenName": "Zoë", "familyName": "O'Brien"},
			"active": true, "n": 3.5, "nothing": null,
			"emails": [{"value": "zoe@example.com", "primary": true, "type": "work"}],
			"html": "<b>&amp;</b> \u2028"
		}`),
	}
	want := *in
	want.Version = 1
	checkResource(t, "Apply result", mustCreate(t, s, in), &want)
	checkResource(t, "Get", mustGet(t, s, store.KindUser, in.ID), &want)

	g := newGroup("g1", "Engineering")
	g.Origin = ""
	g.Data = json.RawMessage(`{}`)
	gw := *g
	gw.Version = 1
	mustCreate(t, s, g)
	checkResource(t, "group with empty origin and data", mustGet(t, s, store.KindGroup, "g1"), &gw)
}

// testResourceCopies: resources returned by Apply, Get, Lookup, LookupAll
// and List are copies, and the store does not keep the caller's Put either.
func testResourceCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := newUser("u1", "alice", "alice@example.com")
	want := *in
	want.Indexes = slices.Clone(in.Indexes)
	want.Data = slices.Clone(in.Data)
	want.Version = 1

	scribble := func(r *store.Resource) {
		for i := range r.Data {
			r.Data[i] = ' '
		}
		for i := range r.Indexes {
			r.Indexes[i].Value = "mallory"
		}
		r.Version = 77
		r.Origin = "scribbled"
	}

	scribble(mustCreate(t, s, in))
	scribble(in)
	checkResource(t, "Get after changing the Put and the Apply result", mustGet(t, s, store.KindUser, "u1"), &want)
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "mallory")

	scribble(mustGet(t, s, store.KindUser, "u1"))
	checkResource(t, "Get after changing a Get result", mustGet(t, s, store.KindUser, "u1"), &want)

	r, err := s.Lookup(ctx, store.KindUser, store.IndexEmail, "alice@example.com")
	noErr(t, err, "lookup")
	scribble(r)
	checkResource(t, "Get after changing a Lookup result", mustGet(t, s, store.KindUser, "u1"), &want)

	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "alice@example.com", 0)
	noErr(t, err, "lookup all")
	for _, r := range rs {
		scribble(r)
	}
	checkResource(t, "Get after changing a LookupAll result", mustGet(t, s, store.KindUser, "u1"), &want)
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1")

	page, err := s.List(ctx, store.KindUser, 0, 10)
	noErr(t, err, "list")
	for _, r := range page.Resources {
		scribble(r)
	}
	checkResource(t, "Get after changing a List result", mustGet(t, s, store.KindUser, "u1"), &want)
}

// testPutAndDeleteRejected: a Write may not set both Put and Delete; the
// store refuses it whole.
func testPutAndDeleteRejected(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice"))
	_, err := s.Apply(t.Context(), store.Write{
		Put:    newUser("u2", "bob"),
		Delete: &store.Ref{Kind: store.KindUser, ID: "u1"},
		Marks:  []store.Mark{{App: "app1", Key: "k", Due: t0}},
	})
	if err == nil {
		t.Fatal("Apply with both Put and Delete succeeded, want an error")
	}
	mustGet(t, s, store.KindUser, "u1")
	wantMissing(t, s, store.KindUser, "u2")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantQueueLen(t, s, "app1", 0)
}

// testWriteWithoutPut: Apply returns nil when Put is not set.
func testWriteWithoutPut(t *testing.T, s store.Store) {
	r, err := s.Apply(t.Context(), store.Write{Marks: []store.Mark{{App: "app1", Key: "k", Due: t0}}})
	noErr(t, err, "marks-only write")
	if r != nil {
		t.Errorf("marks-only write returned %+v, want nil", r)
	}
	wantQueueLen(t, s, "app1", 1)
}

func testListEmpty(t *testing.T, s store.Store) {
	page, err := s.List(t.Context(), store.KindUser, 0, 10)
	noErr(t, err, "list")
	if page.Total != 0 || len(page.Resources) != 0 {
		t.Errorf("empty list = %d resources, total %d; want none", len(page.Resources), page.Total)
	}
}

// listIDs lists a kind and returns the ids of the page and its total.
func listIDs(t testing.TB, s store.Store, kind store.Kind, offset, count int) ([]string, int) {
	t.Helper()
	page, err := s.List(t.Context(), kind, offset, count)
	noErr(t, err, "list %s offset %d count %d", kind, offset, count)
	ids := make([]string, 0, len(page.Resources))
	for _, r := range page.Resources {
		if r.Kind != kind {
			t.Errorf("list %s returned a %s", kind, r.Kind)
		}
		ids = append(ids, r.ID)
	}
	return ids, page.Total
}

// testListOrdered: List orders by id (as strings), not by creation order,
// counts only its kind, and returns full resources.
func testListOrdered(t *testing.T, s store.Store) {
	ids := []string{"u10", "u2", "u1", "a", "u3", "b7", "u20"}
	for _, id := range ids {
		mustCreate(t, s, newUser(id, "name-"+id))
	}
	mustCreate(t, s, newGroup("g1", "Engineering"))
	mustCreate(t, s, newGroup("a0", "Ops"))

	got, total := listIDs(t, s, store.KindUser, 0, 100)
	if want := sorted(ids); !slices.Equal(got, want) || total != len(ids) {
		t.Fatalf("list users = %q (total %d), want %q (total %d)", got, total, want, len(ids))
	}
	page, err := s.List(t.Context(), store.KindUser, 0, 1)
	noErr(t, err, "list")
	want := newUser("a", "name-a")
	want.Version = 1
	checkResource(t, "listed resource", page.Resources[0], want)

	got, total = listIDs(t, s, store.KindGroup, 0, 100)
	if !slices.Equal(got, []string{"a0", "g1"}) || total != 2 {
		t.Fatalf("list groups = %q (total %d), want [a0 g1] (total 2)", got, total)
	}
}

// testListOffsetCount: offset skips, count caps, Total is the kind's total.
func testListOffsetCount(t *testing.T, s store.Store) {
	var all []string
	for i := range 12 {
		id := fmt.Sprintf("u%02d", i)
		all = append(all, id)
		mustCreate(t, s, newUser(id, "name-"+id))
	}
	cases := []struct{ offset, count int }{
		{0, 5}, {5, 5}, {10, 5}, {11, 1}, {12, 5}, {40, 5}, {3, 0}, {0, 12}, {0, 1000},
	}
	for _, c := range cases {
		got, total := listIDs(t, s, store.KindUser, c.offset, c.count)
		lo := min(c.offset, len(all))
		hi := min(c.offset+c.count, len(all))
		if want := all[lo:hi]; !slices.Equal(got, want) {
			t.Errorf("list offset %d count %d = %q, want %q", c.offset, c.count, got, want)
		}
		if total != len(all) {
			t.Errorf("list offset %d count %d: Total = %d, want %d", c.offset, c.count, total, len(all))
		}
	}
}

func testListAfterDelete(t *testing.T, s store.Store) {
	for _, id := range []string{"u1", "u2", "u3"} {
		mustCreate(t, s, newUser(id, "name-"+id))
	}
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	got, total := listIDs(t, s, store.KindUser, 0, 10)
	if !slices.Equal(got, []string{"u1", "u3"}) || total != 2 {
		t.Fatalf("list after delete = %q (total %d), want [u1 u3] (total 2)", got, total)
	}
}

// testListEveryOffset: a page at any offset is the slice of the id order
// there, whatever the ids share (one-byte ids, ids that are prefixes of
// others, long runs under one prefix, non-ASCII), after deletes too, and
// an offset at or past the end is an empty page. A store that jumps to an
// offset through counts kept per id range must land on the exact rank.
func testListEveryOffset(t *testing.T, s store.Store) {
	var ids []string
	for i := range 150 {
		ids = append(ids, fmt.Sprintf("%02x%04d", i%37, i))
	}
	ids = append(ids, "a", "a0", "0", "00", "ff", "ffff", "é", "zz-last", "0a0000")
	for _, id := range ids {
		mustCreate(t, s, newUser(id, "name-"+id))
	}
	mustCreate(t, s, newGroup("0g", "Not a user"))
	var kept []string
	for i, id := range ids {
		if i%5 == 3 {
			mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: id}})
			continue
		}
		kept = append(kept, id)
	}
	want := sorted(kept)
	for _, count := range []int{1, 7, 100} {
		for offset := 0; offset <= len(want)+1; offset++ {
			got, total := listIDs(t, s, store.KindUser, offset, count)
			exp := want[min(offset, len(want)):min(offset+count, len(want))]
			if !slices.Equal(got, exp) || total != len(want) {
				t.Fatalf("list offset %d count %d = %q (total %d), want %q (total %d)", offset, count, got, total, exp, len(want))
			}
		}
	}
}
