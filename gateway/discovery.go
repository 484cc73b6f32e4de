package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/scim"
)

var resourceKinds = []*kind{userKind, groupKind}

// serviceProviderConfig tells the truth about what this server supports
// (RFC 7643 §5).
func (s *Server) serviceProviderConfig(c echo.Context) error {
	base := s.baseURL(c)
	return writeSCIM(c, http.StatusOK, map[string]any{
		"schemas":          []string{scim.SchemaServiceProviderConfig},
		"documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": s.opts.MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{
			map[string]any{
				"type":        "oauthbearertoken",
				"name":        "Bearer token",
				"description": "A static bearer token or an OIDC-issued JWT in the Authorization header",
				"specUri":     "https://www.rfc-editor.org/info/rfc6750",
				"primary":     true,
			},
		},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	})
}

func (s *Server) resourceTypes(c echo.Context) error {
	base := s.baseURL(c)
	var items []map[string]any
	for _, k := range resourceKinds {
		items = append(items, k.rt.Document(base))
	}
	return writeSCIM(c, http.StatusOK, listResponse(len(items), 1, items))
}

func (s *Server) resourceType(c echo.Context) error {
	name := c.Param("name")
	for _, k := range resourceKinds {
		if strings.EqualFold(k.rt.Name(), name) {
			return writeSCIM(c, http.StatusOK, k.rt.Document(s.baseURL(c)))
		}
	}
	return scim.ErrNotFound.Detailf("resource type %q not found", name)
}

func allSchemas() []*scim.Schema {
	return []*scim.Schema{scim.UserSchema, scim.GroupSchema, scim.EnterpriseUserSchema}
}

func (s *Server) schemas(c echo.Context) error {
	if c.QueryParam("filter") != "" {
		return scim.ErrInvalidFilter.Detailf("filtering is not supported on /Schemas")
	}
	base := s.baseURL(c)
	var items []map[string]any
	for _, sc := range allSchemas() {
		items = append(items, sc.Document(base))
	}
	return writeSCIM(c, http.StatusOK, listResponse(len(items), 1, items))
}

func (s *Server) schema(c echo.Context) error {
	urn := c.Param("urn")
	for _, sc := range allSchemas() {
		if strings.EqualFold(sc.ID(), urn) {
			return writeSCIM(c, http.StatusOK, sc.Document(s.baseURL(c)))
		}
	}
	return scim.ErrNotFound.Detailf("schema %q not found", urn)
}
