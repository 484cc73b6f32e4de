package config

import (
	"errors"
	"strings"
	"testing"
)

const (
	idpToken   = "idp-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

// validConfig is the smallest valid configuration: defaults and one IdP
// token.
func validConfig() *Config {
	c := Default()
	c.Auth.IdP.Tokens = []Token{{Name: "okta", Token: idpToken}}
	return c
}

func entra() OIDC {
	return OIDC{
		Name:      "entra",
		Issuer:    "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
		Audiences: []string{"8adf8e6e-67b2-4cf2-a259-e3dc5476c621"},
	}
}

func validationProblems(t *testing.T, c *Config) []Problem {
	t.Helper()
	err := c.Validate()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() returned %T (%v), want *ValidationError", err, err)
	}
	return ve.Problems
}

func TestValidateAcceptsValidConfigs(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"minimal":               func(*Config) {},
		"oidc only":             func(c *Config) { c.Auth.IdP.Tokens = nil; c.Auth.IdP.OIDC = []OIDC{entra()} },
		"inactive token beside": func(c *Config) { c.Auth.IdP.Tokens = append(c.Auth.IdP.Tokens, Token{Name: "spare"}) },
		"admin credentials": func(c *Config) {
			c.Auth.Admin.Tokens = []Token{{Name: "ops", Token: adminToken}}
			c.Auth.Admin.OIDC = []OIDC{{Name: "okta-admins", Issuer: "https://example.okta.com/oauth2/default",
				Audiences: []string{"api://scim-gateway-admin"}, RequiredClaims: map[string]string{"groups": "admins"}}}
		},
		"same issuer in idp and admin": func(c *Config) {
			c.Auth.IdP.OIDC = []OIDC{entra()}
			admin := entra()
			admin.Name = "entra-admin"
			c.Auth.Admin.OIDC = []OIDC{admin}
		},
		"listen any port 0":     func(c *Config) { c.Server.Listen = ":0" },
		"listen ipv6":           func(c *Config) { c.Server.Listen = "[::1]:8443" },
		"base_url with path":    func(c *Config) { c.Server.BaseURL = "https://gw.example.com/prefix/" },
		"base_url http":         func(c *Config) { c.Server.BaseURL = "http://10.0.0.1:8080" },
		"redis":                 func(c *Config) { c.Store.URL = "redis://localhost:6379/0" },
		"rediss with password":  func(c *Config) { c.Store.URL = "rediss://default:p%40ss@redis.example.com:6380/2?dial_timeout=3s" },
		"redis without db":      func(c *Config) { c.Store.URL = "redis://localhost:6379" },
		"bolt absolute":         func(c *Config) { c.Store.URL = "bolt:///var/lib/scim-gateway/db" },
		"log text debug":        func(c *Config) { c.Log = Log{Level: "debug", Format: "text"} },
		"default count = max":   func(c *Config) { c.SCIM.DefaultCount = c.SCIM.MaxResults },
		"max results cap":       func(c *Config) { c.SCIM.MaxResults = 10000 },
		"issuer http localhost": func(c *Config) { o := entra(); o.Issuer = "http://localhost:5556/dex"; c.Auth.IdP.OIDC = []OIDC{o} },
		"issuer http 127.0.0.1": func(c *Config) { o := entra(); o.Issuer = "http://127.0.0.1:41234"; c.Auth.IdP.OIDC = []OIDC{o} },
		"issuer http [::1]":     func(c *Config) { o := entra(); o.Issuer = "http://[::1]:41234/"; c.Auth.IdP.OIDC = []OIDC{o} },
		"discovery url": func(c *Config) {
			o := entra()
			o.DiscoveryURL = "https://login.microsoftonline.com/t/.well-known/openid-configuration"
			c.Auth.IdP.OIDC = []OIDC{o}
		},
		"claim name is a URL": func(c *Config) {
			o := entra()
			o.RequiredClaims = map[string]string{"https://x/roles": "a"}
			c.Auth.IdP.OIDC = []OIDC{o}
		},
		"token of 16 characters": func(c *Config) { c.Auth.IdP.Tokens[0].Token = "0123456789abcdef" },
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			mutate(c)
			if ps := validationProblems(t, c); ps != nil {
				t.Errorf("problems: %q", ps)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	withOIDC := func(f func(*OIDC)) func(*Config) {
		return func(c *Config) {
			o := entra()
			f(&o)
			c.Auth.IdP.OIDC = []OIDC{o}
		}
	}
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   []Problem
	}{
		"listen empty":        {func(c *Config) { c.Server.Listen = "" }, []Problem{{"server.listen", 0, "required"}}},
		"listen without port": {func(c *Config) { c.Server.Listen = "127.0.0.1" }, []Problem{{"server.listen", 0, "must be host:port, e.g. 127.0.0.1:8080 or :8080"}}},
		"listen named port":   {func(c *Config) { c.Server.Listen = ":http" }, []Problem{{"server.listen", 0, "the port must be a number from 0 to 65535"}}},
		"listen port range":   {func(c *Config) { c.Server.Listen = ":65536" }, []Problem{{"server.listen", 0, "the port must be a number from 0 to 65535"}}},
		"base_url relative":   {func(c *Config) { c.Server.BaseURL = "/scim" }, []Problem{{"server.base_url", 0, "must be an absolute http or https URL, e.g. https://gw.example.com"}}},
		"base_url scheme":     {func(c *Config) { c.Server.BaseURL = "ftp://gw.example.com" }, []Problem{{"server.base_url", 0, "must be an absolute http or https URL, e.g. https://gw.example.com"}}},
		"base_url no host":    {func(c *Config) { c.Server.BaseURL = "https:///x" }, []Problem{{"server.base_url", 0, "must be an absolute http or https URL, e.g. https://gw.example.com"}}},
		"base_url malformed":  {func(c *Config) { c.Server.BaseURL = "https://gw.example.com:port" }, []Problem{{"server.base_url", 0, "must be an absolute http or https URL, e.g. https://gw.example.com"}}},
		"base_url user":       {func(c *Config) { c.Server.BaseURL = "https://u:p@gw.example.com" }, []Problem{{"server.base_url", 0, "must not contain a user name or password"}}},
		"base_url query":      {func(c *Config) { c.Server.BaseURL = "https://gw.example.com/?a=b" }, []Problem{{"server.base_url", 0, "must not have a query or fragment"}}},
		"base_url fragment":   {func(c *Config) { c.Server.BaseURL = "https://gw.example.com/#" }, []Problem{{"server.base_url", 0, "must not have a query or fragment"}}},
		"body limit":          {func(c *Config) { c.Server.BodyLimitBytes = 0 }, []Problem{{"server.body_limit_bytes", 0, "must be positive"}}},
		"admin token without Bearer": {func(c *Config) {
			c.Auth.Admin.Tokens = []Token{{Name: "ops", Token: adminToken, AllowRawHeader: new(true)}}
		}, []Problem{{"auth.admin.tokens[0].allow_raw_header", 0, `admin tokens always require "Bearer "; remove it or set it to false`}}},
		"timeouts": {func(c *Config) { c.Server.ReadTimeout, c.Server.WriteTimeout, c.Server.ShutdownTimeout = 0, -1, 0 }, []Problem{
			{"server.read_timeout", 0, "must be positive"}, {"server.write_timeout", 0, "must be positive"}, {"server.shutdown_timeout", 0, "must be positive"}}},
		"store empty":      {func(c *Config) { c.Store.URL = "" }, []Problem{{"store.url", 0, "required"}}},
		"store scheme":     {func(c *Config) { c.Store.URL = "postgres://db/x" }, []Problem{{"store.url", 0, "must start with bolt://, redis:// or rediss://"}}},
		"store bare path":  {func(c *Config) { c.Store.URL = "data/x.db" }, []Problem{{"store.url", 0, "must start with bolt://, redis:// or rediss://"}}},
		"bolt no path":     {func(c *Config) { c.Store.URL = "bolt://" }, []Problem{{"store.url", 0, "a bolt:// URL needs a file path, e.g. bolt://data/scim-gateway.db"}}},
		"bolt query":       {func(c *Config) { c.Store.URL = "bolt://x.db?timeout=1s" }, []Problem{{"store.url", 0, "a bolt:// URL takes a file path only, without query or fragment"}}},
		"redis no host":    {func(c *Config) { c.Store.URL = "redis:///0" }, []Problem{{"store.url", 0, "a Redis URL needs a host, e.g. redis://localhost:6379/0"}}},
		"redis db":         {func(c *Config) { c.Store.URL = "redis://localhost:6379/zero" }, []Problem{{"store.url", 0, "the database in a Redis URL must be a number, e.g. redis://localhost:6379/0"}}},
		"redis fragment":   {func(c *Config) { c.Store.URL = "redis://localhost:6379/0#x" }, []Problem{{"store.url", 0, "a Redis URL must not have a fragment"}}},
		"redis malformed":  {func(c *Config) { c.Store.URL = "redis://:hunter2@localhost:port" }, []Problem{{"store.url", 0, "is not a valid URL"}}},
		"prefix empty":     {func(c *Config) { c.Store.RedisPrefix = "" }, []Problem{{"store.redis_prefix", 0, "must be 1 to 64 letters, digits, '_' or '-'"}}},
		"prefix hash tag":  {func(c *Config) { c.Store.RedisPrefix = "{scimgw}" }, []Problem{{"store.redis_prefix", 0, "must be 1 to 64 letters, digits, '_' or '-'"}}},
		"prefix too long":  {func(c *Config) { c.Store.RedisPrefix = strings.Repeat("a", 65) }, []Problem{{"store.redis_prefix", 0, "must be 1 to 64 letters, digits, '_' or '-'"}}},
		"log level":        {func(c *Config) { c.Log.Level = "INFO" }, []Problem{{"log.level", 0, "must be one of debug, info, warn, error"}}},
		"log format":       {func(c *Config) { c.Log.Format = "logfmt" }, []Problem{{"log.format", 0, "must be json or text"}}},
		"max results 0":    {func(c *Config) { c.SCIM.MaxResults = 0 }, []Problem{{"scim.max_results", 0, "must be from 1 to 10000"}}},
		"max results high": {func(c *Config) { c.SCIM.MaxResults = 10001 }, []Problem{{"scim.max_results", 0, "must be from 1 to 10000"}}},
		"default count 0":  {func(c *Config) { c.SCIM.DefaultCount = 0 }, []Problem{{"scim.default_count", 0, "must be from 1 to scim.max_results"}}},
		"default count above max": {func(c *Config) { c.SCIM.MaxResults, c.SCIM.DefaultCount = 50, 51 }, []Problem{
			{"scim.default_count", 0, "must be from 1 to scim.max_results"}}},
		"idempotency ttl": {func(c *Config) { c.SCIM.IdempotencyTTL = 0 }, []Problem{{"scim.idempotency_ttl", 0, "must be positive"}}},
		"retention":       {func(c *Config) { c.Reports.Retention = -1 }, []Problem{{"reports.retention", 0, "must be positive"}}},
		"max entries":     {func(c *Config) { c.Reports.MaxEntries = 0 }, []Problem{{"reports.max_entries", 0, "must be positive"}}},

		"no idp credential":    {func(c *Config) { c.Auth.IdP.Tokens = nil }, []Problem{{"auth.idp", 0, NoIdPCredential}}},
		"only inactive tokens": {func(c *Config) { c.Auth.IdP.Tokens[0].Token = "" }, []Problem{{"auth.idp", 0, NoIdPCredential}}},
		"admin credential does not count": {func(c *Config) {
			c.Auth.IdP.Tokens = nil
			c.Auth.Admin.Tokens = []Token{{Name: "ops", Token: adminToken}}
		}, []Problem{{"auth.idp", 0, NoIdPCredential}}},
		"token too short": {func(c *Config) { c.Auth.IdP.Tokens[0].Token = "0123456789abcde" }, []Problem{
			{"auth.idp.tokens[0].token", 0, "too short; use at least 16 random characters"}}},
		"token with space": {func(c *Config) { c.Auth.IdP.Tokens[0].Token = "0123456789 abcdef" }, []Problem{
			{"auth.idp.tokens[0].token", 0, "must contain only printable ASCII characters, without spaces"}}},
		"token non-ascii": {func(c *Config) { c.Auth.IdP.Tokens[0].Token = "0123456789abcdéf" }, []Problem{
			{"auth.idp.tokens[0].token", 0, "must contain only printable ASCII characters, without spaces"}}},
		"token short and control": {func(c *Config) { c.Auth.IdP.Tokens[0].Token = "abc\n" }, []Problem{
			{"auth.idp.tokens[0].token", 0, "too short; use at least 16 random characters"},
			{"auth.idp.tokens[0].token", 0, "must contain only printable ASCII characters, without spaces"}}},
		"same token in idp and admin": {func(c *Config) { c.Auth.Admin.Tokens = []Token{{Name: "ops", Token: idpToken}} }, []Problem{
			{"auth.admin.tokens[0].token", 0, "same value as auth.idp.tokens[0].token; every token must be different"}}},
		"same token twice in idp": {func(c *Config) { c.Auth.IdP.Tokens = append(c.Auth.IdP.Tokens, Token{Name: "entra", Token: idpToken}) }, []Problem{
			{"auth.idp.tokens[1].token", 0, "same value as auth.idp.tokens[0].token; every token must be different"}}},
		"token name missing": {func(c *Config) { c.Auth.IdP.Tokens[0].Name = "" }, []Problem{{"auth.idp.tokens[0].name", 0, "required"}}},
		"token name invalid": {func(c *Config) { c.Auth.IdP.Tokens[0].Name = "-okta" }, []Problem{
			{"auth.idp.tokens[0].name", 0, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"}}},
		"token name with space": {func(c *Config) { c.Auth.IdP.Tokens[0].Name = "my okta" }, []Problem{
			{"auth.idp.tokens[0].name", 0, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"}}},
		"name unique across idp and admin": {func(c *Config) {
			c.Auth.Admin.Tokens = []Token{{Name: "okta", Token: adminToken}}
			c.Auth.Admin.OIDC = []OIDC{entra(), entra()}
			c.Auth.Admin.OIDC[1].Issuer = "https://other.example.com"
		}, []Problem{
			{"auth.admin.tokens[0].name", 0, "already used by auth.idp.tokens[0]; names must be unique across auth.idp and auth.admin"},
			{"auth.admin.oidc[1].name", 0, "already used by auth.admin.oidc[0]; names must be unique across auth.idp and auth.admin"}}},
		"name unique among inactive tokens": {func(c *Config) { c.Auth.IdP.Tokens = append(c.Auth.IdP.Tokens, Token{Name: "okta"}) }, []Problem{
			{"auth.idp.tokens[1].name", 0, "already used by auth.idp.tokens[0]; names must be unique across auth.idp and auth.admin"}}},
		"oidc name missing": {withOIDC(func(o *OIDC) { o.Name = "" }), []Problem{{"auth.idp.oidc[0].name", 0, "required"}}},
		"issuer missing":    {withOIDC(func(o *OIDC) { o.Issuer = "" }), []Problem{{"auth.idp.oidc[0].issuer", 0, "required"}}},
		"issuer http":       {withOIDC(func(o *OIDC) { o.Issuer = "http://sts.windows.net/t/" }), []Problem{{"auth.idp.oidc[0].issuer", 0, "must be an https URL (http is accepted only for localhost and 127.0.0.1)"}}},
		"issuer not a URL":  {withOIDC(func(o *OIDC) { o.Issuer = "sts.windows.net" }), []Problem{{"auth.idp.oidc[0].issuer", 0, "must be an https URL"}}},
		"issuer query":      {withOIDC(func(o *OIDC) { o.Issuer = "https://sts.windows.net/?t=1" }), []Problem{{"auth.idp.oidc[0].issuer", 0, "must not have a query or fragment"}}},
		"issuer twice": {func(c *Config) {
			c.Auth.IdP.OIDC = []OIDC{entra(), entra()}
			c.Auth.IdP.OIDC[1].Name = "entra2"
		}, []Problem{{"auth.idp.oidc[1].issuer", 0, "same issuer as auth.idp.oidc[0].issuer; list its audiences in one entry"}}},
		"discovery http": {withOIDC(func(o *OIDC) { o.DiscoveryURL = "http://login.microsoftonline.com/x" }), []Problem{
			{"auth.idp.oidc[0].discovery_url", 0, "must be an https URL (http is accepted only for localhost and 127.0.0.1)"}}},
		"audiences none":      {withOIDC(func(o *OIDC) { o.Audiences = nil }), []Problem{{"auth.idp.oidc[0].audiences", 0, "at least one audience is required"}}},
		"audience empty":      {withOIDC(func(o *OIDC) { o.Audiences = []string{"a", ""} }), []Problem{{"auth.idp.oidc[0].audiences[1]", 0, "must not be empty"}}},
		"audience duplicated": {withOIDC(func(o *OIDC) { o.Audiences = []string{"a", "b", "a"} }), []Problem{{"auth.idp.oidc[0].audiences[2]", 0, "duplicate audience"}}},
		"required claims": {withOIDC(func(o *OIDC) { o.RequiredClaims = map[string]string{"tid": "", "": "x", "a b": ""} }), []Problem{
			{`auth.idp.oidc[0].required_claims[""]`, 0, "the claim name must not be empty"},
			{`auth.idp.oidc[0].required_claims["a b"]`, 0, "the required value must not be empty"},
			{"auth.idp.oidc[0].required_claims.tid", 0, "the required value must not be empty"}}},
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			wantProblems(t, validationProblems(t, c), tc.want)
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	cfg := mustParse(t, `server:
  listen: nowhere
  read_timeout: 0s
store:
  url: mysql://db
log:
  level: verbose
scim:
  max_results: 20000
auth:
  idp:
    tokens:
      - name: okta
        token: short
    oidc:
      - name: okta
        issuer: http://login.example.com
  admin:
    tokens:
      - name: ops
        token: ${SCIM_GATEWAY_ADMIN_TOKEN}
reports:
  retention: -1d
`, nil)
	err := cfg.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v", err)
	}
	want := []Problem{
		{"auth.admin.tokens[0].token", 0, "environment variable SCIM_GATEWAY_ADMIN_TOKEN is not set"},
		{"server.listen", 0, "must be host:port, e.g. 127.0.0.1:8080 or :8080"},
		{"server.read_timeout", 0, "must be positive"},
		{"store.url", 0, "must start with bolt://, redis:// or rediss://"},
		{"log.level", 0, "must be one of debug, info, warn, error"},
		{"scim.max_results", 0, "must be from 1 to 10000"},
		{"auth.idp.tokens[0].token", 0, "too short; use at least 16 random characters"},
		{"auth.idp.oidc[0].name", 0, "already used by auth.idp.tokens[0]; names must be unique across auth.idp and auth.admin"},
		{"auth.idp.oidc[0].issuer", 0, "must be an https URL (http is accepted only for localhost and 127.0.0.1)"},
		{"auth.idp.oidc[0].audiences", 0, "at least one audience is required"},
		{"reports.retention", 0, "must be positive"},
	}
	wantProblems(t, ve.Problems, want)
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "invalid configuration (11 problems):" || len(lines) != 12 {
		t.Fatalf("Error() should be a header and one line per problem:\n%v", err)
	}
	for i, p := range want {
		if lines[i+1] != "  "+p.String() {
			t.Errorf("line %d = %q, want %q", i+1, lines[i+1], "  "+p.String())
		}
	}
}

func TestValidateNil(t *testing.T) {
	var c *Config
	if err := c.Validate(); err == nil {
		t.Fatal("Validate() of a nil Config = nil")
	}
}

func TestLogSlogLevel(t *testing.T) {
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR", "bogus": "INFO"} {
		if got := (Log{Level: level}).SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%q) = %s, want %s", level, got, want)
		}
	}
}

// TestRawHeaderDefaults: allow_raw_header defaults to true for IdP tokens
// (Okta's Header auth mode) and false for admin tokens; an explicit false
// turns it off for an IdP token.
func TestRawHeaderDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
auth:
  idp:
    tokens:
      - {name: okta, token: okta-token-0123456789}
      - {name: strict, token: strict-token-0123456789, allow_raw_header: false}
  admin:
    tokens: [{name: ops, token: admin-token-0123456789}]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	idp, admin := cfg.Auth.IdP.Tokens, cfg.Auth.Admin.Tokens
	if !idp[0].RawHeader() || idp[1].RawHeader() || admin[0].RawHeader() {
		t.Errorf("raw header: idp default %v, idp false %v, admin default %v; want true, false, false",
			idp[0].RawHeader(), idp[1].RawHeader(), admin[0].RawHeader())
	}
}
