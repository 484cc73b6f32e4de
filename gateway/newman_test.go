package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// postmanCollection is Microsoft's SCIM reference Postman collection (MIT),
// kept in ../shared beside the repository.
const postmanCollection = "../../shared/peers/azuread-scimreferencecode/PostmanCollection.json"

// postmanExcluded lists the collection's requests we do not run, each
// with why the request itself is specific to Microsoft's reference
// server rather than to SCIM or to Entra ID.
var postmanExcluded = map[string]string{
	"Get Token": "GET /Token is a development-only endpoint of the reference server that mints its own bearer token",
	"Get ServiceProviderConfig": "GET /serviceConfiguration is the reference server's SCIM 1.1-era path; RFC 7644 §4 names " +
		"/ServiceProviderConfig, which we serve (TestDiscovery)",
	"filter eq and (val or val)": "unquoted string values (name.FamilyName eq Employee) are not SCIM: RFC 7644's compValue " +
		"is a JSON string, number, boolean or null; we answer 400 invalidFilter",
	"filter starts with":  "unquoted string value (userName sw O); 400 invalidFilter per RFC 7644 §3.4.2.2",
	"filter greater than": "unquoted dateTime value (meta.Created gt 2015-10-10T...); 400 invalidFilter per RFC 7644 §3.4.2.2",
	"Group patch add member": "adds a member named by the bare string \"string id 1\", which is no user's id; the reference " +
		"server stores any string, we answer 400 invalidValue (a member must be an existing User)",
	"Group patch add member2": "same as \"Group patch add member\" with \"string id 2\"",
}

// postmanIgnoredAssertions are single assertions whose failure we accept,
// keyed by request name and assertion; the request still runs and its
// other assertions count.
var postmanIgnoredAssertions = map[[2]string]string{
	{"Patch user omalley new username", "Status code is 204"}: "RFC 7644 §3.5.2 allows 200 with the resource or 204; for " +
		"Users we answer 200 with the resource, as Entra's documented examples show and Okta accepts",
	{"patch user omalley active with boolean", "Status code is 204"}: "same: we answer 200 with the user",
	{"Get group by id", "Body contians user"}: "expects the literal \"new User\" that an earlier PATCH sent as a member's " +
		"\"displayName\" (not a sub-attribute of members in RFC 7643 §4.2/§8.7.1) to be echoed; members carry display, " +
		"the user's own displayName (or userName), which the hub owns",
}

// TestPostmanCollection runs Microsoft's SCIM Postman collection with
// newman against a gateway on loopback, as published: its data is not
// rewritten. (Several of its users share the literal externalId
// "${__UUID}", a JMeter placeholder newman does not expand, and 13 share
// "22fbc523-…": externalId is not unique, so both are accepted as Entra's
// shared mailNicknames are.) Every request not excluded above must pass all
// of its assertions.
func TestPostmanCollection(t *testing.T) {
	newman, err := exec.LookPath("newman")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("newman is not installed (npm install -g newman@6); CI must run this test")
		}
		t.Skip("newman not installed (npm install -g newman@6): skipping the Postman collection")
	}
	raw, err := os.ReadFile(postmanCollection)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("read collection: %v", err)
		}
		t.Skipf("collection not found beside the repository: %v", err)
	}
	var coll map[string]any
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatal(err)
	}
	coll["item"] = dropItems(coll["item"].([]any))
	dir := t.TempDir()
	collPath := filepath.Join(dir, "collection.json")
	b, _ := json.Marshal(coll)
	if err := os.WriteFile(collPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	ts := startServer(t, backends["bolt"](t))
	host := strings.TrimPrefix(ts.Root, "http://")
	_, port, _ := strings.Cut(host, ":")
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(newman, "run", collPath,
		"--env-var", "Protocol=http", "--env-var", "Server=127.0.0.1", "--env-var", "Port=:"+port,
		"--env-var", "Api=scim/v2", "--env-var", "token="+testToken,
		"--reporters", "json", "--reporter-json-export", report, "--timeout-request", "10000")
	out, runErr := cmd.CombinedOutput()
	rb, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("newman produced no report (%v): %s", runErr, out)
	}
	var rep struct {
		Run struct {
			Executions []struct {
				Item       struct{ Name string } `json:"item"`
				Response   struct{ Code int }    `json:"response"`
				Assertions []struct {
					Assertion string `json:"assertion"`
					Error     *struct {
						Message string `json:"message"`
					} `json:"error"`
				} `json:"assertions"`
			} `json:"executions"`
		} `json:"run"`
	}
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatal(err)
	}
	passed, failed := 0, 0
	for _, ex := range rep.Run.Executions {
		var bad []string
		for _, a := range ex.Assertions {
			if _, ok := postmanIgnoredAssertions[[2]string{ex.Item.Name, a.Assertion}]; ok {
				continue
			}
			if a.Error != nil {
				bad = append(bad, fmt.Sprintf("%s: %s", a.Assertion, a.Error.Message))
			}
		}
		if len(bad) > 0 {
			failed++
			t.Errorf("%s (HTTP %d): %s", ex.Item.Name, ex.Response.Code, strings.Join(bad, "; "))
			continue
		}
		passed++
	}
	var excluded []string
	for name, why := range postmanExcluded {
		excluded = append(excluded, name+": "+why)
	}
	for k, why := range postmanIgnoredAssertions {
		excluded = append(excluded, fmt.Sprintf("%s / assertion %q: %s", k[0], k[1], why))
	}
	sort.Strings(excluded)
	t.Logf("Postman collection: %d requests passed, %d failed; excluded:\n  %s", passed, failed, strings.Join(excluded, "\n  "))
	if passed == 0 {
		t.Fatalf("no request ran: %s", out)
	}
}

// dropItems removes excluded requests from a collection's item tree.
func dropItems(items []any) []any {
	var out []any
	for _, it := range items {
		m := it.(map[string]any)
		if sub, ok := m["item"].([]any); ok {
			m["item"] = dropItems(sub)
			out = append(out, m)
			continue
		}
		if _, skip := postmanExcluded[fmt.Sprint(m["name"])]; skip {
			continue
		}
		out = append(out, m)
	}
	return out
}
