package scimclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/targettest"
)

// newSimClient is a client of a fresh simulator, with a recorder.
func newSimClient(t *testing.T, so atlassiantest.Options, mod func(*scimclient.Options)) (*scimclient.Client, *atlassiantest.Server, *targettest.Recorder) {
	t.Helper()
	so.Token = testToken
	sim := atlassiantest.NewServer(so)
	t.Cleanup(sim.Close)
	rec := targettest.NewRecorder()
	o := scimclient.Options{BaseURL: sim.URL(), Token: testToken, HTTPClient: &http.Client{Transport: rec}}
	if mod != nil {
		mod(&o)
	}
	c, err := scimclient.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, sim, rec
}

// stubClient is a client of s.
func stubClient(t *testing.T, s *targettest.Stub, mod func(*scimclient.Options)) *scimclient.Client {
	t.Helper()
	o := scimclient.Options{BaseURL: s.URL + "/scim/v2", Token: testToken}
	if mod != nil {
		mod(&o)
	}
	c, err := scimclient.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSearchPagesThroughEveryUser(t *testing.T) {
	c, sim, rec := newSimClient(t, atlassiantest.Options{PageSize: 3}, func(o *scimclient.Options) { o.PageSize = 3 })
	for i := range 7 {
		if _, err := sim.Seed(atlassiantest.User{UserName: fmt.Sprintf("u%d", i), Active: true,
			Emails: []atlassiantest.MultiValue{{Value: fmt.Sprintf("u%d@example.com", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := c.Search(context.Background(), "Users", "", func(r map[string]any) error {
		got = append(got, r["userName"].(string))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "u0,u1,u2,u3,u4,u5,u6" {
		t.Errorf("users = %v", got)
	}
	var starts []string
	for _, r := range rec.All() {
		if !strings.Contains(r.Query, "count=3") {
			t.Errorf("query %s does not ask for count=3", r.Query)
		}
		for _, kv := range strings.Split(r.Query, "&") {
			if v, ok := strings.CutPrefix(kv, "startIndex="); ok {
				starts = append(starts, v)
			}
		}
	}
	if strings.Join(starts, ",") != "1,4,7" {
		t.Errorf("startIndex sequence = %v, want 1,4,7 (1-based, three pages, no empty fourth)", starts)
	}

	// scimclient.ErrStopSearch ends the search after the first match.
	n := rec.Count()
	calls := 0
	err = c.Search(context.Background(), "Users", "", func(map[string]any) error { calls++; return scimclient.ErrStopSearch })
	if err != nil || calls != 1 || rec.Count() != n+1 {
		t.Errorf("stopped search: err %v, %d callbacks, %d requests", err, calls, rec.Count()-n)
	}
}

func TestSearchStopsOnEmptyPageAndReadsStringCounters(t *testing.T) {
	s := targettest.NewStub(t)
	// A server that claims more results than it returns: the empty page
	// ends the search.
	s.Answer(200, nil, `{"totalResults":"50","itemsPerPage":"0","startIndex":"1","Resources":[]}`)
	c := stubClient(t, s, nil)
	calls := 0
	if err := c.Search(context.Background(), "Users", `userName eq "x"`, func(map[string]any) error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("%d callbacks", calls)
	}
	if q := s.Last().URL.Query(); q.Get("filter") != `userName eq "x"` || q.Get("startIndex") != "1" || q.Get("count") != "100" {
		t.Errorf("query = %v", q)
	}
}

func TestRemoteErrorBodies(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		ctype    string
		body     string
		scimType string
		detail   string
	}{
		{"scim, status as string", 409, "application/json",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"Resource [USER]: with email[a@b] already exists."}`,
			"uniqueness", "Resource [USER]: with email[a@b] already exists."},
		{"scim, status as number", 400, "application/scim+json",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":400,"scimType":"invalidFilter","detail":"bad filter"}`,
			"invalidFilter", "bad filter"},
		{"atlassian non-scim", 401, "application/json",
			`{"error":"Not authorized to access : scim/directory/d/Users","traceId":"abc123"}`,
			"", "Not authorized to access : scim/directory/d/Users (traceId abc123)"},
		{"html from a proxy", 502, "text/html",
			"<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502   Bad Gateway</h1></body></html>",
			"", "502 Bad Gateway 502 Bad Gateway"},
		{"empty", 503, "", "", "", "Service Unavailable"},
		{"plain text", 500, "text/plain", "upstream exploded", "", "upstream exploded"},
		{"long text is cut", 500, "text/plain", strings.Repeat("é", 400), "", strings.Repeat("é", 150) + "…"},
	}
	s := targettest.NewStub(t)
	c := stubClient(t, s, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Answer(tc.status, map[string]string{"Content-Type": tc.ctype}, tc.body)
			_, err := c.Get(context.Background(), "Users", "u1")
			var re *scimclient.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *scimclient.RemoteError", err)
			}
			if re.Status != tc.status || re.ScimType != tc.scimType || re.Detail != tc.detail || re.Op != "GET /Users/{id}" {
				t.Errorf("got %+v", re)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	cases := []struct {
		name   string
		status int
		header map[string]string
		want   time.Duration
	}{
		{"seconds", 429, map[string]string{"Retry-After": "30"}, 30 * time.Second},
		{"http date", 503, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"date in the past", 503, map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"garbage", 429, map[string]string{"Retry-After": "soon"}, 0},
		{"x-ratelimit-reset on 429", 429, map[string]string{"X-RateLimit-Reset": now.Add(12 * time.Second).Format(time.RFC3339)}, 12 * time.Second},
		{"x-ratelimit-reset ignored on 503", 503, map[string]string{"X-RateLimit-Reset": now.Add(12 * time.Second).Format(time.RFC3339)}, 0},
		{"retry-after wins", 429, map[string]string{"Retry-After": "5", "X-RateLimit-Reset": now.Add(12 * time.Second).Format(time.RFC3339)}, 5 * time.Second},
	}
	s := targettest.NewStub(t)
	c := stubClient(t, s, func(o *scimclient.Options) { o.Now = func() time.Time { return now } })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Answer(tc.status, tc.header, "")
			err := c.Delete(context.Background(), "Users", "u1")
			var re *scimclient.RemoteError
			if !errors.As(err, &re) || re.RetryAfter != tc.want {
				t.Errorf("err = %v (%+v), want RetryAfter %v", err, re, tc.want)
			}
		})
	}
}

func TestRequestsCarryTokenAndNoIdempotencyKey(t *testing.T) {
	c, sim, rec := newSimClient(t, atlassiantest.Options{}, nil)
	ctx := context.Background()
	u, err := c.Create(ctx, "Users", map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "a@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := u["id"].(string)
	if _, err := c.Get(ctx, "Users", id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, "Users", id, scimclient.PatchOperation{Op: "replace", Path: "active", Value: false}); err != nil {
		t.Fatal(err)
	}
	if got, _ := sim.User(id); got.Active {
		t.Error("PATCH active false did not apply")
	}
	if _, err := c.Replace(ctx, "Users", id, map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "a@example.com"}}, "active": false}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "Users", id); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.All() {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
		}
		if r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != "" {
			t.Errorf("%s %s carries an idempotency key: the transport would replay it", r.Method, r.Path)
		}
		if (r.Method == "POST" || r.Method == "PATCH" || r.Method == "PUT") && r.Header.Get("Content-Type") != "application/scim+json" {
			t.Errorf("%s Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	s := targettest.NewStub(t)
	// A (hypothetical) server that echoes the credentials in its error.
	s.Answer(401, map[string]string{"Content-Type": "application/json"}, `{"detail":"bad token `+testToken+`"}`)
	c := stubClient(t, s, nil)
	_, err := c.Get(context.Background(), "Users", "x")
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("err = %v", err)
	}
	// Token functions are asked on every call; their errors are wrapped.
	calls := 0
	c = stubClient(t, s, func(o *scimclient.Options) {
		o.Token = ""
		o.TokenFunc = func(context.Context) (string, error) { calls++; return "", errors.New("vault sealed") }
	})
	if _, err := c.Get(context.Background(), "Users", "x"); err == nil || !strings.Contains(err.Error(), "vault sealed") || calls != 1 {
		t.Errorf("err = %v, calls %d", err, calls)
	}
}

func TestPerCallTimeout(t *testing.T) {
	c, sim, _ := newSimClient(t, atlassiantest.Options{}, func(o *scimclient.Options) { o.Timeout = 20 * time.Millisecond })
	sim.Latency(5 * time.Second) // cut short by the timeout (and by Close)
	start := time.Now()
	_, err := c.Get(context.Background(), "Users", "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("call took %v", time.Since(start))
	}
}

func TestPatchNoContent(t *testing.T) {
	s := targettest.NewStub(t)
	s.Answer(204, nil, "")
	c := stubClient(t, s, nil)
	res, err := c.Patch(context.Background(), "Users", "a b", scimclient.PatchOperation{Op: "remove", Path: "title"})
	if err != nil || res != nil {
		t.Errorf("Patch = %v, %v; want nil, nil", res, err)
	}
	if s.Last().URL.EscapedPath() != "/scim/v2/Users/a%20b" || s.Last().Method != "PATCH" {
		t.Errorf("request %s %s", s.Last().Method, s.Last().URL.EscapedPath())
	}
}

func TestWaitRunsBeforeEveryRequest(t *testing.T) {
	s := targettest.NewStub(t)
	waits := 0
	c := stubClient(t, s, func(o *scimclient.Options) {
		o.Wait = func(context.Context) error {
			waits++
			if waits == 2 {
				return errors.New("bucket unavailable")
			}
			return nil
		}
	})
	if _, err := c.Get(context.Background(), "Users", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "Users", "x"); err == nil || !strings.Contains(err.Error(), "bucket unavailable") {
		t.Errorf("err = %v", err)
	}
	if waits != 2 {
		t.Errorf("waits = %d", waits)
	}
}

func TestNewClientChecksOptions(t *testing.T) {
	for _, o := range []scimclient.Options{
		{Token: "t"},
		{BaseURL: "ftp://x", Token: "t"},
		{BaseURL: "https://user:pw@x", Token: "t"},
		{BaseURL: "https://x"},
		{BaseURL: "https://x", Token: "t", PageSize: 101},
		{BaseURL: "https://x", Token: "t", Timeout: -1},
	} {
		if _, err := scimclient.New(o); err == nil {
			t.Errorf("scimclient.New(%+v) accepted", o)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error quotes credentials: %v", err)
		}
	}
}

const testToken = "tok-5f1e8a0b9c7d4e2f"
