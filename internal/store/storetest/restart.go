package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// restartTest writes through one store, closes it, opens the namespace
// again and checks that everything survived and still behaves.
type restartTest struct {
	name string
	fn   func(t *testing.T, r *reopener)
}

func restartTests() []restartTest {
	return []restartTest{
		{"Resources", testRestartResources},
		{"Queue", testRestartQueue},
		{"Locks", testRestartLocks},
		{"IdempotencyAndState", testRestartIdempotencyAndState},
		{"Reports", testRestartReports},
	}
}

// testRestartResources: resources, versions, indexes (a shared email's
// holders included), memberships and links survive a restart, and
// uniqueness and versioning carry on.
func testRestartResources(t *testing.T, r *reopener) {
	ctx := t.Context()
	s := r.s
	alice := withExternalID(newUser("u1", "Alice", "alice@example.com"), "ext-1")
	mustCreate(t, s, newUser("u1", "alice"))
	mustApply(t, s, store.Write{Put: alice, ExpectVersion: 1})
	bob := newUser("u2", "bob", "Alice@Example.com")
	mustCreate(t, s, bob)
	eng := newGroup("g1", "Engineering")
	mustApply(t, s, store.Write{Put: eng, Group: "g1", AddMembers: []string{"u1", "u2"}})
	mustApply(t, s, store.Write{Put: newGroup("g2", "Ops"), Group: "g2", AddMembers: []string{"u1"}})
	link := sampleLink("bitbucket", store.KindUser, "u1", "r-1")
	noErr(t, s.PutLink(ctx, link), "put link")

	for round := range 2 {
		s = r.restart()
		wantA := *alice
		wantA.Version = 2 + int64(round)
		checkResource(t, "user after restart", mustGet(t, s, store.KindUser, "u1"), &wantA)
		wantB := *bob
		wantB.Version = 1
		checkResource(t, "other user after restart", mustGet(t, s, store.KindUser, "u2"), &wantB)
		wantLookup(t, s, store.KindUser, store.IndexUserName, "alice", "u1")
		wantLookup(t, s, store.KindUser, store.IndexEmail, "ALICE@example.com", "u1")
		wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1", "u2")
		wantLookup(t, s, store.KindUser, store.IndexExternalID, "ext-1", "u1")
		wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "engineering", "g1")
		ids, total := listIDs(t, s, store.KindUser, 0, 10)
		if !slices.Equal(ids, []string{"u1", "u2"}) || total != 2 {
			t.Fatalf("list after restart = %q (total %d)", ids, total)
		}
		wantMembers(t, s, "g1", []string{"u1", "u2"}, nil)
		wantMembers(t, s, "g2", []string{"u1"}, []string{"u2"})
		wantGroupsOf(t, s, "u1", []string{"g1", "g2"})
		got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
		noErr(t, err, "get link after restart")
		checkLink(t, "link after restart", got, link)
		got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
		noErr(t, err, "link by remote after restart")
		checkLink(t, "reverse link after restart", got, link)

		// Still behaves: uniqueness, CAS and versioning carry on.
		_, err = s.Apply(ctx, store.Write{Put: newUser("u3", "ALICE")})
		wantErr(t, err, store.ErrConflict, "create with a held userName after restart")
		_, err = s.Apply(ctx, store.Write{Put: newUser("u1", "alice"), ExpectVersion: 1})
		wantErr(t, err, store.ErrVersionMismatch, "stale replace after restart")
		_, err = s.Apply(ctx, store.Write{Put: newUser("u2", "bob")})
		wantErr(t, err, store.ErrConflict, "create of an existing id after restart")
		if got := mustApply(t, s, store.Write{Put: alice, ExpectVersion: 2 + int64(round)}); got.Version != 3+int64(round) {
			t.Fatalf("replace after restart: Version = %d, want %d", got.Version, 3+round)
		}
	}

	mustApply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	noErr(t, s.PutLink(ctx, sampleLink("bitbucket", store.KindUser, "u1", "r-2")), "replace link")
	s = r.restart()
	wantMissing(t, s, store.KindUser, "u2")
	wantNoLookup(t, s, store.KindUser, store.IndexUserName, "bob")
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1")
	wantMembers(t, s, "g1", []string{"u1"}, []string{"u2"})
	_, err := s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
	wantErr(t, err, store.ErrNotFound, "dropped reverse link after restart")
	mustCreate(t, s, newUser("u4", "bob", "alice@EXAMPLE.com"))
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, "alice@example.com", 0, "u1", "u4")
}

// testRestartQueue: queued keys, due times, attempts and leases survive; a
// token from before the restart still acks, and tokens are not reused.
func testRestartQueue(t *testing.T, r *reopener) {
	ctx := t.Context()
	s := r.s
	enqueue(t, s,
		store.Mark{App: "bitbucket", Key: "acked", Due: t0},
		store.Mark{App: "bitbucket", Key: "expires", Due: t0},
		store.Mark{App: "bitbucket", Key: "later", Due: at(time.Hour)},
		store.Mark{App: "jira", Key: "requeued", Due: t0},
	)
	cs := claim(t, s, "bitbucket", t0, 10)
	if got := claimKeys(cs); !slices.Equal(got, []string{"acked", "expires"}) {
		t.Fatalf("claim = %q", got)
	}
	ackMe, expire := cs[0], cs[1]
	if ackMe.Key != "acked" {
		ackMe, expire = expire, ackMe
	}
	rq := claimOne(t, s, "jira", "requeued", t0)
	noErr(t, s.Requeue(ctx, rq, at(10*time.Second)), "requeue")
	enqueue(t, s, store.Mark{App: "bitbucket", Key: "acked", Due: at(20 * time.Second)}) // marked while claimed

	s = r.restart()
	wantQueueLen(t, s, "bitbucket", 3)
	wantQueueLen(t, s, "jira", 1)
	wantNoClaim(t, s, "bitbucket", at(lease/2)) // both still leased, "later" not due
	noErr(t, s.Ack(ctx, ackMe), "ack with a token from before the restart")
	wantNoClaim(t, s, "bitbucket", at(20*time.Second-time.Millisecond))
	c := claimOne(t, s, "bitbucket", "acked", at(20*time.Second))
	if c.Attempt != 0 {
		t.Errorf("re-marked key after ack: Attempt %d, want 0", c.Attempt)
	}
	noErr(t, s.Ack(ctx, c), "ack")

	wantNoClaim(t, s, "jira", at(10*time.Second-time.Millisecond))
	c = claimOne(t, s, "jira", "requeued", at(10*time.Second))
	if c.Attempt != 1 {
		t.Errorf("requeued key after restart: Attempt %d, want 1", c.Attempt)
	}

	c = claimOne(t, s, "bitbucket", "expires", at(lease+time.Millisecond))
	if c.Token == expire.Token {
		t.Fatalf("token %q reused after restart", c.Token)
	}
	wantErr(t, s.Ack(ctx, expire), store.ErrLeaseLost, "ack with the expired pre-restart token")
	noErr(t, s.Ack(ctx, c), "ack")
	claimOne(t, s, "bitbucket", "later", at(time.Hour))
}

// testRestartLocks: a held lock stays held with its token, and fencing
// tokens keep increasing across the restart.
func testRestartLocks(t *testing.T, r *reopener) {
	ctx := t.Context()
	s := r.s
	l0 := acquire(t, s, "import/jira", "a", t0)
	noErr(t, s.ReleaseLock(ctx, l0), "release")
	l1 := acquire(t, s, "import/bitbucket", "a", t0)

	s = r.restart()
	_, err := s.AcquireLock(ctx, "import/bitbucket", "b", at(time.Second), ttl)
	wantErr(t, err, store.ErrLocked, "acquire a held lock after restart")
	l2 := acquire(t, s, "import/bitbucket", "a", at(time.Second))
	if l2.Token != l1.Token {
		t.Fatalf("extension after restart changed the token from %d to %d", l1.Token, l2.Token)
	}
	noErr(t, s.ReleaseLock(ctx, l2), "release after restart")
	l3 := acquire(t, s, "import/bitbucket", "b", at(2*time.Second))
	if l3.Token <= l1.Token {
		t.Fatalf("token after restart = %d, want > %d", l3.Token, l1.Token)
	}
	l4 := acquire(t, s, "import/jira", "b", at(2*time.Second))
	if l4.Token <= l0.Token {
		t.Fatalf("token of a released lock after restart = %d, want > %d", l4.Token, l0.Token)
	}
}

// testRestartIdempotencyAndState: records keep their content and expiry;
// state values survive.
func testRestartIdempotencyAndState(t *testing.T, r *reopener) {
	ctx := t.Context()
	s := r.s
	_, _, err := s.PutIdempotency(ctx, "key-1", []byte("first"), t0, ttl)
	noErr(t, err, "put idempotency")
	noErr(t, s.PutState(ctx, "checkpoint", []byte("page=3")), "put state")

	s = r.restart()
	got, err := s.GetIdempotency(ctx, "key-1", at(time.Second))
	noErr(t, err, "get idempotency after restart")
	wantBytes(t, "idempotency record after restart", got, []byte("first"))
	got, stored, err := s.PutIdempotency(ctx, "key-1", []byte("second"), at(time.Second), ttl)
	noErr(t, err, "put idempotency after restart")
	if stored {
		t.Error("put over a live record after restart stored")
	}
	wantBytes(t, "put over a live record after restart", got, []byte("first"))
	_, err = s.GetIdempotency(ctx, "key-1", at(ttl+time.Millisecond))
	wantErr(t, err, store.ErrNotFound, "idempotency record past its ttl after restart")
	got, err = s.GetState(ctx, "checkpoint")
	noErr(t, err, "get state after restart")
	wantBytes(t, "state after restart", got, []byte("page=3"))
	_, err = s.GetState(ctx, "other")
	wantErr(t, err, store.ErrNotFound, "unset state after restart")
}

// testRestartReports: the log and its indexes survive; entries appended
// after the restart at an equal time still order after the older ones.
func testRestartReports(t *testing.T, r *reopener) {
	s := r.s
	m := &reportModel{}
	before := []store.ReportEntry{
		entry("r1", time.Second, "Alice", "bitbucket", "create", "success"),
		entry("r2", 2*time.Second, "bob", "jira", "update", "failure"),
		entry("r3", 2*time.Second, "alice", "jira", "update", "success"),
	}
	appendReports(t, s, before...)
	m.add(before...)

	s = r.restart()
	for _, q := range []store.ReportQuery{{}, {User: "ALICE"}, {App: "Jira"}, {Status: "failure"}} {
		wantQuery(t, s, m, q, 1, 100)
	}
	after := []store.ReportEntry{
		entry("r4", 2*time.Second, "alice", "jira", "update", "success"),
		entry("r5", 0, "alice", "bitbucket", "create", "success"),
	}
	appendReports(t, s, after...)
	m.add(after...)
	for _, q := range []store.ReportQuery{{}, {User: "alice"}, {App: "jira"}} {
		wantQuery(t, s, m, q, 1, 100)
	}
	prune(t, s, m, at(time.Second+time.Millisecond), 0, 2)
	s = r.restart()
	for _, q := range []store.ReportQuery{{}, {User: "alice"}, {App: "bitbucket"}} {
		wantQuery(t, s, m, q, 1, 100)
	}
}
