// Package backend opens a store.Store from its URL. It is the one place
// that knows every backend, chosen by URL scheme through a map of
// constructors, so the rest of the program depends only on store.Store.
package backend

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/internal/store/redis"
)

// Options are backend settings that are not part of the URL.
type Options struct {
	// RedisPrefix is the key prefix and hash tag of a Redis store.
	RedisPrefix string
}

type opener func(ctx context.Context, url string, o Options) (store.Store, error)

var openers = map[string]opener{
	"bolt": func(_ context.Context, url string, _ Options) (store.Store, error) {
		return bolt.OpenURL(url)
	},
	"redis":  openRedis,
	"rediss": openRedis,
}

func openRedis(ctx context.Context, url string, o Options) (store.Store, error) {
	return redis.Open(ctx, url, redis.Options{Prefix: o.RedisPrefix})
}

// Open opens the store that url names: bolt://path/file.db (embedded),
// redis://host:port/db or rediss://... (shared by replicas).
func Open(ctx context.Context, url string, o Options) (store.Store, error) {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("store url %q: want scheme://..., one of %s", Redact(url), schemes())
	}
	open, ok := openers[strings.ToLower(scheme)]
	if !ok {
		return nil, fmt.Errorf("store url %q: unknown scheme %q, want one of %s", Redact(url), scheme, schemes())
	}
	s, err := open(ctx, url, o)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(url), err)
	}
	return s, nil
}

func schemes() string {
	var s []string
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// Redact hides a password in a store URL (redis://:secret@host) so the
// URL can be logged.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at < 0 || (slash >= 0 && slash < at) {
		return url
	}
	user := rest[:at]
	if name, _, hasPass := strings.Cut(user, ":"); hasPass {
		user = name + ":<secret>"
	}
	return scheme + "://" + user + rest[at:]
}
