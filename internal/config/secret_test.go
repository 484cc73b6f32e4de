package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const testSecret = "s3cr3t-Value-0123456789"

// assertNoSecret fails the test if out contains value.
func assertNoSecret(t *testing.T, what, out, value string) {
	t.Helper()
	if strings.Contains(out, value) {
		t.Errorf("%s shows the secret: %s", what, out)
	}
	// encoding/json escapes < and > by default.
	out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(out)
	if !strings.Contains(out, Redaction) {
		t.Errorf("%s does not show %s: %s", what, Redaction, out)
	}
}

func TestSecretReveal(t *testing.T) {
	if got := Secret(testSecret).Reveal(); got != testSecret {
		t.Fatalf("Reveal() = %q, want %q", got, testSecret)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret(testSecret)
	cfg := Default()
	cfg.Auth.IdP.Tokens = []Token{{Name: "okta", Token: s}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		assertNoSecret(t, "fmt "+verb+" of Secret", fmt.Sprintf(verb, s), testSecret)
		assertNoSecret(t, "fmt "+verb+" of *Secret", fmt.Sprintf(verb, &s), testSecret)
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		assertNoSecret(t, "fmt "+verb+" of Config", fmt.Sprintf(verb, cfg), testSecret)
		assertNoSecret(t, "fmt "+verb+" of Token", fmt.Sprintf(verb, cfg.Auth.IdP.Tokens[0]), testSecret)
	}
	assertNoSecret(t, "fmt.Sprint", fmt.Sprint(s), testSecret)

	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "json.Marshal", string(j), testSecret)

	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "yaml.Marshal", string(y), testSecret)

	text, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "MarshalText", string(text), testSecret)

	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("loaded", "token", s, slog.Any("ptr", &s), "config", cfg, "tokens", cfg.Auth.IdP.Tokens)
		assertNoSecret(t, "slog "+name+" handler", buf.String(), testSecret)
	}
}
