package atlassiantest

import (
	"net/http"
	"strings"
)

// The discovery documents are plausible rather than recorded: Atlassian's
// real ServiceProviderConfig body was not found in any source. They state
// what the fake (and, as far as known, Atlassian) supports: PATCH yes; bulk,
// sort, ETag and password change no; filter yes with 100 results at most.

type obj = map[string]any

func (s *Server) discovery(rt route) response {
	switch rt.kind {
	case KindServiceProviderConfig:
		return response{status: http.StatusOK, body: s.serviceProviderConfig()}
	case KindResourceTypes:
		types := []obj{s.resourceType("User", "/Users", CoreUserSchema, true), s.resourceType("Group", "/Groups", CoreGroupSchema, false)}
		if rt.id == "" {
			return response{status: http.StatusOK, body: discoveryList(types)}
		}
		for _, t := range types {
			if t["id"] == rt.id {
				return response{status: http.StatusOK, body: t}
			}
		}
	case KindSchemas:
		schemas := s.schemas()
		if rt.id == "" {
			return response{status: http.StatusOK, body: discoveryList(schemas)}
		}
		for _, sc := range schemas {
			if strings.EqualFold(sc["id"].(string), rt.id) {
				return response{status: http.StatusOK, body: sc}
			}
		}
	}
	return errResp(&scimError{status: 404, detail: "no such " + rt.section + ": " + rt.id})
}

func discoveryList(items []obj) listWire[obj] {
	return listWire[obj]{Schemas: []string{ListResponseSchema}, TotalResults: len(items), StartIndex: 1, ItemsPerPage: len(items), Resources: items}
}

func (s *Server) serviceProviderConfig() obj {
	return obj{
		"schemas":          []string{spcSchema},
		"documentationUri": "https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/",
		"patch":            obj{"supported": true},
		"bulk":             obj{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           obj{"supported": true, "maxResults": DefaultPageSize},
		"changePassword":   obj{"supported": false},
		"sort":             obj{"supported": false},
		"etag":             obj{"supported": false},
		"authenticationSchemes": []obj{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with the directory's API key as a bearer token",
			"primary":     true,
		}},
		"meta": obj{"resourceType": "ServiceProviderConfig", "location": s.base + "/ServiceProviderConfig"},
	}
}

func (s *Server) resourceType(name, endpoint, schema string, enterprise bool) obj {
	t := obj{
		"schemas":     []string{resourceTypeSchema},
		"id":          name,
		"name":        name,
		"endpoint":    endpoint,
		"description": name + " account",
		"schema":      schema,
		"meta":        obj{"resourceType": "ResourceType", "location": s.base + "/ResourceTypes/" + name},
	}
	if enterprise {
		t["schemaExtensions"] = []obj{{"schema": EnterpriseSchema, "required": false}}
	}
	return t
}

// attribute describes one schema attribute; sub-attributes make it complex.
func attribute(name, typ string, required, multi bool, mutability, uniqueness string, subs ...obj) obj {
	a := obj{
		"name":        name,
		"type":        typ,
		"multiValued": multi,
		"required":    required,
		"caseExact":   false,
		"mutability":  mutability,
		"returned":    "default",
		"uniqueness":  uniqueness,
		"description": name,
	}
	if len(subs) > 0 {
		a["type"] = "complex"
		a["subAttributes"] = subs
	}
	return a
}

func str(name string) obj { return attribute(name, "string", false, false, "readWrite", "none") }

func (s *Server) schemas() []obj {
	multi := func(name string) obj {
		return attribute(name, "complex", false, true, "readWrite", "none",
			str("value"), str("type"), attribute("primary", "boolean", false, false, "readWrite", "none"))
	}
	user := []obj{
		attribute("userName", "string", true, false, "readWrite", "server"),
		attribute("name", "complex", false, false, "readWrite", "none",
			str("formatted"), str("familyName"), str("givenName"), str("middleName"), str("honorificPrefix"), str("honorificSuffix")),
		str("displayName"), str("nickName"), str("title"), str("preferredLanguage"), str("timezone"),
		str("department"), str("organization"),
		attribute("active", "boolean", false, false, "readWrite", "none"),
		multi("emails"), multi("phoneNumbers"),
		attribute("groups", "complex", false, true, "readOnly", "none", str("value"), str("display"), str("type"), str("$ref")),
	}
	group := []obj{
		attribute("displayName", "string", true, false, "immutable", "server"),
		attribute("members", "complex", false, true, "readWrite", "none", str("value"), str("display"), str("type"), str("$ref")),
	}
	enterprise := []obj{str("organization"), str("department")}
	sc := func(id, name string, attrs []obj) obj {
		return obj{"schemas": []string{schemaSchema}, "id": id, "name": name, "description": name, "attributes": attrs,
			"meta": obj{"resourceType": "Schema", "location": s.base + "/Schemas/" + id}}
	}
	return []obj{
		sc(CoreUserSchema, "User", user),
		sc(CoreGroupSchema, "Group", group),
		sc(EnterpriseSchema, "EnterpriseUser", enterprise),
	}
}
