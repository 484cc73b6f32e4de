package bolt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// An app's queue holds each key once, in two buckets kept in step:
// queue/<app>/key maps the key to its queueEntry, and queue/<app>/due holds
// (entry.visible, key), so that claiming walks keys in the order they
// become visible and stops at the first one in the future. A claimed key
// stays in both, with visible moved to its lease end: when the lease runs
// out the key is due again, without any sweeper.
//
// Lease tokens come from the Sequence of queue/<app>, which is never
// deleted, so a token is never issued twice for an app.

// queueBuckets returns an app's queue buckets, creating them when create
// is set; without it they are nil when the app never had a queue.
func queueBuckets(tx *bbolt.Tx, app string, create bool) (q, due, keys *bbolt.Bucket, err error) {
	if !create {
		q = nested(tx, bucketQueue, []byte(app))
		if q == nil {
			return nil, nil, nil, nil
		}
		return q, q.Bucket(subDue), q.Bucket(subKey), nil
	}
	if q, err = ensure(tx, bucketQueue, []byte(app)); err != nil {
		return nil, nil, nil, err
	}
	if due, err = q.CreateBucketIfNotExists(subDue); err != nil {
		return nil, nil, nil, err
	}
	if keys, err = q.CreateBucketIfNotExists(subKey); err != nil {
		return nil, nil, nil, err
	}
	return q, due, keys, nil
}

// mark queues (m.App, m.Key) due at m.Due: a new key is added, a waiting
// key keeps the earlier due time, and a claimed key is flagged dirty so that
// Ack or Requeue puts it back.
func mark(tx *bbolt.Tx, m store.Mark) error {
	_, due, keys, err := queueBuckets(tx, m.App, true)
	if err != nil {
		return fmt.Errorf("mark %s/%s: %w", m.App, m.Key, err)
	}
	at := nanos(m.Due)
	key := []byte(m.Key)
	v := keys.Get(key)
	if v == nil {
		if err := putQueueEntry(due, keys, m.Key, queueEntry{visible: at}); err != nil {
			return fmt.Errorf("mark %s/%s: %w", m.App, m.Key, err)
		}
		return addCount(keys, 1)
	}
	e, err := decodeQueueEntry(v)
	if err != nil {
		return fmt.Errorf("mark %s/%s: %w", m.App, m.Key, err)
	}
	switch {
	case e.token != "": // claimed: remember the mark for Ack and Requeue
		if e.dirty && e.markDue <= at {
			return nil
		}
		e.dirty, e.markDue = true, at
		return keys.Put(key, e.encode())
	case at < e.visible: // waiting: the earlier due time wins
		if err := due.Delete(orderedKey(e.visible, m.Key)); err != nil {
			return err
		}
		e.visible = at
		return putQueueEntry(due, keys, m.Key, e)
	default:
		return nil
	}
}

// putQueueEntry writes e and its place in the due order. The caller has
// removed the old place when e.visible changed.
func putQueueEntry(due, keys *bbolt.Bucket, key string, e queueEntry) error {
	if err := due.Put(orderedKey(e.visible, key), empty); err != nil {
		return err
	}
	return keys.Put([]byte(key), e.encode())
}

// Enqueue applies marks in one transaction.
func (s *Store) Enqueue(ctx context.Context, marks ...store.Mark) error {
	for _, m := range marks {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("bolt store: enqueue: %w", err)
		}
	}
	if len(marks) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		for _, m := range marks {
			if err := mark(tx, m); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("bolt store: enqueue: %w", err)
	}
	return nil
}

// Claim leases up to max keys of app visible at now, in due order. A claim
// that finds nothing rolls back and costs no write.
func (s *Store) Claim(ctx context.Context, app string, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if app == "" {
		return nil, errors.New("bolt store: claim: empty app")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("bolt store: claim %s: lease %s is not positive", app, lease)
	}
	if max <= 0 {
		return nil, nil
	}
	var claims []store.Claim
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		claims = nil // this function may run more than once
		q, due, keys, err := queueBuckets(tx, app, false)
		if err != nil || q == nil {
			return false, err
		}
		nowN := nanos(now)
		// Collect first: a bbolt cursor must not walk a bucket that changes
		// under it.
		var ready []string
		c := due.Cursor()
		for k, _ := c.First(); k != nil && len(ready) < max; k, _ = c.Next() {
			if len(k) < 8 {
				return false, fmt.Errorf("due key %x: %w", k, errCorrupt)
			}
			if readOrdered(k) > nowN {
				break
			}
			ready = append(ready, string(k[8:]))
		}
		if len(ready) == 0 {
			return false, nil
		}
		leaseEnd := now.Add(lease)
		endN := nanos(leaseEnd)
		claims = make([]store.Claim, 0, len(ready))
		for _, key := range ready {
			e, err := decodeQueueEntry(keys.Get([]byte(key)))
			if err != nil {
				return false, fmt.Errorf("key %q: %w", key, err)
			}
			seq, err := q.NextSequence()
			if err != nil {
				return false, err
			}
			if err := due.Delete(orderedKey(e.visible, key)); err != nil {
				return false, err
			}
			e.visible = endN
			e.token = strconv.FormatUint(seq, 36)
			if e.dirty && e.markDue <= nowN {
				// This claim reconciles after the mark was due: it
				// covers it. Marks due later stay pending.
				e.dirty, e.markDue = false, 0
			}
			if err := putQueueEntry(due, keys, key, e); err != nil {
				return false, err
			}
			claims = append(claims, store.Claim{App: app, Key: key, Token: e.token, Attempt: e.attempt, LeaseEnd: leaseEnd})
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: claim %s: %w", app, err)
	}
	return claims, nil
}

// Ack removes a claimed key, or makes it due again when it was marked
// while claimed.
func (s *Store) Ack(ctx context.Context, c store.Claim) error {
	err := s.settle(ctx, c, func(e queueEntry) (queueEntry, bool) {
		if !e.dirty {
			return queueEntry{}, false
		}
		return queueEntry{visible: e.markDue}, true
	})
	if err != nil {
		return fmt.Errorf("bolt store: ack %s/%s: %w", c.App, c.Key, err)
	}
	return nil
}

// Requeue makes a claimed key due again at due (or at the earlier due time
// of a mark made while it was claimed), one attempt further.
func (s *Store) Requeue(ctx context.Context, c store.Claim, due time.Time) error {
	if err := s.putBack(ctx, c, due, 1); err != nil {
		return fmt.Errorf("bolt store: requeue %s/%s: %w", c.App, c.Key, err)
	}
	return nil
}

// Release hands a claimed key back unworked (see store.Store).
func (s *Store) Release(ctx context.Context, c store.Claim, due time.Time) error {
	if err := s.putBack(ctx, c, due, 0); err != nil {
		return fmt.Errorf("bolt store: release %s/%s: %w", c.App, c.Key, err)
	}
	return nil
}

// putBack ends the claim c, queueing the key at due or at the earlier due
// time of a mark made meanwhile, with its attempt count raised by step.
func (s *Store) putBack(ctx context.Context, c store.Claim, due time.Time, step int) error {
	return s.settle(ctx, c, func(e queueEntry) (queueEntry, bool) {
		at := nanos(due)
		if e.dirty && e.markDue < at {
			at = e.markDue
		}
		return queueEntry{visible: at, attempt: e.attempt + step}, true
	})
}

// settle ends the claim c: next maps the claimed entry to the waiting entry
// that replaces it, or reports false to remove the key.
func (s *Store) settle(ctx context.Context, c store.Claim, next func(queueEntry) (queueEntry, bool)) error {
	return s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		q, due, keys, err := queueBuckets(tx, c.App, false)
		if err != nil {
			return false, err
		}
		var v []byte
		if q != nil && c.Key != "" {
			v = keys.Get([]byte(c.Key))
		}
		if v == nil {
			return false, store.ErrLeaseLost
		}
		e, err := decodeQueueEntry(v)
		if err != nil {
			return false, err
		}
		if e.token == "" || e.token != c.Token {
			return false, store.ErrLeaseLost
		}
		if err := due.Delete(orderedKey(e.visible, c.Key)); err != nil {
			return false, err
		}
		if n, keep := next(e); keep {
			return true, putQueueEntry(due, keys, c.Key, n)
		}
		if err := keys.Delete([]byte(c.Key)); err != nil {
			return false, err
		}
		return true, addCount(keys, -1)
	})
}

// QueueLen counts an app's queued keys from the queue's counter.
func (s *Store) QueueLen(ctx context.Context, app string) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		n = countOf(nested(tx, bucketQueue, []byte(app), subKey))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt store: queue length of %s: %w", app, err)
	}
	return n, nil
}
