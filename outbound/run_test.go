package outbound

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func countMethod(rs []recorded, method string) int {
	n := 0
	for _, r := range rs {
		if r.Method == method {
			n++
		}
	}
	return n
}

// A hundred marks of one user while its update is in flight end in at most
// one more call, which applies the latest state.
func TestMarksCoalesce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{opts: func(o *Options) { o.Apps[0].Concurrency = 4 }})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		gate := make(chan struct{})
		var first sync.Once
		h.rec.SetBefore(func(r *http.Request) error {
			if r.Method == http.MethodPatch {
				first.Do(func() { <-gate }) // the target is slow: the first PATCH hangs
			}
			return nil
		})
		n := h.rec.Count()
		run(t, h.r)
		h.src.update("h1", func(d *Desired) { d.Attributes["displayName"] = "v1" })
		h.mark("h1")
		h.r.Wake()
		eventually(t, "the first PATCH in flight", func() bool { return countMethod(h.rec.Since(n), "PATCH") == 1 })
		for i := 2; i <= 100; i++ {
			h.src.update("h1", func(d *Desired) { d.Attributes["displayName"] = fmt.Sprint("v", i) })
			h.mark("h1")
			h.r.Wake()
		}
		close(gate)
		eventually(t, "the queue to drain", func() bool { return h.queueLen() == 0 })

		calls := h.rec.Since(n)
		if len(calls) > 2 {
			t.Errorf("100 marks made %d calls (%v), want at most 2", len(calls), methods(calls))
		}
		if u := h.simUser(alice); u.DisplayName != "v100" {
			t.Errorf("remote displayName = %q, want the latest, v100", u.DisplayName)
		}
		if reads := h.src.reads.Load(); reads > 4 {
			t.Errorf("the hub was read %d times for one user", reads)
		}
	})
}

// Two Runners (two replicas) draw from one bucket in the store: with a
// burst of 3 and 1 token/s, four workers make 3 calls, then one per second.
func TestRateLimitSharedByRunners(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{opts: func(o *Options) {
			o.Apps[0].Rate, o.Apps[0].Burst, o.Apps[0].Concurrency = 1, 3, 2
		}})
		r2 := h.secondRunner()
		for i := range 10 {
			id := fmt.Sprint("h", i)
			h.src.set(id, person(id, fmt.Sprintf("u%d@example.com", i), "U Ser"))
			h.mark(id)
		}
		run(t, h.r)
		run(t, r2)
		h.clk.waitSleepers(t, 4)
		if got := h.rec.Count(); got != 3 {
			t.Fatalf("%d calls before the clock moved, want the burst of 3 shared by both runners", got)
		}
		for i := 1; i <= 3; i++ {
			h.clk.Advance(1e9)
			h.clk.waitSleepers(t, 4)
			if got := h.rec.Count(); got != 3+i {
				t.Fatalf("%d calls after %d s, want %d", got, i, 3+i)
			}
		}
		if h.sim.CallCount("", "") != h.rec.Count() {
			t.Errorf("simulator saw %d calls, clients sent %d", h.sim.CallCount("", ""), h.rec.Count())
		}
	})
}

// Workers of two Runners never work one key at the same time: every call
// carries its claim, and no two calls of one key overlap.
func TestOneKeyIsNeverWorkedTwiceAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{opts: func(o *Options) { o.Apps[0].Concurrency = 4 }})
		r2 := h.secondRunner()
		const users = 5
		for i := range users {
			id := fmt.Sprint("h", i)
			h.src.set(id, person(id, fmt.Sprintf("u%d@example.com", i), "U Ser"))
		}
		// Every read of the hub sees a new displayName, so every reconcile
		// makes a call.
		var version atomic.Int64
		var lastMu sync.Mutex
		last := map[string]string{} // the displayName each user's last read saw
		h.src.onRead = func(id string) {
			name := fmt.Sprint("v", version.Add(1))
			lastMu.Lock()
			last[id] = name
			lastMu.Unlock()
			h.src.update(id, func(d *Desired) { d.Attributes["displayName"] = name })
		}
		var mu sync.Mutex
		inflight := map[string]int{}
		var violations []string
		h.rec.SetBefore(func(r *http.Request) error {
			c := claimFrom(r.Context())
			mu.Lock()
			defer mu.Unlock()
			if c == nil {
				violations = append(violations, "a call without a claim")
				return nil
			}
			inflight[c.Key]++
			if inflight[c.Key] > 1 {
				violations = append(violations, c.Key+" worked twice at once")
			}
			return nil
		})
		h.rec.SetAfter(func(r *http.Request) {
			if c := claimFrom(r.Context()); c != nil {
				mu.Lock()
				inflight[c.Key]--
				mu.Unlock()
			}
		})
		run(t, h.r)
		run(t, r2)
		for round := range 40 {
			h.mark(fmt.Sprint("h", round%users))
			h.r.Wake()
			r2.Wake()
		}
		eventually(t, "the queue to drain", func() bool { return h.queueLen() == 0 })
		mu.Lock()
		if len(violations) > 0 {
			t.Errorf("%d violations, first: %s", len(violations), violations[0])
		}
		mu.Unlock()
		lastMu.Lock()
		defer lastMu.Unlock()
		for i := range users {
			id := fmt.Sprint("h", i)
			if u := h.simUser(fmt.Sprintf("u%d@example.com", i)); u.DisplayName != last[id] {
				t.Errorf("user %s holds %q, want %q from the last read of the hub", id, u.DisplayName, last[id])
			}
		}
		if users, _ := h.sim.Counts(); users != 5 {
			t.Errorf("simulator has %d users, want 5", users)
		}
	})
}

// Stopping Run hands the key in flight back to the queue, unworked and
// due at once: another replica takes it without waiting for its lease to
// end, and finishes the job.
func TestRunStopsAndAbandonedKeyIsRetaken(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodPost {
			<-r.Context().Done() // the POST hangs until the runner stops
			return r.Context().Err()
		}
		return nil
	})
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.mark("h1")
	stop := run(t, h.r)
	eventually(t, "the POST in flight", func() bool { return countMethod(h.rec.All(), "POST") == 1 })
	stop()

	if n := h.queueLen(); n != 1 {
		t.Errorf("queue length = %d, want the abandoned key", n)
	}
	if es := h.reports(); len(es) != 0 {
		t.Errorf("an abandoned key is reported: %+v", es)
	}
	h.rec.SetBefore(nil)
	cs, err := h.st.Claim(context.Background(), testApp, h.clk.Now(), time.Minute, 1)
	if err != nil || len(cs) != 1 {
		t.Fatalf("the handed-back key is not claimable at once: %v, %v", cs, err)
	}
	if cs[0].Attempt != 0 {
		t.Errorf("attempt after a hand-back = %d, want 0: stopping is no failed attempt", cs[0].Attempt)
	}
	if err := h.st.Release(context.Background(), cs[0], h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	r2 := h.secondRunner()
	if ok, err := r2.Step(context.Background(), testApp); !ok || err != nil {
		t.Fatalf("another replica's step: %v, %v", ok, err)
	}
	if l := h.link("h1"); l.Status != store.LinkActive {
		t.Errorf("link = %+v", l)
	}
	if users, _ := h.sim.Counts(); users != 1 {
		t.Errorf("simulator has %d users", users)
	}
}

func TestRunTwiceAtOnceIsRefused(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	run(t, h.r)
	eventually(t, "Run to start", func() bool { return h.r.running.Load() })
	if err := h.r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run: %v", err)
	}
}

func TestRunWithoutAppsWaitsForCancel(t *testing.T) {
	r, err := New(Options{Store: backends["bolt"](t), Source: newFakeSource()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context ended: %v", err)
	case <-time.After(20 * time.Millisecond): // a negative check needs a little wall-clock time
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
