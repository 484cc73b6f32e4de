package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Factory makes a fresh, empty, isolated namespace (e.g. a temp bolt file, a
// unique redis key prefix) and returns a function that opens (or re-opens,
// after Close) a store on that namespace.
//
// The suite calls the Factory once per subtest, with that subtest's tb, and
// closes every store it opens. It never holds two open stores on one
// namespace at the same time. A Factory may skip or fail tb, and should
// register the namespace's removal with tb.Cleanup.
type Factory func(tb testing.TB) (open func() (store.Store, error))

// t0 is the suite's clock origin. It is far from the wall clock on purpose:
// a backend that consults time.Now instead of the time it is passed fails.
// It is a whole second, and every time the suite derives from it for queues,
// locks, TTLs and reports is a whole millisecond, so backends may keep those
// times at millisecond precision.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

// at returns the time d after t0.
func at(d time.Duration) time.Time { return t0.Add(d) }

// test is one conformance test on a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs every conformance test against stores made by f, as subtests of
// t, one after another.
func Run(t *testing.T, f Factory) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Resource", resourceTests()},
		{"Index", indexTests()},
		{"List", listTests()},
		{"Membership", membershipTests()},
		{"Touch", touchTests()},
		{"Validate", validateTests()},
		{"Link", linkTests()},
		{"Queue", queueTests()},
		{"Idempotency", idempotencyTests()},
		{"Lock", lockTests()},
		{"TakeToken", tokenTests()},
		{"State", stateTests()},
		{"Report", reportTests()},
		{"Concurrency", concurrencyTests()},
		{"Context", contextTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newStore(t, f))
				})
			}
		})
	}
	t.Run("Restart", func(t *testing.T) {
		for _, tc := range restartTests() {
			t.Run(tc.name, func(t *testing.T) {
				tc.fn(t, newReopener(t, f))
			})
		}
	})
}

// newStore opens a store on a fresh namespace of f and closes it when t ends.
func newStore(t testing.TB, f Factory) store.Store {
	t.Helper()
	open := f(t)
	s, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// reopener holds a store on one namespace and can close and open it again.
type reopener struct {
	t    testing.TB
	open func() (store.Store, error)
	s    store.Store
}

func newReopener(t testing.TB, f Factory) *reopener {
	t.Helper()
	r := &reopener{t: t, open: f(t)}
	s, err := r.open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	r.s = s
	t.Cleanup(func() {
		if r.s != nil {
			if err := r.s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		}
	})
	return r
}

// restart closes the store and opens it again on the same namespace.
func (r *reopener) restart() store.Store {
	r.t.Helper()
	s := r.s
	r.s = nil
	if err := s.Close(); err != nil {
		r.t.Fatalf("close store before restart: %v", err)
	}
	s, err := r.open()
	if err != nil {
		r.t.Fatalf("re-open store: %v", err)
	}
	r.s = s
	return s
}

// wantErr fails t unless err matches want with errors.Is. It also reports a
// bare sentinel: the contract asks backends to wrap errors with context.
func wantErr(t testing.TB, err, want error, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want errors.Is(err, %q)", what, err, want)
	}
	if err == want {
		t.Errorf("%s: returned the bare sentinel %q; the contract asks backends to wrap it with context", what, want)
	}
}

// noErr fails t now if err is not nil.
func noErr(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// mustJSON encodes v; the suite only encodes values that cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("storetest: encode %T: %v", v, err))
	}
	return b
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// newUser builds a User holding userName and emails in its indexes and data.
func newUser(id, userName string, emails ...string) *store.Resource {
	keys := []store.IndexKey{{Name: store.IndexUserName, Value: userName}}
	var addrs []map[string]any
	for _, e := range emails {
		keys = append(keys, store.IndexKey{Name: store.IndexEmail, Value: e})
		addrs = append(addrs, map[string]any{"value": e})
	}
	data := map[string]any{"userName": userName}
	if len(addrs) > 0 {
		data["emails"] = addrs
	}
	return &store.Resource{
		Kind:     store.KindUser,
		ID:       id,
		Created:  t0,
		Modified: t0,
		Origin:   "idp",
		Indexes:  keys,
		Data:     mustJSON(data),
	}
}

// newGroup builds a Group holding displayName in its indexes and data.
func newGroup(id, displayName string) *store.Resource {
	return &store.Resource{
		Kind:     store.KindGroup,
		ID:       id,
		Created:  t0,
		Modified: t0,
		Origin:   "idp",
		Indexes:  []store.IndexKey{{Name: store.IndexDisplayName, Value: displayName}},
		Data:     mustJSON(map[string]any{"displayName": displayName}),
	}
}

// withExternalID adds an externalId index key to r and returns r.
// badgeIndex is an index name the contract does not define, and so
// unique (store.Unique): the suite's second unique key of a user.
const badgeIndex = "badge"

// withIndex adds the index key (name, value) to r.
func withIndex(r *store.Resource, name, value string) *store.Resource {
	r.Indexes = append(r.Indexes, store.IndexKey{Name: name, Value: value})
	return r
}

func withExternalID(r *store.Resource, ext string) *store.Resource {
	r.Indexes = append(r.Indexes, store.IndexKey{Name: store.IndexExternalID, Value: ext})
	return r
}

// mustApply applies w and fails t on error.
func mustApply(t testing.TB, s store.Store, w store.Write) *store.Resource {
	t.Helper()
	r, err := s.Apply(t.Context(), w)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if w.Put != nil && r == nil {
		t.Fatalf("apply with Put returned a nil resource")
	}
	return r
}

// mustCreate stores r as a new resource.
func mustCreate(t testing.TB, s store.Store, r *store.Resource) *store.Resource {
	t.Helper()
	return mustApply(t, s, store.Write{Put: r})
}

// mustGet reads a resource that must exist.
func mustGet(t testing.TB, s store.Store, kind store.Kind, id string) *store.Resource {
	t.Helper()
	r, err := s.Get(t.Context(), kind, id)
	noErr(t, err, "get %s %q", kind, id)
	if r == nil {
		t.Fatalf("get %s %q: nil resource", kind, id)
	}
	return r
}

// wantMissing checks that a resource does not exist.
func wantMissing(t testing.TB, s store.Store, kind store.Kind, id string) {
	t.Helper()
	_, err := s.Get(t.Context(), kind, id)
	wantErr(t, err, store.ErrNotFound, "get %s %q", kind, id)
}

// wantLookup checks that an index key resolves to wantID.
func wantLookup(t testing.TB, s store.Store, kind store.Kind, index, value, wantID string) {
	t.Helper()
	r, err := s.Lookup(t.Context(), kind, index, value)
	noErr(t, err, "lookup %s %s %q", kind, index, value)
	if r == nil || r.ID != wantID || r.Kind != kind {
		t.Fatalf("lookup %s %s %q = %+v, want %s %q", kind, index, value, r, kind, wantID)
	}
}

// wantNoLookup checks that an index key is free.
func wantNoLookup(t testing.TB, s store.Store, kind store.Kind, index, value string) {
	t.Helper()
	_, err := s.Lookup(t.Context(), kind, index, value)
	wantErr(t, err, store.ErrNotFound, "lookup %s %s %q", kind, index, value)
}

// wantLookupAll checks that LookupAll of an index key with max returns the
// resources of wantIDs, of kind, in that order, and returns them.
func wantLookupAll(t testing.TB, s store.Store, kind store.Kind, index, value string, max int, wantIDs ...string) []*store.Resource {
	t.Helper()
	rs, err := s.LookupAll(t.Context(), kind, index, value, max)
	noErr(t, err, "lookup all %s %s %q (max %d)", kind, index, value, max)
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		if r == nil {
			t.Fatalf("lookup all %s %s %q (max %d): a nil resource", kind, index, value, max)
		}
		if r.Kind != kind {
			t.Fatalf("lookup all %s %s %q (max %d): resource %q of kind %s", kind, index, value, max, r.ID, r.Kind)
		}
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("lookup all %s %s %q (max %d) = %q, want %q in this order", kind, index, value, max, ids, wantIDs)
	}
	return rs
}

// wantQueueLen checks an app's queue length.
func wantQueueLen(t testing.TB, s store.Store, app string, want int) {
	t.Helper()
	n, err := s.QueueLen(t.Context(), app)
	noErr(t, err, "queue length of %q", app)
	if n != want {
		t.Fatalf("queue length of %q = %d, want %d", app, n, want)
	}
}

// foldedKeys returns the distinct folded index keys, sorted, as strings.
func foldedKeys(keys []store.IndexKey) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.Name+"\x00"+strings.ToLower(k.Value))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkResource compares a stored resource with what was written, with the
// version the store should have assigned in want.Version. Times compare
// with Equal, Data as JSON, and Indexes as sets of folded keys (the contract
// lets the store fold and collapse them).
func checkResource(t testing.TB, what string, got, want *store.Resource) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil resource", what)
	}
	if got.Kind != want.Kind || got.ID != want.ID {
		t.Errorf("%s: resource %s %q, want %s %q", what, got.Kind, got.ID, want.Kind, want.ID)
	}
	if got.Version != want.Version {
		t.Errorf("%s: Version = %d, want %d", what, got.Version, want.Version)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("%s: Created = %v, want %v", what, got.Created, want.Created)
	}
	if !got.Modified.Equal(want.Modified) {
		t.Errorf("%s: Modified = %v, want %v", what, got.Modified, want.Modified)
	}
	if got.Origin != want.Origin {
		t.Errorf("%s: Origin = %q, want %q", what, got.Origin, want.Origin)
	}
	if !jsonEqual(got.Data, want.Data) {
		t.Errorf("%s: Data = %s, want %s (compared as JSON)", what, got.Data, want.Data)
	}
	if g, w := foldedKeys(got.Indexes), foldedKeys(want.Indexes); !slices.Equal(g, w) {
		t.Errorf("%s: Indexes = %v, want the keys %v", what, got.Indexes, want.Indexes)
	}
}

// sorted returns a sorted copy of ids.
func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// wantSet checks that got holds exactly want, in any order.
func wantSet(t testing.TB, what string, got, want []string) {
	t.Helper()
	if g, w := sorted(got), sorted(want); !slices.Equal(g, w) {
		t.Fatalf("%s = %q, want %q (any order)", what, g, w)
	}
}
