package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// t0 is the tests' clock origin, far from the wall clock.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

// openTemp opens a store on a new file in t's temp dir and closes it when
// t ends. Tests skip fsync: they check semantics, not crash durability.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{NoSync: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesPrivateDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "store.db")
	s, err := Open(path, Options{})
	must(t, err)
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {path, 0o600}} {
		fi, err := os.Stat(c.path)
		must(t, err)
		// The umask can only remove bits: none beyond want may be set.
		if perm := fi.Mode().Perm(); perm&^c.want != 0 {
			t.Errorf("%s has mode %v, want at most %v", c.path, perm, c.want)
		}
	}
}

func TestOpenLockedFileFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	first, err := Open(path, Options{})
	must(t, err)
	defer first.Close()

	start := time.Now()
	second, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, ErrFileLocked) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open: %v, want ErrFileLocked", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second Open took %s despite a 100ms lock timeout", waited)
	}

	// Once the first holder closes, the file opens.
	must(t, first.Close())
	third, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	must(t, err)
	must(t, third.Close())
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{})
	must(t, err)
	must(t, s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion+1))
	}))
	must(t, s.Close())
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a file of another schema version")
	} else if !strings.Contains(err.Error(), "schema") {
		t.Errorf("Open of another schema: %v, want an error naming the schema", err)
	}
}

func TestOpenRejectsEmptyPathAndNonBoltFile(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	path := filepath.Join(t.TempDir(), "not.db")
	must(t, os.WriteFile(path, []byte(strings.Repeat("not a bolt file ", 1000)), 0o600))
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Error("Open of a non-bolt file succeeded")
	}
}

func TestOpenURL(t *testing.T) {
	t.Run("Absolute", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "abs.db")
		s, err := OpenURL("bolt://" + path) // path starts with "/": bolt:///...
		must(t, err)
		defer s.Close()
		if s.Path() != path {
			t.Errorf("Path() = %q, want %q", s.Path(), path)
		}
	})
	t.Run("Relative", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		s, err := OpenURL("bolt://data/rel.db")
		must(t, err)
		defer s.Close()
		if _, err := os.Stat(filepath.Join(dir, "data", "rel.db")); err != nil {
			t.Errorf("relative URL did not create data/rel.db under the working directory: %v", err)
		}
	})
	for _, bad := range []string{
		"", "bolt:", "bolt://", "bolt:///", "redis://localhost/0", "file:///tmp/x.db",
		"bolt:///tmp/x.db?nosync=1", "bolt:///tmp/x.db#frag",
	} {
		if s, err := OpenURL(bad); err == nil {
			s.Close()
			t.Errorf("OpenURL(%q) succeeded, want an error", bad)
		}
	}
}

func TestClosedStoreFails(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{NoSync: true})
	must(t, err)
	must(t, s.Close())
	ctx := context.Background()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := s.Get(ctx, store.KindUser, "u1"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Close: %v, want a closed-database error", err)
	}
}

func TestCanceledContextWritesNothing(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Apply(ctx, store.Write{Marks: []store.Mark{{App: "a", Key: "k", Due: t0}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: %v, want context.Canceled", err)
	}
	n, err := s.QueueLen(context.Background(), "a")
	must(t, err)
	if n != 0 {
		t.Errorf("queue length %d after a canceled Apply, want 0", n)
	}
}

// txID is the id of the last committed write transaction.
func txID(t testing.TB, s *Store) int {
	t.Helper()
	var id int
	must(t, s.db.View(func(tx *bbolt.Tx) error {
		id = tx.ID()
		return nil
	}))
	return id
}

// TestNoOpsDoNotCommit: the polling paths (an empty Claim, a refused token
// or lock, an empty Write) roll back instead of paying a commit and fsync.
func TestNoOpsDoNotCommit(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.AcquireLock(ctx, "import", "a", t0, time.Minute)
	must(t, err)
	_, err = s.TakeToken(ctx, "bucket", 1, 1, t0)
	must(t, err)
	must(t, s.Enqueue(ctx, store.Mark{App: "app", Key: "later", Due: t0.Add(time.Hour)}))
	before := txID(t, s)

	if c, err := s.Claim(ctx, "app", t0, time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("claim before due = %v, %v; want nothing", c, err)
	}
	if c, err := s.Claim(ctx, "no-such-app", t0, time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("claim of an unknown app = %v, %v; want nothing", c, err)
	}
	if wait, err := s.TakeToken(ctx, "bucket", 1, 1, t0); err != nil || wait != time.Second {
		t.Fatalf("take from an empty bucket = %v, %v; want 1s", wait, err)
	}
	if _, err := s.AcquireLock(ctx, "import", "b", t0, time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("acquire of a held lock: %v, want ErrLocked", err)
	}
	if _, err := s.Apply(ctx, store.Write{}); err != nil {
		t.Fatalf("empty write: %v", err)
	}
	if n, err := s.PruneReports(ctx, t0, 0); err != nil || n != 0 {
		t.Fatalf("prune of an empty log = %d, %v", n, err)
	}
	if after := txID(t, s); after != before {
		t.Errorf("no-op calls committed %d transactions, want 0", after-before)
	}
}

// TestStateEmptyValue: an empty value is a value, not a missing key.
func TestStateEmptyValue(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	must(t, s.PutState(ctx, "k", nil))
	v, err := s.GetState(ctx, "k")
	if err != nil || len(v) != 0 {
		t.Fatalf("GetState of an empty value = %q, %v; want empty, nil", v, err)
	}
	// A key that is a prefix of a stored key is still missing.
	must(t, s.PutState(ctx, "import/app1", []byte("x")))
	if _, err := s.GetState(ctx, "import/"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetState of a missing prefix key: %v, want ErrNotFound", err)
	}
}
