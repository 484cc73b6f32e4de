package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// statusOf serves GET /admin/status for apps with the app status reader
// as, and returns the decoded body.
func statusOf(t *testing.T, as AppStatusFunc, apps ...string) AdminStatus {
	t.Helper()
	st := backends["bolt"](t)
	const token = "status-admin-token-0123456789"
	ts := startServer(t, st, func(o *Options) {
		o.AdminAuth = NewCredentials([]StaticToken{{Name: "ops", Value: token}}, nil, nil, nil)
		o.Admin = AdminOptions{Store: st, Apps: func() []string { return apps }}
		o.AppStatus = as
	})
	req, err := http.NewRequest(http.MethodGet, ts.Root+"/admin/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/status: %d %v: %s", resp.StatusCode, err, body)
	}
	var out AdminStatus
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out
}

// TestAdminStatusReader: /admin/status takes each app's failing state from
// Options.AppStatus, names a read failure without its cause, and reports
// no app failing without a reader.
func TestAdminStatusReader(t *testing.T) {
	since := time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	got := statusOf(t, func(_ context.Context, app string) (AppFailure, error) {
		switch app {
		case "bitbucket":
			return AppFailure{Failing: true, Since: since, LastError: "403 forbidden"}, nil
		case "jira":
			return AppFailure{}, errors.New("connection reset by peer")
		}
		return AppFailure{}, nil
	}, "bitbucket", "jira", "confluence")
	if len(got.Apps) != 3 {
		t.Fatalf("apps %+v", got.Apps)
	}
	bb, jira, conf := got.Apps[0], got.Apps[1], got.Apps[2]
	if !bb.Failing || bb.Since == nil || !bb.Since.Equal(since) || bb.LastError != "403 forbidden" || len(bb.Errors) != 0 {
		t.Errorf("bitbucket %+v", bb)
	}
	if jira.Failing || jira.Since != nil || !slices.Equal(jira.Errors, []string{"failing state unavailable"}) {
		t.Errorf("jira %+v", jira)
	}
	if conf.Failing || conf.Since != nil || conf.LastError != "" || len(conf.Errors) != 0 {
		t.Errorf("confluence %+v", conf)
	}

	got = statusOf(t, nil, "bitbucket")
	if len(got.Apps) != 1 || got.Apps[0].Failing || got.Apps[0].Since != nil || len(got.Apps[0].Errors) != 0 {
		t.Errorf("without a reader: %+v", got.Apps)
	}
}
