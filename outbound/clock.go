package outbound

import (
	"context"
	"time"
)

// Clock is the time the Runner lives by: claims, leases, due times, rate
// limit waits and report times. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends (returning its error).
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the system clock, for every package that takes a Clock.
var WallClock Clock = systemClock{}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
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
