package gateway

import (
	"context"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Store is the slice of store.Store the gateway uses.
type Store interface {
	Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error)
	GetMany(ctx context.Context, kind store.Kind, ids []string) (map[string]*store.Resource, error)
	Lookup(ctx context.Context, kind store.Kind, index, value string) (*store.Resource, error)
	LookupAll(ctx context.Context, kind store.Kind, index, value string, max int) ([]*store.Resource, error)
	List(ctx context.Context, kind store.Kind, offset, count int) (store.Page, error)
	Apply(ctx context.Context, w store.Write) (*store.Resource, error)
	Members(ctx context.Context, groupID string) ([]string, error)
	IsMember(ctx context.Context, groupID, memberID string) (bool, error)
	GroupsOf(ctx context.Context, memberID string) ([]string, error)
	GroupsOfMany(ctx context.Context, memberIDs []string) (map[string][]string, error)
	PutIdempotency(ctx context.Context, key string, rec []byte, now time.Time, ttl time.Duration) ([]byte, bool, error)
	GetIdempotency(ctx context.Context, key string, now time.Time) ([]byte, error)
	AppendReport(ctx context.Context, entries ...store.ReportEntry) error
	Ping(ctx context.Context) error
}
