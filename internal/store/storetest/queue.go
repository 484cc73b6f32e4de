package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func queueTests() []test {
	return []test{
		{"MarkAndClaim", testQueueMarkAndClaim},
		{"ClaimOnlyDue", testQueueClaimOnlyDue},
		{"ClaimMax", testQueueClaimMax},
		{"RemarkDoesNotDuplicate", testQueueRemark},
		{"LeaseHidesKey", testQueueLeaseHidesKey},
		{"AckRemoves", testQueueAckRemoves},
		{"Requeue", testQueueRequeue},
		{"Release", testQueueRelease},
		{"MarkWhileClaimedThenAck", testQueueMarkWhileClaimedAck},
		{"MarkWhileClaimedThenRequeue", testQueueMarkWhileClaimedRequeue},
		{"PerApp", testQueuePerApp},
		{"ForgedToken", testQueueForgedToken},
		{"MarksInApply", testQueueMarksInApply},
		{"EnqueueNothing", testQueueEnqueueNothing},
	}
}

const lease = time.Minute

// claim claims up to max keys of app at now for the suite's lease, and
// checks the fields every claim must carry.
func claim(t testing.TB, s store.Store, app string, now time.Time, max int) []store.Claim {
	t.Helper()
	cs, err := s.Claim(t.Context(), app, now, lease, max)
	noErr(t, err, "claim %q at %v", app, now.Sub(t0))
	if len(cs) > max {
		t.Fatalf("claim %q max %d handed out %d keys", app, max, len(cs))
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if c.App != app {
			t.Errorf("claim of %q: App = %q", app, c.App)
		}
		if c.Token == "" {
			t.Errorf("claim of %q key %q: empty Token", app, c.Key)
		}
		if !c.LeaseEnd.Equal(now.Add(lease)) {
			t.Errorf("claim of %q key %q: LeaseEnd = %v, want now+lease = %v", app, c.Key, c.LeaseEnd, now.Add(lease))
		}
		if seen[c.Key] {
			t.Errorf("claim of %q handed out key %q twice", app, c.Key)
		}
		seen[c.Key] = true
	}
	return cs
}

// claimOne claims at now and wants exactly the key.
func claimOne(t testing.TB, s store.Store, app, key string, now time.Time) store.Claim {
	t.Helper()
	cs := claim(t, s, app, now, 10)
	if len(cs) != 1 || cs[0].Key != key {
		t.Fatalf("claim %q at t0%+v = %v, want only key %q", app, now.Sub(t0), claimKeys(cs), key)
	}
	return cs[0]
}

// wantNoClaim claims at now and wants nothing.
func wantNoClaim(t testing.TB, s store.Store, app string, now time.Time) {
	t.Helper()
	if cs := claim(t, s, app, now, 10); len(cs) != 0 {
		t.Fatalf("claim %q at t0%+v = %v, want nothing", app, now.Sub(t0), claimKeys(cs))
	}
}

func claimKeys(cs []store.Claim) []string {
	keys := make([]string, 0, len(cs))
	for _, c := range cs {
		keys = append(keys, c.Key)
	}
	slices.Sort(keys)
	return keys
}

func enqueue(t testing.TB, s store.Store, marks ...store.Mark) {
	t.Helper()
	noErr(t, s.Enqueue(t.Context(), marks...), "enqueue %v", marks)
}

func testQueueMarkAndClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "User/u1", Due: t0})
	wantQueueLen(t, s, "app1", 1)
	wantNoClaim(t, s, "app1", at(-time.Millisecond))

	c := claimOne(t, s, "app1", "User/u1", t0)
	if c.Attempt != 0 {
		t.Errorf("first claim Attempt = %d, want 0", c.Attempt)
	}
	wantQueueLen(t, s, "app1", 1) // leased keys count
	noErr(t, s.Ack(ctx, c), "ack")
	wantQueueLen(t, s, "app1", 0)
	wantNoClaim(t, s, "app1", at(time.Hour))
}

// testQueueClaimOnlyDue: a key is claimable when now >= due, not before.
func testQueueClaimOnlyDue(t *testing.T, s store.Store) {
	enqueue(t, s,
		store.Mark{App: "app1", Key: "k0", Due: t0},
		store.Mark{App: "app1", Key: "k1", Due: at(time.Second)},
		store.Mark{App: "app1", Key: "k2", Due: at(2 * time.Second)},
	)
	wantNoClaim(t, s, "app1", at(-time.Hour))
	if got := claimKeys(claim(t, s, "app1", at(time.Second), 10)); !slices.Equal(got, []string{"k0", "k1"}) {
		t.Fatalf("claim at t0+1s = %q, want [k0 k1]", got)
	}
	wantNoClaim(t, s, "app1", at(2*time.Second-time.Millisecond))
	claimOne(t, s, "app1", "k2", at(2*time.Second))
	wantQueueLen(t, s, "app1", 3)
}

// testQueueClaimMax: at most max keys per claim, each to one claim only.
func testQueueClaimMax(t *testing.T, s store.Store) {
	var all []string
	for i := range 5 {
		k := fmt.Sprintf("k%d", i)
		all = append(all, k)
		enqueue(t, s, store.Mark{App: "app1", Key: k, Due: t0})
	}
	enqueue(t, s, store.Mark{App: "app1", Key: "later", Due: at(time.Hour)})
	first := claim(t, s, "app1", t0, 2)
	if len(first) != 2 {
		t.Fatalf("claim max 2 of 5 due keys = %v", claimKeys(first))
	}
	one := claim(t, s, "app1", t0, 1)
	if len(one) != 1 {
		t.Fatalf("claim max 1 of 3 due keys = %v", claimKeys(one))
	}
	rest := claim(t, s, "app1", t0, 10)
	got := claimKeys(append(append(first, one...), rest...))
	if !slices.Equal(got, all) {
		t.Fatalf("claims handed out %q, want each of %q once", got, all)
	}
	wantNoClaim(t, s, "app1", t0)
}

// testQueueRemark: marking a queued key does not duplicate it, and the
// earlier due time wins, through Enqueue and Apply alike.
func testQueueRemark(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Later mark first, then an earlier one: the earlier wins.
	enqueue(t, s, store.Mark{App: "a1", Key: "k", Due: at(10 * time.Second)})
	enqueue(t, s, store.Mark{App: "a1", Key: "k", Due: at(5 * time.Second)})
	wantQueueLen(t, s, "a1", 1)
	wantNoClaim(t, s, "a1", at(5*time.Second-time.Millisecond))
	claimOne(t, s, "a1", "k", at(5*time.Second))

	// Earlier mark first, then a later one: the earlier stays.
	enqueue(t, s, store.Mark{App: "a2", Key: "k", Due: at(5 * time.Second)})
	enqueue(t, s, store.Mark{App: "a2", Key: "k", Due: at(10 * time.Second)})
	wantQueueLen(t, s, "a2", 1)
	claimOne(t, s, "a2", "k", at(5*time.Second))

	// Both in one call.
	enqueue(t, s,
		store.Mark{App: "a3", Key: "k", Due: at(20 * time.Second)},
		store.Mark{App: "a3", Key: "k", Due: at(15 * time.Second)},
		store.Mark{App: "a3", Key: "k", Due: at(25 * time.Second)},
	)
	wantQueueLen(t, s, "a3", 1)
	wantNoClaim(t, s, "a3", at(15*time.Second-time.Millisecond))
	claimOne(t, s, "a3", "k", at(15*time.Second))

	// Through Apply, on a key queued by Enqueue.
	enqueue(t, s, store.Mark{App: "a4", Key: "User/u1", Due: at(30 * time.Second)})
	_, err := s.Apply(ctx, store.Write{
		Put: newUser("u1", "alice"),
		Marks: []store.Mark{
			{App: "a4", Key: "User/u1", Due: at(20 * time.Second)},
			{App: "a4", Key: "User/u1", Due: at(40 * time.Second)},
		},
	})
	noErr(t, err, "apply with marks")
	wantQueueLen(t, s, "a4", 1)
	wantNoClaim(t, s, "a4", at(20*time.Second-time.Millisecond))
	claimOne(t, s, "a4", "User/u1", at(20*time.Second))
}

// testQueueLeaseHidesKey: a claimed key is invisible to other claims until
// its lease ends; then it is claimable with a new token, and the old
// token's Ack and Requeue are ErrLeaseLost.
func testQueueLeaseHidesKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	c1 := claimOne(t, s, "app1", "k", t0)
	for _, d := range []time.Duration{0, time.Second, lease / 2, lease - time.Millisecond} {
		wantNoClaim(t, s, "app1", at(d))
	}
	// Other keys stay claimable meanwhile.
	enqueue(t, s, store.Mark{App: "app1", Key: "other", Due: t0})
	claimOne(t, s, "app1", "other", at(time.Second))

	c2 := claimOne(t, s, "app1", "k", at(lease+time.Millisecond))
	if c2.Token == c1.Token {
		t.Fatalf("claim after lease end reused token %q", c1.Token)
	}
	wantErr(t, s.Ack(ctx, c1), store.ErrLeaseLost, "ack with the token of an expired, re-claimed lease")
	wantErr(t, s.Requeue(ctx, c1, t0), store.ErrLeaseLost, "requeue with the token of an expired, re-claimed lease")
	wantQueueLen(t, s, "app1", 2)
	wantNoClaim(t, s, "app1", at(lease+2*time.Millisecond))
	noErr(t, s.Ack(ctx, c2), "ack with the current token")
	wantQueueLen(t, s, "app1", 1)
}

// testQueueAckRemoves: Ack removes the key; the token is then stale.
func testQueueAckRemoves(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0}, store.Mark{App: "app1", Key: "j", Due: t0})
	cs := claim(t, s, "app1", t0, 10)
	if got := claimKeys(cs); !slices.Equal(got, []string{"j", "k"}) {
		t.Fatalf("claim = %q, want [j k]", got)
	}
	c := cs[0]
	noErr(t, s.Ack(ctx, c), "ack")
	wantQueueLen(t, s, "app1", 1)
	wantErr(t, s.Ack(ctx, c), store.ErrLeaseLost, "second ack")
	wantErr(t, s.Requeue(ctx, c, t0), store.ErrLeaseLost, "requeue after ack")
	wantQueueLen(t, s, "app1", 1)
	// Long after every lease ended, only the other key comes back.
	claimOne(t, s, "app1", cs[1].Key, at(time.Hour))
}

// testQueueRequeue: Requeue returns the key due at the given time with
// Attempt+1; Ack then a new mark start again at Attempt 0.
func testQueueRequeue(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	c := claimOne(t, s, "app1", "k", t0)
	noErr(t, s.Requeue(ctx, c, at(10*time.Second)), "requeue")
	wantQueueLen(t, s, "app1", 1)
	wantErr(t, s.Ack(ctx, c), store.ErrLeaseLost, "ack with a requeued claim's token")
	wantErr(t, s.Requeue(ctx, c, t0), store.ErrLeaseLost, "second requeue with the same token")

	wantNoClaim(t, s, "app1", at(10*time.Second-time.Millisecond))
	c = claimOne(t, s, "app1", "k", at(10*time.Second))
	if c.Attempt != 1 {
		t.Errorf("Attempt after one requeue = %d, want 1", c.Attempt)
	}
	// A requeue into the past is due at once.
	noErr(t, s.Requeue(ctx, c, t0), "requeue into the past")
	c = claimOne(t, s, "app1", "k", at(11*time.Second))
	if c.Attempt != 2 {
		t.Errorf("Attempt after two requeues = %d, want 2", c.Attempt)
	}
	noErr(t, s.Ack(ctx, c), "ack")
	wantQueueLen(t, s, "app1", 0)

	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: at(time.Minute)})
	c = claimOne(t, s, "app1", "k", at(time.Minute))
	if c.Attempt != 0 {
		t.Errorf("Attempt after ack and a new mark = %d, want 0", c.Attempt)
	}
}

// testQueueRelease: a released key is due at the given time (or at an
// earlier mark made while it was claimed) with its attempt count
// unchanged, and the released claim's token is dead.
func testQueueRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	c := claimOne(t, s, "app1", "k", t0)
	noErr(t, s.Requeue(ctx, c, t0), "requeue")
	c = claimOne(t, s, "app1", "k", t0)
	if c.Attempt != 1 {
		t.Fatalf("Attempt after a requeue = %d, want 1", c.Attempt)
	}
	noErr(t, s.Release(ctx, c, at(time.Second)), "release")
	wantQueueLen(t, s, "app1", 1)
	wantErr(t, s.Release(ctx, c, t0), store.ErrLeaseLost, "second release with the same token")
	wantErr(t, s.Ack(ctx, c), store.ErrLeaseLost, "ack with a released claim's token")
	wantNoClaim(t, s, "app1", at(time.Second-time.Millisecond))
	c = claimOne(t, s, "app1", "k", at(time.Second))
	if c.Attempt != 1 {
		t.Errorf("Attempt after a release = %d, want 1 (unchanged)", c.Attempt)
	}
	noErr(t, s.Ack(ctx, c), "ack")

	// Attempt 0 stays 0, and a mark made while claimed wins when earlier.
	enqueue(t, s, store.Mark{App: "app2", Key: "k", Due: t0})
	c = claimOne(t, s, "app2", "k", t0)
	enqueue(t, s, store.Mark{App: "app2", Key: "k", Due: at(2 * time.Second)})
	noErr(t, s.Release(ctx, c, at(time.Minute)), "release after a mark")
	wantNoClaim(t, s, "app2", at(2*time.Second-time.Millisecond))
	c = claimOne(t, s, "app2", "k", at(2*time.Second))
	if c.Attempt != 0 {
		t.Errorf("Attempt after releasing a first claim = %d, want 0", c.Attempt)
	}
	forged := c
	forged.Token = "forged"
	wantErr(t, s.Release(ctx, forged, t0), store.ErrLeaseLost, "release with a forged token")
	noErr(t, s.Ack(ctx, c), "ack")
	wantQueueLen(t, s, "app2", 0)
}

// testQueueMarkWhileClaimedAck: a key marked while claimed stays leased,
// and after Ack is due again at its mark's due time, with Attempt reset.
func testQueueMarkWhileClaimedAck(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	c := claimOne(t, s, "app1", "k", t0)
	noErr(t, s.Requeue(ctx, c, t0), "requeue")
	c = claimOne(t, s, "app1", "k", t0)
	if c.Attempt != 1 {
		t.Fatalf("Attempt after a requeue = %d, want 1", c.Attempt)
	}

	// Several marks while claimed: the earliest wins, not the first or last.
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: at(40 * time.Second)})
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: at(30 * time.Second)})
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: at(45 * time.Second)})
	wantQueueLen(t, s, "app1", 1)
	wantNoClaim(t, s, "app1", at(35*time.Second)) // due by the mark, but still leased
	noErr(t, s.Ack(ctx, c), "ack of a key marked while claimed")
	wantQueueLen(t, s, "app1", 1)
	wantErr(t, s.Ack(ctx, c), store.ErrLeaseLost, "second ack")

	wantNoClaim(t, s, "app1", at(30*time.Second-time.Millisecond))
	c = claimOne(t, s, "app1", "k", at(30*time.Second))
	if c.Attempt != 0 {
		t.Errorf("Attempt after ack of a re-marked key = %d, want 0", c.Attempt)
	}
	noErr(t, s.Ack(ctx, c), "ack")
	wantQueueLen(t, s, "app1", 0)

	// A mark due before the Ack makes the key due at once after it.
	enqueue(t, s, store.Mark{App: "app1", Key: "j", Due: at(time.Hour)})
	c = claimOne(t, s, "app1", "j", at(time.Hour))
	enqueue(t, s, store.Mark{App: "app1", Key: "j", Due: t0})
	noErr(t, s.Ack(ctx, c), "ack")
	claimOne(t, s, "app1", "j", at(time.Hour+time.Second))
}

// testQueueMarkWhileClaimedRequeue: after Requeue, a key marked while
// claimed is due at the earlier of the mark's and the requeue's time.
func testQueueMarkWhileClaimedRequeue(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		app           string
		mark, requeue time.Duration
	}{
		{"mark-earlier", 20 * time.Second, 40 * time.Second},
		{"requeue-earlier", 40 * time.Second, 20 * time.Second},
	}
	for _, tc := range cases {
		enqueue(t, s, store.Mark{App: tc.app, Key: "k", Due: t0})
		c := claimOne(t, s, tc.app, "k", t0)
		enqueue(t, s, store.Mark{App: tc.app, Key: "k", Due: at(tc.mark)})
		wantQueueLen(t, s, tc.app, 1)
		noErr(t, s.Requeue(ctx, c, at(tc.requeue)), "%s: requeue", tc.app)
		wantQueueLen(t, s, tc.app, 1)
		wantNoClaim(t, s, tc.app, at(20*time.Second-time.Millisecond))
		c = claimOne(t, s, tc.app, "k", at(20*time.Second))
		noErr(t, s.Ack(ctx, c), "%s: ack", tc.app)
		wantQueueLen(t, s, tc.app, 0)
	}
}

// testQueuePerApp: each app has its own queue; a claim of one app is no
// token for another.
func testQueuePerApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s,
		store.Mark{App: "a", Key: "k", Due: t0},
		store.Mark{App: "b", Key: "k", Due: t0},
		store.Mark{App: "b", Key: "j", Due: t0},
	)
	wantQueueLen(t, s, "a", 1)
	wantQueueLen(t, s, "b", 2)
	wantQueueLen(t, s, "c", 0)
	wantNoClaim(t, s, "c", t0)

	ca := claimOne(t, s, "a", "k", t0)
	cb := claim(t, s, "b", t0, 10)
	if got := claimKeys(cb); !slices.Equal(got, []string{"j", "k"}) {
		t.Fatalf("claim of b after a claimed k = %q, want [j k]", got)
	}
	forged := ca
	forged.App = "b"
	wantErr(t, s.Ack(ctx, forged), store.ErrLeaseLost, "ack of b's key with a's token")
	noErr(t, s.Ack(ctx, ca), "ack of a's key")
	wantQueueLen(t, s, "a", 0)
	wantQueueLen(t, s, "b", 2)
	for _, c := range cb {
		noErr(t, s.Ack(ctx, c), "ack of b's %q", c.Key)
	}
	wantQueueLen(t, s, "b", 0)
}

// testQueueForgedToken: a token that never held the key is ErrLeaseLost.
func testQueueForgedToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, store.Mark{App: "app1", Key: "k", Due: t0})
	forged := store.Claim{App: "app1", Key: "k", Token: "forged", LeaseEnd: at(lease)}
	wantErr(t, s.Ack(ctx, forged), store.ErrLeaseLost, "ack of an unclaimed key")
	wantErr(t, s.Requeue(ctx, forged, t0), store.ErrLeaseLost, "requeue of an unclaimed key")
	c := claimOne(t, s, "app1", "k", t0)
	wantErr(t, s.Ack(ctx, forged), store.ErrLeaseLost, "ack of a claimed key with a forged token")
	wantErr(t, s.Requeue(ctx, forged, t0), store.ErrLeaseLost, "requeue of a claimed key with a forged token")
	other := c
	other.Key = "missing"
	wantErr(t, s.Ack(ctx, other), store.ErrLeaseLost, "ack of a missing key with a real token")
	wantQueueLen(t, s, "app1", 1)
	wantNoClaim(t, s, "app1", at(time.Second))
	noErr(t, s.Ack(ctx, c), "ack with the real token")
	wantQueueLen(t, s, "app1", 0)
}

// testQueueMarksInApply: marks queue with a Put and with a Delete, for
// several apps at once.
func testQueueMarksInApply(t *testing.T, s store.Store) {
	mustApply(t, s, store.Write{
		Put: newUser("u1", "alice"),
		Marks: []store.Mark{
			{App: "bitbucket", Key: "User/u1", Due: t0},
			{App: "jira", Key: "User/u1", Due: at(time.Second)},
		},
	})
	wantQueueLen(t, s, "bitbucket", 1)
	wantQueueLen(t, s, "jira", 1)
	mustApply(t, s, store.Write{
		Delete: &store.Ref{Kind: store.KindUser, ID: "u1"},
		Marks:  []store.Mark{{App: "bitbucket", Key: "User/u1-gone", Due: t0}},
	})
	wantQueueLen(t, s, "bitbucket", 2)
	if got := claimKeys(claim(t, s, "bitbucket", t0, 10)); !slices.Equal(got, []string{"User/u1", "User/u1-gone"}) {
		t.Fatalf("claim = %q", got)
	}
	wantNoClaim(t, s, "jira", t0)
	claimOne(t, s, "jira", "User/u1", at(time.Second))
}

func testQueueEnqueueNothing(t *testing.T, s store.Store) {
	noErr(t, s.Enqueue(t.Context()), "enqueue of no marks")
	wantQueueLen(t, s, "app1", 0)
}
