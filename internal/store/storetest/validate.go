package storetest

import (
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// invalidWrite is a Write that breaks one rule of the Write contract.
type invalidWrite struct {
	name string
	w    func() store.Write
}

// invalidWrites holds one case per rule Write.Validate enforces. Each case
// carries, besides what breaks the rule, valid changes of every other kind
// it can (a mark, a report entry and, where the rule allows one, a Put),
// so that a backend that applied part of it would show. The cases run on
// the fixture of newValidateFixture: users u1 "alice" and u3 "carol", group
// g1 "Admins" with member u1.
func invalidWrites() []invalidWrite {
	extras := func(w store.Write) store.Write {
		w.Marks = append([]store.Mark{{App: "app1", Key: store.UserKey("u1"), Due: t0}}, w.Marks...)
		w.Reports = []store.ReportEntry{entry("invalid", 0, "alice", "app1", store.OpCreate, store.ReportSuccess)}
		return w
	}
	bob := func() *store.Resource { return newUser("u2", "bob", "bob@example.com") }
	renamedG1 := func() *store.Resource { return newGroup("g1", "Staff") }
	return []invalidWrite{
		{"PutAndDelete", func() store.Write {
			return extras(store.Write{Put: bob(), Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
		}},
		{"PutWithoutID", func() store.Write {
			r := bob()
			r.ID = ""
			return extras(store.Write{Put: r})
		}},
		{"PutWithoutKind", func() store.Write {
			r := bob()
			r.Kind = ""
			return extras(store.Write{Put: r})
		}},
		{"NegativeExpectVersion", func() store.Write {
			return extras(store.Write{Put: bob(), ExpectVersion: -1})
		}},
		{"IndexKeyWithoutName", func() store.Write {
			r := bob()
			r.Indexes = append(r.Indexes, store.IndexKey{Value: "nameless"})
			return extras(store.Write{Put: r})
		}},
		{"DeleteWithoutID", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{Kind: store.KindUser}})
		}},
		{"DeleteWithoutKind", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{ID: "u1"}})
		}},
		{"NegativeDeleteVersion", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, DeleteVersion: -1})
		}},
		{"MembersOfDeletedGroup", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}, Group: "g1",
				AddMembers: []string{"u3"}, RemoveMembers: []string{"u1"}})
		}},
		{"DeletedGroupAsGroup", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}, Group: "g1"})
		}},
		{"AddWithoutGroup", func() store.Write {
			return extras(store.Write{Put: bob(), AddMembers: []string{"u3"}})
		}},
		{"RemoveWithoutGroup", func() store.Write {
			return extras(store.Write{Put: bob(), RemoveMembers: []string{"u1"}})
		}},
		{"EmptyAddedMember", func() store.Write {
			return extras(store.Write{Put: renamedG1(), ExpectVersion: 1, Group: "g1", AddMembers: []string{"u3", ""}})
		}},
		{"EmptyRemovedMember", func() store.Write {
			return extras(store.Write{Put: renamedG1(), ExpectVersion: 1, Group: "g1", RemoveMembers: []string{"u1", ""}})
		}},
		{"MemberAddedAndRemoved", func() store.Write {
			return extras(store.Write{Put: renamedG1(), ExpectVersion: 1, Group: "g1",
				AddMembers: []string{"u3", "u1"}, RemoveMembers: []string{"u1"}})
		}},
		{"AbsentMemberAddedAndRemoved", func() store.Write {
			return extras(store.Write{Put: renamedG1(), ExpectVersion: 1, Group: "g1",
				AddMembers: []string{"u3"}, RemoveMembers: []string{"u3"}})
		}},
		{"TouchWithoutGroup", func() store.Write {
			return extras(store.Write{Touch: true, Time: at(time.Hour)})
		}},
		{"TouchWithPut", func() store.Write {
			return extras(store.Write{Put: renamedG1(), ExpectVersion: 1, Group: "g1", AddMembers: []string{"u3"}, Touch: true})
		}},
		{"TouchWithDelete", func() store.Write {
			return extras(store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u3"}, Group: "g1",
				AddMembers: []string{"u2"}, Touch: true})
		}},
		{"ReadGroupsWithoutPut", func() store.Write {
			return extras(store.Write{Group: "g1", AddMembers: []string{"u2"}, ReadGroups: true})
		}},
		{"MarkWithoutApp", func() store.Write {
			return extras(store.Write{Put: bob(), Marks: []store.Mark{{Key: store.UserKey("u2"), Due: t0}}})
		}},
		{"MarkWithoutKey", func() store.Write {
			return extras(store.Write{Put: bob(), Marks: []store.Mark{{App: "app1", Due: t0}}})
		}},
	}
}

// validateTests: a Write that breaks a rule of the Write contract (see
// Write.Validate) fails with ErrInvalid and changes nothing: no resource,
// index key, membership, queued key or report entry. So does an Enqueue
// of an invalid Mark.
func validateTests() []test {
	var tests []test
	for _, c := range invalidWrites() {
		tests = append(tests, test{c.name, func(t *testing.T, s store.Store) {
			f := newValidateFixture(t, s)
			r, err := s.Apply(t.Context(), c.w())
			wantErr(t, err, store.ErrInvalid, "apply an invalid write (%s)", c.name)
			if r != nil {
				t.Errorf("invalid write returned %+v, want nil", r)
			}
			f.wantUntouched(t, s)
		}})
	}
	for _, c := range []struct {
		name string
		bad  store.Mark
	}{
		{"EnqueueMarkWithoutApp", store.Mark{Key: store.UserKey("u3"), Due: t0}},
		{"EnqueueMarkWithoutKey", store.Mark{App: "app1", Due: t0}},
	} {
		tests = append(tests, test{c.name, func(t *testing.T, s store.Store) {
			f := newValidateFixture(t, s)
			err := s.Enqueue(t.Context(), store.Mark{App: "app1", Key: store.UserKey("u1"), Due: t0}, c.bad)
			wantErr(t, err, store.ErrInvalid, "enqueue an invalid mark (%s)", c.name)
			f.wantUntouched(t, s)
		}})
	}
	return tests
}

// validateFixture is the store state the invalid writes must leave alone.
type validateFixture struct {
	alice, carol, admins *store.Resource // as stored
}

func newValidateFixture(t testing.TB, s store.Store) validateFixture {
	t.Helper()
	var f validateFixture
	f.alice = mustCreate(t, s, newUser("u1", "alice", "alice@example.com"))
	f.carol = mustCreate(t, s, newUser("u3", "carol", "carol@example.com"))
	f.admins = mustApply(t, s, store.Write{Put: newGroup("g1", "Admins"), Group: "g1", AddMembers: []string{"u1"}})
	if f.admins.Version != 1 {
		t.Fatalf("fixture: group g1 at version %d, want 1", f.admins.Version)
	}
	return f
}

// wantUntouched checks that the store holds the fixture and nothing else.
func (f validateFixture) wantUntouched(t testing.TB, s store.Store) {
	t.Helper()
	checkResource(t, "u1 after the invalid write", mustGet(t, s, store.KindUser, "u1"), f.alice)
	checkResource(t, "u3 after the invalid write", mustGet(t, s, store.KindUser, "u3"), f.carol)
	checkResource(t, "g1 after the invalid write", mustGet(t, s, store.KindGroup, "g1"), f.admins)
	wantMissing(t, s, store.KindUser, "u2")
	wantMissing(t, s, store.KindUser, "")
	wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
	wantLookup(t, s, store.KindUser, store.IndexEmail, "alice@example.com", "u1")
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "admins", "g1")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantNoLookup(t, s, store.KindUser, store.IndexEmail, "bob@example.com")
	wantNoLookup(t, s, store.KindGroup, store.IndexDisplayName, "Staff")
	wantNoLookup(t, s, store.KindUser, "", "nameless")
	wantMembers(t, s, "g1", []string{"u1"}, []string{"u2", "u3"})
	wantQueueLen(t, s, "app1", 0)
	wantQueueLen(t, s, "", 0)
	es, next, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query the report log")
	if len(es) != 0 || next != "" {
		t.Fatalf("report log after the invalid write = %q, cursor %q; want it empty", tags(es), next)
	}
}
