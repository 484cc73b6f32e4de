package scim

import (
	"reflect"
	"testing"
)

func TestProject(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	const both = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"]`
	const core = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	full := obj(t, sampleUserJSON)
	delete(full, "password")
	tests := []struct {
		name       string
		attributes []string
		excluded   []string
		want       string
	}{
		{"default drops password only", nil, nil, canon(t, full)},
		{"attributes: userName", []string{"userName"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","userName":"bjensen@example.com"}`},
		{"attributes: id only (Entra's attributes=id)", []string{"id"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646"}`},
		{"attributes: sub-attributes", []string{"name.givenName", "emails.value"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","name":{"givenName":"Barbara"},"emails":[{"value":"bjensen@example.com"},{"value":"babs@jensen.org"}]}`},
		{"attributes: comma separated, spaces, any case", []string{"USERNAME, displayName", "title"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","userName":"bjensen@example.com","displayName":"Babs Jensen","title":"Tour Guide"}`},
		{"attributes: URN-qualified core attribute", []string{"urn:ietf:params:scim:schemas:core:2.0:User:title"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","title":"Tour Guide"}`},
		{"attributes: extension attribute", []string{ent + ":manager.value"}, nil,
			`{` + both + `,"id":"2819c223-7f76-453a-919d-413861904646","` + ent + `":{"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`},
		{"attributes: whole extension", []string{ent}, nil,
			`{` + both + `,"id":"2819c223-7f76-453a-919d-413861904646","` + ent + `":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`},
		{"attributes: password is never returned", []string{"password", "userName"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","userName":"bjensen@example.com"}`},
		{"attributes: unknown names ignored", []string{"shoeSize"}, nil,
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646"}`},
		{"attributes win over excludedAttributes", []string{"userName"}, []string{"userName"},
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646","userName":"bjensen@example.com"}`},
		{"excluded: id cannot be excluded", nil, []string{"id", "emails", "name", "phoneNumbers", "ims", "groups", "meta", "externalId", "userName", "displayName", "title", "userType", "active", ent},
			`{` + core + `,"id":"2819c223-7f76-453a-919d-413861904646"}`},
		{"excluded: sub-attribute", nil, []string{"name.formatted,emails.type", ent + ":manager.displayName"}, func() string {
			m := Clone(full)
			delete(m["name"].(map[string]any), "formatted")
			for _, e := range m["emails"].([]any) {
				delete(e.(map[string]any), "type")
			}
			delete(m[ent].(map[string]any)["manager"].(map[string]any), "displayName")
			return canon(t, m)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sampleUser(t)
			got := Project(in, UserResourceType, tt.attributes, tt.excluded)
			sameJSON(t, got, tt.want)
			if !reflect.DeepEqual(in, sampleUser(t)) {
				t.Errorf("Project modified its input")
			}
		})
	}
}

func TestProjectSharesNothing(t *testing.T) {
	in := sampleUser(t)
	out := Project(in, UserResourceType, nil, nil)
	out["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	if in["emails"].([]any)[0].(map[string]any)["value"] != "bjensen@example.com" {
		t.Fatal("projection shares nested values with its input")
	}
}

func TestProjectReturnedCharacteristics(t *testing.T) {
	rt := typedRT(t)
	in := obj(t, `{"schemas":["urn:scimgate:test:2.0:Entry"],"id":"e1","name":"n","secret":"s","debug":"d","owner":{"value":"o","note":"x"},"junk":1}`)
	sameJSON(t, Project(in, rt, nil, nil), `{"schemas":["urn:scimgate:test:2.0:Entry"],"id":"e1","name":"n","owner":{"value":"o"}}`)
	sameJSON(t, Project(in, rt, []string{"debug", "owner.note"}, nil), `{"schemas":["urn:scimgate:test:2.0:Entry"],"id":"e1","debug":"d","owner":{"note":"x"}}`)
	sameJSON(t, Project(in, rt, []string{"owner"}, nil), `{"schemas":["urn:scimgate:test:2.0:Entry"],"id":"e1","owner":{"value":"o"}}`)
	sameJSON(t, Project(in, rt, []string{"secret"}, nil), `{"schemas":["urn:scimgate:test:2.0:Entry"],"id":"e1"}`)
}

func TestProjectGroupMembers(t *testing.T) {
	g := obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"G","members":[{"value":"u1","display":"U1","$ref":"https://x/Users/u1"}]}`)
	sameJSON(t, Project(g, GroupResourceType, nil, []string{"members"}), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"G"}`)
	sameJSON(t, Project(g, GroupResourceType, []string{"members.value"}, nil), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","members":[{"value":"u1"}]}`)
	empty := obj(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"G","members":[]}`)
	sameJSON(t, Project(empty, GroupResourceType, nil, nil), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"G","members":[]}`)
}

func TestNeedsAttribute(t *testing.T) {
	tests := []struct {
		attributes, excluded []string
		name                 string
		want                 bool
	}{
		{nil, nil, "members", true},
		{nil, []string{"members"}, "members", false},
		{nil, []string{"MEMBERS"}, "members", false},
		{nil, []string{"displayName,members"}, "members", false},
		{nil, []string{"members.display"}, "members", true},
		{[]string{"displayName"}, nil, "members", false},
		{[]string{"id"}, nil, "members", false},
		{[]string{"members"}, nil, "members", true},
		{[]string{"members.value"}, nil, "members", true},
		{[]string{"displayName"}, nil, "id", true},
		{nil, []string{"id"}, "id", true},
		{nil, nil, "nope", false},
	}
	for _, tt := range tests {
		if got := NeedsAttribute(GroupResourceType, tt.attributes, tt.excluded, tt.name); got != tt.want {
			t.Errorf("NeedsAttribute(%q, %q, %q) = %v, want %v", tt.attributes, tt.excluded, tt.name, got, tt.want)
		}
	}
	if NeedsAttribute(UserResourceType, nil, nil, "password") {
		t.Errorf("password is needed")
	}
	if !NeedsAttribute(UserResourceType, nil, nil, "groups") || NeedsAttribute(UserResourceType, nil, []string{"groups"}, "groups") {
		t.Errorf("groups need is wrong")
	}
	if NeedsAttribute(typedRT(t), nil, nil, "debug") || !NeedsAttribute(typedRT(t), []string{"debug"}, nil, "debug") {
		t.Errorf("request-returned need is wrong")
	}
	if !NeedsAttribute(UserResourceType, []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}, nil, "manager") {
		t.Errorf("manager not needed when its whole extension is asked for")
	}
}
