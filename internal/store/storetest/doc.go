// Package storetest is the conformance suite of the store contract: the one
// place where the behaviour promised by the comments of package store is
// pinned down as tests. Every backend runs it from a few lines of its own
// test (storetest.Run(t, factory)) and reports its performance with
// storetest.Bench(b, factory), so the redis and bolt backends cannot drift
// apart and a new backend knows exactly what "done" means.
//
// The suite drives time through the "now" arguments of the contract, from an
// origin far from the wall clock, so a backend that consults its own clock
// fails. Subtests run one after another, each on a fresh namespace from the
// Factory; the Restart tests close a store and open it again on the same
// namespace to check that everything is durable.
//
// A backend's whole test is a Factory and two calls:
//
//	func newBolt(tb testing.TB) func() (store.Store, error) {
//		path := filepath.Join(tb.TempDir(), "gateway.db")
//		return func() (store.Store, error) { return bolt.Open(path) }
//	}
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newBolt) }
//	func BenchmarkStore(b *testing.B)   { storetest.Bench(b, newBolt) }
package storetest
