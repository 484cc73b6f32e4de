package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	c := validConfig()
	c.Auth.Admin.Tokens = []Token{{Name: "ops", Token: adminToken, TokenFile: "/run/secrets/admin"}}
	c.Store.URL = "rediss://default:hunter2-password@redis.example.com:6380/1"
	c.Server.BaseURL = "https://gw.example.com/$prefix"
	c.Auth.IdP.OIDC = []OIDC{entra()}
	c.Auth.IdP.OIDC[0].RequiredClaims = map[string]string{"$k": "v$"}
	original := *c
	original.Auth.IdP.OIDC = append([]OIDC(nil), c.Auth.IdP.OIDC...)

	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{idpToken, adminToken, "hunter2-password"} {
		if strings.Contains(text, secret) {
			t.Errorf("Redacted shows %q:\n%s", secret, text)
		}
	}
	for _, want := range []string{
		"token: <secret>",
		"token_file: /run/secrets/admin",
		"url: rediss://default:xxxxx@redis.example.com:6380/1",
		"base_url: https://gw.example.com/$$prefix",
		"$k: v$$", // keys are never expanded, so never escaped
		"retention: 720h",
		"read_timeout: 30s",
		"write_timeout: 1m",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, text)
		}
	}
	if !reflect.DeepEqual(*c, original) {
		t.Error("Redacted changed the config")
	}

	// The output is a configuration that parses to the same values, the
	// secrets aside.
	back, err := Parse(out, nil)
	if err != nil {
		t.Fatalf("Parse(Redacted()): %v\n%s", err, out)
	}
	if back.Server != c.Server || back.Auth.IdP.Tokens[0].Token != Redaction ||
		!reflect.DeepEqual(back.Auth.IdP.OIDC[0].RequiredClaims, c.Auth.IdP.OIDC[0].RequiredClaims) {
		t.Errorf("round trip: got %+v", back)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"bolt://data/scim-gateway.db":       "bolt://data/scim-gateway.db",
		"redis://localhost:6379/0":          "redis://localhost:6379/0",
		"redis://:pw@localhost:6379/0":      "redis://:xxxxx@localhost:6379/0",
		"redis://user@localhost":            "redis://user@localhost",
		"redis://u:p%zz@localhost:port":     "<unparsable URL hidden: it may contain a password>",
		"https://sts.windows.net/t/":        "https://sts.windows.net/t/",
		"https://a b/":                      "https://a b/",
		"https://user:secret@issuer.local/": "https://user:xxxxx@issuer.local/",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
