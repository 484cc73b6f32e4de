package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestValidateReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.yaml")
	broken := `
server:
  listen: ""
  body_limit_bytes: -1
scim:
  max_results: 0
log:
  level: loud
auth:
  idp:
    tokens:
      - name: okta
        token: short
`
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"validate", "--config", path}, &out, &errOut, envOf(nil))
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, errOut.String())
	}
	for _, key := range []string{"server.body_limit_bytes", "scim.max_results", "log.level", "auth.idp.tokens[0].token"} {
		if !strings.Contains(errOut.String(), key) {
			t.Errorf("stderr does not name %s:\n%s", key, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "short") && strings.Contains(errOut.String(), "token: short") {
		t.Errorf("secret value printed:\n%s", errOut.String())
	}
}

func TestValidateUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte("server:\n  lisen: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "--config", path}, &out, &errOut, envOf(nil)); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "lisen") {
		t.Errorf("unknown key not named:\n%s", errOut.String())
	}
}

func TestValidateExampleConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"validate", "--config", "../../configs/example.yaml", "--print"}, &out, &errOut,
		envOf(map[string]string{"SCIM_GATEWAY_TOKEN": "example-token-0123456789"}))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "example-token-0123456789") {
		t.Errorf("--print leaked the token:\n%s", out.String())
	}
}

func TestServeRefusesWithoutToken(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--store", "bolt://" + filepath.Join(t.TempDir(), "x.db")}, &out, &errOut, envOf(nil))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "SCIM_GATEWAY_TOKEN") {
		t.Errorf("does not say how to set a token:\n%s", errOut.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut, envOf(nil)); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}

// TestServeLifecycle starts the real serve command on a loopback port
// with the embedded store, checks the operational endpoints and that
// SCIM requires the token, then shuts it down through its context.
func TestServeLifecycle(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out syncBuffer
	go func() {
		done <- run(ctx, []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--store", "bolt://" + filepath.Join(dir, "gw.db")},
			io.Discard, &out, envOf(map[string]string{"SCIM_GATEWAY_TOKEN": "lifecycle-token-0123456789"}))
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/healthz")

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/scim/v2/Users": 401} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d; log:\n%s", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if strings.Contains(out.String(), "lifecycle-token-0123456789") {
		t.Error("token appears in the log")
	}
	if !strings.Contains(out.String(), `"request_id"`) {
		t.Errorf("log lines carry no request id:\n%s", out.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}
