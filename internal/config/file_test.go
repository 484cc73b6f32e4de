package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	unix := writeFile(t, dir, "unix", "file-token-0123456789\n")
	windows := writeFile(t, dir, "windows", "file-token-abcdefghij\r\n\r\n")
	bare := writeFile(t, dir, "bare", "file-token-ABCDEFGHIJ")
	cfg := mustParse(t, `auth:
  idp:
    tokens:
      - {name: unix, token_file: "${DIR}/unix"}
      - {name: windows, token_file: "`+windows+`"}
      - {name: bare, token_file: "`+bare+`"}
`, map[string]string{"DIR": dir})
	want := []string{"file-token-0123456789", "file-token-abcdefghij", "file-token-ABCDEFGHIJ"}
	for i, tok := range cfg.Auth.IdP.Tokens {
		if tok.Token.Reveal() != want[i] {
			t.Errorf("tokens[%d] = %q, want %q", i, tok.Token.Reveal(), want[i])
		}
	}
	if cfg.Auth.IdP.Tokens[0].TokenFile != unix {
		t.Errorf("token_file = %q, want it kept as %q", cfg.Auth.IdP.Tokens[0].TokenFile, unix)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	const contents = "this-is-the-secret-content"
	writeFile(t, dir, "ok", contents+"\n")
	writeFile(t, dir, "empty", "\n\n")
	writeFile(t, dir, "big", strings.Repeat("x", maxSecretFile+1))
	writeFile(t, dir, "unreadable", contents)
	if err := os.Chmod(filepath.Join(dir, "unreadable"), 0); err != nil {
		t.Fatal(err)
	}
	readable := os.Geteuid() == 0 // root reads whatever the mode says
	doc := `auth:
  idp:
    tokens:
      - {name: both, token: ` + contents + `, token_file: "${D}/ok"}
      - {name: missing, token_file: "${D}/missing"}
      - {name: directory, token_file: "${D}"}
      - {name: empty, token_file: "${D}/empty"}
      - {name: big, token_file: "${D}/big"}
      - {name: unreadable, token_file: "${D}/unreadable"}
`
	cfg := mustParse(t, doc, map[string]string{"D": dir})
	want := []Problem{
		{Path: "auth.idp.tokens[0]", Msg: "token and token_file are both set; set only one"},
		{Path: "auth.idp.tokens[1].token_file", Msg: "cannot read the file: no such file or directory"},
		{Path: "auth.idp.tokens[2].token_file", Msg: "not a regular file"},
		{Path: "auth.idp.tokens[3].token_file", Msg: "file is empty"},
		{Path: "auth.idp.tokens[4].token_file", Msg: "file is larger than 64 KiB"},
	}
	if !readable {
		want = append(want, Problem{Path: "auth.idp.tokens[5].token_file", Msg: "cannot read the file: permission denied"})
	}
	wantProblems(t, cfg.loadProblems, want)
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, p := range want {
		if !strings.Contains(err.Error(), p.String()) {
			t.Errorf("Validate() does not report %q:\n%v", p, err)
		}
	}
	if strings.Contains(err.Error(), contents) || strings.Contains(err.Error(), dir) {
		t.Errorf("Validate() shows a file's contents or name:\n%v", err)
	}
}

// Secrets in sections to come (apps keyed by name, say) are read without new
// code: the walk finds every Secret with an _file twin.
func TestReadSecretFilesWalksMapsAndPointers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "k", "from-file\n")
	type app struct {
		APIKey     Secret `yaml:"api_key"`
		APIKeyFile string `yaml:"api_key_file"`
		Other      Secret `yaml:"other"` // no twin: left alone
	}
	type tree struct {
		Apps map[string]app `yaml:"apps"`
		Main *app           `yaml:"main"`
		None *app           `yaml:"none"`
		Tags map[string]string
	}
	v := tree{
		Apps: map[string]app{
			"b": {APIKeyFile: filepath.Join(dir, "k")},
			"a": {APIKeyFile: filepath.Join(dir, "nope")},
		},
		Main: &app{APIKeyFile: filepath.Join(dir, "k"), Other: "x"},
	}
	var problems []Problem
	readSecretFiles(reflect.ValueOf(&v).Elem(), "", &problems)
	if v.Apps["b"].APIKey != "from-file" || v.Main.APIKey != "from-file" || v.Main.Other != "x" {
		t.Errorf("secrets not read: %#v %#v", v.Apps, v.Main)
	}
	wantProblems(t, problems, []Problem{{Path: "apps.a.api_key_file", Msg: "cannot read the file: no such file or directory"}})
}
