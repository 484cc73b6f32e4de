package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// problems collects validation problems in the order they are found.
type problems struct {
	list []Problem
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the whole configuration and reports every problem at once
// as a *ValidationError, each with its key path, or returns nil. It includes
// the problems Parse found without failing: unset environment variables and
// unreadable secret files.
func (c *Config) Validate() error {
	if c == nil {
		return &ValidationError{Problems: []Problem{{Msg: "no configuration"}}}
	}
	p := &problems{list: slices.Clone(c.loadProblems)}
	c.Server.validate(p, "server")
	c.Store.validate(p, "store")
	c.Log.validate(p, "log")
	c.SCIM.validate(p, "scim")
	c.Auth.validate(p, "auth")
	c.Reports.validate(p, "reports")
	c.validateApps(p)
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list}
}

const mustBePositive = "must be positive"

func (s Server) validate(p *problems, path string) {
	if msg := listenAddress(s.Listen); msg != "" {
		p.add(fieldPath(path, "listen"), "%s", msg)
	}
	if s.BaseURL != "" {
		if _, msg := webURL(s.BaseURL, "must be an absolute http or https URL, e.g. https://gw.example.com"); msg != "" {
			p.add(fieldPath(path, "base_url"), "%s", msg)
		}
	}
	if s.BodyLimitBytes <= 0 {
		p.add(fieldPath(path, "body_limit_bytes"), mustBePositive)
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"read_timeout", s.ReadTimeout}, {"write_timeout", s.WriteTimeout}, {"shutdown_timeout", s.ShutdownTimeout}} {
		if d.d <= 0 {
			p.add(fieldPath(path, d.name), mustBePositive)
		}
	}
}

func listenAddress(addr string) string {
	if addr == "" {
		return "required"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, e.g. 127.0.0.1:8080 or :8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "the port must be a number from 0 to 65535"
	}
	return ""
}

// webURL parses raw as an absolute http or https URL with a host and without
// user info, query or fragment. On failure it returns a message: basic when
// the URL is malformed or not http(s).
func webURL(raw, basic string) (*url.URL, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, basic
	}
	if u.User != nil {
		return nil, "must not contain a user name or password"
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, "must not have a query or fragment"
	}
	return u, ""
}

// issuerURL checks an OIDC issuer or discovery URL: https, or http on a
// loopback host so that tests can run a local issuer.
func issuerURL(raw string) string {
	const basic = "must be an https URL"
	u, msg := webURL(raw, basic)
	if msg != "" {
		return msg
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return basic + " (http is accepted only for localhost and 127.0.0.1)"
	}
	return ""
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s Store) validate(p *problems, path string) {
	if msg := storeURL(s.URL); msg != "" {
		p.add(fieldPath(path, "url"), "%s", msg)
	}
	if !redisPrefix(s.RedisPrefix) {
		p.add(fieldPath(path, "redis_prefix"), "must be 1 to 64 letters, digits, '_' or '-'")
	}
}

func storeURL(raw string) string {
	switch {
	case raw == "":
		return "required"
	case strings.HasPrefix(raw, "bolt://"):
		file := strings.TrimPrefix(raw, "bolt://")
		if file == "" {
			return "a bolt:// URL needs a file path, e.g. bolt://data/scim-gateway.db"
		}
		if strings.ContainsAny(file, "?#") {
			return "a bolt:// URL takes a file path only, without query or fragment"
		}
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"):
		// Messages do not repeat the URL or url.Parse's error: it may hold
		// a password.
		u, err := url.Parse(raw)
		if err != nil {
			return "is not a valid URL"
		}
		if u.Host == "" {
			return "a Redis URL needs a host, e.g. redis://localhost:6379/0"
		}
		if u.Fragment != "" {
			return "a Redis URL must not have a fragment"
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return "the database in a Redis URL must be a number, e.g. redis://localhost:6379/0"
			}
		}
	default:
		return "must start with bolt://, redis:// or rediss://"
	}
	return ""
}

func redisPrefix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (l Log) validate(p *problems, path string) {
	if _, ok := logLevels[l.Level]; !ok {
		p.add(fieldPath(path, "level"), "must be one of debug, info, warn, error")
	}
	if l.Format != "json" && l.Format != "text" {
		p.add(fieldPath(path, "format"), "must be json or text")
	}
}

// maxResultsCap is the highest scim.max_results accepted.
const maxResultsCap = 10000

func (s SCIM) validate(p *problems, path string) {
	maxValid := s.MaxResults >= 1 && s.MaxResults <= maxResultsCap
	if !maxValid {
		p.add(fieldPath(path, "max_results"), "must be from 1 to %d", maxResultsCap)
	}
	if s.DefaultCount < 1 || (maxValid && s.DefaultCount > s.MaxResults) {
		p.add(fieldPath(path, "default_count"), "must be from 1 to scim.max_results")
	}
	if s.IdempotencyTTL <= 0 {
		p.add(fieldPath(path, "idempotency_ttl"), mustBePositive)
	}
}

func (r Reports) validate(p *problems, path string) {
	if r.Retention <= 0 {
		p.add(fieldPath(path, "retention"), mustBePositive)
	}
	if r.MaxEntries <= 0 {
		p.add(fieldPath(path, "max_entries"), mustBePositive)
	}
}

// minTokenLength is the shortest token accepted, in characters.
const minTokenLength = 16

// NoIdPCredential is the message Validate gives, for path "auth.idp", when
// no IdP credential is configured.
const NoIdPCredential = "no credential configured; set SCIM_GATEWAY_TOKEN (or auth.idp.tokens[].token_file), or configure auth.idp.oidc"

func (a Auth) validate(p *problems, path string) {
	// Names and token values are compared across both sets: a name must
	// identify one credential, and an IdP token must not open /admin.
	names := map[string]string{}
	tokens := map[string]string{}
	idp, admin := fieldPath(path, "idp"), fieldPath(path, "admin")
	a.IdP.validate(p, idp, names, tokens)
	a.Admin.validate(p, admin, names, tokens)
	for i, t := range a.Admin.Tokens {
		if t.RawHeader() {
			p.add(fieldPath(indexPath(fieldPath(admin, "tokens"), i), "allow_raw_header"), "admin tokens always require \"Bearer \"; remove it or set it to false")
		}
	}
	if !a.IdP.configured() {
		p.add(idp, NoIdPCredential)
	}
}

// configured reports whether the set holds at least one usable credential.
func (c Credentials) configured() bool {
	for _, t := range c.Tokens {
		if t.Active() {
			return true
		}
	}
	for _, o := range c.OIDC {
		if o.Issuer != "" {
			return true
		}
	}
	return false
}

func (c Credentials) validate(p *problems, path string, names, tokens map[string]string) {
	for i, t := range c.Tokens {
		tp := indexPath(fieldPath(path, "tokens"), i)
		credentialName(p, tp, t.Name, names)
		if !t.Active() {
			continue
		}
		v := t.Token.Reveal()
		vp := fieldPath(tp, "token")
		if utf8.RuneCountInString(v) < minTokenLength {
			p.add(vp, "too short; use at least %d random characters", minTokenLength)
		}
		if !headerSafe(v) {
			p.add(vp, "must contain only printable ASCII characters, without spaces")
		}
		if first, dup := tokens[v]; dup {
			p.add(vp, "same value as %s; every token must be different", first)
		} else {
			tokens[v] = vp
		}
	}
	issuers := map[string]string{}
	for i, o := range c.OIDC {
		op := indexPath(fieldPath(path, "oidc"), i)
		credentialName(p, op, o.Name, names)
		ip := fieldPath(op, "issuer")
		switch {
		case o.Issuer == "":
			p.add(ip, "required")
		case issuerURL(o.Issuer) != "":
			p.add(ip, "%s", issuerURL(o.Issuer))
		default:
			if first, dup := issuers[o.Issuer]; dup {
				p.add(ip, "same issuer as %s; list its audiences in one entry", first)
			} else {
				issuers[o.Issuer] = ip
			}
		}
		if o.DiscoveryURL != "" {
			if msg := issuerURL(o.DiscoveryURL); msg != "" {
				p.add(fieldPath(op, "discovery_url"), "%s", msg)
			}
		}
		ap := fieldPath(op, "audiences")
		if len(o.Audiences) == 0 {
			p.add(ap, "at least one audience is required")
		}
		for j, aud := range o.Audiences {
			if aud == "" {
				p.add(indexPath(ap, j), "must not be empty")
			} else if slices.Index(o.Audiences, aud) < j {
				p.add(indexPath(ap, j), "duplicate audience")
			}
		}
		cp := fieldPath(op, "required_claims")
		claims := make([]string, 0, len(o.RequiredClaims))
		for k := range o.RequiredClaims {
			claims = append(claims, k)
		}
		slices.Sort(claims)
		for _, k := range claims {
			switch {
			case k == "":
				p.add(keyPath(cp, k), "the claim name must not be empty")
			case o.RequiredClaims[k] == "":
				p.add(keyPath(cp, k), "the required value must not be empty")
			}
		}
	}
}

// credentialName checks a credential's name and records it in names, which
// maps each name to the path of the credential that has it.
func credentialName(p *problems, path, name string, names map[string]string) {
	np := fieldPath(path, "name")
	switch {
	case name == "":
		p.add(np, "required")
		return
	case !validName(name):
		p.add(np, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if first, dup := names[name]; dup {
		p.add(np, "already used by %s; names must be unique across auth.idp and auth.admin", first)
		return
	}
	names[name] = path
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// headerSafe reports whether s can be sent as a credential in an HTTP header
// as it is: visible ASCII, no spaces or control characters.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// resolveAuthDefaults fills in allow_raw_header where it is unset: true for
// IdP tokens (Okta's Header auth mode sends the token without a scheme),
// false for admin tokens, so that the effective configuration shows it.
func (c *Config) resolveAuthDefaults() {
	for set, def := range map[*Credentials]bool{&c.Auth.IdP: true, &c.Auth.Admin: false} {
		for i := range set.Tokens {
			if set.Tokens[i].AllowRawHeader == nil {
				v := def
				set.Tokens[i].AllowRawHeader = &v
			}
		}
	}
}
