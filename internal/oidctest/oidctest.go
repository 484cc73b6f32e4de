// Package oidctest is a local OpenID Connect issuer for tests: it serves
// discovery metadata and a JWKS over loopback HTTP and signs real RS256
// JWTs, so the gateway's go-oidc verification runs unmodified against it.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a running test issuer.
type Issuer struct {
	// URL is the server's base URL (http://127.0.0.1:port).
	URL string
	// IssuerID is the iss value it puts in discovery and tokens; URL by
	// default, or another value to imitate Entra v1, whose metadata lives
	// at login.microsoftonline.com but names sts.windows.net as issuer.
	IssuerID string

	key       *rsa.PrivateKey
	keyID     string
	discovery atomic.Int64 // discovery requests served
	down      atomic.Bool
	srv       *httptest.Server
}

// New starts an issuer on 127.0.0.1; it stops when the test ends.
// issuerID "" means the issuer's own URL.
func New(tb testing.TB, issuerID string) *Issuer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("oidctest: generate key: %v", err)
	}
	is := &Issuer{key: key, keyID: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.discovery.Add(1)
		if is.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.IssuerID,
			"jwks_uri":                              is.URL + "/keys",
			"authorization_endpoint":                is.URL + "/authorize",
			"token_endpoint":                        is.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &is.key.PublicKey, KeyID: is.keyID, Algorithm: "RS256", Use: "sig",
		}}})
	})
	is.srv = httptest.NewServer(mux)
	tb.Cleanup(is.srv.Close)
	is.URL = is.srv.URL
	is.IssuerID = issuerID
	if is.IssuerID == "" {
		is.IssuerID = is.URL
	}
	return is
}

// SetDown makes discovery fail (503) while down is true.
func (is *Issuer) SetDown(down bool) { is.down.Store(down) }

// DiscoveryRequests counts discovery documents served.
func (is *Issuer) DiscoveryRequests() int64 { return is.discovery.Load() }

// Token signs a JWT for the given audience that is valid from now for ttl,
// with extra claims merged in (they may override iss, aud, exp...).
func (is *Issuer) Token(tb testing.TB, aud string, now time.Time, ttl time.Duration, extra map[string]any) string {
	tb.Helper()
	return is.sign(tb, is.key, aud, now, ttl, extra)
}

// ForeignToken is like Token but signed by a key the issuer does not
// publish: verification must reject it.
func (is *Issuer) ForeignToken(tb testing.TB, aud string, now time.Time, ttl time.Duration) string {
	tb.Helper()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("oidctest: generate key: %v", err)
	}
	return is.sign(tb, other, aud, now, ttl, nil)
}

func (is *Issuer) sign(tb testing.TB, key *rsa.PrivateKey, aud string, now time.Time, ttl time.Duration, extra map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.keyID))
	if err != nil {
		tb.Fatalf("oidctest: signer: %v", err)
	}
	claims := map[string]any{
		"iss": is.IssuerID,
		"sub": "provisioning-service",
		"aud": aud,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		tb.Fatalf("oidctest: sign: %v", err)
	}
	return raw
}
