package mapping

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
)

// richUser is a hub user with more than any profile sends.
const richUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "hub-1", "externalId": "okta-00u1", "userName": "Ann.Lee@Example.com",
  "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ms Ann Lee"},
  "displayName": "Ann Lee", "nickName": "Annie", "title": "Engineer", "preferredLanguage": "en-GB",
  "locale": "en-GB", "timezone": "Europe/London", "active": true,
  "emails": [
    {"value": "ann@home.example", "type": "home"},
    {"value": "ann.lee@example.com", "type": "work", "primary": true},
    {"value": "al@example.com", "type": "work"}
  ],
  "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}, {"value": "+44 7700 900000", "type": "mobile"}],
  "addresses": [{"locality": "London", "type": "work"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "department": "R&D", "organization": "Example Ltd", "employeeNumber": "1001", "manager": {"value": "hub-9"}
  },
  "meta": {"resourceType": "User", "created": "2024-01-02T03:04:05Z", "lastModified": "2024-01-02T03:04:05Z", "version": "W/\"3\""}
}`

func desired(t *testing.T, app config.App, d map[string]any) map[string]any {
	t.Helper()
	p := mustCompile(t, []config.App{app}, []config.Policy{{Name: "all", App: app.Name, Groups: []string{"Everyone"}}})
	id, _ := d["id"].(string)
	got := p.DesiredUser(app.Name, UserView{ID: id, Doc: d, Groups: []GroupRef{{ID: "g", DisplayName: "Everyone"}}})
	if !got.Present {
		t.Fatalf("user not present: %s", got.Reason)
	}
	return got.Attributes
}

func TestDefaultProfiles(t *testing.T) {
	atlassian := map[string]any{
		"schemas":           []any{scim.SchemaUser, scim.SchemaEnterpriseUser},
		"externalId":        "hub-1",
		"active":            true,
		"userName":          "Ann.Lee@Example.com",
		"emails":            []any{map[string]any{"value": "ann.lee@example.com", "type": "work", "primary": true}},
		"name":              map[string]any{"givenName": "Ann", "familyName": "Lee"},
		"displayName":       "Ann Lee",
		"title":             "Engineer",
		"preferredLanguage": "en-GB",
		"timezone":          "Europe/London",
		scim.SchemaEnterpriseUser: map[string]any{
			"department": "R&D", "organization": "Example Ltd",
		},
	}
	got := desired(t, newApp("bitbucket", "atlassian"), doc(t, richUser))
	if !reflect.DeepEqual(got, atlassian) {
		t.Errorf("atlassian profile:\n got %s\nwant %s", jsonOf(got), jsonOf(atlassian))
	}

	plain := map[string]any{}
	for k, v := range atlassian {
		plain[k] = v
	}
	plain["phoneNumbers"] = []any{
		map[string]any{"value": "+44 20 7946 0000", "type": "work"},
		map[string]any{"value": "+44 7700 900000", "type": "mobile"},
	}
	got = desired(t, newApp("wiki", "scim"), doc(t, richUser))
	if !reflect.DeepEqual(got, plain) {
		t.Errorf("scim profile:\n got %s\nwant %s", jsonOf(got), jsonOf(plain))
	}
}

func TestDefaultProfileFallbacks(t *testing.T) {
	app := newApp("bitbucket", "atlassian")
	for name, tc := range map[string]struct {
		doc  string
		want string // the JSON of the attributes other than schemas, externalId and active
	}{
		"minimal": {`{"userName":"bob"}`, `{"displayName":"bob","userName":"bob"}`},
		"display name from both name parts": {`{"userName":"bob","name":{"givenName":"Bob","familyName":"Ng"}}`,
			`{"displayName":"Bob Ng","name":{"familyName":"Ng","givenName":"Bob"},"userName":"bob"}`},
		"display name from the given name alone": {`{"userName":"bob","name":{"givenName":"Bob"}}`,
			`{"displayName":"Bob","name":{"givenName":"Bob"},"userName":"bob"}`},
		"display name from the family name alone": {`{"userName":"bob","name":{"familyName":"Ng","givenName":""}}`,
			`{"displayName":"Ng","name":{"familyName":"Ng"},"userName":"bob"}`},
		"empty display name is no value": {`{"userName":"bob","displayName":""}`, `{"displayName":"bob","userName":"bob"}`},
		"primary email wins over work": {`{"userName":"bob","emails":[{"value":"w@x","type":"work"},{"value":"p@x","type":"home","primary":true}]}`,
			`{"displayName":"bob","emails":[{"primary":true,"type":"work","value":"p@x"}],"userName":"bob"}`},
		"work email wins over the first": {`{"userName":"bob","emails":[{"value":"o@x","type":"other"},{"value":"w@x","type":"Work"}]}`,
			`{"displayName":"bob","emails":[{"primary":true,"type":"work","value":"w@x"}],"userName":"bob"}`},
		"first email otherwise": {`{"userName":"bob","emails":[{"value":"h@x","type":"home"},{"value":"o@x"}]}`,
			`{"displayName":"bob","emails":[{"primary":true,"type":"work","value":"h@x"}],"userName":"bob"}`},
		"Entra string primary": {`{"userName":"bob","emails":[{"value":"a@x","type":"home"},{"value":"b@x","type":"home","primary":"True"}]}`,
			`{"displayName":"bob","emails":[{"primary":true,"type":"work","value":"b@x"}],"userName":"bob"}`},
		"primary email without a value": {`{"userName":"bob","emails":[{"type":"work","primary":true},{"value":"b@x"}]}`,
			`{"displayName":"bob","userName":"bob"}`},
		"keys in other case": {`{"USERNAME":"bob","Title":"CTO","urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"Department":"Ops"}}`,
			`{"displayName":"bob","title":"CTO","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops"},"userName":"bob"}`},
		"no userName": {`{"displayName":"Bob"}`, `{"displayName":"Bob"}`},
	} {
		t.Run(name, func(t *testing.T) {
			got := desired(t, app, doc(t, tc.doc))
			delete(got, "schemas")
			delete(got, "externalId")
			delete(got, "active")
			if g := jsonOf(got); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func TestCustomAttributes(t *testing.T) {
	app := newApp("bitbucket", "atlassian")
	app.Attributes = []config.AttributeMapping{
		{Target: "userName", Source: "userName", Transform: config.TransformLowercase},
		{Target: `emails[type eq "work"].value`, Source: `emails[type eq "work"].value`, Transform: config.TransformLowercase},
		{Target: "displayName", Template: "{{ name.givenName }} {{name.familyName}} ({{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department}})"},
		{Target: "nickName", Template: "{{nickName}}-{{locale}}", Transform: config.TransformUppercase},
		{Target: "title", Source: "userType", Default: "Staff"},
		{Target: "preferredLanguage", Template: "{{userType}}", Default: "en"},
		{Target: "timezone", Source: "profileUrl", Transform: config.TransformTrim},
		{Target: `phoneNumbers[type eq "mobile"].value`, Source: `phoneNumbers[type eq "MOBILE"].value`},
		{Target: `phoneNumbers[type eq "work"].value`, Source: `phoneNumbers[type eq "fax"].value`},
		{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", Source: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"},
		{Target: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", Source: "manager"},
		{Target: "name", Source: "name"},
		{Target: "locale", Source: "active"},
		{Target: `emails[type eq "work"].primary`, Source: "title", Default: "true"},
	}
	d := doc(t, richUser)
	d["profileUrl"] = "   "
	got := desired(t, app, d)
	want := map[string]any{
		"schemas":     []any{scim.SchemaUser, scim.SchemaEnterpriseUser},
		"externalId":  "hub-1",
		"active":      true,
		"userName":    "ann.lee@example.com",
		"emails":      []any{map[string]any{"value": "ann.lee@example.com", "type": "work", "primary": true}},
		"displayName": "Ann Lee (R&D)",
		"nickName":    "ANNIE-EN-GB",
		"title":       "Staff",
		// preferredLanguage: the template has no value, so the default.
		"preferredLanguage": "en",
		// timezone: trimmed to nothing, so left out.
		"phoneNumbers": []any{map[string]any{"value": "+44 7700 900000", "type": "mobile", "primary": true}},
		scim.SchemaEnterpriseUser: map[string]any{
			"costCenter": "1001",
			"manager":    map[string]any{"value": "hub-9"},
		},
		"name":   map[string]any{"givenName": "Ann", "familyName": "Lee", "formatted": "Ms Ann Lee"},
		"locale": "true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("custom mapping:\n got %s\nwant %s", jsonOf(got), jsonOf(want))
	}
	// The representation is the caller's: changing it changes nothing of
	// the hub's document.
	got["name"].(map[string]any)["givenName"] = "X"
	if d["name"].(map[string]any)["givenName"] != "Ann" {
		t.Error("the desired representation shares maps with the hub document")
	}
}

func TestConvert(t *testing.T) {
	boolean := scim.AttrPath{Attr: &scim.Attribute{Name: "b", Type: scim.TypeBoolean}}
	integer := scim.AttrPath{Attr: &scim.Attribute{Name: "i", Type: scim.TypeInteger}}
	decimal := scim.AttrPath{Attr: &scim.Attribute{Name: "d", Type: scim.TypeDecimal}}
	str := scim.AttrPath{Attr: &scim.Attribute{Name: "s", Type: scim.TypeString}}
	for _, tc := range []struct {
		path scim.AttrPath
		in   any
		want any
		ok   bool
	}{
		{boolean, true, true, true},
		{boolean, "FALSE", false, true},
		{boolean, "yes", nil, false},
		{boolean, json.Number("1"), nil, false},
		{integer, json.Number("42"), json.Number("42"), true},
		{integer, "42", json.Number("42"), true},
		{integer, 7, json.Number("7"), true},
		{integer, "4.2", nil, false},
		{integer, true, nil, false},
		{decimal, "4.25", json.Number("4.25"), true},
		{decimal, 1.5, json.Number("1.5"), true},
		{decimal, "NaN", nil, false},
		{decimal, "1e999", nil, false},
		{str, json.Number("1001"), "1001", true},
		{str, false, "false", true},
		{str, int64(-3), "-3", true},
		{str, "", nil, false},
		{str, map[string]any{"value": "x"}, nil, false},
	} {
		got, ok := convert(ref{path: tc.path}, tc.in)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("convert(%s, %#v) = %#v, %v; want %#v, %v", tc.path.Attr.Type, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCompileAttributeProblems(t *testing.T) {
	for name, tc := range map[string]struct {
		m    config.AttributeMapping
		path string // after apps[0].attributes[1]
		msg  string
	}{
		"unknown target":        {config.AttributeMapping{Target: "nick", Source: "nickName"}, ".target", `unknown attribute "nick"`},
		"unknown source":        {config.AttributeMapping{Target: "nickName", Source: "name.nick"}, ".source", `unknown attribute "name.nick"`},
		"target with spaces":    {config.AttributeMapping{Target: "display Name", Source: "x"}, ".target", `"display Name" is not an attribute path`},
		"whole extension":       {config.AttributeMapping{Target: scim.SchemaEnterpriseUser, Source: "title"}, ".target", `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" names a whole extension schema, not an attribute`},
		"id":                    {config.AttributeMapping{Target: "id", Source: "userName"}, ".target", "id cannot be mapped: assigned by the app"},
		"externalId":            {config.AttributeMapping{Target: "EXTERNALID", Source: "userName"}, ".target", "externalId cannot be mapped: set by the gateway to the hub id"},
		"active":                {config.AttributeMapping{Target: "active", Source: "active"}, ".target", "active cannot be mapped: set by the gateway from the user's active and the policies"},
		"schemas":               {config.AttributeMapping{Target: "schemas", Source: "schemas"}, ".target", "schemas cannot be mapped: set by the gateway"},
		"meta sub-attribute":    {config.AttributeMapping{Target: "meta.created", Source: "meta.created"}, ".target", "meta cannot be mapped: assigned by the app"},
		"groups":                {config.AttributeMapping{Target: "groups", Source: "groups"}, ".target", "groups cannot be mapped: read-only; group membership is pushed with push_groups"},
		"password":              {config.AttributeMapping{Target: "password", Source: "userName"}, ".target", "password cannot be mapped: never sent"},
		"read-only sub":         {config.AttributeMapping{Target: scim.SchemaEnterpriseUser + ":manager.displayName", Source: "displayName"}, ".target", scim.SchemaEnterpriseUser + ":manager.displayName is readOnly and cannot be sent"},
		"multi without select":  {config.AttributeMapping{Target: "emails.value", Source: "userName"}, ".target", `emails.value has many elements: write one as emails[type eq "work"].value`},
		"selector sets type":    {config.AttributeMapping{Target: `emails[type eq "work"].type`, Source: "userName"}, ".target", "the selector already sets the type"},
		"selector on single":    {config.AttributeMapping{Target: `name[type eq "x"].givenName`, Source: "userName"}, ".target", `"name" cannot take [type eq "…"]: only multi-valued attributes with a type, such as emails and phoneNumbers, can`},
		"selector other filter": {config.AttributeMapping{Target: `emails[value eq "x"].value`, Source: "userName"}, ".target", `"emails": the only selector is [type eq "…"]`},
		"selector unquoted":     {config.AttributeMapping{Target: `emails[type eq work].value`, Source: "userName"}, ".target", `"emails": the only selector is [type eq "…"], with a quoted value`},
		"selector unterminated": {config.AttributeMapping{Target: `emails[type eq "work].value`, Source: "userName"}, ".target", `"emails": unterminated string`},
		"selector no bracket":   {config.AttributeMapping{Target: `emails[type eq "work".value`, Source: "userName"}, ".target", `"emails": the only selector is [type eq "…"]: missing ]`},
		"selector empty type":   {config.AttributeMapping{Target: `emails[type eq ""].value`, Source: "userName"}, ".target", `"emails": the type must not be empty`},
		"selector without sub":  {config.AttributeMapping{Target: `emails[type eq "work"]`, Source: "userName"}, ".target", `emails[…] must be followed by a sub-attribute, e.g. emails[type eq "work"].value`},
		"selector unknown sub":  {config.AttributeMapping{Target: `emails[type eq "work"].mail`, Source: "userName"}, ".target", `"emails" has no sub-attribute "mail"`},
		"empty target":          {config.AttributeMapping{Target: " ", Source: "userName"}, ".target", "empty attribute path"},
		"no source":             {config.AttributeMapping{Target: "title"}, "", "set source or template"},
		"both sources":          {config.AttributeMapping{Target: "title", Source: "title", Template: "x"}, "", "set only one of source and template"},
		"complex source":        {config.AttributeMapping{Target: "title", Source: "name"}, ".source", "name is not a single value; name a sub-attribute"},
		"multi-valued source":   {config.AttributeMapping{Target: "title", Source: "emails"}, ".source", "emails is not a single value; name a sub-attribute"},
		"whole copy mismatch":   {config.AttributeMapping{Target: "phoneNumbers", Source: "emails"}, ".source", "phoneNumbers is copied whole, so the source must be phoneNumbers too"},
		"template for whole":    {config.AttributeMapping{Target: "name", Template: "{{userName}}"}, ".template", "name is not a single value; a template cannot set it"},
		"template unclosed":     {config.AttributeMapping{Target: "title", Template: "{{title"}, ".template", "{{ without a }} after it"},
		"template stray close":  {config.AttributeMapping{Target: "title", Template: "title}}"}, ".template", "}} without a {{ before it"},
		"template nested":       {config.AttributeMapping{Target: "title", Template: "{{ {{title}} }}"}, ".template", "{{ inside {{ }}"},
		"template empty path":   {config.AttributeMapping{Target: "title", Template: "a{{}}b"}, ".template", "in {{}}: empty attribute path"},
		"template unknown":      {config.AttributeMapping{Target: "title", Template: "{{titel}}"}, ".template", `in {{titel}}: unknown attribute "titel"`},
		"template complex":      {config.AttributeMapping{Target: "title", Template: "{{name}}"}, ".template", "in {{name}}: name is not a single value; name a sub-attribute"},
		"transform unknown":     {config.AttributeMapping{Target: "title", Source: "title", Transform: "camel"}, ".transform", "must be lowercase, uppercase or trim"},
		"transform non-string":  {config.AttributeMapping{Target: `emails[type eq "work"].primary`, Source: "title", Transform: "lowercase"}, ".transform", `applies to string attributes only, and emails[type eq "work"].primary is not one`},
		"transform whole":       {config.AttributeMapping{Target: "phoneNumbers", Source: "phoneNumbers", Transform: "trim"}, ".transform", "applies to string attributes only, and phoneNumbers is not one"},
		"default of wrong type": {config.AttributeMapping{Target: `emails[type eq "work"].primary`, Source: "title", Default: "yes"}, ".default", `not a valid boolean value for emails[type eq "work"].primary`},
		"default for whole":     {config.AttributeMapping{Target: "name", Source: "name", Default: "x"}, ".default", "name is not a single value; it cannot have a default"},
		"default trimmed away":  {config.AttributeMapping{Target: "title", Source: "title", Default: "  ", Transform: "trim"}, ".default", "is empty once transformed"},
	} {
		t.Run(name, func(t *testing.T) {
			app := newApp("bitbucket", "scim")
			app.Attributes = []config.AttributeMapping{{Target: "userName", Source: "userName"}, tc.m}
			wantProblems(t, compileProblems(t, []config.App{app}, nil), []config.Problem{{Path: "apps[0].attributes[1]" + tc.path, Msg: tc.msg}})
		})
	}
}

func TestCompileAttributeListProblems(t *testing.T) {
	noUser := newApp("a", "scim")
	noUser.Attributes = []config.AttributeMapping{{Target: "title", Source: "title"}}
	noEmail := newApp("b", "atlassian")
	noEmail.Attributes = []config.AttributeMapping{{Target: "userName", Source: "userName"}}
	emailOK := newApp("c", "atlassian")
	emailOK.Attributes = []config.AttributeMapping{{Target: "userName", Source: "userName"}, {Target: "emails", Source: "emails"}}
	wantProblems(t, compileProblems(t, []config.App{noUser, noEmail, emailOK}, nil), []config.Problem{
		{Path: "apps[0].attributes", Msg: "must set userName"},
		{Path: "apps[1].attributes", Msg: `must set emails for an atlassian app, e.g. target emails[type eq "work"].value from source emails.value`},
	})
}

func TestRefString(t *testing.T) {
	for in, want := range map[string]string{
		"USERNAME":                             "userName",
		"name.GivenName":                       "name.givenName",
		"department":                           scim.SchemaEnterpriseUser + ":department",
		`Emails[ TYPE  EQ "Work" ].value`:      `emails[type eq "Work"].value`,
		`phoneNumbers[type eq "a\"b"].display`: `phoneNumbers[type eq "a\"b"].display`,
	} {
		r, err := parseRef(in)
		if err != nil {
			t.Errorf("parseRef(%q): %v", in, err)
			continue
		}
		if got := r.String(); got != want {
			t.Errorf("parseRef(%q).String() = %q, want %q", in, got, want)
		}
	}
}
