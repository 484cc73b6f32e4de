package targettest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// Request is one request a Recorder saw.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Recorder is an http.RoundTripper for test clients: it records every
// request and runs optional hooks around forwarding it, so a test counts
// and inspects the calls a target makes, or fails some of them.
type Recorder struct {
	mu     sync.Mutex
	reqs   []Request
	before func(*http.Request) error
	after  func(*http.Request)
	next   http.RoundTripper
}

// NewRecorder returns a Recorder forwarding over a transport of its own.
func NewRecorder() *Recorder {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &Recorder{next: tr}
}

// RoundTrip records req, runs the before hook (whose error fails the
// request unsent), forwards it and then runs the after hook.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
	hook, after := r.before, r.after
	r.mu.Unlock()
	if hook != nil {
		if err := hook(req); err != nil {
			return nil, err
		}
	}
	if after != nil {
		defer after(req)
	}
	return r.next.RoundTrip(req)
}

// SetBefore sets the hook run before a request is forwarded.
func (r *Recorder) SetBefore(f func(*http.Request) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = f
}

// SetAfter sets the hook run after a request's response came.
func (r *Recorder) SetAfter(f func(*http.Request)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.after = f
}

// All returns the requests recorded so far.
func (r *Recorder) All() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// Count is how many requests were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// Since returns the requests after the first n.
func (r *Recorder) Since(n int) []Request { return r.All()[n:] }

// Stub is an HTTP server answering every request with one canned
// response, keeping the last request: for what a simulator cannot be made
// to answer (string counters, odd error bodies, 204s).
type Stub struct {
	// URL is the server's base URL.
	URL    string
	mu     sync.Mutex
	status int
	header map[string]string
	body   string
	last   *http.Request
}

// NewStub starts a Stub answering 200 with no body, closed with tb.
func NewStub(tb testing.TB) *Stub {
	tb.Helper()
	s := &Stub{status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.last = r.Clone(context.Background())
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(s.body))
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Answer sets the response to every later request.
func (s *Stub) Answer(status int, header map[string]string, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.header, s.body = status, header, body
}

// Last is the last request received (nil before the first).
func (s *Stub) Last() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// PatchOps decodes the operations of a recorded PATCH request, failing tb
// when its body is not a PatchOp message.
func PatchOps(tb testing.TB, r Request) []map[string]any {
	tb.Helper()
	var body struct {
		Schemas    []string         `json:"schemas"`
		Operations []map[string]any `json:"Operations"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		tb.Fatalf("PATCH body %s: %v", r.Body, err)
	}
	if !slices.Equal(body.Schemas, []string{scimclient.PatchOpSchema}) {
		tb.Errorf("PATCH schemas = %v", body.Schemas)
	}
	return body.Operations
}
