package bolt

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

// BenchmarkParallelCreateUser measures the group commit: 16 writers
// creating users concurrently, every commit fsynced. Compare its ns/op with
// BenchmarkConformance/CreateUser (one writer).
func BenchmarkParallelCreateUser(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "store.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("user-%09d", next.Add(1))
			_, err := s.Apply(b.Context(), store.Write{
				Put: &store.Resource{
					Kind: store.KindUser, ID: id,
					Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: id + "@example.com"}},
					Data:    []byte(`{"userName":"` + id + `@example.com"}`),
				},
				Marks: []store.Mark{{App: "bench", Key: "User/" + id, Due: t0}},
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
