package scim

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCompile compiles filters; Baseline is the filter parser alone
// on the first one, the lookup every IdP sends before a create, which
// Compile answers without the parser (parseSimpleFilter).
func BenchmarkCompile(b *testing.B) {
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseFilterSlow(`userName eq "bjensen@example.com"`); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, expr := range []string{
		`userName eq "bjensen@example.com"`,
		`emails[type eq "work"].value eq "bjensen@example.com"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org") and not (title pr)`,
	} {
		b.Run(expr[:min(len(expr), 30)], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(expr, UserResourceType); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	u := obj(b, sampleUserJSON)
	for _, expr := range []string{
		`userName eq "bjensen@example.com"`,
		`emails[type eq "work"].value eq "bjensen@example.com"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org") and not (title pr)`,
		`meta.lastModified gt "2011-01-01T00:00:00Z"`,
	} {
		f := mustCompile(b, expr, UserResourceType)
		b.Run(expr[:min(len(expr), 30)], func(b *testing.B) {
			for b.Loop() {
				if !f.Match(u) && !strings.Contains(expr, "not") {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkPatchApply(b *testing.B) {
	u := obj(b, sampleUserJSON)
	p := mustPatch(b, ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"n@x.com"},
		{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}},
		{"op":"Replace","path":"active","value":"False"}`))
	b.Run("entra user", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Apply(u, UserResourceType); err != nil {
				b.Fatal(err)
			}
		}
	})
	var members []string
	for i := range 1000 {
		members = append(members, `{"value":"user-`+strconv.Itoa(i)+`"}`)
	}
	g := group(b)
	pm := mustPatch(b, ops(`{"op":"add","path":"members","value":[`+strings.Join(members, ",")+`]}`))
	b.Run("add 1000 members", func(b *testing.B) {
		for b.Loop() {
			if _, err := pm.Apply(g, GroupResourceType); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(sampleUserJSON)
	for b.Loop() {
		if _, err := Decode(strings.NewReader(string(body)), UserResourceType); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAttrPath parses a PATCH path as Entra sends it; Baseline
// is the filter parser alone, which parseAttrPath skips for such paths.
func BenchmarkParseAttrPath(b *testing.B) {
	const path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseAttrPathSlow(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseAttrPath", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseAttrPath(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
