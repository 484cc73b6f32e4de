package report

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// Page sizes and the scan budget of a filtered query.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// DefaultScanBudget is how many entries one filtered request examines
	// at most (see Request.Run).
	DefaultScanBudget = 10000
)

// queryParams are the query parameters Parse knows.
var queryParams = []string{"user", "app", "operation", "status", "from", "to", "filter", "cursor", "limit"}

// Request is a parsed report query: the store query the parameters give
// (Query.Limit is the page size) and a SCIM filter applied on top.
type Request struct {
	Query  store.ReportQuery
	Filter *scim.Filter
}

// Parse reads report query parameters:
//
//	user, app        end user and app, case-insensitive (answered from indexes)
//	operation        create, update, deactivate, ... (case-insensitive)
//	status           success, failure or skipped
//	from, to         RFC 3339 times, dates (2026-11-27, UTC midnight) or spans
//	                 back from now (90m, 24h, 7d, 1d12h); from inclusive, to exclusive
//	filter           a SCIM filter over the entry fields (ResourceType)
//	cursor           the next value of a previous page
//	limit            page size, 1 to 1000 (larger is capped), default 100
//
// Unknown or repeated parameters are errors, so that a typo does not
// silently widen the query. Errors are *scim.Error with status 400.
func Parse(v url.Values, now time.Time) (Request, error) {
	var r Request
	for k, vs := range v {
		if !slices.Contains(queryParams, k) {
			return r, scim.ErrInvalidValue.Detailf("unknown parameter %q: use %s", k, strings.Join(queryParams, ", "))
		}
		if len(vs) > 1 {
			return r, scim.ErrInvalidValue.Detailf("parameter %q given %d times: give it once", k, len(vs))
		}
	}
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	q := store.ReportQuery{
		User:      get("user"),
		App:       get("app"),
		Operation: strings.ToLower(get("operation")),
		Status:    strings.ToLower(get("status")),
		Cursor:    get("cursor"),
		Limit:     DefaultLimit,
	}
	if q.Status != "" && !slices.Contains(statuses, q.Status) {
		return r, scim.ErrInvalidValue.Detailf("status %q: want one of %s", q.Status, strings.Join(statuses, ", "))
	}
	var err error
	if q.From, err = parseTime("from", get("from"), now); err != nil {
		return r, err
	}
	if q.To, err = parseTime("to", get("to"), now); err != nil {
		return r, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return r, scim.ErrInvalidValue.Detailf("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return r, scim.ErrInvalidValue.Detailf("limit %q: want a whole number from 1 to %d", s, MaxLimit)
		}
		q.Limit = min(n, MaxLimit)
	}
	if f := get("filter"); f != "" {
		r.Filter, err = scim.Compile(f, ResourceType)
		if err != nil {
			return r, err
		}
	}
	r.Query = q
	return r, nil
}

// parseTime reads an RFC 3339 time, a date, or a span back from now.
func parseTime(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// A "+" of an offset that was not percent-encoded arrives as a space.
	for _, c := range []string{s, strings.ReplaceAll(s, " ", "+")} {
		if t, err := time.Parse(time.RFC3339Nano, c); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.UTC); err == nil {
		return t, nil
	}
	if d, err := config.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d.Std()), nil
	}
	return time.Time{}, scim.ErrInvalidValue.Detailf(
		"%s %q: want an RFC 3339 time (2026-11-27T09:00:00Z), a date (2026-11-27) or a span back from now (90m, 24h, 7d)", name, s)
}

// Page is one page of a report query, newest first, as GET /admin/reports
// encodes it and `scim-gateway report --server` decodes it. Next resumes
// the query after the page ("" when nothing is left).
type Page struct {
	Entries []store.ReportEntry `json:"entries"`
	Next    string              `json:"next"`
	// Scanned counts the entries a filtered query examined; it is not
	// sent.
	Scanned int `json:"-"`
}

// Querier reads the report log.
type Querier interface {
	QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error)
}

var errInvalidCursor = scim.ErrInvalidValue.Detailf("invalid cursor: pass the next value of a previous page unchanged")

// Run reads one page from st.
//
// Without a filter it is one store query. With a filter, the parameters
// still select what the store reads (by its user or app index when given)
// and the filter is applied to what it returns: Run reads newest first in
// chunks and stops when the page is full or when it has examined budget
// entries (budget <= 0: DefaultScanBudget). A page may therefore hold
// fewer than Limit entries, or none, and still have a Next: a client
// follows Next until it is empty. The Next of a full page resumes right
// after its last entry.
func (r Request) Run(ctx context.Context, st Querier, budget int) (Page, error) {
	q := r.Query
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if r.Filter == nil {
		es, next, err := queryLog(ctx, st, q)
		if err != nil {
			return Page{}, err
		}
		return Page{Entries: nonNilEntries(es), Next: next}, nil
	}
	if budget <= 0 {
		budget = DefaultScanBudget
	}
	page := Page{Entries: []store.ReportEntry{}}
	chunk := min(max(q.Limit, 100), MaxLimit)
	for {
		sq := q
		sq.Limit = min(chunk, budget-page.Scanned)
		es, next, err := queryLog(ctx, st, sq)
		if err != nil {
			return Page{}, err
		}
		page.Scanned += len(es)
		for i := range es {
			if !r.Filter.Match(entryDoc(&es[i])) {
				continue
			}
			page.Entries = append(page.Entries, es[i])
			if len(page.Entries) < q.Limit {
				continue
			}
			if i == len(es)-1 {
				page.Next = next
				return page, nil
			}
			// The page is full inside a chunk: the cursor after entry i is
			// the next cursor of the same read cut to i+1 entries.
			sq.Limit = i + 1
			if _, page.Next, err = queryLog(ctx, st, sq); err != nil {
				return Page{}, err
			}
			return page, nil
		}
		if next == "" || page.Scanned >= budget {
			page.Next = next
			return page, nil
		}
		q.Cursor = next
		chunk = min(2*chunk, MaxLimit)
	}
}

// queryLog runs one store query. Cursors are opaque to clients, and the
// store does not tell a malformed one from a failure: when a query with a
// cursor fails and the same query without it works, the cursor was bad
// (400), else the store failed (500).
func queryLog(ctx context.Context, st Querier, q store.ReportQuery) ([]store.ReportEntry, string, error) {
	es, next, err := st.QueryReports(ctx, q)
	if err == nil {
		return es, next, nil
	}
	if q.Cursor != "" && ctx.Err() == nil {
		probe := q
		probe.Cursor, probe.Limit = "", 1
		if _, _, perr := st.QueryReports(ctx, probe); perr == nil {
			return nil, "", errInvalidCursor
		}
	}
	return nil, "", fmt.Errorf("query reports: %w", err)
}

func nonNilEntries(es []store.ReportEntry) []store.ReportEntry {
	if es == nil {
		return []store.ReportEntry{}
	}
	return es
}
