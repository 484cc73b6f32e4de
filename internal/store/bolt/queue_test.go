package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func claimOne(t *testing.T, s *Store, app string, now time.Time) store.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), app, now, time.Minute, 10)
	must(t, err)
	if len(c) != 1 {
		t.Fatalf("claim at %s = %+v, want one key", now.Sub(t0), c)
	}
	return c[0]
}

func claimNone(t *testing.T, s *Store, app string, now time.Time) {
	t.Helper()
	c, err := s.Claim(context.Background(), app, now, time.Minute, 10)
	must(t, err)
	if len(c) != 0 {
		t.Fatalf("claim at %s = %+v, want nothing", now.Sub(t0), c)
	}
}

// TestMarkDueLaterSurvivesReclaim: a mark made while a key was claimed and
// due after the next claim of the key (its lease ran out) is not covered by
// that claim: it stays pending and the key comes back at the mark's time.
func TestMarkDueLaterSurvivesReclaim(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	stale := claimOne(t, s, "a", t0)
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0.Add(10 * time.Minute)}))

	c := claimOne(t, s, "a", t0.Add(2*time.Minute)) // the first lease ended
	if c.Token == stale.Token {
		t.Fatalf("re-claim reused token %q", c.Token)
	}
	if err := s.Ack(ctx, stale); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("ack with the stale token: %v, want ErrLeaseLost", err)
	}
	must(t, s.Ack(ctx, c))
	claimNone(t, s, "a", t0.Add(9*time.Minute))
	claimOne(t, s, "a", t0.Add(10*time.Minute))
}

// TestMarkDueEarlierIsCoveredByReclaim: a mark due before the next claim of
// the key is satisfied by that claim, so its Ack removes the key.
func TestMarkDueEarlierIsCoveredByReclaim(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	claimOne(t, s, "a", t0)
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0.Add(30 * time.Second)}))
	c := claimOne(t, s, "a", t0.Add(2*time.Minute))
	must(t, s.Ack(ctx, c))
	n, err := s.QueueLen(ctx, "a")
	must(t, err)
	if n != 0 {
		t.Errorf("queue length %d after the covering claim was acked, want 0", n)
	}
}

// TestTokensNeverRepeatAcrossRestart: lease tokens and fencing tokens come
// from persisted counters, so a restart cannot hand out an old one again.
func TestTokensNeverRepeatAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	ctx := context.Background()
	s, err := Open(path, Options{NoSync: true})
	must(t, err)
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	first := claimOne(t, s, "a", t0)
	must(t, s.Ack(ctx, first))
	lock, err := s.AcquireLock(ctx, "import", "x", t0, time.Minute)
	must(t, err)
	must(t, s.ReleaseLock(ctx, lock))
	must(t, s.Close())

	s, err = Open(path, Options{NoSync: true})
	must(t, err)
	defer s.Close()
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	if again := claimOne(t, s, "a", t0); again.Token == first.Token {
		t.Errorf("token %q issued again after restart", again.Token)
	}
	lock2, err := s.AcquireLock(ctx, "import", "x", t0, time.Minute)
	must(t, err)
	if lock2.Token <= lock.Token {
		t.Errorf("fencing token after restart = %d, want > %d", lock2.Token, lock.Token)
	}
}

// TestClaimRejectsBadArguments: a claim needs an app and a positive lease;
// max <= 0 claims nothing.
func TestClaimRejectsBadArguments(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	if _, err := s.Claim(ctx, "", t0, time.Minute, 1); err == nil {
		t.Error("claim without an app succeeded")
	}
	if _, err := s.Claim(ctx, "a", t0, 0, 1); err == nil {
		t.Error("claim with a zero lease succeeded")
	}
	c, err := s.Claim(ctx, "a", t0, time.Minute, 0)
	if err != nil || len(c) != 0 {
		t.Errorf("claim of max 0 = %v, %v; want nothing", c, err)
	}
}

// TestConcurrentClaimsHandOutEachKeyOnce: workers racing on one queue
// never get the same key.
func TestConcurrentClaimsHandOutEachKeyOnce(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	const keys, workers = 300, 8
	marks := make([]store.Mark, keys)
	for i := range marks {
		marks[i] = store.Mark{App: "a", Key: fmt.Sprintf("k%03d", i), Due: t0}
	}
	must(t, s.Enqueue(ctx, marks...))

	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				got, err := s.Claim(ctx, "a", t0, time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[c.Key]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != keys {
		t.Errorf("%d distinct keys claimed, want %d", len(seen), keys)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("key %s claimed %d times", k, n)
		}
	}
}

// TestQueryByUserAndApp: a query naming both walks the user's index and
// filters the app, case-insensitively; a bad cursor is an error.
func TestQueryByUserAndApp(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	must(t, s.AppendReport(ctx,
		store.ReportEntry{Time: t0, User: "alice", App: "bitbucket", Operation: "create", Status: "success"},
		store.ReportEntry{Time: t0.Add(time.Second), User: "alice", App: "jira", Operation: "create", Status: "success"},
		store.ReportEntry{Time: t0.Add(2 * time.Second), User: "bob", App: "bitbucket", Operation: "create", Status: "success"},
		store.ReportEntry{Time: t0.Add(3 * time.Second), User: "Alice", App: "BitBucket", Operation: "update", Status: "failure"},
	))
	got, next, err := s.QueryReports(ctx, store.ReportQuery{User: "ALICE", App: "bitBucket"})
	must(t, err)
	if len(got) != 2 || next != "" || got[0].Operation != "update" || got[1].Operation != "create" {
		t.Errorf("query by user and app = %+v (next %q), want the update then the create", got, next)
	}
	for _, bad := range []string{"zz", "00", "not-a-cursor"} {
		if _, _, err := s.QueryReports(ctx, store.ReportQuery{Cursor: bad}); err == nil {
			t.Errorf("query with cursor %q succeeded", bad)
		}
	}
}
