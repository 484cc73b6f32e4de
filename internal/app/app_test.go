package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// appConfig serves on loopback with admin credentials, the bitbucket app
// on bb and, when jira is not "", the jira app on that URL with a token
// the jira simulator rejects. Both take the Engineering group; imports run
// on demand only.
func appConfig(bb, jira string) string {
	c := fmt.Sprintf(`
server:
  listen: 127.0.0.1:0
auth:
  idp:
    tokens: [{name: idp, token: %s}]
  admin:
    tokens: [{name: ops, token: %s}]
apps:
  - name: bitbucket
    type: atlassian
    base_url: %q
    token: %s
    import: {interval: 0s}
`, testIdPToken, testAdminToken, bb, testAppToken)
	pols := `
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
`
	if jira != "" {
		c += fmt.Sprintf(`
  - name: jira
    type: atlassian
    base_url: %q
    token: expired-jira-token-0123456789
    import: {interval: 0s}
`, jira)
		pols += `
  - name: engineers-jira
    app: jira
    groups: ["Engineering"]
`
	}
	return c + pols
}

// running is an App running in a test.
type running struct {
	t    *testing.T
	app  *App
	base string
	logs *logBuffer
	stop func() error
}

// runApp runs the configuration file at path on a fresh store until the
// test ends or stop is called.
func runApp(t *testing.T, path string) *running {
	t.Helper()
	cfg, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	a, err := New(cfg, openStore(t), Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("run: %v\n%s", err, logs)
	}
	r := &running{t: t, app: a, base: "http://" + a.Addr().String(), logs: logs}
	var result error
	stopped := false
	r.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		}
		return result
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return r
}

// do sends a request with token and returns the status and decoded body.
func (r *running) do(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// status returns /admin/status's apps by name.
func (r *running) status() map[string]gateway.AppHealth {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.base+"/admin/status", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s gateway.AdminStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]gateway.AppHealth{}
	for _, a := range s.Apps {
		out[a.Name] = a
	}
	return out
}

// eventually polls cond until it holds: the reconcilers work after the
// IdP's request has been answered, by design.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAppRun: the whole gateway without the CLI. An IdP push reaches the
// app through the reconcilers; /admin/status shows the app whose key was
// rejected as failing (read from what its reconciler recorded); a reload
// that drops that app restarts the reconcilers and the status follows;
// when the context ends Run returns cleanly and the loops are stopped, so
// a late reload cannot start new ones.
func TestAppRun(t *testing.T) {
	bb := atlassiantest.NewServer(atlassiantest.Options{Token: testAppToken})
	defer bb.Close()
	jira := atlassiantest.NewServer(atlassiantest.Options{Token: "the-real-jira-token-0123456789"})
	defer jira.Close()
	path := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(path, []byte(appConfig(bb.URL(), jira.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, path)

	code, alice := r.do("POST", "/scim/v2/Users", testIdPToken, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "alice@example.com", "active": true,
		"name":   map[string]any{"givenName": "Alice", "familyName": "Tester"},
		"emails": []any{map[string]any{"value": "alice@example.com", "primary": true, "type": "work"}},
	})
	if code != 201 {
		t.Fatalf("create user: %d %v", code, alice)
	}
	if code, body := r.do("POST", "/scim/v2/Groups", testIdPToken, map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering", "members": []any{map[string]any{"value": alice["id"]}},
	}); code != 201 {
		t.Fatalf("create group: %d %v", code, body)
	}
	eventually(t, "alice provisioned in bitbucket", func() bool { _, ok := bb.UserByUserName("alice@example.com"); return ok })
	eventually(t, "jira failing", func() bool { return r.status()["jira"].Failing })
	if s := r.status(); s["bitbucket"].Failing || !strings.Contains(s["jira"].LastError, "401") {
		t.Errorf("status %+v", s)
	}

	// Drop jira: the reconcilers are rebuilt for bitbucket alone.
	if err := os.WriteFile(path, []byte(appConfig(bb.URL(), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	summary, err := r.app.Reload(context.Background(), false)
	if err != nil || !strings.HasPrefix(summary, "bitbucket: ") || strings.Contains(summary, "jira") {
		t.Fatalf("reload: %q %v", summary, err)
	}
	if s := r.status(); len(s) != 1 || s["bitbucket"].Name != "bitbucket" {
		t.Errorf("status after the reload: %+v", s)
	}
	if !strings.Contains(r.logs.String(), `"msg":"reconcilers running","apps":1`) {
		t.Errorf("no restart of the reconcilers logged:\n%s", r.logs)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := r.app.Reload(context.Background(), false); !errors.Is(err, errStopped) {
		t.Errorf("reload after Run returned: %v, want errStopped", err)
	}
	if err := r.app.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
	for _, secret := range []string{testIdPToken, testAppToken, testAdminToken, "expired-jira-token-0123456789"} {
		if strings.Contains(r.logs.String(), secret) {
			t.Errorf("a token appears in the log")
		}
	}
}

// TestAppListener: Run serves a listener it is given, and closes it.
func TestAppListener(t *testing.T) {
	cfg, _ := compile(t, appConfig("http://127.0.0.1:1/scim/directory/x", ""))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, openStore(t), Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr() != nil {
		t.Errorf("Addr before Run: %v", a.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-a.Ready()
	if a.Addr().String() != ln.Addr().String() {
		t.Errorf("Addr %v, want the listener's %v", a.Addr(), ln.Addr())
	}
	resp, err := http.Get("http://" + a.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener is still open after Run returned")
	}
}

// TestAppNewRefusesBadPolicies: New compiles the policies and fails on
// ones that do not compile, running nothing.
func TestAppNewRefusesBadPolicies(t *testing.T) {
	cfg, _ := compile(t, appConfig("http://127.0.0.1:1/scim/directory/x", ""))
	cfg.Policies[0].App = "nosuch"
	if _, err := New(cfg, openStore(t), Options{}); err == nil || !strings.Contains(err.Error(), "policies") {
		t.Errorf("New: %v", err)
	}
	if _, err := New(nil, nil, Options{}); err == nil {
		t.Error("New without a configuration or a store")
	}
}

// TestOktaHeaderAuthOutOfTheBox: Okta's "Header" auth mode sends
// "Authorization: <token>" with no scheme. With the example configuration
// and with the built-in default, the IdP token is accepted that way and as
// a bearer token; admin tokens still require Bearer.
func TestOktaHeaderAuthOutOfTheBox(t *testing.T) {
	const idpToken, adminToken = "okta-header-token-0123456789", "admin-header-token-0123456789"
	env := map[string]string{"SCIM_GATEWAY_TOKEN": idpToken, "SCIM_GATEWAY_ADMIN_TOKEN": adminToken}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for name, path := range map[string]string{"example": "../../configs/example.yaml", "built-in default": ""} {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig(path, getenv)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, openStore(t), Options{Listener: ln})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			<-a.Ready()
			get := func(path, authorization string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", "http://"+a.Addr().String()+path, nil)
				req.Header.Set("Authorization", authorization)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, auth := range []string{idpToken, "Bearer " + idpToken} {
				if code := get("/scim/v2/Users?filter=userName%20eq%20%22x%22", auth); code != http.StatusOK {
					t.Errorf("Authorization %q: status %d, want 200", strings.Replace(auth, idpToken, "<idp token>", 1), code)
				}
			}
			if code := get("/scim/v2/Users", "not-the-token-0123456789"); code != http.StatusUnauthorized {
				t.Errorf("a wrong raw token: status %d, want 401", code)
			}
			if path == "" {
				return // the default has no admin credentials
			}
			if code := get("/admin/status", adminToken); code != http.StatusUnauthorized {
				t.Errorf("admin token without Bearer: status %d, want 401", code)
			}
			if code := get("/admin/status", "Bearer "+adminToken); code != http.StatusOK {
				t.Errorf("admin token with Bearer: status %d, want 200", code)
			}
		})
	}
}
