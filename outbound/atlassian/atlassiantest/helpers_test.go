package atlassiantest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an Options.Now that tests advance by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 3, 5, 10, 11, 12, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a running server plus a client that talks to it.
type harness struct {
	t     testing.TB
	s     *Server
	hc    *http.Client
	token string
	clock *fakeClock
}

// start runs a server with a fake clock (unless opts.Now is set) and the
// token "secret" (unless opts.Token is set).
func start(t testing.TB, opts Options) *harness {
	t.Helper()
	h := &harness{t: t}
	if opts.Now == nil {
		h.clock = newClock()
		opts.Now = h.clock.Now
	}
	if opts.Token == "" {
		opts.Token = "secret"
	}
	h.token = opts.Token
	h.s = NewServer(opts)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	h.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		h.s.Close()
	})
	return h
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error // transport error (no response)
}

// do sends a request to the server's base URL + path. body is nil, a string
// (sent verbatim) or a value encoded as JSON.
func (h *harness) do(method, path string, body any) result {
	h.t.Helper()
	return h.doWith(method, path, body, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+h.token)
	})
}

func (h *harness) doWith(method, path string, body any, edit func(*http.Request)) result {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = h.s.URL() + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	req.Header.Set("Accept", "application/json")
	edit(req)
	resp, err := h.hc.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{err: err}
	}
	return result{status: resp.StatusCode, header: resp.Header, body: data}
}

// expect fails the test unless the request got status.
func (r result) expect(t testing.TB, status int) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want status %d, got transport error %v", status, r.err)
	}
	if r.status != status {
		t.Fatalf("want status %d, got %d: %s", status, r.status, r.body)
	}
	return r
}

func (r result) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// scimErr checks a SCIM error body and returns it.
func (r result) scimErr(t testing.TB, status int, scimType string) map[string]any {
	t.Helper()
	r.expect(t, status)
	m := r.obj(t)
	want := []any{errorSchema}
	if scimType == "invalidFilter" {
		want = []any{filterErrorSchema}
	}
	if !reflect.DeepEqual(m["schemas"], want) || m["status"] != fmt.Sprint(status) {
		t.Fatalf("not a SCIM error with status %q: %s", fmt.Sprint(status), r.body)
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Fatalf("scimType = %q, want %q: %s", got, scimType, r.body)
	}
	return m
}

// user is a minimal valid user body.
func user(userName string, extra ...any) map[string]any {
	m := map[string]any{
		"schemas":  []string{CoreUserSchema},
		"userName": userName,
		"emails":   []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// createUser POSTs a user and returns its id.
func (h *harness) createUser(userName string, extra ...any) string {
	h.t.Helper()
	m := h.do("POST", "/Users", user(userName, extra...)).expect(h.t, 201).obj(h.t)
	return m["id"].(string)
}

func (h *harness) createGroup(name string, memberIDs ...string) string {
	h.t.Helper()
	body := map[string]any{"schemas": []string{CoreGroupSchema}, "displayName": name, "members": members(memberIDs...)}
	return h.do("POST", "/Groups", body).expect(h.t, 201).obj(h.t)["id"].(string)
}

func members(ids ...string) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, map[string]any{"value": id})
	}
	return out
}

func patch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{PatchOpSchema}, "Operations": list}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// get walks a decoded JSON value along keys (strings for objects, ints for
// arrays); missing steps yield nil.
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch key := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[key]
		case int:
			a, _ := v.([]any)
			if key >= len(a) {
				return nil
			}
			v = a[key]
		}
	}
	return v
}

func memberIDsOf(t testing.TB, group map[string]any) []string {
	t.Helper()
	var ids []string
	for _, m := range group["members"].([]any) {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}

type request = http.Request

func errorsIs(err, target error) bool { return errors.Is(err, target) }
