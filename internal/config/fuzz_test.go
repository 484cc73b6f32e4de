package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// fuzzSecret is what every environment variable holds in FuzzParse, except
// those whose name starts with UNSET.
const fuzzSecret = "fz-SECRET-q7Wm2Kx9Lp4Vb8Nc"

func fuzzEnv(name string) (string, bool) {
	if strings.HasPrefix(name, "UNSET") {
		return "", false
	}
	return fuzzSecret, true
}

// leaksSecret reports whether text shows any 8-byte piece of fuzzSecret
// that the input itself does not contain.
func leaksSecret(text string, input []byte) bool {
	const piece = 8
	for i := 0; i+piece <= len(fuzzSecret); i++ {
		w := fuzzSecret[i : i+piece]
		if strings.Contains(text, w) && !bytes.Contains(input, []byte(w)) {
			return true
		}
	}
	return false
}

// stringsOf calls fn for every string in v, saying whether it is a Secret.
func stringsOf(v reflect.Value, fn func(s string, secret bool)) {
	switch v.Kind() {
	case reflect.String:
		fn(v.String(), v.Type() == secretType)
	case reflect.Pointer:
		if !v.IsNil() {
			stringsOf(v.Elem(), fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			stringsOf(v.Index(i), fn)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			stringsOf(it.Key(), fn)
			stringsOf(it.Value(), fn)
		}
	case reflect.Struct:
		for _, f := range fields(v.Type()) {
			stringsOf(v.Field(f.index), fn)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(readExample(f))
	for _, seed := range []string{
		"",
		"server: {listen: \"${X}\"}\n",
		"auth:\n  idp:\n    tokens:\n      - name: a\n        token: ${TOKEN}\n        token_file: ${UNSET_FILE:-}\n",
		"auth:\n  idp:\n    oidc:\n      - name: e\n        issuer: ${ISSUER}\n        audiences: [\"${AUD}\"]\n        required_claims: {tid: \"${TID}\"}\n",
		"server:\n  body_limit_bytes: ${LIMIT}\n  read_timeout: ${RT}\nstore:\n  url: redis://:${PW}@h:${PORT}/${DB}\n",
		"log:\n  level: $${X} $ ${UNSET_A} ${UNSET_B:-info}\n  format: '${'\n",
		"a: &a {level: info}\nlog: *a\n",
		"log:\n  <<: {level: info}\n",
		"auth: {idp: {oidc: [&o {name: x, audiences: [a]}, *o, *o]}}\n",
		"reports:\n  retention: 30d\n  max_entries: 1e3\n",
		"scim: {max_results: 0x10, default_count: -1, idempotency_ttl: 1d1h}\n",
		"--- \nlog: {}\n---\n",
		"server:\n  listen: |\n    ${X}\n",
		"apps:\n  - {name: a, type: scim, base_url: \"${URL}\", token: ${T}, actions: {groups: ${UNSET_G:-}}}\npolicies:\n  - {name: p, app: a, groups: [g], filter: \"${F}\", push_groups: [{group: g, as: \"${A}\"}]}\n",
		"apps: [~, {rate_limit: {requests_per_second: .nan, burst: ${B}}, safeguard: {max_deprovision_percent: 1e2}}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, fuzzEnv)
		if err != nil {
			if leaksSecret(err.Error(), data) {
				t.Fatalf("Parse error shows the secret: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil && leaksSecret(err.Error(), data) {
			t.Fatalf("Validate error shows the secret: %v", err)
		}

		out, err := cfg.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		// No Secret value shows, unless a plain field holds it too.
		var secrets, plain []string
		stringsOf(reflect.ValueOf(cfg).Elem(), func(s string, secret bool) {
			if secret {
				secrets = append(secrets, s)
			} else {
				plain = append(plain, s)
			}
		})
		for _, s := range secrets {
			if len(s) < 8 || strings.Contains(strings.Join(plain, "\n"), s) {
				continue
			}
			if bytes.Contains(out, []byte(s)) {
				t.Fatalf("Redacted shows a secret:\n%s", out)
			}
		}
		// The output is a configuration that gives itself again.
		again, err := Parse(out, fuzzEnv)
		if err != nil {
			t.Fatalf("Parse(Redacted()): %v\n%s", err, out)
		}
		out2, err := again.Redacted()
		if err != nil {
			t.Fatalf("Redacted of the round trip: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("Redacted does not round-trip:\n%s\n---\n%s", out, out2)
		}
	})
}
