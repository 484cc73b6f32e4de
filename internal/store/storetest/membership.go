package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func membershipTests() []test {
	return []test{
		{"AddRemove", testMembershipAddRemove},
		{"Idempotent", testMembershipIdempotent},
		{"SeveralGroups", testMembershipSeveralGroups},
		{"WithGroupPut", testMembershipWithGroupPut},
		{"MissingGroup", testMembershipMissingGroup},
		{"MembersNotChecked", testMembersNotChecked},
		{"DeleteUser", testMembershipDeleteUser},
		{"DeleteGroup", testMembershipDeleteGroup},
		{"DeleteReversionsGroups", testMembershipDeleteReversionsGroups},
		{"DeleteReversionsOnce", testMembershipDeleteReversionsOnce},
		{"DeleteGroupReversionsNoMember", testMembershipDeleteGroupReversionsNoMember},
		{"UnknownGroupReads", testMembershipUnknownGroupReads},
		{"GroupsOfMany", testMembershipGroupsOfMany},
		{"ReadGroupsWithPut", testMembershipReadGroups},
	}
}

// wantMembers checks every membership read of one group against want, and
// the reverse direction for each of want and notMembers.
func wantMembers(t testing.TB, s store.Store, group string, want, notMembers []string) {
	t.Helper()
	ctx := t.Context()
	got, err := s.Members(ctx, group)
	noErr(t, err, "members of %q", group)
	wantSet(t, "members of "+group, got, want)
	n, err := s.MemberCount(ctx, group)
	noErr(t, err, "member count of %q", group)
	if n != len(want) {
		t.Fatalf("member count of %q = %d, want %d", group, n, len(want))
	}
	for _, m := range want {
		ok, err := s.IsMember(ctx, group, m)
		noErr(t, err, "is %q a member of %q", m, group)
		if !ok {
			t.Fatalf("IsMember(%q, %q) = false, want true", group, m)
		}
		wantInGroups(t, s, m, group, true)
	}
	for _, m := range notMembers {
		ok, err := s.IsMember(ctx, group, m)
		noErr(t, err, "is %q a member of %q", m, group)
		if ok {
			t.Fatalf("IsMember(%q, %q) = true, want false", group, m)
		}
		wantInGroups(t, s, m, group, false)
	}
}

// wantInGroups checks whether group is among GroupsOf(member).
func wantInGroups(t testing.TB, s store.Store, member, group string, want bool) {
	t.Helper()
	groups, err := s.GroupsOf(t.Context(), member)
	noErr(t, err, "groups of %q", member)
	found := false
	for _, g := range groups {
		if g == group {
			found = true
		}
	}
	if found != want {
		t.Fatalf("GroupsOf(%q) = %q: holds %q is %v, want %v", member, groups, group, found, want)
	}
}

// wantGroupsOf checks the whole group set of a member.
func wantGroupsOf(t testing.TB, s store.Store, member string, want []string) {
	t.Helper()
	got, err := s.GroupsOf(t.Context(), member)
	noErr(t, err, "groups of %q", member)
	wantSet(t, "groups of "+member, got, want)
}

func testMembershipAddRemove(t *testing.T, s store.Store) {
	for _, id := range []string{"u1", "u2", "u3"} {
		mustCreate(t, s, newUser(id, "name-"+id))
	}
	mustCreate(t, s, newGroup("g1", "Eng"))
	wantMembers(t, s, "g1", nil, []string{"u1"})

	r := mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1", "u2", "u3"}})
	if r != nil {
		t.Errorf("membership-only write returned %+v, want nil", r)
	}
	wantMembers(t, s, "g1", []string{"u1", "u2", "u3"}, nil)
	wantGroupsOf(t, s, "u1", []string{"g1"})

	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u2"}})
	wantMembers(t, s, "g1", []string{"u1", "u3"}, []string{"u2"})
	wantGroupsOf(t, s, "u2", nil)

	mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u2"}, RemoveMembers: []string{"u1", "u3"}})
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1", "u3"})

	// The group resource itself is untouched by membership-only writes: the
	// caller pairs them with a Put of the group when its version must move.
	wantVersioned(t, s, "group after membership-only writes", newGroup("g1", "Eng"), 1, t0)
}

// testMembershipIdempotent: adding a present member or removing an absent
// one is a no-op, also when an id repeats inside one Write.
func testMembershipIdempotent(t *testing.T, s store.Store) {
	mustCreate(t, s, newGroup("g1", "Eng"))
	mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1", "u1", "u2"}})
	wantMembers(t, s, "g1", []string{"u1", "u2"}, nil)
	mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1", "u2"}})
	wantMembers(t, s, "g1", []string{"u1", "u2"}, nil)
	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u9", "u8", "u8"}})
	wantMembers(t, s, "g1", []string{"u1", "u2"}, []string{"u9"})
	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u1", "u1"}})
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u1"}})
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
}

// testMembershipSeveralGroups: a member's group set tracks every group, and
// a group can be a member of another group.
func testMembershipSeveralGroups(t *testing.T, s store.Store) {
	for _, g := range []string{"g1", "g2", "g3"} {
		mustCreate(t, s, newGroup(g, "name-"+g))
	}
	mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1", "u2"}})
	mustApply(t, s, store.Write{Group: "g2", AddMembers: []string{"u1", "g3"}})
	wantGroupsOf(t, s, "u1", []string{"g1", "g2"})
	wantGroupsOf(t, s, "u2", []string{"g1"})
	wantGroupsOf(t, s, "g3", []string{"g2"})
	wantMembers(t, s, "g2", []string{"u1", "g3"}, []string{"u2"})

	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u1"}})
	wantGroupsOf(t, s, "u1", []string{"g2"})
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	wantMembers(t, s, "g2", []string{"u1", "g3"}, nil)
}

// testMembershipWithGroupPut: membership may come with the Put that creates
// or replaces the group, in one atomic Write with marks.
func testMembershipWithGroupPut(t *testing.T, s store.Store) {
	g := mustApply(t, s, store.Write{
		Put:   newGroup("g1", "Eng"),
		Group: "g1", AddMembers: []string{"u1", "u2"},
		Marks: []store.Mark{{App: "app1", Key: "Group/g1", Due: t0}},
	})
	if g.Version != 1 {
		t.Errorf("created group Version = %d, want 1", g.Version)
	}
	wantMembers(t, s, "g1", []string{"u1", "u2"}, nil)
	wantQueueLen(t, s, "app1", 1)

	g = mustApply(t, s, store.Write{
		Put: newGroup("g1", "Engineering"), ExpectVersion: 1,
		Group: "g1", AddMembers: []string{"u3"}, RemoveMembers: []string{"u1"},
		Marks: []store.Mark{{App: "app1", Key: "User/u1", Due: t0}},
	})
	if g.Version != 2 {
		t.Errorf("replaced group Version = %d, want 2", g.Version)
	}
	wantMembers(t, s, "g1", []string{"u2", "u3"}, []string{"u1"})
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "engineering", "g1")
	wantQueueLen(t, s, "app1", 2)

	// A failed version check drops the membership change with the Put.
	_, err := s.Apply(t.Context(), store.Write{
		Put: newGroup("g1", "Eng"), ExpectVersion: 1,
		Group: "g1", AddMembers: []string{"u9"}, RemoveMembers: []string{"u2"},
	})
	wantErr(t, err, store.ErrVersionMismatch, "stale group replace with membership")
	wantMembers(t, s, "g1", []string{"u2", "u3"}, []string{"u9"})
}

// testMembershipMissingGroup: a membership change on a group that does not
// exist (and is not created by the same Write) is ErrNotFound and has no
// effect at all.
func testMembershipMissingGroup(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	mark := []store.Mark{{App: "app1", Key: "k", Due: t0}}

	_, err := s.Apply(ctx, store.Write{Group: "nope", AddMembers: []string{"u1"}, Marks: mark})
	wantErr(t, err, store.ErrNotFound, "add to a missing group")
	_, err = s.Apply(ctx, store.Write{Group: "nope", RemoveMembers: []string{"u1"}, Marks: mark})
	wantErr(t, err, store.ErrNotFound, "remove from a missing group")
	// A user id is not a group.
	_, err = s.Apply(ctx, store.Write{Group: "u1", AddMembers: []string{"u2"}, Marks: mark})
	wantErr(t, err, store.ErrNotFound, "add to a user id as a group")
	// A Put of something else does not make the group exist, and fails with it.
	_, err = s.Apply(ctx, store.Write{Put: newUser("u2", "bob"), Group: "nope", AddMembers: []string{"u2"}, Marks: mark})
	wantErr(t, err, store.ErrNotFound, "user create with membership of a missing group")
	_, err = s.Apply(ctx, store.Write{Put: newGroup("g2", "Ops"), Group: "nope", AddMembers: []string{"u1"}, Marks: mark})
	wantErr(t, err, store.ErrNotFound, "group create with membership of another, missing group")

	wantMissing(t, s, store.KindUser, "u2")
	wantMissing(t, s, store.KindGroup, "g2")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantNoLookup(t, s, store.KindGroup, store.IndexDisplayName, "Ops")
	wantGroupsOf(t, s, "u1", nil)
	wantGroupsOf(t, s, "u2", nil)
	wantQueueLen(t, s, "app1", 0)
}

// testMembersNotChecked: members need not exist; that is the caller's job.
func testMembersNotChecked(t *testing.T, s store.Store) {
	mustCreate(t, s, newGroup("g1", "Eng"))
	mustApply(t, s, store.Write{Group: "g1", AddMembers: []string{"not-a-user", "also-not"}})
	wantMembers(t, s, "g1", []string{"not-a-user", "also-not"}, nil)
}

// testMembershipDeleteUser: deleting a member removes it from every group's
// member set and drops its group set.
func testMembershipDeleteUser(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice"))
	mustCreate(t, s, newUser("u2", "bob"))
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1", "u2"}})
	mustApply(t, s, store.Write{Put: newGroup("g2", "Ops"), Group: "g2", AddMembers: []string{"u1"}})

	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	wantMembers(t, s, "g2", nil, []string{"u1"})
	wantGroupsOf(t, s, "u1", nil)
	wantGroupsOf(t, s, "u2", []string{"g1"})

	// The same id created again starts with no groups.
	mustCreate(t, s, newUser("u1", "alice"))
	wantGroupsOf(t, s, "u1", nil)
}

// testMembershipDeleteGroup: deleting a group removes it from its members'
// group sets (users and nested groups) and from its parents' member sets;
// the id created again starts empty.
func testMembershipDeleteGroup(t *testing.T, s store.Store) {
	mustApply(t, s, store.Write{Put: newGroup("parent", "Parent"), Group: "parent", AddMembers: []string{"g1", "u9"}})
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1", "u2", "child"}})
	mustApply(t, s, store.Write{Put: newGroup("g2", "Ops"), Group: "g2", AddMembers: []string{"u1"}})

	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}})
	wantGroupsOf(t, s, "u1", []string{"g2"})
	wantGroupsOf(t, s, "u2", nil)
	wantGroupsOf(t, s, "child", nil)
	wantGroupsOf(t, s, "g1", nil)
	wantMembers(t, s, "parent", []string{"u9"}, []string{"g1"})
	wantMembers(t, s, "g2", []string{"u1"}, nil)

	mustCreate(t, s, newGroup("g1", "Eng"))
	wantMembers(t, s, "g1", nil, []string{"u1", "u2", "child"})
}

// wantVersioned checks that a stored resource is want with the given
// Version and Modified, everything else as written.
func wantVersioned(t testing.TB, s store.Store, what string, want *store.Resource, version int64, modified time.Time) {
	t.Helper()
	w := *want
	w.Version, w.Modified = version, modified
	checkResource(t, what, mustGet(t, s, w.Kind, w.ID), &w)
}

// testMembershipDeleteReversionsGroups: deleting a user re-versions every
// group it was a member of (Version+1, Modified = Write.Time) in the same
// write, keeping the rest of each group as it was, so a group's entity tag
// changes with its member list; other groups are untouched. With a zero
// Time the version still moves and Modified stays.
func testMembershipDeleteReversionsGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	mustCreate(t, s, newUser("u2", "bob"))
	// Data and index values a store that rewrites the group's metadata
	// must carry through unchanged: non-ASCII, slashes, quotes.
	eng := withExternalID(newGroup("g1", `Eng/Ops "Zoë"`), "ext/g1")
	mustApply(t, s, store.Write{Put: eng, Group: "g1", AddMembers: []string{"u1", "u2"}})
	eng.Modified = at(time.Minute)
	mustApply(t, s, store.Write{Put: eng, ExpectVersion: 1}) // g1 at version 2
	ops := newGroup("g2", "Ops")
	mustApply(t, s, store.Write{Put: ops, Group: "g2", AddMembers: []string{"u1"}})
	other := newGroup("g3", "Sales")
	mustApply(t, s, store.Write{Put: other, Group: "g3", AddMembers: []string{"u2"}})

	when := time.Date(2031, time.March, 15, 1, 2, 3, 456789012, time.FixedZone("CET", 60*60))
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, Time: when})
	wantVersioned(t, s, "group the deleted user was in", eng, 3, when)
	wantVersioned(t, s, "other group the deleted user was in", ops, 2, when)
	wantVersioned(t, s, "group the deleted user was not in", other, 1, t0)
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	wantMembers(t, s, "g2", nil, []string{"u1"})
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, `eng/ops "zoë"`, "g1")
	wantLookup(t, s, store.KindGroup, store.IndexExternalID, "EXT/G1", "g1")

	// The new version is the one compare-and-set checks.
	_, err := s.Apply(ctx, store.Write{Put: eng, ExpectVersion: 2})
	wantErr(t, err, store.ErrVersionMismatch, "replace of a group at its version before a member was deleted")
	if g := mustApply(t, s, store.Write{Put: eng, ExpectVersion: 3}); g.Version != 4 {
		t.Fatalf("replace of a re-versioned group: Version = %d, want 4", g.Version)
	}

	// Zero Time: the version moves, Modified stays.
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	wantVersioned(t, s, "group of a user deleted with a zero Time", eng, 5, eng.Modified)
	wantVersioned(t, s, "other group of a user deleted with a zero Time", other, 2, t0)
	wantVersioned(t, s, "group untouched by the second delete", ops, 2, when)
}

// testMembershipDeleteReversionsOnce: a failed delete re-versions nothing;
// a delete that comes with a membership change of one of the user's groups
// re-versions that group once (membership changes leave versions alone).
func testMembershipDeleteReversionsOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "alice"))
	eng := newGroup("g1", "Eng")
	mustApply(t, s, store.Write{Put: eng, Group: "g1", AddMembers: []string{"u1"}})
	ops := newGroup("g2", "Ops")
	mustApply(t, s, store.Write{Put: ops, Group: "g2", AddMembers: []string{"u1"}})

	_, err := s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, DeleteVersion: 7, Time: at(time.Hour)})
	wantErr(t, err, store.ErrVersionMismatch, "stale delete of a member")
	wantVersioned(t, s, "group of a member whose delete failed", eng, 1, t0)
	wantVersioned(t, s, "other group of a member whose delete failed", ops, 1, t0)

	mustApply(t, s, store.Write{
		Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, DeleteVersion: 1, Time: at(time.Hour),
		Group: "g1", AddMembers: []string{"u2"}, RemoveMembers: []string{"u1"},
	})
	wantVersioned(t, s, "group of the deleted member with a membership change", eng, 2, at(time.Hour))
	wantVersioned(t, s, "other group of the deleted member", ops, 2, at(time.Hour))
	wantMembers(t, s, "g1", []string{"u2"}, []string{"u1"})
	wantMembers(t, s, "g2", nil, []string{"u1"})
}

// testMembershipDeleteGroupReversionsNoMember: deleting a group re-versions
// none of its members, users or groups, nor unrelated groups; only a group
// it was itself a member of is re-versioned, like for any deleted member.
func testMembershipDeleteGroupReversionsNoMember(t *testing.T, s store.Store) {
	alice := newUser("u1", "alice")
	mustCreate(t, s, alice)
	child := newGroup("child", "Child")
	mustCreate(t, s, child)
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1", "child"}})
	ops := newGroup("g2", "Ops")
	mustApply(t, s, store.Write{Put: ops, Group: "g2", AddMembers: []string{"u1", "child"}})
	parent := newGroup("parent", "Parent")
	mustApply(t, s, store.Write{Put: parent, Group: "parent", AddMembers: []string{"g1"}})

	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}, Time: at(time.Hour)})
	wantVersioned(t, s, "user member of the deleted group", alice, 1, t0)
	wantVersioned(t, s, "group member of the deleted group", child, 1, t0)
	wantVersioned(t, s, "unrelated group", ops, 1, t0)
	wantVersioned(t, s, "group the deleted group was a member of", parent, 2, at(time.Hour))
	wantMissing(t, s, store.KindGroup, "g1")
	wantMembers(t, s, "parent", nil, []string{"g1"})
}

// testMembershipUnknownGroupReads: the contract does not say whether reading
// the membership of a group that does not exist is ErrNotFound or empty; the
// suite accepts both, and nothing else.
func testMembershipUnknownGroupReads(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok := func(what string, err error, empty bool) {
		t.Helper()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing group: %v, want empty or ErrNotFound", what, err)
		}
		if err == nil && !empty {
			t.Errorf("%s of a missing group is not empty", what)
		}
	}
	m, err := s.Members(ctx, "nope")
	ok("Members", err, len(m) == 0)
	n, err := s.MemberCount(ctx, "nope")
	ok("MemberCount", err, n == 0)
	is, err := s.IsMember(ctx, "nope", "u1")
	ok("IsMember", err, !is)
	g, err := s.GroupsOf(ctx, "nobody")
	noErr(t, err, "GroupsOf an id in no group")
	if len(g) != 0 {
		t.Errorf("GroupsOf an id in no group = %q, want none", g)
	}
}

// testMembershipGroupsOfMany: one read gives, for each member asked about
// that is in a group, what GroupsOf gives; members in no group, unknown
// ids and repeated ids are handled, and a member's groups follow changes.
func testMembershipGroupsOfMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustApply(t, s, store.Write{Put: newUser("u1", "alice")})
	mustApply(t, s, store.Write{Put: newUser("u2", "bob")})
	mustApply(t, s, store.Write{Put: newUser("u3", "carol")})
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1", "u2"}})
	mustApply(t, s, store.Write{Put: newGroup("g2", "Ops"), Group: "g2", AddMembers: []string{"u1"}})

	got, err := s.GroupsOfMany(ctx, []string{"u1", "u2", "u3", "missing", "u1"})
	noErr(t, err, "groups of many")
	if len(got) != 2 {
		t.Errorf("GroupsOfMany has %d entries (%v), want u1 and u2 only", len(got), got)
	}
	wantSet(t, "groups of u1", got["u1"], []string{"g1", "g2"})
	wantSet(t, "groups of u2", got["u2"], []string{"g1"})

	mustApply(t, s, store.Write{Group: "g1", RemoveMembers: []string{"u2"}, AddMembers: []string{"u3"}})
	got, err = s.GroupsOfMany(ctx, []string{"u2", "u3"})
	noErr(t, err, "groups of many after a change")
	if _, ok := got["u2"]; ok || len(got) != 1 {
		t.Errorf("after u2 left: %v", got)
	}
	wantSet(t, "groups of u3", got["u3"], []string{"g1"})

	empty, err := s.GroupsOfMany(ctx, nil)
	noErr(t, err, "groups of no members")
	if len(empty) != 0 {
		t.Errorf("GroupsOfMany(nil) = %v", empty)
	}
}

// testMembershipReadGroups: a Put with ReadGroups returns, as MemberOf,
// the groups its resource is in as of the write (the write's own
// membership change included); without ReadGroups, or in no group,
// MemberOf is empty.
func testMembershipReadGroups(t *testing.T, s store.Store) {
	alice := newUser("u1", "alice")
	created := mustApply(t, s, store.Write{Put: alice, ReadGroups: true})
	if len(created.MemberOf) != 0 {
		t.Errorf("MemberOf of a user just created = %q, want none", created.MemberOf)
	}
	mustApply(t, s, store.Write{Put: newGroup("g1", "Eng"), Group: "g1", AddMembers: []string{"u1"}})
	mustApply(t, s, store.Write{Put: newGroup("g2", "Ops"), Group: "g2", AddMembers: []string{"u1"}})
	mustApply(t, s, store.Write{Put: newGroup("g3", "Sales")})

	got := mustApply(t, s, store.Write{Put: alice, ExpectVersion: 1, ReadGroups: true})
	want := *alice
	want.Version = 2
	checkResource(t, "user put with ReadGroups", got, &want)
	wantSet(t, "MemberOf after an update", got.MemberOf, []string{"g1", "g2"})

	got = mustApply(t, s, store.Write{Put: alice, ExpectVersion: 2, ReadGroups: true,
		Group: "g3", AddMembers: []string{"u1"}})
	wantSet(t, "MemberOf of a put that joins a group", got.MemberOf, []string{"g1", "g2", "g3"})

	if got := mustApply(t, s, store.Write{Put: alice, ExpectVersion: 3}); got.MemberOf != nil {
		t.Errorf("MemberOf without ReadGroups = %q, want nil", got.MemberOf)
	}
	_, err := s.Apply(t.Context(), store.Write{Put: alice, ExpectVersion: 1, ReadGroups: true})
	wantErr(t, err, store.ErrVersionMismatch, "put with ReadGroups at a stale version")
}
