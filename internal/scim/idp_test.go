package scim

// Every request body, filter and PATCH operation quoted in
// shared/reference/idp-clients.md, replayed through this package. Values
// the document elides ("…") are filled in with plausible ids.

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const (
	ent     = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	bothURN = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]`
)

// §1.4: Okta's existence check and create.
func TestOktaCreateUser(t *testing.T) {
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
	 "name":{"givenName":"Test","familyName":"User"},
	 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
	 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
	 "groups":[],"password":"1mz050nq","active":true}`
	u := decodeUser(t, body)
	sameJSON(t, u, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
	 "name":{"givenName":"Test","familyName":"User"},
	 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
	 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
	 "password":"1mz050nq","active":true}`)

	// GET /scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100
	f := mustCompile(t, `userName eq "test.user@okta.local"`, UserResourceType)
	if !f.Match(u) {
		t.Errorf("existence filter does not match the created user")
	}
	if got := f.Plan(); !reflect.DeepEqual(got, []IndexKey{{"userName", "test.user@okta.local"}}) {
		t.Errorf("Plan = %v", got)
	}
	// The response never carries the placeholder password.
	u["id"] = "u-1"
	if _, ok := Project(u, UserResourceType, nil, nil)["password"]; ok {
		t.Errorf("password returned")
	}
}

// §1.6: Okta's AIW PUT sends the whole object as last read.
func TestOktaPutUser(t *testing.T) {
	stored := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
	 "name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
	 "displayName":"Test User","active":true,"password":"1mz050nq"}`)
	stored["id"] = "u-1"
	stored["meta"] = map[string]any{"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
	put := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1","userName":"test.user@okta.local",
	 "name":{"givenName":"Test","familyName":"Userson"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
	 "displayName":"Test Userson","active":false,"groups":[],"meta":{"resourceType":"User"}}`)
	got, err := Replace(stored, put, UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1","userName":"test.user@okta.local",
	 "name":{"givenName":"Test","familyName":"Userson"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
	 "displayName":"Test Userson","active":false,"password":"1mz050nq","meta":{"resourceType":"User","created":"2024-01-01T00:00:00Z"}}`)
	if c := Changed(stored, got, UserResourceType); !reflect.DeepEqual(c, []string{"active", "displayName", "emails", "name"}) {
		t.Errorf("Changed = %q", c)
	}
}

// §1.7: Okta deactivates and reactivates with a path-less replace.
func TestOktaDeactivateReactivate(t *testing.T) {
	u := sampleUser(t)
	r := applyPatch(t, u, UserResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	if r.Resource["active"] != false || !reflect.DeepEqual(r.Changed, []string{"active"}) {
		t.Fatalf("deactivate: active=%v changed=%q", r.Resource["active"], r.Changed)
	}
	r = applyPatch(t, r.Resource, UserResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
	if r.Resource["active"] != true || !reflect.DeepEqual(r.Changed, []string{"active"}) {
		t.Fatalf("reactivate: active=%v changed=%q", r.Resource["active"], r.Changed)
	}
}

// §1.8: Okta Group Push.
func TestOktaGroupPush(t *testing.T) {
	// Create.
	g := decodeGroup(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`)
	ids, present := MemberIDs(g)
	if !present || len(ids) != 0 {
		t.Fatalf("MemberIDs = %q, %v", ids, present)
	}
	// Lookup: GET /Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100
	f := mustCompile(t, `displayName eq "Test SCIMv2"`, GroupResourceType)
	if !f.Match(g) || !reflect.DeepEqual(f.Plan(), []IndexKey{{"displayName", "Test SCIMv2"}}) {
		t.Errorf("displayName lookup: match %v plan %v", f.Match(g), f.Plan())
	}
	delete(g, "members")
	g["id"] = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"

	// Rename, with "id" inside the value.
	r := applyPatch(t, g, GroupResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	 "Operations":[{"op":"replace","value":{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Test SCIMv2 renamed"}}]}`)
	if r.Resource["displayName"] != "Test SCIMv2 renamed" || r.Resource["id"] != g["id"] || r.Members != nil {
		t.Errorf("rename: %s members=%v", canon(t, r.Resource), r.Members)
	}
	// Sent on every membership update with the same name: no change.
	r = applyPatch(t, g, GroupResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	 "Operations":[{"op":"replace","value":{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Test SCIMv2"}}]}`)
	if len(r.Changed) != 0 {
		t.Errorf("unchanged rename reports %q", r.Changed)
	}

	// Membership: one PATCH with a remove and an add.
	r = applyPatch(t, g, GroupResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
	 {"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
	 {"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}]}`)
	want := MemberDelta{Add: []string{"23a35c27-23d3-4c03-b4c5-6443c09e7173"}, Remove: []string{"89bb1940-b905-4575-9e7f-6f887cfb368e"}}
	if r.Members == nil || !reflect.DeepEqual(*r.Members, want) {
		t.Errorf("membership delta = %+v, want %+v", r.Members, want)
	}

	// Push Now replaces all members.
	r = applyPatch(t, g, GroupResourceType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
	 {"op":"replace","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"a"},{"value":"9a1bd4a6-fdd6-4fbb-8ba3-0d82c8b6a1d1","display":"b"}]}]}`)
	want = MemberDelta{Add: []string{"23a35c27-23d3-4c03-b4c5-6443c09e7173", "9a1bd4a6-fdd6-4fbb-8ba3-0d82c8b6a1d1"}, Replace: true}
	if r.Members == nil || !reflect.DeepEqual(*r.Members, want) {
		t.Errorf("push now delta = %+v, want %+v", r.Members, want)
	}

	// AIW: PUT /Groups/{id} with displayName and the full member list.
	put := decodeGroup(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Test SCIMv2",
	 "members":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}`)
	ids, present = MemberIDs(put)
	if !present || !reflect.DeepEqual(ids, []string{"23a35c27-23d3-4c03-b4c5-6443c09e7173"}) {
		t.Errorf("PUT members = %q, %v", ids, present)
	}
	replaced, err := Replace(g, put, GroupResourceType)
	if err != nil {
		t.Fatal(err)
	}
	if replaced["id"] != g["id"] || replaced["displayName"] != "Test SCIMv2" {
		t.Errorf("PUT group = %s", canon(t, replaced))
	}
}

// §2.4: Entra ID users.
func TestEntraUserQueries(t *testing.T) {
	u := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
	 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","emails":[{"primary":true,"type":"work","value":"Test_User_11bb6097@testuser.com"}]}`)
	tests := []struct {
		filter string
		match  bool
		plan   []IndexKey
	}{
		{`userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"`, true, []IndexKey{{"userName", "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"}}},
		// Test Connection probes with a random GUID: compiles, matches nothing.
		{`userName eq "8f1e4b8c-9a56-4d1c-8f0c-5e2b0c7d9a11"`, false, []IndexKey{{"userName", "8f1e4b8c-9a56-4d1c-8f0c-5e2b0c7d9a11"}}},
		{`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`, true, []IndexKey{{"externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"}}},
		{`emails[type eq "work"].value eq "Test_User_11bb6097@testuser.com"`, true, []IndexKey{{"emails.value", "Test_User_11bb6097@testuser.com"}}},
		{`emails[type eq "home"].value eq "Test_User_11bb6097@testuser.com"`, false, []IndexKey{{"emails.value", "Test_User_11bb6097@testuser.com"}}},
	}
	for _, tt := range tests {
		f := mustCompile(t, tt.filter, UserResourceType)
		if f.Match(u) != tt.match || !reflect.DeepEqual(f.Plan(), tt.plan) {
			t.Errorf("%s: match %v plan %v, want %v %v", tt.filter, f.Match(u), f.Plan(), tt.match, tt.plan)
		}
	}
	// The legacy doc shorthand with an unquoted value is not valid syntax.
	_, err := Compile(`externalId eq jyoung`, UserResourceType)
	wantErr(t, err, 400, ScimTypeInvalidFilter, "syntax")
}

func TestEntraCreateUser(t *testing.T) {
	u := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,
	 "emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
	 "meta":{"resourceType":"User"},
	 "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
	 "roles":[]}`)
	sameJSON(t, u, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
	 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,
	 "emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
	 "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
	 "roles":[]}`)

	// The variant with JSON nulls and a typo'd extension URN.
	u = decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
	 "externalId":"jyoung","userName":"Test_User_00aa00aa","active":true,"displayName":"Joy Young",
	 "addresses":null,"phoneNumbers":null,"title":null,"department":null,"manager":null,
	 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":null,"manager":null,"employeeNumber":"42"}}`)
	sameJSON(t, u, `{`+bothURN+`,"externalId":"jyoung","userName":"Test_User_00aa00aa","active":true,"displayName":"Joy Young",
	 "`+ent+`":{"employeeNumber":"42"}}`)

	// The Microsoft Postman collection posts active as a string.
	u = decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"UserName123","active":"True"}`)
	if u["active"] != true {
		t.Errorf(`"active":"True" decoded as %v`, u["active"])
	}
}

func TestEntraUpdateUser(t *testing.T) {
	stored := decodeUser(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test_User_1","externalId":"e1",
	 "name":{"givenName":"g","familyName":"f"},"emails":[{"primary":true,"type":"work","value":"old@contoso.com"}],"active":true}`)
	stored["id"] = "u-1"
	tests := []struct {
		name    string
		body    string
		check   string // JSON of the attributes expected to change
		changed []string
	}{
		{"replace work email", ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"}`),
			`{"emails":[{"primary":true,"type":"work","value":"updatedEmail@microsoft.com"}]}`, []string{"emails"}},
		{"replace family name", ops(`{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}`),
			`{"name":{"givenName":"g","familyName":"updatedFamilyName"}}`, []string{"name"}},
		{"replace userName", ops(`{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}`),
			`{"userName":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}`, []string{"userName"}},
		{"replace a missing filtered value creates it", ops(`{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0100"}`),
			`{"phoneNumbers":[{"type":"work","value":"+1 555 0100"}]}`, []string{"phoneNumbers"}},
		{"add a filtered value creates it", ops(`{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0101"}`),
			`{"phoneNumbers":[{"type":"mobile","value":"+1 555 0101"}]}`, []string{"phoneNumbers"}},
		{"manager: legacy Add with an array", ops(`{"op":"Add","path":"manager","value":[{"$ref":"http://example.com/scim/Users/m-1","value":"m-1"}]}`),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"` + ent + `":{"manager":{"value":"m-1","$ref":"http://example.com/scim/Users/m-1"}}}`,
			[]string{ent + ":manager"}},
		{"manager: URN path with a bare id", ops(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"2c2f6fb8-6b8e-4b8f-9c43-7a0e46bd1f7e"}`),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"` + ent + `":{"manager":{"value":"2c2f6fb8-6b8e-4b8f-9c43-7a0e46bd1f7e"}}}`,
			[]string{ent + ":manager"}},
		{"manager: bare id inside the extension object", ops(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-2"}}}`),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"` + ent + `":{"manager":{"value":"m-2"}}}`,
			[]string{ent + ":manager"}},
		{"roles: Add with a JSON object serialised into a string", ops(`{"op":"Add","path":"roles","value":[{"value":"{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}]}`),
			`{"roles":[{"value":"{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}]}`, []string{"roles"}},
		{"roles: replace with objects", ops(`{"op":"replace","path":"roles","value":[{"primary":true,"type":"WindowsAzureActiveDirectoryRole","value":"Admin"},{"primary":false,"value":"User"}]}`),
			`{"roles":[{"primary":true,"type":"WindowsAzureActiveDirectoryRole","value":"Admin"},{"primary":false,"value":"User"}]}`, []string{"roles"}},
		{"roles: primary eq \"True\" target creates the primary role", ops(`{"op":"replace","path":"roles[primary eq \"True\"].value","value":"Admin"}`),
			`{"roles":[{"primary":true,"value":"Admin"}]}`, []string{"roles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := applyPatch(t, stored, UserResourceType, tt.body)
			want := Clone(stored)
			for k, v := range obj(t, tt.check) {
				want[k] = v
			}
			sameJSON(t, r.Resource, canon(t, want))
			if !reflect.DeepEqual(r.Changed, tt.changed) {
				t.Errorf("Changed = %q, want %q", r.Changed, tt.changed)
			}
		})
	}

	// The primary role target is found, not duplicated, once it exists.
	r := applyPatch(t, stored, UserResourceType, ops(`{"op":"replace","path":"roles","value":[{"primary":true,"value":"Admin"},{"value":"User"}]}`))
	r = applyPatch(t, r.Resource, UserResourceType, ops(`{"op":"replace","path":"roles[primary eq \"True\"].value","value":"Owner"}`))
	if got := canon(t, r.Resource["roles"]); got != `[{"primary":true,"value":"Owner"},{"value":"User"}]` {
		t.Errorf("roles = %s", got)
	}
}

// Entra's manager check: GET /Users?filter=id eq <id> and manager eq <mgr>&attributes=id
func TestEntraManagerCheck(t *testing.T) {
	u := decodeUser(t, `{`+coreUser+`,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}`)
	u["id"] = "u-1"
	f := mustCompile(t, `id eq "u-1" and manager eq "m-1"`, UserResourceType)
	if !f.Match(u) || !reflect.DeepEqual(f.Plan(), []IndexKey{{"id", "u-1"}}) {
		t.Errorf("manager check: match %v plan %v", f.Match(u), f.Plan())
	}
	if mustCompile(t, `id eq "u-1" and manager eq "m-2"`, UserResourceType).Match(u) {
		t.Errorf("manager check matched another manager")
	}
	sameJSON(t, Project(u, UserResourceType, []string{"id"}, nil), `{`+coreUser+`,"id":"u-1"}`)
}

// §2.5: the default dialect and the aadOptscim062020 dialect, side by side.
func TestEntraPatchDialects(t *testing.T) {
	stored := decodeUser(t, `{`+bothURN+`,"userName":"b@contoso.com","externalId":"e1","displayName":"Old","active":true,
	 "name":{"givenName":"Old","familyName":"Name"},"emails":[{"type":"work","value":"b@contoso.com","primary":true}],
	 "`+ent+`":{"employeeNumber":"1"}}`)
	stored["id"] = "u-1"
	pairs := []struct {
		name        string
		dflt, flag  string
		wantChanged []string
		check       func(t *testing.T, r *Result)
	}{
		{"disable user",
			ops(`{"op":"Replace","path":"active","value":"False"}`),
			ops(`{"op":"replace","path":"active","value":false}`),
			[]string{"active"},
			func(t *testing.T, r *Result) {
				if r.Resource["active"] != false {
					t.Errorf("active = %#v", r.Resource["active"])
				}
			}},
		{"add single-valued string",
			ops(`{"op":"Add","path":"nickName","value":"Babs"}`),
			ops(`{"op":"add","path":"nickName","value":"Babs"}`),
			[]string{"nickName"},
			func(t *testing.T, r *Result) {
				if r.Resource["nickName"] != "Babs" {
					t.Errorf("nickName = %#v", r.Resource["nickName"])
				}
			}},
		{"replace several attributes",
			ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"n@contoso.com"},
			     {"op":"Replace","path":"displayName","value":"Bjfe"},
			     {"op":"Replace","path":"name.givenName","value":"Kkom"},
			     {"op":"Replace","path":"name.familyName","value":"Unua"},
			     {"op":"Replace","path":"externalId","value":"e2"},
			     {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Aklq"}`),
			ops(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"n@contoso.com"},
			     {"op":"replace","path":"externalId","value":"e2"},
			     {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}`),
			[]string{"displayName", "emails", "externalId", "name", ent + ":employeeNumber"},
			func(t *testing.T, r *Result) {
				sameJSON(t, r.Resource, `{`+bothURN+`,"id":"u-1","userName":"b@contoso.com","externalId":"e2","displayName":"Bjfe","active":true,
				 "name":{"givenName":"Kkom","familyName":"Unua"},"emails":[{"type":"work","value":"n@contoso.com","primary":true}],
				 "`+ent+`":{"employeeNumber":"Aklq"}}`)
			}},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			for _, body := range []string{p.dflt, p.flag} {
				r := applyPatch(t, stored, UserResourceType, body)
				if !reflect.DeepEqual(r.Changed, p.wantChanged) {
					t.Errorf("Changed = %q, want %q", r.Changed, p.wantChanged)
				}
				p.check(t, r)
			}
		})
	}

	// Group member removal, both dialects: never "remove all".
	g := group(t)
	for _, body := range []string{
		ops(`{"op":"Remove","path":"members","value":[{"value":"u1091"}]}`),
		ops(`{"op":"remove","path":"members[value eq \"u1091\"]"}`),
	} {
		r := applyPatch(t, g, GroupResourceType, body)
		want := MemberDelta{Remove: []string{"u1091"}}
		if r.Members == nil || !reflect.DeepEqual(*r.Members, want) {
			t.Errorf("%s: delta %+v, want %+v", body, r.Members, want)
		}
	}
}

// §2.6: Entra ID groups.
func TestEntraGroups(t *testing.T) {
	g := decodeGroup(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
	 "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`)
	sameJSON(t, g, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName"}`)
	if _, present := MemberIDs(g); present {
		t.Errorf("members present in a group created without members")
	}
	g["id"] = "g-1"
	g["meta"] = map[string]any{"resourceType": "Group"}

	// GET /Groups/{id}?excludedAttributes=members and the filtered query.
	if NeedsAttribute(GroupResourceType, nil, []string{"members"}, "members") {
		t.Errorf("members needed despite excludedAttributes=members")
	}
	withMembers := Clone(g)
	withMembers["members"] = []any{map[string]any{"value": "u1"}}
	if _, ok := Project(withMembers, GroupResourceType, nil, []string{"members"})["members"]; ok {
		t.Errorf("members returned despite excludedAttributes=members")
	}
	f := mustCompile(t, `displayName eq "displayName"`, GroupResourceType)
	if !f.Match(g) || !reflect.DeepEqual(f.Plan(), []IndexKey{{"displayName", "displayName"}}) {
		t.Errorf("displayName query: match %v plan %v", f.Match(g), f.Plan())
	}

	// Rename.
	r := applyPatch(t, g, GroupResourceType, ops(`{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`))
	if r.Resource["displayName"] != "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" || !reflect.DeepEqual(r.Changed, []string{"displayName"}) {
		t.Errorf("rename: %s %q", canon(t, r.Resource), r.Changed)
	}

	// Add members with $ref null.
	r = applyPatch(t, g, GroupResourceType, ops(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}`))
	if want := (MemberDelta{Add: []string{"f648f8d5ea4e4cd38e9c"}}); r.Members == nil || !reflect.DeepEqual(*r.Members, want) {
		t.Errorf("add members: %+v", r.Members)
	}

	// Reference check: filter=id eq X and members eq Y, answered without a member list.
	check := mustCompile(t, `id eq "g-1" and members eq "f648f8d5ea4e4cd38e9c"`, GroupResourceType)
	ok, err := check.MatchWith(g, Hooks{IsMember: func(id string) (bool, error) { return id == "f648f8d5ea4e4cd38e9c", nil }})
	if err != nil || !ok {
		t.Errorf("members reference check = %v, %v", ok, err)
	}
	if !reflect.DeepEqual(check.Plan(), []IndexKey{{"id", "g-1"}}) {
		t.Errorf("plan = %v", check.Plan())
	}
}

// Errors Okta and Entra read: status as a string, scimType where defined.
func TestIdPErrorBodies(t *testing.T) {
	for _, tt := range []struct {
		err  *Error
		want string
	}{
		{ErrNotFound.Detailf("Resource 2819c223 not found"), `"status":"404"`},
		{ErrUniqueness.Detailf("userName is already taken"), `"status":"409","scimType":"uniqueness"`},
		{ErrUnauthorized.Detailf("Authorization failure. The authorization header is invalid or missing."), `"status":"401"`},
	} {
		b, err := json.Marshal(tt.err)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); !strings.Contains(got, tt.want) || !strings.Contains(got, SchemaError) {
			t.Errorf("%s lacks %s", got, tt.want)
		}
	}
}
