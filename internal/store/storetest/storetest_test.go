package storetest

import "testing"

// TestMemStore runs the suite against the reference implementation, which
// is how the suite itself is tested.
func TestMemStore(t *testing.T) {
	Run(t, memFactory)
}

func BenchmarkMemStore(b *testing.B) {
	Bench(b, memFactory)
}
