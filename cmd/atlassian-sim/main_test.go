package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// lockedBuffer collects stderr written by run's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type sim struct {
	url    string
	stderr *lockedBuffer
	stop   func() int // cancels and returns run's exit code
}

func noEnv(string) (string, bool) { return "", false }

// startSim runs the command on a random port and returns once it printed
// its base URL.
func startSim(t *testing.T, env func(string) (string, bool), args ...string) *sim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), pw, stderr, env)
		pw.Close()
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, pr)
	}()
	var url string
	select {
	case url = <-line:
	case c := <-code:
		cancel()
		t.Fatalf("run exited with %d before printing its URL: %s", c, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no URL printed")
	}
	s := &sim{url: url, stderr: stderr}
	var once sync.Once
	var result int
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case result = <-code:
			case <-time.After(15 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
		return result
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func call(t *testing.T, method, url, token, body string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestServeAndShutdown(t *testing.T) {
	s := startSim(t, noEnv, "--token", "k1", "--directory", "dir-9")
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") || !strings.HasSuffix(s.url, "/scim/directory/dir-9") {
		t.Fatalf("printed URL %q", s.url)
	}
	if code, _ := call(t, "POST", s.url+"/Users", "k1", `{"userName":"a@example.com","emails":[{"value":"a@example.com","primary":true}]}`); code != 201 {
		t.Fatalf("POST status %d", code)
	}
	if code, _ := call(t, "GET", s.url+"/Users", "wrong", ""); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit code %d: %s", code, s.stderr.String())
	}
	// Logs are JSON lines, one per request, with the status.
	statuses := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "request" {
			statuses[rec["status"].(float64)] = true
		}
	}
	if !statuses[201] || !statuses[401] {
		t.Errorf("request logs missing: %s", s.stderr.String())
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.Split(s.url, "/scim")[0], "http://"), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	s := startSim(t, func(k string) (string, bool) {
		if k == tokenEnv {
			return "from-env", true
		}
		return "", false
	})
	if code, _ := call(t, "GET", s.url+"/Users", "from-env", ""); code != 200 {
		t.Fatalf("status %d", code)
	}
	// --token wins over the environment.
	s2 := startSim(t, func(string) (string, bool) { return "from-env", true }, "--token", "from-flag")
	if code, _ := call(t, "GET", s2.url+"/Users", "from-flag", ""); code != 200 {
		t.Fatalf("status %d", code)
	}
}

func TestFaultFlags(t *testing.T) {
	s := startSim(t, noEnv, "--token", "k", "--rate", "0.5", "--latency", "30ms")
	begin := time.Now()
	if code, _ := call(t, "GET", s.url+"/Users", "k", ""); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if d := time.Since(begin); d < 30*time.Millisecond {
		t.Errorf("latency not applied: %v", d)
	}
	code, h := call(t, "GET", s.url+"/Users", "k", "")
	if code != 429 || h.Get("Retry-After") == "" {
		t.Errorf("second request within 2s at 0.5 rps: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	f := startSim(t, noEnv, "--token", "k", "--fail-rate", "1", "--fail-status", "504")
	if code, _ := call(t, "GET", f.url+"/Users", "k", ""); code != 504 {
		t.Errorf("fail-rate 1: %d", code)
	}
}

func TestShutdownDoesNotWaitForLatency(t *testing.T) {
	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--token", "k", "--latency", "1m"}, io.Discard, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simc := make(chan *atlassiantest.Server, 1)
	served := make(chan error, 1)
	stderr := &lockedBuffer{}
	go func() {
		served <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(stderr, nil)), io.Discard, func(s *atlassiantest.Server) { simc <- s })
	}()
	sim := <-simc
	req, err := http.NewRequest("GET", sim.URL()+"/Users", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer k")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := sim.WaitInFlight(wctx, 1); err != nil { // the request waits in --latency
		t.Fatal(err)
	}
	begin := time.Now()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if err := <-done; err == nil {
		t.Error("the aborted request got a response")
	}
	if !strings.Contains(stderr.String(), `"fault":"canceled"`) {
		t.Errorf("aborted request not logged as canceled: %s", stderr.String())
	}
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{}, // no token
		{"--token", "k", "--rate", "-1"},
		{"--token", "k", "--fail-rate", "2"},
		{"--token", "k", "--fail-status", "200"},
		{"--token", "k", "--latency", "-1s"},
		{"--token", "k", "--bogus"},
		{"--token", "k", "extra"},
		{"--token", "k", "--directory", "a/b"},
	}
	for _, args := range cases {
		var stderr bytes.Buffer
		code := run(context.Background(), args, io.Discard, &stderr, noEnv)
		if code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d (want 2), stderr %q", args, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, io.Discard, &stderr, noEnv); !strings.Contains(stderr.String(), tokenEnv) {
		t.Errorf("missing-token message should name %s: %d %q", tokenEnv, code, stderr.String())
	}
}

func TestListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--token", "k", "--listen", ln.Addr().String()}, io.Discard, &stderr, noEnv); code != 1 || !strings.Contains(stderr.String(), "listen on") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
