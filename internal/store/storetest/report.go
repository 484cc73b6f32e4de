package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func reportTests() []test {
	return []test{
		{"RoundTrip", testReportRoundTrip},
		{"IDsAssignedByStore", testReportIDs},
		{"NewestFirst", testReportNewestFirst},
		{"Filters", testReportFilters},
		{"Paging", testReportPaging},
		{"PagingWithAppends", testReportPagingWithAppends},
		{"DefaultLimit", testReportDefaultLimit},
		{"PruneByAge", testReportPruneByAge},
		{"PruneByCount", testReportPruneByCount},
		{"PruneByAgeThenCount", testReportPruneBoth},
		{"PruneIndexes", testReportPruneIndexes},
		{"ReturnsCopies", testReportCopies},
		{"AppendNothing", testReportAppendNothing},
		{"WithWrite", testReportWithWrite},
		{"NotWithFailedWrite", testReportNotWithFailedWrite},
		{"WriteOfReportsOnly", testReportWriteOfReportsOnly},
	}
}

// Report entries carry a unique tag in RequestID so the suite can name
// them; the store assigns the IDs.

func entry(tag string, d time.Duration, user, app, op, status string) store.ReportEntry {
	return store.ReportEntry{
		Time: at(d), User: user, App: app, Operation: op, Status: status,
		ResourceType: "User", ResourceID: "id-" + tag, RequestID: tag,
	}
}

func appendReports(t testing.TB, s store.Store, entries ...store.ReportEntry) {
	t.Helper()
	noErr(t, s.AppendReport(t.Context(), entries...), "append %d report entries", len(entries))
}

func tags(entries []store.ReportEntry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.RequestID)
	}
	return out
}

// reportModel is the suite's own account of a report log.
type reportModel struct {
	entries []store.ReportEntry // in append order
}

func (m *reportModel) add(es ...store.ReportEntry) { m.entries = append(m.entries, es...) }

// ordered returns the entries oldest first: by Time, then append order.
func (m *reportModel) ordered() []store.ReportEntry {
	out := slices.Clone(m.entries)
	slices.SortStableFunc(out, func(a, b store.ReportEntry) int { return a.Time.Compare(b.Time) })
	return out
}

func reportMatches(q store.ReportQuery, e store.ReportEntry) bool {
	switch {
	case q.User != "" && strings.ToLower(q.User) != strings.ToLower(e.User):
		return false
	case q.App != "" && strings.ToLower(q.App) != strings.ToLower(e.App):
		return false
	case q.Operation != "" && q.Operation != e.Operation:
		return false
	case q.Status != "" && q.Status != e.Status:
		return false
	case !q.From.IsZero() && e.Time.Before(q.From):
		return false
	case !q.To.IsZero() && !e.Time.Before(q.To):
		return false
	}
	return true
}

// query returns the tags q should find, newest first.
func (m *reportModel) query(q store.ReportQuery) []string {
	var out []string
	ord := m.ordered()
	for i := len(ord) - 1; i >= 0; i-- {
		if reportMatches(q, ord[i]) {
			out = append(out, ord[i].RequestID)
		}
	}
	return out
}

// prune applies PruneReports to the model and returns how many it removed.
func (m *reportModel) prune(before time.Time, maxCount int) int {
	ord := m.ordered()
	keep := ord[:0:0]
	for _, e := range ord {
		if before.IsZero() || !e.Time.Before(before) {
			keep = append(keep, e)
		}
	}
	if maxCount > 0 && len(keep) > maxCount {
		keep = keep[len(keep)-maxCount:]
	}
	alive := map[string]bool{}
	for _, e := range keep {
		alive[e.RequestID] = true
	}
	n := len(m.entries)
	m.entries = slices.DeleteFunc(m.entries, func(e store.ReportEntry) bool { return !alive[e.RequestID] })
	return n - len(m.entries)
}

// queryPages runs q to the end in pages of limit and returns the tags. It
// checks the paging rules: pages hold at most limit entries, a page with a
// next cursor is full, a next cursor leads to a non-empty page, and the last
// page's cursor is "".
func queryPages(t testing.TB, s store.Store, q store.ReportQuery, limit int) []string {
	t.Helper()
	q.Limit = limit
	q.Cursor = ""
	var out []string
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("query %+v: more than 1000 pages", q)
		}
		es, next, err := s.QueryReports(t.Context(), q)
		noErr(t, err, "query %+v", q)
		if len(es) > limit {
			t.Fatalf("query %+v: page of %d entries, limit %d", q, len(es), limit)
		}
		if q.Cursor != "" && len(es) == 0 {
			t.Fatalf("query %+v: the previous page's cursor led to an empty page; it should have been \"\"", q)
		}
		if next != "" && len(es) != limit {
			t.Fatalf("query %+v: page of %d entries with a next cursor, want full pages of %d", q, len(es), limit)
		}
		out = append(out, tags(es)...)
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

// wantQuery checks q against the model, in pages of each of limits.
func wantQuery(t testing.TB, s store.Store, m *reportModel, q store.ReportQuery, limits ...int) {
	t.Helper()
	want := m.query(q)
	for _, limit := range limits {
		if got := queryPages(t, s, q, limit); !slices.Equal(got, want) {
			t.Fatalf("query %s in pages of %d:\n got %q\nwant %q", describe(q), limit, got, want)
		}
	}
}

func describe(q store.ReportQuery) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("user", q.User)
	add("app", q.App)
	add("op", q.Operation)
	add("status", q.Status)
	if !q.From.IsZero() {
		add("from", "t0"+q.From.Sub(t0).String())
	}
	if !q.To.IsZero() {
		add("to", "t0"+q.To.Sub(t0).String())
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func testReportRoundTrip(t *testing.T, s store.Store) {
	in := store.ReportEntry{
		ID:           "chosen-by-caller",
		Time:         at(1234 * time.Millisecond),
		User:         "Zoë@Example.com",
		ResourceType: "User",
		ResourceID:   "2819c223",
		App:          "bitbucket",
		Operation:    "update",
		Status:       "failure",
		Changes: []store.AttrChange{
			{Attr: "active", Old: true, New: false},
			{Attr: "emails", Old: []any{"a@example.com"}, New: map[string]any{"value": "b@example.com", "primary": true}},
			{Attr: "name.givenName", New: "Zoë"},
			{Attr: "title", Old: 3.5},
		},
		HTTPStatus: 429,
		Detail:     "rate limited; Retry-After: 30",
		RequestID:  "req-1",
		RunID:      "run-7",
		Attempt:    2,
	}
	appendReports(t, s, in)
	es, next, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query")
	if len(es) != 1 || next != "" {
		t.Fatalf("query = %d entries, cursor %q; want 1 entry, no cursor", len(es), next)
	}
	got := es[0]
	if got.ID == "" || got.ID == in.ID {
		t.Errorf("ID = %q; the store assigns IDs", got.ID)
	}
	if !got.Time.Equal(in.Time) {
		t.Errorf("Time = %v, want %v", got.Time, in.Time)
	}
	if gc, wc := mustJSON(got.Changes), mustJSON(in.Changes); !jsonEqual(gc, wc) {
		t.Errorf("Changes = %s, want %s (compared as JSON)", gc, wc)
	}
	got.ID, got.Time, got.Changes = in.ID, in.Time, in.Changes
	if gj, wj := mustJSON(got), mustJSON(in); string(gj) != string(wj) {
		t.Errorf("entry = %s\nwant %s", gj, wj)
	}
}

// testReportIDs: every entry gets its own ID, whatever the caller put in
// it, and identical entries are all kept.
func testReportIDs(t *testing.T, s store.Store) {
	e := entry("same", 0, "alice", "bitbucket", "create", "success")
	e.ID = "dup"
	appendReports(t, s, e, e)
	appendReports(t, s, e)
	es, _, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query")
	if len(es) != 3 {
		t.Fatalf("query = %d entries, want 3 identical entries kept", len(es))
	}
	ids := map[string]bool{}
	for _, e := range es {
		if e.ID == "" || ids[e.ID] {
			t.Fatalf("IDs %q are not distinct and non-empty", []string{es[0].ID, es[1].ID, es[2].ID})
		}
		ids[e.ID] = true
	}
}

// testReportNewestFirst: queries return entries by Time, newest first,
// whatever order they were appended in; equal times keep append order (the
// later appended is the newer), within one call and across calls.
func testReportNewestFirst(t *testing.T, s store.Store) {
	m := &reportModel{}
	batches := [][]store.ReportEntry{
		{entry("A", 5*time.Second, "u", "a", "create", "success"), entry("B", 3*time.Second, "u", "a", "create", "success"), entry("C", 5*time.Second, "u", "a", "create", "success")},
		{entry("D", 1*time.Second, "u", "a", "create", "success")},
		{entry("E", 5*time.Second, "u", "a", "create", "success"), entry("F", 9*time.Second, "u", "a", "create", "success")},
		{entry("G", 3*time.Second, "u", "a", "create", "success")},
	}
	for _, b := range batches {
		appendReports(t, s, b...)
		m.add(b...)
	}
	want := []string{"F", "E", "C", "A", "G", "B", "D"}
	if got := m.query(store.ReportQuery{}); !slices.Equal(got, want) {
		t.Fatalf("suite model = %q, want %q", got, want)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 1, 3, 100)
	wantQuery(t, s, m, store.ReportQuery{User: "U"}, 2, 100)
	wantQuery(t, s, m, store.ReportQuery{App: "A"}, 2, 100)
}

// reportDataset is a log of 48 entries over 20 distinct seconds, appended
// out of time order in batches of 1 to 5, with repeating users (one in
// mixed case, some empty), apps, operations and statuses.
func reportDataset(t testing.TB, s store.Store) *reportModel {
	t.Helper()
	users := []string{"Alice@Example.com", "bob@example.com", "", "carol"}
	apps := []string{"bitbucket", "Jira", ""}
	ops := []string{"create", "update", "deactivate"}
	statuses := []string{"success", "failure", "skipped"}
	var all []store.ReportEntry
	for i := range 48 {
		all = append(all, entry(fmt.Sprintf("e%02d", i), time.Duration((i*7)%20)*time.Second,
			users[i%4], apps[i%3], ops[(i/2)%3], statuses[(i/3)%3]))
	}
	m := &reportModel{}
	for i, n := 0, 1; i < len(all); n = n%5 + 1 {
		j := min(i+n, len(all))
		appendReports(t, s, all[i:j]...)
		m.add(all[i:j]...)
		i = j
	}
	return m
}

// testReportFilters: each filter alone and combined, each in pages.
func testReportFilters(t *testing.T, s store.Store) {
	m := reportDataset(t, s)
	queries := []store.ReportQuery{
		{},
		{User: "alice@EXAMPLE.COM"},
		{User: "Bob@Example.com"},
		{App: "jira"},
		{App: "BITBUCKET"},
		{Operation: "update"},
		{Status: "failure"},
		{From: at(5 * time.Second)},
		{To: at(5 * time.Second)},
		{From: at(3 * time.Second), To: at(9 * time.Second)},
		{From: at(7 * time.Second), To: at(7*time.Second + time.Millisecond)},
		{User: "bob@example.com", App: "bitbucket", Status: "success"},
		{User: "ALICE@example.com", From: at(2 * time.Second), To: at(15 * time.Second), Operation: "create"},
		{App: "Jira", To: at(10 * time.Second)},
		{User: "carol", App: "jira", Operation: "create", Status: "skipped", From: at(1 * time.Second), To: at(19 * time.Second)},
	}
	for _, q := range queries {
		if len(m.query(q)) == 0 {
			t.Fatalf("suite bug: query %s matches nothing in the dataset", describe(q))
		}
		wantQuery(t, s, m, q, 1, 4, 100)
	}
	empty := []store.ReportQuery{
		{User: "nobody"},
		{App: "nothing"},
		{Operation: "delete"},
		{User: "alice", App: "bitbucket"}, // a prefix is not a match
		{From: at(20 * time.Second)},
		{To: t0},
		{From: at(5 * time.Second), To: at(5 * time.Second)},
	}
	for _, q := range empty {
		es, next, err := s.QueryReports(t.Context(), q)
		noErr(t, err, "query %s", describe(q))
		if len(es) != 0 || next != "" {
			t.Errorf("query %s = %q, cursor %q; want nothing", describe(q), tags(es), next)
		}
	}
}

// testReportPaging: pages of every size return every entry once, and the
// last page has no cursor, also when it is exactly full.
func testReportPaging(t *testing.T, s store.Store) {
	m := &reportModel{}
	for i := range 25 {
		e := entry(fmt.Sprintf("p%02d", i), time.Duration(i)*time.Second, []string{"u1", "u2"}[i%2], "a", "create", "success")
		appendReports(t, s, e)
		m.add(e)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 1, 5, 7, 24, 25, 26)
	wantQuery(t, s, m, store.ReportQuery{User: "u1"}, 1, 4, 13, 14)
	wantQuery(t, s, m, store.ReportQuery{From: at(3 * time.Second), To: at(20 * time.Second)}, 1, 6, 17)

	// Exactly full: no cursor.
	es, next, err := s.QueryReports(t.Context(), store.ReportQuery{Limit: 25})
	noErr(t, err, "query")
	if len(es) != 25 || next != "" {
		t.Fatalf("query limit 25 of 25 = %d entries, cursor %q; want 25 and no cursor", len(es), next)
	}
}

// testReportPagingWithAppends: entries appended between pages do not make
// a later page repeat or skip any entry of the original log. The cases share
// one log, so each checks only its own originals (by tag prefix), but no
// entry at all may come twice.
func testReportPagingWithAppends(t *testing.T, s store.Store) {
	for _, q := range []store.ReportQuery{{}, {User: "U1"}, {App: "a"}} {
		t.Run(describe(q), func(t *testing.T) {
			prefix := strings.ToLower(describe(q))
			var orig []store.ReportEntry
			for i := range 20 {
				orig = append(orig, entry(fmt.Sprintf("%s-o%02d", prefix, i), time.Duration(i+1)*time.Second, []string{"u1", "u2"}[i%2], "a", "create", "success"))
			}
			appendReports(t, s, orig...)
			m := &reportModel{}
			m.add(orig...)
			want := m.query(q)

			q.Limit = 3
			var got []store.ReportEntry
			for page := 0; ; page++ {
				es, next, err := s.QueryReports(t.Context(), q)
				noErr(t, err, "query page %d", page)
				got = append(got, es...)
				if next == "" {
					break
				}
				if page > 100 {
					t.Fatal("more than 100 pages")
				}
				q.Cursor = next
				// Newer entries, one at the newest original time, and one
				// older than every original.
				appendReports(t, s,
					entry(fmt.Sprintf("%s-n%02d-a", prefix, page), time.Duration(30+page)*time.Second, "u1", "a", "create", "success"),
					entry(fmt.Sprintf("%s-n%02d-b", prefix, page), 20*time.Second, "u1", "a", "create", "success"),
					entry(fmt.Sprintf("%s-n%02d-c", prefix, page), 0, "u1", "a", "create", "success"),
				)
			}
			seen := map[string]bool{}
			var origGot []string
			for i, e := range got {
				if seen[e.RequestID] {
					t.Fatalf("entry %q returned twice across pages", e.RequestID)
				}
				seen[e.RequestID] = true
				if i > 0 && e.Time.After(got[i-1].Time) {
					t.Fatalf("entry %q (t0+%v) after %q (t0+%v): pages went back to newer entries",
						e.RequestID, e.Time.Sub(t0), got[i-1].RequestID, got[i-1].Time.Sub(t0))
				}
				if strings.HasPrefix(e.RequestID, prefix+"-o") {
					origGot = append(origGot, e.RequestID)
				}
			}
			if !slices.Equal(origGot, want) {
				t.Fatalf("original entries across pages = %q, want %q", origGot, want)
			}
		})
	}
}

// testReportDefaultLimit: a Limit <= 0 means 100.
func testReportDefaultLimit(t *testing.T, s store.Store) {
	var es []store.ReportEntry
	for i := range 105 {
		es = append(es, entry(fmt.Sprintf("d%03d", i), time.Duration(i)*time.Millisecond, "u", "a", "create", "success"))
	}
	appendReports(t, s, es...)
	got, next, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query with limit 0")
	if len(got) != 100 || next == "" {
		t.Fatalf("query with limit 0 = %d entries, cursor %q; want 100 and a cursor", len(got), next)
	}
	got, next, err = s.QueryReports(t.Context(), store.ReportQuery{Cursor: next, Limit: -1})
	noErr(t, err, "query with limit -1")
	if len(got) != 5 || next != "" {
		t.Fatalf("second page with limit -1 = %d entries, cursor %q; want 5, no cursor", len(got), next)
	}
	if got[4].RequestID != "d000" {
		t.Errorf("last entry = %q, want d000", got[4].RequestID)
	}
}

// tenEntries appends entries r01..r10 at t0+1s..t0+10s, users u1/u2 and
// apps a1/a2 alternating.
func tenEntries(t testing.TB, s store.Store) *reportModel {
	t.Helper()
	m := &reportModel{}
	for i := 1; i <= 10; i++ {
		e := entry(fmt.Sprintf("r%02d", i), time.Duration(i)*time.Second,
			[]string{"u1", "U2"}[i%2], []string{"a1", "A2"}[i/2%2], "create", "success")
		appendReports(t, s, e)
		m.add(e)
	}
	return m
}

func prune(t testing.TB, s store.Store, m *reportModel, before time.Time, maxCount, want int) {
	t.Helper()
	if got := m.prune(before, maxCount); got != want {
		t.Fatalf("suite bug: model pruned %d, want %d", got, want)
	}
	n, err := s.PruneReports(t.Context(), before, maxCount)
	noErr(t, err, "prune")
	if n != want {
		t.Fatalf("prune(before t0%+v, max %d) removed %d, want %d", before.Sub(t0), maxCount, n, want)
	}
}

// testReportPruneByAge: entries older than before go; one at before stays.
func testReportPruneByAge(t *testing.T, s store.Store) {
	m := tenEntries(t, s)
	prune(t, s, m, time.Time{}, 0, 0)
	prune(t, s, m, at(4*time.Second), 0, 3)
	wantQuery(t, s, m, store.ReportQuery{}, 3, 100)
	if got := m.query(store.ReportQuery{}); got[len(got)-1] != "r04" {
		t.Fatalf("suite bug: oldest survivor %q", got[len(got)-1])
	}
	prune(t, s, m, at(4*time.Second), 0, 0)
	prune(t, s, m, at(time.Hour), 0, 7)
	wantQuery(t, s, m, store.ReportQuery{}, 100)
}

// testReportPruneByCount: the oldest beyond maxCount go; among equal times
// the earlier appended is the older.
func testReportPruneByCount(t *testing.T, s store.Store) {
	m := tenEntries(t, s)
	prune(t, s, m, time.Time{}, 20, 0)
	prune(t, s, m, time.Time{}, 4, 6)
	wantQuery(t, s, m, store.ReportQuery{}, 3, 100)

	same := []store.ReportEntry{
		entry("x1", time.Minute, "u1", "a1", "create", "success"),
		entry("x2", time.Minute, "u1", "a1", "create", "success"),
	}
	appendReports(t, s, same...)
	appendReports(t, s, entry("x3", time.Minute, "u1", "a1", "create", "success"))
	m.add(same...)
	m.add(entry("x3", time.Minute, "u1", "a1", "create", "success"))
	prune(t, s, m, time.Time{}, 2, 5)
	if got := m.query(store.ReportQuery{}); !slices.Equal(got, []string{"x3", "x2"}) {
		t.Fatalf("suite bug: survivors %q", got)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 1, 100)
}

// testReportPruneBoth: age first, then count.
func testReportPruneBoth(t *testing.T, s store.Store) {
	m := tenEntries(t, s)
	prune(t, s, m, at(4*time.Second), 5, 5)
	if got := m.query(store.ReportQuery{}); !slices.Equal(got, []string{"r10", "r09", "r08", "r07", "r06"}) {
		t.Fatalf("suite bug: survivors %q", got)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 2, 100)
}

// testReportPruneIndexes: pruning removes entries from the user and app
// indexes too, and the indexes keep working for new entries.
func testReportPruneIndexes(t *testing.T, s store.Store) {
	m := tenEntries(t, s)
	queries := []store.ReportQuery{
		{User: "u1"}, {User: "u2"}, {App: "a1"}, {App: "a2"},
		{User: "U1", App: "A1"}, {User: "u2", From: at(8 * time.Second)},
	}
	prune(t, s, m, at(3*time.Second), 0, 2)
	for _, q := range queries {
		wantQuery(t, s, m, q, 1, 100)
	}
	prune(t, s, m, time.Time{}, 3, 5)
	for _, q := range queries {
		wantQuery(t, s, m, q, 1, 100)
	}
	more := []store.ReportEntry{
		entry("n1", 2*time.Second, "u1", "a1", "update", "success"),
		entry("n2", time.Hour, "u2", "a2", "update", "failure"),
	}
	appendReports(t, s, more...)
	m.add(more...)
	for _, q := range queries {
		wantQuery(t, s, m, q, 1, 100)
	}
}

// testReportCopies: a returned entry's Changes belong to the caller.
func testReportCopies(t *testing.T, s store.Store) {
	e := entry("c", 0, "u", "a", "update", "success")
	e.Changes = []store.AttrChange{{Attr: "title", Old: "a", New: "b"}}
	appendReports(t, s, e)
	e.Changes[0].Attr = "scribbled"
	es, _, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query")
	if len(es) != 1 || len(es[0].Changes) != 1 {
		t.Fatalf("query = %+v", es)
	}
	if es[0].Changes[0].Attr != "title" {
		t.Fatalf("stored change attr = %q after the caller changed its entry", es[0].Changes[0].Attr)
	}
	es[0].Changes[0].Attr = "scribbled"
	es, _, err = s.QueryReports(t.Context(), store.ReportQuery{User: "u"})
	noErr(t, err, "query")
	if es[0].Changes[0].Attr != "title" {
		t.Fatalf("stored change attr = %q after the caller changed a result", es[0].Changes[0].Attr)
	}
}

func testReportAppendNothing(t *testing.T, s store.Store) {
	noErr(t, s.AppendReport(t.Context()), "append nothing")
	es, next, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query an empty log")
	if len(es) != 0 || next != "" {
		t.Fatalf("empty log query = %d entries, cursor %q", len(es), next)
	}
	n, err := s.PruneReports(t.Context(), at(time.Hour), 1)
	noErr(t, err, "prune an empty log")
	if n != 0 {
		t.Fatalf("prune of an empty log removed %d", n)
	}
}

// testReportWithWrite: Write.Reports are appended with the write, with IDs
// from the same sequence as AppendReport's (equal times keep append order
// across both), queryable by user and by app.
func testReportWithWrite(t *testing.T, s store.Store) {
	m := &reportModel{}
	before := entry("before", 2*time.Second, "alice", "idp:okta", "create", "failure")
	appendReports(t, s, before)
	m.add(before)

	created := entry("created", time.Second, "Alice", "IdP:Okta", "create", "success")
	created.Changes = []store.AttrChange{{Attr: "userName", New: "alice"}}
	created.HTTPStatus = 201
	other := entry("other", 2*time.Second, "bob", "app2", "create", "success")
	r, err := s.Apply(t.Context(), store.Write{
		Put:     newUser("u1", "alice"),
		Marks:   []store.Mark{{App: "app", Key: "User/u1", Due: t0}},
		Reports: []store.ReportEntry{created, other},
	})
	noErr(t, err, "create u1 with report entries")
	if r == nil || r.Version != 1 {
		t.Fatalf("create u1 = %+v, want version 1", r)
	}
	m.add(created, other)

	replaced := entry("replaced", 2*time.Second, "alice", "idp:okta", "replace", "success")
	_, err = s.Apply(t.Context(), store.Write{Put: newUser("u1", "alice"), ExpectVersion: 1, Reports: []store.ReportEntry{replaced}})
	noErr(t, err, "replace u1 with a report entry")
	m.add(replaced)
	deleted := entry("deleted", 3*time.Second, "alice", "idp:okta", "delete", "success")
	_, err = s.Apply(t.Context(), store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, Reports: []store.ReportEntry{deleted}})
	noErr(t, err, "delete u1 with a report entry")
	m.add(deleted)
	if n, err := s.QueueLen(t.Context(), "app"); err != nil || n != 1 {
		t.Errorf("QueueLen = %d, %v; the write's mark was lost", n, err)
	}

	want := []string{"deleted", "replaced", "other", "before", "created"}
	if got := m.query(store.ReportQuery{}); !slices.Equal(got, want) {
		t.Fatalf("suite model = %q, want %q", got, want)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 1, 2, 100)
	wantQuery(t, s, m, store.ReportQuery{User: "ALICE"}, 1, 100)
	wantQuery(t, s, m, store.ReportQuery{App: "idp:OKTA"}, 1, 100)
	wantQuery(t, s, m, store.ReportQuery{User: "bob", App: "app2"}, 100)
	wantQuery(t, s, m, store.ReportQuery{App: "idp:okta", Status: "success"}, 100)

	es, _, err := s.QueryReports(t.Context(), store.ReportQuery{User: "alice", Operation: "create", Status: "success"})
	noErr(t, err, "query")
	if len(es) != 1 {
		t.Fatalf("query = %q, want [created]", tags(es))
	}
	ids := map[string]bool{}
	all, _, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query")
	for _, e := range all {
		if e.ID == "" || ids[e.ID] {
			t.Fatalf("IDs of %q are not distinct and non-empty", tags(all))
		}
		ids[e.ID] = true
	}
	got := es[0]
	got.ID = ""
	if gj, wj := mustJSON(got), mustJSON(created); !jsonEqual(gj, wj) {
		t.Errorf("entry = %s\nwant %s", gj, wj)
	}
}

// testReportNotWithFailedWrite: a write whose precondition fails appends
// none of its report entries.
func testReportNotWithFailedWrite(t *testing.T, s store.Store) {
	_, err := s.Apply(t.Context(), store.Write{Put: newUser("u1", "alice")})
	noErr(t, err, "create u1")
	rep := func(tag string) []store.ReportEntry {
		return []store.ReportEntry{entry(tag, time.Second, "alice", "idp:okta", "create", "success")}
	}
	failed := []struct {
		name string
		w    store.Write
		want error
	}{
		{"create of an existing id", store.Write{Put: newUser("u1", "alice"), Reports: rep("dup-id")}, store.ErrConflict},
		{"unique key held", store.Write{Put: newUser("u2", "ALICE"), Reports: rep("dup-key")}, store.ErrConflict},
		{"stale version", store.Write{Put: newUser("u1", "alice"), ExpectVersion: 7, Reports: rep("stale")}, store.ErrVersionMismatch},
		{"replace of a missing id", store.Write{Put: newUser("u9", "zed"), ExpectVersion: 1, Reports: rep("missing")}, store.ErrNotFound},
		{"delete of a missing id", store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u9"}, Reports: rep("delete-missing")}, store.ErrNotFound},
		{"conditional delete", store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}, DeleteVersion: 3, Reports: rep("delete-stale")}, store.ErrVersionMismatch},
		{"members of a missing group", store.Write{Group: "g9", AddMembers: []string{"u1"}, Reports: rep("no-group")}, store.ErrNotFound},
	}
	for _, f := range failed {
		_, err := s.Apply(t.Context(), f.w)
		wantErr(t, err, f.want, "%s", f.name)
	}
	es, next, err := s.QueryReports(t.Context(), store.ReportQuery{})
	noErr(t, err, "query")
	if len(es) != 0 || next != "" {
		t.Fatalf("query after failed writes = %q, cursor %q; want nothing appended", tags(es), next)
	}
	if _, err := s.Get(t.Context(), store.KindUser, "u1"); err != nil {
		t.Fatalf("u1 after the failed writes: %v", err)
	}
	// The log still takes entries, after the failed writes' positions.
	appendReports(t, s, entry("after", time.Second, "alice", "idp:okta", "create", "success"))
	wantQuery(t, s, &reportModel{entries: []store.ReportEntry{entry("after", time.Second, "alice", "idp:okta", "create", "success")}},
		store.ReportQuery{User: "alice"}, 100)
}

// testReportWriteOfReportsOnly: a Write may carry report entries alone.
func testReportWriteOfReportsOnly(t *testing.T, s store.Store) {
	m := &reportModel{}
	b := []store.ReportEntry{
		entry("A", 5*time.Second, "carol", "jira", "import", "skipped"),
		entry("B", time.Second, "carol", "jira", "import", "success"),
		entry("C", 5*time.Second, "dave", "jira", "import", "success"),
	}
	r, err := s.Apply(t.Context(), store.Write{Reports: b})
	noErr(t, err, "write of report entries only")
	if r != nil {
		t.Errorf("Apply without Put returned %+v, want nil", r)
	}
	m.add(b...)
	if got, want := m.query(store.ReportQuery{}), []string{"C", "A", "B"}; !slices.Equal(got, want) {
		t.Fatalf("suite model = %q, want %q", got, want)
	}
	wantQuery(t, s, m, store.ReportQuery{}, 1, 100)
	wantQuery(t, s, m, store.ReportQuery{User: "Carol"}, 1, 100)
	wantQuery(t, s, m, store.ReportQuery{App: "JIRA", Status: "success"}, 100)
}
