package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/app"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
)

const planConfig = `
auth:
  idp:
    tokens:
      - name: idp
        token: plan-test-token-0123456789
apps:
  - name: bitbucket
    type: atlassian
    base_url: http://127.0.0.1:1/scim/directory/x
    token: app-token-0123456789abcdef
    safeguard:
      max_deprovision_percent: 10
      min_population: 5
policies:
%s
`

const engineersPolicy = `
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// seedHub stores n users, all members of Engineering.
func seedHub(t *testing.T, dbPath string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(dbPath, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%03d", i)
		ids = append(ids, id)
		data := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@example.com","active":true,"emails":[{"value":"user%d@example.com","primary":true}]}`, i, i)
		if _, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id, Created: now, Modified: now,
			Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: fmt.Sprintf("user%d@example.com", i)}}, Data: []byte(data)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: "g1", Created: now, Modified: now,
		Data: []byte(`{"displayName":"Engineering"}`)}, Group: "g1", AddMembers: ids}); err != nil {
		t.Fatal(err)
	}
}

func TestPlanCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "gw.db")
	seedHub(t, db, 20)
	withPolicy := writeFile(t, "with.yaml", fmt.Sprintf(planConfig, engineersPolicy))
	withoutPolicy := writeFile(t, "without.yaml", fmt.Sprintf(planConfig, "  []"))

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"plan", "--config", withPolicy, "--store", "bolt://" + db}, &out, &errOut, envOf(nil))
	if code != 0 || !strings.Contains(out.String(), "bitbucket: create 20,") {
		t.Fatalf("first plan: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// Record the policy as running, with the accounts created.
	ctx := context.Background()
	st, err := bolt.Open(db, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(withPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.SaveRunning(ctx, st, cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := st.PutLink(ctx, store.Link{App: "bitbucket", Kind: store.KindUser, HubID: fmt.Sprintf("u%03d", i),
			RemoteID: fmt.Sprintf("r%d", i), Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out.Reset()
	code = run(ctx, []string{"plan", "--config", withPolicy, "--store", "bolt://" + db}, &out, &errOut, envOf(nil))
	if code != 0 || !strings.Contains(out.String(), "create 0, reactivate 0, update 0, deactivate 0, delete 0 of 20") {
		t.Fatalf("unchanged plan: exit %d\n%s", code, out.String())
	}
	// Dropping the policy would deactivate everyone: over the safeguard.
	out.Reset()
	code = run(ctx, []string{"plan", "--config", withoutPolicy, "--store", "bolt://" + db, "-v"}, &out, &errOut, envOf(nil))
	if code != 3 || !strings.Contains(out.String(), "deactivate 20") || !strings.Contains(out.String(), "REFUSED unless forced") ||
		!strings.Contains(out.String(), "deactivate user7@example.com") {
		t.Fatalf("mass deprovision plan: exit %d\n%s", code, out.String())
	}
}
