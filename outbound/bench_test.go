package outbound

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// benchEnv is a simulator on the wall clock, a store and a source of n
// users, for benchmarks.
type benchEnv struct {
	sim *atlassiantest.Server
	st  store.Store
	src *fakeSource
	ids []string
}

func newBenchEnv(b *testing.B, backend string, n int) *benchEnv {
	b.Helper()
	e := &benchEnv{
		sim: atlassiantest.NewServer(atlassiantest.Options{Token: testToken, RecordCalls: true}),
		st:  backends[backend](b),
		src: newFakeSource(),
	}
	b.Cleanup(e.sim.Close)
	for i := range n {
		id := fmt.Sprintf("h%05d", i)
		e.ids = append(e.ids, id)
		e.src.set(id, person(id, fmt.Sprintf("user%05d@example.com", i), "Bench User"))
	}
	return e
}

// runner returns a Runner of one atlassian app against the simulator.
func (e *benchEnv) runner(b *testing.B, rate float64, burst, concurrency int) *Runner {
	b.Helper()
	r, err := New(Options{
		Store: e.st, Source: e.src, Registerer: prometheus.NewRegistry(), PollInterval: 20 * time.Millisecond,
		Apps: []AppConfig{{
			Name: testApp, Type: "atlassian", Rate: rate, Burst: burst, Concurrency: concurrency,
			Client: scimclient.Options{BaseURL: e.sim.URL(), Token: testToken},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// sync marks every user and runs r until the queue is empty; it returns
// the time taken.
func (e *benchEnv) sync(b *testing.B, r *Runner) time.Duration {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	marks := make([]store.Mark, len(e.ids))
	now := time.Now()
	for i, id := range e.ids {
		marks[i] = store.Mark{App: testApp, Key: store.UserKey(id), Due: now}
	}
	start := time.Now()
	if err := e.st.Enqueue(ctx, marks...); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		n, err := e.st.QueueLen(ctx, testApp)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return elapsed
}

func countFaults(calls []atlassiantest.Call, from int) (ok, limited int) {
	for _, c := range calls[from:] {
		switch {
		case c.Fault == atlassiantest.FaultRateLimit:
			limited++
		case c.Status >= 200 && c.Status < 300:
			ok++
		}
	}
	return ok, limited
}

// BenchmarkFanOutRateLimited measures sustained fan-out of updates (one
// PATCH per user) to a simulator limited to 200 requests/s, with the
// app's shared bucket set to the same rate: calls/s as a share of the
// limit, and how many calls the simulator refused.
func BenchmarkFanOutRateLimited(b *testing.B) {
	const (
		users = 400
		limit = 200.0
		burst = 10
	)
	for _, backend := range []string{"bolt", "redis"} {
		b.Run(backend, func(b *testing.B) {
			e := newBenchEnv(b, backend, users)
			e.sync(b, e.runner(b, 0, 0, 8)) // first sync, unlimited
			e.sim.RateLimit(limit, burst)
			r := e.runner(b, limit, burst, 8)
			var calls, refused int
			var elapsed time.Duration
			b.ResetTimer()
			for i := range b.N {
				for _, id := range e.ids {
					e.src.update(id, func(d *Desired) { d.Attributes["displayName"] = fmt.Sprint("Bench User ", i) })
				}
				from := len(e.sim.CallLog())
				elapsed += e.sync(b, r)
				ok, limited := countFaults(e.sim.CallLog(), from)
				calls += ok
				refused += limited
			}
			rate := float64(calls) / elapsed.Seconds()
			b.ReportMetric(rate, "calls/s")
			b.ReportMetric(100*rate/limit, "%limit")
			b.ReportMetric(float64(refused), "429s")
		})
	}
}

// BenchmarkFirstSync measures the first sync of users into an empty
// simulator without a rate limit: a search by externalId and a POST per
// user.
func BenchmarkFirstSync(b *testing.B) {
	const users = 500
	for _, backend := range []string{"bolt", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var elapsed time.Duration
			var calls int
			for range b.N {
				b.StopTimer()
				e := newBenchEnv(b, backend, users)
				r := e.runner(b, 0, 0, 8)
				b.StartTimer()
				elapsed += e.sync(b, r)
				if n, _ := e.sim.Counts(); n != users {
					b.Fatalf("%d users created, want %d", n, users)
				}
				calls += e.sim.CallCount("", "")
			}
			b.ReportMetric(float64(users*b.N)/elapsed.Seconds(), "users/s")
			b.ReportMetric(float64(calls)/float64(users*b.N), "calls/user")
		})
	}
}
