package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// These tests look inside the file: they check the costs and the cleanup
// that the contract promises but cannot observe through its methods.

// pagesWritten runs fn and returns how many pages its commits allocated.
func pagesWritten(t *testing.T, s *Store, fn func()) int64 {
	t.Helper()
	before := s.db.Stats()
	fn()
	after := s.db.Stats()
	return after.TxStats.GetPageCount() - before.TxStats.GetPageCount()
}

// TestMembershipChangeCostIsIndependentOfGroupSize: adding or removing one
// member of a 20,000-member group rewrites a handful of pages (the B+tree
// paths to the changed keys), not the group.
func TestMembershipChangeCostIsIndependentOfGroupSize(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: "big"}})
	must(t, err)
	const size, chunk = 20000, 5000
	for start := 0; start < size; start += chunk {
		ids := make([]string, 0, chunk)
		for i := start; i < start+chunk; i++ {
			ids = append(ids, fmt.Sprintf("user-%08d-%s", i, "0123456789abcdef"))
		}
		_, err := s.Apply(ctx, store.Write{Group: "big", AddMembers: ids})
		must(t, err)
	}
	var groupPages int
	must(t, s.db.View(func(tx *bbolt.Tx) error {
		groupPages = nested(tx, bucketMem, []byte("big")).Stats().LeafPageN
		return nil
	}))

	add := pagesWritten(t, s, func() {
		_, err := s.Apply(ctx, store.Write{Group: "big", AddMembers: []string{"user-00010000-x"}})
		must(t, err)
	})
	remove := pagesWritten(t, s, func() {
		_, err := s.Apply(ctx, store.Write{Group: "big", RemoveMembers: []string{"user-00000042-0123456789abcdef"}})
		must(t, err)
	})
	t.Logf("group of %d members spans %d leaf pages; add wrote %d pages, remove %d", size, groupPages, add, remove)
	if add > 12 || remove > 12 {
		t.Errorf("one membership change wrote %d (add) and %d (remove) pages; the group has %d leaf pages", add, remove, groupPages)
	}
	n, err := s.MemberCount(ctx, "big")
	must(t, err)
	if n != size {
		t.Errorf("member count = %d, want %d", n, size)
	}
}

// bucketKeys counts the keys (and nested buckets) of the bucket at path.
func bucketKeys(t *testing.T, s *Store, top []byte, path ...[]byte) int {
	t.Helper()
	n := -1
	must(t, s.db.View(func(tx *bbolt.Tx) error {
		b := nested(tx, top, path...)
		if b == nil {
			return nil
		}
		n = 0
		return b.ForEach(func(_, _ []byte) error {
			n++
			return nil
		})
	}))
	return n
}

// TestDeleteDropsEmptyGroupSets: members that leave their last group, or
// whose group is deleted, leave no empty bucket behind.
func TestDeleteDropsEmptyGroupSets(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	for _, g := range []string{"g1", "g2"} {
		_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: g}, Group: g, AddMembers: []string{"u1", "u2"}})
		must(t, err)
	}
	_, err := s.Apply(ctx, store.Write{Group: "g2", RemoveMembers: []string{"u2"}})
	must(t, err)
	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindGroup, ID: "g1"}})
	must(t, err)
	if n := bucketKeys(t, s, bucketGrp); n != 1 { // only u1, still in g2
		t.Errorf("grp holds %d member sets, want 1", n)
	}
	if n := bucketKeys(t, s, bucketMem); n != 1 { // only g2
		t.Errorf("mem holds %d group sets, want 1", n)
	}
}

// TestIdempotencyGarbageIsCollectedLazily: each put removes a bounded
// number of expired records, oldest first.
func TestIdempotencyGarbageIsCollectedLazily(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	const n = 100
	for i := range n {
		_, stored, err := s.PutIdempotency(ctx, fmt.Sprintf("k%03d", i), []byte("r"), t0.Add(time.Duration(i)*time.Millisecond), time.Minute)
		must(t, err)
		if !stored {
			t.Fatalf("put %d did not store", i)
		}
	}
	later := t0.Add(time.Hour)
	_, _, err := s.PutIdempotency(ctx, "fresh", []byte("r"), later, time.Minute)
	must(t, err)
	if got, want := bucketKeys(t, s, bucketIdem, subRec), n-idempotencySweep+1; got != want {
		t.Errorf("after one put, %d records remain, want %d", got, want)
	}
	if _, err := s.GetIdempotency(ctx, fmt.Sprintf("k%03d", n-1), later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired record not yet collected: %v, want ErrNotFound", err)
	}
	_, _, err = s.PutIdempotency(ctx, "fresh2", []byte("r"), later, time.Minute)
	must(t, err)
	if got := bucketKeys(t, s, bucketIdem, subRec); got != 2 {
		t.Errorf("after two puts, %d records remain, want the 2 live ones", got)
	}
	if got := bucketKeys(t, s, bucketIdem, subExp); got != 2 {
		t.Errorf("expiry index holds %d entries, want 2", got)
	}
}

// TestPruneRemovesIndexEntries: pruned entries leave their user and app
// indexes, and emptied indexes are dropped.
func TestPruneRemovesIndexEntries(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var entries []store.ReportEntry
	for i := range 10 {
		user := "Alice"
		if i >= 6 {
			user = "bob"
		}
		entries = append(entries, store.ReportEntry{
			Time: t0.Add(time.Duration(i) * time.Second), User: user, App: "BitBucket",
			Operation: "create", Status: "success",
		})
	}
	must(t, s.AppendReport(ctx, entries...))
	if got := bucketKeys(t, s, bucketReport, subUser, []byte("alice")); got != 6 {
		t.Fatalf("user index of alice holds %d ids, want 6", got)
	}

	// By age: the first 6 (all of alice's) go.
	n, err := s.PruneReports(ctx, t0.Add(6*time.Second), 0)
	must(t, err)
	if n != 6 {
		t.Fatalf("pruned %d by age, want 6", n)
	}
	if got := bucketKeys(t, s, bucketReport, subUser, []byte("alice")); got != -1 {
		t.Errorf("alice's emptied user index still exists with %d ids", got)
	}
	if got := bucketKeys(t, s, bucketReport, subApp, []byte("bitbucket")); got != 4 {
		t.Errorf("app index holds %d ids, want 4", got)
	}

	// By count: keep the newest 1.
	n, err = s.PruneReports(ctx, time.Time{}, 1)
	must(t, err)
	if n != 3 {
		t.Fatalf("pruned %d by count, want 3", n)
	}
	if got := bucketKeys(t, s, bucketReport, subUser, []byte("bob")); got != 1 {
		t.Errorf("bob's user index holds %d ids, want 1", got)
	}
	got, _, err := s.QueryReports(ctx, store.ReportQuery{})
	must(t, err)
	if len(got) != 1 || !got[0].Time.Equal(t0.Add(9*time.Second)) {
		t.Errorf("after pruning, log = %+v, want only the newest entry", got)
	}
	var count int
	must(t, s.db.View(func(tx *bbolt.Tx) error {
		count = countOf(nested(tx, bucketReport, subLog))
		return nil
	}))
	if count != 1 {
		t.Errorf("log counter = %d, want 1", count)
	}
}

// TestPruneLargeLogInBatches: a prune larger than one batch removes
// everything it should across several transactions.
func TestPruneLargeLogInBatches(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	total := pruneBatch*2 + 10
	entries := make([]store.ReportEntry, total)
	for i := range entries {
		entries[i] = store.ReportEntry{Time: t0.Add(time.Duration(i) * time.Millisecond), App: "a", Operation: "op", Status: "success"}
	}
	must(t, s.AppendReport(ctx, entries...))
	n, err := s.PruneReports(ctx, time.Time{}, 5)
	must(t, err)
	if n != total-5 {
		t.Fatalf("pruned %d, want %d", n, total-5)
	}
	if got := bucketKeys(t, s, bucketReport, subApp, []byte("a")); got != 5 {
		t.Errorf("app index holds %d ids, want 5", got)
	}
}

// TestSharedEmailWriteCostIsIndependentOfHolders: a user joining or
// leaving an email that 20,000 users share rewrites the B+tree paths to the
// keys it changes, not the email's holders.
func TestSharedEmailWriteCostIsIndependentOfHolders(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	const holders, chunk = 20000, 5000
	newUser := func(id string, emails ...string) *store.Resource {
		keys := []store.IndexKey{{Name: store.IndexUserName, Value: id}}
		for _, e := range emails {
			keys = append(keys, store.IndexKey{Name: store.IndexEmail, Value: e})
		}
		return &store.Resource{Kind: store.KindUser, ID: id, Indexes: keys, Data: []byte(`{}`)}
	}
	// Set up in a few large transactions, through the code Apply runs.
	for start := 0; start < holders; start += chunk {
		must(t, s.db.Update(func(tx *bbolt.Tx) error {
			for i := start; i < start+chunk; i++ {
				if _, err := putResource(tx, newUser(fmt.Sprintf("user-%08d-0123456789abcdef", i), "All@Example.com"), 0); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	var leafPages int
	must(t, s.db.View(func(tx *bbolt.Tx) error {
		leafPages = nested(tx, bucketIdx, []byte(store.KindUser), []byte(store.IndexEmail)).Stats().LeafPageN
		return nil
	}))

	join := pagesWritten(t, s, func() {
		_, err := s.Apply(ctx, store.Write{Put: newUser("user-00010000-x", "all@example.com")})
		must(t, err)
	})
	leave := pagesWritten(t, s, func() {
		_, err := s.Apply(ctx, store.Write{Put: newUser("user-00000001-0123456789abcdef", "own@example.com"), ExpectVersion: 1})
		must(t, err)
	})
	t.Logf("email held by %d users spans %d leaf pages; a create joining it wrote %d pages, a replace leaving it %d",
		holders, leafPages, join, leave)
	if join > 20 || leave > 20 {
		t.Errorf("joining wrote %d pages and leaving %d; the email's index spans %d leaf pages", join, leave, leafPages)
	}
	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "ALL@example.com", 3)
	must(t, err)
	if len(rs) != 3 || rs[0].ID != "user-00000000-0123456789abcdef" || rs[2].ID != "user-00000003-0123456789abcdef" {
		t.Errorf("first holders = %v, want users 0, 2 and 3 (1 left)", ids(rs))
	}
	if got := bucketKeys(t, s, bucketIdx, []byte(store.KindUser), []byte(store.IndexEmail)); got != holders+1 {
		t.Errorf("email index holds %d keys, want %d (%d holders of one email, one of another)", got, holders+1, holders)
	}
}

func ids(rs []*store.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestOpenUpgradesSchema1: a file of schema 1, whose email index mapped
// each email to its one holder, is upgraded on Open: the entries become
// value keys, the unique indexes are left alone, and the store carries on
// with shared emails.
func TestOpenUpgradesSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	must(t, err)
	ctx := context.Background()
	users := []struct{ id, name string }{{"u1", "alice"}, {"u2", "bob"}}
	for _, u := range users {
		_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: u.id, Indexes: []store.IndexKey{
			{Name: store.IndexUserName, Value: u.name}, {Name: store.IndexEmail, Value: u.name + "@x.org"},
		}}})
		must(t, err)
	}
	_, err = s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "u1", Indexes: []store.IndexKey{
		{Name: store.IndexUserName, Value: "alice"}, {Name: store.IndexEmail, Value: "alice@x.org"},
		{Name: store.IndexEmail, Value: "A.Smith@x.org"},
	}}, ExpectVersion: 1})
	must(t, err)
	// Rewrite the email index and the schema as schema 1 had them.
	must(t, s.db.Update(func(tx *bbolt.Tx) error {
		kb := nested(tx, bucketIdx, []byte(store.KindUser))
		if err := kb.DeleteBucket([]byte(store.IndexEmail)); err != nil {
			return err
		}
		b, err := kb.CreateBucket([]byte(store.IndexEmail))
		if err != nil {
			return err
		}
		for email, id := range map[string]string{"alice@x.org": "u1", "a.smith@x.org": "u1", "bob@x.org": "u2"} {
			if err := b.Put([]byte(email), []byte(id)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 1))
	}))
	must(t, s.Close())

	for round := range 2 { // the second Open finds schema 2 and changes nothing
		s, err = Open(path, Options{NoSync: true})
		must(t, err)
		must(t, s.db.View(func(tx *bbolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint64(v) != schemaVersion {
				t.Errorf("round %d: schema after Open = %x, want %d", round, v, schemaVersion)
			}
			return nil
		}))
		for email, want := range map[string]string{"Alice@x.org": "u1", "a.smith@X.org": "u1", "bob@x.org": "u2"} {
			rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, email, 0)
			must(t, err)
			if got := ids(rs); len(got) != 1 || got[0] != want {
				t.Errorf("round %d: lookup all %s = %q, want [%s]", round, email, got, want)
			}
		}
		r, err := s.Lookup(ctx, store.KindUser, store.IndexUserName, "BOB")
		must(t, err)
		if r.ID != "u2" {
			t.Errorf("round %d: userName lookup = %s, want u2", round, r.ID)
		}
		if round == 0 {
			must(t, s.Close())
		}
	}
	t.Cleanup(func() { _ = s.Close() })

	// Upgraded entries are removed like new ones, and emails can be shared.
	_, err = s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "u3", Indexes: []store.IndexKey{
		{Name: store.IndexUserName, Value: "carol"}, {Name: store.IndexEmail, Value: "bob@x.org"},
	}}})
	must(t, err)
	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	must(t, err)
	_, err = s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "u1", Indexes: []store.IndexKey{
		{Name: store.IndexUserName, Value: "alice"}, {Name: store.IndexEmail, Value: "alice@x.org"},
	}}, ExpectVersion: 2})
	must(t, err)
	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "bob@x.org", 0)
	must(t, err)
	if got := ids(rs); len(got) != 1 || got[0] != "u3" {
		t.Errorf("lookup all bob@x.org = %q, want [u3]", got)
	}
	if got := bucketKeys(t, s, bucketIdx, []byte(store.KindUser), []byte(store.IndexEmail)); got != 2 {
		t.Errorf("email index holds %d keys after the updates, want 2 (alice@x.org of u1, bob@x.org of u3)", got)
	}
}

// TestOpenUpgradesSchema2: a file of schema 2, whose externalId index was
// unique (a folded value mapped to its one holder), is upgraded on Open:
// the entries become value keys, so users created before the upgrade are
// still found by externalId, and a second user may then share one.
func TestOpenUpgradesSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	must(t, err)
	ctx := context.Background()
	for _, u := range []struct{ id, name, ext string }{{"u1", "alice", "Ext-A"}, {"u2", "bob", "ext-b"}} {
		_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: u.id, Indexes: []store.IndexKey{
			{Name: store.IndexUserName, Value: u.name}, {Name: store.IndexExternalID, Value: u.ext},
		}}})
		must(t, err)
	}
	// Rewrite the externalId index and the schema as schema 2 had them.
	must(t, s.db.Update(func(tx *bbolt.Tx) error {
		kb := nested(tx, bucketIdx, []byte(store.KindUser))
		if err := kb.DeleteBucket([]byte(store.IndexExternalID)); err != nil {
			return err
		}
		b, err := kb.CreateBucket([]byte(store.IndexExternalID))
		if err != nil {
			return err
		}
		for ext, id := range map[string]string{"ext-a": "u1", "ext-b": "u2"} {
			if err := b.Put([]byte(ext), []byte(id)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 2))
	}))
	must(t, s.Close())

	s, err = Open(path, Options{NoSync: true})
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for ext, want := range map[string]string{"EXT-A": "u1", "ext-b": "u2"} {
		rs, err := s.LookupAll(ctx, store.KindUser, store.IndexExternalID, ext, 0)
		must(t, err)
		if got := ids(rs); len(got) != 1 || got[0] != want {
			t.Errorf("lookup all %s after the upgrade = %q, want [%s]", ext, got, want)
		}
	}
	_, err = s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "u3", Indexes: []store.IndexKey{
		{Name: store.IndexUserName, Value: "carol"}, {Name: store.IndexExternalID, Value: "ext-a"},
	}}})
	must(t, err)
	_, err = s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
	must(t, err)
	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexExternalID, "ext-a", 0)
	must(t, err)
	if got := ids(rs); len(got) != 1 || got[0] != "u3" {
		t.Errorf("lookup all ext-a = %q, want [u3]: the upgraded entry of a deleted user must go", got)
	}
}

// TestOpenUpgradesSchema3: a schema 3 file, which kept no per-partition id
// counts, gets them at Open, so its list pages land on the right ids.
func TestOpenUpgradesSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	must(t, err)
	ctx := context.Background()
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("%02x-%d", i%5, i)
		want = append(want, id)
		_, err := s.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id,
			Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: id}}}})
		must(t, err)
	}
	slices.Sort(want)
	must(t, s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketPages); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 3))
	}))
	must(t, s.Close())

	s, err = Open(path, Options{NoSync: true})
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for offset := range len(want) {
		page, err := s.List(ctx, store.KindUser, offset, 3)
		must(t, err)
		if got := ids(page.Resources); len(got) == 0 || got[0] != want[offset] {
			t.Fatalf("page at %d after the upgrade = %q, want it to start at %s", offset, got, want[offset])
		}
	}
}
