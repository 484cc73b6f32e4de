package gateway

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// The report API: GET /admin/reports reads the report log newest first,
// selected by indexed parameters (user, app) and plain ones (operation,
// status, from, to), and optionally by a SCIM filter over the entry fields
// applied on top. `scim-gateway report` parses the same parameters with
// ParseReportRequest and runs the same ReportRequest.Run.

// Report page sizes.
const (
	DefaultReportLimit = 100
	MaxReportLimit     = 1000
	// DefaultScanBudget is how many entries one filtered report request
	// examines at most (see ReportRequest.Run).
	DefaultScanBudget = 10000
)

// AdminOptions configure the admin report API, /admin/status and the
// report page. With a nil Store those endpoints are off.
type AdminOptions struct {
	// Store answers report queries and status reads; in a gateway it is
	// the store Options.Store slices.
	Store AdminStore
	// Apps returns the names of the configured apps, for /admin/status.
	// It is called on every request, so a reload shows at once.
	Apps func() []string
	// ScanBudget bounds the entries one report request with a SCIM filter
	// examines; default DefaultScanBudget.
	ScanBudget int
}

// AdminStore is the slice of store.Store the admin endpoints read.
type AdminStore interface {
	ReportQuerier
	QueueLen(ctx context.Context, app string) (int, error)
	GetState(ctx context.Context, key string) ([]byte, error)
	Ping(ctx context.Context) error
}

// ReportQuerier reads the report log.
type ReportQuerier interface {
	QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error)
}

var _ AdminStore = store.Store(nil)

// reportStatuses are the values of ReportEntry.Status.
var reportStatuses = []string{store.ReportSuccess, store.ReportFailure, store.ReportSkipped}

// reportParams are the query parameters ParseReportRequest knows.
var reportParams = []string{"user", "app", "operation", "status", "from", "to", "filter", "cursor", "limit"}

// ReportResourceType describes report entries to the SCIM filter
// evaluator: `filter=status eq "failure" and httpStatus ge 500`,
// `detail co "timeout"`, `time gt "2026-11-27T00:00:00Z"`,
// `changes.attr eq "active"`.
var ReportResourceType = mustReportResourceType()

func mustReportResourceType() *scim.ResourceType {
	text := func(name, desc string, exact bool) *scim.Attribute {
		return &scim.Attribute{Name: name, Type: scim.TypeString, Description: desc, CaseExact: exact, Mutability: scim.MutabilityReadOnly}
	}
	integer := func(name, desc string) *scim.Attribute {
		return &scim.Attribute{Name: name, Type: scim.TypeInteger, Description: desc, Mutability: scim.MutabilityReadOnly}
	}
	status := text("status", "success, failure or skipped.", false)
	status.CanonicalValues = reportStatuses
	attrs := []*scim.Attribute{
		{Name: "time", Type: scim.TypeDateTime, Description: "When it happened.", Mutability: scim.MutabilityReadOnly},
		text("user", "The end user (userName, or a group's displayName).", false),
		text("app", "The app, or idp:<credential> for IdP writes.", false),
		text("operation", "create, update, deactivate, adopt, patch, ...", false),
		status,
		text("resourceType", "User or Group.", false),
		text("resourceId", "The hub id of the resource.", true),
		integer("httpStatus", "The HTTP status of the call or request."),
		text("detail", "What happened, in words.", false),
		text("requestId", "The request id of an IdP write.", true),
		text("runId", "The import run.", true),
		integer("attempt", "Which attempt of a reconcile."),
		{Name: "changes", Type: scim.TypeComplex, MultiValued: true, Description: "Changed attributes.",
			Mutability: scim.MutabilityReadOnly, SubAttributes: []*scim.Attribute{text("attr", "The attribute name.", false)}},
	}
	s, err := scim.NewSchema("urn:scimgate:params:report:1.0:Entry", "ReportEntry", "A report log entry", attrs)
	if err != nil {
		panic(fmt.Sprintf("report schema: %v", err))
	}
	rt, err := scim.NewResourceType("ReportEntry", "", "A report log entry", s)
	if err != nil {
		panic(fmt.Sprintf("report resource type: %v", err))
	}
	return rt
}

// reportDoc is an entry as the filter evaluator sees it; empty fields are
// absent, so that `user pr` means "has a user".
func reportDoc(e *store.ReportEntry) map[string]any {
	m := make(map[string]any, 16)
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("id", e.ID)
	m["time"] = e.Time
	put("user", e.User)
	put("app", e.App)
	put("operation", e.Operation)
	put("status", e.Status)
	put("resourceType", e.ResourceType)
	put("resourceId", e.ResourceID)
	put("detail", e.Detail)
	put("requestId", e.RequestID)
	put("runId", e.RunID)
	if e.HTTPStatus != 0 {
		m["httpStatus"] = e.HTTPStatus
	}
	if e.Attempt != 0 {
		m["attempt"] = e.Attempt
	}
	if len(e.Changes) > 0 {
		cs := make([]any, len(e.Changes))
		for i, c := range e.Changes {
			cs[i] = map[string]any{"attr": c.Attr}
		}
		m["changes"] = cs
	}
	return m
}

// ReportRequest is a parsed report query: the store query the parameters
// give (Query.Limit is the page size) and a SCIM filter applied on top.
type ReportRequest struct {
	Query  store.ReportQuery
	Filter *scim.Filter
}

// ParseReportRequest reads report query parameters:
//
//	user, app        end user and app, case-insensitive (answered from indexes)
//	operation        create, update, deactivate, ... (case-insensitive)
//	status           success, failure or skipped
//	from, to         RFC 3339 times, dates (2026-11-27, UTC midnight) or spans
//	                 back from now (90m, 24h, 7d, 1d12h); from inclusive, to exclusive
//	filter           a SCIM filter over the entry fields (ReportResourceType)
//	cursor           the next value of a previous page
//	limit            page size, 1 to 1000 (larger is capped), default 100
//
// Unknown or repeated parameters are errors, so that a typo does not
// silently widen the query. Errors are *scim.Error with status 400.
func ParseReportRequest(v url.Values, now time.Time) (ReportRequest, error) {
	var r ReportRequest
	for k, vs := range v {
		if !slices.Contains(reportParams, k) {
			return r, scim.ErrInvalidValue.Detailf("unknown parameter %q: use %s", k, strings.Join(reportParams, ", "))
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
		Limit:     DefaultReportLimit,
	}
	if q.Status != "" && !slices.Contains(reportStatuses, q.Status) {
		return r, scim.ErrInvalidValue.Detailf("status %q: want one of %s", q.Status, strings.Join(reportStatuses, ", "))
	}
	var err error
	if q.From, err = parseReportTime("from", get("from"), now); err != nil {
		return r, err
	}
	if q.To, err = parseReportTime("to", get("to"), now); err != nil {
		return r, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return r, scim.ErrInvalidValue.Detailf("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return r, scim.ErrInvalidValue.Detailf("limit %q: want a whole number from 1 to %d", s, MaxReportLimit)
		}
		q.Limit = min(n, MaxReportLimit)
	}
	if f := get("filter"); f != "" {
		r.Filter, err = scim.Compile(f, ReportResourceType)
		if err != nil {
			return r, err
		}
	}
	r.Query = q
	return r, nil
}

// parseReportTime reads an RFC 3339 time, a date, or a span back from now.
func parseReportTime(name, s string, now time.Time) (time.Time, error) {
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

// ReportPage is one page of a report query, newest first. Next resumes
// the query after the page ("" when nothing is left).
type ReportPage struct {
	Entries []store.ReportEntry
	Next    string
	// Scanned counts the entries a filtered query examined.
	Scanned int
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
func (r ReportRequest) Run(ctx context.Context, st ReportQuerier, budget int) (ReportPage, error) {
	q := r.Query
	if q.Limit <= 0 {
		q.Limit = DefaultReportLimit
	}
	if r.Filter == nil {
		es, next, err := queryReportLog(ctx, st, q)
		if err != nil {
			return ReportPage{}, err
		}
		return ReportPage{Entries: nonNilEntries(es), Next: next}, nil
	}
	if budget <= 0 {
		budget = DefaultScanBudget
	}
	page := ReportPage{Entries: []store.ReportEntry{}}
	chunk := min(max(q.Limit, 100), MaxReportLimit)
	for {
		sq := q
		sq.Limit = min(chunk, budget-page.Scanned)
		es, next, err := queryReportLog(ctx, st, sq)
		if err != nil {
			return ReportPage{}, err
		}
		page.Scanned += len(es)
		for i := range es {
			if !r.Filter.Match(reportDoc(&es[i])) {
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
			if _, page.Next, err = queryReportLog(ctx, st, sq); err != nil {
				return ReportPage{}, err
			}
			return page, nil
		}
		if next == "" || page.Scanned >= budget {
			page.Next = next
			return page, nil
		}
		q.Cursor = next
		chunk = min(2*chunk, MaxReportLimit)
	}
}

// queryReportLog runs one store query. Cursors are opaque to clients, and
// the store does not tell a malformed one from a failure: when a query
// with a cursor fails and the same query without it works, the cursor was
// bad (400), else the store failed (500).
func queryReportLog(ctx context.Context, st ReportQuerier, q store.ReportQuery) ([]store.ReportEntry, string, error) {
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

// reportBody is the JSON of GET /admin/reports.
type reportBody struct {
	Entries []store.ReportEntry `json:"entries"`
	Next    string              `json:"next"`
	// From and To are the query's bounds as resolved (relative spans
	// become times), Time the server's clock: a page that pins From for
	// its next requests, or draws a time axis, reads them.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	Time time.Time  `json:"time"`
}

// HeaderNextCursor carries a report page's next cursor (also in CSV).
const HeaderNextCursor = "X-Next-Cursor"

// reports serves GET /admin/reports as JSON, or as CSV when asked with
// Accept: text/csv or format=csv.
func (s *Server) reports(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	v := url.Values{}
	for k, vs := range c.QueryParams() {
		v[k] = vs
	}
	format := v.Get("format")
	delete(v, "format")
	asCSV, err := wantCSV(format, c.Request().Header.Get("Accept"))
	if err != nil {
		return err
	}
	now := s.opts.Now()
	r, err := ParseReportRequest(v, now)
	if err != nil {
		return err
	}
	page, err := r.Run(c.Request().Context(), s.opts.Admin.Store, s.opts.Admin.ScanBudget)
	if err != nil {
		return err
	}
	if page.Next != "" {
		h.Set(HeaderNextCursor, page.Next)
	}
	if asCSV {
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		return WriteReportCSV(c.Response(), page.Entries)
	}
	body := reportBody{Entries: page.Entries, Next: page.Next, Time: now}
	if !r.Query.From.IsZero() {
		body.From = &r.Query.From
	}
	if !r.Query.To.IsZero() {
		body.To = &r.Query.To
	}
	return c.JSON(http.StatusOK, body)
}

// wantCSV decides the response format: format=csv|json wins, else the
// Accept media range with the highest q among text/csv and JSON.
func wantCSV(format, accept string) (bool, error) {
	switch strings.ToLower(format) {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, scim.ErrInvalidValue.Detailf("format %q: want csv or json", format)
	}
	best, csvQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json", "application/*", "*/*":
			best = max(best, q)
		}
	}
	return csvQ > 0 && csvQ >= best, nil
}

// CSVHeader is the header row of WriteReportCSV.
var CSVHeader = []string{"time", "user", "app", "operation", "status", "httpStatus", "resourceType",
	"resourceId", "detail", "changes", "attempt", "requestId", "runId", "id"}

// WriteReportCSV writes entries as CSV with a header row; changes are
// flattened by FormatChanges. A text cell that a spreadsheet would read as
// a formula (starting with = + - @ or a tab or CR) is prefixed with a
// quote, as OWASP advises, since user names and details come from outside.
func WriteReportCSV(w io.Writer, entries []store.ReportEntry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	for i := range entries {
		e := &entries[i]
		row := []string{
			e.Time.UTC().Format(time.RFC3339Nano), csvCell(e.User), csvCell(e.App), csvCell(e.Operation), csvCell(e.Status),
			num(e.HTTPStatus), csvCell(e.ResourceType), csvCell(e.ResourceID), csvCell(e.Detail), csvCell(FormatChanges(e.Changes)),
			num(e.Attempt), csvCell(e.RequestID), csvCell(e.RunID), csvCell(e.ID),
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write report csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	return nil
}

func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// FormatChanges renders attribute changes as "attr: old → new; …", with
// "(none)" for an absent value and JSON for anything but a string.
func FormatChanges(cs []store.AttrChange) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Attr)
		b.WriteString(": ")
		b.WriteString(changeValue(c.Old))
		b.WriteString(" → ")
		b.WriteString(changeValue(c.New))
	}
	return b.String()
}

func changeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ReportPruner is the store method report retention uses.
type ReportPruner interface {
	PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error)
}

// RunRetention prunes the report log now and then every interval until
// ctx ends: entries older than retention (<= 0: no age limit), then the
// oldest beyond maxEntries (<= 0: no count limit). A failed pass is
// logged and retried at the next interval. It returns nil when ctx ends,
// and an error at once when interval is not positive. clock nil is the
// wall clock; log nil discards.
func RunRetention(ctx context.Context, st ReportPruner, retention time.Duration, maxEntries int,
	interval time.Duration, clk clock.Clock, log *slog.Logger) error {
	if interval <= 0 {
		return fmt.Errorf("report retention: interval %s: must be positive", interval)
	}
	if clk == nil {
		clk = clock.Wall
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		var before time.Time
		if retention > 0 {
			before = clk.Now().Add(-retention)
		}
		n, err := st.PruneReports(ctx, before, maxEntries)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("report retention: prune failed; retrying at the next interval", "err", err, "removed", n, "interval", interval)
		case n > 0:
			log.Info("report retention: pruned entries", "removed", n, "before", before, "max_entries", maxEntries)
		}
		if err := clk.Sleep(ctx, interval); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("report retention: %w", err)
		}
	}
}
