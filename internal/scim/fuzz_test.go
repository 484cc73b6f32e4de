package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

var filterSeeds = []string{
	`userName eq "bjensen"`,
	`name.familyName co "O'Malley"`,
	`userName sw "J"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
	`title pr`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`meta.lastModified ge "2011-05-13T04:42:34Z"`,
	`meta.lastModified lt "2011-05-13T04:42:34Z"`,
	`meta.lastModified le "2011-05-13T04:42:34Z"`,
	`title pr and userType eq "Employee"`,
	`title pr or userType eq "Intern"`,
	`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
	`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
	`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
	`userType eq "Employee" and (emails.type eq "work")`,
	`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
	`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
	`userName eq "test.user@okta.local"`,
	`displayName eq "Test SCIMv2"`,
	`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
	`emails[type eq "work"].value eq "bjensen@example.com"`,
	`id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`,
	`id eq "g1" and members eq "u1"`,
	`members[value eq "u1" or value eq "u2"]`,
	`externalId eq jyoung`,
	`userName eq "a\"b\u00e9"`,
	`emails[not(type eq "work")] and not (active eq false)`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
	`emails[type eq "work"`,
	`((((userName eq "x"))))`,
	`active gt true`,
}

// FuzzCompileFilter: Compile never panics, fails only with 400
// invalidFilter, and a compiled filter matches and plans without panics;
// every plan key finds the sample when the filter matches it.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	user := obj(f, sampleUserJSON)
	grp := obj(f, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Admins","externalId":"e1"}`)
	hooks := Hooks{
		IsMember: func(id string) (bool, error) { return id == "u1", nil },
		Members:  func() ([]string, error) { return []string{"u1", "u2"}, nil },
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, c := range []struct {
			rt  *ResourceType
			res map[string]any
		}{{UserResourceType, user}, {GroupResourceType, grp}} {
			flt, err := Compile(expr, c.rt)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 || e.ScimType != ScimTypeInvalidFilter {
					t.Fatalf("Compile(%q) error %v is not 400 invalidFilter", expr, err)
				}
				continue
			}
			matched, err := flt.MatchWith(c.res, hooks)
			if err != nil {
				t.Fatalf("MatchWith: %v", err)
			}
			if flt.Match(c.res) && !matched && !strings.Contains(strings.ToLower(expr), "members") {
				t.Fatalf("Match and MatchWith disagree on %q", expr)
			}
			if !matched {
				continue
			}
			for _, k := range flt.Plan() {
				found := false
				for _, v := range IndexValues(c.res, c.rt, k.Name) {
					found = found || strings.ToLower(v) == strings.ToLower(k.Value)
				}
				if !found {
					t.Fatalf("%q matches but plan key %v does not find the resource", expr, k)
				}
			}
		}
	})
}

var patchSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"abf4","displayName":"Test SCIMv2"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"89bb1940\"]"},{"op":"add","path":"members","value":[{"value":"23a35c27","display":"test.user@okta.local"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":"a"},{"value":"b"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"manager","value":[{"$ref":"http://x/scim/Users/m","value":"m"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"2c2f6fb8"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"roles","value":[{"value":"{\"id\":\"x\",\"value\":\"25\"}"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"roles[primary eq \"True\"].value","value":"Admin"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"nickName","value":"Babs"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"u1091"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]}`,
	`{"Operations":[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"add","path":"emails","value":{"value":"x@y","primary":true}}]}`,
	`{"operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"manager":null,"department":"x"}}]}`,
	`{"Operations":[{"op":"remove","path":"id"}]}`,
	`{"Operations":[]}`,
	`not json`,
}

// FuzzPatch: parsing and applying never panic, errors are 4xx *Error, the
// input map is never modified, and a result is a valid resource.
func FuzzPatch(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add([]byte(s))
	}
	user := obj(f, sampleUserJSON)
	grp := obj(f, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Admins","externalId":"e1"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePatch(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("ParsePatch error %v is not a 400 *Error", err)
			}
			return
		}
		for _, c := range []struct {
			rt  *ResourceType
			res map[string]any
		}{{UserResourceType, user}, {GroupResourceType, grp}} {
			before := Clone(c.res)
			r, err := p.Apply(c.res, c.rt)
			if !reflect.DeepEqual(before, c.res) {
				t.Fatalf("Apply modified its input (err %v)", err)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 || r != nil {
					t.Fatalf("Apply error %v is not a 400 *Error, or came with a result", err)
				}
				continue
			}
			if _, err := json.Marshal(r.Resource); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
			if _, err := Normalize(r.Resource, c.rt); err != nil {
				t.Fatalf("result is not a valid resource: %v\n%s", err, canon(t, r.Resource))
			}
			if d := r.Members; d != nil {
				seen := map[string]bool{}
				for _, id := range d.Add {
					seen[id] = true
				}
				for _, id := range d.Remove {
					if seen[id] || d.Replace {
						t.Fatalf("delta %+v: Remove overlaps Add or comes with Replace", d)
					}
				}
			}
		}
	})
}

var decodeSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2","userName":"Test_User_ab6490ee","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],"userName":"x","addresses":null,"phoneNumbers":null,"title":null,"department":null,"manager":null}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1","displayName":"displayName","meta":{"resourceType":"Group"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","active":"True","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"USERNAME":"u","name.givenName":"g","x509Certificates":[{"value":"aGk="}]}`,
	sampleUserJSON,
	`[]`,
	`{"userName":1}`,
}

// FuzzDecode: Decode never panics, errors are 400 *Error, and decoding is
// idempotent (decoding the encoded result gives the same resource).
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range []*ResourceType{UserResourceType, GroupResourceType} {
			res, err := Decode(bytes.NewReader(body), rt)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 || (e.ScimType != ScimTypeInvalidSyntax && e.ScimType != ScimTypeInvalidValue) {
					t.Fatalf("Decode error %v is not 400 invalidSyntax/invalidValue", err)
				}
				continue
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			again, err := Decode(bytes.NewReader(b), rt)
			if err != nil {
				t.Fatalf("decoding the decoded resource failed: %v\n%s", err, b)
			}
			if x, y := canon(t, res), canon(t, again); x != y {
				t.Fatalf("Decode is not idempotent:\n%s\n%s", x, y)
			}
			Project(res, rt, nil, nil)
		}
	})
}

// FuzzAttrReader holds attrReader, the shortcut Changes reads resources
// with, to get on every attribute, for raw and normalized resources.
func FuzzAttrReader(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := decodeObject(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, rt := range []*ResourceType{UserResourceType, GroupResourceType} {
			docs := []map[string]any{raw}
			if norm, err := Normalize(raw, rt); err == nil {
				docs = append(docs, norm)
			}
			for _, doc := range docs {
				r := newAttrReader(doc, rt)
				for _, p := range slots(rt) {
					if got, want := r.get(p), get(doc, p); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s of %s: reader %#v, get %#v", p, body, got, want)
					}
				}
			}
		}
	})
}

// TestAttrReaderSpelled checks the shortcut is taken for a normalized
// resource and not for one with a key in another case.
func TestAttrReaderSpelled(t *testing.T) {
	doc, err := Decode(strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"USERNAME":"a",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"x"}}`), UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	if !newAttrReader(doc, UserResourceType).spelled {
		t.Errorf("a normalized resource is not read by its spelling: %v", doc)
	}
	for _, raw := range []map[string]any{
		{"USERNAME": "a"},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"Department": "x"}},
		{"unknown": 1},
	} {
		r := newAttrReader(raw, UserResourceType)
		if r.spelled {
			t.Errorf("%v is read by spelling", raw)
		}
		if r.get(AttrPath{Schema: UserResourceType.schema, Attr: UserResourceType.schema.Attribute("userName")}) != raw["USERNAME"] {
			t.Errorf("%v: userName not found case-insensitively", raw)
		}
	}
}

var simpleFilterSeeds = []string{
	`userName eq "test.user@okta.local"`,
	`externalId eq "00ujl29u0le5T6Aj10h7"`,
	`displayName eq "Engineering Team"`,
	`name.givenName sw "J"`,
	`emails.value co "@example.com"`,
	`userName eq ""`,
	`user-name_2 ne "x"`,
	`userName EQ "x"`,
	`userName  eq "x"`,
	`userName eq "a" and active eq "true"`,
	`userName eq "\u0041"`,
	`userName eq "é"`,
	`a.b.c eq "x"`,
	`2a eq "x"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
	`active eq true`,
	`userName pr`,
}

// FuzzSimpleFilter holds parseSimpleFilter to the parser: whenever it
// accepts a text, the parser returns the same expression for it.
func FuzzSimpleFilter(f *testing.F) {
	for _, s := range simpleFilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := parseSimpleFilter(text)
		if !ok {
			return
		}
		want, err := parseFilterSlow(text)
		if err != nil {
			t.Fatalf("%q: the shortcut accepted what the parser refuses: %v", text, err)
		}
		if !reflect.DeepEqual(filter.Expression(got), want) {
			t.Fatalf("%q: shortcut %#v, parser %#v", text, got, want)
		}
	})
}

// TestSimpleFilter checks which seeds take the shortcut, so that it
// cannot silently stop being taken.
func TestSimpleFilter(t *testing.T) {
	want := map[string]bool{
		`userName eq "test.user@okta.local"`: true, `externalId eq "00ujl29u0le5T6Aj10h7"`: true,
		`displayName eq "Engineering Team"`: true, `name.givenName sw "J"`: true,
		`emails.value co "@example.com"`: true, `userName eq ""`: true, `user-name_2 ne "x"`: true,
	}
	for _, s := range simpleFilterSeeds {
		_, ok := parseSimpleFilter(s)
		if ok != want[s] {
			t.Errorf("parseSimpleFilter(%q) took the shortcut: %v, want %v", s, ok, want[s])
		}
	}
	// Every byte in every position the shortcut reads, against the parser.
	for b := range 256 {
		c := string(rune(b))
		if b >= 0x80 {
			c = string([]byte{byte(b)})
		}
		for _, text := range []string{
			`user` + c + `Name eq "v"`, c + `serName eq "v"`, `userName eq "a` + c + `b"`, `userName eq "` + c + `"`,
			`name.` + c + `x eq "v"`, `userName e` + c + ` "v"`, `userName` + c + `eq "v"`, `userName eq` + c + `"v"`,
		} {
			got, ok := parseSimpleFilter(text)
			if !ok {
				continue
			}
			if want, err := parseFilterSlow(text); err != nil || !reflect.DeepEqual(filter.Expression(got), want) {
				t.Errorf("%q: shortcut %#v, parser %#v, %v", text, got, want, err)
			}
		}
	}
}

var simpleAttrPathSeeds = []string{
	"displayName", "name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
	"a-b_c", "x:y", "emails[type eq \"work\"].value", "name.givenName.x", ":a", "a:", "urn::x", "urn:a.b:c", "1a", "a..b", "urn:x:1a",
}

// FuzzSimpleAttrPath holds parseSimpleAttrPath to the parser: whenever it
// accepts a path, the parser returns the same path for it.
func FuzzSimpleAttrPath(f *testing.F) {
	for _, s := range simpleAttrPathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { checkSimpleAttrPath(t, text) })
}

func checkSimpleAttrPath(t *testing.T, text string) bool {
	t.Helper()
	got, ok := parseSimpleAttrPath(text)
	if !ok {
		return false
	}
	want, err := parseAttrPathSlow(text)
	if err != nil {
		t.Fatalf("%q: the shortcut accepted what the parser refuses: %v", text, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: shortcut %#v, parser %#v", text, got, want)
	}
	return true
}

// TestSimpleAttrPath checks which seeds take the shortcut, and every byte
// in every position it reads against the parser.
func TestSimpleAttrPath(t *testing.T) {
	want := map[string]bool{"displayName": true, "name.givenName": true, "a-b_c": true, "x:y": true, "urn:a.b:c": true,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":    true,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": true,
		"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName":               true,
	}
	for _, s := range simpleAttrPathSeeds {
		if ok := checkSimpleAttrPath(t, s); ok != want[s] {
			t.Errorf("%q took the shortcut: %v, want %v", s, ok, want[s])
		}
	}
	for b := range 256 {
		c := string([]byte{byte(b)})
		for _, text := range []string{"a" + c + "b", c + "ab", "ab" + c, "a.b" + c, "a." + c + "b", "urn:x" + c + "y:a", "urn" + c + ":a", "urn:" + c + ":a", "u:a" + c} {
			checkSimpleAttrPath(t, text)
		}
	}
}
