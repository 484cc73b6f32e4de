// Package fakeclock is a clock for tests: time moves only when the test
// advances it, and Sleep blocks until then. It satisfies clock.Clock.
package fakeclock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Clock is a manually advanced clock, safe for concurrent use.
type Clock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers map[*sleeper]bool
	changed  chan struct{} // closed and replaced on every change
}

type sleeper struct {
	until time.Time
	done  chan struct{}
}

// New returns a clock at start.
func New(start time.Time) *Clock {
	return &Clock{now: start, sleepers: map[*sleeper]bool{}, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep blocks until the clock has advanced by d, or ctx ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), done: make(chan struct{})}
	c.sleepers[s] = true
	c.broadcastLocked()
	c.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.sleepers, s)
		c.broadcastLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock by d and wakes the sleepers whose time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for s := range c.sleepers {
		if !c.now.Before(s.until) {
			close(s.done)
			delete(c.sleepers, s)
		}
	}
	c.broadcastLocked()
}

func (c *Clock) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitFor blocks until cond holds of the clock's time and the wake-up
// times of its sleepers, checked on every change; after timeout it
// returns an error naming what and the sleepers.
func (c *Clock) WaitFor(what string, timeout time.Duration, cond func(now time.Time, sleepers []time.Time) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		var until []time.Time
		for s := range c.sleepers {
			until = append(until, s.until)
		}
		ch, now := c.changed, c.now
		c.mu.Unlock()
		if cond(now, until) {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("waiting for %s: sleepers until %v", what, until)
		}
	}
}
