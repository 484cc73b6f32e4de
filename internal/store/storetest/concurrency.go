package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func concurrencyTests() []test {
	return []test{
		{"CASIncrements", testConcurrentCAS},
		{"CreateSameUserName", testConcurrentCreateSameUserName},
		{"CreateSameID", testConcurrentCreateSameID},
		{"SharedEmail", testConcurrentSharedEmail},
		{"ClaimExclusive", testConcurrentClaimExclusive},
		{"ClaimLeaseExpiry", testConcurrentClaimLeaseExpiry},
		{"EnqueueSameKeys", testConcurrentEnqueue},
		{"LockOneHolder", testConcurrentLock},
		{"TakeToken", testConcurrentTakeToken},
		{"Idempotency", testConcurrentIdempotency},
		{"AddMembers", testConcurrentAddMembers},
		{"AppendReport", testConcurrentAppendReport},
	}
}

// maxSpins bounds every retry loop, so a broken backend fails instead of
// hanging the suite.
const maxSpins = 100000

// testConcurrentCAS: workers loop Get → Apply(ExpectVersion), retrying on
// ErrVersionMismatch; no increment is lost.
func testConcurrentCAS(t *testing.T, s store.Store) {
	const workers, each = 4, 25
	ctx := t.Context()
	c := newGroup("counter", "Counter")
	c.Data = mustJSON(map[string]int{"n": 0})
	mustCreate(t, s, c)

	var mismatches atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for done, spins := 0, 0; done < each; spins++ {
				if spins > maxSpins {
					t.Errorf("worker %d: no progress after %d tries", w, spins)
					return
				}
				r, err := s.Get(ctx, store.KindGroup, "counter")
				if err != nil {
					t.Errorf("worker %d: get: %v", w, err)
					return
				}
				var d struct{ N int }
				if err := json.Unmarshal(r.Data, &d); err != nil {
					t.Errorf("worker %d: decode %s: %v", w, r.Data, err)
					return
				}
				r.Data = mustJSON(map[string]int{"n": d.N + 1})
				_, err = s.Apply(ctx, store.Write{Put: r, ExpectVersion: r.Version})
				switch {
				case err == nil:
					done++
				case errors.Is(err, store.ErrVersionMismatch):
					mismatches.Add(1)
					runtime.Gosched()
				default:
					t.Errorf("worker %d: apply: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	r := mustGet(t, s, store.KindGroup, "counter")
	var d struct{ N int }
	noErr(t, json.Unmarshal(r.Data, &d), "decode counter")
	if d.N != workers*each || r.Version != workers*each+1 {
		t.Fatalf("counter = %d at version %d, want %d at version %d (%d mismatches retried)",
			d.N, r.Version, workers*each, workers*each+1, mismatches.Load())
	}
	wantLookup(t, s, store.KindGroup, store.IndexDisplayName, "counter", "counter")
}

// testConcurrentCreateSameUserName: of parallel creates holding one
// userName (in different case), exactly one wins; no loser leaves a trace.
func testConcurrentCreateSameUserName(t *testing.T, s store.Store) {
	const n = 8
	ctx := t.Context()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := "Racer@Example.com"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			_, errs[i] = s.Apply(ctx, store.Write{
				Put:   newUser(fmt.Sprintf("u%d", i), name, fmt.Sprintf("racer%d@example.com", i)),
				Marks: []store.Mark{{App: "app1", Key: fmt.Sprintf("User/u%d", i), Due: t0}},
			})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("both u%d and u%d created with the same userName", winner, i)
			}
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("create u%d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no create won")
	}
	wantLookup(t, s, store.KindUser, store.IndexUserName, "racer@example.com", fmt.Sprintf("u%d", winner))
	for i := range n {
		if i == winner {
			continue
		}
		wantMissing(t, s, store.KindUser, fmt.Sprintf("u%d", i))
		wantNoLookup(t, s, store.KindUser, store.IndexEmail, fmt.Sprintf("racer%d@example.com", i))
	}
	_, total := listIDs(t, s, store.KindUser, 0, 100)
	if total != 1 {
		t.Fatalf("list total = %d, want 1", total)
	}
	wantQueueLen(t, s, "app1", 1)
}

// testConcurrentCreateSameID: of parallel creates of one id, exactly one
// wins, and the losers' index keys stay free.
func testConcurrentCreateSameID(t *testing.T, s store.Store) {
	const n = 8
	ctx := t.Context()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Apply(ctx, store.Write{Put: newUser("same", fmt.Sprintf("name%d", i))})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("creates %d and %d of one id both succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("create %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no create won")
	}
	if r := mustGet(t, s, store.KindUser, "same"); r.Version != 1 {
		t.Fatalf("Version = %d, want 1", r.Version)
	}
	for i := range n {
		if i == winner {
			wantLookup(t, s, store.KindUser, store.IndexUserName, fmt.Sprintf("name%d", i), "same")
		} else {
			wantNoLookup(t, s, store.KindUser, store.IndexUserName, fmt.Sprintf("name%d", i))
		}
	}
}

// testConcurrentSharedEmail: parallel writes of users sharing one email
// all succeed and the email's holders are exactly the users that hold it
// at the end: creates join, replaces that drop it leave, deletes leave.
func testConcurrentSharedEmail(t *testing.T, s store.Store) {
	const n = 8
	ctx := t.Context()
	const email = "Shared@Example.com"
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Apply(ctx, store.Write{Put: newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i), email)})
		})
	}
	wg.Wait()
	var ids []string
	for i, err := range errs {
		noErr(t, err, "create u%d sharing an email", i)
		ids = append(ids, fmt.Sprintf("u%d", i))
	}
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, email, 0, ids...)

	// At once: u0..u3 drop the email, u4 and u5 are deleted, u6 and u7
	// rewrite it in another case, and new users n..2n-1 join.
	errs = make([]error, 2*n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("u%d", i)
			var w store.Write
			switch {
			case i < 4:
				w = store.Write{Put: newUser(id, fmt.Sprintf("user%d", i), fmt.Sprintf("own%d@example.com", i)), ExpectVersion: 1}
			case i < 6:
				w = store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: id}}
			default:
				w = store.Write{Put: newUser(id, fmt.Sprintf("user%d", i), strings.ToUpper(email)), ExpectVersion: 1}
			}
			_, errs[i] = s.Apply(ctx, w)
		})
		wg.Go(func() {
			j := n + i
			_, errs[j] = s.Apply(ctx, store.Write{Put: newUser(fmt.Sprintf("u%d", j), fmt.Sprintf("user%d", j), email)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		noErr(t, err, "write %d", i)
	}
	want := []string{"u6", "u7"}
	for j := n; j < 2*n; j++ {
		want = append(want, fmt.Sprintf("u%d", j))
	}
	slices.Sort(want)
	wantLookupAll(t, s, store.KindUser, store.IndexEmail, email, 0, want...)
	wantLookup(t, s, store.KindUser, store.IndexEmail, email, want[0])
	for i := range 4 {
		wantLookupAll(t, s, store.KindUser, store.IndexEmail, fmt.Sprintf("own%d@example.com", i), 0, fmt.Sprintf("u%d", i))
	}
}

// testConcurrentClaimExclusive: workers claim, process and requeue or ack
// keys under long leases; no key is ever held by two workers at once, and
// every key is processed exactly rounds times.
func testConcurrentClaimExclusive(t *testing.T, s store.Store) {
	const workers, keys, rounds = 4, 20, 3
	ctx := t.Context()
	for i := range keys {
		enqueue(t, s, store.Mark{App: "app1", Key: fmt.Sprintf("k%02d", i), Due: t0})
	}
	var (
		mu        sync.Mutex
		holders   = map[string]string{} // key -> token of the worker inside
		processed = map[string]int{}
		acked     atomic.Int64
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for spins := 0; acked.Load() < keys; spins++ {
				if spins > maxSpins {
					t.Errorf("worker %d: no progress", w)
					return
				}
				cs, err := s.Claim(ctx, "app1", t0, time.Hour, 3)
				if err != nil {
					t.Errorf("worker %d: claim: %v", w, err)
					return
				}
				if len(cs) == 0 {
					runtime.Gosched()
					continue
				}
				for _, c := range cs {
					mu.Lock()
					if h, ok := holders[c.Key]; ok {
						t.Errorf("key %s handed to worker %d while token %s holds it", c.Key, w, h)
					}
					holders[c.Key] = c.Token
					processed[c.Key]++
					n := processed[c.Key]
					mu.Unlock()
					if c.Attempt != n-1 {
						t.Errorf("key %s claimed for the %d. time with Attempt %d, want %d", c.Key, n, c.Attempt, n-1)
					}
					runtime.Gosched()
					mu.Lock()
					delete(holders, c.Key)
					mu.Unlock()
					if n < rounds {
						err = s.Requeue(ctx, c, t0)
					} else if err = s.Ack(ctx, c); err == nil {
						acked.Add(1)
					}
					if err != nil {
						t.Errorf("worker %d: release %s: %v", w, c.Key, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range keys {
		k := fmt.Sprintf("k%02d", i)
		if processed[k] != rounds {
			t.Errorf("key %s processed %d times, want %d", k, processed[k], rounds)
		}
	}
	wantQueueLen(t, s, "app1", 0)
}

// testConcurrentClaimLeaseExpiry: workers claim on a shared clock that
// ticks one millisecond per claim, and one worker now and then stalls past
// its lease, so leases expire under workers. The leases the store grants
// for one key never overlap in time, acks after a lost lease are
// ErrLeaseLost, and every key is acked exactly once.
func testConcurrentClaimLeaseExpiry(t *testing.T, s store.Store) {
	const workers, keys = 4, 30
	const leaseTicks = 10 // a lease lasts this many clock ticks
	ctx := t.Context()
	for i := range keys {
		enqueue(t, s, store.Mark{App: "app1", Key: fmt.Sprintf("k%02d", i), Due: t0})
	}
	type span struct {
		from, to time.Time
		token    string
	}
	var (
		clock  atomic.Int64 // milliseconds after t0
		mu     sync.Mutex
		leases = map[string][]span{}
		acked  atomic.Int64
		lost   atomic.Int64
		wg     sync.WaitGroup
	)
	// reclaimed reports whether someone claimed key after the span at i.
	reclaimed := func(key string, i int) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(leases[key]) > i+1
	}
	for w := range workers {
		wg.Go(func() {
			stalls := 0
			for batch := 0; acked.Load() < keys; batch++ {
				if batch > maxSpins {
					t.Errorf("worker %d: no progress", w)
					return
				}
				now := at(time.Duration(clock.Add(1)) * time.Millisecond)
				cs, err := s.Claim(ctx, "app1", now, leaseTicks*time.Millisecond, 2)
				if err != nil {
					t.Errorf("worker %d: claim: %v", w, err)
					return
				}
				first := -1 // index of cs[0]'s span in leases
				for _, c := range cs {
					if !c.LeaseEnd.Equal(now.Add(leaseTicks * time.Millisecond)) {
						t.Errorf("claim at t0+%v: LeaseEnd t0+%v", now.Sub(t0), c.LeaseEnd.Sub(t0))
					}
					mine := span{now, c.LeaseEnd, c.Token}
					mu.Lock()
					for _, o := range leases[c.Key] {
						if mine.from.Before(o.to) && o.from.Before(mine.to) {
							t.Errorf("key %s leased to %s for [t0+%v, t0+%v) and to %s for [t0+%v, t0+%v)",
								c.Key, o.token, o.from.Sub(t0), o.to.Sub(t0), mine.token, mine.from.Sub(t0), mine.to.Sub(t0))
						}
						if o.token == mine.token {
							t.Errorf("key %s: token %s handed out twice", c.Key, mine.token)
						}
					}
					if first < 0 {
						first = len(leases[c.Key])
					}
					leases[c.Key] = append(leases[c.Key], mine)
					mu.Unlock()
				}
				stall := w == 0 && len(cs) > 0 && stalls%3 == 0
				if w == 0 && len(cs) > 0 {
					stalls++
				}
				if stall {
					// Stall past the lease until another worker claims
					// the first key again; then its ack must fail.
					clock.Add(leaseTicks)
					// Other workers reclaim over the network on a loaded
					// machine: wait on the wall clock, not a spin count.
					deadline := time.Now().Add(30 * time.Second)
					for !reclaimed(cs[0].Key, first) {
						if time.Now().After(deadline) {
							t.Errorf("key %s: lease ended but nobody claimed it again", cs[0].Key)
							return
						}
						time.Sleep(100 * time.Microsecond)
					}
				}
				runtime.Gosched()
				for i, c := range cs {
					switch err := s.Ack(ctx, c); {
					case err == nil:
						if stall && i == 0 {
							t.Errorf("key %s: ack after the key was claimed again succeeded", c.Key)
						}
						acked.Add(1)
					case errors.Is(err, store.ErrLeaseLost):
						lost.Add(1)
					default:
						t.Errorf("worker %d: ack %s: %v", w, c.Key, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if got := acked.Load(); got != keys {
		t.Errorf("%d successful acks of %d keys (%d lost leases)", got, keys, lost.Load())
	}
	t.Logf("%d keys acked, %d acks found their lease lost", keys, lost.Load())
	wantQueueLen(t, s, "app1", 0)
}

// testConcurrentEnqueue: parallel marks of the same keys queue each key
// once, at the earliest due time any of them asked for.
func testConcurrentEnqueue(t *testing.T, s store.Store) {
	const workers, keys = 4, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range keys {
				m := store.Mark{App: "app1", Key: fmt.Sprintf("k%d", i), Due: at(time.Duration(w+1) * time.Second)}
				if err := s.Enqueue(ctx, m); err != nil {
					t.Errorf("enqueue: %v", err)
				}
			}
		})
	}
	wg.Wait()
	wantQueueLen(t, s, "app1", keys)
	wantNoClaim(t, s, "app1", at(time.Second-time.Millisecond))
	if cs := claim(t, s, "app1", at(time.Second), 100); len(cs) != keys {
		t.Fatalf("claim at the earliest due = %d keys, want %d", len(cs), keys)
	}
}

// testConcurrentLock: workers contend for one lock; one holds it at a time,
// and the tokens seen by successive holders strictly increase.
func testConcurrentLock(t *testing.T, s store.Store) {
	const workers, each = 4, 10
	ctx := t.Context()
	var (
		mu        sync.Mutex
		holder    string
		lastToken int64 = math.MinInt64
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("replica-%d", w)
			for got, spins := 0, 0; got < each; spins++ {
				if spins > maxSpins {
					t.Errorf("%s: no progress", owner)
					return
				}
				l, err := s.AcquireLock(ctx, "import/bitbucket", owner, t0, time.Hour)
				if errors.Is(err, store.ErrLocked) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("%s: acquire: %v", owner, err)
					return
				}
				mu.Lock()
				if holder != "" {
					t.Errorf("%s acquired the lock while %s holds it", owner, holder)
				}
				if l.Token <= lastToken {
					t.Errorf("%s got token %d after token %d", owner, l.Token, lastToken)
				}
				holder, lastToken = owner, l.Token
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				holder = ""
				mu.Unlock()
				if err := s.ReleaseLock(ctx, l); err != nil {
					t.Errorf("%s: release: %v", owner, err)
					return
				}
				got++
			}
		})
	}
	wg.Wait()
}

// testConcurrentTakeToken: a bucket shared by parallel callers hands out
// exactly burst tokens at one instant.
func testConcurrentTakeToken(t *testing.T, s store.Store) {
	const callers, burst = 16, 5
	ctx := t.Context()
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			wait, err := s.TakeToken(ctx, "app1", 1, burst, t0)
			if err != nil {
				t.Errorf("take token: %v", err)
				return
			}
			if wait == 0 {
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if got := taken.Load(); got != burst {
		t.Fatalf("%d parallel takes got %d tokens, want %d", callers, got, burst)
	}
}

// testConcurrentIdempotency: of parallel puts under one key exactly one
// stores, and all see its record.
func testConcurrentIdempotency(t *testing.T, s store.Store) {
	const n = 8
	ctx := t.Context()
	recs := make([][]byte, n)
	stored := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			recs[i], stored[i], err = s.PutIdempotency(ctx, "key-1", fmt.Appendf(nil, "rec-%d", i), t0, ttl)
			if err != nil {
				t.Errorf("put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if stored[i] {
			if winner >= 0 {
				t.Fatalf("puts %d and %d both stored", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no put stored")
	}
	want := fmt.Sprintf("rec-%d", winner)
	for i := range n {
		if string(recs[i]) != want {
			t.Errorf("put %d returned %q, want the stored %q", i, recs[i], want)
		}
	}
}

// testConcurrentAddMembers: parallel membership writes to one group lose
// no member.
func testConcurrentAddMembers(t *testing.T, s store.Store) {
	const workers, each = 4, 10
	ctx := t.Context()
	mustCreate(t, s, newGroup("g1", "Eng"))
	var want []string
	var wg sync.WaitGroup
	for w := range workers {
		for i := range each {
			want = append(want, fmt.Sprintf("w%d-u%d", w, i))
		}
		wg.Go(func() {
			for i := range each {
				m := fmt.Sprintf("w%d-u%d", w, i)
				_, err := s.Apply(ctx, store.Write{
					Group: "g1", AddMembers: []string{m},
					Marks: []store.Mark{{App: "app1", Key: "User/" + m, Due: t0}},
				})
				if err != nil {
					t.Errorf("add %s: %v", m, err)
				}
			}
		})
	}
	wg.Wait()
	wantMembers(t, s, "g1", want, nil)
	wantQueueLen(t, s, "app1", workers*each)
}

// testConcurrentAppendReport: parallel appends keep every entry, each with
// its own ID.
func testConcurrentAppendReport(t *testing.T, s store.Store) {
	const workers, each = 4, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := entry(fmt.Sprintf("w%d-%d", w, i), time.Duration(i)*time.Second, "u", "a", "create", "success")
				if err := s.AppendReport(ctx, e); err != nil {
					t.Errorf("append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	es, next, err := s.QueryReports(ctx, store.ReportQuery{Limit: 1000})
	noErr(t, err, "query")
	if len(es) != workers*each || next != "" {
		t.Fatalf("query = %d entries, cursor %q; want %d", len(es), next, workers*each)
	}
	ids, seen := map[string]bool{}, map[string]bool{}
	for _, e := range es {
		if ids[e.ID] || seen[e.RequestID] {
			t.Fatalf("entry %q (ID %q) is not unique", e.RequestID, e.ID)
		}
		ids[e.ID], seen[e.RequestID] = true, true
	}
	for i := 1; i < len(es); i++ {
		if es[i].Time.After(es[i-1].Time) {
			t.Fatalf("entries not newest first at %d", i)
		}
	}
}
