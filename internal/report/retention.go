package report

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/scimgate/scim-gateway/internal/clock"
)

// Pruner is the store method report retention uses.
type Pruner interface {
	PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error)
}

// RunRetention prunes the report log now and then every interval until
// ctx ends: entries older than retention (<= 0: no age limit), then the
// oldest beyond maxEntries (<= 0: no count limit). A failed pass is
// logged and retried at the next interval. It returns nil when ctx ends,
// and an error at once when interval is not positive. clock nil is the
// wall clock; log nil discards.
func RunRetention(ctx context.Context, st Pruner, retention time.Duration, maxEntries int,
	interval time.Duration, clk clock.Clock, log *slog.Logger) error {
	if interval <= 0 {
		return fmt.Errorf("report retention: interval %s: must be positive", interval)
	}
	if clk == nil {
		clk = clock.Wall
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		var before time.Time
		if retention > 0 {
			before = clk.Now().Add(-retention)
		}
		n, err := st.PruneReports(ctx, before, maxEntries)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("report retention: prune failed; retrying at the next interval", "err", err, "removed", n, "interval", interval)
		case n > 0:
			log.Info("report retention: pruned entries", "removed", n, "before", before, "max_entries", maxEntries)
		}
		if err := clk.Sleep(ctx, interval); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("report retention: %w", err)
		}
	}
}
