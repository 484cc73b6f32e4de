package bolt

import (
	"path/filepath"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/storetest"
)

// factory gives each test its own file; open (re)opens it.
func factory(opts Options) storetest.Factory {
	return func(tb testing.TB) func() (store.Store, error) {
		path := filepath.Join(tb.TempDir(), "store.db")
		return func() (store.Store, error) { return Open(path, opts) }
	}
}

// The suite runs without fsync to keep it fast; durability across Close
// and reopen (its Restart tests) does not depend on fsync.
func TestConformance(t *testing.T) { storetest.Run(t, factory(Options{NoSync: true})) }

// Benchmarks use the production setting: every commit is fsynced.
func BenchmarkConformance(b *testing.B) { storetest.Bench(b, factory(Options{})) }
