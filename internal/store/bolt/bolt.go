package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scimgate/scim-gateway/internal/store"
)

// ErrFileLocked is returned by Open when another process holds the file.
var ErrFileLocked = errors.New("file is locked by another process")

// DefaultLockTimeout is how long Open waits for the file lock when
// Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is right for production.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file before failing with ErrFileLocked (DefaultLockTimeout when
	// zero or negative).
	LockTimeout time.Duration
	// NoSync skips the fsync after each commit. A process crash loses
	// nothing, but a power loss or kernel crash can lose recent commits or
	// corrupt the file: for tests and benchmarks only.
	NoSync bool
}

// Store is the bolt backend of store.Store. Its methods are safe for
// concurrent use: bbolt runs read transactions in parallel with each other
// and with the one writer.
type Store struct {
	db     *bbolt.DB
	commit committer
}

var _ store.Store = (*Store)(nil)

// Open opens the store file at path, creating it (mode 0o600) and its
// parent directory (mode 0o700) when missing.
//
// The bbolt options chosen: the hashmap freelist, which stays fast when the
// file is large and fragmented (queue and report churn free many pages),
// and NoFreelistSync, which saves writing the freelist on every commit at
// the cost of rebuilding it on Open by walking every page in use (a cost
// proportional to the file's size, paid once per start). Writes go through a group commit
// (commit.go) rather than db.Batch, whose timer delays every batch by up to
// MaxBatchDelay (10ms), which made concurrent writers slower than plain
// transactions in our measurements.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("bolt store: open: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt store: open %s: create directory: %w", path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        timeout,
		NoSync:         opts.NoSync,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt store: open %s: %w (waited %s): %w", path, ErrFileLocked, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt store: open %s: %w", path, err)
	}
	if err := db.Update(initLayout); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt store: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// OpenURL opens the file a bolt URL names, with default Options. Two forms
// are accepted:
//
//	bolt:///var/lib/scim-gateway/store.db   absolute path
//	bolt://data/store.db                    path relative to the working directory
//
// Everything after "bolt://" is the file path, taken literally (no
// percent-decoding); URLs with a query or a fragment are rejected, so that
// options are not silently ignored.
func OpenURL(url string) (*Store, error) {
	const scheme = "bolt://"
	if len(url) < len(scheme) || !strings.EqualFold(url[:len(scheme)], scheme) {
		return nil, fmt.Errorf("bolt store: open URL %q: want bolt:///absolute/path or bolt://relative/path", url)
	}
	path := url[len(scheme):]
	if path == "" || path == "/" {
		return nil, fmt.Errorf("bolt store: open URL %q: no file path", url)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("bolt store: open URL %q: query and fragment are not supported", url)
	}
	return Open(path, Options{})
}

// Path returns the file the store uses.
func (s *Store) Path() string { return s.db.Path() }

// Close releases the file. In-flight transactions finish first.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt store: close: %w", err)
	}
	return nil
}

// Ping checks that the file is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("meta bucket missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt store: ping: %w", err)
	}
	return nil
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}
