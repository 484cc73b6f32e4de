package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Enqueue queues marks in one script call.
func (s *Store) Enqueue(ctx context.Context, marks ...store.Mark) error {
	for _, m := range marks {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("redis store: enqueue: %w", err)
		}
	}
	if len(marks) == 0 {
		return nil
	}
	keys, args := s.markArgs(nil, marks)
	if err := enqueueScript.Run(ctx, s.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("redis store: enqueue %d marks: %w", len(marks), err)
	}
	return nil
}

// Claim leases up to max due keys of app until now+lease (see claimScript).
// Queue times are kept in milliseconds: a key is due when its due time,
// rounded down, is not after now, rounded down; a lease end is rounded up,
// so a lease never ends early.
func (s *Store) Claim(ctx context.Context, app string, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if app == "" {
		return nil, errors.New("redis store: claim: empty app")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("redis store: claim %s: lease %s is not positive", app, lease)
	}
	if max <= 0 {
		return nil, nil
	}
	leaseEnd := now.Add(lease)
	nowMs, endMs := ms(now), msCeil(leaseEnd)
	if endMs <= nowMs { // cannot happen for lease > 0; keeps the script's loop finite regardless
		endMs = nowMs + 1
	}
	vals, err := claimScript.Run(ctx, s.c,
		[]string{s.k.queue(app), s.k.queueMeta(app), s.k.queueTokens()},
		nowMs, endMs, max).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis store: claim %s: %w", app, err)
	}
	if len(vals)%3 != 0 {
		return nil, fmt.Errorf("redis store: claim %s: malformed reply of %d values", app, len(vals))
	}
	claims := make([]store.Claim, 0, len(vals)/3)
	for i := 0; i < len(vals); i += 3 {
		key, ok1 := vals[i].(string)
		token, ok2 := vals[i+1].(string)
		attempt, ok3 := vals[i+2].(int64)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("redis store: claim %s: malformed reply", app)
		}
		claims = append(claims, store.Claim{App: app, Key: key, Token: token, Attempt: int(attempt), LeaseEnd: leaseEnd})
	}
	return claims, nil
}

// Ack ends a claim (see ackScript).
func (s *Store) Ack(ctx context.Context, c store.Claim) error {
	err := ackScript.Run(ctx, s.c, []string{s.k.queue(c.App), s.k.queueMeta(c.App)}, c.Key, c.Token).Err()
	if err != nil {
		return fmt.Errorf("redis store: ack %s/%s: %w", c.App, c.Key, scriptError(err))
	}
	return nil
}

// Requeue ends a claim and queues the key again at due, one attempt
// further (see requeueScript).
func (s *Store) Requeue(ctx context.Context, c store.Claim, due time.Time) error {
	if err := s.putBack(ctx, c, due, 1); err != nil {
		return fmt.Errorf("redis store: requeue %s/%s: %w", c.App, c.Key, err)
	}
	return nil
}

// Release hands a claimed key back unworked, its attempt count unchanged
// (see store.Store).
func (s *Store) Release(ctx context.Context, c store.Claim, due time.Time) error {
	if err := s.putBack(ctx, c, due, 0); err != nil {
		return fmt.Errorf("redis store: release %s/%s: %w", c.App, c.Key, err)
	}
	return nil
}

func (s *Store) putBack(ctx context.Context, c store.Claim, due time.Time, step int) error {
	err := requeueScript.Run(ctx, s.c, []string{s.k.queue(c.App), s.k.queueMeta(c.App)},
		c.Key, c.Token, ms(due), step).Err()
	return scriptError(err)
}

// QueueLen counts an app's queued keys, leased or not.
func (s *Store) QueueLen(ctx context.Context, app string) (int, error) {
	n, err := s.c.ZCard(ctx, s.k.queue(app)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis store: queue length of %s: %w", app, err)
	}
	return int(n), nil
}
