package scim

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNewSchemaValidation(t *testing.T) {
	tests := []struct {
		name  string
		attrs []*Attribute
		want  string
	}{
		{"duplicate name, other case", []*Attribute{{Name: "title", Type: TypeString}, {Name: "Title", Type: TypeString}}, "defined twice"},
		{"bad name", []*Attribute{{Name: "1abc", Type: TypeString}}, "invalid attribute name"},
		{"name with dot", []*Attribute{{Name: "a.b", Type: TypeString}}, "invalid attribute name"},
		{"unknown type", []*Attribute{{Name: "a", Type: "float"}}, "unknown type"},
		{"unknown mutability", []*Attribute{{Name: "a", Type: TypeString, Mutability: "rw"}}, "unknown mutability"},
		{"unknown returned", []*Attribute{{Name: "a", Type: TypeString, Returned: "sometimes"}}, "unknown returned"},
		{"unknown uniqueness", []*Attribute{{Name: "a", Type: TypeString, Uniqueness: "local"}}, "unknown uniqueness"},
		{"complex without subs", []*Attribute{{Name: "a", Type: TypeComplex}}, "without sub-attributes"},
		{"subs on simple", []*Attribute{{Name: "a", Type: TypeString, SubAttributes: []*Attribute{{Name: "b", Type: TypeString}}}}, "sub-attributes on a string"},
		{"nested complex", []*Attribute{{Name: "a", Type: TypeComplex, SubAttributes: []*Attribute{{Name: "b", Type: TypeComplex, SubAttributes: []*Attribute{{Name: "c", Type: TypeString}}}}}}, "complex sub-attributes"},
		{"duplicate sub", []*Attribute{{Name: "a", Type: TypeComplex, SubAttributes: []*Attribute{{Name: "b", Type: TypeString}, {Name: "B", Type: TypeString}}}}, "defined twice"},
		{"nil attribute", []*Attribute{nil}, "nil attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSchema("urn:test", "T", "", tt.attrs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := NewSchema("", "T", "", nil); err == nil {
		t.Errorf("empty schema id accepted")
	}
}

func TestNewSchemaReportsAllProblems(t *testing.T) {
	_, err := NewSchema("urn:test", "T", "", []*Attribute{{Name: "1", Type: TypeString}, {Name: "b", Type: "x"}})
	if err == nil || !strings.Contains(err.Error(), "invalid attribute name") || !strings.Contains(err.Error(), "unknown type") {
		t.Fatalf("err = %v, want both problems", err)
	}
}

func TestNewSchemaDefaultsAndCopies(t *testing.T) {
	sub := &Attribute{Name: "x", Type: TypeString}
	in := &Attribute{Name: "c", Type: TypeComplex, SubAttributes: []*Attribute{sub}}
	s, err := NewSchema("urn:test", "T", "d", []*Attribute{in, {Name: "$ref", Type: TypeReference}})
	if err != nil {
		t.Fatal(err)
	}
	in.Name, sub.Type = "changed", TypeInteger
	a := s.Attribute("C")
	if a == nil || a.Name != "c" {
		t.Fatalf("Attribute(\"C\") = %v", a)
	}
	if a.Mutability != MutabilityReadWrite || a.Returned != ReturnedDefault || a.Uniqueness != UniquenessNone {
		t.Errorf("defaults not applied: %+v", a)
	}
	if x := a.Sub("X"); x == nil || x.Type != TypeString || x.Mutability != MutabilityReadWrite {
		t.Errorf("sub-attribute not copied with defaults: %+v", x)
	}
	if s.Attribute("$REF") == nil {
		t.Errorf("$ref attribute not found")
	}
}

func TestNewResourceTypeValidation(t *testing.T) {
	if _, err := NewResourceType("", "/X", "", UserSchema); err == nil {
		t.Errorf("empty name accepted")
	}
	if _, err := NewResourceType("X", "/X", "", nil); err == nil {
		t.Errorf("nil schema accepted")
	}
	if _, err := NewResourceType("X", "/X", "", UserSchema, Extension{Schema: EnterpriseUserSchema}, Extension{Schema: EnterpriseUserSchema}); err == nil {
		t.Errorf("duplicate extension accepted")
	}
	if _, err := NewResourceType("X", "/X", "", UserSchema, Extension{}); err == nil {
		t.Errorf("nil extension accepted")
	}
	if _, err := NewResourceType("X", "/X", "", UserSchema, Extension{Schema: UserSchema}); err == nil {
		t.Errorf("core schema as extension accepted")
	}
}

func TestResolve(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		rt   *ResourceType
		path string
		want string // canonical path, "" when unresolvable
	}{
		{UserResourceType, "userName", "userName"},
		{UserResourceType, "USERNAME", "userName"},
		{UserResourceType, "name.GIVENNAME", "name.givenName"},
		{UserResourceType, "emails.value", "emails.value"},
		{UserResourceType, "emails", "emails"},
		{UserResourceType, "id", "id"},
		{UserResourceType, "externalId", "externalId"},
		{UserResourceType, "meta.lastModified", "meta.lastModified"},
		{UserResourceType, "schemas", "schemas"},
		{UserResourceType, "groups.display", "groups.display"},
		{UserResourceType, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName"},
		{UserResourceType, "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName", "name.familyName"},
		{UserResourceType, "urn:ietf:params:scim:schemas:core:2.0:User:id", "id"},
		{UserResourceType, ent, ent},
		{UserResourceType, strings.ToUpper(ent), ent},
		{UserResourceType, ent + ":manager", ent + ":manager"},
		{UserResourceType, ent + ":manager.value", ent + ":manager.value"},
		{UserResourceType, ent + ":employeeNumber", ent + ":employeeNumber"},
		{UserResourceType, "manager", ent + ":manager"},
		{UserResourceType, "department", ent + ":department"},
		{UserResourceType, "password", "password"},
		{GroupResourceType, "members.value", "members.value"},
		{GroupResourceType, "members.$ref", "members.$ref"},
		{GroupResourceType, "displayName", "displayName"},
		{UserResourceType, "", ""},
		{UserResourceType, "foo", ""},
		{UserResourceType, "name.foo", ""},
		{UserResourceType, "name.givenName.x", ""},
		{UserResourceType, "userName.x", ""},
		{UserResourceType, "urn:ietf:params:scim:schemas:core:2.0:User", ""},
		{UserResourceType, "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", ""},
		{UserResourceType, "urn:example:custom:2.0:User:foo", ""},
		{UserResourceType, ent + ":userName", ""},
		{UserResourceType, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group", ""},
		{GroupResourceType, "manager", ""},
		{GroupResourceType, "userName", ""},
	}
	for _, tt := range tests {
		p, ok := tt.rt.Resolve(tt.path)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("%s.Resolve(%q) = %q, want %q", tt.rt.Name(), tt.path, got, tt.want)
		}
	}
}

func TestAttrPathValues(t *testing.T) {
	u := sampleUser(t)
	tests := []struct {
		path string
		want string
	}{
		{"userName", `["bjensen@example.com"]`},
		{"emails.value", `["bjensen@example.com","babs@jensen.org"]`},
		{"emails.primary", `[true]`},
		{"name.givenName", `["Barbara"]`},
		{"manager.value", `["26118915-6090-4610-87e4-49d8ca9f808d"]`},
		{"nickName", `null`},
		{"addresses.country", `null`},
	}
	for _, tt := range tests {
		p, ok := UserResourceType.Resolve(tt.path)
		if !ok {
			t.Fatalf("resolve %q", tt.path)
		}
		if got := canon(t, p.Values(u)); got != tt.want {
			t.Errorf("Values(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

// attrDoc finds an attribute in a rendered schema document.
func attrDoc(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Attributes []map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Attributes {
		if a["name"] == name {
			return a
		}
	}
	t.Fatalf("attribute %q not in schema document", name)
	return nil
}

func TestSchemaDocuments(t *testing.T) {
	doc := UserSchema.Document("https://gw.example.com/scim/v2/")
	if doc["id"] != SchemaUser || doc["name"] != "User" {
		t.Errorf("id/name = %v/%v", doc["id"], doc["name"])
	}
	if loc := doc["meta"].(map[string]any)["location"]; loc != "https://gw.example.com/scim/v2/Schemas/"+SchemaUser {
		t.Errorf("meta.location = %v", loc)
	}
	if s := canon(t, doc["schemas"]); s != `["urn:ietf:params:scim:schemas:core:2.0:Schema"]` {
		t.Errorf("schemas = %s", s)
	}
	checks := []struct {
		attr, key string
		want      any
	}{
		{"userName", "required", true},
		{"userName", "uniqueness", "server"},
		{"userName", "caseExact", false},
		{"password", "returned", "never"},
		{"password", "mutability", "writeOnly"},
		{"groups", "mutability", "readOnly"},
		{"emails", "multiValued", true},
		{"active", "type", "boolean"},
		{"profileUrl", "type", "reference"},
	}
	for _, c := range checks {
		if got := attrDoc(t, doc, c.attr)[c.key]; got != c.want {
			t.Errorf("%s.%s = %v, want %v", c.attr, c.key, got, c.want)
		}
	}
	emails := attrDoc(t, doc, "emails")
	if s := canon(t, emails["subAttributes"]); !strings.Contains(s, `"canonicalValues":["work","home","other"]`) {
		t.Errorf("emails.type canonical values missing: %s", s)
	}
	for _, common := range []string{"id", "externalId", "meta"} {
		b, _ := json.Marshal(doc)
		if strings.Contains(string(b), `"name":"`+common+`"`) {
			t.Errorf("common attribute %q rendered in the User schema", common)
		}
	}

	ent := EnterpriseUserSchema.Document("")
	if _, ok := ent["meta"].(map[string]any)["location"]; ok {
		t.Errorf("location rendered without a base URL")
	}
	mgr := canon(t, attrDoc(t, ent, "manager")["subAttributes"])
	for _, want := range []string{`"name":"value"`, `"name":"$ref"`, `"referenceTypes":["User"]`, `"name":"displayName"`, `"mutability":"readOnly"`} {
		if !strings.Contains(mgr, want) {
			t.Errorf("manager sub-attributes lack %s: %s", want, mgr)
		}
	}
	members := canon(t, attrDoc(t, GroupSchema.Document(""), "members")["subAttributes"])
	for _, want := range []string{`"name":"value"`, `"name":"$ref"`, `"mutability":"immutable"`, `"referenceTypes":["User","Group"]`} {
		if !strings.Contains(members, want) {
			t.Errorf("members sub-attributes lack %s: %s", want, members)
		}
	}
}

func TestResourceTypeDocument(t *testing.T) {
	sameJSON(t, UserResourceType.Document("https://gw/scim/v2"), `{
		"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
		"id":"User","name":"User","endpoint":"/Users","description":"User Account",
		"schema":"urn:ietf:params:scim:schemas:core:2.0:User",
		"schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}],
		"meta":{"resourceType":"ResourceType","location":"https://gw/scim/v2/ResourceTypes/User"}}`)
	sameJSON(t, GroupResourceType.Document(""), `{
		"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
		"id":"Group","name":"Group","endpoint":"/Groups","description":"Group",
		"schema":"urn:ietf:params:scim:schemas:core:2.0:Group",
		"meta":{"resourceType":"ResourceType"}}`)
}

func TestKeyLookupIsASCIICaseInsensitive(t *testing.T) {
	m := map[string]any{"UserName": "a", "\u212Aey": "kelvin"}
	if v, ok := lookupKey(m, "username"); !ok || v != "a" {
		t.Errorf("lookupKey(username) = %v, %v", v, ok)
	}
	if _, ok := lookupKey(m, "key"); ok {
		t.Errorf("Kelvin sign folded onto an ASCII name")
	}
	setKey(m, "userName", "b")
	if len(m) != 2 || m["userName"] != "b" {
		t.Errorf("setKey left %v", m)
	}
}
