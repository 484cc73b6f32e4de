package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// entryField is one field of store.ReportEntry: its Go name, its JSON
// name (the name the schema and the CSV header use too) and its value in
// filledEntry.
type entryField struct {
	name, json string
	value      any
}

// filledEntry sets every field of a store.ReportEntry to a distinct
// non-zero value, found by reflection, so that a field added to the
// struct is set here without anyone remembering to: a field of a type
// this function does not know fails the test until it is taught, and
// until AppendJSON, the schema, entryDoc and the CSV carry the field.
func filledEntry(t *testing.T) (store.ReportEntry, []entryField) {
	t.Helper()
	var e store.ReportEntry
	v := reflect.ValueOf(&e).Elem()
	var fields []entryField
	for i := range v.NumField() {
		sf, f := v.Type().Field(i), v.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case !sf.IsExported():
			t.Fatalf("ReportEntry.%s is unexported: it reaches no encoder", sf.Name)
		case name == "-":
			t.Fatalf("ReportEntry.%s is tagged json:\"-\": the stores would not keep it", sf.Name)
		case name == "":
			name = sf.Name
		}
		switch f.Interface().(type) {
		case string:
			// Not starting with = + - @: csvCell keeps it as it is.
			f.SetString("v-" + sf.Name)
		case int:
			f.SetInt(int64(100 + i))
		case time.Time:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 27, 12, 34, 56, 789000000, time.UTC)))
		case []store.AttrChange:
			f.Set(reflect.ValueOf([]store.AttrChange{{Attr: "v-" + sf.Name, Old: "old", New: map[string]any{"n": 2.0}}}))
		default:
			t.Fatalf("ReportEntry.%s has type %s, which filledEntry cannot fill: teach it, "+
				"then carry the field through AppendJSON, ResourceType, entryDoc and WriteCSV", sf.Name, sf.Type)
		}
		fields = append(fields, entryField{name: sf.Name, json: name, value: f.Interface()})
	}
	return e, fields
}

// TestEveryEntryFieldIsWired holds each field of store.ReportEntry to
// every place a report entry goes: the stores' JSON encoder, the SCIM
// schema report filters are compiled against (and the document the
// filter evaluator sees), and the CSV.
func TestEveryEntryFieldIsWired(t *testing.T) {
	e, fields := filledEntry(t)

	t.Run("AppendJSON", func(t *testing.T) {
		got, err := e.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("AppendJSON and json.Marshal differ:\n got %s\nwant %s", got, want)
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("AppendJSON made invalid JSON %s: %v", got, err)
		}
		for _, f := range fields {
			if _, ok := m[f.json]; !ok {
				t.Errorf("%s: AppendJSON has no %q: %s", f.name, f.json, got)
			}
		}
	})

	t.Run("schema", func(t *testing.T) {
		doc := entryDoc(&e)
		for _, f := range fields {
			if p, ok := ResourceType.Resolve(f.json); !ok || p.Attr == nil {
				t.Errorf("%s: the report schema has no attribute %q", f.name, f.json)
				continue
			}
			if _, ok := doc[f.json]; !ok {
				t.Errorf("%s: entryDoc has no %q: %v", f.name, f.json, doc)
			}
			// The evaluator sees the field where the schema says it is.
			path := f.json
			if _, ok := f.value.([]store.AttrChange); ok {
				path += ".attr"
			}
			flt, err := scim.Compile(path+" pr", ResourceType)
			if err != nil {
				t.Errorf("%s: %s pr: %v", f.name, path, err)
				continue
			}
			if !flt.Match(doc) {
				t.Errorf("%s: %s pr does not match an entry that has it", f.name, path)
			}
		}
	})

	t.Run("CSV", func(t *testing.T) {
		var b bytes.Buffer
		if err := WriteCSV(&b, []store.ReportEntry{e}); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || !slices.Equal(recs[0], CSVHeader) || len(recs[1]) != len(CSVHeader) {
			t.Fatalf("csv %q", recs)
		}
		for _, f := range fields {
			col := slices.Index(CSVHeader, f.json)
			if col < 0 {
				t.Errorf("%s: CSVHeader has no column %q", f.name, f.json)
				continue
			}
			var want string
			switch x := f.value.(type) {
			case string:
				want = x
			case int:
				want = strconv.Itoa(x)
			case time.Time:
				want = x.Format(time.RFC3339Nano)
			case []store.AttrChange:
				want = FormatChanges(x)
			}
			if got := recs[1][col]; got != want || want == "" {
				t.Errorf("%s: column %s is %q, want %q", f.name, f.json, got, want)
			}
		}
	})
}
