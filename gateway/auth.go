package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Principal is who made an authenticated request.
type Principal struct {
	// Name is the configured credential's name ("okta", "entra").
	Name string
	// Method is "token" or "oidc".
	Method string
	// Subject is the JWT subject for OIDC principals.
	Subject string
}

// Authenticator decides who sent a request. It returns errUnauthenticated
// (wrapped) when the request carries no acceptable credential.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

var errUnauthenticated = errors.New("unauthenticated")

// StaticToken is one named bearer token.
type StaticToken struct {
	Name  string
	Value string
	// AllowRawHeader accepts "Authorization: <token>" without the Bearer
	// scheme, as Okta's "Header" authentication mode sends it.
	AllowRawHeader bool
}

// OIDCIssuer trusts JWTs from one issuer.
type OIDCIssuer struct {
	Name string
	// Issuer must equal the token's iss claim exactly.
	Issuer string
	// DiscoveryURL is where the OIDC metadata lives when it is not under
	// Issuer (Entra v1 tokens: https://login.microsoftonline.com/<tenant>).
	// The metadata's issuer must still equal Issuer.
	DiscoveryURL string
	// Audiences: the token's aud must contain one of them.
	Audiences []string
	// RequiredClaims: each claim must equal the value, or contain it
	// when the claim is an array of strings.
	RequiredClaims map[string]string
}

// Credentials is a set of accepted credentials: static tokens and OIDC
// issuers. It implements Authenticator.
type Credentials struct {
	tokens  []tokenDigest
	issuers []*oidcVerifier
	now     func() time.Time
}

type tokenDigest struct {
	name   string
	digest [32]byte
	raw    bool
}

// NewCredentials builds an Authenticator. client is used for discovery and
// JWKS requests (nil means a client with a 10s timeout); now is the clock for token
// expiry.
func NewCredentials(tokens []StaticToken, issuers []OIDCIssuer, client *http.Client, now func() time.Time) *Credentials {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	c := &Credentials{now: now}
	for _, t := range tokens {
		if t.Value == "" {
			continue
		}
		c.tokens = append(c.tokens, tokenDigest{name: t.Name, digest: sha256.Sum256([]byte(t.Value)), raw: t.AllowRawHeader})
	}
	for _, is := range issuers {
		c.issuers = append(c.issuers, &oidcVerifier{cfg: is, client: client, now: now})
	}
	return c
}

// Empty reports whether no credential at all is configured.
func (c *Credentials) Empty() bool { return len(c.tokens) == 0 && len(c.issuers) == 0 }

// Authenticate implements Authenticator.
func (c *Credentials) Authenticate(r *http.Request) (Principal, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return Principal{}, fmt.Errorf("no Authorization header: %w", errUnauthenticated)
	}
	cred, bearer := h, false
	if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		cred, bearer = strings.TrimSpace(rest), true
	}
	if p, ok := c.matchToken(cred, bearer); ok {
		return p, nil
	}
	if bearer && strings.Count(cred, ".") == 2 && len(c.issuers) > 0 {
		var errs []error
		for _, v := range c.issuers {
			p, err := v.verify(r.Context(), cred)
			if err == nil {
				return p, nil
			}
			errs = append(errs, err)
		}
		return Principal{}, fmt.Errorf("jwt rejected: %w: %w", errors.Join(errs...), errUnauthenticated)
	}
	return Principal{}, fmt.Errorf("credential not recognised: %w", errUnauthenticated)
}

// matchToken compares the digest of cred with every configured token in
// constant time, so neither the position of a match nor the length of a
// token leaks through timing.
func (c *Credentials) matchToken(cred string, bearer bool) (Principal, bool) {
	d := sha256.Sum256([]byte(cred))
	var found *tokenDigest
	for i := range c.tokens {
		t := &c.tokens[i]
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 && found == nil {
			found = t
		}
	}
	if found == nil || (!bearer && !found.raw) {
		return Principal{}, false
	}
	return Principal{Name: found.name, Method: "token"}, true
}

// oidcVerifier discovers its issuer lazily, so a gateway starts while the
// issuer is unreachable, and retries discovery on later requests.
type oidcVerifier struct {
	cfg    OIDCIssuer
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

func (v *oidcVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	// Discovery must outlive this request: the key set it creates keeps
	// fetching keys with the context it was given.
	dctx := oidc.ClientContext(context.WithoutCancel(ctx), v.client)
	base := v.cfg.Issuer
	if v.cfg.DiscoveryURL != "" {
		base = strings.TrimSuffix(v.cfg.DiscoveryURL, "/.well-known/openid-configuration")
		dctx = oidc.InsecureIssuerURLContext(dctx, v.cfg.Issuer)
	}
	// The client's own timeout bounds the discovery round trip.
	p, err := oidc.NewProvider(dctx, base)
	if err != nil {
		return nil, fmt.Errorf("oidc %s: discovery: %w", v.cfg.Name, err)
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidc %s: discovery document: %w", v.cfg.Name, err)
	}
	if meta.Issuer != v.cfg.Issuer {
		return nil, fmt.Errorf("oidc %s: discovery document names issuer %q, want %q", v.cfg.Name, meta.Issuer, v.cfg.Issuer)
	}
	v.verifier = p.VerifierContext(dctx, &oidc.Config{SkipClientIDCheck: true, Now: v.now})
	return v.verifier, nil
}

func (v *oidcVerifier) verify(ctx context.Context, raw string) (Principal, error) {
	ver, err := v.get(ctx)
	if err != nil {
		return Principal{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("oidc %s: %w", v.cfg.Name, err)
	}
	if !audienceOK(tok.Audience, v.cfg.Audiences) {
		return Principal{}, fmt.Errorf("oidc %s: audience %v not accepted", v.cfg.Name, tok.Audience)
	}
	if len(v.cfg.RequiredClaims) > 0 {
		var claims map[string]any
		if err := tok.Claims(&claims); err != nil {
			return Principal{}, fmt.Errorf("oidc %s: claims: %w", v.cfg.Name, err)
		}
		for k, want := range v.cfg.RequiredClaims {
			if !claimHas(claims[k], want) {
				return Principal{}, fmt.Errorf("oidc %s: required claim %q missing or different", v.cfg.Name, k)
			}
		}
	}
	return Principal{Name: v.cfg.Name, Method: "oidc", Subject: tok.Subject}, nil
}

func audienceOK(got, want []string) bool {
	for _, g := range got {
		for _, w := range want {
			if g == w {
				return true
			}
		}
	}
	return false
}

func claimHas(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}
