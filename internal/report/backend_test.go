package report

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backendtest"
)

// eachBackend runs a test once per backend.
var eachBackend = backendtest.Each

type seed struct {
	ago                 time.Duration
	user, app, op, stat string
	http                int
	detail              string
}

// seeds are labelled by the first three characters of their detail.
var seeds = []seed{
	{10 * time.Minute, "alice@example.com", "bitbucket", "create", "success", 201, "e01"},
	{30 * time.Minute, "bob@example.com", "bitbucket", "update", "failure", 503, "e02 timeout"},
	{50 * time.Minute, "alice@example.com", "jira", "update", "success", 200, "e03"},
	{90 * time.Minute, "Alice@Example.com", "bitbucket", "deactivate", "failure", 401, "e04 credentials rejected"},
	{3 * time.Hour, "carol@example.com", "idp:okta", "create", "success", 201, "e05"},
	{5 * time.Hour, "alice@example.com", "bitbucket", "adopt", "skipped", 0, "e06 protected"},
	{26 * time.Hour, "bob@example.com", "jira", "create", "success", 201, "e07"},
	{50 * time.Hour, "alice@example.com", "bitbucket", "update", "failure", 500, "e08 timeout"},
	{6 * 24 * time.Hour, "carol@example.com", "bitbucket", "create", "success", 201, "e09"},
	{9 * 24 * time.Hour, "alice@example.com", "jira", "delete", "success", 204, "e10"},
}

// seedReports appends seeds, aged back from t0.
func seedReports(tb testing.TB, st store.Store, ss []seed) {
	tb.Helper()
	es := make([]store.ReportEntry, len(ss))
	for i, s := range ss {
		es[i] = store.ReportEntry{Time: t0.Add(-s.ago), User: s.user, App: s.app, Operation: s.op, Status: s.stat,
			HTTPStatus: s.http, Detail: s.detail, ResourceType: "User", ResourceID: fmt.Sprintf("id-%d", i)}
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
