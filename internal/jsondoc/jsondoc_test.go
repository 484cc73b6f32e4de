package jsondoc

import (
	"bytes"
	"encoding/json"
	"testing"
)

var seeds = []string{
	`null`, `true`, `"x"`, `0`, `-1.5e+10`, `[]`, `{}`, `[null,{"a":[1,"b",false]}]`,
	`{"b":1,"a":{"z":"<&>","y":"\u2028\u2029","x":"\u0000\u001f\t\n\r\b\f\"\\"}}`,
	`{"userName":"bjensen@example.com","emails":[{"value":"b@x","primary":true}],"name":{"givenName":"Barbara"}}`,
	`{"é":"ü€𝄞","\u007f":"\ud800"}`,
}

// TestMarshal checks Marshal against json.Marshal on the seeds and
// on values that decoding cannot produce.
func TestMarshal(t *testing.T) {
	for _, s := range seeds {
		check(t, decodeAny(t, []byte(s)))
	}
	for _, v := range []any{
		"\xff\xfeinvalid\xc3", json.Number(""), map[string]any(nil), []any(nil),
		map[string]any{"n": json.Number("12"), "f": 1.5, "i": 7, "s": []string{"a", "<"}, "m": map[string]string{"k": "v"}},
		map[string]any{"Resources": []map[string]any{{"id": "1"}, nil, {}}, "totalResults": -3, "big": int64(1) << 62},
		[]string(nil), []map[string]any(nil), []map[string]any{},
	} {
		check(t, v)
	}
	for _, bad := range []json.Number{"1e", "01", "1.", "-", "+1", "0x1", "1e+", ".5", "NaN"} {
		if _, err := Marshal(bad); err == nil {
			t.Errorf("Marshal(json.Number(%q)) did not fail", bad)
		}
		if _, err := json.Marshal(bad); err == nil {
			t.Errorf("the test is wrong: json.Marshal accepts %q", bad)
		}
	}
}

func FuzzMarshal(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), "\xff<")
	}
	f.Fuzz(func(t *testing.T, doc []byte, s string) {
		check(t, s)
		check(t, json.Number(s))
		check(t, []string{s, s})
		check(t, len(s)-len(doc))
		var v any
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			check(t, v)
			check(t, map[string]any{s: v})
		}
	})
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func check(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := Marshal(v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Marshal(%#v) error %v, json.Marshal error %v", v, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%#v)\n got %s\nwant %s", v, got, want)
	}
}

// BenchmarkMarshal encodes Okta's user create document: Baseline with
// encoding/json, Marshal with this package. Divide by Baseline.
func BenchmarkMarshal(b *testing.B) {
	v := map[string]any{}
	if err := json.Unmarshal([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"avery.lindqvist@example.com",
		"name":{"givenName":"Avery","familyName":"Lindqvist"},"displayName":"Avery Lindqvist","locale":"en-US","title":"Engineer",
		"emails":[{"primary":true,"value":"avery.lindqvist@example.com","type":"work"}],"active":true,"externalId":"00u1abcd2EFGH3ijk4x7",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","employeeNumber":"1234"}}`), &v); err != nil {
		b.Fatal(err)
	}
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
