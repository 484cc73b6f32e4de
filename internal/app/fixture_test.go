package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/mapping"
)

const (
	testIdPToken   = "app-test-idp-token-0123456789"
	testAppToken   = "app-test-app-token-0123456789"
	testAdminToken = "app-test-admin-token-0123456789"
)

// openStore opens a fresh bolt store, closed when t ends.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "gw.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// compile parses, validates and compiles a configuration document.
func compile(t *testing.T, doc string) (*config.Config, *mapping.Policies) {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

func apply(t *testing.T, st store.Store, w store.Write) {
	t.Helper()
	if _, err := st.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

// putUser stores a hub user, indexed by userName.
func putUser(t *testing.T, st store.Store, id, userName string, active bool) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"userName": userName, "active": active,
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}}})
	now := time.Now()
	apply(t, st, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id, Created: now, Modified: now,
		Indexes: []store.IndexKey{{Name: store.IndexUserName, Value: userName}}, Data: data}})
}

// putGroup stores a hub group with members added.
func putGroup(t *testing.T, st store.Store, id, name string, members ...string) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"displayName": name})
	now := time.Now()
	apply(t, st, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: id, Created: now, Modified: now, Data: data},
		Group: id, AddMembers: members})
}
