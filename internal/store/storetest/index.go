package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

func indexTests() []test {
	return []test{
		{"LookupEachIndex", testLookupEachIndex},
		{"CaseFolding", testCaseFolding},
		{"UniquePerIndex", testUniquePerIndex},
		{"ConflictChangesNothing", testConflictChangesNothing},
		{"ConflictFreesEveryKey", testConflictFreesEveryKey},
		{"ReplaceFreesOldKeys", testReplaceFreesOldKeys},
		{"ReplaceKeepsOwnKeys", testReplaceKeepsOwnKeys},
		{"SeveralEmails", testSeveralEmails},
		{"DuplicateKeysCollapse", testDuplicateKeysCollapse},
		{"SameValueAcrossKindsAndIndexes", testSameValueAcrossKinds},
		{"DeleteFreesKeys", testDeleteFreesKeys},
		{"EmptyValueClaimsNothing", testEmptyValueClaimsNothing},
		{"SharedEmail", testSharedEmail},
		{"SharedEmailIDOrderAndLimit", testSharedEmailOrder},
		{"SharedEmailMoves", testSharedEmailMoves},
		{"LookupAllUnique", testLookupAllUnique},
		{"SharedExternalID", testSharedExternalID},
	}
}

// testLookupEachIndex: every index name resolves, within its kind only.
func testLookupEachIndex(t *testing.T, s store.Store) {
	mustCreate(t, s, withExternalID(newUser("u1", "alice", "alice@example.com", "a.smith@example.com"), "okta-1"))
	mustCreate(t, s, withExternalID(newGroup("g1", "Engineering"), "okta-g1"))

	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantLookup(t, s, store.KindUser, store.IndexExternalID, "okta-1", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "a.smith@example.com", "u1")
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "Engineering", "g1")
	wantLookup(t, s, store.KindGroup, store.IndexExternalID, "okta-g1", "g1")

	r, err := s.Lookup(t.Context(), store.KindUser, store.IndexUserName, "alice")
	noErr(t, err, "lookup")
	want := withExternalID(newUser("u1", "alice", "alice@example.com", "a.smith@example.com"), "okta-1")
	want.Version = 1
	checkResource(t, "looked-up resource", r, want)

	wantNoLookup(t, s, store.KindGroup, store.IndexUserName, "alice")
	wantNoLookup(t, s, store.KindGroup, store.IndexExternalID, "okta-1")
	wantNoLookup(t, s, store.KindUser, store.IndexDisplayName, "Engineering")
	wantNoLookup(t, s, store.KindUser, store.IndexExternalID, "okta-g1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "alice")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "alice@example.com")
}

// testCaseFolding: values are folded with strings.ToLower on write and on
// lookup, Unicode included, so a case variant is the same key.
func testCaseFolding(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("u1", "Alice@X.com", "ÉMILIE@Example.COM"))

	for _, v := range []string{"Alice@X.com", "alice@x.com", "ALICE@X.COM", "aLiCe@x.CoM"} {
		wantLookup(t, s, store.KindUser, store.IndexUserName, v, "u1")
	}
	for _, v := range []string{"émilie@example.com", "ÉMILIE@EXAMPLE.COM", "Émilie@example.com"} {
		wantLookup(t, s, store.KindUser, store.IndexEmail, v, "u1")
	}
	_, err := s.Apply(ctx, store.Write{Put: newUser("u2", "alice@x.com")})
	wantErr(t, err, store.ErrConflict, "create with a case variant of a held userName")
	wantMissing(t, s, store.KindUser, "u2")

	// A case variant of a held email is the same key, shared.
	mustCreate(t, s, newUser("u3", "carol", "émilie@EXAMPLE.com"))
	for _, v := range []string{"émilie@example.com", "ÉMILIE@EXAMPLE.COM"} {
		wantLookupAll(t, s, store.KindUser, store.IndexEmail, v, 0, "u1", "u3")
	}
}

// testUniquePerIndex: each unique index of each kind rejects a second
// holder.
func testUniquePerIndex(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, withIndex(withExternalID(newUser("u1", "alice", "alice@example.com"), "ext-u1"), badgeIndex, "b-1"))
	mustCreate(t, s, withExternalID(newGroup("g1", "Engineering"), "ext-g1"))

	cases := []struct {
		name string
		r    *store.Resource
	}{
		{"userName", newUser("u2", "ALICE", "bob@example.com")},
		{"displayName", newGroup("g2", "engineering")},
		{"an index the contract does not name", withIndex(newUser("u2", "bob", "bob@example.com"), badgeIndex, "B-1")},
	}
	for _, c := range cases {
		_, err := s.Apply(ctx, store.Write{Put: c.r})
		wantErr(t, err, store.ErrConflict, "create holding a taken %s", c.name)
		wantMissing(t, s, c.r.Kind, c.r.ID)
	}
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "bob@example.com")
	wantNoLookup(t, s, store.KindGroup, store.IndexDisplayName, "Ops")

	// A replace that takes another resource's key fails too.
	mustCreate(t, s, newUser("u3", "carol"))
	_, err := s.Apply(ctx, store.Write{Put: newUser("u3", "Alice"), ExpectVersion: 1})
	wantErr(t, err, store.ErrConflict, "replace taking another user's userName")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "carol", "u3")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
}

// testConflictChangesNothing: a Put that fails on a unique key leaves
// everything as it was: the resource, its old and would-be index keys, the
// memberships and the marks of the same Write.
// testConflictFreesEveryKey: a write refused for one held unique key
// leaves every other key it named free, whichever order the keys come in,
// and a refused replace leaves the resource its own keys.
func testConflictFreesEveryKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, withIndex(newUser("ua", "a"), badgeIndex, "held-a"))
	mustCreate(t, s, withIndex(newUser("uc", "c"), badgeIndex, "held-c"))
	userName := store.IndexKey{Name: store.IndexUserName, Value: "b"}
	held := store.IndexKey{Name: badgeIndex, Value: "held-a"}
	email := store.IndexKey{Name: store.IndexEmail, Value: "b@example.com"}
	ext := store.IndexKey{Name: store.IndexExternalID, Value: "ext-b"}
	for _, keys := range [][]store.IndexKey{{userName, email, ext, held}, {held, ext, email, userName}} {
		b := newUser("ub", "b")
		b.Indexes = keys
		_, err := s.Apply(ctx, store.Write{Put: b})
		wantErr(t, err, store.ErrConflict, "create naming a held badge")
		wantNoLookup(t, s, store.KindUser, store.IndexUserName, "b")
		wantNoLookup(t, s, store.KindUser, store.IndexEmail, "b@example.com")
		wantNoLookup(t, s, store.KindUser, store.IndexExternalID, "ext-b")
		wantLookup(t, s, store.KindUser, badgeIndex, "held-a", "ua")
	}

	// ua renamed, taking uc's badge: the new userName is not kept.
	renamed := withIndex(newUser("ua", "a2"), badgeIndex, "held-c")
	_, err := s.Apply(ctx, store.Write{Put: renamed, ExpectVersion: 1})
	wantErr(t, err, store.ErrConflict, "replace naming a held badge")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "a2")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "a", "ua")
	wantLookup(t, s, store.KindUser, badgeIndex, "held-a", "ua")
	wantLookup(t, s, store.KindUser, badgeIndex, "held-c", "uc")

	// The keys the refused writes named are anyone's.
	mustCreate(t, s, newUser("ud", "b", "b@example.com"))
	wantLookup(t, s, store.KindUser, store.IndexUserName, "b", "ud")
	mustCreate(t, s, newUser("ue", "a2"))
}

// testSharedExternalID: externalId is not unique (RFC 7643 gives it no
// uniqueness; Entra maps the non-unique mailNickname to it): users and
// groups sharing one are all created, found by LookupAll in id order and
// by Lookup as the smallest id, and an update or delete drops only its own
// entry.
func testSharedExternalID(t *testing.T, s store.Store) {
	if store.Unique(store.IndexExternalID) {
		t.Fatal("store.Unique(IndexExternalID) = true; the suite expects externalId to be non-unique")
	}
	mustCreate(t, s, withExternalID(newUser("u2", "bob"), "Shared-Ext"))
	mustCreate(t, s, withExternalID(newUser("u1", "alice"), "shared-ext"))
	mustCreate(t, s, withExternalID(newUser("u3", "carol"), "SHARED-EXT"))
	mustCreate(t, s, withExternalID(newGroup("g2", "Ops"), "shared-ext"))
	mustCreate(t, s, withExternalID(newGroup("g1", "Eng"), "shared-ext"))
	wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "shared-ext", 0, "u1", "u2", "u3")
	wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "shared-ext", 2, "u1", "u2")
	wantLookup(t, s, store.KindUser, store.IndexExternalID, "Shared-Ext", "u1")
	wantLookupAll(t, s, store.KindGroup, store.IndexExternalID, "shared-ext", 0, "g1", "g2")

	mustApply(t, s, store.Write{Put: withExternalID(newUser("u1", "alice"), "own-ext"), ExpectVersion: 1})
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u3"}})
	wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "shared-ext", 0, "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "own-ext", 0, "u1")
	wantLookupAll(t, s, store.KindGroup, store.IndexExternalID, "shared-ext", 0, "g1", "g2")
}

func testConflictChangesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newUser("ua", "a", "a@example.com"))
	userB := newUser("ub", "b", "b@example.com")
	mustCreate(t, s, userB)
	mustCreate(t, s, newGroup("g1", "Eng"))
	groupG2 := withExternalID(newGroup("g2", "Ops"), "ext-g2")
	mustApply(t, s, store.Write{Put: groupG2, Group: "g2", AddMembers: []string{"ua"}})
	mark := []store.Mark{{App: "app1", Key: "k1", Due: t0}, {App: "app2", Key: "k2", Due: t0}}

	// Replace of a group: the displayName is taken, the new externalId is
	// free, and the Write also changes membership and queues marks.
	g2 := withExternalID(newGroup("g2", "ENG"), "ext-g2-new")
	_, err := s.Apply(ctx, store.Write{
		Put: g2, ExpectVersion: 1,
		Group: "g2", AddMembers: []string{"ub"}, RemoveMembers: []string{"ua"},
		Marks: mark,
	})
	wantErr(t, err, store.ErrConflict, "group replace taking a held displayName")
	want := *groupG2
	want.Version = 1
	checkResource(t, "group after failed replace", mustGet(t, s, store.KindGroup, "g2"), &want)
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "ops", "g2")
	wantLookup(t, s, store.KindGroup, store.IndexExternalID, "ext-g2", "g2")
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "eng", "g1")
	wantNoLookup(t, s, store.KindGroup, store.IndexExternalID, "ext-g2-new")
	members, err := s.Members(ctx, "g2")
	noErr(t, err, "members")
	wantSet(t, "members of g2 after failed write", members, []string{"ua"})
	groups, err := s.GroupsOf(ctx, "ub")
	noErr(t, err, "groups of ub")
	wantSet(t, "groups of ub after failed write", groups, nil)
	groups, err = s.GroupsOf(ctx, "ua")
	noErr(t, err, "groups of ua")
	wantSet(t, "groups of ua after failed write", groups, []string{"g2"})
	wantQueueLen(t, s, "app1", 0)
	wantQueueLen(t, s, "app2", 0)

	// Replace of a user: the userName is taken; the new externalId and
	// emails (one new, one shared with ua) are not added, the dropped email
	// stays.
	_, err = s.Apply(ctx, store.Write{
		Put: withExternalID(newUser("ub", "A", "new@example.com", "A@EXAMPLE.COM"), "ext-b"), ExpectVersion: 1,
		Marks: mark,
	})
	wantErr(t, err, store.ErrConflict, "user replace taking a held userName")
	wantB := *userB
	wantB.Version = 1
	checkResource(t, "user after failed replace", mustGet(t, s, store.KindUser, "ub"), &wantB)
	wantLookup(t, s, store.KindUser, store.IndexUserName, "b", "ub")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "a", "ua")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "b@example.com", 0, "ub")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a@example.com", 0, "ua")
	wantNoLookup(t, s, store.KindUser, store.IndexExternalID, "ext-b")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "new@example.com")

	// Create of a user: the free keys must not be taken either.
	_, err = s.Apply(ctx, store.Write{Put: newUser("uc", "B", "c@example.com", "a@example.com"), Marks: mark})
	wantErr(t, err, store.ErrConflict, "user create taking a held userName")
	wantMissing(t, s, store.KindUser, "uc")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "c@example.com")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a@example.com", 0, "ua")

	// Create of a group with its first members.
	_, err = s.Apply(ctx, store.Write{
		Put:   newGroup("g3", "eng"),
		Group: "g3", AddMembers: []string{"uc", "ua"},
		Marks: mark,
	})
	wantErr(t, err, store.ErrConflict, "group create taking a held displayName")
	wantMissing(t, s, store.KindGroup, "g3")
	groups, err = s.GroupsOf(ctx, "uc")
	noErr(t, err, "groups of uc")
	wantSet(t, "groups of uc after failed create", groups, nil)
	groups, err = s.GroupsOf(ctx, "ua")
	noErr(t, err, "groups of ua")
	wantSet(t, "groups of ua after failed create", groups, []string{"g2"})
	wantQueueLen(t, s, "app1", 0)
	wantQueueLen(t, s, "app2", 0)
}

// testReplaceFreesOldKeys: a replace drops the keys it no longer lists, and
// another resource can take them at once.
func testReplaceFreesOldKeys(t *testing.T, s store.Store) {
	mustCreate(t, s, withExternalID(newUser("u1", "alice", "a1@example.com", "a2@example.com"), "ext-1"))
	mustApply(t, s, store.Write{Put: newUser("u1", "alicia", "A2@example.com", "a3@example.com"), ExpectVersion: 1})

	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "alice")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "a1@example.com")
	wantNoLookup(t, s, store.KindUser, store.IndexExternalID, "ext-1")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alicia", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "a2@example.com", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "a3@example.com", "u1")

	mustCreate(t, s, withExternalID(newUser("u2", "Alice", "a1@example.com"), "ext-1"))
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a1@example.com", 0, "u2")
	wantLookup(t, s, store.KindUser, store.IndexExternalID, "ext-1", "u2")

	mustCreate(t, s, newGroup("g1", "Eng"))
	mustApply(t, s, store.Write{Put: newGroup("g1", "Engineering"), ExpectVersion: 1})
	wantNoLookup(t, s, store.KindGroup, store.IndexDisplayName, "eng")
	mustCreate(t, s, newGroup("g2", "Eng"))
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "eng", "g2")
}

// testReplaceKeepsOwnKeys: a resource keeps its own keys across a replace,
// also when only their case changes, and a replace listing no keys of an
// index frees them all.
func testReplaceKeepsOwnKeys(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice", "alice@example.com"))
	mustApply(t, s, store.Write{Put: newUser("u1", "ALICE", "Alice@Example.com"), ExpectVersion: 1})
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com", "u1")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1")
	mustApply(t, s, store.Write{Put: newUser("u1", "alice"), ExpectVersion: 2})
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0)
}

// testSeveralEmails: a user holds one key per email, and each key has its
// own holders.
func testSeveralEmails(t *testing.T, s store.Store) {
	emails := []string{"one@example.com", "two@example.com", "three@example.org"}
	mustCreate(t, s, newUser("u1", "multi", emails...))
	mustCreate(t, s, newUser("u2", "other", "free@example.com", "TWO@example.com"))
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "one@example.com", 0, "u1")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "two@example.com", 0, "u1", "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "three@example.org", 0, "u1")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "free@example.com", 0, "u2")
}

// testDuplicateKeysCollapse: repeated keys in one resource are one key: the
// write succeeds, and dropping the key once frees it for good.
func testDuplicateKeysCollapse(t *testing.T, s store.Store) {
	r := newUser("u1", "dup", "x@example.com", "X@Example.com", "x@example.com")
	r.Indexes = append(r.Indexes, store.IndexKey{Name: store.IndexUserName, Value: "DUP"})
	mustCreate(t, s, r)
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com", 0, "u1")
	wantLookupAll(t, s, store.KindUser, store.IndexUserName, "dup", 0, "u1")

	// Replace with the same duplicates: still the resource's own keys.
	r2 := newUser("u1", "dup", "x@example.com", "x@EXAMPLE.com")
	mustApply(t, s, store.Write{Put: r2, ExpectVersion: 1})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com", 0, "u1")

	// Dropping the email frees it, however many times it was listed.
	mustApply(t, s, store.Write{Put: newUser("u1", "dup"), ExpectVersion: 2})
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "x@example.com")
	mustCreate(t, s, newUser("u2", "other", "x@example.com"))
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com", 0, "u2")

	// Deleting frees collapsed keys too, unique or not.
	trio := newUser("u3", "trio", "t@example.com", "T@example.com")
	trio.Indexes = append(trio.Indexes, store.IndexKey{Name: store.IndexUserName, Value: "TRIO"})
	mustCreate(t, s, trio)
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u3"}})
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "t@example.com")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "t@example.com", 0)
	mustCreate(t, s, newUser("u4", "trio", "t@example.com"))
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "t@example.com", 0, "u4")
}

// testSameValueAcrossKinds: uniqueness is per kind and per index name.
func testSameValueAcrossKinds(t *testing.T, s store.Store) {
	mustCreate(t, s, withExternalID(newUser("u1", "x"), "ext"))
	mustCreate(t, s, withExternalID(newGroup("g1", "x"), "ext"))
	mustCreate(t, s, newUser("u2", "same@example.com"))
	mustCreate(t, s, newUser("u3", "u3", "same@example.com"))

	wantLookup(t, s, store.KindUser, store.IndexUserName, "x", "u1")
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "x", "g1")
	wantLookup(t, s, store.KindUser, store.IndexExternalID, "ext", "u1")
	wantLookup(t, s, store.KindGroup, store.IndexExternalID, "ext", "g1")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "same@example.com", "u2")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "same@example.com", "u3")
}

// testDeleteFreesKeys: a deleted resource's keys are free for others, and
// deleting one resource leaves the keys of another alone.
func testDeleteFreesKeys(t *testing.T, s store.Store) {
	mustCreate(t, s, withExternalID(newUser("u1", "alice", "alice@example.com"), "ext-1"))
	mustCreate(t, s, newUser("u2", "bob", "bob@example.com"))
	mustCreate(t, s, withExternalID(newGroup("g1", "Eng"), "ext-g1"))
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}})

	wantNoLookup(t, s, store.KindGroup, store.IndexDisplayName, "Eng")
	wantNoLookup(t, s, store.KindGroup, store.IndexExternalID, "ext-g1")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0)
	wantLookup(t, s, store.KindUser, store.IndexEmail, "bob@example.com", "u2")
	mustCreate(t, s, withExternalID(newUser("u3", "ALICE", "alice@example.com"), "ext-1"))
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u3")
	wantLookup(t, s, store.KindUser, store.IndexExternalID, "ext-1", "u3")
	mustCreate(t, s, withExternalID(newGroup("g2", "eng"), "ext-g1"))
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "Eng", "g2")
}

// testEmptyValueClaimsNothing: a key with an empty value (an absent
// externalId or email) is no index entry, so any number of resources may
// lack it, and looking up the empty value finds nothing.
func testEmptyValueClaimsNothing(t *testing.T, s store.Store) {
	for _, id := range []string{"u1", "u2"} {
		mustCreate(t, s, withExternalID(newUser(id, id, ""), ""))
	}
	for _, index := range []string{store.IndexExternalID, store.IndexEmail} {
		wantNoLookup(t, s, store.KindUser, index, "")
		wantLookupAll(t, s, store.KindUser, index, "", 0)
	}
}

// testSharedEmail: emails.value is not unique: users sharing an email all
// hold it, Lookup answers the smallest id, LookupAll all of them in id
// order, and an update or a delete that drops the email removes only that
// user.
func testSharedEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	if store.Unique(store.IndexEmail) {
		t.Fatal("store.Unique(IndexEmail) = true; the suite expects emails.value to be non-unique")
	}
	// Created out of id order, in several cases.
	u2 := mustCreate(t, s, newUser("u2", "bob", "Shared@Example.com", "bob@example.com"))
	u1 := mustCreate(t, s, newUser("u1", "alice", "shared@example.com", "alice@example.com"))
	u3 := mustCreate(t, s, newUser("u3", "carol", "SHARED@EXAMPLE.COM"))
	for _, r := range []*store.Resource{u1, u2, u3} {
		if r.Version != 1 {
			t.Fatalf("create %s: Version = %d, want 1", r.ID, r.Version)
		}
	}

	wantLookup(t, s, store.KindUser, store.IndexEmail, "shared@example.com", "u1")
	all := wantLookupAll(t, s, store.KindUser, store.IndexEmail, "sHaReD@example.com", 0, "u1", "u2", "u3")
	for i, want := range []*store.Resource{u1, u2, u3} {
		checkResource(t, "LookupAll result", all[i], want)
	}
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1")

	// An update that drops the email removes u1 only; its other email stays.
	mustApply(t, s, store.Write{Put: newUser("u1", "alice", "alice@example.com"), ExpectVersion: 1})
	wantLookup(t, s, store.KindUser, store.IndexEmail, "shared@example.com", "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "shared@example.com", 0, "u2", "u3")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1")

	// An update that keeps it (in another case) changes nothing for others.
	mustApply(t, s, store.Write{Put: newUser("u3", "carol", "shared@EXAMPLE.com", "carol@example.com"), ExpectVersion: 1})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "shared@example.com", 0, "u2", "u3")

	// A delete removes u2 only.
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "shared@example.com", 0, "u3")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "bob@example.com", 0)

	// The last holder leaving frees the email entirely.
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u3"}})
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "shared@example.com")
	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "shared@example.com", 0)
	noErr(t, err, "lookup all of a free email")
	if len(rs) != 0 {
		t.Fatalf("lookup all of a free email = %d resources, want none", len(rs))
	}
	// And a user taking it back is its only holder.
	mustApply(t, s, store.Write{Put: newUser("u1", "alice", "alice@example.com", "Shared@example.com"), ExpectVersion: 2})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "shared@example.com", 0, "u1")
}

// testSharedEmailOrder: the holders of an email come in id order (byte
// order, as List), whatever the order of their creation, and max bounds
// how many come back.
func testSharedEmailOrder(t *testing.T, s store.Store) {
	var ids []string
	for i := range 25 {
		ids = append(ids, fmt.Sprintf("u%d", i))
	}
	for i := range ids {
		id := ids[(i*7)%len(ids)] // every id once, out of order
		mustCreate(t, s, newUser(id, "name-"+id, "team@example.com"))
	}
	slices.Sort(ids) // u0, u1, u10, u11, ..., u19, u2, u20, ...
	wantLookup(t, s, store.KindUser, store.IndexEmail, "team@example.com", ids[0])
	for _, limit := range []int{0, -1, 1, 2, 10, 24, 25, 26, 1000} {
		want := ids
		if limit > 0 && limit < len(ids) {
			want = ids[:limit]
		}
		wantLookupAll(t, s, store.KindUser, store.IndexEmail, "TEAM@example.com", limit, want...)
	}
	page, err := s.List(t.Context(), store.KindUser, 0, 100)
	noErr(t, err, "list")
	var listed []string
	for _, r := range page.Resources {
		listed = append(listed, r.ID)
	}
	if !slices.Equal(listed, ids) {
		t.Fatalf("List order %q differs from LookupAll order %q", listed, ids)
	}
}

// testSharedEmailMoves: emails move between users in one write each
// without conflict, and each email's holders follow.
func testSharedEmailMoves(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser("u1", "alice", "a@example.com", "x@example.com"))
	mustCreate(t, s, newUser("u2", "bob", "b@example.com"))
	// Values that extend or cut another never mix with it.
	mustCreate(t, s, newUser("u0", "zed", "a@example.co", "a@example.comx", "x@example.com.au"))
	// u2 takes both of u1's emails while u1 still holds them.
	mustApply(t, s, store.Write{Put: newUser("u2", "bob", "A@example.com", "X@example.com"), ExpectVersion: 1})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a@example.com", 0, "u1", "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com", 0, "u1", "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "b@example.com", 0)
	// u1 swaps one for b.
	mustApply(t, s, store.Write{Put: newUser("u1", "alice", "b@example.com", "x@example.com"), ExpectVersion: 1})
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a@example.com", 0, "u2")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "b@example.com", 0, "u1")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com", 0, "u1", "u2")
	// The write that took shared emails stored u2 whole.
	got := mustGet(t, s, store.KindUser, "u2")
	want := newUser("u2", "bob", "A@example.com", "X@example.com")
	want.Version = 2
	checkResource(t, "user holding shared emails", got, want)
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "a@example.co", 0, "u0")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "x@example.com.au", 0, "u0")
}

// testLookupAllUnique: on a unique index LookupAll returns the one holder,
// or nothing, within the kind; max does not change that. (externalId, not
// unique, is read the same way when one resource holds a value.)
func testLookupAllUnique(t *testing.T, s store.Store) {
	u1 := mustCreate(t, s, withExternalID(newUser("u1", "Alice", "alice@example.com"), "ext-1"))
	mustCreate(t, s, withExternalID(newUser("u2", "bob"), "ext-2"))
	g1 := mustCreate(t, s, withExternalID(newGroup("g1", "Engineering"), "ext-1"))

	for _, limit := range []int{0, 1, 5} {
		all := wantLookupAll(t, s, store.KindUser, store.IndexUserName, "ALICE", limit, "u1")
		checkResource(t, "LookupAll of a userName", all[0], u1)
		wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "Ext-1", limit, "u1")
		all = wantLookupAll(t, s, store.KindGroup, store.IndexExternalID, "ext-1", limit, "g1")
		checkResource(t, "LookupAll of a group externalId", all[0], g1)
		wantLookupAll(t, s, store.KindGroup, store.IndexDisplayName, "engineering", limit, "g1")
	}
	wantLookupAll(t, s, store.KindUser, store.IndexUserName, "carol", 0)
	wantLookupAll(t, s, store.KindUser, store.IndexDisplayName, "engineering", 0)
	wantLookupAll(t, s, store.KindGroup, store.IndexUserName, "alice", 0)
	wantLookupAll(t, s, store.KindGroup, store.IndexEmail, "alice@example.com", 0)

	mustApply(t, s, store.Write{Put: withExternalID(newUser("u1", "alicia"), "ext-1"), ExpectVersion: 1})
	wantLookupAll(t, s, store.KindUser, store.IndexUserName, "alice", 0)
	wantLookupAll(t, s, store.KindUser, store.IndexUserName, "alicia", 0, "u1")
	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	wantLookupAll(t, s, store.KindUser, store.IndexExternalID, "ext-2", 0)
}
