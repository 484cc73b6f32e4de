package redis

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func metaSeeds() []resourceMeta {
	t0 := time.Date(2026, 12, 6, 17, 24, 22, 123456789, time.UTC)
	return []resourceMeta{
		{Kind: store.KindUser, ID: "u1", Created: t0, Modified: t0},
		{Kind: store.KindUser, ID: "0a1b", Created: t0, Modified: t0.Add(time.Hour), Origin: "idp",
			Indexes: []store.IndexKey{{Name: "userName", Value: "alice@example.com"}, {Name: "emails.value", Value: "a@x"}}},
		{Kind: store.KindGroup, ID: `g"1`, Created: t0.In(time.FixedZone("CET", 3600)), Modified: t0, Origin: "app:bitbucket",
			Indexes: []store.IndexKey{{Name: "displayName", Value: `Eng "m":"x" \ Zoë <&>`}}},
		{Kind: store.KindUser, ID: "é", Indexes: []store.IndexKey{{Name: "", Value: ""}}},
	}
}

// TestDecodeMeta: the direct reader and encoding/json agree on what
// json.Marshal writes, escapes and all.
func TestDecodeMeta(t *testing.T) {
	for _, m := range metaSeeds() {
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeMeta(t, string(raw))
	}
	// The common shape takes the direct path.
	raw, _ := json.Marshal(metaSeeds()[1])
	var m resourceMeta
	if !fastMeta(string(raw), &m) {
		t.Errorf("fastMeta refused %s", raw)
	}
}

func checkDecodeMeta(t *testing.T, s string) {
	t.Helper()
	var want resourceMeta
	wantErr := json.Unmarshal([]byte(s), &want)
	var got resourceMeta
	err := decodeMeta(s, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeMeta(%q) error %v, encoding/json %v", s, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeMeta(%q) = %+v, encoding/json %+v", s, got, want)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, m := range metaSeeds() {
		raw, _ := json.Marshal(m)
		f.Add(string(raw))
	}
	f.Add(`{"k":"User","i":"x","c":"2026-01-02T03:04:05Z","m":"bad","o":"idp"}`)
	f.Add(`{"i":"x","k":"User"}`)
	f.Fuzz(checkDecodeMeta)
}
