package mapping

import (
	"encoding/json"
	"testing"
)

func TestHashEqualities(t *testing.T) {
	base := map[string]any{
		"schemas":  []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName": "ann@example.com",
		"active":   true,
		"name":     map[string]any{"givenName": "Ann", "familyName": "Lee"},
		"emails":   []any{map[string]any{"value": "ann@example.com", "type": "work", "primary": true}},
		"count":    json.Number("1"),
	}
	h := Hash(base)
	if len(h) != 64 {
		t.Fatalf("Hash = %q, want 64 hex digits", h)
	}
	for name, v := range map[string]map[string]any{
		"same content, new maps": {
			"userName": "ann@example.com", "active": true, "count": json.Number("1"),
			"name":    map[string]any{"familyName": "Lee", "givenName": "Ann"},
			"emails":  []any{map[string]any{"primary": true, "type": "work", "value": "ann@example.com"}},
			"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		},
		"names in another case": {
			"USERNAME": "ann@example.com", "Active": true, "count": 1,
			"Name":    map[string]any{"FamilyName": "Lee", "givenname": "Ann"},
			"emails":  []any{map[string]any{"Primary": true, "type": "work", "value": "ann@example.com"}},
			"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		},
		"arrays in another order, unassigned values, numbers of other types": {
			"userName": "ann@example.com", "active": true, "count": 1.0,
			"name":        map[string]any{"givenName": "Ann", "familyName": "Lee", "middleName": nil, "formatted": ""},
			"emails":      []any{nil, map[string]any{"primary": true, "type": "work", "value": "ann@example.com"}},
			"schemas":     []any{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:User"},
			"groups":      []any{},
			"displayName": nil,
			"x509":        map[string]any{},
		},
		"typed slices and maps": {
			"userName": "ann@example.com", "active": true, "count": int64(1),
			"name":    map[string]string{"givenName": "Ann", "familyName": "Lee"},
			"emails":  []map[string]any{{"value": "ann@example.com", "type": "work", "primary": true}},
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		},
	} {
		if got := Hash(v); got != h {
			t.Errorf("%s: hash differs", name)
		}
	}
	// Decoded from JSON as a target returns it.
	var decoded map[string]any
	raw := `{"emails":[{"type":"work","value":"ann@example.com","primary":true}],"count":1.0,"name":{"familyName":"Lee","givenName":"Ann"},
		"active":true,"userName":"ann@example.com","schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","urn:ietf:params:scim:schemas:core:2.0:User"]}`
	if err := json.Unmarshal([]byte(raw), &decoded); err != nil {
		t.Fatal(err)
	}
	if Hash(decoded) != h {
		t.Error("a JSON round trip changes the hash")
	}
	if Hash(nil) != Hash(map[string]any{}) || Hash(map[string]any{"a": nil, "b": []any{}}) != Hash(nil) {
		t.Error("unassigned values must hash like nothing")
	}
}

func TestHashDifferences(t *testing.T) {
	base := map[string]any{"userName": "ann", "active": true, "emails": []any{map[string]any{"value": "a@x", "primary": true}}}
	h := Hash(base)
	for name, v := range map[string]map[string]any{
		"value case":         {"userName": "Ann", "active": true, "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"active":             {"userName": "ann", "active": false, "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"active as a string": {"userName": "ann", "active": "true", "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"missing attribute":  {"userName": "ann", "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"extra attribute":    {"userName": "ann", "active": true, "title": "x", "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"nested change":      {"userName": "ann", "active": true, "emails": []any{map[string]any{"value": "a@x", "primary": false}}},
		"element moved":      {"userName": "ann", "active": true, "emails": []any{map[string]any{"value": "a@x"}, map[string]any{"primary": true}}},
		"single vs array":    {"userName": []any{"ann"}, "active": true, "emails": []any{map[string]any{"value": "a@x", "primary": true}}},
		"key moved to value": {"userName": "ann", "active": true, "emails": []any{map[string]any{"value": "a@x", "primary": true}}, "ann": "userName"},
	} {
		if Hash(v) == h {
			t.Errorf("%s: same hash", name)
		}
	}
	if Hash(map[string]any{"n": json.Number("10")}) == Hash(map[string]any{"n": "10"}) {
		t.Error("a number and a string hash alike")
	}
	if Hash(map[string]any{"n": 1.5}) != Hash(map[string]any{"n": json.Number("1.50")}) {
		t.Error("numbers of equal value hash differently")
	}
	if Hash(map[string]any{"n": 1e20}) != Hash(map[string]any{"n": json.Number("100000000000000000000")}) ||
		Hash(map[string]any{"n": json.Number("1e400")}) == Hash(map[string]any{"n": json.Number("1e401")}) {
		t.Error("large numbers: equal values must hash alike, and unrepresentable ones by their text")
	}
	if Hash(map[string]any{"a": "x", "A": "y"}) != Hash(map[string]any{"A": "y", "a": "x"}) {
		t.Error("two spellings of one name hash by map order")
	}
	if Hash(map[string]any{"c": complex(1, 2)}) != Hash(map[string]any{"c": complex(1, 2)}) ||
		Hash(map[string]any{"c": complex(1, 2)}) == Hash(map[string]any{"c": complex(1, 3)}) {
		t.Error("values without a JSON form must hash deterministically")
	}
}

func BenchmarkHash(b *testing.B) {
	attrs := desiredBench(b)
	b.ReportAllocs()
	for b.Loop() {
		Hash(attrs)
	}
}
