package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// The report log is report/log, keyed by report id: the entry's time
// (ordered int64) and a sequence number from report's Sequence, so keys sort
// by time and then by append order. report/user/<folded user> and
// report/app/<folded app> hold the same ids, so a query by user or app
// walks only that index. An entry's JSON names its user and app, which lets
// pruning remove its index entries without a scan. ReportEntry.ID and the
// query cursor are the id in hex.

const (
	reportIDLen     = 16
	defaultPageSize = 100
	// pruneBatch bounds the entries one pruning transaction removes, so a
	// large prune does not hold the writer for long or build a huge
	// transaction.
	pruneBatch = 2048
)

func reportID(t int64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendOrdered(make([]byte, 0, reportIDLen), t), seq)
}

// reportOwner is the part of an entry that pruning needs.
type reportOwner struct {
	User string `json:"user"`
	App  string `json:"app"`
}

// AppendReport appends entries in one transaction, assigning their ids.
func (s *Store) AppendReport(ctx context.Context, entries ...store.ReportEntry) error {
	if len(entries) == 0 {
		return nil
	}
	encoded, err := encodeReports(entries)
	if err != nil {
		return fmt.Errorf("bolt store: append report: %w", err)
	}
	err = s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		return true, appendReports(tx, entries, encoded)
	})
	if err != nil {
		return fmt.Errorf("bolt store: append report: %w", err)
	}
	return nil
}

// encodeReports encodes entries for appendReports, outside any
// transaction.
func encodeReports(entries []store.ReportEntry) ([][]byte, error) {
	encoded := make([][]byte, len(entries))
	for i, e := range entries {
		e.ID = "" // the key is the id
		v, err := e.AppendJSON(nil)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		encoded[i] = v
	}
	return encoded, nil
}

// appendReports writes entries, encoded by encodeReports, to the log and
// its indexes in tx, assigning their ids from the report sequence.
func appendReports(tx *bbolt.Tx, entries []store.ReportEntry, encoded [][]byte) error {
	if len(entries) == 0 {
		return nil
	}
	rep := tx.Bucket(bucketReport)
	log, users, apps := rep.Bucket(subLog), rep.Bucket(subUser), rep.Bucket(subApp)
	for i, e := range entries {
		seq, err := rep.NextSequence()
		if err != nil {
			return err
		}
		id := reportID(nanos(e.Time), seq)
		if err := log.Put(id, encoded[i]); err != nil {
			return err
		}
		if err := indexReport(users, e.User, id); err != nil {
			return fmt.Errorf("user index: %w", err)
		}
		if err := indexReport(apps, e.App, id); err != nil {
			return fmt.Errorf("app index: %w", err)
		}
	}
	return addCount(log, len(entries))
}

func indexReport(parent *bbolt.Bucket, name string, id []byte) error {
	if name == "" {
		return nil
	}
	b, err := parent.CreateBucketIfNotExists([]byte(fold(name)))
	if err != nil {
		return err
	}
	return b.Put(id, empty)
}

// QueryReports walks the narrowest source (the user's index, else the
// app's, else the log) backwards from the upper bound (the cursor or To)
// down to From, filtering what the source does not answer.
func (s *Store) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	var upper []byte // exclusive; nil: unbounded
	if !q.To.IsZero() {
		upper = appendOrdered(nil, nanos(q.To))
	}
	if q.Cursor != "" {
		c, err := hex.DecodeString(q.Cursor)
		if err != nil || len(c) != reportIDLen {
			return nil, "", fmt.Errorf("bolt store: query reports: invalid cursor %q", q.Cursor)
		}
		if upper == nil || bytes.Compare(c, upper) < 0 {
			upper = c
		}
	}
	lower := int64(0)
	if !q.From.IsZero() {
		lower = nanos(q.From)
	}
	var (
		out  []store.ReportEntry
		next string
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rep := tx.Bucket(bucketReport)
		log := rep.Bucket(subLog)
		src, filterApp := log, q.App
		switch {
		case q.User != "":
			src = rep.Bucket(subUser).Bucket([]byte(fold(q.User)))
		case q.App != "":
			src, filterApp = rep.Bucket(subApp).Bucket([]byte(fold(q.App))), ""
		}
		if src == nil {
			return nil
		}
		filtered := filterApp != "" || q.Operation != "" || q.Status != ""
		c := src.Cursor()
		var k []byte
		if upper == nil {
			k, _ = c.Last()
		} else if k, _ = c.Seek(upper); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for n := 0; k != nil; k, _ = c.Prev() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(k) != reportIDLen {
				return fmt.Errorf("report key %x: %w", k, errCorrupt)
			}
			if !q.From.IsZero() && readOrdered(k) < lower {
				break
			}
			if len(out) == limit && !filtered {
				next = out[len(out)-1].ID // something older is in range
				break
			}
			v := log.Get(k)
			if v == nil {
				return fmt.Errorf("index entry %x points at a missing entry", k)
			}
			var e store.ReportEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("entry %x: %w", k, err)
			}
			if (filterApp != "" && fold(e.App) != fold(filterApp)) ||
				(q.Operation != "" && e.Operation != q.Operation) ||
				(q.Status != "" && e.Status != q.Status) {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID // one more match exists
				break
			}
			e.ID = hex.EncodeToString(k)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("bolt store: query reports: %w", err)
	}
	return out, next, nil
}

// PruneReports removes entries older than before, then the oldest beyond
// maxCount, with their index entries, in transactions of pruneBatch.
func (s *Store) PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error) {
	removed := 0
	for {
		n, err := s.pruneReportBatch(ctx, before, maxCount)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("bolt store: prune reports: %w", err)
		}
		if n < pruneBatch {
			return removed, nil
		}
	}
}

func (s *Store) pruneReportBatch(ctx context.Context, before time.Time, maxCount int) (int, error) {
	removed := 0
	err := s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		rep := tx.Bucket(bucketReport)
		log, users, apps := rep.Bucket(subLog), rep.Bucket(subUser), rep.Bucket(subApp)
		total := countOf(log)
		beforeN := nanos(before)
		type victim struct {
			id    []byte
			owner reportOwner
		}
		var victims []victim
		c := log.Cursor()
		for k, v := c.First(); k != nil && len(victims) < pruneBatch; k, v = c.Next() {
			old := !before.IsZero() && len(k) >= 8 && readOrdered(k) < beforeN
			excess := maxCount > 0 && total-len(victims) > maxCount
			if !old && !excess {
				break
			}
			var o reportOwner
			if err := json.Unmarshal(v, &o); err != nil {
				return false, fmt.Errorf("entry %x: %w", k, err)
			}
			victims = append(victims, victim{bytes.Clone(k), o})
		}
		for _, vi := range victims {
			if err := log.Delete(vi.id); err != nil {
				return false, err
			}
			if err := unindexReport(users, vi.owner.User, vi.id); err != nil {
				return false, fmt.Errorf("user index: %w", err)
			}
			if err := unindexReport(apps, vi.owner.App, vi.id); err != nil {
				return false, fmt.Errorf("app index: %w", err)
			}
		}
		removed = len(victims)
		if removed == 0 {
			return false, nil
		}
		return true, addCount(log, -removed)
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

func unindexReport(parent *bbolt.Bucket, name string, id []byte) error {
	if name == "" {
		return nil
	}
	key := []byte(fold(name))
	b := parent.Bucket(key)
	if b == nil {
		return nil
	}
	if err := b.Delete(id); err != nil {
		return err
	}
	return deleteIfEmpty(parent, key)
}
