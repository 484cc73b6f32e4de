package canon

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestHashIsPinned pins the hash of a state as the reconcilers computed it
// before this package existed: links in existing stores hold such hashes,
// and a changed encoding would make every one of them a mismatch.
func TestHashIsPinned(t *testing.T) {
	m := map[string]any{"userName": "alice@example.com", "active": true,
		"name":   map[string]any{"givenName": "Alice", "familyName": "<O'Hara & Co>"},
		"emails": []any{map[string]any{"value": "a@x", "primary": true}}, "n": 1.5}
	const want = "sha256:5824c6cb303de3dca1bb1c13a51bb370ff27a671b759522cdd35482ac976edc9"
	if got := Hash(m); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	m := map[string]any{"b": []any{"<x>", 2.5}, "a": map[string]any{"z": nil, "y": false}}
	enc := JSON(m)
	if want := `{"a":{"y":false,"z":null},"b":["<x>",2.5]}`; string(enc) != want {
		t.Fatalf("JSON = %s, want %s", enc, want)
	}
	d := json.NewDecoder(bytes.NewReader(enc))
	d.UseNumber()
	var back map[string]any
	if err := d.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if Hash(back) != Hash(m) || !Equal(back, m) {
		t.Fatal("a state decoded with UseNumber hashes differently")
	}
	if Equal(map[string]any{"a": []any{1, 2}}, map[string]any{"a": []any{2, 1}}) {
		t.Fatal("array order must be significant")
	}
	if JSON(func() {}) != nil || Equal(func() {}, func() {}) {
		t.Fatal("an unencodable value must encode to nil and equal nothing")
	}
}
