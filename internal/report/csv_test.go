package report

import (
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

func TestFormatChanges(t *testing.T) {
	got := FormatChanges([]store.AttrChange{
		{Attr: "active", Old: true, New: false},
		{Attr: "name.givenName", Old: "Al", New: nil},
		{Attr: "members", Old: nil, New: map[string]any{"count": 2}},
		{Attr: "password", Old: "<secret>", New: "<secret>"},
	})
	want := `active: true → false; name.givenName: Al → (none); members: (none) → {"count":2}; password: <secret> → <secret>`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if FormatChanges(nil) != "" {
		t.Error("no changes should be empty")
	}
}
