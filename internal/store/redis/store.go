package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "scimgw"

// gcMargin is added to the Redis expiry of idempotency records, locks and
// token buckets. Their life is decided by the "now" the caller passes; the
// Redis expiry only collects keys nobody will ask about again, so it must
// outlast any clock skew between the caller and the Redis server.
const gcMargin = time.Hour

// Options configures a Store.
type Options struct {
	// Prefix names the store's keyspace: every key is "{Prefix}:...", one
	// hash tag, so all keys of a store share one Cluster slot. Stores with
	// different prefixes share nothing. Default DefaultPrefix.
	Prefix string
}

// Store is the Redis backend of store.Store.
type Store struct {
	c     goredis.UniversalClient
	k     keyspace
	owned bool // Close closes c
}

var _ store.Store = (*Store)(nil)

// New returns a store on client, which may be a standalone, Sentinel
// (failover) or Cluster client. The caller keeps ownership of client:
// Close does not close it. New does not contact the server: call Upgrade
// once before serving from a Redis an older build wrote (Open does).
func New(client goredis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redis store: nil client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redis store: prefix %q must not contain '{' or '}'", prefix)
	}
	return &Store{c: client, k: newKeyspace(prefix)}, nil
}

// Open connects to the redis:// or rediss:// URL, checks the server
// answers, and returns a store that owns the connection (Close closes it).
// Context deadlines bound every command.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis store: parse url: %w", err)
	}
	o.ContextTimeoutEnabled = true
	c := goredis.NewClient(o)
	s, err := New(c, opts)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	s.owned = true
	if err := s.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	if err := s.Upgrade(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis store: ping: %w", err)
	}
	return nil
}

// Close closes the connection when the store opened it (Open), and does
// nothing for a client passed to New.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("redis store: close: %w", err)
	}
	return nil
}

// scriptCodes maps the first word of a script's error reply to the
// contract's sentinel errors.
var scriptCodes = map[string][]error{
	"CONFLICT":  {store.ErrConflict},
	"VERSION":   {store.ErrVersionMismatch},
	"NOTFOUND":  {store.ErrNotFound},
	"LEASELOST": {store.ErrLeaseLost},
	"LOCKED":    {store.ErrLocked},
	// A lock that is not held at all: the release fails as ErrLocked (the
	// caller does not hold it) and the lock does not exist (ErrNotFound).
	"GONE": {store.ErrLocked, store.ErrNotFound},
}

// scriptError turns a script's error reply into an error wrapping the
// matching sentinel, with the reply's detail; other errors pass unchanged.
func scriptError(err error) error {
	var rerr goredis.Error
	if err == nil || !errors.As(err, &rerr) {
		return err
	}
	code, detail, _ := strings.Cut(rerr.Error(), " ")
	sentinels, ok := scriptCodes[code]
	if !ok {
		return err
	}
	switch len(sentinels) {
	case 1:
		return fmt.Errorf("%s: %w", detail, sentinels[0])
	default:
		return fmt.Errorf("%s: %w (%w)", detail, sentinels[0], sentinels[1])
	}
}

// ms returns t as unix milliseconds, rounded down: the time a due key or a
// "now" stands for.
func ms(t time.Time) int64 { return t.UnixMilli() }

// msCeil returns t as unix milliseconds, rounded up: an expiry or lease end
// is never taken as earlier than it is.
func msCeil(t time.Time) int64 {
	m := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		m++
	}
	return m
}

// us returns t as unix microseconds, rounded down.
func us(t time.Time) int64 { return t.UnixMicro() }

// gcTTL is the Redis expiry, in ms, for a key logically alive for d.
func gcTTL(d time.Duration) int64 { return (d + gcMargin).Milliseconds() }

// fold is how index values, report users and report apps are compared.
func fold(s string) string { return strings.ToLower(s) }
