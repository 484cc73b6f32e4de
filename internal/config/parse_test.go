package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap returns an env func backed by m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// parseErr parses doc and returns its *ParseError, failing if there is none.
func parseErr(t *testing.T, doc string, env map[string]string) *ParseError {
	t.Helper()
	cfg, err := Parse([]byte(doc), envMap(env))
	if err == nil {
		t.Fatalf("Parse succeeded, want an error; config: %+v", cfg)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse error is %T (%v), want *ParseError", err, err)
	}
	return pe
}

func mustParse(t *testing.T, doc string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(doc), envMap(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func wantProblems(t *testing.T, got, want []Problem) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func TestParseRejectsUnknownKeysWithLine(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		want Problem
	}{
		"top level": {"server: {}\nsevrer:\n  listen: x\n", Problem{Line: 2, Path: "sevrer",
			Msg: "unknown key; expected one of: server, store, log, scim, auth, reports, apps, policies"}},
		"nested": {"server:\n  listen: \":1\"\n  lisen: \":2\"\n", Problem{Line: 3, Path: "server.lisen",
			Msg: "unknown key; expected one of: listen, base_url, body_limit_bytes, read_timeout, write_timeout, shutdown_timeout"}},
		"in a list item": {"auth:\n  idp:\n    tokens:\n      - name: a\n        tokn: x\n", Problem{Line: 5, Path: "auth.idp.tokens[0].tokn",
			Msg: "unknown key; expected one of: name, token, token_file, allow_raw_header"}},
		"in a flow mapping": {"log: {level: info, colour: true}\n", Problem{Line: 1, Path: "log.colour",
			Msg: "unknown key; expected one of: level, format"}},
		"an app key": {"apps:\n  - name: bitbucket\n    tokn: x\n", Problem{Line: 3, Path: "apps[0].tokn",
			Msg: "unknown key; expected one of: name, type, base_url, token, token_file, actions, deprovision, rate_limit, concurrency, timeout, protected, safeguard, drift, import, attributes"}},
		"a policy key": {"policies:\n  - name: p\n    group: [a]\n", Problem{Line: 3, Path: "policies[0].group",
			Msg: "unknown key; expected one of: name, app, groups, filter, push_groups"}},
	} {
		t.Run(name, func(t *testing.T) {
			pe := parseErr(t, tc.doc, nil)
			wantProblems(t, pe.Problems, []Problem{tc.want})
			if !strings.Contains(pe.Error(), tc.want.String()) {
				t.Errorf("Error() = %q, want it to contain %q", pe.Error(), tc.want.String())
			}
		})
	}
}

func TestParseReportsEveryDecodeProblem(t *testing.T) {
	doc := `server:
  listen: [a, b]
  body_limit_bytes: lots
  read_timeout: soon
  read_timeout: 5s
store: bolt://x
log:
  level: info
  extra: 1
scim:
  max_results: 1.5
auth:
  idp:
    tokens: {name: a}
    oidc:
      - name: e
        audiences: x
        required_claims: [tid]
        allow_raw_header: yes please
`
	pe := parseErr(t, doc, nil)
	wantProblems(t, pe.Problems, []Problem{
		{Line: 2, Path: "server.listen", Msg: "must be a single value, not a list"},
		{Line: 3, Path: "server.body_limit_bytes", Msg: `invalid value "lots": must be a whole number`},
		{Line: 4, Path: "server.read_timeout", Msg: `invalid value "soon": must be a duration such as 90s, 15m, 24h or 7d`},
		{Line: 5, Path: "server.read_timeout", Msg: "duplicate key (first at line 4)"},
		{Line: 6, Path: "store", Msg: "must be a mapping of keys to values, not a single value"},
		{Line: 9, Path: "log.extra", Msg: "unknown key; expected one of: level, format"},
		{Line: 11, Path: "scim.max_results", Msg: `invalid value "1.5": must be a whole number`},
		{Line: 14, Path: "auth.idp.tokens", Msg: "must be a list, not a mapping"},
		{Line: 17, Path: "auth.idp.oidc[0].audiences", Msg: "must be a list, not a single value"},
		{Line: 18, Path: "auth.idp.oidc[0].required_claims", Msg: "must be a mapping of keys to values, not a list"},
		{Line: 19, Path: "auth.idp.oidc[0].allow_raw_header", Msg: "unknown key; expected one of: name, issuer, discovery_url, audiences, required_claims"},
	})
	lines := strings.Split(pe.Error(), "\n")
	if len(lines) != 1+len(pe.Problems) || lines[0] != "cannot parse configuration (11 problems):" {
		t.Errorf("Error() should be a header and one line per problem:\n%s", pe.Error())
	}
}

func TestParseDocumentErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		want Problem
	}{
		"syntax":          {"server:\n  listen: \"unterminated\n", Problem{Line: 2, Msg: "found unexpected end of stream"}},
		"bad indentation": {"server:\n  listen: a\n bad: b\n", Problem{Line: 2, Msg: "did not find expected key"}},
		"two documents":   {"log: {}\n---\nlog: {}\n", Problem{Line: 2, Msg: "a second YAML document (---) is not allowed; put the whole configuration in one"}},
		"root is a list":  {"- server\n", Problem{Line: 1, Msg: "must be a mapping of keys to values, not a list"}},
		"root is a value": {"hello\n", Problem{Line: 1, Msg: "must be a mapping of keys to values, not a single value"}},
		"merge key":       {"base: &b {level: info}\nlog:\n  <<: *b\n", Problem{Line: 1, Path: "base", Msg: "unknown key; expected one of: server, store, log, scim, auth, reports, apps, policies"}},
		"alias as key":    {"log:\n  &k level: info\n  *k : debug\n", Problem{Line: 3, Path: "log", Msg: "an alias (*name) cannot be used as a key"}},
		"non-scalar key":  {"log:\n  ? [a]\n  : b\n", Problem{Line: 2, Path: "log", Msg: "keys must be plain strings, not a list"}},
	} {
		t.Run(name, func(t *testing.T) {
			pe := parseErr(t, tc.doc, nil)
			if len(pe.Problems) == 0 || pe.Problems[0] != tc.want {
				t.Errorf("problems = %q, want first %q", pe.Problems, tc.want)
			}
		})
	}
	pe := parseErr(t, "log:\n  <<: {level: info}\n", nil)
	wantProblems(t, pe.Problems, []Problem{{Line: 2, Path: "log", Msg: "merge keys (<<) are not supported; write the keys out"}})
}

func TestParseEmptyDocumentGivesDefaults(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "~\n", "---\n"} {
		cfg := mustParse(t, doc, nil)
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("Parse(%q) = %+v, want the defaults", doc, cfg)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	cfg := mustParse(t, `server:
  listen: ":9090"
  read_timeout:
scim:
  max_results: 0
log: ~
reports:
  retention: ${UNSET_RETENTION:-}
`, nil)
	want := Default()
	want.Server.Listen = ":9090"
	want.SCIM.MaxResults = 0
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	// The explicit zero is kept, so Validate can say it is wrong.
	err := cfg.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || !containsProblem(ve.Problems, Problem{Path: "scim.max_results", Msg: "must be from 1 to 10000"}) {
		t.Errorf("Validate() = %v, want a scim.max_results problem", err)
	}
}

func containsProblem(ps []Problem, p Problem) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func TestParseTypes(t *testing.T) {
	cfg := mustParse(t, `server:
  body_limit_bytes: 0x100
  shutdown_timeout: 1d
auth:
  idp:
    tokens:
      - name: 123
        token: 0123456789012345678
        allow_raw_header: yes
    oidc:
      - name: true
        audiences: [1, 2.5, null]
        required_claims: {tid: 42, "https://x/roles": admin}
`, nil)
	if cfg.Server.BodyLimitBytes != 256 || cfg.Server.ShutdownTimeout.Std() != 24*time.Hour {
		t.Errorf("server = %+v", cfg.Server)
	}
	tok := cfg.Auth.IdP.Tokens[0]
	if tok.Name != "123" || tok.Token.Reveal() != "0123456789012345678" || !tok.RawHeader() {
		t.Errorf("token = %+v (value %q)", tok, tok.Token.Reveal())
	}
	o := cfg.Auth.IdP.OIDC[0]
	if o.Name != "true" || !reflect.DeepEqual(o.Audiences, []string{"1", "2.5", ""}) ||
		!reflect.DeepEqual(o.RequiredClaims, map[string]string{"tid": "42", "https://x/roles": "admin"}) {
		t.Errorf("oidc = %+v", o)
	}
}

func TestExpansion(t *testing.T) {
	env := map[string]string{
		"TOKEN": "tok-0123456789abcdef",
		"PORT":  "9090",
		"EMPTY": "",
		"HOST":  "gw.example.com",
		"SIZE":  "2048",
		"YES":   "true",
		"DAYS":  "7d",
	}
	cfg := mustParse(t, `server:
  listen: "0.0.0.0:${PORT}"
  base_url: https://${HOST}/${MISSING_PATH:-scim}
  body_limit_bytes: ${SIZE}
  write_timeout: ${UNSET_TIMEOUT:-2m}
store:
  redis_prefix: ${EMPTY:-fallback}
log:
  level: ${LEVEL:-debug}
reports:
  retention: ${DAYS}
auth:
  idp:
    tokens:
      - name: okta
        token: ${TOKEN}
        allow_raw_header: ${YES}
    oidc:
      - name: price$
        issuer: https://$$HOST/$${HOST}/${HOST}$
        audiences: ["$", "a$b", "$$$$", "${EMPTY}", '${EMPTY:-x}y']
`, env)
	checks := map[string][2]any{
		"listen":       {cfg.Server.Listen, "0.0.0.0:9090"},
		"base_url":     {cfg.Server.BaseURL, "https://gw.example.com/scim"},
		"body limit":   {cfg.Server.BodyLimitBytes, int64(2048)},
		"write":        {cfg.Server.WriteTimeout.Std(), 2 * time.Minute},
		"prefix":       {cfg.Store.RedisPrefix, "fallback"},
		"level":        {cfg.Log.Level, "debug"},
		"retention":    {cfg.Reports.Retention.Std(), 7 * 24 * time.Hour},
		"token":        {cfg.Auth.IdP.Tokens[0].Token.Reveal(), "tok-0123456789abcdef"},
		"raw header":   {cfg.Auth.IdP.Tokens[0].RawHeader(), true},
		"name":         {cfg.Auth.IdP.OIDC[0].Name, "price$"},
		"issuer":       {cfg.Auth.IdP.OIDC[0].Issuer, "https://$HOST/${HOST}/gw.example.com$"},
		"audiences":    {strings.Join(cfg.Auth.IdP.OIDC[0].Audiences, "|"), "$|a$b|$$||xy"},
		"load problem": {len(cfg.loadProblems), 0},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %#v, want %#v", name, c[0], c[1])
		}
	}
}

func TestExpansionCannotInjectStructure(t *testing.T) {
	env := map[string]string{
		"EVIL":  "x\nadmin:\n  tokens: [{name: evil, token: injected-0123456789}]",
		"LIST":  "[a, b]",
		"MAP":   "{level: debug}",
		"ALIAS": "*a",
		"NUM":   "12",
	}
	cfg := mustParse(t, `log:
  level: ${MAP}
  format: ${ALIAS}
auth:
  idp:
    tokens:
      - name: t
        token: ${EVIL}
    oidc:
      - name: o
        audiences:
          - ${LIST}
        issuer: "${NUM}"
`, env)
	if cfg.Log.Level != "{level: debug}" || cfg.Log.Format != "*a" {
		t.Errorf("log = %+v", cfg.Log)
	}
	if len(cfg.Auth.Admin.Tokens) != 0 || cfg.Auth.IdP.Tokens[0].Token.Reveal() != env["EVIL"] {
		t.Errorf("a value added structure: %+v", cfg.Auth)
	}
	if !reflect.DeepEqual(cfg.Auth.IdP.OIDC[0].Audiences, []string{"[a, b]"}) || cfg.Auth.IdP.OIDC[0].Issuer != "12" {
		t.Errorf("oidc = %+v", cfg.Auth.IdP.OIDC[0])
	}
	// A quoted value stays a string, as it would without a variable.
	pe := parseErr(t, "server:\n  body_limit_bytes: \"${NUM}\"\n", env)
	wantProblems(t, pe.Problems, []Problem{{Line: 2, Path: "server.body_limit_bytes", Msg: `invalid value "${NUM}": must be a whole number`}})
}

func TestExpansionNeverTouchesKeys(t *testing.T) {
	pe := parseErr(t, "${SECTION}:\n  listen: x\nauth:\n  idp:\n    oidc:\n      - required_claims: {\"${K}\": v}\n", map[string]string{"SECTION": "server", "K": "tid"})
	wantProblems(t, pe.Problems, []Problem{{Line: 1, Path: "${SECTION}", Msg: "unknown key; expected one of: server, store, log, scim, auth, reports, apps, policies"}})
	cfg := mustParse(t, "auth:\n  idp:\n    oidc:\n      - required_claims: {\"${K}\": \"${K}\"}\n", map[string]string{"K": "tid"})
	if got := cfg.Auth.IdP.OIDC[0].RequiredClaims; !reflect.DeepEqual(got, map[string]string{"${K}": "tid"}) {
		t.Errorf("required_claims = %v", got)
	}
}

func TestExpansionUnsetVariable(t *testing.T) {
	cfg := mustParse(t, `server:
  listen: ${LISTEN}
auth:
  idp:
    tokens:
      - name: okta
        token: ${SCIM_GATEWAY_TOKEN}
      - name: other
        token: ${EMPTY}${SCIM_GATEWAY_TOKEN}${SCIM_GATEWAY_TOKEN}
`, map[string]string{"EMPTY": ""})
	if cfg.Server.Listen != Default().Server.Listen || cfg.Auth.IdP.Tokens[0].Active() {
		t.Errorf("an unset variable should expand to nothing: %+v", cfg)
	}
	var ve *ValidationError
	if err := cfg.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want a *ValidationError", err)
	}
	wantProblems(t, ve.Problems, []Problem{
		{Path: "server.listen", Msg: "environment variable LISTEN is not set"},
		{Path: "auth.idp.tokens[0].token", Msg: "environment variable SCIM_GATEWAY_TOKEN is not set"},
		{Path: "auth.idp.tokens[1].token", Msg: "environment variable SCIM_GATEWAY_TOKEN is not set"},
		{Path: "auth.idp", Msg: NoIdPCredential},
	})
	if !strings.Contains(ve.Error(), "\n  auth.idp.tokens[0].token: environment variable SCIM_GATEWAY_TOKEN is not set\n") {
		t.Errorf("Error() = %q", ve.Error())
	}
}

func TestExpansionNilEnvMeansNothingIsSet(t *testing.T) {
	cfg, err := Parse([]byte("log:\n  level: ${HOME:-warn}\n  format: ${HOME}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "warn" {
		t.Errorf("level = %q", cfg.Log.Level)
	}
	wantProblems(t, cfg.loadProblems, []Problem{{Path: "log.format", Msg: "environment variable HOME is not set"}})
}

func TestExpansionMalformedReferences(t *testing.T) {
	for _, tc := range []struct{ value, msg string }{
		{"${TOKEN", `unterminated variable reference "${TOKEN": close it with } (write $$ for a literal $)`},
		{"a${}", `invalid variable reference "${}": use ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $$ for a literal $)`},
		{"${1X}", `invalid variable reference "${1X}": use ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $$ for a literal $)`},
		{"${A-b}", `invalid variable reference "${A-b}": use ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $$ for a literal $)`},
		{"${A B}", `invalid variable reference "${A B}": use ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $$ for a literal $)`},
	} {
		pe := parseErr(t, "log:\n  level: \""+tc.value+"\"\n", map[string]string{"A": "x"})
		wantProblems(t, pe.Problems, []Problem{{Line: 2, Path: "log.level", Msg: tc.msg}})
	}
}

func TestAliasesAreExpandedWhereUsed(t *testing.T) {
	cfg := mustParse(t, `auth:
  idp:
    oidc:
      - &entra
        name: entra
        issuer: ${ISSUER}
        audiences: &aud [a, b]
  admin:
    oidc:
      - name: entra-admin
        issuer: ${ISSUER}
        audiences: *aud
`, nil)
	if !reflect.DeepEqual(cfg.Auth.Admin.OIDC[0].Audiences, []string{"a", "b"}) {
		t.Errorf("alias not followed: %+v", cfg.Auth.Admin.OIDC[0])
	}
	wantProblems(t, cfg.loadProblems, []Problem{
		{Path: "auth.idp.oidc[0].issuer", Msg: "environment variable ISSUER is not set"},
		{Path: "auth.admin.oidc[0].issuer", Msg: "environment variable ISSUER is not set"},
	})
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// 200 aliases of an entry holding 200 audiences: a 1.5 KB document that
	// would decode into over 40,000 values.
	const n = 200
	auds := strings.TrimSuffix(strings.Repeat("a, ", n), ", ")
	doc := "auth:\n  idp:\n    oidc: [&o {name: x, audiences: [" + auds + "]}" + strings.Repeat(", *o", n) + "]\n"
	pe := parseErr(t, doc, nil)
	want := fmt.Sprintf("too many values once aliases are expanded (more than %d): use fewer aliases", len(doc)+aliasAllowance)
	if len(pe.Problems) != 1 || pe.Problems[0].Msg != want || pe.Problems[0].Line != 3 {
		t.Errorf("problems = %q, want one on line 3: %s", pe.Problems, want)
	}

	// A few aliases of a small entry are fine.
	doc = "auth:\n  idp:\n    oidc: [&o {name: x, audiences: [" + auds + "]}" + strings.Repeat(", *o", 20) + "]\n"
	mustParse(t, doc, nil)
}
