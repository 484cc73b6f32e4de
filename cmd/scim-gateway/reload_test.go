package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

const e2eAdminToken = "e2e-admin-token-0123456789"

func adminPost(t *testing.T, g *gw, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestReload(t *testing.T) {
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	defer sim.Close()
	db := "bolt://" + filepath.Join(t.TempDir(), "gw.db")
	admin := `
  - name: everyone
    app: bitbucket
    groups: ["Everyone"]
`
	withAdmin := func(policies string) string {
		c := e2eConfig(db, sim.URL(), policies)
		c = strings.Replace(c, "auth:\n", "auth:\n  admin:\n    tokens:\n      - name: ops\n        token: "+e2eAdminToken+"\n", 1)
		return strings.Replace(c, "    concurrency: 4\n", "    concurrency: 4\n    safeguard:\n      max_deprovision_percent: 10\n      min_population: 1\n", 1)
	}
	path := writeFile(t, "gw.yaml", withAdmin(""))
	g := startGatewayAt(t, path)

	var ids []any
	for _, u := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		_, body := g.do("POST", "/Users", userBody(u, "X"))
		ids = append(ids, map[string]any{"value": body["id"]})
	}
	g.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Everyone", "members": ids})
	if n := len(sim.Users()); n != 0 {
		t.Fatalf("accounts before any policy admits them: %d", n)
	}

	// Credentials are separate: the IdP token cannot reload, the admin
	// token cannot push.
	if code, _ := adminPost(t, g, "/admin/reload", e2eIdPToken); code != 401 {
		t.Errorf("IdP token on /admin: %d", code)
	}
	req, _ := http.NewRequest("GET", g.base+"/scim/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("admin token on /scim/v2: %v %v", resp.StatusCode, err)
	}

	// SIGHUP picks up a new policy.
	if err := os.WriteFile(path, []byte(withAdmin(admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three accounts after SIGHUP", func() bool { return len(sim.Users()) == 3 })

	// An invalid file is refused and the running policies stay.
	if err := os.WriteFile(path, []byte("apps: [{name: 1}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := adminPost(t, g, "/admin/reload", e2eAdminToken); code != 400 || body["applied"] != false {
		t.Errorf("invalid config reload: %d %v", code, body)
	}
	// Dropping the policy would deactivate all three: refused, then forced.
	if err := os.WriteFile(path, []byte(withAdmin("")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := adminPost(t, g, "/admin/reload", e2eAdminToken)
	// (The plan counts accounts whose links are written; the last may
	// still be in flight, so the count is 2 or 3, either over 10%.)
	if plan, _ := body["plan"].(string); code != 409 || !strings.Contains(plan, "REFUSED unless forced") {
		t.Fatalf("mass deprovision reload: %d %v", code, body)
	}
	for _, u := range sim.Users() {
		if !u.Active {
			t.Fatalf("refused reload deactivated %s", u.UserName)
		}
	}
	if code, body := adminPost(t, g, "/admin/reload?force=true", e2eAdminToken); code != 200 || body["applied"] != true {
		t.Fatalf("forced reload: %d %v", code, body)
	}
	eventually(t, "accounts deactivated after the forced reload", func() bool {
		for _, u := range sim.Users() {
			if u.Active {
				return false
			}
		}
		return true
	})
}

// TestAdminImport: POST /admin/apps/{app}/import runs an import now; a
// dry run changes nothing.
func TestAdminImport(t *testing.T) {
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken})
	defer sim.Close()
	if _, err := sim.Seed(atlassiantest.User{UserName: "old.timer@example.com", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: "old.timer@example.com", Type: "work", Primary: true}}}); err != nil {
		t.Fatal(err)
	}
	c := e2eConfig("bolt://"+filepath.Join(t.TempDir(), "gw.db"), sim.URL(), "")
	c = strings.Replace(c, "auth:\n", "auth:\n  admin:\n    tokens:\n      - name: ops\n        token: "+e2eAdminToken+"\n", 1)
	// On demand only: no scheduled run racing the admin's.
	c = strings.Replace(c, "    concurrency: 4\n", "    concurrency: 4\n    import:\n      interval: 0s\n", 1)
	g := startGateway(t, c)
	lookup := func() string {
		_, body := g.do("GET", "/Users?filter=userName%20eq%20%22old.timer%40example.com%22", nil)
		return fmtAny(body["totalResults"])
	}
	code, body := adminPost(t, g, "/admin/apps/bitbucket/import?dry_run=true", e2eAdminToken)
	if code != 200 || fmtAny(body["imported"]) != "1" || lookup() != "0" {
		t.Fatalf("dry run: %d %v; hub lookup %s", code, body, lookup())
	}
	code, body = adminPost(t, g, "/admin/apps/bitbucket/import", e2eAdminToken)
	if code != 200 || fmtAny(body["imported"]) != "1" || lookup() != "1" {
		t.Fatalf("import: %d %v; hub lookup %s", code, body, lookup())
	}
	if code, _ := adminPost(t, g, "/admin/apps/nope/import", e2eAdminToken); code != 404 {
		t.Errorf("unknown app: %d", code)
	}
	if code, _ := adminPost(t, g, "/admin/apps/bitbucket/import", e2eIdPToken); code != 401 {
		t.Errorf("IdP token on admin import: %d", code)
	}
}

func fmtAny(v any) string { b, _ := json.Marshal(v); return string(b) }
