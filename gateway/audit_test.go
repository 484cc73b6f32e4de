package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

func TestWritesAreReported(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ts := startServer(t, st)
		body := oktaUser("rep@example.com")
		body["password"] = "Sup3rSecretPlaceholder"
		created := ts.do("POST", "/Users", body).must(t, 201)
		id := str(created.Body["id"])
		ts.do("POST", "/Users", body).must(t, 409)
		ts.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "Replace", "path": "displayName", "value": "Rep Two"}}}).must(t, 200)
		ts.do("DELETE", "/Users/"+id, nil).must(t, 204)
		ts.do("GET", "/Users/"+id, nil).must(t, 404) // reads are not reported

		entries, _, err := st.QueryReports(context.Background(), store.ReportQuery{User: "REP@example.com", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, e := range entries {
			ops = append(ops, e.Operation+":"+e.Status)
			if e.RequestID == "" || e.App != "idp:okta" || e.ResourceType != "User" {
				t.Errorf("entry lacks context: %+v", e)
			}
		}
		// Newest first, the refused create included.
		if strings.Join(ops, ",") != "delete:success,patch:success,create:failure,create:success" {
			t.Errorf("by user: %v", ops)
		}
		patch := entries[1]
		if len(patch.Changes) != 1 || patch.Changes[0].Attr != "displayName" || patch.Changes[0].Old != "Test User" || patch.Changes[0].New != "Rep Two" {
			t.Errorf("patch changes: %+v", patch.Changes)
		}
		all, _, err := st.QueryReports(context.Background(), store.ReportQuery{App: "idp:okta", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		failures := 0
		for _, e := range all {
			if e.Status == "failure" && e.HTTPStatus == 409 && strings.Contains(e.Detail, "userName") {
				failures++
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), "Sup3rSecretPlaceholder") {
				t.Errorf("a report entry carries the password: %s", b)
			}
		}
		if failures != 1 {
			t.Errorf("the 409 was not reported as a failure: %+v", all)
		}
		// The password is not stored either.
		ts.do("POST", "/Users", body).must(t, 201)
		r, err := st.Lookup(context.Background(), store.KindUser, store.IndexUserName, "rep@example.com")
		if err != nil || strings.Contains(string(r.Data), "Sup3rSecret") {
			t.Errorf("stored data: %s %v", r.Data, err)
		}
	})
}

// TestExtensionChangesAreReported: an enterprise extension attribute's
// change is reported under its URN-qualified name with its old and new
// values, on create and on PATCH.
func TestExtensionChangesAreReported(t *testing.T) {
	const dept = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
	st := backends["bolt"](t)
	ts := startServer(t, st)
	body := oktaUser("ext@example.com")
	body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"department": "R&D"}
	id := str(ts.do("POST", "/Users", body).must(t, 201).Body["id"])
	ts.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": dept, "value": "Sales"}}}).must(t, 200)

	entries, _, err := st.QueryReports(context.Background(), store.ReportQuery{User: "ext@example.com", Limit: 10})
	if err != nil || len(entries) != 2 {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	find := func(e store.ReportEntry) *store.AttrChange {
		for i, c := range e.Changes {
			if c.Attr == dept {
				return &e.Changes[i]
			}
		}
		t.Fatalf("%s entry has no %s change: %+v", e.Operation, dept, e.Changes)
		return nil
	}
	if c := find(entries[1]); c.Old != nil || c.New != "R&D" {
		t.Errorf("create: %+v, want new R&D", c)
	}
	if c := find(entries[0]); c.Old != "R&D" || c.New != "Sales" || len(entries[0].Changes) != 1 {
		t.Errorf("patch: %+v, want R&D -> Sales alone", entries[0].Changes)
	}
}
