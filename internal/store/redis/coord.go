package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
)

// PutIdempotency stores rec under key until now+ttl unless a live record
// exists (putIdempotencyScript). The record also gets a Redis expiry of
// ttl plus gcMargin, which only collects it: liveness follows the caller's
// now.
func (s *Store) PutIdempotency(ctx context.Context, key string, rec []byte, now time.Time, ttl time.Duration) ([]byte, bool, error) {
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redis store: put idempotency %q: ttl %s is not positive", key, ttl)
	}
	vals, err := putIdempotencyScript.Run(ctx, s.c, []string{s.k.idempotency(key)},
		rec, ms(now), msCeil(now.Add(ttl)), gcTTL(ttl)).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("redis store: put idempotency %q: %w", key, err)
	}
	if stored, _ := vals[0].(int64); stored == 1 {
		return rec, true, nil
	}
	if len(vals) != 2 {
		return nil, false, fmt.Errorf("redis store: put idempotency %q: malformed reply", key)
	}
	live, _ := vals[1].(string)
	return []byte(live), false, nil
}

// GetIdempotency returns the record under key if it is live at now.
func (s *Store) GetIdempotency(ctx context.Context, key string, now time.Time) ([]byte, error) {
	vals, err := s.c.HMGet(ctx, s.k.idempotency(key), "r", "e").Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: get idempotency %q: %w", key, err)
	}
	rec, ok := vals[0].(string)
	if !ok {
		return nil, fmt.Errorf("redis store: get idempotency %q: %w", key, store.ErrNotFound)
	}
	exp, _ := vals[1].(string)
	expMs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redis store: get idempotency %q: malformed expiry %q", key, exp)
	}
	if expMs <= ms(now) {
		return nil, fmt.Errorf("redis store: get idempotency %q: expired: %w", key, store.ErrNotFound)
	}
	return []byte(rec), nil
}

// AcquireLock takes or extends a lock (acquireLockScript). Fencing tokens
// come from a per-name counter that is never deleted, so they strictly
// increase across all acquisitions of a name.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (store.Lock, error) {
	if name == "" || owner == "" {
		return store.Lock{}, fmt.Errorf("redis store: acquire lock: needs a name and an owner, got %q %q", name, owner)
	}
	if ttl <= 0 {
		return store.Lock{}, fmt.Errorf("redis store: acquire lock %q: ttl %s is not positive", name, ttl)
	}
	expires := now.Add(ttl)
	tok, err := acquireLockScript.Run(ctx, s.c, []string{s.k.lock(name), s.k.lockSeq(name)},
		owner, ms(now), msCeil(expires), gcTTL(ttl)).Text()
	if err != nil {
		return store.Lock{}, fmt.Errorf("redis store: acquire lock %q for %q: %w", name, owner, scriptError(err))
	}
	token, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return store.Lock{}, fmt.Errorf("redis store: acquire lock %q: malformed token %q", name, tok)
	}
	return store.Lock{Name: name, Owner: owner, Token: token, Expires: expires}, nil
}

// ReleaseLock frees a lock that l still holds (releaseLockScript).
func (s *Store) ReleaseLock(ctx context.Context, l store.Lock) error {
	err := releaseLockScript.Run(ctx, s.c, []string{s.k.lock(l.Name)}, l.Owner, strconv.FormatInt(l.Token, 10)).Err()
	if err != nil {
		return fmt.Errorf("redis store: release lock %q for %q: %w", l.Name, l.Owner, scriptError(err))
	}
	return nil
}

// TakeToken takes a token from the bucket name (takeTokenScript). The
// bucket lives in Redis, so every replica draws from the same one, on the
// time the callers pass.
func (s *Store) TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error) {
	if !(rate > 0) || burst < 1 {
		return 0, fmt.Errorf("redis store: take token %q: need rate > 0 and burst >= 1, got %g and %d", name, rate, burst)
	}
	refill := maxGC
	if secs := float64(burst) / rate; secs < maxGC.Seconds() {
		refill = time.Duration(secs * float64(time.Second))
	}
	wait, err := takeTokenScript.Run(ctx, s.c, []string{s.k.bucket(name)},
		strconv.FormatFloat(rate, 'g', -1, 64), burst, us(now), gcTTL(refill)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis store: take token %q: %w", name, err)
	}
	return time.Duration(wait), nil
}

// maxGC bounds the Redis expiry of a token bucket that refills very slowly.
const maxGC = 30 * 24 * time.Hour

// PutState stores a small named value.
func (s *Store) PutState(ctx context.Context, key string, value []byte) error {
	if err := s.c.Set(ctx, s.k.state(key), value, 0).Err(); err != nil {
		return fmt.Errorf("redis store: put state %q: %w", key, err)
	}
	return nil
}

// GetState returns a named value, or ErrNotFound when unset.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.Get(ctx, s.k.state(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: get state %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: get state %q: %w", key, err)
	}
	return v, nil
}
