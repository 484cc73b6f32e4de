package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// TestIdPClaimsImportedUser: a POST /Users whose userName an imported user
// (Origin "app:<name>") holds takes that user over (201, same id, the
// IdP's attributes, Origin "idp"), instead of 409; an IdP user's userName
// is still a 409.
func TestIdPClaimsImportedUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ctx := context.Background()
		now := time.Now()
		data, _ := json.Marshal(map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "carol@example.com", "displayName": "Carol Example"})
		if _, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "imp-1", Created: now, Modified: now, Origin: "app:bitbucket",
			Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: "carol@example.com"}}, Data: data}}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutLink(ctx, store.Link{App: "bitbucket", Kind: store.KindUser, HubID: "imp-1", RemoteID: "r-1", Status: "active"}); err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, st)
		res := ts.do("POST", "/Users", oktaUser("Carol@example.com")).must(t, 201)
		if str(res.Body["id"]) != "imp-1" || str(res.Body["externalId"]) != "ext-Carol@example.com" || res.Body["displayName"] != "Test User" {
			t.Fatalf("claim response %s", res.Raw)
		}
		r, err := st.Get(ctx, store.KindUser, "imp-1")
		if err != nil || r.Origin != "idp" || r.Version != 2 {
			t.Fatalf("claimed user %+v %v", r, err)
		}
		if l, err := st.GetLink(ctx, "bitbucket", store.KindUser, "imp-1"); err != nil || l.RemoteID != "r-1" {
			t.Fatalf("link after the claim %+v %v", l, err)
		}
		if r, err := st.Lookup(ctx, store.KindUser, store.IndexExternalID, "ext-Carol@example.com"); err != nil || r.ID != "imp-1" {
			t.Fatalf("externalId index after the claim: %+v %v", r, err)
		}
		ts.do("POST", "/Users", oktaUser("carol@example.com")).scimError(t, 409, "uniqueness")
	})
}
