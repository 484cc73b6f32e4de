package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/fakeclock"
)

var _ clock.Clock = (*fakeclock.Clock)(nil)

func TestWallSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Wall.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := clock.Wall.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v, want nil", err)
	}
	before := clock.Wall.Now()
	if err := clock.Wall.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !clock.Wall.Now().After(before) {
		t.Fatal("wall clock did not move across a sleep")
	}
}
