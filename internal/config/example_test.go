package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../../configs/example.yaml"

func readExample(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestExampleValidates(t *testing.T) {
	const token = "example-token-0123456789abcdef"
	cfg, err := Parse(readExample(t), envMap(map[string]string{"SCIM_GATEWAY_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Auth = Auth{
		IdP: Credentials{
			Tokens: []Token{{Name: "okta", Token: token, AllowRawHeader: new(true)}},
			OIDC: []OIDC{{
				Name:           "entra",
				Issuer:         "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
				DiscoveryURL:   "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/.well-known/openid-configuration",
				Audiences:      []string{"8adf8e6e-67b2-4cf2-a259-e3dc5476c621"},
				RequiredClaims: map[string]string{"tid": "00000000-0000-0000-0000-000000000000"},
			}},
		},
		Admin: Credentials{
			Tokens: []Token{{Name: "ops", AllowRawHeader: new(false)}},
			OIDC: []OIDC{{
				Name:           "okta-admins",
				Issuer:         "https://example.okta.com/oauth2/default",
				Audiences:      []string{"api://scim-gateway-admin"},
				RequiredClaims: map[string]string{"groups": "scim-gateway-admins"},
			}},
		},
	}
	bitbucket := DefaultApp()
	bitbucket.Name, bitbucket.Type = "bitbucket", "atlassian"
	bitbucket.BaseURL = "https://api.atlassian.com/scim/directory/00000000-0000-0000-0000-000000000000"
	bitbucket.Actions.Groups = new(false)
	bitbucket.Protected = []string{"breakglass@example.com"}
	bitbucket.Attributes = []AttributeMapping{
		{Target: "userName", Source: "userName", Transform: TransformLowercase},
		{Target: "displayName", Template: "{{name.givenName}} {{name.familyName}}"},
		{Target: "title", Source: "title", Default: "Staff"},
		{Target: `emails[type eq "work"].value`, Source: "emails.value"},
	}
	wiki := DefaultApp()
	wiki.Name, wiki.Type, wiki.BaseURL = "wiki", "scim", "https://wiki.example.com/scim/v2"
	wiki.Actions.Groups = new(true) // the scim profile's default, filled in
	want.Apps = []App{bitbucket, wiki}
	want.Policies = []Policy{
		{Name: "engineers-bitbucket", App: "bitbucket", Groups: []string{"Engineering", "id:2819c223-7f76-453a-919d-413861904646"},
			Filter: `emails[type eq "work"].value ew "@example.com"`},
		{Name: "engineers-wiki", App: "wiki", Groups: []string{"Engineering"},
			PushGroups: []PushGroup{{Group: "Engineering", As: "wiki-engineering"}}},
	}
	want.fromEnv = map[string]bool{"auth.idp.tokens[0].token": true}
	// Every other value in the example is its default, spelt out.
	if !reflect.DeepEqual(cfg, want) {
		got, _ := yaml.Marshal(cfg)
		exp, _ := yaml.Marshal(want)
		t.Errorf("example config:\n%s\nwant:\n%s", got, exp)
	}
	if cfg.Reports.Retention.Std() != 30*24*time.Hour {
		t.Errorf("retention = %v", cfg.Reports.Retention)
	}

	// The admin token is optional, but may not repeat the IdP token.
	cfg, err = Parse(readExample(t), envMap(map[string]string{"SCIM_GATEWAY_TOKEN": token, "SCIM_GATEWAY_ADMIN_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, validationProblems(t, cfg), []Problem{
		{Path: "auth.admin.tokens[0].token", Msg: "same value as auth.idp.tokens[0].token; every token must be different"}})

	// Without the IdP token the example says which variable is missing.
	cfg, err = Parse(readExample(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, validationProblems(t, cfg), []Problem{
		{Path: "auth.idp.tokens[0].token", Msg: "environment variable SCIM_GATEWAY_TOKEN is not set"}})
}

func TestLoad(t *testing.T) {
	t.Setenv("SCIM_GATEWAY_TOKEN", "load-token-0123456789abcdef")
	t.Setenv("SCIM_GATEWAY_ADMIN_TOKEN", "")
	cfg, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Auth.IdP.Tokens[0].Token.Reveal(); got != "load-token-0123456789abcdef" {
		t.Errorf("token = %q", got)
	}

	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
	bad := writeFile(t, dir, "bad.yaml", "server:\n  lisen: x\n")
	var pe *ParseError
	if _, err := Load(bad); !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "config "+bad+": cannot parse") {
		t.Errorf("Load of an unknown key = %v, want a *ParseError naming the file", err)
	}
	invalid := writeFile(t, dir, "invalid.yaml", "log:\n  level: loud\n")
	var ve *ValidationError
	if _, err := Load(invalid); !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Errorf("Load of an invalid config = %v, want a *ValidationError with 2 problems", err)
	}
}

// configPaths lists the key paths of the Config type, with [] for list
// items; a map is a leaf, its keys being the user's.
func configPaths(t reflect.Type, prefix string, out *[]string) {
	for _, f := range fields(t) {
		p := fieldPath(prefix, f.name)
		*out = append(*out, p)
		ft := t.Field(f.index).Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == durationType || isLeaf(ft) || ft.Kind() == reflect.Map:
		case ft.Kind() == reflect.Struct:
			configPaths(ft, p, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			configPaths(ft.Elem(), p+"[]", out)
		}
	}
}

// documentPaths lists the key paths present in a YAML node tree.
func documentPaths(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			documentPaths(c, prefix, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := fieldPath(prefix, n.Content[i].Value)
			out[p] = true
			documentPaths(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			documentPaths(c, prefix+"[]", out)
		}
	}
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(readExample(t), &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	documentPaths(&doc, "", present)
	var want []string
	configPaths(reflect.TypeFor[Config](), "", &want)
	if len(want) < 30 {
		t.Fatalf("only %d paths found in Config: the walk is broken", len(want))
	}
	for _, p := range want {
		if !present[p] {
			t.Errorf("configs/example.yaml does not show %s", p)
		}
	}
}

// Every key in the example carries a comment: above it, at the end of its
// line, or above the list item it starts.
func TestExampleCommentsEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(readExample(t), &doc); err != nil {
		t.Fatal(err)
	}
	var check func(n *yaml.Node, path string)
	check = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				check(c, path+"[]")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := fieldPath(strings.TrimPrefix(path, "[]"), k.Value)
				commented := k.HeadComment != "" || k.LineComment != "" || v.LineComment != "" ||
					(i == 0 && n.HeadComment != "")
				if !commented && !strings.Contains(p, ".required_claims.") {
					t.Errorf("configs/example.yaml: %s (line %d) has no comment", p, k.Line)
				}
				check(v, p)
			}
		}
	}
	check(&doc, "")
}

// Every Secret has an _file twin, and every field decodes: the walker
// panics on a type it does not know, and skips a field without a yaml name.
func TestConfigTypesAreComplete(t *testing.T) {
	var walk func(t2 reflect.Type, path string)
	walk = func(t2 reflect.Type, path string) {
		for t2.Kind() == reflect.Pointer || t2.Kind() == reflect.Slice || t2.Kind() == reflect.Map {
			if t2.Kind() == reflect.Map && t2.Key().Kind() != reflect.String {
				t.Errorf("%s: map keys must be strings", path)
			}
			t2 = t2.Elem()
		}
		if isLeaf(t2) || t2.Kind() != reflect.Struct {
			if !isLeaf(t2) {
				t.Errorf("%s: type %s is not supported by the decoder", path, t2)
			}
			return
		}
		fs := fields(t2)
		exported := 0
		for i := range t2.NumField() {
			if t2.Field(i).IsExported() {
				exported++
			}
		}
		if exported != len(fs) {
			t.Errorf("%s: %d exported fields but %d with a yaml name", path, exported, len(fs))
		}
		for _, f := range fs {
			ft := t2.Field(f.index).Type
			if ft == secretType {
				twin, ok := fieldNamed(fs, f.name+"_file")
				if !ok || t2.Field(twin.index).Type.Kind() != reflect.String {
					t.Errorf("%s.%s is a Secret without a string %s_file twin", path, f.name, f.name)
				}
			}
			walk(ft, fieldPath(path, f.name))
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if !slices.ContainsFunc(fields(reflect.TypeFor[Token]()), func(f field) bool { return f.name == "token_file" }) {
		t.Error("Token has no token_file")
	}
}
