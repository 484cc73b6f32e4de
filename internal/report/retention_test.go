package report

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// stepClock is a Clock whose Sleep advances it and runs a hook.
type stepClock struct {
	now     time.Time
	sleeps  []time.Duration
	onSleep func(n int) error
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	if err := c.onSleep(len(c.sleeps)); err != nil {
		return err
	}
	return ctx.Err()
}

func TestRetention(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		seedReports(t, st, seeds) // ages 10m .. 9d before t0
		clock := &stepClock{now: t0}
		clock.onSleep = func(n int) error {
			switch n {
			case 1:
				// Pass 1 dropped everything older than 2 days (e08 is 50h
				// old); add entries so that pass 2 has too many.
				if got := labels(storedReports(t, st)); got != "e01,e02,e03,e04,e05,e06,e07" {
					t.Errorf("after pass 1: %s", got)
				}
				seedReports(t, st, []seed{{-time.Minute, "dave", "jira", "create", "success", 201, "e11"}})
			case 2:
				cancel()
			}
			return nil
		}
		if err := RunRetention(ctx, st, 48*time.Hour, 7, time.Hour, clock, nil); err != nil {
			t.Fatal(err)
		}
		// Pass 2, an hour later, kept the newest 7.
		if got := labels(storedReports(t, st)); got != "e11,e01,e02,e03,e04,e05,e06" {
			t.Errorf("after pass 2: %s", got)
		}
		if !slices.Equal(clock.sleeps, []time.Duration{time.Hour, time.Hour}) {
			t.Errorf("sleeps %v", clock.sleeps)
		}
	})
}

func storedReports(t *testing.T, st store.Store) []store.ReportEntry {
	t.Helper()
	es, _, err := st.QueryReports(context.Background(), store.ReportQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// flakyPruner fails its first call.
type flakyPruner struct {
	calls  int
	before []time.Time
	max    []int
}

func (p *flakyPruner) PruneReports(_ context.Context, before time.Time, maxCount int) (int, error) {
	p.calls++
	p.before, p.max = append(p.before, before), append(p.max, maxCount)
	if p.calls == 1 {
		return 0, errors.New("redis: connection reset")
	}
	return 3, nil
}

func TestRetentionRetriesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &flakyPruner{}
	clock := &stepClock{now: t0, onSleep: func(n int) error {
		if n == 3 {
			cancel()
		}
		return nil
	}}
	if err := RunRetention(ctx, p, 0, 1000, 10*time.Minute, clock, nil); err != nil {
		t.Fatal(err)
	}
	// A failed pass does not stop the loop; no age limit means a zero before.
	if p.calls != 3 || !slices.Equal(p.max, []int{1000, 1000, 1000}) || !p.before[2].IsZero() {
		t.Errorf("calls %d, before %v, max %v", p.calls, p.before, p.max)
	}
	if err := RunRetention(ctx, p, time.Hour, 0, 0, clock, nil); err == nil {
		t.Error("a zero interval was accepted")
	}
	// A clock that fails while ctx lives is an error.
	boom := errors.New("clock broken")
	c2 := &stepClock{now: t0, onSleep: func(int) error { return boom }}
	if err := RunRetention(context.Background(), &flakyPruner{calls: 1}, time.Hour, 0, time.Minute, c2, nil); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
}
