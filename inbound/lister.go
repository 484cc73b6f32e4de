package inbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
)

// ErrRemoteGone is returned by Lister.GetUser when the account does not
// exist (404).
var ErrRemoteGone = errors.New("remote account not found")

// Lister is what the importer needs from an app: its user accounts.
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

const usersEndpoint = "Users"

// clientLister lists through outbound's generic SCIM client: GET /Users
// without a filter, 1-based pages of the client's PageSize (at most 100).
type clientLister struct {
	c *outbound.Client
}

var _ Lister = (*clientLister)(nil)

// NewLister returns a Lister over a SCIM client.
func NewLister(c *outbound.Client) Lister { return &clientLister{c: c} }

func (l *clientLister) ListUsers(ctx context.Context, fn func(map[string]any) error) error {
	return l.c.Search(ctx, usersEndpoint, "", fn)
}

func (l *clientLister) GetUser(ctx context.Context, id string) (map[string]any, error) {
	res, err := l.c.Get(ctx, usersEndpoint, id)
	var re *outbound.RemoteError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return nil, fmt.Errorf("get user %s: %w", id, ErrRemoteGone)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	if res == nil {
		return nil, fmt.Errorf("get user %s: empty response", id)
	}
	return res, nil
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
