package gateway

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/oidctest"
	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
	"github.com/scimgate/scim-gateway/outbound"
)

const adminToken = "admin-token-0123456789abcdef"

// reportT0 is the clock of startServer.
var reportT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// withAdmin turns on the admin API with a static admin token.
func withAdmin(st AdminStore, apps ...string) func(*Options) {
	return func(o *Options) {
		o.AdminAuth = NewCredentials([]StaticToken{{Name: "ops", Value: adminToken}}, nil, nil, nil)
		o.Admin = AdminOptions{Store: st, Apps: func() []string { return apps }}
	}
}

// httpResult is a raw HTTP response.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// adminGet sends GET path (relative to the server root) with the admin
// token and extra header pairs ("Authorization", "" sends none).
func (ts *testServer) adminGet(path string, headers ...string) httpResult {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.Root+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// reportsJSON is the decoded body of GET /admin/reports.
type reportsJSON struct {
	Entries []store.ReportEntry `json:"entries"`
	Next    *string             `json:"next"`
	From    *time.Time          `json:"from"`
	To      *time.Time          `json:"to"`
	Time    time.Time           `json:"time"`
}

func (ts *testServer) reports(query string) reportsJSON {
	ts.t.Helper()
	r := ts.adminGet("/admin/reports?" + query)
	if r.Status != http.StatusOK {
		ts.t.Fatalf("GET /admin/reports?%s: status %d: %s", query, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		ts.t.Fatalf("Content-Type %q", ct)
	}
	var out reportsJSON
	if err := json.Unmarshal(r.Body, &out); err != nil {
		ts.t.Fatalf("decode %s: %v", r.Body, err)
	}
	if out.Entries == nil || out.Next == nil {
		ts.t.Fatalf("body lacks entries or next: %s", r.Body)
	}
	return out
}

// scimErr checks an RFC 7644 error body.
func (r httpResult) scimErr(tb testing.TB, status int, scimType string) {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var e struct {
		Status, ScimType, Detail string
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		tb.Fatalf("error body %s: %v", r.Body, err)
	}
	if e.Status != fmt.Sprint(status) || e.ScimType != scimType || e.Detail == "" {
		tb.Fatalf("error body %s, want status %d scimType %q and a detail", r.Body, status, scimType)
	}
}

type reportSeed struct {
	ago                 time.Duration
	user, app, op, stat string
	http                int
	detail              string
	changes             []store.AttrChange
}

// reportSeeds are labelled by the first three characters of their detail.
var reportSeeds = []reportSeed{
	{10 * time.Minute, "alice@example.com", "bitbucket", "create", "success", 201, "e01", nil},
	{30 * time.Minute, "bob@example.com", "bitbucket", "update", "failure", 503, "e02 timeout", nil},
	{50 * time.Minute, "alice@example.com", "jira", "update", "success", 200, "e03",
		[]store.AttrChange{{Attr: "active", Old: true, New: false}}},
	{90 * time.Minute, "Alice@Example.com", "bitbucket", "deactivate", "failure", 401, "e04 credentials rejected", nil},
	{3 * time.Hour, "carol@example.com", "idp:okta", "create", "success", 201, "e05", nil},
	{5 * time.Hour, "alice@example.com", "bitbucket", "adopt", "skipped", 0, "e06 protected", nil},
	{26 * time.Hour, "bob@example.com", "jira", "create", "success", 201, "e07", nil},
	{50 * time.Hour, "alice@example.com", "bitbucket", "update", "failure", 500, "e08 timeout", nil},
	{6 * 24 * time.Hour, "carol@example.com", "bitbucket", "create", "success", 201, "e09", nil},
	{9 * 24 * time.Hour, "alice@example.com", "jira", "delete", "success", 204, "e10", nil},
}

func seedReports(tb testing.TB, st store.Store, seeds []reportSeed) {
	tb.Helper()
	es := make([]store.ReportEntry, len(seeds))
	for i, s := range seeds {
		es[i] = store.ReportEntry{Time: reportT0.Add(-s.ago), User: s.user, App: s.app, Operation: s.op, Status: s.stat,
			HTTPStatus: s.http, Detail: s.detail, Changes: s.changes, ResourceType: "User", ResourceID: fmt.Sprintf("id-%d", i)}
	}
	// Appended out of time order: the log orders by time.
	slices.Reverse(es[:min(5, len(es))])
	if err := st.AppendReport(context.Background(), es...); err != nil {
		tb.Fatal(err)
	}
}

func labels(es []store.ReportEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Detail[:min(3, len(e.Detail))])
	}
	return strings.Join(out, ",")
}

func TestReportFilters(t *testing.T) {
	q := url.QueryEscape
	cases := []struct{ query, want string }{
		{"", "e01,e02,e03,e04,e05,e06,e07,e08,e09,e10"},
		{"user=ALICE@example.com", "e01,e03,e04,e06,e08,e10"},
		{"app=Bitbucket", "e01,e02,e04,e06,e08,e09"},
		{"operation=create", "e01,e05,e07,e09"},
		{"operation=CREATE", "e01,e05,e07,e09"},
		{"status=failure", "e02,e04,e08"},
		{"status=Failure", "e02,e04,e08"},
		// Relative times are spans back from the server's clock.
		{"from=2h", "e01,e02,e03,e04"},
		{"from=90m", "e01,e02,e03,e04"},
		{"from=7d", "e01,e02,e03,e04,e05,e06,e07,e08,e09"},
		{"from=1d12h&to=1d", "e07"},
		{"from=2026-11-26T12:00:00Z&to=2026-11-27T09:30:00Z", "e05,e06"},
		{"to=2026-11-25", "e09,e10"},
		// An offset's "+" sent unencoded arrives as a space.
		{"from=2026-11-27T12:30:00+01:00", "e01,e02"},
		{"user=alice@example.com&app=bitbucket", "e01,e04,e06,e08"},
		{"user=alice@example.com&status=failure", "e04,e08"},
		{"app=bitbucket&operation=update&from=3d", "e02,e08"},
		{"filter=" + q(`httpStatus ge 500`), "e02,e08"},
		{"filter=" + q(`detail co "timeout"`) + "&user=alice@example.com", "e08"},
		{"filter=" + q(`changes.attr eq "active"`), "e03"},
		{"filter=" + q(`time lt "2026-11-25T00:00:00Z"`), "e09,e10"},
		{"filter=" + q(`user ew "@example.com" and not (app sw "idp:")`), "e01,e02,e03,e04,e06,e07,e08,e09,e10"},
		{"filter=" + q(`status eq "FAILURE" or operation eq "adopt"`), "e02,e04,e06,e08"},
		{"filter=" + q(`httpStatus pr and status ne "success"`), "e02,e04,e08"},
		{"filter=" + q(`status eq "failure"`) + "&from=2h", "e02,e04"},
		{"filter=" + q(`resourceId eq "ID-0"`), ""}, // resourceId is case-exact
		{"filter=" + q(`resourceId eq "id-0"`), "e01"},
		{"limit=3", "e01,e02,e03"},
	}
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		seedReports(t, st, reportSeeds)
		ts := startServer(t, st, withAdmin(st))
		for _, tc := range cases {
			got := ts.reports(tc.query)
			if l := labels(got.Entries); l != tc.want {
				t.Errorf("%s: got %s, want %s", tc.query, l, tc.want)
			}
			if (*got.Next != "") != (tc.query == "limit=3") {
				t.Errorf("%s: next %q", tc.query, *got.Next)
			}
			if !got.Time.Equal(reportT0) {
				t.Errorf("%s: time %v", tc.query, got.Time)
			}
		}
		// The window is returned resolved.
		got := ts.reports("from=2h&to=2026-11-27T11:00:00Z")
		if got.From == nil || !got.From.Equal(reportT0.Add(-2*time.Hour)) || got.To == nil || !got.To.Equal(reportT0.Add(-time.Hour)) {
			t.Errorf("window %v..%v", got.From, got.To)
		}
		// Entries carry what was stored.
		e := ts.reports("filter=" + q(`changes.attr eq "active"`)).Entries[0]
		if e.User != "alice@example.com" || e.App != "jira" || e.HTTPStatus != 200 || e.ID == "" ||
			!e.Time.Equal(reportT0.Add(-50*time.Minute)) || len(e.Changes) != 1 || e.Changes[0].Old != true {
			t.Errorf("entry %+v", e)
		}
	})
}

func TestReportInvalidParams(t *testing.T) {
	st := backends["bolt"](t)
	seedReports(t, st, reportSeeds)
	ts := startServer(t, st, withAdmin(st))
	q := url.QueryEscape
	for _, query := range []string{
		"filter=" + q(`userName eq "alice"`), // not a report field
		"filter=" + q(`user eq`),
		"filter=" + q(`httpStatus eq "500"`), // type mismatch
		"filter=" + q(`time gt "yesterday"`),
		"filter=" + q(`(status eq "failure"`),
	} {
		ts.adminGet("/admin/reports?"+query).scimErr(t, http.StatusBadRequest, scim.ScimTypeInvalidFilter)
	}
	for _, query := range []string{
		"from=yesterday", "from=-2h", "to=2026-13-01", "from=1h&to=2h", "limit=0", "limit=-1", "limit=ten",
		"status=failed", "usr=alice", "user=a&user=b", "format=xml", "cursor=zzz",
		"cursor=" + q("r1.AAAA"), "cursor=00000000000000000000000000000000ff",
	} {
		ts.adminGet("/admin/reports?"+query).scimErr(t, http.StatusBadRequest, scim.ScimTypeInvalidValue)
	}
}

func TestReportInvalidCursorPerBackend(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		seedReports(t, st, reportSeeds)
		ts := startServer(t, st, withAdmin(st))
		for _, c := range []string{"zzz", "r1.!!", "0011"} {
			ts.adminGet("/admin/reports?cursor="+url.QueryEscape(c)).scimErr(t, http.StatusBadRequest, scim.ScimTypeInvalidValue)
		}
	})
}

// failingQuerier fails every report query, as an unreachable store does.
type failingQuerier struct{ AdminStore }

func (failingQuerier) QueryReports(context.Context, store.ReportQuery) ([]store.ReportEntry, string, error) {
	return nil, "", errors.New("connection refused")
}

func TestReportStoreFailureIs500(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st, withAdmin(failingQuerier{st}))
	for _, query := range []string{"", "cursor=abc", "filter=" + url.QueryEscape(`user pr`)} {
		r := ts.adminGet("/admin/reports?" + query)
		r.scimErr(t, http.StatusInternalServerError, "")
		if bytes.Contains(r.Body, []byte("connection refused")) {
			t.Errorf("the cause leaked: %s", r.Body)
		}
	}
}

// recordingQuerier records the store queries a request makes.
type recordingQuerier struct {
	AdminStore
	mu sync.Mutex
	qs []store.ReportQuery
}

func (r *recordingQuerier) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error) {
	r.mu.Lock()
	r.qs = append(r.qs, q)
	r.mu.Unlock()
	return r.AdminStore.QueryReports(ctx, q)
}

func (r *recordingQuerier) take() []store.ReportQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := r.qs
	r.qs = nil
	return qs
}

func TestReportFilterUsesIndexedParams(t *testing.T) {
	st := backends["bolt"](t)
	seedReports(t, st, reportSeeds)
	rq := &recordingQuerier{AdminStore: st}
	ts := startServer(t, st, withAdmin(rq))
	got := ts.reports("user=alice@example.com&app=bitbucket&status=failure&from=7d&filter=" + url.QueryEscape(`detail co "timeout"`))
	if labels(got.Entries) != "e08" {
		t.Fatalf("got %s", labels(got.Entries))
	}
	for _, q := range rq.take() {
		if q.User != "alice@example.com" || q.App != "bitbucket" || q.Status != "failure" || !q.From.Equal(reportT0.Add(-7*24*time.Hour)) {
			t.Errorf("store query %+v does not carry the parameters", q)
		}
	}
}

// seedMany appends n entries one second apart, newest at reportT0; entry
// i (0 = newest) has detail "n<i>", user u<i%5>, status failure when i%3 == 0.
func seedMany(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	es := make([]store.ReportEntry, n)
	for i := range es {
		status := "success"
		if i%3 == 0 {
			status = "failure"
		}
		es[i] = store.ReportEntry{Time: reportT0.Add(-time.Duration(i) * time.Second), User: fmt.Sprintf("u%d", i%5),
			App: "bitbucket", Operation: "update", Status: status, Detail: fmt.Sprintf("n%d", i)}
	}
	for len(es) > 0 {
		k := min(len(es), 5000)
		if err := st.AppendReport(context.Background(), es[:k]...); err != nil {
			tb.Fatal(err)
		}
		es = es[k:]
	}
}

// walk follows next from query and returns every entry's detail in order
// and the number of requests.
func walk(t *testing.T, ts *testServer, query string) ([]string, int) {
	t.Helper()
	var got []string
	cursor := ""
	for n := 1; ; n++ {
		qs := query
		if cursor != "" {
			qs += "&cursor=" + url.QueryEscape(cursor)
		}
		page := ts.reports(qs)
		for _, e := range page.Entries {
			got = append(got, e.Detail)
		}
		if *page.Next == "" {
			return got, n
		}
		if n > 1000 {
			t.Fatal("paging does not end")
		}
		cursor = *page.Next
	}
}

func wantDetails(n int, keep func(i int) bool) []string {
	var out []string
	for i := range n {
		if keep(i) {
			out = append(out, fmt.Sprintf("n%d", i))
		}
	}
	return out
}

func TestReportCursorPaging(t *testing.T) {
	const n = 250
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		seedMany(t, st, n)
		ts := startServer(t, st, func(o *Options) {
			withAdmin(st)(o)
			o.Admin.ScanBudget = 45 // below one chunk: filtered pages end on the budget too
		})
		all := func(int) bool { return true }
		for _, tc := range []struct {
			query string
			keep  func(int) bool
		}{
			{"limit=40", all},
			{"limit=1", func(i int) bool { return i < n }},
			{"limit=250", all},
			{"limit=7&status=failure", func(i int) bool { return i%3 == 0 }},
			{"limit=9&user=u2", func(i int) bool { return i%5 == 2 }},
			{"limit=7&filter=" + url.QueryEscape(`status eq "failure"`), func(i int) bool { return i%3 == 0 }},
			{"limit=4&user=u1&filter=" + url.QueryEscape(`status eq "failure"`), func(i int) bool { return i%5 == 1 && i%3 == 0 }},
			{"limit=1000&filter=" + url.QueryEscape(`detail ew "7"`), func(i int) bool { return i%10 == 7 }},
		} {
			got, _ := walk(t, ts, tc.query)
			if want := wantDetails(n, tc.keep); !slices.Equal(got, want) {
				t.Errorf("%s: got %d entries %v\nwant %d %v", tc.query, len(got), got, len(want), want)
			}
		}
		// A full page inside a chunk resumes right after its last entry.
		first := ts.reports("limit=2&filter=" + url.QueryEscape(`user eq "u0"`))
		second := ts.reports("limit=2&filter=" + url.QueryEscape(`user eq "u0"`) + "&cursor=" + url.QueryEscape(*first.Next))
		if labels(first.Entries) != "n0,n5" || second.Entries[0].Detail != "n10" {
			t.Errorf("pages %v then %v", first.Entries, second.Entries)
		}
		// The last page has no next.
		if page := ts.reports("from=10s"); len(page.Entries) != 11 || *page.Next != "" {
			t.Errorf("from=10s: %d entries, next %q", len(page.Entries), *page.Next)
		}
	})
}

func TestReportFilterScanBudget(t *testing.T) {
	st := backends["bolt"](t)
	seedMany(t, st, 200)
	rq := &recordingQuerier{AdminStore: st}
	ts := startServer(t, st, func(o *Options) {
		withAdmin(rq)(o)
		o.Admin.ScanBudget = 50
	})
	// Only the oldest entry matches: each request reads at most 50 entries
	// and returns what it found so far with a next cursor.
	got, requests := walk(t, ts, "filter="+url.QueryEscape(`detail eq "n199"`))
	if !slices.Equal(got, []string{"n199"}) || requests != 4 {
		t.Errorf("got %v in %d requests, want [n199] in 4", got, requests)
	}
	read := 0
	for _, q := range rq.take() {
		read += q.Limit
	}
	if read > 200 {
		t.Errorf("read %d entries for 200 stored", read)
	}
	// Limits above the maximum are capped.
	seedMany(t, st, 1100)
	if page := ts.reports("limit=5000"); len(page.Entries) != report.MaxLimit || *page.Next == "" {
		t.Errorf("limit=5000: %d entries, next %q", len(page.Entries), *page.Next)
	}
}

func TestReportCSV(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		seedReports(t, st, reportSeeds)
		err := st.AppendReport(context.Background(), store.ReportEntry{
			Time: reportT0.Add(-time.Minute), User: "=HYPERLINK(\"http://evil\")", App: "bitbucket", Operation: "update",
			Status: "success", HTTPStatus: 200, Detail: "line one\nline \"two\", with comma", Attempt: 2, RequestID: "req-1",
			Changes: []store.AttrChange{{Attr: "active", Old: true, New: false}, {Attr: "emails", New: []any{"a@x.example"}},
				{Attr: "title", Old: "Dev", New: "Lead"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, st, withAdmin(st))
		for _, hdr := range [][]string{
			{"Accept", "text/csv"},
			{"Accept", "text/html, text/csv;q=0.9"},
			{"Accept", "application/json"}, // format wins
		} {
			query := "/admin/reports?limit=2"
			if hdr[1] == "application/json" {
				query += "&format=csv"
			}
			r := ts.adminGet(query, hdr...)
			if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
				t.Fatalf("%v: status %d, Content-Type %q: %s", hdr, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			if r.Header.Get(HeaderNextCursor) == "" {
				t.Errorf("%v: no next cursor header", hdr)
			}
			recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 3 || !slices.Equal(recs[0], report.CSVHeader) {
				t.Fatalf("csv %q", recs)
			}
			row := map[string]string{}
			for i, h := range recs[0] {
				row[h] = recs[1][i]
			}
			want := map[string]string{
				"time": "2026-11-27T11:59:00Z", "user": `'=HYPERLINK("http://evil")`, "app": "bitbucket", "operation": "update",
				"status": "success", "httpStatus": "200", "detail": "line one\nline \"two\", with comma", "attempt": "2",
				"requestId": "req-1", "changes": `active: true → false; emails: (none) → ["a@x.example"]; title: Dev → Lead`,
			}
			for k, v := range want {
				if row[k] != v {
					t.Errorf("%v: column %s = %q, want %q", hdr, k, row[k], v)
				}
			}
			if recs[2][csvIndex("detail")] != "e01" || recs[2][csvIndex("httpStatus")] != "201" {
				t.Errorf("second row %q", recs[2])
			}
		}
		// JSON is the default, and wins when preferred.
		for _, accept := range []string{"", "*/*", "application/json, text/csv;q=0.5"} {
			r := ts.adminGet("/admin/reports?limit=1", "Accept", accept)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Accept %q: Content-Type %q", accept, r.Header.Get("Content-Type"))
			}
		}
		// The CSV of the last page has a header and no next.
		r := ts.adminGet("/admin/reports?user=nobody", "Accept", "text/csv")
		if string(r.Body) != strings.Join(report.CSVHeader, ",")+"\n" || r.Header.Get(HeaderNextCursor) != "" {
			t.Errorf("empty csv %q, next %q", r.Body, r.Header.Get(HeaderNextCursor))
		}
	})
}

// csvIndex returns the column of name in report.CSVHeader.
func csvIndex(name string) int { return slices.Index(report.CSVHeader, name) }

func TestReportResponsesAreNotCached(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st, withAdmin(st, "bitbucket"))
	for _, p := range []string{"/admin/reports", "/admin/status"} {
		if r := ts.adminGet(p); r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, r.Header.Get("Cache-Control"))
		}
	}
}

// pingFailing is a store whose Ping fails.
type pingFailing struct{ AdminStore }

func (pingFailing) Ping(context.Context) error { return errors.New("dial tcp: connection refused") }

func TestAdminStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ctx := context.Background()
		since := reportT0.Add(-time.Hour)
		b, _ := json.Marshal(outbound.AppStatus{Failing: true, Since: since, LastError: "401 API key expired"})
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(st.PutState(ctx, store.AppStatusKey("bitbucket"), b))
		must(st.PutState(ctx, "import/bitbucket/last", []byte(`{"run":"r-7","linked":12,"drift":1}`)))
		must(st.Enqueue(ctx, store.Mark{App: "bitbucket", Key: "user:1", Due: reportT0},
			store.Mark{App: "bitbucket", Key: "user:2", Due: reportT0}, store.Mark{App: "bitbucket", Key: "user:3", Due: reportT0}))
		must(st.PutState(ctx, "import/broken/last", []byte(`not json`)))

		ts := startServer(t, st, withAdmin(st, "bitbucket", "jira", "broken"))
		r := ts.adminGet("/admin/status")
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		var got AdminStatus
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if !got.Store.Reachable || !got.Time.Equal(reportT0) || len(got.Apps) != 3 {
			t.Fatalf("status %s", r.Body)
		}
		bb, jira, broken := got.Apps[0], got.Apps[1], got.Apps[2]
		if bb.Name != "bitbucket" || bb.QueueDepth == nil || *bb.QueueDepth != 3 || !bb.Failing || bb.Since == nil ||
			!bb.Since.Equal(since) || bb.LastError != "401 API key expired" ||
			string(bb.LastImport) != `{"run":"r-7","linked":12,"drift":1}` || len(bb.Errors) != 0 {
			t.Errorf("bitbucket %+v", bb)
		}
		if jira.Name != "jira" || jira.QueueDepth == nil || *jira.QueueDepth != 0 || jira.Failing || jira.Since != nil ||
			jira.LastImport != nil || len(jira.Errors) != 0 {
			t.Errorf("jira %+v", jira)
		}
		if broken.LastImport != nil || !slices.Equal(broken.Errors, []string{"last import record unreadable"}) {
			t.Errorf("broken %+v", broken)
		}
		// The raw JSON keeps queueDepth even when zero.
		if !bytes.Contains(r.Body, []byte(`"queueDepth":0`)) {
			t.Errorf("body %s", r.Body)
		}

		down := startServer(t, st, withAdmin(pingFailing{st}, "bitbucket"))
		r = down.adminGet("/admin/status")
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("unreachable store: status %d", r.Status)
		}
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Store.Reachable || len(got.Apps) != 1 || got.Apps[0].QueueDepth != nil || len(got.Apps[0].Errors) == 0 ||
			bytes.Contains(r.Body, []byte("connection refused")) {
			t.Errorf("unreachable store: %s", r.Body)
		}
	})
}

func TestAdminAuthSeparation(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st, withAdmin(st, "bitbucket"))
	for _, p := range []string{"/admin/reports", "/admin/status", "/admin/nosuch"} {
		for _, auth := range []string{"", "Bearer " + testToken, testToken, "Bearer " + adminToken + "x"} {
			r := ts.adminGet(p, "Authorization", auth)
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with %q: status %d", p, auth, r.Status)
			}
		}
	}
	if r := ts.adminGet("/admin/reports"); r.Status != http.StatusOK {
		t.Errorf("admin token: %d", r.Status)
	}
	// The IdP endpoints do not take the admin token.
	for _, p := range []string{"/scim/v2/Users", "/scim/v2/Groups", "/scim/v2/ServiceProviderConfig"} {
		if r := ts.adminGet(p); r.Status != http.StatusUnauthorized {
			t.Errorf("%s with the admin token: %d", p, r.Status)
		}
		if r := ts.adminGet(p, "Authorization", "Bearer "+testToken); r.Status != http.StatusOK {
			t.Errorf("%s with the IdP token: %d", p, r.Status)
		}
	}
	// Without admin credentials the admin API is closed.
	closed := startServer(t, st, func(o *Options) { o.Admin = AdminOptions{Store: st} })
	for _, auth := range []string{"", "Bearer " + testToken, "Bearer " + adminToken} {
		if r := closed.adminGet("/admin/reports", "Authorization", auth); r.Status != http.StatusUnauthorized {
			t.Errorf("no admin credentials, %q: %d", auth, r.Status)
		}
	}
	// Without an admin store the endpoints do not exist.
	none := startServer(t, st, func(o *Options) {
		o.AdminAuth = NewCredentials([]StaticToken{{Name: "ops", Value: adminToken}}, nil, nil, nil)
	})
	none.adminGet("/admin/reports").scimErr(t, http.StatusNotFound, "")
}

func TestAdminOIDCRequiredGroup(t *testing.T) {
	is := oidctest.New(t, "")
	const aud = "scim-gateway-admin"
	st := backends["bolt"](t)
	ts := startServer(t, st, func(o *Options) {
		withAdmin(st)(o)
		o.AdminAuth = NewCredentials(nil, []OIDCIssuer{{Name: "corp-sso", Issuer: is.IssuerID, Audiences: []string{aud},
			RequiredClaims: map[string]string{"groups": "scim-admins"}}}, nil, func() time.Time { return reportT0 })
		o.IDPAuth = NewCredentials([]StaticToken{{Name: "okta", Value: testToken}},
			[]OIDCIssuer{{Name: "entra", Issuer: is.IssuerID, Audiences: []string{"scim-idp"}}}, nil, func() time.Time { return reportT0 })
	})
	tok := func(aud string, claims map[string]any) string { return is.Token(t, aud, reportT0, time.Hour, claims) }
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"admin group", tok(aud, map[string]any{"groups": []string{"staff", "scim-admins"}}), 200},
		{"admin group as a string", tok(aud, map[string]any{"groups": "scim-admins"}), 200},
		{"other groups", tok(aud, map[string]any{"groups": []string{"staff"}}), 401},
		{"no groups claim", tok(aud, nil), 401},
		{"IdP audience", tok("scim-idp", map[string]any{"groups": []string{"scim-admins"}}), 401},
		{"expired", is.Token(t, aud, reportT0.Add(-2*time.Hour), time.Hour, map[string]any{"groups": "scim-admins"}), 401},
		{"foreign key", is.ForeignToken(t, aud, reportT0, time.Hour), 401},
	} {
		if r := ts.adminGet("/admin/reports", "Authorization", "Bearer "+tc.token); r.Status != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.want, r.Body)
		}
	}
	// An admin JWT does not open the IdP endpoints, and an IdP JWT does
	// not open the admin ones.
	admin := tok(aud, map[string]any{"groups": "scim-admins"})
	if r := ts.adminGet("/scim/v2/Users", "Authorization", "Bearer "+admin); r.Status != http.StatusUnauthorized {
		t.Errorf("admin JWT on /scim/v2: %d", r.Status)
	}
	idp := tok("scim-idp", nil)
	if r := ts.adminGet("/scim/v2/Users", "Authorization", "Bearer "+idp); r.Status != http.StatusOK {
		t.Errorf("IdP JWT on /scim/v2: %d", r.Status)
	}
	if r := ts.adminGet("/admin/status", "Authorization", "Bearer "+idp); r.Status != http.StatusUnauthorized {
		t.Errorf("IdP JWT on /admin: %d", r.Status)
	}
}

// BenchmarkReportQuery measures a report query by user (report.Request.Run
// against the store, as GET /admin/reports?user=…&from=30d runs it)
// against logs of 10,000 and 1,000,000 entries. The queried user has the
// same 100 entries in both, scattered among the others', so a query that
// reads only the user's index costs the same at both sizes: time-vs-10k
// and cpu-vs-10k (the 1,000,000-entry ns/op and cpu-µs/op divided by the
// 10,000-entry ones) stay near 1. cpu-µs/op is this process's CPU time,
// plus the Redis server's for redis: steadier than ns/op on a shared
// machine. Each log is populated directly with AppendReport in batches
// of 10,000 (1,000,000 entries: about 25 s for bolt, 40 s for Redis on 2
// cores); the 1,000,000-entry logs are skipped in -short mode.
func BenchmarkReportQuery(b *testing.B) {
	sizes := []int{10_000, 1_000_000}
	for _, backend := range []string{"bolt", "redis"} {
		b.Run(backend, func(b *testing.B) {
			type cost struct{ ns, cpu float64 }
			base := cost{}
			for _, n := range sizes {
				b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
					if n > 100_000 && testing.Short() {
						b.Skip("-short: no 1,000,000-entry log")
					}
					st := benchOpenStore(b, backend)
					cpu := benchCPU(benchProcessCPU)
					if backend == "redis" {
						opts, err := redis.ParseURL(redistest.URL(b))
						if err != nil {
							b.Fatal(err)
						}
						c := redis.NewClient(opts)
						b.Cleanup(func() { _ = c.Close() })
						cpu = sumCPU(benchProcessCPU, benchRedisCPU(c))
					}
					start := time.Now()
					populateReports(b, st, n)
					b.Logf("%s: appended %d entries in %s", backend, n, time.Since(start).Round(time.Millisecond))
					req, err := report.Parse(url.Values{"user": {"bench-target@example.com"}, "from": {"30d"}}, reportT0)
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					cpu0, cpuErr := cpu(ctx)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						page, err := req.Run(ctx, st, 0)
						if err != nil {
							b.Fatal(err)
						}
						if len(page.Entries) != benchTargetEntries {
							b.Fatalf("%d entries", len(page.Entries))
						}
					}
					b.StopTimer()
					c := cost{ns: float64(b.Elapsed().Nanoseconds()) / float64(b.N)}
					if cpu1, err := cpu(ctx); err == nil && cpuErr == nil {
						c.cpu = float64((cpu1 - cpu0).Microseconds()) / float64(b.N)
						b.ReportMetric(c.cpu, "cpu-µs/op")
					}
					if n == sizes[0] {
						base = c
					} else if base.ns > 0 {
						b.ReportMetric(c.ns/base.ns, "time-vs-10k")
						if base.cpu > 0 && c.cpu > 0 {
							b.ReportMetric(c.cpu/base.cpu, "cpu-vs-10k")
						}
					}
				})
			}
		})
	}
}

const benchTargetEntries = 100

// populateReports appends n entries over the 30 days before reportT0:
// benchTargetEntries of them for bench-target@example.com, spread evenly,
// and the rest for 2,000 other users in five apps.
func populateReports(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	const batch = 10_000
	span := 30 * 24 * time.Hour
	step := span / time.Duration(n)
	every := n / benchTargetEntries
	es := make([]store.ReportEntry, 0, batch)
	apps := []string{"bitbucket", "jira", "confluence", "slack", "github"}
	flush := func() {
		if err := st.AppendReport(context.Background(), es...); err != nil {
			tb.Fatal(err)
		}
		es = es[:0]
	}
	for i := range n {
		e := store.ReportEntry{
			Time:      reportT0.Add(-span + time.Duration(i)*step),
			User:      fmt.Sprintf("user%04d@example.com", i%2000),
			App:       apps[i%len(apps)],
			Operation: "update", Status: "success", HTTPStatus: 200, ResourceType: "User",
			ResourceID: fmt.Sprintf("%032x", i), Attempt: 1,
			Detail:  "updated 2 attributes",
			Changes: []store.AttrChange{{Attr: "title", Old: "Engineer", New: "Senior Engineer"}},
		}
		if i%every == every/2 {
			e.User = "bench-target@example.com"
		}
		es = append(es, e)
		if len(es) == batch {
			flush()
		}
	}
	if len(es) > 0 {
		flush()
	}
}
