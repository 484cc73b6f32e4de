package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// obj decodes a JSON object the way the gateway does (UseNumber).
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("test JSON %q: %v", s, err)
	}
	return m
}

// canon renders a value as canonical JSON (sorted keys) for comparisons.
func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	b, err = json.Marshal(x)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// sameJSON fails unless got renders as the JSON object want.
func sameJSON(t testing.TB, got any, want string) {
	t.Helper()
	if g, w := canon(t, got), canon(t, obj(t, want)); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

// wantErr fails unless err is a *Error with the status and scimType and
// (when given) a detail containing detailPart.
func wantErr(t testing.TB, err error, status int, scimType, detailPart string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *scim.Error %d %s", err, err, status, scimType)
	}
	if e.Status != status || e.ScimType != scimType {
		t.Fatalf("error %d %q (%s), want %d %q", e.Status, e.ScimType, e.Detail, status, scimType)
	}
	if detailPart != "" && !strings.Contains(e.Detail, detailPart) {
		t.Fatalf("detail %q does not mention %q", e.Detail, detailPart)
	}
}

func decodeUser(t testing.TB, body string) map[string]any {
	t.Helper()
	res, err := Decode(strings.NewReader(body), UserResourceType)
	if err != nil {
		t.Fatalf("decode user: %v", err)
	}
	return res
}

func decodeGroup(t testing.TB, body string) map[string]any {
	t.Helper()
	res, err := Decode(strings.NewReader(body), GroupResourceType)
	if err != nil {
		t.Fatalf("decode group: %v", err)
	}
	return res
}

func mustCompile(t testing.TB, expr string, rt *ResourceType) *Filter {
	t.Helper()
	f, err := Compile(expr, rt)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return f
}

func mustPatch(t testing.TB, body string) *Patch {
	t.Helper()
	p, err := ParsePatch([]byte(body))
	if err != nil {
		t.Fatalf("parse patch %s: %v", body, err)
	}
	return p
}

// applyPatch parses and applies a PATCH and checks the input is untouched.
func applyPatch(t testing.TB, res map[string]any, rt *ResourceType, body string) *Result {
	t.Helper()
	before := Clone(res)
	r, err := mustPatch(t, body).Apply(res, rt)
	if err != nil {
		t.Fatalf("apply %s: %v", body, err)
	}
	if !reflect.DeepEqual(before, res) {
		t.Fatalf("Apply modified its input")
	}
	return r
}

// patchErr applies a PATCH that must fail and checks the input is untouched.
func patchErr(t testing.TB, res map[string]any, rt *ResourceType, body string) error {
	t.Helper()
	before := Clone(res)
	p, err := ParsePatch([]byte(body))
	if err != nil {
		t.Fatalf("parse patch %s: %v", body, err)
	}
	r, err := p.Apply(res, rt)
	if err == nil {
		t.Fatalf("apply %s: no error, result %s", body, canon(t, r.Resource))
	}
	if r != nil {
		t.Fatalf("apply returned a result with an error")
	}
	if !reflect.DeepEqual(before, res) {
		t.Fatalf("failed Apply modified its input")
	}
	return err
}

const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// ops wraps operations into a PatchOp body.
func ops(operations string) string {
	return `{` + patchOp + `,"Operations":[` + operations + `]}`
}

// sampleUser is a stored user as the gateway keeps it.
const sampleUserJSON = `{
 "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "id":"2819c223-7f76-453a-919d-413861904646",
 "externalId":"bjensen",
 "userName":"bjensen@example.com",
 "name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara"},
 "displayName":"Babs Jensen",
 "title":"Tour Guide",
 "userType":"Employee",
 "active":true,
 "password":"t1meMa$heen",
 "emails":[
   {"value":"bjensen@example.com","type":"work","primary":true},
   {"value":"babs@jensen.org","type":"home"}
 ],
 "phoneNumbers":[{"value":"555-555-5555","type":"work"}],
 "ims":[{"value":"someaimhandle","type":"aim"}],
 "groups":[{"value":"e9e30dba-f08f-4109-8486-d5c6a331660a","display":"Tour Guides"}],
 "meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"3694e05e9dff590\""},
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}
}`

func sampleUser(t testing.TB) map[string]any {
	t.Helper()
	return obj(t, sampleUserJSON)
}
