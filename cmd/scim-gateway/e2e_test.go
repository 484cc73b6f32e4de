package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

const (
	e2eIdPToken = "e2e-idp-token-0123456789"
	e2eAppToken = "e2e-app-token-0123456789"
)

// e2eConfig is a configuration with one Atlassian app fed by the
// Engineering group.
func e2eConfig(storeURL, simURL, extra string) string {
	return fmt.Sprintf(`
server:
  listen: 127.0.0.1:0
store:
  url: %q
auth:
  idp:
    tokens:
      - name: idp
        token: %s
        allow_raw_header: true
apps:
  - name: bitbucket
    type: atlassian
    base_url: %q
    token: %s
    rate_limit:
      requests_per_second: 500
      burst: 50
    concurrency: 4
    protected: ["breakglass@example.com"]
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
%s`, storeURL, e2eIdPToken, simURL, e2eAppToken, extra)
}

// gw is a gateway started in-process through serve, on loopback.
type gw struct {
	t    *testing.T
	base string
	stop func()
}

func startGateway(t *testing.T, cfgText string) *gw {
	t.Helper()
	return startGatewayAt(t, writeFile(t, "gw.yaml", cfgText))
}

// startGatewayAt serves the configuration file at path, which a test
// may rewrite and reload.
func startGatewayAt(t *testing.T, path string) *gw {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, cfg, path, nil, newLogger(cfg.Log, &logs), ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	g := &gw{t: t, base: "http://" + addr.String()}
	stopped := false
	g.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if strings.Contains(logs.String(), e2eAppToken) || strings.Contains(logs.String(), e2eIdPToken) {
			t.Error("a token appears in the gateway's log")
		}
	}
	t.Cleanup(g.stop)
	return g
}

func (g *gw) do(method, path string, body any) (int, map[string]any) {
	g.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.base+"/scim/v2"+path, r)
	req.Header.Set("Authorization", "Bearer "+e2eIdPToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
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

func patchOp(ops ...map[string]any) map[string]any {
	var list []any
	for _, o := range ops {
		list = append(list, o)
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func userBody(userName, given string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName, "externalId": "okta-" + userName, "active": true,
		"name":   map[string]any{"givenName": given, "familyName": "Tester"},
		"emails": []any{map[string]any{"value": userName, "primary": true, "type": "work"}},
	}
}

// TestFanOutEndToEnd: IdP pushes through the real gateway converge the
// Atlassian simulator to exactly the desired state.
func TestFanOutEndToEnd(t *testing.T) {
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	defer sim.Close()
	g := startGateway(t, e2eConfig("bolt://"+filepath.Join(t.TempDir(), "gw.db"), sim.URL(), ""))

	code, alice := g.do("POST", "/Users", userBody("alice@example.com", "Alice"))
	if code != 201 {
		t.Fatalf("create alice: %d %v", code, alice)
	}
	_, bob := g.do("POST", "/Users", userBody("bob@example.com", "Bob"))
	aliceID, bobID := alice["id"].(string), bob["id"].(string)
	// Not in the policy group: no account.
	code, grp := g.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering", "members": []any{map[string]any{"value": aliceID}}})
	if code != 201 {
		t.Fatalf("create group: %d %v", code, grp)
	}
	gid := grp["id"].(string)
	eventually(t, "alice provisioned", func() bool { _, ok := sim.UserByUserName("alice@example.com"); return ok })
	if _, ok := sim.UserByUserName("bob@example.com"); ok {
		t.Error("bob has an account without a policy")
	}
	// Entra-style update: the change reaches the app.
	g.do("PATCH", "/Users/"+aliceID, patchOp(map[string]any{"op": "Replace", "path": "name.givenName", "value": "Alicia"}))
	eventually(t, "alice renamed", func() bool { u, _ := sim.UserByUserName("alice@example.com"); return u.Name.GivenName == "Alicia" })
	// Membership in: bob gets an account; out: alice is deactivated.
	g.do("PATCH", "/Groups/"+gid, patchOp(
		map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": bobID}}},
		map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": aliceID}}}))
	eventually(t, "bob provisioned, alice deactivated", func() bool {
		a, _ := sim.UserByUserName("alice@example.com")
		_, ok := sim.UserByUserName("bob@example.com")
		return ok && !a.Active
	})
	// Okta deactivation of an admitted user deactivates the account.
	g.do("PATCH", "/Users/"+bobID, patchOp(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
	eventually(t, "bob deactivated", func() bool { b, _ := sim.UserByUserName("bob@example.com"); return !b.Active })
	// Exactly one account each.
	if n := len(sim.Users()); n != 2 {
		t.Errorf("simulator holds %d users, want 2", n)
	}
}
