package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
	"github.com/scimgate/scim-gateway/internal/store"
)

// The report log lives in sorted sets ordered by entry ID (see the comment
// above appendReportScript): the log itself and one index per folded user
// and per folded app. A query by user or app walks only that index, newest
// first, with ZREVRANGEBYLEX from its cursor; pruning takes the oldest IDs
// from the log and removes each from the indexes its record names, so it
// never scans the keyspace.

const (
	defaultReportLimit = 100
	// queryBudget bounds the entries one query script call examines, so
	// that a selective query does not hold the server for long; the query
	// goes on with another call.
	queryBudget = 1024
	// pruneChunk bounds the entries one prune script call removes.
	pruneChunk = 512
)

// Report times are kept as unix nanoseconds, which cover 1970 to 2262.
var (
	minReportTime = time.Unix(0, 0)
	maxReportTime = time.Unix(0, math.MaxInt64)
)

// timeKey is the 19-digit time part of a report entry ID.
func timeKey(t time.Time) string {
	var b [19]byte
	n := max(t.UnixNano(), 0) // entries are from 1970 on: an earlier bound is 1970
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

var reportIDPattern = regexp.MustCompile(`^[0-9]{19}-[0-9]{16}$`)

const cursorPrefix = "r1."

// encodeCursor makes the opaque cursor that resumes a query below id.
func encodeCursor(id string) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(c string) (string, error) {
	raw, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok {
		return "", fmt.Errorf("invalid cursor %q", c)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || !reportIDPattern.Match(b) {
		return "", fmt.Errorf("invalid cursor %q", c)
	}
	return string(b), nil
}

// AppendReport appends entries in one script call.
func (s *Store) AppendReport(ctx context.Context, entries ...store.ReportEntry) error {
	if len(entries) == 0 {
		return nil
	}
	keys, _, args, err := s.reportArgs(nil, entries)
	if err != nil {
		return fmt.Errorf("redis store: append report: %w", err)
	}
	if err := appendReportScript.Run(ctx, s.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("redis store: append %d report entries: %w", len(entries), err)
	}
	return nil
}

// reportArgs appends to keys the report log's keys (record hash, log zset,
// sequence counter) and the user and app index zsets the entries name,
// and returns the new keys, the 1-based KEYS position of the record hash
// and the entries' script arguments for rappend (see luaReport): per entry,
// its time key, user index number, app index number and record.
func (s *Store) reportArgs(keys []string, entries []store.ReportEntry) ([]string, int, []any, error) {
	base := len(keys) + 1
	keys = append(keys, s.k.reportRecords(), s.k.reportLog(), s.k.reportSeq())
	slot := map[string]int{}
	index := func(key string) int {
		n, ok := slot[key]
		if !ok {
			keys = append(keys, key)
			n = len(keys) - (base + 2)
			slot[key] = n
		}
		return n
	}
	args := make([]any, 0, 4*len(entries))
	for i, e := range entries {
		if e.Time.Before(minReportTime) || e.Time.After(maxReportTime) {
			return nil, 0, nil, fmt.Errorf("entry %d: time %s is outside 1970 to 2262", i, e.Time)
		}
		e.ID = ""
		u, a := fold(e.User), fold(e.App)
		header, err := jsondoc.Append(make([]byte, 0, 512), []string{u, a, e.Operation, e.Status})
		if err != nil {
			return nil, 0, nil, fmt.Errorf("entry %d: encode: %w", i, err)
		}
		rec, err := e.AppendJSON(append(header, '\n'))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("entry %d: encode: %w", i, err)
		}
		ui, ai := 0, 0
		if u != "" {
			ui = index(s.k.reportByUser(u))
		}
		if a != "" {
			ai = index(s.k.reportByApp(a))
		}
		args = append(args, timeKey(e.Time), ui, ai, rec)
	}
	return keys, base, args, nil
}

// QueryReports returns matching entries newest first. A query by user
// walks that user's index (filtering by app too, when given), a query by
// app the app's index, any other query the log. The walk runs from below
// the cursor and To down to From.
func (s *Store) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultReportLimit
	}
	// The filters left for the script: not the one the walked index implies.
	u, a := fold(q.User), fold(q.App)
	walk := s.k.reportLog()
	switch {
	case u != "":
		walk, u = s.k.reportByUser(u), ""
	case a != "":
		walk, a = s.k.reportByApp(a), ""
	}

	// Bounds for ZREVRANGEBYLEX. An ID starts with its time key, so "(T"
	// excludes every ID at or after time T and "[T" keeps every ID at or
	// after it; of two exclusive bounds the lower string is the tighter.
	upper, lower := "+", "-"
	none := []store.ReportEntry{}
	if q.Cursor != "" {
		id, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("redis store: query reports: %w", err)
		}
		upper = "(" + id
	}
	if !q.To.IsZero() && !q.To.After(maxReportTime) {
		if !q.To.After(minReportTime) {
			return none, "", nil
		}
		if to := "(" + timeKey(q.To); upper == "+" || to < upper {
			upper = to
		}
	}
	if !q.From.IsZero() && q.From.After(minReportTime) {
		if q.From.After(maxReportTime) {
			return none, "", nil
		}
		lower = "[" + timeKey(q.From)
	}

	out := none
	want := limit + 1 // one more tells whether there is a next page
	for upper != "" {
		vals, err := queryReportsScript.Run(ctx, s.c, []string{s.k.reportRecords(), walk},
			upper, lower, want-len(out), queryBudget, u, a, q.Operation, q.Status).StringSlice()
		if err != nil {
			return nil, "", fmt.Errorf("redis store: query reports: %w", err)
		}
		if len(vals)%2 != 1 {
			return nil, "", fmt.Errorf("redis store: query reports: malformed reply of %d values", len(vals))
		}
		upper = vals[0]
		for i := 1; i < len(vals); i += 2 {
			if len(out) == limit {
				// One more match: there is a next page, below the last entry.
				return out, encodeCursor(out[limit-1].ID), nil
			}
			var e store.ReportEntry
			if err := json.Unmarshal([]byte(vals[i+1]), &e); err != nil {
				return nil, "", fmt.Errorf("redis store: query reports: entry %s: %w", vals[i], err)
			}
			e.ID = vals[i]
			out = append(out, e)
		}
	}
	return out, "", nil
}

// PruneReports removes entries older than before, then the oldest beyond
// maxCount, from the log and its indexes, in script calls of at most
// pruneChunk entries each.
func (s *Store) PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error) {
	age := "" // no entry is older than 1970
	switch {
	case before.After(maxReportTime):
		age = "+"
	case before.After(minReportTime):
		age = "(" + timeKey(before)
	}
	maxCount = max(maxCount, 0)
	removed := 0
	for {
		n, err := pruneReportsScript.Run(ctx, s.c, []string{s.k.reportRecords(), s.k.reportLog()},
			age, maxCount, pruneChunk, s.k.reportUserPrefix(), s.k.reportAppPrefix()).Int()
		if err != nil {
			return removed, fmt.Errorf("redis store: prune reports: removed %d, then: %w", removed, err)
		}
		removed += n
		if n < pruneChunk {
			return removed, nil
		}
	}
}
