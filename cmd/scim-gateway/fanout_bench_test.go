package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// Fan-out figures on the Redis store, in-process gateway, loopback
// simulator:
//
//	go test -run '^$' -bench . -benchtime 1x ./cmd/scim-gateway/

// serveTB runs serve in-process, like startGateway, and returns its base
// URL and a function that stops it (also called when tb ends).
func serveTB(tb testing.TB, cfgText string) (string, func()) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gw.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, path, nil, newLogger(cfg.Log, io.Discard), ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		tb.Fatalf("serve: %v", err)
	}
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	}
	tb.Cleanup(stop)
	return "http://" + addr.String(), stop
}

// seedAssigned stores n users in the hub, all members of Engineering,
// with their keys queued for the app, as if the IdP had pushed them
// while no gateway was running.
func seedAssigned(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	ids := make([]string, n)
	err := parallel(n, 8, func(i int) error {
		id := fmt.Sprintf("s%05d", i)
		ids[i] = id
		name := fmt.Sprintf("seed%05d@example.com", i)
		data := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"externalId":"okta-%s","active":true,`+
			`"name":{"givenName":"Seed%05d","familyName":"Tester"},"title":"Engineer","emails":[{"value":%q,"primary":true,"type":"work"}]}`,
			name, name, i, name)
		_, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id, Created: now, Modified: now, Origin: "idp",
			Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: name}, {Name: store.IndexExternalID, Value: "okta-" + name},
				{Name: store.IndexEmail, Value: name}}, Data: []byte(data)}})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: "g-eng", Created: now, Modified: now, Origin: "idp",
		Indexes: []store.IndexKey{{Name: store.IndexDisplayName, Value: "Engineering"}}, Data: []byte(`{"displayName":"Engineering"}`)}}); err != nil {
		tb.Fatal(err)
	}
	for lo := 0; lo < n; lo += 1000 {
		chunk := ids[lo:min(lo+1000, n)]
		marks := make([]store.Mark, len(chunk))
		for i, id := range chunk {
			marks[i] = store.Mark{App: fanoutApp, Key: store.UserKey(id), Due: now}
		}
		if _, err := st.Apply(ctx, store.Write{Group: "g-eng", AddMembers: chunk, Marks: marks}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkFanOutCoalescing: 100 updates to one user pushed while every
// call to the app takes 200ms. Level-triggered reconciling sends the
// latest state, not every change: the metric is the remote calls made
// for the 100 updates.
func BenchmarkFanOutCoalescing(b *testing.B) {
	redisURL, prefix := redisTarget(b)
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	b.Cleanup(sim.Close)
	base, _ := serveTB(b, fanoutConfig(b, redisURL, prefix, sim.URL(), fanoutKnobs{rate: 500, burst: 50, concurrency: 4}))
	c := newIdP(base)
	st := openStore(b, redisURL, prefix)
	u, err := c.expect("POST", "/Users", staff("hot@example.com", "Hot", "Engineer"), 201)
	if err != nil {
		b.Fatal(err)
	}
	id := u["id"].(string)
	if _, err := c.expect("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering", "members": []any{map[string]any{"value": id}}}, 201); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 20*time.Second, "the account", func() (bool, string) {
		_, ok := sim.UserByUserName("hot@example.com")
		return ok, "none yet"
	})
	waitFor(b, 20*time.Second, "the queue to drain", func() (bool, string) { return drained(st) })
	sim.Latency(200 * time.Millisecond)

	calls, round := 0, 0
	for b.Loop() {
		round++
		before := sim.CallCount("", "")
		last := ""
		for k := range 100 {
			last = fmt.Sprintf("R%dv%d", round, k)
			if _, err := c.expect("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "replace", "path": "name.givenName", "value": last}), 200); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, 60*time.Second, "the last update applied", func() (bool, string) {
			u, _ := sim.UserByUserName("hot@example.com")
			if u.Name.GivenName != last {
				return false, "givenName " + u.Name.GivenName
			}
			return drained(st)
		})
		calls += sim.CallCount("", "") - before
	}
	b.ReportMetric(float64(calls)/float64(round), "calls/100-updates")
}

// BenchmarkFanOutThroughput: 1,000 assigned users synced to an app rate
// limited to 200 calls/s (burst 20), with the gateway configured with
// that limit. The metric frac-of-limit is the calls the app admitted per
// second, beyond the initial burst, over the limit (aim: >= 0.9).
func BenchmarkFanOutThroughput(b *testing.B) {
	const (
		users = 1000
		rate  = 200.0
		burst = 20
	)
	var frac, perSec, throttled float64
	runs := 0
	for b.Loop() {
		b.StopTimer()
		redisURL, prefix := redisTarget(b)
		st := openStore(b, redisURL, prefix)
		seedAssigned(b, st, users)
		sim := newTimedSim(b, atlassiantest.Options{Token: e2eAppToken})
		sim.RateLimit(rate, burst)
		cfg := fanoutConfig(b, redisURL, prefix, sim.url, fanoutKnobs{rate: rate, burst: burst, concurrency: 4})
		b.StartTimer()
		_, stop := serveTB(b, cfg)
		waitFor(b, 5*time.Minute, "every account", func() (bool, string) {
			n, _ := sim.Counts()
			return n == users, fmt.Sprintf("%d of %d accounts", n, users)
		})
		b.StopTimer()
		stop()
		arrivals, calls := sim.times(), sim.CallLog()
		admitted, limited := 0, 0
		for _, c := range calls {
			if c.Fault == atlassiantest.FaultRateLimit {
				limited++
			} else {
				admitted++
			}
		}
		window := arrivals[len(arrivals)-1].Sub(arrivals[0]).Seconds()
		perSec += float64(admitted-burst) / window
		frac += float64(admitted-burst) / window / rate
		throttled += float64(limited)
		runs++
		b.StartTimer()
	}
	b.ReportMetric(frac/float64(runs), "frac-of-limit")
	b.ReportMetric(perSec/float64(runs), "calls/s")
	b.ReportMetric(throttled/float64(runs), "429s")
}

// BenchmarkFirstSync10k: time until 10,000 users assigned to the app (the
// hub seeded directly, their keys queued) all have an account in an
// unlimited simulator, from the gateway's start. The app's limit is set
// far above what the machine reaches, so the figure is the gateway's own
// ceiling, by reconcilers per replica.
func BenchmarkFirstSync10k(b *testing.B) {
	const users = 10000
	for _, conc := range []int{4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var secs float64
			runs := 0
			for b.Loop() {
				b.StopTimer()
				redisURL, prefix := redisTarget(b)
				st := openStore(b, redisURL, prefix)
				seedAssigned(b, st, users)
				sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
				b.Cleanup(sim.Close)
				cfg := fanoutConfig(b, redisURL, prefix, sim.URL(), fanoutKnobs{rate: 100000, burst: 1000, concurrency: conc})
				b.StartTimer()
				start := time.Now()
				_, stop := serveTB(b, cfg)
				waitFor(b, 10*time.Minute, "every account", func() (bool, string) {
					n, _ := sim.Counts()
					return n == users, fmt.Sprintf("%d of %d accounts", n, users)
				})
				secs += time.Since(start).Seconds()
				runs++
				b.StopTimer()
				stop()
				b.StartTimer()
			}
			b.ReportMetric(secs/float64(runs), "s/first-sync")
			b.ReportMetric(float64(users*runs)/secs, "users/s")
		})
	}
}
