package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Bench runs the store benchmarks against stores made by f, as
// sub-benchmarks of b:
//
//	CreateUser                      one Apply: Put with 3 index keys and one Mark
//	LookupUserName/users={1000,100000}
//	LookupEmail/users=100000        Lookup on the non-unique email index
//	AddMember/members={100,100000}  one Write adding one member, with one Mark
//	Claim                           Claim and Ack of one key of 10,000 due keys
//	ReportAppend                    one entry per AppendReport
//	ReportQueryByUser               one page of one user's entries of 50,000
//
// Each sub-benchmark opens its own namespace and populates it before its
// timed loop (b.Loop resets the timer on entry and runs the setup once).
func Bench(b *testing.B, f Factory) {
	b.Run("CreateUser", func(b *testing.B) { benchCreateUser(b, f) })
	b.Run("LookupUserName", func(b *testing.B) {
		for _, n := range []int{1000, 100000} {
			b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
				benchLookup(b, f, n, store.IndexUserName, func(i int) string {
					return strings.ToLower(fmt.Sprintf("User%07d@Example.com", i))
				})
			})
		}
	})
	b.Run("LookupEmail", func(b *testing.B) {
		b.Run("users=100000", func(b *testing.B) {
			benchLookup(b, f, 100000, store.IndexEmail, func(i int) string { return fmt.Sprintf("U%07d@EXAMPLE.COM", i) })
		})
	})
	b.Run("AddMember", func(b *testing.B) {
		for _, n := range []int{100, 100000} {
			b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchAddMember(b, f, n) })
		}
	})
	b.Run("Claim", func(b *testing.B) { benchClaim(b, f) })
	b.Run("ReportAppend", func(b *testing.B) { benchReportAppend(b, f) })
	b.Run("ReportQueryByUser", func(b *testing.B) { benchReportQueryByUser(b, f) })
}

// benchUser is the i-th user of a benchmark population.
func benchUser(i int) *store.Resource {
	r := newUser(fmt.Sprintf("user-%07d", i), fmt.Sprintf("User%07d@Example.com", i), fmt.Sprintf("u%07d@example.com", i))
	return withExternalID(r, fmt.Sprintf("ext-%07d", i))
}

// populate runs fn(i) for i in [0, n) on several goroutines, so that
// backends that batch concurrent writes can set up large populations fast.
func populate(b *testing.B, n int, fn func(ctx context.Context, i int) error) {
	b.Helper()
	workers := min(32, max(1, n/100))
	ctx := b.Context()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("populate item %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

func benchCreateUser(b *testing.B, f Factory) {
	s := newStore(b, f)
	ctx := b.Context()
	// Build the writes outside the timed loop, in chunks.
	const chunk = 1000
	writes := make([]store.Write, 0, chunk)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		if len(writes) == 0 {
			b.StopTimer()
			for range chunk {
				r := benchUser(next)
				writes = append(writes, store.Write{Put: r, Marks: []store.Mark{{App: "bench", Key: "User/" + r.ID, Due: t0}}})
				next++
			}
			b.StartTimer()
		}
		if _, err := s.Apply(ctx, writes[0]); err != nil {
			b.Fatal(err)
		}
		writes = writes[1:]
	}
}

// benchLookup measures Lookup on index among n users (benchUser), of the
// values that value gives for users' numbers, in a fixed random order.
// The values are in another case than stored.
func benchLookup(b *testing.B, f Factory, n int, index string, value func(i int) string) {
	s := newStore(b, f)
	populate(b, n, func(ctx context.Context, i int) error {
		_, err := s.Apply(ctx, store.Write{Put: benchUser(i)})
		return err
	})
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]string, 1024)
	for i := range values {
		values[i] = value(rng.IntN(n))
	}
	ctx := b.Context()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Lookup(ctx, store.KindUser, index, values[i%len(values)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchAddMember measures one membership write adding a new member to a
// group of n members. To keep the group at its size, the members added are
// removed again every chunk operations, outside the timed loop.
func benchAddMember(b *testing.B, f Factory, n int) {
	s := newStore(b, f)
	ctx := b.Context()
	mustCreate(b, s, newGroup("big", "Big"))
	const batch = 1000
	populate(b, (n+batch-1)/batch, func(ctx context.Context, j int) error {
		ids := make([]string, 0, batch)
		for i := j * batch; i < min(n, (j+1)*batch); i++ {
			ids = append(ids, fmt.Sprintf("member-%07d", i))
		}
		_, err := s.Apply(ctx, store.Write{Group: "big", AddMembers: ids})
		return err
	})
	if got, err := s.MemberCount(ctx, "big"); err != nil || got != n {
		b.Fatalf("member count = %d, %v; want %d", got, err, n)
	}

	chunk := max(1, min(100, n/10))
	writes := make([]store.Write, chunk)
	added := make([]string, chunk)
	next := 0
	refill := func() {
		for j := range chunk {
			id := fmt.Sprintf("new-%09d", next)
			next++
			added[j] = id
			writes[j] = store.Write{
				Group: "big", AddMembers: []string{id},
				Marks: []store.Mark{{App: "bench", Key: "User/" + id, Due: t0}},
			}
		}
	}
	refill()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == chunk {
			b.StopTimer()
			if _, err := s.Apply(ctx, store.Write{Group: "big", RemoveMembers: added}); err != nil {
				b.Fatal(err)
			}
			refill()
			i = 0
			b.StartTimer()
		}
		if _, err := s.Apply(ctx, writes[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchClaim measures Claim plus Ack of one key from a queue of 10,000 due
// keys; acked keys are enqueued again every chunk operations, outside the
// timed loop.
func benchClaim(b *testing.B, f Factory) {
	const keys, chunk = 10000, 100
	s := newStore(b, f)
	ctx := b.Context()
	all := make([]store.Mark, keys)
	for i := range all {
		all[i] = store.Mark{App: "bench", Key: fmt.Sprintf("User/user-%07d", i), Due: at(-time.Minute)}
	}
	for i := 0; i < keys; i += 1000 {
		noErr(b, s.Enqueue(ctx, all[i:i+1000]...), "enqueue")
	}
	done := make([]store.Mark, 0, chunk)
	b.ReportAllocs()
	for b.Loop() {
		if len(done) == chunk {
			b.StopTimer()
			if err := s.Enqueue(ctx, done...); err != nil {
				b.Fatal(err)
			}
			done = done[:0]
			b.StartTimer()
		}
		cs, err := s.Claim(ctx, "bench", t0, time.Minute, 1)
		if err != nil || len(cs) != 1 {
			b.Fatalf("claim = %d keys, %v; want 1", len(cs), err)
		}
		if err := s.Ack(ctx, cs[0]); err != nil {
			b.Fatal(err)
		}
		done = append(done, store.Mark{App: "bench", Key: cs[0].Key, Due: at(-time.Minute)})
	}
}

// benchEntry is the i-th entry of a benchmark log: 1000 users, 5 apps, one
// entry per millisecond.
func benchEntry(users []string, i int) store.ReportEntry {
	return store.ReportEntry{
		Time:         at(time.Duration(i) * time.Millisecond),
		User:         users[i%len(users)],
		ResourceType: "User",
		ResourceID:   "user-id",
		App:          []string{"bitbucket", "jira", "confluence", "trello", "statuspage"}[i%5],
		Operation:    "update",
		Status:       "success",
		Changes:      []store.AttrChange{{Attr: "title", Old: "Engineer", New: "Staff Engineer"}},
		HTTPStatus:   200,
		RequestID:    "req",
	}
}

func benchUsers() []string {
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("User%07d@Example.com", i)
	}
	return users
}

func benchReportAppend(b *testing.B, f Factory) {
	s := newStore(b, f)
	ctx := b.Context()
	users := benchUsers()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendReport(ctx, benchEntry(users, i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchReportQueryByUser(b *testing.B, f Factory) {
	const entries, batch = 50000, 1000
	s := newStore(b, f)
	ctx := b.Context()
	users := benchUsers()
	for i := 0; i < entries; i += batch {
		es := make([]store.ReportEntry, batch)
		for j := range es {
			es[j] = benchEntry(users, i+j)
		}
		noErr(b, s.AppendReport(ctx, es...), "append")
	}
	// Ask in lower case for users stored in mixed case.
	lower := make([]string, len(users))
	for i, u := range users {
		lower[i] = strings.ToLower(u)
	}
	runtime.GC()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		es, _, err := s.QueryReports(ctx, store.ReportQuery{User: lower[i%len(lower)], Limit: 20})
		if err != nil || len(es) != 20 {
			b.Fatalf("query = %d entries, %v; want 20", len(es), err)
		}
		i++
	}
}
