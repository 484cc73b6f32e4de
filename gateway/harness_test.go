package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backendtest"
	"github.com/scimgate/scim-gateway/outbound"
)

const testToken = "test-token-0123456789abcdef"

// backends opens a fresh store per test for each backend; eachBackend
// runs a test once per backend.
var (
	backends    = backendtest.Open
	eachBackend = backendtest.Each
)

// countingStore counts the store calls that tests assert a request does
// not make (a full List scan, a member-set read).
type countingStore struct {
	Store
	lists, members, groupGets, groupsOf, groupsOfMany, getMany, userGets atomic.Int64
	// groupCAS counts group writes under compare-and-set (a Put of a
	// group with ExpectVersion), versionMismatches the writes refused
	// for a stale version.
	groupCAS, versionMismatches atomic.Int64
}

func (c *countingStore) Apply(ctx context.Context, w store.Write) (*store.Resource, error) {
	if w.Put != nil && w.Put.Kind == store.KindGroup && w.ExpectVersion > 0 {
		c.groupCAS.Add(1)
	}
	r, err := c.Store.Apply(ctx, w)
	if errors.Is(err, store.ErrVersionMismatch) {
		c.versionMismatches.Add(1)
	}
	return r, err
}

func (c *countingStore) GetMany(ctx context.Context, k store.Kind, ids []string) (map[string]*store.Resource, error) {
	c.getMany.Add(1)
	return c.Store.GetMany(ctx, k, ids)
}

func (c *countingStore) GroupsOf(ctx context.Context, id string) ([]string, error) {
	c.groupsOf.Add(1)
	return c.Store.GroupsOf(ctx, id)
}

func (c *countingStore) GroupsOfMany(ctx context.Context, ids []string) (map[string][]string, error) {
	c.groupsOfMany.Add(1)
	return c.Store.GroupsOfMany(ctx, ids)
}

func (c *countingStore) Get(ctx context.Context, k store.Kind, id string) (*store.Resource, error) {
	if k == store.KindGroup {
		c.groupGets.Add(1)
	} else {
		c.userGets.Add(1)
	}
	return c.Store.Get(ctx, k, id)
}

func (c *countingStore) List(ctx context.Context, k store.Kind, offset, count int) (store.Page, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, k, offset, count)
}

func (c *countingStore) Members(ctx context.Context, id string) ([]string, error) {
	c.members.Add(1)
	return c.Store.Members(ctx, id)
}

// testServer is a gateway served over loopback HTTP.
type testServer struct {
	t     testing.TB
	URL   string // http://127.0.0.1:port/scim/v2
	Root  string // http://127.0.0.1:port
	store *countingStore
	srv   *Server
	now   atomic.Pointer[time.Time]
}

func startServer(tb testing.TB, st store.Store, mod ...func(*Options)) *testServer {
	tb.Helper()
	ts := &testServer{t: tb, store: &countingStore{Store: st}}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ts.now.Store(&t0)
	opts := Options{
		Store:     ts.store,
		IDPAuth:   NewCredentials([]StaticToken{{Name: "okta", Value: testToken, AllowRawHeader: true}}, nil, nil, nil),
		Now:       func() time.Time { return *ts.now.Load() },
		AppStatus: outboundStatus(st),
	}
	for _, m := range mod {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	ts.srv = srv
	ts.Root = "http://" + ln.Addr().String()
	ts.URL = ts.Root + "/scim/v2"
	return ts
}

// outboundStatus reads the failing state the reconcilers record in st, as
// the gateway internal/app builds does.
func outboundStatus(st store.Store) AppStatusFunc {
	return func(ctx context.Context, app string) (AppFailure, error) {
		s, err := outbound.ReadStatus(ctx, st, app)
		return AppFailure{Failing: s.Failing, Since: s.Since, LastError: s.LastError}, err
	}
}

// advance moves the server's clock.
func (ts *testServer) advance(d time.Duration) {
	t := ts.now.Load().Add(d)
	ts.now.Store(&t)
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// do sends a request with the test token; body may be a string, []byte
// or any JSON-encodable value; extra headers come in pairs.
func (ts *testServer) do(method, path string, body any, headers ...string) response {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = ts.URL + path
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
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
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.Body); err != nil {
			ts.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// must fails the test unless the response has the given status.
func (r response) must(tb testing.TB, status int) response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Raw)
	}
	return r
}

// scimError checks an RFC 7644 §3.12 error body.
func (r response) scimError(tb testing.TB, status int, scimType string) {
	tb.Helper()
	r.must(tb, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		tb.Errorf("error Content-Type %q", ct)
	}
	if s, _ := r.Body["status"].(string); s != http.StatusText(0) && s != itoa(status) {
		tb.Errorf("error status field %v, want the string %q", r.Body["status"], itoa(status))
	}
	if got, _ := r.Body["scimType"].(string); got != scimType {
		tb.Errorf("scimType %q, want %q; body %s", got, scimType, r.Raw)
	}
	if d, _ := r.Body["detail"].(string); d == "" {
		tb.Errorf("error without detail: %s", r.Raw)
	}
	schemas, _ := r.Body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		tb.Errorf("error schemas %v", r.Body["schemas"])
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNumber(n)) }

func jsonNumber(n int) string { b, _ := json.Marshal(n); return string(b) }

func str(v any) string { s, _ := v.(string); return s }
