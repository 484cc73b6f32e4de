package scim

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePatchErrors(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		scimType   string
		detail     string
	}{
		{"malformed", `{"Operations":[`, 400, ScimTypeInvalidSyntax, "malformed JSON"},
		{"not an object", `[]`, 400, ScimTypeInvalidSyntax, "JSON object"},
		{"wrong schemas", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Operations":[{"op":"add","path":"title","value":"x"}]}`, 400, ScimTypeInvalidSyntax, "PatchOp"},
		{"schemas not an array", `{"schemas":"urn:ietf:params:scim:api:messages:2.0:PatchOp","Operations":[{"op":"add","path":"title","value":"x"}]}`, 400, ScimTypeInvalidSyntax, "PatchOp"},
		{"no Operations", `{` + patchOp + `}`, 400, ScimTypeInvalidSyntax, `"Operations" is required`},
		{"null Operations", `{` + patchOp + `,"Operations":null}`, 400, ScimTypeInvalidSyntax, `"Operations" is required`},
		{"Operations not an array", `{` + patchOp + `,"Operations":{"op":"add"}}`, 400, ScimTypeInvalidSyntax, "must be an array"},
		{"empty Operations", `{` + patchOp + `,"Operations":[]}`, 400, ScimTypeInvalidSyntax, "at least one"},
		{"operation not an object", ops(`"add"`), 400, ScimTypeInvalidSyntax, "Operations[0]: an operation must be an object"},
		{"unknown op", ops(`{"op":"move","path":"title"}`), 400, ScimTypeInvalidSyntax, `"op" must be add, replace or remove`},
		{"missing op", ops(`{"path":"title","value":"x"}`), 400, ScimTypeInvalidSyntax, `"op"`},
		{"op not a string", ops(`{"op":1,"path":"title","value":"x"}`), 400, ScimTypeInvalidSyntax, `"op"`},
		{"remove without path", ops(`{"op":"remove"}`), 400, ScimTypeNoTarget, "remove requires a path"},
		{"remove with empty path", ops(`{"op":"remove","path":"  "}`), 400, ScimTypeNoTarget, "remove requires a path"},
		{"add without value", ops(`{"op":"add","path":"title"}`), 400, ScimTypeInvalidValue, "add requires a value"},
		{"add null", ops(`{"op":"add","path":"title","value":null}`), 400, ScimTypeInvalidValue, "add requires a value"},
		{"replace without value", ops(`{"op":"replace","path":"title"}`), 400, ScimTypeInvalidValue, "replace requires a value"},
		{"path-less non-object", ops(`{"op":"replace","value":"x"}`), 400, ScimTypeInvalidValue, "must be an object"},
		{"path-less array", ops(`{"op":"add","value":[{"title":"x"}]}`), 400, ScimTypeInvalidValue, "must be an object"},
		{"path not a string", ops(`{"op":"add","path":5,"value":"x"}`), 400, ScimTypeInvalidPath, `"path" must be a string`},
		{"bad path", ops(`{"op":"add","path":"name..givenName","value":"x"}`), 400, ScimTypeInvalidPath, "invalid path"},
		{"bad path chars", ops(`{"op":"add","path":"title eq","value":"x"}`), 400, ScimTypeInvalidPath, "invalid path"},
		{"unclosed filter", ops(`{"op":"remove","path":"emails[type eq \"work\""}`), 400, ScimTypeInvalidPath, `missing "]"`},
		{"bad filter", ops(`{"op":"remove","path":"emails[type eq]"}`), 400, ScimTypeInvalidPath, "syntax"},
		{"empty filter", ops(`{"op":"remove","path":"emails[ ]"}`), 400, ScimTypeInvalidPath, "empty value filter"},
		{"nested filter", ops(`{"op":"remove","path":"emails[type eq \"a\" and x[y eq 1]]"}`), 400, ScimTypeInvalidPath, "cannot be nested"},
		{"junk after filter", ops(`{"op":"remove","path":"emails[type eq \"work\"]x"}`), 400, ScimTypeInvalidPath, ".subAttribute"},
		{"two sub-attributes after filter", ops(`{"op":"remove","path":"emails[type eq \"work\"].value.x"}`), 400, ScimTypeInvalidPath, ".subAttribute"},
		{"long path", ops(`{"op":"remove","path":"` + strings.Repeat("a", 2000) + `"}`), 400, ScimTypeInvalidPath, "longer than"},
		{"second op bad", ops(`{"op":"add","path":"title","value":"x"},{"op":"nope"}`), 400, ScimTypeInvalidSyntax, "Operations[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePatch([]byte(tt.body))
			wantErr(t, err, tt.status, tt.scimType, tt.detail)
		})
	}
}

func TestParsePatchTolerance(t *testing.T) {
	tests := []struct{ name, body string }{
		{"no schemas", `{"Operations":[{"op":"add","path":"title","value":"x"}]}`},
		{"lower-case operations key", `{` + patchOp + `,"operations":[{"op":"add","path":"title","value":"x"}]}`},
		{"capitalised op and keys", `{` + patchOp + `,"Operations":[{"Op":"Add","Path":"title","Value":"x"}]}`},
		{"upper-case op with spaces", `{` + patchOp + `,"Operations":[{"op":" ADD ","path":" title ","value":"x"}]}`},
		{"schemas in other case", `{"schemas":["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],"Operations":[{"op":"add","path":"title","value":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPatch(t, tt.body)
			if len(p.Operations) != 1 || p.Operations[0].Op != "add" || p.Operations[0].Path != "title" || p.Operations[0].Value != "x" {
				t.Fatalf("operations = %+v", p.Operations)
			}
		})
	}
}

func TestPatchApply(t *testing.T) {
	tests := []struct {
		name    string
		ops     string
		want    string // the resulting resource minus the untouched sample fields, see below
		changed []string
	}{
		{"add single-valued", `{"op":"add","path":"nickName","value":"Babs"}`,
			`{"nickName":"Babs"}`, []string{"nickName"}},
		{"replace single-valued", `{"op":"replace","path":"title","value":"Boss"}`,
			`{"title":"Boss"}`, []string{"title"}},
		{"replace with the same value changes nothing", `{"op":"replace","path":"title","value":"Tour Guide"}`,
			`{}`, nil},
		{"replace null removes", `{"op":"replace","path":"title","value":null}`,
			`{"title":null}`, []string{"title"}},
		{"remove", `{"op":"remove","path":"title"}`,
			`{"title":null}`, []string{"title"}},
		{"remove absent attribute is a no-op", `{"op":"remove","path":"nickName"}`,
			`{}`, nil},
		{"replace sub-attribute", `{"op":"replace","path":"name.familyName","value":"Jensen-Smith"}`,
			`{"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen-Smith","givenName":"Barbara"}}`, []string{"name"}},
		{"remove sub-attribute", `{"op":"remove","path":"name.formatted"}`,
			`{"name":{"familyName":"Jensen","givenName":"Barbara"}}`, []string{"name"}},
		{"add to complex merges", `{"op":"add","path":"name","value":{"middleName":"J"}}`,
			`{"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara","middleName":"J"}}`, []string{"name"}},
		{"replace complex merges (RFC 7644 §3.5.2.3)", `{"op":"replace","path":"name","value":{"givenName":"Babs"}}`,
			`{"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Babs"}}`, []string{"name"}},
		{"add to multi-valued appends", `{"op":"add","path":"emails","value":[{"value":"b@work.example","type":"other"}]}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"b@work.example","type":"other"}]}`, []string{"emails"}},
		{"add of an equal value does not duplicate", `{"op":"add","path":"emails","value":[{"value":"BABS@jensen.org","type":"home"}]}`,
			`{}`, nil},
		{"add primary unsets the others", `{"op":"add","path":"emails","value":{"value":"new@x","type":"work","primary":true}}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home"},{"value":"new@x","type":"work","primary":true}]}`, []string{"emails"}},
		{"add existing value as primary", `{"op":"add","path":"emails","value":{"value":"babs@jensen.org","type":"home","primary":true}}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home","primary":true}]}`, []string{"emails"}},
		{"replace multi-valued", `{"op":"replace","path":"emails","value":[{"value":"only@x"}]}`,
			`{"emails":[{"value":"only@x"}]}`, []string{"emails"}},
		{"replace multi-valued with empty removes", `{"op":"replace","path":"phoneNumbers","value":[]}`,
			`{"phoneNumbers":null}`, []string{"phoneNumbers"}},
		{"filtered replace of a sub-attribute", `{"op":"replace","path":"emails[type eq \"home\"].value","value":"babs@new.org"}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@new.org","type":"home"}]}`, []string{"emails"}},
		{"filtered replace matching several", `{"op":"replace","path":"emails[value co \"jensen\"].display","value":"BJ"}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true,"display":"BJ"},{"value":"babs@jensen.org","type":"home","display":"BJ"}]}`, []string{"emails"}},
		{"filtered replace creates the element", `{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"555-1"}`,
			`{"phoneNumbers":[{"value":"555-555-5555","type":"work"},{"type":"mobile","value":"555-1"}]}`, []string{"phoneNumbers"}},
		{"filtered add creates the element", `{"op":"add","path":"addresses[type eq \"work\"].locality","value":"Hollywood"}`,
			`{"addresses":[{"type":"work","locality":"Hollywood"}]}`, []string{"addresses"}},
		{"filtered replace of the whole element merges", `{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h@x","display":"H"}}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"h@x","type":"home","display":"H"}]}`, []string{"emails"}},
		{"filtered primary true unsets the others", `{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home","primary":true}]}`, []string{"emails"}},
		{"filtered remove", `{"op":"remove","path":"emails[type eq \"home\"]"}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`, []string{"emails"}},
		{"filtered remove of a sub-attribute", `{"op":"remove","path":"emails[type eq \"work\"].primary"}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work"},{"value":"babs@jensen.org","type":"home"}]}`, []string{"emails"}},
		{"filtered remove of the last element removes the attribute", `{"op":"remove","path":"phoneNumbers[type eq \"work\"]"}`,
			`{"phoneNumbers":null}`, []string{"phoneNumbers"}},
		{"remove with a value removes matching elements", `{"op":"remove","path":"emails","value":[{"value":"BABS@jensen.org"}]}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`, []string{"emails"}},
		{"remove of a sub-attribute of all elements", `{"op":"remove","path":"emails.type"}`,
			`{"emails":[{"value":"bjensen@example.com","primary":true},{"value":"babs@jensen.org"}]}`, []string{"emails"}},
		{"add sub-attribute of a multi-valued attribute appends", `{"op":"add","path":"ims.value","value":"xmpp:b"}`,
			`{"ims":[{"value":"someaimhandle","type":"aim"},{"value":"xmpp:b"}]}`, []string{"ims"}},
		{"replace sub-attribute of a multi-valued attribute sets all", `{"op":"replace","path":"emails.display","value":"B"}`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":true,"display":"B"},{"value":"babs@jensen.org","type":"home","display":"B"}]}`, []string{"emails"}},
		{"replace sub-attribute of an empty multi-valued attribute creates", `{"op":"replace","path":"photos.value","value":"https://x/p.jpg"}`,
			`{"photos":[{"value":"https://x/p.jpg"}]}`, []string{"photos"}},
		{"single-valued complex with a filter", `{"op":"replace","path":"name[givenName eq \"Barbara\"].givenName","value":"Babs"}`,
			`{"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Babs"}}`, []string{"name"}},
		{"extension attribute by URN path", `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Sales","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
			[]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}},
		{"extension sub-attribute by URN path", `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m2"}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"m2","displayName":"John Smith"}}}`,
			[]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}},
		{"remove the whole extension", `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`,
			[]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}},
		{"replace the whole extension merges attributes", `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"costCenter":"4130","manager":null}}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","costCenter":"4130"}}`,
			[]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}},
		{"path-less with nested extension object", `{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"West","manager":"m3"}}}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","division":"West","manager":{"value":"m3","displayName":"John Smith"}}}`,
			[]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}},
		{"path-less ignores readOnly and unknown keys", `{"op":"replace","value":{"id":"other","meta":{"version":"x"},"groups":[],"schemas":["x"],"shoeSize":44,"nickName":"B"}}`,
			`{"nickName":"B"}`, []string{"nickName"}},
		{"path-less null removes", `{"op":"replace","value":{"title":null}}`,
			`{"title":null}`, []string{"title"}},
		{"path-less null on add is a no-op", `{"op":"add","value":{"title":null}}`,
			`{}`, nil},
		{"path-less keys in any case", `{"op":"replace","value":{"TITLE":"t","Name.GivenName":"g"}}`,
			`{"title":"t","name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"g"}}`, []string{"name", "title"}},
		{"path in any case", `{"op":"replace","path":"NAME.GIVENNAME","value":"g"}`,
			`{"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"g"}}`, []string{"name"}},
		{"operations apply in order", `{"op":"replace","path":"title","value":"a"},{"op":"remove","path":"title"},{"op":"add","path":"title","value":"b"}`,
			`{"title":"b"}`, []string{"title"}},
		{"password can be written, is reported changed", `{"op":"replace","path":"password","value":"n3w"}`,
			`{"password":"n3w"}`, []string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sampleUser(t)
			r := applyPatch(t, u, UserResourceType, ops(tt.ops))
			want := sampleUser(t)
			for k, v := range obj(t, tt.want) {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			sameJSON(t, r.Resource, canon(t, want))
			if !reflect.DeepEqual(r.Changed, tt.changed) {
				t.Errorf("Changed = %q, want %q", r.Changed, tt.changed)
			}
			if r.Members != nil {
				t.Errorf("Members = %+v for a user", r.Members)
			}
		})
	}
}

func TestPatchApplyErrors(t *testing.T) {
	tests := []struct {
		name     string
		ops      string
		scimType string
		detail   string
	}{
		{"unknown attribute", `{"op":"add","path":"shoeSize","value":44}`, ScimTypeInvalidPath, `unknown attribute "shoeSize"`},
		{"unknown sub-attribute", `{"op":"add","path":"name.nick","value":"x"}`, ScimTypeInvalidPath, "unknown attribute"},
		{"unknown sub-attribute after filter", `{"op":"replace","path":"emails[type eq \"work\"].foo","value":"x"}`, ScimTypeInvalidPath, `unknown attribute "emails.foo"`},
		{"unknown attribute in filter", `{"op":"replace","path":"emails[foo eq \"work\"].value","value":"x"}`, ScimTypeInvalidPath, `unknown attribute "foo"`},
		{"filter on a simple attribute", `{"op":"replace","path":"title[value eq \"x\"]","value":"x"}`, ScimTypeInvalidPath, "not a complex attribute"},
		{"filter on a sub-attribute", `{"op":"replace","path":"emails.value[value eq \"x\"]","value":"x"}`, ScimTypeInvalidPath, "not a complex attribute"},
		{"filter type error", `{"op":"remove","path":"emails[primary gt true]"}`, ScimTypeInvalidPath, "not supported for boolean"},
		{"readOnly id", `{"op":"replace","path":"id","value":"x"}`, ScimTypeMutability, `"id" is readOnly`},
		{"readOnly meta sub", `{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}`, ScimTypeMutability, "readOnly"},
		{"readOnly groups", `{"op":"add","path":"groups","value":[{"value":"g"}]}`, ScimTypeMutability, `"groups" is readOnly`},
		{"readOnly remove", `{"op":"remove","path":"groups"}`, ScimTypeMutability, "readOnly"},
		{"readOnly manager displayName", `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}`, ScimTypeMutability, "readOnly"},
		{"remove required attribute", `{"op":"remove","path":"userName"}`, ScimTypeInvalidValue, `required attribute "userName" cannot be removed`},
		{"replace required with null", `{"op":"replace","value":{"userName":null}}`, ScimTypeInvalidValue, "cannot be removed"},
		{"bad boolean", `{"op":"replace","path":"active","value":"no way"}`, ScimTypeInvalidValue, "expected a boolean"},
		{"bad boolean path-less", `{"op":"replace","value":{"active":5}}`, ScimTypeInvalidValue, "expected a boolean"},
		{"string for complex without value sub", `{"op":"replace","path":"name","value":"Barbara"}`, ScimTypeInvalidValue, "expected a complex"},
		{"array for a filtered element", `{"op":"replace","path":"emails[type eq \"work\"]","value":[{"value":"x"}]}`, ScimTypeInvalidValue, "expected a complex"},
		{"two primaries in one value", `{"op":"add","path":"emails","value":[{"value":"a","primary":true},{"value":"b","primary":true}]}`, ScimTypeInvalidValue, "at most one value may be primary"},
		{"primary on all elements", `{"op":"replace","path":"emails.primary","value":true}`, ScimTypeInvalidValue, "at most one value may be primary"},
		{"filtered remove matching nothing", `{"op":"remove","path":"emails[type eq \"other\"]"}`, ScimTypeNoTarget, "matches"},
		{"filtered remove on absent attribute", `{"op":"remove","path":"addresses[type eq \"work\"]"}`, ScimTypeNoTarget, "matches"},
		{"filtered replace that cannot create", `{"op":"replace","path":"emails[value co \"nobody\"].type","value":"other"}`, ScimTypeNoTarget, "does not describe a value to create"},
		{"filtered replace with or cannot create", `{"op":"replace","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"x"}`, ScimTypeNoTarget, ""},
		{"extension value not an object", `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":"x"}`, ScimTypeInvalidValue, "expected an object"},
		{"error names the operation", `{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"active","value":[1,2]}`, ScimTypeInvalidValue, "Operations[1]: active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patchErr(t, sampleUser(t), UserResourceType, ops(tt.ops))
			wantErr(t, err, 400, tt.scimType, tt.detail)
		})
	}
}

func TestPatchImmutable(t *testing.T) {
	rt := typedRT(t)
	entry := obj(t, `{"schemas":["urn:scimgate:test:2.0:Entry"],"name":"n","serial":"S-1","owner":{"value":"o","badge":"B1"}}`)
	for _, o := range []string{
		`{"op":"replace","path":"serial","value":"S-2"}`,
		`{"op":"remove","path":"serial"}`,
		`{"op":"replace","value":{"serial":"S-2"}}`,
		`{"op":"replace","path":"owner.badge","value":"B2"}`,
		`{"op":"replace","path":"owner","value":{"badge":"B2"}}`,
		`{"op":"remove","path":"owner"}`,
	} {
		err := patchErr(t, entry, rt, ops(o))
		wantErr(t, err, 400, ScimTypeMutability, "immutable")
	}
	// Same value, or a first value, is allowed.
	applyPatch(t, entry, rt, ops(`{"op":"replace","path":"serial","value":"S-1"}`))
	r := applyPatch(t, obj(t, `{"name":"n"}`), rt, ops(`{"op":"add","path":"serial","value":"S-9"}`))
	if r.Resource["serial"] != "S-9" {
		t.Errorf("first immutable value not set: %v", r.Resource)
	}
	// A remove then add of the same value within one PATCH is no change.
	applyPatch(t, entry, rt, ops(`{"op":"remove","path":"serial"},{"op":"add","path":"serial","value":"S-1"}`))
}

func TestPatchSchemasRebuilt(t *testing.T) {
	u := decodeUser(t, `{`+coreUser+`,"userName":"a"}`)
	r := applyPatch(t, u, UserResourceType, ops(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"1"}`))
	if got := canon(t, r.Resource["schemas"]); got != `["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]` {
		t.Errorf("schemas after adding an extension attribute = %s", got)
	}
	r = applyPatch(t, r.Resource, UserResourceType, ops(`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}`))
	if got := canon(t, r.Resource["schemas"]); got != `["urn:ietf:params:scim:schemas:core:2.0:User"]` {
		t.Errorf("schemas after removing the last extension attribute = %s", got)
	}
	if _, ok := r.Resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]; ok {
		t.Errorf("empty extension object left behind")
	}
}

func TestPatchFailedOperationLeavesEmptyExtensionOut(t *testing.T) {
	u := decodeUser(t, `{`+coreUser+`,"userName":"a"}`)
	r := applyPatch(t, u, UserResourceType, ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}`))
	if _, ok := r.Resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]; ok {
		t.Errorf("extension object created for an empty value: %s", canon(t, r.Resource))
	}
	if len(r.Changed) != 0 {
		t.Errorf("Changed = %q", r.Changed)
	}
}

func group(t testing.TB) map[string]any {
	return obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Admins","externalId":"e1"}`)
}

func TestPatchMembers(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		want MemberDelta
	}{
		{"add", `{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2","display":"U2","$ref":null}]}`,
			MemberDelta{Add: []string{"u1", "u2"}}},
		{"add a single object", `{"op":"add","path":"members","value":{"value":"u1"}}`,
			MemberDelta{Add: []string{"u1"}}},
		{"add bare ids", `{"op":"add","path":"members","value":["u1","u2","u1"]}`,
			MemberDelta{Add: []string{"u1", "u2"}}},
		{"remove by filter", `{"op":"remove","path":"members[value eq \"u1\"]"}`,
			MemberDelta{Remove: []string{"u1"}}},
		{"remove by filter with or", `{"op":"remove","path":"members[value eq \"u1\" or value eq \"u2\"]"}`,
			MemberDelta{Remove: []string{"u1", "u2"}}},
		{"remove with a value list", `{"op":"remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}`,
			MemberDelta{Remove: []string{"u1", "u2"}}},
		{"remove all", `{"op":"remove","path":"members"}`,
			MemberDelta{Replace: true, RemoveAll: true}},
		{"replace", `{"op":"replace","path":"members","value":[{"value":"u1"},{"value":"u2"}]}`,
			MemberDelta{Add: []string{"u1", "u2"}, Replace: true}},
		{"replace with nothing", `{"op":"replace","path":"members","value":[]}`,
			MemberDelta{Replace: true}},
		{"replace with null", `{"op":"replace","path":"members","value":null}`,
			MemberDelta{Replace: true}},
		{"replace one member by filter", `{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u3"}}`,
			MemberDelta{Add: []string{"u3"}, Remove: []string{"u1"}}},
		{"path-less add", `{"op":"add","value":{"members":[{"value":"u1"}]}}`,
			MemberDelta{Add: []string{"u1"}}},
		{"path-less replace", `{"op":"replace","value":{"members":[{"value":"u1"}]}}`,
			MemberDelta{Add: []string{"u1"}, Replace: true}},
		{"add then remove cancels", `{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]},{"op":"remove","path":"members[value eq \"u1\"]"}`,
			MemberDelta{Add: []string{"u2"}, Remove: []string{"u1"}}},
		{"remove then add re-adds", `{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u1"}]}`,
			MemberDelta{Add: []string{"u1"}}},
		{"remove all then add", `{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"u5"}]}`,
			MemberDelta{Add: []string{"u5"}, Replace: true, RemoveAll: true}},
		{"replace then remove", `{"op":"replace","path":"members","value":["u1","u2"]},{"op":"remove","path":"members[value eq \"u1\"]"}`,
			MemberDelta{Add: []string{"u2"}, Replace: true}},
		{"add, remove, add again", `{"op":"add","path":"members","value":["u1"]},{"op":"remove","path":"members","value":["u1"]},{"op":"add","path":"members","value":["u1"]}`,
			MemberDelta{Add: []string{"u1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group(t)
			r := applyPatch(t, g, GroupResourceType, ops(tt.ops))
			if r.Members == nil {
				t.Fatal("no member delta")
			}
			if !reflect.DeepEqual(*r.Members, tt.want) {
				t.Errorf("delta = %+v, want %+v", *r.Members, tt.want)
			}
			if _, ok := r.Resource["members"]; ok {
				t.Errorf("members written into the resource")
			}
			if !reflect.DeepEqual(r.Changed, []string{"members"}) {
				t.Errorf("Changed = %q", r.Changed)
			}
		})
	}
}

func TestPatchMembersErrors(t *testing.T) {
	tests := []struct {
		name, ops, scimType, detail string
	}{
		{"filter not by value", `{"op":"remove","path":"members[type eq \"User\"]"}`, ScimTypeInvalidPath, "select members by id"},
		{"filter with and", `{"op":"remove","path":"members[value eq \"a\" and type eq \"User\"]"}`, ScimTypeInvalidPath, "select members by id"},
		{"member sub-attribute is immutable", `{"op":"replace","path":"members[value eq \"u1\"].value","value":"u2"}`, ScimTypeMutability, "immutable"},
		{"member display is readOnly", `{"op":"replace","path":"members[value eq \"u1\"].display","value":"x"}`, ScimTypeMutability, "readOnly"},
		{"members.value path", `{"op":"remove","path":"members.value"}`, ScimTypeMutability, "immutable"},
		{"path-less members sub-attribute", `{"op":"add","value":{"members.value":"u1"}}`, ScimTypeMutability, "immutable"},
		{"member without value", `{"op":"add","path":"members","value":[{"display":"x"}]}`, ScimTypeInvalidValue, `members[0]`},
		{"member value not a string", `{"op":"add","path":"members","value":[{"value":5}]}`, ScimTypeInvalidValue, "members[0]"},
		{"member empty id", `{"op":"add","path":"members","value":[""]}`, ScimTypeInvalidValue, "members[0]"},
		{"remove value not ids", `{"op":"remove","path":"members","value":[true]}`, ScimTypeInvalidValue, "members[0]"},
		{"remove required displayName", `{"op":"remove","path":"displayName"}`, ScimTypeInvalidValue, "cannot be removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patchErr(t, group(t), GroupResourceType, ops(tt.ops))
			wantErr(t, err, 400, tt.scimType, tt.detail)
		})
	}
}

func TestPatchGroupWithoutMemberOps(t *testing.T) {
	r := applyPatch(t, group(t), GroupResourceType, ops(`{"op":"replace","path":"externalId","value":"e2"}`))
	if r.Members != nil {
		t.Errorf("Members = %+v, want nil", r.Members)
	}
	if !reflect.DeepEqual(r.Changed, []string{"externalId"}) {
		t.Errorf("Changed = %q", r.Changed)
	}
}

// TestPatchAtomic checks that a failing operation after successful ones
// leaves the input untouched and returns no partial result.
func TestPatchAtomic(t *testing.T) {
	u := sampleUser(t)
	err := patchErr(t, u, UserResourceType, ops(`{"op":"replace","path":"title","value":"changed"},`+
		`{"op":"add","path":"emails","value":[{"value":"x@y"}]},`+
		`{"op":"remove","path":"emails[type eq \"fax\"]"}`))
	wantErr(t, err, 400, ScimTypeNoTarget, "Operations[2]")
	if u["title"] != "Tour Guide" || len(u["emails"].([]any)) != 2 {
		t.Errorf("input changed: %s", canon(t, u))
	}
}

func TestPatchNilResource(t *testing.T) {
	r, err := mustPatch(t, ops(`{"op":"add","path":"title","value":"x"}`)).Apply(nil, UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, r.Resource, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"title":"x"}`)
}
