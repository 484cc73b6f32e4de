// Package clock is the time every background loop of the gateway lives
// by: reconciler claims and leases, rate-limit waits, import schedules,
// report retention. Code that waits or reads the time takes a Clock, so
// tests can inject internal/fakeclock and advance time instead of sleeping.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends (returning its error). A d of
	// zero or less returns ctx.Err() at once.
	Sleep(ctx context.Context, d time.Duration) error
}

// Wall is the system clock.
var Wall Clock = wall{}

type wall struct{}

func (wall) Now() time.Time { return time.Now() }

func (wall) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
