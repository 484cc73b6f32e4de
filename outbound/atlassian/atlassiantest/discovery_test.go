package atlassiantest

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestServiceProviderConfig(t *testing.T) {
	h := start(t, Options{})
	m := h.do("GET", "/ServiceProviderConfig", nil).expect(t, 200).obj(t)
	checks := map[string]any{
		"patch.supported":          true,
		"bulk.supported":           false,
		"filter.supported":         true,
		"filter.maxResults":        100.0,
		"sort.supported":           false,
		"etag.supported":           false,
		"changePassword.supported": false,
	}
	for path, want := range checks {
		k1, k2, _ := strings.Cut(path, ".")
		if got := get(m, k1, k2); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if !reflect.DeepEqual(m["schemas"], []any{spcSchema}) || get(m, "authenticationSchemes", 0, "type") != "oauthbearertoken" {
		t.Errorf("SPC %v", m)
	}
}

func TestResourceTypesAndSchemas(t *testing.T) {
	h := start(t, Options{})
	m := h.do("GET", "/ResourceTypes", nil).expect(t, 200).obj(t)
	if m["totalResults"] != 2.0 || get(m, "Resources", 0, "endpoint") != "/Users" || get(m, "Resources", 1, "endpoint") != "/Groups" {
		t.Errorf("ResourceTypes %v", m)
	}
	if g := h.do("GET", "/ResourceTypes/Group", nil).expect(t, 200).obj(t); g["schema"] != CoreGroupSchema {
		t.Errorf("ResourceTypes/Group %v", g)
	}
	h.do("GET", "/ResourceTypes/Device", nil).scimErr(t, 404, "")
	m = h.do("GET", "/Schemas", nil).expect(t, 200).obj(t)
	if m["totalResults"] != 3.0 {
		t.Errorf("Schemas %v", m)
	}
	for _, urn := range []string{CoreUserSchema, CoreGroupSchema, EnterpriseSchema} {
		s := h.do("GET", "/Schemas/"+urn, nil).expect(t, 200).obj(t)
		if s["id"] != urn || len(s["attributes"].([]any)) == 0 {
			t.Errorf("schema %s: %v", urn, s)
		}
	}
	u := h.do("GET", "/Schemas/"+CoreUserSchema, nil).obj(t)
	if get(u, "attributes", 0, "name") != "userName" || get(u, "attributes", 0, "required") != true {
		t.Errorf("User schema starts with %v", get(u, "attributes", 0))
	}
	h.do("GET", "/Schemas/urn:example:nope", nil).scimErr(t, 404, "")
}

func TestUnknownPathsAndMethods(t *testing.T) {
	h := start(t, Options{})
	for _, p := range []string{"/Bulk", "/users", "/Users/a/b", "/Me", ""} {
		h.do("GET", p, nil).scimErr(t, 404, "")
	}
	r := h.do("POST", "/Bulk", `{}`)
	r.scimErr(t, 404, "")
	base, _ := url.Parse(h.s.URL())
	h.do("GET", base.Scheme+"://"+base.Host+"/scim/v2/Users", nil).scimErr(t, 404, "")
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/Users", "GET, POST"},
		{"POST", "/Users/x", "GET, PUT, PATCH, DELETE"},
		{"PUT", "/Groups", "GET, POST"},
		{"POST", "/ServiceProviderConfig", "GET"},
		{"DELETE", "/Schemas", "GET"},
	} {
		r := h.do(c.method, c.path, nil)
		r.scimErr(t, 405, "")
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
