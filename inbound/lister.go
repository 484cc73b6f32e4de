package inbound

import (
	"context"
	"fmt"
	"time"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// ErrRemoteGone is returned by Lister.GetUser when the account does not
// exist (404).
var ErrRemoteGone = target.ErrRemoteGone

// Lister is what the importer needs from an app: its user accounts (each
// target profile's descriptor builds one, see target.Descriptor).
type Lister interface {
	// ListUsers calls fn with every user account of the app as the target
	// returns it, page by page (the listing need not be a snapshot: an
	// account may be missed or seen twice when the app changes meanwhile).
	// An error of fn ends the listing and is returned.
	ListUsers(ctx context.Context, fn func(map[string]any) error) error
	// GetUser returns one account, or an error matching ErrRemoteGone when
	// the app does not have it.
	GetUser(ctx context.Context, id string) (map[string]any, error)
}

// Source is the desired state the importer compares accounts with: the
// policies, as the reconcilers see them (internal/app's engine).
type Source interface {
	// DesiredUser returns what app should hold for hub user hubID; not
	// Present when the hub user is gone or no policy gives it the app.
	DesiredUser(ctx context.Context, app, hubID string) (mapping.Desired, error)
}

// TokenStore is the slice of the store a rate limiter uses.
type TokenStore interface {
	TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error)
}

// Limit returns a ClientOptions.Wait that takes one token per request from
// the app's bucket in the store, the one outbound's reconcilers take from
// (store.AppBucket), so that an import and the reconcilers of every replica
// share the app's rate limit. rate <= 0 means unlimited (nil is returned);
// burst <= 0 means max(1, ceil(rate)).
func Limit(st TokenStore, app string, rate float64, burst int, clk clock.Clock) func(context.Context) error {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(rate+0.999999))
	}
	if clk == nil {
		clk = clock.Wall
	}
	name := store.AppBucket(app)
	return func(ctx context.Context) error {
		for {
			d, err := st.TakeToken(ctx, name, rate, burst, clk.Now())
			if err != nil {
				return fmt.Errorf("rate limit: %w", err)
			}
			if d <= 0 {
				return nil
			}
			if err := clk.Sleep(ctx, d); err != nil {
				return err
			}
		}
	}
}
