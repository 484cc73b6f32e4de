package store

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAttrChangeJSON checks AttrChange encodes exactly as its struct tags
// alone would, and decodes back.
func TestAttrChangeJSON(t *testing.T) {
	type plain struct {
		Attr string `json:"attr"`
		Old  any    `json:"old,omitempty"`
		New  any    `json:"new,omitempty"`
	}
	for _, c := range []AttrChange{
		{Attr: "active"},
		{Attr: "active", Old: false, New: true},
		{Attr: "emails", New: []any{map[string]any{"value": "a<b>@x", "primary": true}}},
		{Attr: "name", Old: map[string]any{"givenName": "Bjørn"}},
		{Attr: "members", New: map[string]any{"added": []string{"u1"}, "count": 3}},
		{Attr: "x\u2028", Old: json.Number("1.5e3"), New: ""},
	} {
		got, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(plain(c))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	// Inside a report entry, as the stores encode it.
	e := ReportEntry{Operation: "create", Status: "success", Changes: []AttrChange{{Attr: "userName", New: "b"}}}
	b, err := json.Marshal(e)
	if err != nil || !bytes.Contains(b, []byte(`"changes":[{"attr":"userName","new":"b"}]`)) {
		t.Errorf("entry: %s, %v", b, err)
	}
	if _, err := json.Marshal(AttrChange{Attr: "n", New: json.Number("01")}); err == nil {
		t.Error("an invalid number encoded without error")
	}
}
