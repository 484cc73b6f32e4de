package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backend"
)

// adminTokenEnv holds the admin token for report --server.
const adminTokenEnv = "SCIM_GATEWAY_ADMIN_TOKEN"

const reportUsage = `usage: scim-gateway report [flags]

Print report log entries, newest first, as a table (or CSV with --csv).
The flags select entries as the parameters of GET /admin/reports do:

  scim-gateway report --user alice@example.com --since 7d
  scim-gateway report --app bitbucket --status failure --since 24h --limit 500
  scim-gateway report --filter 'httpStatus ge 500 and detail co "timeout"' --csv

It reads the store of --config (or --store) directly; a bolt file is
locked by a running gateway, so ask that gateway instead with --server
(the admin token is read from $` + adminTokenEnv + `).

flags:
`

// cmdReport prints report entries read from the store, or from a running
// gateway's admin API with --server, using the query code the admin API runs (internal/report).
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	user := fs.String("user", "", "end user (userName), case-insensitive")
	app := fs.String("app", "", "app name (idp:<credential> for IdP writes), case-insensitive")
	operation := fs.String("operation", "", "operation: create, update, deactivate, adopt, ...")
	status := fs.String("status", "", "status: success, failure or skipped")
	since := fs.String("since", "", "oldest entry: a span back from now (90m, 24h, 7d), an RFC 3339 time or a date")
	until := fs.String("until", "", "entries before this: a span back from now, an RFC 3339 time or a date")
	filter := fs.String("filter", "", `SCIM filter over the entry fields, e.g. 'status eq "failure" and httpStatus ge 500'`)
	limit := fs.Int("limit", 100, "print at most this many entries")
	asCSV := fs.Bool("csv", false, "print CSV with a header row instead of a table")
	path := fs.String("config", "", "configuration file whose store to read (default: built-in defaults)")
	storeURL := fs.String("store", "", "store URL (overrides the configuration's store.url)")
	server := fs.String("server", "", "base URL of a running gateway to ask instead of the store (http://127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "report: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *limit < 1 {
		fmt.Fprintln(stderr, "report: --limit must be at least 1")
		return 2
	}
	params := url.Values{}
	for k, v := range map[string]string{"user": *user, "app": *app, "operation": *operation, "status": *status,
		"from": *since, "to": *until, "filter": *filter} {
		if v != "" {
			params.Set(k, v)
		}
	}
	params.Set("limit", strconv.Itoa(min(*limit, report.MaxLimit)))
	req, err := report.Parse(params, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "report: %s\n", describeError(err))
		return 2
	}

	var src reportSource
	if *server != "" {
		if *path != "" || *storeURL != "" {
			fmt.Fprintln(stderr, "report: --server reads from a gateway: drop --config and --store")
			return 2
		}
		token, _ := getenv(adminTokenEnv)
		if token == "" {
			fmt.Fprintf(stderr, "report: --server needs the admin token in $%s\n", adminTokenEnv)
			return 2
		}
		src = &apiSource{base: strings.TrimSuffix(*server, "/"), token: token, client: &http.Client{Timeout: time.Minute}, req: req}
	} else {
		cfg := config.Default()
		if *path != "" {
			if cfg, err = loadConfig(*path, getenv); err != nil {
				fmt.Fprintf(stderr, "%v\n", err)
				return 1
			}
		}
		if *storeURL != "" {
			cfg.Store.URL = *storeURL
		}
		st, err := backend.Open(ctx, cfg.Store.URL, backend.Options{RedisPrefix: cfg.Store.RedisPrefix})
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 1
		}
		defer st.Close()
		src = &storeSource{st: st, req: req}
	}

	var entries []store.ReportEntry
	for len(entries) < *limit {
		page, err := src.next(ctx, min(*limit-len(entries), report.MaxLimit))
		if err != nil {
			fmt.Fprintf(stderr, "report: %s\n", describeError(err))
			return 1
		}
		entries = append(entries, page.Entries...)
		if page.Next == "" {
			break
		}
	}
	if *asCSV {
		if err := report.WriteCSV(stdout, entries); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 1
		}
		return 0
	}
	if len(entries) == 0 {
		fmt.Fprintln(stderr, "no report entries match")
		return 0
	}
	if err := printReportTable(stdout, entries); err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	return 0
}

// reportSource hands out successive pages of one report query.
type reportSource interface {
	next(ctx context.Context, limit int) (report.Page, error)
}

// storeSource runs the query against the store, as the admin API does.
type storeSource struct {
	st  store.Store
	req report.Request
}

func (s *storeSource) next(ctx context.Context, limit int) (report.Page, error) {
	s.req.Query.Limit = limit
	page, err := s.req.Run(ctx, s.st, 0)
	if err != nil {
		return page, err
	}
	s.req.Query.Cursor = page.Next
	return page, nil
}

// apiSource asks a running gateway's GET /admin/reports, with the times
// resolved here so that every page has the same window.
type apiSource struct {
	base   string
	token  string
	client *http.Client
	req    report.Request
	cursor string
}

func (s *apiSource) next(ctx context.Context, limit int) (report.Page, error) {
	q := s.req.Query
	v := url.Values{}
	for k, val := range map[string]string{"user": q.User, "app": q.App, "operation": q.Operation, "status": q.Status,
		"cursor": s.cursor, "limit": strconv.Itoa(limit)} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if s.req.Filter != nil {
		v.Set("filter", s.req.Filter.String())
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/admin/reports?"+v.Encode(), nil)
	if err != nil {
		return report.Page{}, fmt.Errorf("server %s: %w", s.base, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+s.token)
	hreq.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(hreq)
	if err != nil {
		return report.Page{}, fmt.Errorf("server %s: %w", s.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return report.Page{}, fmt.Errorf("server %s: read response: %w", s.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &scim.Error{}
		if json.Unmarshal(body, se) != nil || se.Status == 0 {
			se = &scim.Error{Status: resp.StatusCode, Detail: http.StatusText(resp.StatusCode)}
		}
		return report.Page{}, fmt.Errorf("server %s: %w", s.base, se)
	}
	var page report.Page
	if err := json.Unmarshal(body, &page); err != nil {
		return report.Page{}, fmt.Errorf("server %s: decode response: %w", s.base, err)
	}
	s.cursor = page.Next
	return page, nil
}

// describeError renders a SCIM error of ours by its type and detail,
// anything else (a wrapped server answer included) as it is.
func describeError(err error) string {
	if se, ok := err.(*scim.Error); ok {
		if se.ScimType != "" {
			return se.ScimType + ": " + se.Detail
		}
		return se.Detail
	}
	return err.Error()
}

// printReportTable prints time, user, app, operation, status, HTTP status
// and detail, one entry a line, with control characters (newlines, escape
// sequences a remote error could carry) shown as spaces.
func printReportTable(w io.Writer, entries []store.ReportEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tAPP\tOPERATION\tSTATUS\tHTTP\tDETAIL")
	for _, e := range entries {
		code := ""
		if e.HTTPStatus != 0 {
			code = strconv.Itoa(e.HTTPStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05Z"),
			plain(e.User), plain(e.App), plain(e.Operation), plain(e.Status), code, plain(e.Detail))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	return nil
}

func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
