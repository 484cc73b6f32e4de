// Package backendtest opens fresh stores of every backend for tests of the
// packages built on the store, so that each runs its cases on bolt and on
// Redis alike (Redis from internal/store/redistest: $REDIS_URL, or a
// private server, or a skip that CI turns into a failure).
package backendtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/internal/store/redis"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
)

// Names are the backends, in the order Each runs them.
var Names = []string{"bolt", "redis"}

// Open maps a backend name to the opener of a fresh store of it, closed
// with tb.
var Open = map[string]func(tb testing.TB) store.Store{"bolt": Bolt, "redis": Redis}

// Bolt opens a fresh bolt store in tb's temporary directory.
func Bolt(tb testing.TB) store.Store {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "store.db"), bolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// Redis opens a store under a prefix of tb's own on the test Redis.
func Redis(tb testing.TB) store.Store {
	tb.Helper()
	st, err := redis.Open(context.Background(), redistest.URL(tb), redis.Options{Prefix: redistest.Prefix(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// Each runs f once per backend, as a subtest named after it.
func Each(t *testing.T, f func(t *testing.T, open func(tb testing.TB) store.Store)) {
	t.Helper()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) { f(t, Open[name]) })
	}
}
