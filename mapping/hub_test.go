package mapping

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
)

func TestLoadUserAndUsers(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "h.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	put := func(k store.Kind, id, data string) {
		if _, err := st.Apply(ctx, store.Write{Put: &store.Resource{Kind: k, ID: id, Created: now, Modified: now, Data: []byte(data)}}); err != nil {
			t.Fatal(err)
		}
	}
	put(store.KindUser, "u1", `{"userName":"alice","active":true}`)
	put(store.KindUser, "u2", `{"userName":"bob"}`)
	put(store.KindGroup, "g1", `{"displayName":"Engineering"}`)
	if _, err := st.Apply(ctx, store.Write{Group: "g1", AddMembers: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutLink(ctx, store.Link{App: "bb", Kind: store.KindUser, HubID: "u1", RemoteID: "r1", Status: store.LinkDeactivated}); err != nil {
		t.Fatal(err)
	}
	u, err := LoadUser(ctx, st, "u1", "bb", "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if u.Doc["userName"] != "alice" || u.Doc["id"] != "u1" || len(u.Groups) != 1 || u.Groups[0] != (GroupRef{"g1", "Engineering"}) {
		t.Errorf("view: %+v", u)
	}
	if u.Accounts["bb"] != InactiveAccount || u.Accounts["wiki"] != NoAccount {
		t.Errorf("accounts: %v", u.Accounts)
	}
	if _, err := LoadUser(ctx, st, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
	var iterErr error
	var names []string
	for v := range Users(ctx, st, &iterErr) {
		names = append(names, v.Doc["userName"].(string))
	}
	if iterErr != nil || len(names) != 2 || names[0] != "alice" || names[1] != "bob" {
		t.Errorf("Users: %v, %v", names, iterErr)
	}
}
