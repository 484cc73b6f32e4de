package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withApps is validConfig with an Atlassian app, a SCIM app and a policy
// for each.
func withApps() *Config {
	c := validConfig()
	bb := DefaultApp()
	bb.Name, bb.Type, bb.BaseURL, bb.Token = "bitbucket", "atlassian", "https://api.atlassian.com/scim/directory/d", "atlassian-api-key"
	wiki := DefaultApp()
	wiki.Name, wiki.Type, wiki.BaseURL = "wiki", "scim", "http://127.0.0.1:9000/scim/v2"
	c.Apps = []App{bb, wiki}
	c.Policies = []Policy{
		{Name: "eng-bb", App: "bitbucket", Groups: []string{"Engineering", "id:g-1"}, Filter: `userName ew "@example.com"`},
		{Name: "eng-wiki", App: "wiki", Groups: []string{"Engineering"}, PushGroups: []PushGroup{{Group: "Engineering"}, {Group: "id:g-2", As: "ops"}}},
	}
	return c
}

func TestParseAppsFillsDefaultsPerItem(t *testing.T) {
	cfg := mustParse(t, `apps:
  - name: a
    type: atlassian
    rate_limit: {burst: 5}
    actions: {delete: true}
  - name: b
    type: scim
    concurrency: 0
    safeguard: {min_population: 0}
  - name: c
    type: scim
    actions:
      groups: ${UNSET_GROUPS:-}
  - name: d
    type: atlassian
    actions: {groups: true}
  - name: e
    type: bogus
`, nil)
	a, b := cfg.Apps[0], cfg.Apps[1]
	want := DefaultApp()
	want.Name, want.Type = "a", "atlassian"
	want.RateLimit.Burst = 5
	want.Actions.Delete = true
	want.Actions.Groups = new(false)
	if !reflect.DeepEqual(a, want) {
		t.Errorf("apps[0] = %+v\nwant %+v", a, want)
	}
	// An explicit zero is kept, for Validate to reject; the other keys of
	// a partly given mapping keep their defaults.
	if b.Concurrency != 0 || b.Safeguard != (Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 0}) {
		t.Errorf("apps[1] = %+v", b)
	}
	// An empty expansion leaves groups unset, so the profile's default
	// applies (true for scim), not false.
	for i, wantGroups := range []bool{false, true, true, true} {
		if got := cfg.Apps[i].Actions.Groups; got == nil || *got != wantGroups || cfg.Apps[i].PushesGroups() != wantGroups {
			t.Errorf("apps[%d].actions.groups = %v, want %v", i, got, wantGroups)
		}
	}
	if cfg.Apps[4].Actions.Groups != nil {
		t.Errorf("an unknown type got a groups default: %v", *cfg.Apps[4].Actions.Groups)
	}
	wantProblems(t, cfg.loadProblems, nil)
}

func TestParseAppTypeErrors(t *testing.T) {
	pe := parseErr(t, `apps:
  - name: a
    concurrency: many
    rate_limit: {requests_per_second: fast}
    actions: {groups: maybe}
    protected: breakglass
    attributes: {target: x}
policies:
  - name: p
    groups: Engineering
    push_groups: [{group: x, name: y}]
`, nil)
	wantProblems(t, pe.Problems, []Problem{
		{Line: 3, Path: "apps[0].concurrency", Msg: `invalid value "many": must be a whole number`},
		{Line: 4, Path: "apps[0].rate_limit.requests_per_second", Msg: `invalid value "fast": must be a number`},
		{Line: 5, Path: "apps[0].actions.groups", Msg: `invalid value "maybe": must be true or false`},
		{Line: 6, Path: "apps[0].protected", Msg: "must be a list, not a single value"},
		{Line: 7, Path: "apps[0].attributes", Msg: "must be a list, not a mapping"},
		{Line: 10, Path: "policies[0].groups", Msg: "must be a list, not a single value"},
		{Line: 11, Path: "policies[0].push_groups[0].name", Msg: "unknown key; expected one of: group, as"},
	})
}

func TestPushesGroupsWithoutParse(t *testing.T) {
	for _, tc := range []struct {
		typ    string
		groups *bool
		want   bool
	}{
		{"atlassian", nil, false},
		{"scim", nil, true},
		{"atlassian", new(true), true},
		{"scim", new(false), false},
	} {
		a := App{Type: tc.typ, Actions: Actions{Groups: tc.groups}}
		if got := a.PushesGroups(); got != tc.want {
			t.Errorf("PushesGroups(%s, %v) = %v, want %v", tc.typ, tc.groups, got, tc.want)
		}
	}
}

func TestAppPaused(t *testing.T) {
	cfg := mustParse(t, "apps:\n  - {name: a, token: \"${TOKEN:-}\"}\n  - {name: b, token: \"${TOKEN2}\"}\n", map[string]string{"TOKEN2": "tok"})
	if !cfg.Apps[0].Paused() || cfg.Apps[1].Paused() {
		t.Errorf("Paused = %v, %v; want true, false", cfg.Apps[0].Paused(), cfg.Apps[1].Paused())
	}
}

func TestAppTokenFromFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tok", "file-api-key\n")
	cfg := mustParse(t, "apps:\n  - {name: a, token_file: \"${D}/tok\"}\n  - {name: b, token: x, token_file: \"${D}/tok\"}\n", map[string]string{"D": dir})
	if cfg.Apps[0].Token.Reveal() != "file-api-key" {
		t.Errorf("token = %q", cfg.Apps[0].Token.Reveal())
	}
	wantProblems(t, cfg.loadProblems, []Problem{{Path: "apps[1]", Msg: "token and token_file are both set; set only one"}})
}

func TestSafeguardExceeded(t *testing.T) {
	s := Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 20}
	for _, tc := range []struct {
		deprov, pop int
		want        bool
	}{
		{0, 100, false},
		{10, 100, false}, // exactly 10% is allowed
		{11, 100, true},
		{3, 20, true},    // 15% of the smallest guarded population
		{19, 19, false},  // below min_population
		{2, 20, false},   // 10%
		{1, 1000, false}, // 0.1%
	} {
		if got := s.Exceeded(tc.deprov, tc.pop); got != tc.want {
			t.Errorf("Exceeded(%d, %d) = %v, want %v", tc.deprov, tc.pop, got, tc.want)
		}
	}
	zero := Safeguard{MaxDeprovisionPercent: 0, MinPopulation: 0}
	if !zero.Exceeded(1, 1) || zero.Exceeded(0, 0) {
		t.Error("a 0% safeguard must refuse any deprovisioning, and only that")
	}
	half := Safeguard{MaxDeprovisionPercent: 0.5}
	if half.Exceeded(1, 200) || !half.Exceeded(2, 200) {
		t.Error("fractional percentages are compared exactly")
	}
}

func TestValidateAcceptsValidApps(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"as built": func(*Config) {},
		"delete":   func(c *Config) { c.Apps[0].Actions.Delete, c.Apps[0].Deprovision = true, DeprovisionDelete },
		"paused":   func(c *Config) { c.Apps[0].Token = "" },
		"drifts":   func(c *Config) { c.Apps[0].Drift, c.Apps[1].Drift = DriftRepush, DriftAccept },
		"limits": func(c *Config) {
			c.Apps[0].RateLimit, c.Apps[0].Concurrency = RateLimit{RequestsPerSecond: 0.5, Burst: 1}, 64
			c.Apps[0].Safeguard = Safeguard{MaxDeprovisionPercent: 100}
		},
		"atlassian with groups on": func(c *Config) {
			c.Apps[0].Actions.Groups = new(true)
			c.Policies[0].PushGroups = []PushGroup{{Group: "Engineering", As: "bb-engineering"}}
		},
		"same group pushed by two policies alike": func(c *Config) {
			c.Policies = append(c.Policies, Policy{Name: "more", App: "wiki", Groups: []string{"x"}, PushGroups: []PushGroup{{Group: "engineering"}}})
		},
		"same target name in two apps": func(c *Config) {
			c.Apps[0].Actions.Groups = new(true)
			c.Policies[0].PushGroups = []PushGroup{{Group: "Engineering"}}
		},
		"attributes": func(c *Config) {
			c.Apps[0].Attributes = []AttributeMapping{
				{Target: "userName", Source: "userName", Transform: TransformLowercase},
				{Target: "displayName", Template: "{{displayName}}", Default: "x", Transform: TransformTrim},
				{Target: "title", Source: "title", Transform: TransformUppercase},
			}
		},
		"protected":   func(c *Config) { c.Apps[0].Protected = []string{"a@example.com", "b@example.com"} },
		"no policies": func(c *Config) { c.Policies = nil },
		"filter with value path": func(c *Config) {
			c.Policies[0].Filter = `emails[type eq "work" and value ew "@example.com"] and not (title eq "Intern")`
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := withApps()
			mutate(c)
			if ps := validationProblems(t, c); ps != nil {
				t.Errorf("problems: %q", ps)
			}
		})
	}
}

func TestValidateAppRules(t *testing.T) {
	app := func(f func(*App)) func(*Config) { return func(c *Config) { f(&c.Apps[0]) } }
	pol := func(f func(*Policy)) func(*Config) { return func(c *Config) { f(&c.Policies[0]) } }
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   []Problem
	}{
		"name missing": {app(func(a *App) { a.Name = "" }), []Problem{
			{"apps[0].name", 0, "required"},
			{"policies[0].app", 0, "names no app: it must be the name of an entry of apps"}}},
		"name upper case": {app(func(a *App) { a.Name = "BitBucket" }), []Problem{
			{"apps[0].name", 0, "must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"},
			{"policies[0].app", 0, "names no app: it must be the name of an entry of apps"}}},
		"name leading dash": {func(c *Config) { c.Apps[0].Name, c.Policies[0].App = "-bb", "-bb" }, []Problem{
			{"apps[0].name", 0, "must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"}}},
		"name too long": {func(c *Config) { c.Apps[0].Name = strings.Repeat("a", 64); c.Policies[0].App = c.Apps[0].Name }, []Problem{
			{"apps[0].name", 0, "must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit"}}},
		"name duplicate": {func(c *Config) { c.Apps[1].Name = "bitbucket" }, []Problem{
			{"apps[1].name", 0, "already used by apps[0]; app names must be unique"},
			{"policies[1].app", 0, "names no app: it must be the name of an entry of apps"}}},
		"type missing":     {app(func(a *App) { a.Type = "" }), []Problem{{"apps[0].type", 0, "required: atlassian or scim"}}},
		"type unknown":     {app(func(a *App) { a.Type = "okta" }), []Problem{{"apps[0].type", 0, "must be atlassian or scim"}}},
		"base_url missing": {app(func(a *App) { a.BaseURL = "" }), []Problem{{"apps[0].base_url", 0, "required"}}},
		"base_url relative": {app(func(a *App) { a.BaseURL = "/scim/v2" }), []Problem{
			{"apps[0].base_url", 0, "must be an absolute http or https URL, e.g. https://api.atlassian.com/scim/directory/<directory-id>"}}},
		"base_url user": {app(func(a *App) { a.BaseURL = "https://u:p@api.atlassian.com/scim" }), []Problem{
			{"apps[0].base_url", 0, "must not contain a user name or password"}}},
		"token with space": {app(func(a *App) { a.Token = "an api key" }), []Problem{
			{"apps[0].token", 0, "must contain only printable ASCII characters, without spaces"}}},
		"deprovision unknown": {app(func(a *App) { a.Deprovision = "suspend" }), []Problem{{"apps[0].deprovision", 0, "must be deactivate or delete"}}},
		"delete without action": {app(func(a *App) { a.Deprovision = DeprovisionDelete }), []Problem{
			{"apps[0].deprovision", 0, "delete requires actions.delete: true"}}},
		"rate limit": {app(func(a *App) { a.RateLimit = RateLimit{RequestsPerSecond: 0, Burst: 0} }), []Problem{
			{"apps[0].rate_limit.requests_per_second", 0, "must be a positive number"},
			{"apps[0].rate_limit.burst", 0, "must be at least 1"}}},
		"rate limit NaN": {app(func(a *App) { a.RateLimit.RequestsPerSecond = math.NaN() }), []Problem{
			{"apps[0].rate_limit.requests_per_second", 0, "must be a positive number"}}},
		"rate limit infinite": {app(func(a *App) { a.RateLimit.RequestsPerSecond = math.Inf(1) }), []Problem{
			{"apps[0].rate_limit.requests_per_second", 0, "must be a positive number"}}},
		"concurrency 0":   {app(func(a *App) { a.Concurrency = 0 }), []Problem{{"apps[0].concurrency", 0, "must be from 1 to 64"}}},
		"concurrency 65":  {app(func(a *App) { a.Concurrency = 65 }), []Problem{{"apps[0].concurrency", 0, "must be from 1 to 64"}}},
		"timeout":         {app(func(a *App) { a.Timeout = 0 }), []Problem{{"apps[0].timeout", 0, "must be positive"}}},
		"protected empty": {app(func(a *App) { a.Protected = []string{"a", " "} }), []Problem{{"apps[0].protected[1]", 0, "must not be empty"}}},
		"protected duplicate": {app(func(a *App) { a.Protected = []string{"Admin@Example.com", "admin@example.com"} }), []Problem{
			{"apps[0].protected[1]", 0, "duplicate userName (they are compared case-insensitively)"}}},
		"safeguard": {app(func(a *App) { a.Safeguard = Safeguard{MaxDeprovisionPercent: 101, MinPopulation: -1} }), []Problem{
			{"apps[0].safeguard.max_deprovision_percent", 0, "must be from 0 to 100"},
			{"apps[0].safeguard.min_population", 0, "must not be negative"}}},
		"safeguard negative": {app(func(a *App) { a.Safeguard.MaxDeprovisionPercent = -1 }), []Problem{
			{"apps[0].safeguard.max_deprovision_percent", 0, "must be from 0 to 100"}}},
		"drift": {app(func(a *App) { a.Drift = "ignore" }), []Problem{{"apps[0].drift", 0, "must be report, repush or accept"}}},
		"attributes": {app(func(a *App) {
			a.Attributes = []AttributeMapping{
				{Source: "userName"},
				{Target: "title"},
				{Target: "displayName", Source: "displayName", Template: "{{userName}}"},
				{Target: "nickName", Source: "nickName", Transform: "capitalize"},
				{Target: " Title ", Source: "title"},
			}
		}), []Problem{
			{"apps[0].attributes[0].target", 0, "required"},
			{"apps[0].attributes[1]", 0, "set source or template"},
			{"apps[0].attributes[2]", 0, "set only one of source and template"},
			{"apps[0].attributes[3].transform", 0, "must be lowercase, uppercase or trim"},
			{"apps[0].attributes[4].target", 0, "already set by apps[0].attributes[1]; map each target once"}}},

		"policy name missing": {pol(func(p *Policy) { p.Name = "" }), []Problem{{"policies[0].name", 0, "required"}}},
		"policy name invalid": {pol(func(p *Policy) { p.Name = "eng bb" }), []Problem{
			{"policies[0].name", 0, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"}}},
		"policy name duplicate": {func(c *Config) { c.Policies[1].Name = "eng-bb" }, []Problem{
			{"policies[1].name", 0, "already used by policies[0]; policy names must be unique"}}},
		"policy app missing": {pol(func(p *Policy) { p.App = "" }), []Problem{{"policies[0].app", 0, "required"}}},
		"policy app unknown": {pol(func(p *Policy) { p.App = "jira" }), []Problem{
			{"policies[0].app", 0, "names no app: it must be the name of an entry of apps"}}},
		"policy without groups": {pol(func(p *Policy) { p.Groups = nil }), []Problem{{"policies[0].groups", 0, "at least one group is required"}}},
		"policy group refs": {pol(func(p *Policy) { p.Groups = []string{"", "id:", "id: ", "Eng", "ENG", "id:a", "id:A", "id:a"} }), []Problem{
			{"policies[0].groups[0]", 0, "must not be empty"},
			{"policies[0].groups[1]", 0, "id: must be followed by a group id"},
			{"policies[0].groups[2]", 0, "id: must be followed by a group id"},
			{"policies[0].groups[4]", 0, "duplicate group"},
			{"policies[0].groups[7]", 0, "duplicate group"}}},
		"filter unknown attribute": {pol(func(p *Policy) { p.Filter = `emial ew "@example.com"` }), []Problem{
			{"policies[0].filter", 0, `not a valid SCIM filter on Users: unknown attribute "emial"`}}},
		"filter syntax": {pol(func(p *Policy) { p.Filter = `userName eq` }), []Problem{
			{"policies[0].filter", 0, `not a valid SCIM filter on Users: invalid filter syntax: "userName eq"`}}},
		"filter type": {pol(func(p *Policy) { p.Filter = `active gt true` }), []Problem{
			{"policies[0].filter", 0, `not a valid SCIM filter on Users: operator "gt" is not supported for boolean attribute "active"`}}},
		"filter blank": {pol(func(p *Policy) { p.Filter = "  " }), []Problem{
			{"policies[0].filter", 0, `not a valid SCIM filter on Users: empty filter`}}},
		"filter of a group": {pol(func(p *Policy) { p.Filter = `members eq "x"` }), []Problem{
			{"policies[0].filter", 0, `not a valid SCIM filter on Users: unknown attribute "members"`}}},
		"push_groups on an app without groups": {pol(func(p *Policy) { p.PushGroups = []PushGroup{{Group: ""}} }), []Problem{
			{"policies[0].push_groups", 0, "the app does not push groups; set actions.groups: true on the app first"},
			{"policies[0].push_groups[0].group", 0, "must not be empty"}}},
		"push_groups switched off": {func(c *Config) { c.Apps[1].Actions.Groups = new(false) }, []Problem{
			{"policies[1].push_groups", 0, "the app does not push groups; set actions.groups: true on the app first"}}},
		"push group refs": {func(c *Config) {
			c.Policies[1].PushGroups = []PushGroup{{Group: "id:"}, {Group: "x", As: " "}}
		}, []Problem{
			{"policies[1].push_groups[0].group", 0, "id: must be followed by a group id"},
			{"policies[1].push_groups[1].as", 0, "must not be blank; leave it out to keep the source group's name"}}},
		"one group under two names": {func(c *Config) {
			c.Policies = append(c.Policies, Policy{Name: "more", App: "wiki", Groups: []string{"x"}, PushGroups: []PushGroup{
				{Group: "ENGINEERING", As: "eng"}, {Group: "id:g-2"}}})
		}, []Problem{
			{"policies[2].push_groups[0]", 0, "policies[1].push_groups[0] pushes the same group under another name; a group has one name in an app"},
			{"policies[2].push_groups[1]", 0, "policies[1].push_groups[1] pushes the same group under another name; a group has one name in an app"}}},
		"two groups under one name": {func(c *Config) {
			c.Policies[1].PushGroups = append(c.Policies[1].PushGroups, PushGroup{Group: "Ops"}, PushGroup{Group: "id:g-3", As: "engineering"})
		}, []Problem{
			{"policies[1].push_groups[2]", 0, "policies[1].push_groups[1] pushes another group under the same name in this app"},
			{"policies[1].push_groups[3]", 0, "policies[1].push_groups[0] pushes another group under the same name in this app"}}},
	} {
		t.Run(name, func(t *testing.T) {
			c := withApps()
			tc.mutate(c)
			wantProblems(t, validationProblems(t, c), tc.want)
		})
	}
}

func TestValidateFilterFromEnvironmentIsNotQuoted(t *testing.T) {
	const secret = "s3cr3t-Value-0123456789"
	doc := `auth:
  idp:
    tokens: [{name: okta, token: "` + idpToken + `"}]
apps:
  - {name: a, type: scim, base_url: "https://a.example.com/scim"}
policies:
  - {name: p, app: a, groups: [g], filter: "${FILTER}"}
  - {name: q, app: a, groups: [g], filter: 'userName eq'}
`
	cfg := mustParse(t, doc, map[string]string{"FILTER": secret})
	err := cfg.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v", err)
	}
	wantProblems(t, ve.Problems, []Problem{
		{Path: "policies[0].filter", Msg: "not a valid SCIM filter on Users (details not shown: the value comes from an environment variable)"},
		{Path: "policies[1].filter", Msg: `not a valid SCIM filter on Users: invalid filter syntax: "userName eq"`},
	})
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the variable's value: %v", err)
	}
}

func TestRedactedWithApps(t *testing.T) {
	c := withApps()
	c.Apps[0].BaseURL = "https://user:hunter2-password@api.atlassian.com/scim"
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"atlassian-api-key", "hunter2-password"} {
		if strings.Contains(text, secret) {
			t.Errorf("Redacted shows %q:\n%s", secret, text)
		}
	}
	if c.Apps[0].BaseURL != "https://user:hunter2-password@api.atlassian.com/scim" {
		t.Error("Redacted changed the config")
	}
	back, err := Parse(out, nil)
	if err != nil {
		t.Fatalf("Parse(Redacted()): %v\n%s", err, out)
	}
	// A paused app stays paused, an app with a token keeps one.
	if !back.Apps[1].Paused() || back.Apps[0].Paused() || back.Apps[0].Token != Redaction {
		t.Errorf("round trip: tokens %q, %q", back.Apps[0].Token.Reveal(), back.Apps[1].Token.Reveal())
	}
	if !reflect.DeepEqual(back.Policies[1], c.Policies[1]) || back.Policies[0].Filter != c.Policies[0].Filter ||
		back.Apps[1].Timeout.Std() != 30*time.Second ||
		*back.Apps[0].Actions.Groups || !*back.Apps[1].Actions.Groups {
		t.Errorf("round trip: got %+v", back)
	}
}
