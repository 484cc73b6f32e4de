package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

const importConfig = `
auth:
  idp:
    tokens:
      - name: idp
        token: import-test-token-0123456789
apps:
  - name: bitbucket
    type: atlassian
    base_url: %s
    token: app-token-0123456789abcdef
    safeguard:
      max_deprovision_percent: 10
      min_population: 5
policies:
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
`

// TestImportCommand: scim-gateway import links and imports the accounts of
// an app, prints the result table, exits 3 when the safeguard stops it,
// and goes through with --force; --dry-run changes nothing.
func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: "app-token-0123456789abcdef", PageSize: 4})
	defer sim.Close()
	db := filepath.Join(t.TempDir(), "gw.db")
	seedHub(t, db, 6) // user0..user5@example.com, in Engineering
	var accounts []atlassiantest.User
	for i := range 6 {
		u, err := sim.Seed(atlassiantest.User{UserName: fmt.Sprintf("user%d@example.com", i), Active: true,
			Emails: []atlassiantest.MultiValue{{Value: fmt.Sprintf("user%d@example.com", i), Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, u)
	}
	if _, err := sim.Seed(atlassiantest.User{UserName: "stranger@example.com", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: "stranger@example.com", Primary: true}}}); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "gw.yaml", fmt.Sprintf(importConfig, sim.URL()))
	base := []string{"--app", "bitbucket", "--config", cfg, "--store", "bolt://" + db}
	imp := func(extra ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cmdImport(ctx, append(append([]string(nil), base...), extra...), &out, &errOut, envOf(nil))
		return code, out.String(), errOut.String()
	}
	links := func() []store.Link {
		st, err := bolt.Open(db, bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ls, err := st.Links(ctx, "bitbucket", store.KindUser, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	row := func(out, name string, n int) bool {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == name {
				return f[1] == fmt.Sprint(n)
			}
		}
		return false
	}

	code, out, errOut := imp("--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") || !row(out, "linked", 6) || !row(out, "imported", 1) {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(links()); n != 0 {
		t.Fatalf("the dry run linked %d accounts", n)
	}

	code, out, errOut = imp()
	if code != 0 || !row(out, "seen", 7) || !row(out, "linked", 6) || !row(out, "imported", 1) || !row(out, "requeued", 6) {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "bitbucket survey: 7 accounts") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
	if n := len(links()); n != 7 {
		t.Fatalf("%d links after the import, want 7", n)
	}

	// Two accounts of seven gone: over the safeguard.
	sim.DeleteUser(accounts[0].ID)
	sim.DeleteUser(accounts[1].ID)
	code, out, errOut = imp()
	if code != 3 || !strings.Contains(out, "STOPPED by the safeguard") || !row(out, "missing", 2) {
		t.Fatalf("over the safeguard: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(links()); n != 7 {
		t.Fatalf("a stopped import changed the links: %d", n)
	}
	code, out, errOut = imp("--force")
	if code != 0 || !strings.Contains(out, "(forced)") || !row(out, "missing", 2) {
		t.Fatalf("forced: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(links()); n != 5 {
		t.Fatalf("%d links after the forced import, want 5", n)
	}
	st, err := bolt.Open(db, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	last, ok, err := inbound.ReadLast(ctx, st, "bitbucket")
	st.Close()
	if err != nil || !ok || !last.Forced || last.Missing != 2 {
		t.Errorf("last result %+v %v %v", last, ok, err)
	}

	// Usage and configuration errors.
	var o, e bytes.Buffer
	if code := cmdImport(ctx, []string{"--config", cfg}, &o, &e, envOf(nil)); code != 2 {
		t.Errorf("without --app: exit %d", code)
	}
	if code, _, errOut := imp("--app", "jira"); code != 1 || !strings.Contains(errOut, `no app "jira"`) {
		t.Errorf("unknown app: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "app-token-0123456789abcdef") {
		t.Errorf("the app token was printed")
	}
}
