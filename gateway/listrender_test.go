package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
	"github.com/scimgate/scim-gateway/internal/store"
)

// TestListedUsersAsViewed: a list page and GET /Users/{id} splice stored
// users' JSON (appendUser) instead of rendering them through view; the
// result must be what view renders, as JSON, for every user the gateway
// can store from an IdP: created from each fixture's create body (Okta,
// Entra, enterprise extension, multi-valued attributes), PATCHed and
// PUT, in groups and in none; and for users stored by an import, which
// are rendered the general way.
func TestListedUsersAsViewed(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st)
	var bodies [][]byte
	for _, fx := range loadFixtures(t) {
		for _, step := range fx.Steps {
			if step.Request != nil && step.Request.Method == http.MethodPost && step.Request.Path == "/Users" && len(step.Request.Body) > 0 {
				bodies = append(bodies, step.Request.Body)
			}
		}
	}
	if len(bodies) < 3 {
		t.Fatalf("only %d create bodies in the fixtures", len(bodies))
	}
	var ids []string
	for i, body := range bodies {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		doc["userName"] = fmt.Sprintf("listed%d@example.com", i) // fixtures reuse names
		delete(doc, "externalId")
		r := ts.do("POST", "/Users", doc)
		if r.Status != http.StatusCreated {
			continue // a fixture's create that is refused on purpose
		}
		ids = append(ids, str(r.Body["id"]))
	}
	gid := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": `Eng <&> "quoted"`}).must(t, 201).Body["id"])
	for _, id := range ids[:len(ids)/2] {
		ts.do("PATCH", "/Groups/"+gid, addMemberOp(id)).must(t, 204)
	}
	ts.do("PATCH", "/Users/"+ids[0], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "title", "value": "Über <Staff>"},
			map[string]any{"op": "Add", "path": "name.familyName", "value": "Ø"}}}).must(t, 200)
	// An imported user, as inbound stores one.
	imported := &store.Resource{Kind: store.KindUser, ID: "imported-1", Origin: store.OriginAppPrefix + "bitbucket",
		Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: "imported@example.com"}},
		Data:    json.RawMessage(`{"userName":"imported@example.com","displayName":"Imported","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`)}
	if _, err := st.Apply(t.Context(), store.Write{Put: imported}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, imported.ID)

	list := ts.do("GET", "/Users?count=1000", nil).must(t, 200)
	listed := map[string]any{}
	for _, r := range list.Body["Resources"].([]any) {
		listed[str(r.(map[string]any)["id"])] = r
	}
	if len(listed) != len(ids) {
		t.Fatalf("listed %d users, want %d", len(listed), len(ids))
	}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, ts.URL+"/Users", nil), httptest.NewRecorder())
	c.Request().Host = ts.Root[len("http://"):]
	for _, id := range ids {
		r, err := st.Get(t.Context(), store.KindUser, id)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ts.srv.view(c, userKind, r, projection{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jsondoc.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if got := normalized(t, listed[id]); !reflect.DeepEqual(got, want) {
			t.Errorf("listed user %s:\n got %v\nwant %v", id, got, want)
		}
		if got := normalized(t, ts.do("GET", "/Users/"+id, nil).must(t, 200).Body); !reflect.DeepEqual(got, want) {
			t.Errorf("fetched user %s:\n got %v\nwant %v", id, got, want)
		}
	}
}

// normalized round-trips v through JSON, so numbers compare alike.
func normalized(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExactFilterAnswersAsMatch: a filter the index answers exactly
// (scim.Filter.Exact) skips decoding and matching the candidates; its
// results must be those of the same filter matched on each candidate,
// which "and userName pr" forces, for names that fold in tricky ways.
func TestExactFilterAnswersAsMatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		for _, name := range []string{"susan@example.com", "SÜSAN@example.com", "ſusan2@example.com", "Kelvin@example.com"} {
			ts.do("POST", "/Users", oktaUser(name)).must(t, 201)
		}
		ids := func(r response) []string {
			var out []string
			for _, u := range r.Body["Resources"].([]any) {
				out = append(out, str(u.(map[string]any)["id"]))
			}
			return out
		}
		for _, f := range []string{`userName eq "SUSAN@example.com"`, `userName eq "süsan@EXAMPLE.com"`, `userName eq "susan2@example.com"`,
			`userName eq "ſusan2@example.com"`, `userName eq "kelvin@example.com"`, `emails.value eq "SUSAN@example.com"`, `userName eq "nobody"`} {
			exact := ts.do("GET", "/Users"+filterQ(f), nil).must(t, 200)
			matched := ts.do("GET", "/Users"+filterQ(f+` and userName pr`), nil).must(t, 200)
			if got, want := ids(exact), ids(matched); fmt.Sprint(got) != fmt.Sprint(want) || exact.Body["totalResults"] != matched.Body["totalResults"] {
				t.Errorf("%s: %v (total %v), matched %v (total %v)", f, got, exact.Body["totalResults"], want, matched.Body["totalResults"])
			}
		}
	})
}
