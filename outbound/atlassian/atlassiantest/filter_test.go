package atlassiantest

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseEqFilter(t *testing.T) {
	cases := []struct {
		in   string
		ok   bool
		attr string
		val  any
	}{
		{`userName eq "bjensen"`, true, "userName", "bjensen"},
		{`  userName   EQ   "a b"  `, true, "userName", "a b"},
		{`userName eq "quote \" and \\ slash"`, true, "userName", `quote " and \ slash`},
		{`userName eq "\u00e9"`, true, "userName", "é"},
		{`primary eq true`, true, "primary", true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, true, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "x"},
		{`userName eq "a" and x eq "b"`, false, "", nil},
		{`userName eq "a" "b"`, false, "", nil},
		{`userName ne "a"`, false, "", nil},
		{`userName pr`, false, "", nil},
		{`userName eq`, false, "", nil},
		{`userName eq null`, false, "", nil},
		{`userName eq 1`, false, "", nil},
		{`(userName eq "a")`, false, "", nil},
		{`1name eq "a"`, false, "", nil},
		{`emails[type eq "work"] eq "a"`, false, "", nil},
		{``, false, "", nil},
	}
	for _, c := range cases {
		f, ok := parseEqFilter(c.in)
		if ok != c.ok || (ok && (f.attr != c.attr || !reflect.DeepEqual(f.value, c.val))) {
			t.Errorf("parseEqFilter(%q) = %+v, %v", c.in, f, ok)
		}
	}
}

// FuzzParseEqFilter: never panics, and an accepted filter renders back to
// one that parses to the same value.
func FuzzParseEqFilter(f *testing.F) {
	for _, s := range []string{`userName eq "bjensen"`, `externalId eq "a\"b"`, `title pr`,
		`userType eq "Employee" and (emails co "example.com")`, `emails[type eq "work"]`, `primary eq true`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, ok := parseEqFilter(s)
		if !ok {
			return
		}
		lit, _ := json.Marshal(fl.value)
		again, ok := parseEqFilter(fl.attr + " eq " + string(lit))
		if !ok || !reflect.DeepEqual(again, fl) {
			t.Fatalf("%q parsed to %+v, re-rendered to %+v (%v)", s, fl, again, ok)
		}
	})
}

// FuzzPatchPaths: path parsing and application never panic.
func FuzzPatchPaths(f *testing.F) {
	for _, s := range []string{`name.givenName`, `emails[type eq "work"].value`, `emails[value eq "a]b"]`,
		EnterpriseSchema + ":department", `members[value eq "x"]`, `emails[`, `]`, `phoneNumbers[primary eq true].type`} {
		f.Add(s, "replace")
	}
	f.Fuzz(func(t *testing.T, path, opName string) {
		u := User{UserName: "a", Emails: []MultiValue{{Value: "a@example.com", Type: "work", Primary: true}}}
		for _, v := range []any{"x", true, map[string]any{"value": "b@example.com"}, []any{map[string]any{"value": "c@example.com"}}, nil} {
			c := u.clone()
			_ = applyUserPatch(&c, patchOp{Op: opName, Path: path, Value: v})
		}
	})
}
