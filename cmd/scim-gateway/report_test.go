package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
)

// reportStore makes a bolt store file holding entries and returns its URL
// (closed, so the command can open it).
func reportStore(t *testing.T, entries []store.ReportEntry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reports.db")
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for len(entries) > 0 {
		k := min(len(entries), 5000)
		if err := st.AppendReport(context.Background(), entries[:k]...); err != nil {
			t.Fatal(err)
		}
		entries = entries[k:]
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return "bolt://" + path
}

// cliSeeds are relative to the wall clock, which the command reads.
func cliSeeds(now time.Time) []store.ReportEntry {
	at := func(ago time.Duration) time.Time { return now.Add(-ago).Truncate(time.Second) }
	return []store.ReportEntry{
		{Time: at(5 * time.Minute), User: "alice@example.com", App: "bitbucket", Operation: "create", Status: "success", HTTPStatus: 201, Detail: "created"},
		{Time: at(20 * time.Minute), User: "bob@example.com", App: "bitbucket", Operation: "update", Status: "failure", HTTPStatus: 503, Detail: "upstream timeout"},
		{Time: at(2 * time.Hour), User: "alice@example.com", App: "jira", Operation: "update", Status: "failure", HTTPStatus: 500,
			Detail: "boom\x1b[2J\nsecond line\ttab"},
		{Time: at(3 * 24 * time.Hour), User: "alice@example.com", App: "bitbucket", Operation: "deactivate", Status: "success", HTTPStatus: 200, Detail: "old"},
	}
}

func runReport(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmdReport(context.Background(), args, &out, &errOut, envOf(env))
	return code, out.String(), errOut.String()
}

// tableRows splits a printed table into the words of each row.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "TIME ") {
		t.Fatalf("no table header:\n%s", out)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestReportCommand(t *testing.T) {
	now := time.Now()
	url := reportStore(t, cliSeeds(now))
	cases := []struct {
		args []string
		want []string // the detail column's first word, in order
	}{
		{nil, []string{"created", "upstream", "boom", "old"}},
		{[]string{"--user", "ALICE@example.com"}, []string{"created", "boom", "old"}},
		{[]string{"--app", "bitbucket", "--since", "24h"}, []string{"created", "upstream"}},
		{[]string{"--status", "failure"}, []string{"upstream", "boom"}},
		{[]string{"--operation", "update", "--since", "1h"}, []string{"upstream"}},
		{[]string{"--until", "1h"}, []string{"boom", "old"}},
		{[]string{"--filter", `httpStatus ge 500 and user sw "alice"`}, []string{"boom"}},
		{[]string{"--limit", "2"}, []string{"created", "upstream"}},
	}
	for _, tc := range cases {
		code, out, errOut := runReport(t, nil, append([]string{"--store", url}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		var got []string
		for _, r := range tableRows(t, out) {
			got = append(got, r[7]) // date, time, user, app, operation, status, http, detail...
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: details %v, want %v\n%s", tc.args, got, tc.want, out)
		}
	}
	// A row: time, user, app, operation, status, http, detail; control
	// characters do not reach the terminal.
	_, out, _ := runReport(t, nil, "--store", url, "--app", "jira")
	rows := tableRows(t, out)
	want := []string{now.Add(-2 * time.Hour).Truncate(time.Second).UTC().Format("2006-01-02"),
		now.Add(-2 * time.Hour).Truncate(time.Second).UTC().Format("15:04:05Z"),
		"alice@example.com", "jira", "update", "failure", "500", "boom", "[2J", "second", "line", "tab"}
	if len(rows) != 1 || !slices.Equal(rows[0], want) || strings.ContainsAny(out, "\x1b\t") {
		t.Errorf("row %q, want %q", rows, want)
	}
	if code, _, errOut := runReport(t, nil, "--store", url, "--user", "nobody"); code != 0 || !strings.Contains(errOut, "no report entries") {
		t.Errorf("no match: exit %d, %q", code, errOut)
	}
}

func TestReportCommandCSV(t *testing.T) {
	url := reportStore(t, cliSeeds(time.Now()))
	code, out, errOut := runReport(t, nil, "--store", url, "--csv", "--status", "failure")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || !slices.Equal(recs[0], report.CSVHeader) || recs[1][1] != "bob@example.com" || recs[2][8] != "boom\x1b[2J\nsecond line\ttab" {
		t.Errorf("csv %q", recs)
	}
}

func TestReportCommandPages(t *testing.T) {
	now := time.Now()
	es := make([]store.ReportEntry, 1100)
	for i := range es {
		es[i] = store.ReportEntry{Time: now.Add(-time.Duration(i) * time.Second), User: "u", App: "a", Operation: "update",
			Status: "success", HTTPStatus: 200, Detail: fmt.Sprintf("n%d", i)}
	}
	url := reportStore(t, es)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--limit", "1050"}, 1050},
		{[]string{"--limit", "5000"}, 1100},
		{[]string{"--limit", "5000", "--filter", `detail ew "7"`}, 110},
	} {
		code, out, errOut := runReport(t, nil, append([]string{"--store", url}, tc.args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		rows := tableRows(t, out)
		if len(rows) != tc.want {
			t.Errorf("%v: %d rows, want %d", tc.args, len(rows), tc.want)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r[7]] {
				t.Fatalf("%v: %s printed twice", tc.args, r[7])
			}
			seen[r[7]] = true
		}
	}
}

func TestReportCommandUsageErrors(t *testing.T) {
	url := reportStore(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter", `nosuch eq "x"`}, "invalidFilter"},
		{[]string{"--since", "yesterday"}, "from \"yesterday\""},
		{[]string{"--status", "broken"}, "status \"broken\""},
		{[]string{"--limit", "0"}, "--limit"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--server", "http://127.0.0.1:1"}, adminTokenEnv},
		{[]string{"--server", "http://127.0.0.1:1", "--store", url}, "drop --config and --store"},
	} {
		args := tc.args
		if !slices.Contains(args, "--server") {
			args = append([]string{"--store", url}, args...)
		}
		code, _, errOut := runReport(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, _, errOut := runReport(t, nil, "--store", "bolt://"+t.TempDir()); code != 1 || errOut == "" {
		t.Errorf("unopenable store: exit %d, %q", code, errOut)
	}
}

func TestReportCommandConfigStore(t *testing.T) {
	url := reportStore(t, cliSeeds(time.Now()))
	cfg := writeFile(t, "gw.yaml", fmt.Sprintf(`
store:
  url: %s
auth:
  idp:
    tokens:
      - name: idp
        token: report-test-token-0123456789
`, url))
	code, out, errOut := runReport(t, nil, "--config", cfg, "--user", "bob@example.com")
	if code != 0 || len(tableRows(t, out)) != 1 {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
}

func TestReportCommandServer(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "gw.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	es := cliSeeds(now)
	for i := range 1500 {
		es = append(es, store.ReportEntry{Time: now.Add(-4*24*time.Hour - time.Duration(i)*time.Second), User: "carol", App: "jira",
			Operation: "update", Status: "skipped", Detail: fmt.Sprintf("n%d", i)})
	}
	if err := st.AppendReport(context.Background(), es...); err != nil {
		t.Fatal(err)
	}
	const token = "admin-token-for-the-cli-0123456789"
	srv, err := gateway.New(gateway.Options{
		Store:     st,
		IDPAuth:   gateway.NewCredentials([]gateway.StaticToken{{Name: "idp", Value: "idp-token-0123456789abcdef"}}, nil, nil, nil),
		AdminAuth: gateway.NewCredentials([]gateway.StaticToken{{Name: "ops", Value: token}}, nil, nil, nil),
		Admin:     gateway.AdminOptions{Store: st},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	env := map[string]string{adminTokenEnv: token}

	code, out, errOut := runReport(t, env, "--server", hs.URL+"/", "--user", "alice@example.com", "--status", "failure")
	if code != 0 || len(tableRows(t, out)) != 1 || !strings.Contains(out, "boom") {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
	// Pages are followed with the window fixed.
	code, out, errOut = runReport(t, env, "--server", hs.URL, "--app", "jira", "--status", "skipped", "--since", "30d", "--limit", "1200")
	if code != 0 || len(tableRows(t, out)) != 1200 {
		t.Errorf("exit %d, %d rows: %s", code, len(tableRows(t, out)), errOut)
	}
	code, _, errOut = runReport(t, env, "--server", hs.URL, "--filter", `detail co "x`)
	if code != 2 || !strings.Contains(errOut, "invalidFilter") {
		t.Errorf("bad filter: exit %d, %q", code, errOut)
	}
	code, _, errOut = runReport(t, map[string]string{adminTokenEnv: "wrong"}, "--server", hs.URL)
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("wrong token: exit %d, %q", code, errOut)
	}
}
