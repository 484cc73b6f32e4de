package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func idempotencyTests() []test {
	return []test{
		{"PutGet", testIdempotencyPutGet},
		{"SecondPutReturnsFirst", testIdempotencySecondPut},
		{"Expiry", testIdempotencyExpiry},
		{"ReturnsCopies", testIdempotencyCopies},
	}
}

func lockTests() []test {
	return []test{
		{"Acquire", testLockAcquire},
		{"OtherOwnerLocked", testLockOtherOwner},
		{"SameOwnerExtends", testLockSameOwnerExtends},
		{"ExpiryLetsOtherOwnerIn", testLockExpiry},
		{"SameOwnerAfterExpiry", testLockSameOwnerAfterExpiry},
		{"Release", testLockRelease},
		{"ReleaseStale", testLockReleaseStale},
		{"NamesIndependent", testLockNames},
	}
}

func tokenTests() []test {
	return []test{
		{"Burst", testTokenBurst},
		{"Refill", testTokenRefill},
		{"WaitDoesNotTake", testTokenWaitDoesNotTake},
		{"BucketsIndependent", testTokenBuckets},
	}
}

func stateTests() []test {
	return []test{
		{"PutGet", testStatePutGet},
		{"Overwrite", testStateOverwrite},
		{"EmptyAndBinary", testStateEmptyAndBinary},
		{"ReturnsCopies", testStateCopies},
	}
}

const ttl = time.Minute

func wantBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func testIdempotencyPutGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := []byte(`{"status":201,"location":"/Users/u1"}`)
	got, stored, err := s.PutIdempotency(ctx, "key-1", rec, t0, ttl)
	noErr(t, err, "put idempotency record")
	if !stored {
		t.Error("first put: stored = false, want true")
	}
	wantBytes(t, "first put result", got, rec)
	got, err = s.GetIdempotency(ctx, "key-1", at(time.Second))
	noErr(t, err, "get idempotency record")
	wantBytes(t, "get", got, rec)
	_, err = s.GetIdempotency(ctx, "key-2", at(time.Second))
	wantErr(t, err, store.ErrNotFound, "get a missing idempotency record")
}

// testIdempotencySecondPut: a put over a live record stores nothing and
// returns the live record and false.
func testIdempotencySecondPut(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := []byte("first")
	_, _, err := s.PutIdempotency(ctx, "key-1", first, t0, ttl)
	noErr(t, err, "first put")
	got, stored, err := s.PutIdempotency(ctx, "key-1", []byte("second"), at(10*time.Second), time.Hour)
	noErr(t, err, "second put")
	if stored {
		t.Error("second put: stored = true, want false")
	}
	wantBytes(t, "second put result", got, first)
	got, err = s.GetIdempotency(ctx, "key-1", at(20*time.Second))
	noErr(t, err, "get")
	wantBytes(t, "get after second put", got, first)
	// The second put did not extend the first record's life.
	_, err = s.GetIdempotency(ctx, "key-1", at(ttl+time.Millisecond))
	wantErr(t, err, store.ErrNotFound, "get after the first record's ttl")
}

// testIdempotencyExpiry: a record lives until now+ttl of the caller's clock;
// after that it is gone and a new put stores.
func testIdempotencyExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, _, err := s.PutIdempotency(ctx, "key-1", []byte("old"), t0, ttl)
	noErr(t, err, "put")
	got, err := s.GetIdempotency(ctx, "key-1", at(ttl-time.Millisecond))
	noErr(t, err, "get just before expiry")
	wantBytes(t, "get just before expiry", got, []byte("old"))
	_, err = s.GetIdempotency(ctx, "key-1", at(ttl+time.Millisecond))
	wantErr(t, err, store.ErrNotFound, "get just after expiry")

	got, stored, err := s.PutIdempotency(ctx, "key-1", []byte("new"), at(ttl+time.Millisecond), ttl)
	noErr(t, err, "put over an expired record")
	if !stored {
		t.Error("put over an expired record: stored = false, want true")
	}
	wantBytes(t, "put over an expired record", got, []byte("new"))
	got, err = s.GetIdempotency(ctx, "key-1", at(2*ttl))
	noErr(t, err, "get the new record")
	wantBytes(t, "get the new record", got, []byte("new"))
}

func testIdempotencyCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := []byte("record")
	got, _, err := s.PutIdempotency(ctx, "key-1", rec, t0, ttl)
	noErr(t, err, "put")
	copy(rec, "XXXXXX")
	copy(got, "YYYYYY")
	got, err = s.GetIdempotency(ctx, "key-1", t0)
	noErr(t, err, "get")
	wantBytes(t, "after changing the put and its result", got, []byte("record"))
	copy(got, "ZZZZZZ")
	got, _, err = s.PutIdempotency(ctx, "key-1", []byte("other"), t0, ttl)
	noErr(t, err, "second put")
	wantBytes(t, "after changing a get result", got, []byte("record"))
	copy(got, "WWWWWW")
	got, err = s.GetIdempotency(ctx, "key-1", t0)
	noErr(t, err, "get")
	wantBytes(t, "after changing a second put's result", got, []byte("record"))
}

func acquire(t testing.TB, s store.Store, name, owner string, now time.Time) store.Lock {
	t.Helper()
	l, err := s.AcquireLock(t.Context(), name, owner, now, ttl)
	noErr(t, err, "acquire %q for %q at t0%+v", name, owner, now.Sub(t0))
	if l.Name != name || l.Owner != owner {
		t.Fatalf("acquire %q for %q = %+v", name, owner, l)
	}
	if !l.Expires.Equal(now.Add(ttl)) {
		t.Fatalf("acquire %q: Expires = %v, want now+ttl = %v", name, l.Expires, now.Add(ttl))
	}
	return l
}

// testLockAcquire: a free lock is taken for owner until now+ttl (checked
// by acquire), and released by its holder.
func testLockAcquire(t *testing.T, s store.Store) {
	l := acquire(t, s, "import/bitbucket", "replica-a", t0)
	noErr(t, s.ReleaseLock(t.Context(), l), "release")
}

// testLockOtherOwner: while the lease runs, another owner gets ErrLocked.
func testLockOtherOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	acquire(t, s, "job", "a", t0)
	for _, d := range []time.Duration{0, time.Second, ttl - time.Millisecond} {
		_, err := s.AcquireLock(ctx, "job", "b", at(d), ttl)
		wantErr(t, err, store.ErrLocked, "acquire by another owner at t0%+v", d)
	}
}

// testLockSameOwnerExtends: the holder re-acquiring gets the same token and
// a lease from its new now.
func testLockSameOwnerExtends(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := acquire(t, s, "job", "a", t0)
	l2 := acquire(t, s, "job", "a", at(30*time.Second))
	if l2.Token != l1.Token {
		t.Fatalf("extension changed the token from %d to %d", l1.Token, l2.Token)
	}
	// The first lease would have ended at t0+ttl; the extension holds.
	_, err := s.AcquireLock(ctx, "job", "b", at(ttl+time.Millisecond), ttl)
	wantErr(t, err, store.ErrLocked, "acquire by another owner within the extension")
	noErr(t, s.ReleaseLock(ctx, l2), "release the extended lock")
}

// testLockExpiry: after the lease ends another owner takes the lock with a
// strictly larger token, and the old holder is locked out.
func testLockExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := acquire(t, s, "job", "a", t0)
	l2 := acquire(t, s, "job", "b", at(ttl+time.Millisecond))
	if l2.Token <= l1.Token {
		t.Fatalf("token after takeover = %d, want > %d", l2.Token, l1.Token)
	}
	_, err := s.AcquireLock(ctx, "job", "a", at(ttl+time.Second), ttl)
	wantErr(t, err, store.ErrLocked, "old holder acquiring during the new lease")
	wantErr(t, s.ReleaseLock(ctx, l1), store.ErrLocked, "release with the old holder's lock")
	_, err = s.AcquireLock(ctx, "job", "c", at(ttl+2*time.Second), ttl)
	wantErr(t, err, store.ErrLocked, "a third owner acquiring: the old holder's release must not free it")
	l3 := acquire(t, s, "job", "a", at(3*ttl))
	if l3.Token <= l2.Token {
		t.Fatalf("token after second takeover = %d, want > %d", l3.Token, l2.Token)
	}
}

// testLockSameOwnerAfterExpiry: an owner whose lease ended no longer holds
// the lock: acquiring again is a new acquisition, with a new, larger token.
func testLockSameOwnerAfterExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := acquire(t, s, "job", "a", t0)
	l2 := acquire(t, s, "job", "a", at(ttl+time.Millisecond))
	if l2.Token <= l1.Token {
		t.Fatalf("token of a re-acquisition after expiry = %d, want > %d", l2.Token, l1.Token)
	}
	wantErr(t, s.ReleaseLock(ctx, l1), store.ErrLocked, "release with the expired first lock")
	noErr(t, s.ReleaseLock(ctx, l2), "release with the current lock")
}

// testLockRelease: release frees the lock at once; tokens keep increasing
// across releases; releasing a lock that is not held is ErrNotFound.
func testLockRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := acquire(t, s, "job", "a", t0)
	noErr(t, s.ReleaseLock(ctx, l1), "release")
	l2 := acquire(t, s, "job", "b", at(time.Second))
	if l2.Token <= l1.Token {
		t.Fatalf("token after release and re-acquire = %d, want > %d", l2.Token, l1.Token)
	}
	noErr(t, s.ReleaseLock(ctx, l2), "release")
	wantErr(t, s.ReleaseLock(ctx, l2), store.ErrNotFound, "second release of a free lock")
	l3 := acquire(t, s, "job", "a", at(2*time.Second))
	if l3.Token <= l2.Token {
		t.Fatalf("token of the same owner after release = %d, want > %d", l3.Token, l2.Token)
	}
	err := s.ReleaseLock(ctx, store.Lock{Name: "never", Owner: "a", Token: l3.Token, Expires: at(ttl)})
	wantErr(t, err, store.ErrNotFound, "release of a lock never taken")
}

// testLockReleaseStale: a release with a lock that no longer holds is
// ErrLocked and leaves the current holder alone.
func testLockReleaseStale(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := acquire(t, s, "job", "a", t0)
	l2 := acquire(t, s, "job", "b", at(ttl+time.Millisecond))
	wantErr(t, s.ReleaseLock(ctx, l1), store.ErrLocked, "release with a stale lock")
	forged := l2
	forged.Owner = "a"
	wantErr(t, s.ReleaseLock(ctx, forged), store.ErrLocked, "release with the holder's token and another owner")
	forged = l2
	forged.Token = l2.Token + 1
	wantErr(t, s.ReleaseLock(ctx, forged), store.ErrLocked, "release with the holder's owner and another token")
	_, err := s.AcquireLock(ctx, "job", "c", at(ttl+time.Second), ttl)
	wantErr(t, err, store.ErrLocked, "acquire after stale releases")
	noErr(t, s.ReleaseLock(ctx, l2), "release by the holder")
}

// testLockNames: locks of different names are independent.
func testLockNames(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := acquire(t, s, "import/bitbucket", "a", t0)
	b := acquire(t, s, "import/jira", "b", t0)
	noErr(t, s.ReleaseLock(ctx, a), "release")
	_, err := s.AcquireLock(ctx, "import/jira", "a", t0, ttl)
	wantErr(t, err, store.ErrLocked, "acquire a held lock of another name")
	noErr(t, s.ReleaseLock(ctx, b), "release")
}

func take(t testing.TB, s store.Store, name string, rate float64, burst int, now time.Time) time.Duration {
	t.Helper()
	wait, err := s.TakeToken(t.Context(), name, rate, burst, now)
	noErr(t, err, "take token %q at t0%+v", name, now.Sub(t0))
	if wait < 0 {
		t.Fatalf("take token %q: negative wait %v", name, wait)
	}
	return wait
}

// wantWait checks a wait is about want: not more than want (plus a
// millisecond of rounding), and not less than 90% of it.
func wantWait(t testing.TB, what string, got, want time.Duration) {
	t.Helper()
	if got < want*9/10 || got > want+time.Millisecond {
		t.Fatalf("%s: wait = %v, want about %v", what, got, want)
	}
}

// testTokenBurst: a new bucket holds burst tokens; then the wait is about
// 1/rate.
func testTokenBurst(t *testing.T, s store.Store) {
	const rate, burst = 2.0, 3
	for i := range burst {
		if w := take(t, s, "app1", rate, burst, t0); w != 0 {
			t.Fatalf("take %d of a burst of %d: wait %v, want 0", i+1, burst, w)
		}
	}
	wantWait(t, "take beyond the burst", take(t, s, "app1", rate, burst, t0), 500*time.Millisecond)
}

// testTokenRefill: tokens come back at rate per second of the passed
// clock, up to burst.
func testTokenRefill(t *testing.T, s store.Store) {
	const rate, burst = 4.0, 5
	for range burst {
		take(t, s, "app1", rate, burst, t0)
	}
	// One second refills four tokens.
	now := at(time.Second)
	for i := range 4 {
		if w := take(t, s, "app1", rate, burst, now); w != 0 {
			t.Fatalf("take %d after one second: wait %v, want 0", i+1, w)
		}
	}
	wantWait(t, "take a fifth after one second", take(t, s, "app1", rate, burst, now), 250*time.Millisecond)

	// A long idle time refills to burst and no further.
	now = at(time.Hour)
	for i := range burst {
		if w := take(t, s, "app1", rate, burst, now); w != 0 {
			t.Fatalf("take %d after an idle hour: wait %v, want 0", i+1, w)
		}
	}
	wantWait(t, "take beyond burst after an idle hour", take(t, s, "app1", rate, burst, now), 250*time.Millisecond)
}

// testTokenWaitDoesNotTake: asking while empty takes nothing; the wait
// shrinks as time passes, and after it one token (only one) is there.
func testTokenWaitDoesNotTake(t *testing.T, s store.Store) {
	const rate, burst = 1.0, 1
	take(t, s, "app1", rate, burst, t0)
	for range 5 {
		wantWait(t, "repeated take while empty", take(t, s, "app1", rate, burst, t0), time.Second)
	}
	wantWait(t, "take after 750ms", take(t, s, "app1", rate, burst, at(750*time.Millisecond)), 250*time.Millisecond)
	if w := take(t, s, "app1", rate, burst, at(time.Second+time.Millisecond)); w != 0 {
		t.Fatalf("take after the wait: wait %v, want 0", w)
	}
	wantWait(t, "take right after", take(t, s, "app1", rate, burst, at(time.Second+time.Millisecond)), time.Second)
}

func testTokenBuckets(t *testing.T, s store.Store) {
	take(t, s, "app1", 1, 1, t0)
	if w := take(t, s, "app2", 1, 1, t0); w != 0 {
		t.Fatalf("take from a fresh bucket: wait %v, want 0", w)
	}
	wantWait(t, "take from the empty bucket", take(t, s, "app1", 1, 1, t0), time.Second)
}

func testStatePutGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetState(ctx, "app/bitbucket/status")
	wantErr(t, err, store.ErrNotFound, "get unset state")
	noErr(t, s.PutState(ctx, "app/bitbucket/status", []byte("failing: 401")), "put state")
	got, err := s.GetState(ctx, "app/bitbucket/status")
	noErr(t, err, "get state")
	wantBytes(t, "state", got, []byte("failing: 401"))
	_, err = s.GetState(ctx, "app/jira/status")
	wantErr(t, err, store.ErrNotFound, "get another unset state")
}

func testStateOverwrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, s.PutState(ctx, "checkpoint", []byte("page=7&long=value")), "put state")
	noErr(t, s.PutState(ctx, "checkpoint", []byte("page=8")), "overwrite state")
	got, err := s.GetState(ctx, "checkpoint")
	noErr(t, err, "get state")
	wantBytes(t, "overwritten state", got, []byte("page=8"))
}

// testStateEmptyAndBinary: an empty value is set (not ErrNotFound), and
// values are bytes, not text.
func testStateEmptyAndBinary(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, s.PutState(ctx, "empty", []byte{}), "put empty state")
	got, err := s.GetState(ctx, "empty")
	noErr(t, err, "get empty state")
	if len(got) != 0 {
		t.Fatalf("empty state = %q", got)
	}
	bin := []byte{0, 1, 0xfe, 0xff, '\n', 0}
	noErr(t, s.PutState(ctx, "bin", bin), "put binary state")
	got, err = s.GetState(ctx, "bin")
	noErr(t, err, "get binary state")
	wantBytes(t, "binary state", got, bin)
}

func testStateCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := []byte("value")
	noErr(t, s.PutState(ctx, "k", v), "put state")
	copy(v, "XXXXX")
	got, err := s.GetState(ctx, "k")
	noErr(t, err, "get state")
	wantBytes(t, "after changing the put value", got, []byte("value"))
	copy(got, "YYYYY")
	got, err = s.GetState(ctx, "k")
	noErr(t, err, "get state")
	wantBytes(t, "after changing a get result", got, []byte("value"))
}
