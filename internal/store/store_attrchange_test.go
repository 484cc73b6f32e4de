package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
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

// plainEntry is ReportEntry without its encoder: what json.Marshal makes
// of the struct tags alone.
type plainEntry struct {
	ID           string        `json:"id"`
	Time         time.Time     `json:"time"`
	User         string        `json:"user,omitempty"`
	ResourceType string        `json:"resourceType,omitempty"`
	ResourceID   string        `json:"resourceId,omitempty"`
	App          string        `json:"app,omitempty"`
	Operation    string        `json:"operation"`
	Status       string        `json:"status"`
	Changes      []plainChange `json:"changes,omitempty"`
	HTTPStatus   int           `json:"httpStatus,omitempty"`
	Detail       string        `json:"detail,omitempty"`
	RequestID    string        `json:"requestId,omitempty"`
	RunID        string        `json:"runId,omitempty"`
	Attempt      int           `json:"attempt,omitempty"`
}

type plainChange struct {
	Attr string `json:"attr"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

func checkEntryJSON(t *testing.T, e ReportEntry) {
	t.Helper()
	p := plainEntry{e.ID, e.Time, e.User, e.ResourceType, e.ResourceID, e.App, e.Operation, e.Status, nil,
		e.HTTPStatus, e.Detail, e.RequestID, e.RunID, e.Attempt}
	if e.Changes != nil {
		p.Changes = []plainChange{}
		for _, c := range e.Changes {
			p.Changes = append(p.Changes, plainChange(c))
		}
	}
	want, wantErr := json.Marshal(p)
	got, err := e.AppendJSON([]byte("prefix"))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendJSON error %v, json.Marshal error %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendJSON\n got %s\nwant prefix%s", got, want)
	}
}

// TestReportEntryJSON holds AppendJSON to json.Marshal of the struct tags.
func TestReportEntryJSON(t *testing.T) {
	for _, e := range []ReportEntry{
		{},
		{ID: "1-2", Time: time.Date(2026, 11, 27, 12, 0, 0, 5, time.FixedZone("x", 3600)), Operation: "create", Status: "success"},
		{User: "a<b>@x", ResourceType: "User", ResourceID: "u1", App: "idp:okta", Operation: "patch", Status: "failure",
			Changes:    []AttrChange{{Attr: "active", Old: true, New: false}, {Attr: "emails", New: []any{map[string]any{"value": "x"}}}},
			HTTPStatus: 409, Detail: "userName \"x\" is taken\n", RequestID: "r", RunID: "run", Attempt: -2},
		{Operation: "x", Changes: []AttrChange{}},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Changes: []AttrChange{{Attr: "n", New: json.Number("01")}}},
	} {
		checkEntryJSON(t, e)
	}
}

func FuzzReportEntryJSON(f *testing.F) {
	f.Add("u@x", "detail <&>", int64(1795804351123456789), 201, "old", "\xff")
	f.Fuzz(func(t *testing.T, user, detail string, ns int64, status int, attr, value string) {
		checkEntryJSON(t, ReportEntry{Time: time.Unix(0, ns).UTC(), User: user, Detail: detail, HTTPStatus: status,
			Operation: attr, Status: value, Changes: []AttrChange{{Attr: attr, Old: value, New: map[string]any{user: detail}}}})
	})
}
