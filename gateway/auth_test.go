package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/oidctest"
)

const entraAudience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"

func reqWithAuth(h string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
	if h != "" {
		r.Header.Set("Authorization", h)
	}
	return r
}

func TestStaticTokens(t *testing.T) {
	c := NewCredentials([]StaticToken{
		{Name: "okta", Value: "okta-token-0123456789abcdef", AllowRawHeader: true},
		{Name: "entra", Value: "entra-token-0123456789abcdef"},
		{Name: "disabled", Value: ""},
	}, nil, nil, nil)
	cases := []struct {
		header string
		want   string // principal name; "" means rejected
	}{
		{"Bearer okta-token-0123456789abcdef", "okta"},
		{"bearer okta-token-0123456789abcdef", "okta"}, // scheme is case-insensitive (RFC 7235)
		{"okta-token-0123456789abcdef", "okta"},        // Okta "Header" mode: raw token, allowed for okta
		{"Bearer entra-token-0123456789abcdef", "entra"},
		{"entra-token-0123456789abcdef", ""}, // raw header not allowed for entra
		{"Bearer entra-token-0123456789abcde", ""},
		{"Bearer ", ""},
		{"", ""},
		{"non-token", ""},
		{"Basic b2t0YTpva3Rh", ""},
	}
	for _, tc := range cases {
		p, err := c.Authenticate(reqWithAuth(tc.header))
		if tc.want == "" {
			if err == nil || !errors.Is(err, errUnauthenticated) {
				t.Errorf("%q: got principal %+v, err %v; want rejection", tc.header, p, err)
			}
			continue
		}
		if err != nil || p.Name != tc.want || p.Method != "token" {
			t.Errorf("%q: got %+v, %v; want %s", tc.header, p, err, tc.want)
		}
	}
}

func TestOIDC(t *testing.T) {
	now := time.Now()
	is := oidctest.New(t, "")
	c := NewCredentials(nil, []OIDCIssuer{{
		Name: "entra", Issuer: is.IssuerID, Audiences: []string{entraAudience},
		RequiredClaims: map[string]string{"tid": "tenant-1"},
	}}, nil, func() time.Time { return now })

	good := is.Token(t, entraAudience, now, time.Hour, map[string]any{"tid": "tenant-1"})
	p, err := c.Authenticate(reqWithAuth("Bearer " + good))
	if err != nil || p.Name != "entra" || p.Method != "oidc" || p.Subject != "provisioning-service" {
		t.Fatalf("valid token: %+v, %v", p, err)
	}

	bad := map[string]string{
		"wrong audience":  is.Token(t, "someone-else", now, time.Hour, map[string]any{"tid": "tenant-1"}),
		"expired":         is.Token(t, entraAudience, now.Add(-2*time.Hour), time.Hour, map[string]any{"tid": "tenant-1"}),
		"wrong issuer":    is.Token(t, entraAudience, now, time.Hour, map[string]any{"tid": "tenant-1", "iss": "https://evil.example/"}),
		"missing claim":   is.Token(t, entraAudience, now, time.Hour, nil),
		"different claim": is.Token(t, entraAudience, now, time.Hour, map[string]any{"tid": "tenant-2"}),
		"unpublished key": is.ForeignToken(t, entraAudience, now, time.Hour),
		"not a jwt":       "a.b.c",
	}
	for name, tok := range bad {
		if p, err := c.Authenticate(reqWithAuth("Bearer " + tok)); err == nil {
			t.Errorf("%s: accepted as %+v", name, p)
		}
	}
	// A JWT is only ever accepted as a bearer credential.
	if _, err := c.Authenticate(reqWithAuth(good)); err == nil {
		t.Error("raw JWT without Bearer scheme accepted")
	}
}

// Entra's v1 tokens name https://sts.windows.net/<tenant>/ as issuer while
// their metadata is served from another host: discovery_url covers that,
// and the metadata's issuer must still match.
func TestOIDCDiscoveryURL(t *testing.T) {
	now := time.Now()
	const stsIssuer = "https://sts.windows.net/tenant-1/"
	is := oidctest.New(t, stsIssuer)
	c := NewCredentials(nil, []OIDCIssuer{{
		Name: "entra", Issuer: stsIssuer, DiscoveryURL: is.URL, Audiences: []string{entraAudience},
	}}, nil, func() time.Time { return now })
	tok := is.Token(t, entraAudience, now, time.Hour, nil)
	if _, err := c.Authenticate(reqWithAuth("Bearer " + tok)); err != nil {
		t.Fatalf("entra-style token rejected: %v", err)
	}

	// Metadata naming another issuer is refused.
	c2 := NewCredentials(nil, []OIDCIssuer{{
		Name: "entra", Issuer: "https://sts.windows.net/tenant-2/", DiscoveryURL: is.URL, Audiences: []string{entraAudience},
	}}, nil, func() time.Time { return now })
	if _, err := c2.Authenticate(reqWithAuth("Bearer " + tok)); err == nil {
		t.Fatal("token accepted although discovery names a different issuer")
	}
}

// The gateway starts while the issuer is down and recovers when it is back.
func TestOIDCLazyDiscovery(t *testing.T) {
	now := time.Now()
	is := oidctest.New(t, "")
	is.SetDown(true)
	c := NewCredentials(nil, []OIDCIssuer{{Name: "idp", Issuer: is.IssuerID, Audiences: []string{"gw"}}},
		nil, func() time.Time { return now })
	tok := is.Token(t, "gw", now, time.Hour, nil)
	if _, err := c.Authenticate(reqWithAuth("Bearer " + tok)); err == nil {
		t.Fatal("accepted while discovery fails")
	}
	is.SetDown(false)
	if _, err := c.Authenticate(reqWithAuth("Bearer " + tok)); err != nil {
		t.Fatalf("rejected after issuer recovered: %v", err)
	}
	n := is.DiscoveryRequests()
	if _, err := c.Authenticate(reqWithAuth("Bearer " + tok)); err != nil {
		t.Fatal(err)
	}
	if is.DiscoveryRequests() != n {
		t.Error("discovery repeated although it had succeeded")
	}
}
