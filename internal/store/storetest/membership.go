package storetest

import (
	"errors"
	"testing"

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
		{"UnknownGroupReads", testMembershipUnknownGroupReads},
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

	// The group resource itself is untouched by membership writes of others.
	mustGet(t, s, store.KindGroup, "g1")
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
