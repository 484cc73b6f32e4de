package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// This file holds the small coordination records: idempotency records,
// locks with fencing tokens, token buckets and named state.

// idempotencySweep bounds how many expired idempotency records one
// PutIdempotency removes, so that garbage collection stays lazy and cheap.
const idempotencySweep = 64

// PutIdempotency stores rec under key until now+ttl unless a live record
// exists. Each call also removes up to idempotencySweep expired records,
// found in expiry order through idem/exp.
func (s *Store) PutIdempotency(ctx context.Context, key string, rec []byte, now time.Time, ttl time.Duration) ([]byte, bool, error) {
	if key == "" {
		return nil, false, errors.New("bolt store: put idempotency: empty key")
	}
	var (
		out    []byte
		stored bool
	)
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		recs, exps := nested(tx, bucketIdem, subRec), nested(tx, bucketIdem, subExp)
		nowN := nanos(now)
		swept, err := sweepIdempotency(recs, exps, nowN)
		if err != nil {
			return false, err
		}
		k := []byte(key)
		if v := recs.Get(k); v != nil {
			exp := readOrdered(v)
			if nowN < exp {
				out, stored = bytes.Clone(v[8:]), false
				return swept > 0, nil
			}
			if err := exps.Delete(orderedKey(exp, key)); err != nil {
				return false, err
			}
		}
		expN := nanos(now.Add(ttl))
		v := append(appendOrdered(make([]byte, 0, 8+len(rec)), expN), rec...)
		if err := recs.Put(k, v); err != nil {
			return false, err
		}
		if err := exps.Put(orderedKey(expN, key), empty); err != nil {
			return false, err
		}
		out, stored = bytes.Clone(rec), true
		return true, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt store: put idempotency %q: %w", key, err)
	}
	return out, stored, nil
}

// sweepIdempotency removes up to idempotencySweep records expired at now.
func sweepIdempotency(recs, exps *bbolt.Bucket, now int64) (int, error) {
	var expired [][]byte
	c := exps.Cursor()
	for k, _ := c.First(); k != nil && len(expired) < idempotencySweep; k, _ = c.Next() {
		if len(k) < 8 || readOrdered(k) > now {
			break
		}
		expired = append(expired, bytes.Clone(k))
	}
	for _, k := range expired {
		if err := exps.Delete(k); err != nil {
			return 0, err
		}
		if err := recs.Delete(k[8:]); err != nil {
			return 0, err
		}
	}
	return len(expired), nil
}

// GetIdempotency returns the record under key if it is live at now.
func (s *Store) GetIdempotency(ctx context.Context, key string, now time.Time) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var v []byte
		if key != "" {
			v = nested(tx, bucketIdem, subRec).Get([]byte(key))
		}
		if v == nil || readOrdered(v) <= nanos(now) {
			return store.ErrNotFound
		}
		out = bytes.Clone(v[8:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: get idempotency %q: %w", key, err)
	}
	return out, nil
}

// lockRecord is a held (possibly expired) lock. Released locks have no
// record; their last fencing token stays in the fence bucket.
type lockRecord struct {
	Owner   string `json:"owner"`
	Token   int64  `json:"token"`
	Expires int64  `json:"expires"` // unix nanos
}

// AcquireLock takes name for owner until now+ttl. Fencing tokens come from
// a per-name counter that outlives the lock records.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (store.Lock, error) {
	if name == "" || owner == "" {
		return store.Lock{}, fmt.Errorf("bolt store: acquire lock: need a name and an owner, got %q %q", name, owner)
	}
	if ttl <= 0 {
		return store.Lock{}, fmt.Errorf("bolt store: acquire lock %q: ttl %s is not positive", name, ttl)
	}
	expires := now.Add(ttl)
	var out store.Lock
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		locks, fence := tx.Bucket(bucketLock), tx.Bucket(bucketFence)
		key := []byte(name)
		rec := lockRecord{Owner: owner, Expires: nanos(expires)}
		if v := locks.Get(key); v != nil {
			var held lockRecord
			if err := json.Unmarshal(v, &held); err != nil {
				return false, fmt.Errorf("stored lock: %w", err)
			}
			if nanos(now) < held.Expires {
				if held.Owner != owner {
					return false, fmt.Errorf("held by %q until %s: %w",
						held.Owner, time.Unix(0, held.Expires).UTC().Format(time.RFC3339Nano), store.ErrLocked)
				}
				rec.Token = held.Token // the holder extends its lease
			}
		}
		if rec.Token == 0 {
			var last uint64
			if v := fence.Get(key); len(v) == 8 {
				last = binary.BigEndian.Uint64(v)
			}
			rec.Token = int64(last + 1)
			if err := fence.Put(key, binary.BigEndian.AppendUint64(nil, last+1)); err != nil {
				return false, err
			}
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return false, err
		}
		out = store.Lock{Name: name, Owner: owner, Token: rec.Token, Expires: expires}
		return true, locks.Put(key, v)
	})
	if err != nil {
		return store.Lock{}, fmt.Errorf("bolt store: acquire lock %q for %q: %w", name, owner, err)
	}
	return out, nil
}

// ReleaseLock frees l.Name if l (owner and token) still holds it:
// ErrLocked when another acquisition holds it, ErrNotFound when nobody does.
func (s *Store) ReleaseLock(ctx context.Context, l store.Lock) error {
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		locks := tx.Bucket(bucketLock)
		var v []byte
		if l.Name != "" {
			v = locks.Get([]byte(l.Name))
		}
		if v == nil {
			return false, fmt.Errorf("not held by anyone: %w", store.ErrNotFound)
		}
		var held lockRecord
		if err := json.Unmarshal(v, &held); err != nil {
			return false, fmt.Errorf("stored lock: %w", err)
		}
		if held.Owner != l.Owner || held.Token != l.Token {
			return false, fmt.Errorf("held by %q with token %d: %w", held.Owner, held.Token, store.ErrLocked)
		}
		return true, locks.Delete([]byte(l.Name))
	})
	if err != nil {
		return fmt.Errorf("bolt store: release lock %q for %q: %w", l.Name, l.Owner, err)
	}
	return nil
}

// TakeToken takes one token from the bucket name. A bucket is stored as
// its level (float64 bits) and the time of that level (unix nanos); it
// starts full. A refused take writes nothing.
func (s *Store) TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error) {
	if name == "" {
		return 0, errors.New("bolt store: take token: empty name")
	}
	if !(rate > 0) || burst <= 0 || math.IsInf(rate, 0) {
		return 0, fmt.Errorf("bolt store: take token %q: need rate > 0 and burst > 0, got %v and %d", name, rate, burst)
	}
	var wait time.Duration
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		b := tx.Bucket(bucketTokens)
		key := []byte(name)
		nowN := nanos(now)
		level, at := float64(burst), nowN
		if v := b.Get(key); len(v) == 16 {
			level = math.Float64frombits(binary.BigEndian.Uint64(v))
			at = int64(binary.BigEndian.Uint64(v[8:]))
			if nowN > at { // a clock that steps back refills nothing
				level += float64(nowN-at) / float64(time.Second) * rate
				at = nowN
			}
			level = min(level, float64(burst))
		}
		if level < 1 {
			w := math.Ceil((1 - level) / rate * float64(time.Second))
			wait = time.Duration(min(w, float64(math.MaxInt64)))
			return false, nil
		}
		wait = 0
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), math.Float64bits(level-1))
		v = binary.BigEndian.AppendUint64(v, uint64(at))
		return true, b.Put(key, v)
	})
	if err != nil {
		return 0, fmt.Errorf("bolt store: take token %q: %w", name, err)
	}
	return wait, nil
}

// PutState stores a named value.
func (s *Store) PutState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return errors.New("bolt store: put state: empty key")
	}
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		return true, tx.Bucket(bucketState).Put([]byte(key), bytes.Clone(value))
	})
	if err != nil {
		return fmt.Errorf("bolt store: put state %q: %w", key, err)
	}
	return nil
}

// GetState returns a named value, or ErrNotFound.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		// A cursor tells a stored empty value from a missing key.
		k, v := tx.Bucket(bucketState).Cursor().Seek([]byte(key))
		if key == "" || k == nil || string(k) != key {
			return store.ErrNotFound
		}
		out = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: get state %q: %w", key, err)
	}
	return out, nil
}
