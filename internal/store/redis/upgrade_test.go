package redis

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

// TestUpgradeMovesFormerlyUniqueExternalIDs: a Redis written when
// externalId was unique (entries in the ix:<kind>:externalId hash, each
// resource's ix field naming the hash) is upgraded: every resource is
// found by externalId again, the hash is gone, a second holder of a value
// is accepted, and a moved entry leaves with its resource. A second
// Upgrade changes nothing.
func TestUpgradeMovesFormerlyUniqueExternalIDs(t *testing.T) {
	ts := newTestStore(t)
	ctx := t.Context()
	put := func(kind store.Kind, id string, keys ...store.IndexKey) {
		t.Helper()
		if _, err := ts.Apply(ctx, store.Write{Put: &store.Resource{Kind: kind, ID: id, Indexes: keys}}); err != nil {
			t.Fatal(err)
		}
	}
	un := func(v string) store.IndexKey { return store.IndexKey{Name: store.IndexUserName, Value: v} }
	ext := func(v string) store.IndexKey { return store.IndexKey{Name: store.IndexExternalID, Value: v} }
	put(store.KindUser, "u1", un("alice"), ext("Ext-A"))
	put(store.KindUser, "u2", un("bob"), ext("ext-b"))
	put(store.KindGroup, "g1", store.IndexKey{Name: store.IndexDisplayName, Value: "Eng"}, ext("ext-a"))

	// Rewrite them as the unique layout had them.
	legacy := map[store.Kind]map[string]string{store.KindUser: {"ext-a": "u1", "ext-b": "u2"}, store.KindGroup: {"ext-a": "g1"}}
	for kind, entries := range legacy {
		for folded, id := range entries {
			if err := ts.raw.ZRem(ctx, ts.k.valueSet(string(kind), store.IndexExternalID, folded), id).Err(); err != nil {
				t.Fatal(err)
			}
			if err := ts.raw.HSet(ctx, ts.k.index(string(kind), store.IndexExternalID), folded, id).Err(); err != nil {
				t.Fatal(err)
			}
			rk := ts.k.resource(string(kind), id)
			raw, err := ts.raw.HGet(ctx, rk, "ix").Result()
			if err != nil {
				t.Fatal(err)
			}
			var ix [][]string
			if err := json.Unmarshal([]byte(raw), &ix); err != nil {
				t.Fatal(err)
			}
			for i, e := range ix {
				if e[0] == store.IndexExternalID {
					ix[i] = e[:2]
				}
			}
			b, _ := json.Marshal(ix)
			if err := ts.raw.HSet(ctx, rk, "ix", b).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rs, _ := ts.LookupAll(ctx, store.KindUser, store.IndexExternalID, "ext-a", 0); len(rs) != 0 {
		t.Fatal("the rewritten layout is still read as the new one: the test proves nothing")
	}

	for round := range 2 {
		if err := ts.Upgrade(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, c := range []struct {
			kind  store.Kind
			value string
			want  []string
		}{{store.KindUser, "EXT-A", []string{"u1"}}, {store.KindUser, "ext-b", []string{"u2"}}, {store.KindGroup, "ext-a", []string{"g1"}}} {
			rs, err := ts.LookupAll(ctx, c.kind, store.IndexExternalID, c.value, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("round %d: %s externalId %s = %v, want %v", round, c.kind, c.value, got, c.want)
			}
		}
		for _, kind := range []store.Kind{store.KindUser, store.KindGroup} {
			if n, _ := ts.raw.Exists(ctx, ts.k.index(string(kind), store.IndexExternalID)).Result(); n != 0 {
				t.Errorf("round %d: the %s externalId hash survives the upgrade", round, kind)
			}
		}
	}

	put(store.KindUser, "u3", un("carol"), ext("ext-a"))
	if _, err := ts.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	rs, err := ts.LookupAll(ctx, store.KindUser, store.IndexExternalID, "ext-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != "u3" {
		t.Errorf("ext-a after a share and a delete = %v, want [u3]", rs)
	}
}
