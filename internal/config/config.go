package config

import (
	"log/slog"
	"time"
)

// Config is the whole gateway configuration, as read from one YAML file.
// Parse and Load return it with defaults filled in; Validate checks it.
//
// Each section is a struct of its own with a validate method; apps and
// policies are validated together, since policies refer to apps.
type Config struct {
	Server  Server  `yaml:"server"`
	Store   Store   `yaml:"store"`
	Log     Log     `yaml:"log"`
	SCIM    SCIM    `yaml:"scim"`
	Auth    Auth    `yaml:"auth"`
	Reports Reports `yaml:"reports"`
	// Apps are the downstream applications accounts are provisioned to.
	Apps []App `yaml:"apps"`
	// Policies decide which hub users each app gets.
	Policies []Policy `yaml:"policies"`

	// loadProblems are found while parsing but do not stop it: environment
	// variables that are not set and *_file secrets that cannot be read.
	// Validate reports them with the rest.
	loadProblems []Problem
	// fromEnv holds the key paths of values that came from an environment
	// variable: Validate never quotes them in a message, even where it
	// quotes a value from the file (a filter's syntax error).
	fromEnv map[string]bool
}

// Server configures the HTTP server that serves /scim/v2, /admin and the
// operational endpoints.
type Server struct {
	// Listen is the host:port to listen on.
	Listen string `yaml:"listen"`
	// BaseURL is the external URL of the gateway, used to build
	// meta.location; empty means it is derived from each request.
	BaseURL string `yaml:"base_url"`
	// BodyLimitBytes caps the size of a request body.
	BodyLimitBytes int64    `yaml:"body_limit_bytes"`
	ReadTimeout    Duration `yaml:"read_timeout"`
	WriteTimeout   Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds the graceful shutdown of the server.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Store selects the storage backend.
type Store struct {
	// URL is bolt://<file path> (relative to the working directory, or
	// absolute as bolt:///var/lib/...), or redis://... / rediss://... in the
	// form go-redis parses. A password in the URL is masked by Redacted.
	URL string `yaml:"url"`
	// RedisPrefix starts every Redis key, and is also the hash tag that keeps
	// one deployment's keys in one Redis Cluster slot.
	RedisPrefix string `yaml:"redis_prefix"`
}

// Log configures the process logger.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

// logLevels is the one list of accepted log levels, used both to validate
// and to convert.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// SlogLevel returns Level as a slog.Level; an invalid level (which Validate
// reports) gives slog.LevelInfo.
func (l Log) SlogLevel() slog.Level {
	return logLevels[l.Level]
}

// SCIM configures the SCIM 2.0 API served to the IdPs.
type SCIM struct {
	// MaxResults is the most resources one list response returns
	// (filter.maxResults in /ServiceProviderConfig); a larger count is capped.
	MaxResults int `yaml:"max_results"`
	// DefaultCount is the page size when a request gives no count.
	DefaultCount int `yaml:"default_count"`
	// IdempotencyTTL is how long the response to a POST with an
	// Idempotency-Key header is kept and replayed.
	IdempotencyTTL Duration `yaml:"idempotency_ttl"`
}

// Auth holds the credentials accepted on /scim/v2 (IdP) and on /admin.
type Auth struct {
	IdP   Credentials `yaml:"idp"`
	Admin Credentials `yaml:"admin"`
}

// Credentials is one set of accepted credentials: static bearer tokens and
// OIDC issuers whose JWTs are accepted.
type Credentials struct {
	Tokens []Token `yaml:"tokens"`
	OIDC   []OIDC  `yaml:"oidc"`
}

// Token is a named static bearer token.
//
// A token whose value is empty (for example `${VAR:-}` with VAR unset) is
// inactive: it must never match a request, and it does not count as a
// credential.
type Token struct {
	// Name identifies the credential in logs and reports; unique across
	// auth.idp and auth.admin.
	Name string `yaml:"name"`
	// Token is the secret value; see Active.
	Token Secret `yaml:"token"`
	// TokenFile names a file holding the token; Parse reads it into Token.
	TokenFile string `yaml:"token_file"`
	// AllowRawHeader also accepts "Authorization: <token>" without the
	// "Bearer " scheme, as Okta's Header auth mode sends it. nil means the
	// default, which Parse fills in: true for auth.idp tokens, so Okta
	// works out of the box; false for auth.admin tokens, which always
	// require Bearer (true there is invalid). Read it with RawHeader.
	AllowRawHeader *bool `yaml:"allow_raw_header"`
}

// RawHeader reports whether the token is also accepted without "Bearer ".
func (t Token) RawHeader() bool { return t.AllowRawHeader != nil && *t.AllowRawHeader }

// Active reports whether the token has a value and so may match requests.
func (t Token) Active() bool {
	return t.Token != ""
}

// OIDC is an issuer whose JWTs are accepted as credentials.
type OIDC struct {
	// Name identifies the credential in logs and reports; unique across
	// auth.idp and auth.admin.
	Name string `yaml:"name"`
	// Issuer must equal the tokens' iss claim exactly.
	Issuer string `yaml:"issuer"`
	// DiscoveryURL is where to fetch the OpenID provider metadata when it is
	// not Issuer + "/.well-known/openid-configuration" (Entra v1 tokens).
	DiscoveryURL string `yaml:"discovery_url"`
	// Audiences accepted in the aud claim; at least one.
	Audiences []string `yaml:"audiences"`
	// RequiredClaims maps a claim name to a value the claim must equal, or
	// contain when the claim is an array of strings.
	RequiredClaims map[string]string `yaml:"required_claims"`
}

// Reports configures retention of the report log.
type Reports struct {
	// Retention drops entries older than this.
	Retention Duration `yaml:"retention"`
	// MaxEntries drops the oldest entries beyond this count.
	MaxEntries int `yaml:"max_entries"`
}

// Default returns the configuration that an empty file gives: every default
// filled in and no credentials, so it does not validate on its own.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			BodyLimitBytes:  1 << 20,
			ReadTimeout:     Duration(30 * time.Second),
			WriteTimeout:    Duration(60 * time.Second),
			ShutdownTimeout: Duration(15 * time.Second),
		},
		Store: Store{
			URL:         "bolt://data/scim-gateway.db",
			RedisPrefix: "scimgw",
		},
		Log: Log{Level: "info", Format: "json"},
		SCIM: SCIM{
			MaxResults:     200,
			DefaultCount:   100,
			IdempotencyTTL: Duration(24 * time.Hour),
		},
		Reports: Reports{
			Retention:  Duration(30 * 24 * time.Hour),
			MaxEntries: 1_000_000,
		},
	}
}
