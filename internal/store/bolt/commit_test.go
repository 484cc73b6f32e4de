package bolt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// holdWriter makes s's next write block inside its transaction until the
// returned release is called, so that writes started meanwhile queue up
// behind it. It returns once the blocker holds the writer.
func holdWriter(t *testing.T, s *Store) (release func(), done <-chan error) {
	t.Helper()
	holding, unblock, finished := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		finished <- s.update(context.Background(), func(tx *bbolt.Tx) (bool, error) {
			close(holding)
			<-unblock
			return true, tx.Bucket(bucketState).Put([]byte("blocker"), []byte("x"))
		})
	}()
	<-holding
	return func() { close(unblock) }, finished
}

// waitQueued waits until n writes are queued behind the current batch.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.commit.mu.Lock()
		got := len(s.commit.queue)
		s.commit.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // real goroutines are being scheduled
	}
}

// TestGroupCommit: writes that queue behind a commit run together in one
// transaction; a write failing its precondition among them fails alone and
// the others commit.
func TestGroupCommit(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "taken"}})
	must(t, err)
	before := txID(t, s)

	release, blocked := holdWriter(t, s)
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w := store.Write{Put: &store.Resource{Kind: store.KindUser, ID: fmt.Sprintf("u%d", i)}}
			if i == 3 {
				w.Put.ID = "taken" // fails: the id exists
			}
			w.Marks = []store.Mark{{App: "app", Key: w.Put.ID + fmt.Sprint(i), Due: t0}}
			_, errs[i] = s.Apply(ctx, w)
		})
	}
	waitQueued(t, s, writers)
	release()
	wg.Wait()
	must(t, <-blocked)

	for i, err := range errs {
		if i == 3 {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("write %d: %v, want ErrConflict", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if got := txID(t, s) - before; got != 2 {
		t.Errorf("the blocker and %d queued writes took %d commits, want 2", writers, got)
	}
	n, err := s.QueueLen(ctx, "app")
	must(t, err)
	if n != writers-1 {
		t.Errorf("queue length %d, want %d (the failed write's mark must not be queued)", n, writers-1)
	}
	page, err := s.List(ctx, store.KindUser, 0, 100)
	must(t, err)
	if page.Total != writers { // "taken" and the five new ones
		t.Errorf("%d users, want %d", page.Total, writers)
	}
}

// TestGroupCommitFailureIsRerunAlone: a write that fails after another ran
// in the same transaction is run again alone, and its result reflects only
// committed state.
func TestGroupCommitFailureIsRerunAlone(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	release, blocked := holdWriter(t, s)

	// The first queued write creates alice; the second creates another user
	// named alice, which fails in the batch. Alone, it still fails: alice
	// committed.
	results := make(chan error, 2)
	go func() {
		_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "a", Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: "alice"}}}})
		results <- err
	}()
	waitQueued(t, s, 1)
	runs := 0
	go func() {
		results <- s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
			runs++
			if nested(tx, bucketIdx, []byte(store.KindUser), []byte(store.IndexUserName)).Get([]byte("alice")) != nil {
				return false, store.ErrConflict
			}
			return true, nil
		})
	}()
	waitQueued(t, s, 2)
	release()
	must(t, <-blocked)
	var errs []error
	for range 2 {
		errs = append(errs, <-results)
	}
	if errs[0] != nil && errs[1] != nil || errs[0] == nil && errs[1] == nil {
		t.Fatalf("results %v, want one success and one ErrConflict", errs)
	}
	if runs != 2 {
		t.Errorf("the failing write ran %d times, want 2 (in the batch, then alone)", runs)
	}
}

// TestGroupCommitSurvivesPanicAndCancel: a write whose function panics
// gets an error, a write whose context ends while queued writes nothing,
// and the rest of their batch commits.
func TestGroupCommitSurvivesPanicAndCancel(t *testing.T) {
	s := openTemp(t)
	release, blocked := holdWriter(t, s)

	canceled, cancel := context.WithCancel(context.Background())
	results := make(chan error, 3)
	go func() {
		results <- s.PutState(canceled, "canceled", []byte("x"))
	}()
	waitQueued(t, s, 1)
	go func() {
		results <- s.update(context.Background(), func(*bbolt.Tx) (bool, error) { panic("boom") })
	}()
	waitQueued(t, s, 2)
	go func() {
		results <- s.PutState(context.Background(), "kept", []byte("x"))
	}()
	waitQueued(t, s, 3)
	cancel()
	release()
	must(t, <-blocked)
	var got []string
	for range 3 {
		if err := <-results; err != nil {
			got = append(got, err.Error())
		}
	}
	joined := strings.Join(got, "; ")
	if len(got) != 2 || !strings.Contains(joined, "panic in write transaction: boom") || !strings.Contains(joined, context.Canceled.Error()) {
		t.Errorf("errors = %q, want one panic and one cancellation", got)
	}
	if _, err := s.GetState(context.Background(), "kept"); err != nil {
		t.Errorf("write batched with a panic and a cancellation: %v", err)
	}
	if _, err := s.GetState(context.Background(), "canceled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("canceled write: %v, want ErrNotFound", err)
	}
}
