package mapping

import (
	"encoding/json"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
)

// FuzzCompileAttribute feeds arbitrary targets, sources and templates to
// the compiler: it must never panic, a compiled path must render as text
// that compiles to the same path, and a compiled rule must apply to any
// document without panicking and produce JSON-encodable output.
func FuzzCompileAttribute(f *testing.F) {
	for _, seed := range [][3]string{
		{"userName", "userName", ""},
		{"displayName", "", "{{name.givenName}} {{name.familyName}}"},
		{`emails[type eq "work"].value`, "emails.value", ""},
		{`phoneNumbers[type eq "mobile"].value`, `phoneNumbers[type eq "mobile"].value`, ""},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "department", ""},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "", "{{urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value}}"},
		{"phoneNumbers", "phoneNumbers", ""},
		{"name", "name", ""},
		{`emails[type eq "w\"o]rk"].display`, "", "{{ emails[type eq \"x\"].value }}-{{meta.created}}"},
		{"title", "", "{{"},
		{"title", "", "}}{{title}}"},
		{`emails[ type eq "a" ]`, `emails[type eq "\u00e9"].value`, ""},
		{"x509Certificates[type eq \"a\"].value", "active", ""},
		{"nickName", "", "{{{{}}}}"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	docs := []map[string]any{
		doc(f, richUser),
		{"emails": "not-a-list", "name": []any{"x"}, "phoneNumbers": []any{1, nil, map[string]any{"type": 5}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "flat", "userName": json.Number("12")},
		{},
	}
	f.Fuzz(func(t *testing.T, target, source, tmpl string) {
		for _, s := range []string{target, source} {
			r, err := parseRef(s)
			if err != nil {
				continue
			}
			again, err := parseRef(r.String())
			if err != nil || !again.same(r) {
				t.Fatalf("parseRef(%q).String() = %q, which compiles to %v, %v", s, r.String(), again, err)
			}
		}
		if tp, err := parseTemplate(tmpl); err == nil {
			for _, d := range docs {
				if v, ok := tp.produce(d); ok {
					if _, isString := v.(string); !isString {
						t.Fatalf("template %q produced %#v", tmpl, v)
					}
				}
			}
		}
		r, ferr := compileRule(config.AttributeMapping{Target: target, Source: source, Template: tmpl})
		if ferr != nil {
			return
		}
		for _, d := range docs {
			out := map[string]any{}
			r.apply(d, out)
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("rule %q <- %q / %q produced %#v: %v", target, source, tmpl, out, err)
			}
		}
	})
}
