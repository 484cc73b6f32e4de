package fakeclock

import (
	"context"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(t0)
	woke := make(chan error, 1)
	go func() { woke <- c.Sleep(context.Background(), time.Minute) }()
	if err := c.WaitFor("one sleeper", 5*time.Second, func(_ time.Time, s []time.Time) bool { return len(s) == 1 }); err != nil {
		t.Fatal(err)
	}
	c.Advance(59 * time.Second)
	select {
	case <-woke:
		t.Fatal("woke before its time")
	default:
	}
	c.Advance(time.Second)
	if err := <-woke; err != nil {
		t.Fatalf("sleep: %v", err)
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("now %v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { woke <- c.Sleep(ctx, time.Hour) }()
	if err := c.WaitFor("a sleeper", 5*time.Second, func(_ time.Time, s []time.Time) bool { return len(s) == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-woke; err != context.Canceled {
		t.Errorf("cancelled sleep: %v", err)
	}
	if err := c.WaitFor("no sleeper", 5*time.Second, func(_ time.Time, s []time.Time) bool { return len(s) == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor("never", 10*time.Millisecond, func(time.Time, []time.Time) bool { return false }); err == nil {
		t.Error("WaitFor did not time out")
	}
}
