package scim

import (
	"reflect"
	"strings"
	"testing"
)

const coreUser = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func TestDecodeSyntaxErrors(t *testing.T) {
	tests := []struct{ name, body, detail string }{
		{"empty", ``, "empty"},
		{"malformed", `{"userName":`, "malformed JSON"},
		{"not an object", `["x"]`, "JSON object"},
		{"string", `"x"`, "JSON object"},
		{"trailing data", `{` + coreUser + `,"userName":"a"} {}`, "after the top-level object"},
		{"no schemas", `{"userName":"a"}`, "schemas"},
		{"null schemas", `{"schemas":null,"userName":"a"}`, "schemas"},
		{"schemas not an array", `{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"a"}`, "array"},
		{"schemas element not a string", `{"schemas":[1],"userName":"a"}`, "array"},
		{"schemas without core", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a"}`, "urn:ietf:params:scim:schemas:core:2.0:User"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.body), UserResourceType)
			wantErr(t, err, 400, ScimTypeInvalidSyntax, tt.detail)
		})
	}
}

func TestDecodeNormalizes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"attribute names are case-insensitive",
			`{"SCHEMAS":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],"USERNAME":"a","Name":{"GivenName":"A"},"eMails":[{"VALUE":"a@x","Type":"work"}]}`,
			`{` + coreUser + `,"userName":"a","name":{"givenName":"A"},"emails":[{"value":"a@x","type":"work"}]}`},
		{"readOnly attributes dropped",
			`{` + coreUser + `,"userName":"a","id":"client-id","meta":{"resourceType":"User"},"groups":[{"value":"g"}]}`,
			`{` + coreUser + `,"userName":"a"}`},
		{"unknown attributes and sub-attributes dropped",
			`{` + coreUser + `,"userName":"a","favouriteColour":"blue","name":{"givenName":"A","nickname":"x"}}`,
			`{` + coreUser + `,"userName":"a","name":{"givenName":"A"}}`},
		{"null is unassigned",
			`{` + coreUser + `,"userName":"a","title":null,"name":{"givenName":null},"emails":[null]}`,
			`{` + coreUser + `,"userName":"a","emails":[]}`},
		{"empty arrays are kept",
			`{` + coreUser + `,"userName":"a","roles":[]}`,
			`{` + coreUser + `,"userName":"a","roles":[]}`},
		{"booleans from strings in any case",
			`{` + coreUser + `,"userName":"a","active":"True","emails":[{"value":"a@x","primary":"FALSE"}]}`,
			`{` + coreUser + `,"userName":"a","active":true,"emails":[{"value":"a@x","primary":false}]}`},
		{"single value of a multi-valued attribute is wrapped",
			`{` + coreUser + `,"userName":"a","emails":{"value":"a@x"}}`,
			`{` + coreUser + `,"userName":"a","emails":[{"value":"a@x"}]}`},
		{"one-element array for a single value is unwrapped",
			`{` + coreUser + `,"userName":["a"],"name":[{"givenName":"A"}]}`,
			`{` + coreUser + `,"userName":"a","name":{"givenName":"A"}}`},
		{"dotted and URN-qualified keys",
			`{` + coreUser + `,"userName":"a","name.givenName":"A","urn:ietf:params:scim:schemas:core:2.0:User:title":"T","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}`,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a","name":{"givenName":"A"},"title":"T","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7"}}`},
		{"manager as a bare string",
			`{` + coreUser + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}`,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m-1"}}}`},
		{"manager readOnly displayName dropped, empty manager dropped",
			`{` + coreUser + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m","displayName":"M"},"department":"D"}}`,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"},"department":"D"}}`},
		{"empty manager string is unassigned, empty extension dropped",
			`{` + coreUser + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":""}}`,
			`{` + coreUser + `,"userName":"a"}`},
		{"unqualified extension attribute resolves to the extension",
			`{` + coreUser + `,"userName":"a","department":"Sales"}`,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`},
		{"unknown schema URNs dropped, extension URN listed without data dropped",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","urn:example:custom"],"userName":"a","urn:example:custom":{"x":1}}`,
			`{` + coreUser + `,"userName":"a"}`},
		{"numbers keep their text",
			`{` + coreUser + `,"userName":"a","x509Certificates":[{"value":"TUlJRGNqQ0NBbGFnQXdJQkFnSUJBVEFOQmdr"}]}`,
			`{` + coreUser + `,"userName":"a","x509Certificates":[{"value":"TUlJRGNqQ0NBbGFnQXdJQkFnSUJBVEFOQmdr"}]}`},
		{"core attributes nested under the core URN",
			`{` + coreUser + `,"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"a","name":{"givenName":"A"},"id":"x"}}`,
			`{` + coreUser + `,"userName":"a","name":{"givenName":"A"}}`},
		{"password kept (writeOnly is writable)",
			`{` + coreUser + `,"userName":"a","password":"p"}`,
			`{` + coreUser + `,"userName":"a","password":"p"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameJSON(t, decodeUser(t, tt.body), tt.want)
		})
	}
}

func TestDecodeValueErrors(t *testing.T) {
	tests := []struct{ name, body, detail string }{
		{"string for boolean", `{` + coreUser + `,"userName":"a","active":"yes"}`, "active: expected a boolean, got a string"},
		{"number for boolean", `{` + coreUser + `,"userName":"a","active":1}`, "expected a boolean, got a number"},
		{"number for string", `{` + coreUser + `,"userName":1}`, "userName: expected a string"},
		{"object for string", `{` + coreUser + `,"userName":"a","title":{"x":1}}`, "title"},
		{"array of two for a single value", `{` + coreUser + `,"userName":["a","b"]}`, "expected a single value"},
		{"boolean for complex", `{` + coreUser + `,"userName":"a","name":true}`, "name: expected a complex"},
		{"array in complex sub", `{` + coreUser + `,"userName":"a","emails":[{"value":["x","y"]}]}`, "emails[0].value"},
		{"binary not base64", `{` + coreUser + `,"userName":"a","x509Certificates":[{"value":"*not base64*"}]}`, "base64"},
		{"two primaries", `{` + coreUser + `,"userName":"a","emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":"True"}]}`, "at most one value may be primary"},
		{"missing userName", `{` + coreUser + `,"displayName":"a"}`, `"userName" is required`},
		{"empty userName", `{` + coreUser + `,"userName":""}`, `"userName" is required`},
		{"null userName", `{` + coreUser + `,"userName":null}`, `"userName" is required`},
		{"extension not an object", `{` + coreUser + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, "expected an object"},
		{"bad manager value", `{` + coreUser + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":5}}`, "manager.value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.body), UserResourceType)
			wantErr(t, err, 400, ScimTypeInvalidValue, tt.detail)
		})
	}
}

func TestDecodeGroup(t *testing.T) {
	g := decodeGroup(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":["u1",{"value":"u2","display":"U 2","$ref":null,"type":"User"}]}`)
	sameJSON(t, g, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"u1"},{"value":"u2","type":"User"}]}`)

	_, err := Decode(strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"members":[]}`), GroupResourceType)
	wantErr(t, err, 400, ScimTypeInvalidValue, `"displayName" is required`)
	_, err = Decode(strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"display":"no id"}]}`), GroupResourceType)
	wantErr(t, err, 400, ScimTypeInvalidValue, `sub-attribute "value" is required`)
	_, err = Decode(strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[7]}`), GroupResourceType)
	wantErr(t, err, 400, ScimTypeInvalidValue, "members[0].value")
}

// typedRT is a custom resource type with every attribute type, like the one
// the report log builds for its entries.
func typedRT(t testing.TB) *ResourceType {
	t.Helper()
	s, err := NewSchema("urn:scimgate:test:2.0:Entry", "Entry", "", []*Attribute{
		{Name: "name", Type: TypeString, Required: true},
		{Name: "code", Type: TypeString, CaseExact: true},
		{Name: "count", Type: TypeInteger},
		{Name: "ratio", Type: TypeDecimal},
		{Name: "when", Type: TypeDateTime},
		{Name: "ok", Type: TypeBoolean},
		{Name: "blob", Type: TypeBinary},
		{Name: "link", Type: TypeReference},
		{Name: "tags", Type: TypeString, MultiValued: true},
		{Name: "serial", Type: TypeString, Mutability: MutabilityImmutable},
		{Name: "secret", Type: TypeString, Mutability: MutabilityWriteOnly, Returned: ReturnedNever},
		{Name: "debug", Type: TypeString, Returned: ReturnedRequest},
		{Name: "owner", Type: TypeComplex, SubAttributes: []*Attribute{
			{Name: "value", Type: TypeString},
			{Name: "badge", Type: TypeString, Mutability: MutabilityImmutable},
			{Name: "note", Type: TypeString, Returned: ReturnedRequest},
		}},
		{Name: "computed", Type: TypeString, Mutability: MutabilityReadOnly},
	})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewResourceType("Entry", "", "", s)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

const entrySchemas = `"schemas":["urn:scimgate:test:2.0:Entry"]`

func TestNormalizeTypes(t *testing.T) {
	rt := typedRT(t)
	ok := []struct{ name, in, want string }{
		{"integer", `{"count":42}`, `{"count":42}`},
		{"negative integer", `{"count":-7}`, `{"count":-7}`},
		{"decimal", `{"ratio":0.25}`, `{"ratio":0.25}`},
		{"decimal from integer text", `{"ratio":3}`, `{"ratio":3}`},
		{"dateTime", `{"when":"2024-05-01T10:00:00Z"}`, `{"when":"2024-05-01T10:00:00Z"}`},
		{"dateTime with offset and fraction", `{"when":"2024-05-01T10:00:00.123+02:00"}`, `{"when":"2024-05-01T10:00:00.123+02:00"}`},
		{"binary padded", `{"blob":"aGk="}`, `{"blob":"aGk="}`},
		{"binary unpadded", `{"blob":"aGk"}`, `{"blob":"aGk"}`},
		{"reference", `{"link":"https://x/Users/1"}`, `{"link":"https://x/Users/1"}`},
		{"multi-valued strings", `{"tags":["a",null,"b"]}`, `{"tags":["a","b"]}`},
		{"multi-valued single string", `{"tags":"a"}`, `{"tags":["a"]}`},
		{"complex from a bare value", `{"owner":"o1"}`, `{"owner":{"value":"o1"}}`},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			in := obj(t, tt.in)
			in["schemas"] = []any{"urn:scimgate:test:2.0:Entry"}
			in["name"] = "n"
			got, err := Normalize(in, rt)
			if err != nil {
				t.Fatal(err)
			}
			want := obj(t, tt.want)
			want["schemas"] = []any{"urn:scimgate:test:2.0:Entry"}
			want["name"] = "n"
			sameJSON(t, got, canon(t, want))
		})
	}
	bad := []struct{ name, in, detail string }{
		{"fraction for integer", `{"count":1.5}`, "not an integer"},
		{"exponent for integer", `{"count":1e3}`, "not an integer"},
		{"huge integer", `{"count":123456789012345678901234567890}`, "not an integer"},
		{"string for integer", `{"count":"42"}`, "expected an integer, got a string"},
		{"string for decimal", `{"ratio":"0.5"}`, "expected a decimal"},
		{"bad dateTime", `{"when":"yesterday"}`, "RFC 3339"},
		{"date only", `{"when":"2024-05-01"}`, "RFC 3339"},
		{"number for dateTime", `{"when":5}`, "expected a dateTime"},
		{"number for reference", `{"link":5}`, "expected a reference"},
		{"complex without value sub from a bare value", `{"owner":["a","b"]}`, "expected a single value"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			in := obj(t, tt.in)
			in["schemas"] = []any{"urn:scimgate:test:2.0:Entry"}
			in["name"] = "n"
			_, err := Normalize(in, rt)
			wantErr(t, err, 400, ScimTypeInvalidValue, tt.detail)
		})
	}
}

func TestNormalizeDoesNotModifyInput(t *testing.T) {
	in := obj(t, `{`+coreUser+`,"USERNAME":"a","active":"True","id":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}`)
	before := Clone(in)
	if _, err := Normalize(in, UserResourceType); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, in) {
		t.Fatalf("Normalize modified its input")
	}
}

func TestReplace(t *testing.T) {
	old := sampleUser(t)
	// Okta's AIW PUT: the whole object as read, with changes, including
	// readOnly attributes and without the password it cannot read.
	put := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"id":"client-sent-id","userName":"bjensen@example.com","displayName":"Barbara Jensen",
		"meta":{"resourceType":"User","created":"1999-01-01T00:00:00Z"},
		"groups":[{"value":"other"}],"emails":[{"value":"bjensen@example.com","type":"work","display":"BJ"}],"active":true}`)
	got, err := Replace(old, put, UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"id":"2819c223-7f76-453a-919d-413861904646",
		"userName":"bjensen@example.com","displayName":"Barbara Jensen","active":true,
		"password":"t1meMa$heen",
		"emails":[{"value":"bjensen@example.com","type":"work","display":"BJ"}],
		"groups":[{"value":"e9e30dba-f08f-4109-8486-d5c6a331660a","display":"Tour Guides"}],
		"meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"3694e05e9dff590\""}}`)
	if want := obj(t, sampleUserJSON); !reflect.DeepEqual(old, want) {
		t.Errorf("Replace modified old")
	}

	// A new password replaces the old one.
	put2 := decodeUser(t, `{`+coreUser+`,"userName":"b","password":"new"}`)
	got, err = Replace(old, put2, UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	if got["password"] != "new" {
		t.Errorf("password = %v, want new", got["password"])
	}
}

func TestReplaceImmutable(t *testing.T) {
	rt := typedRT(t)
	old := obj(t, `{`+entrySchemas+`,"name":"n","serial":"S-1","owner":{"value":"o","badge":"B1"},"computed":"c"}`)
	norm := func(s string) map[string]any {
		m, err := Normalize(obj(t, s), rt)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	got, err := Replace(old, norm(`{`+entrySchemas+`,"name":"n2"}`), rt)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{`+entrySchemas+`,"name":"n2","serial":"S-1","owner":{"badge":"B1"},"computed":"c"}`)

	if _, err := Replace(old, norm(`{`+entrySchemas+`,"name":"n","serial":"S-1"}`), rt); err != nil {
		t.Errorf("same immutable value rejected: %v", err)
	}
	_, err = Replace(old, norm(`{`+entrySchemas+`,"name":"n","serial":"S-2"}`), rt)
	wantErr(t, err, 400, ScimTypeMutability, `"serial"`)
	_, err = Replace(old, norm(`{`+entrySchemas+`,"name":"n","owner":{"value":"o","badge":"B2"}}`), rt)
	wantErr(t, err, 400, ScimTypeMutability, `"owner.badge"`)
	// Setting an immutable value that had none is allowed.
	empty := obj(t, `{`+entrySchemas+`,"name":"n"}`)
	if _, err := Replace(empty, norm(`{`+entrySchemas+`,"name":"n","serial":"S-9"}`), rt); err != nil {
		t.Errorf("first immutable value rejected: %v", err)
	}
}

func TestIndexValues(t *testing.T) {
	u := decodeUser(t, `{`+coreUser+`,"userName":"Bob","externalId":"e1","emails":[{"value":"B@x.com"},{"value":"b@X.com"},{"value":""},{"value":"c@x.com"}]}`)
	tests := []struct {
		path string
		want []string
	}{
		{"userName", []string{"Bob"}},
		{"externalId", []string{"e1"}},
		{"emails.value", []string{"B@x.com", "c@x.com"}},
		{"displayName", nil},
		{"nope", nil},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", nil},
	}
	for _, tt := range tests {
		if got := IndexValues(u, UserResourceType, tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("IndexValues(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := StringAt(u, UserResourceType, "userName"); got != "Bob" {
		t.Errorf("StringAt(userName) = %q", got)
	}
	if got := StringAt(u, UserResourceType, "title"); got != "" {
		t.Errorf("StringAt(title) = %q", got)
	}
}

func TestMemberIDs(t *testing.T) {
	tests := []struct {
		in      string
		ids     []string
		present bool
	}{
		{`{"displayName":"G"}`, nil, false},
		{`{"members":null}`, nil, false},
		{`{"members":[]}`, nil, true},
		{`{"members":[{"value":"a"},{"value":"b"},{"value":"a"},"c",{"display":"x"}]}`, []string{"a", "b", "c"}, true},
		{`{"Members":{"value":"a"}}`, []string{"a"}, true},
	}
	for _, tt := range tests {
		ids, present := MemberIDs(obj(t, tt.in))
		if !reflect.DeepEqual(ids, tt.ids) || present != tt.present {
			t.Errorf("MemberIDs(%s) = %q, %v; want %q, %v", tt.in, ids, present, tt.ids, tt.present)
		}
	}
}

func TestClone(t *testing.T) {
	u := sampleUser(t)
	c := Clone(u)
	c["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	c["name"].(map[string]any)["givenName"] = "changed"
	if !reflect.DeepEqual(u, sampleUser(t)) {
		t.Fatalf("Clone shares nested values")
	}
	if Clone(nil) != nil {
		t.Errorf("Clone(nil) != nil")
	}
}

func TestChanged(t *testing.T) {
	a := sampleUser(t)
	b := Clone(a)
	b["displayName"] = "babs jensen" // case change counts
	b["emails"] = []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}}
	b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)["department"] = "X"
	b["nickName"] = ""        // "" and absent are the same state
	delete(b, "phoneNumbers") // removal counts
	got := Changed(a, b, UserResourceType)
	want := []string{"displayName", "emails", "phoneNumbers", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changed = %q, want %q", got, want)
	}
	if got := Changed(a, Clone(a), UserResourceType); len(got) != 0 {
		t.Errorf("Changed(same) = %q", got)
	}
}
