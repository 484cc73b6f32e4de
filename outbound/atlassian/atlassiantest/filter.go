package atlassiantest

import (
	"encoding/json"
	"strings"
	"unicode"
)

// eqFilter is the one filter form Atlassian supports: attrPath eq value.
// value is a string, or a bool for value-path filters such as
// emails[primary eq true].
type eqFilter struct {
	attr  string // as written
	value any
}

// parseEqFilter parses `attr eq "value"` (operator case-insensitive, string
// value a JSON string literal with escapes; true/false also accepted). Any
// other shape, including and/or/not, other operators, parentheses and
// trailing text, is rejected. It never panics.
func parseEqFilter(s string) (eqFilter, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i <= 0 || !validAttrPath(s[:i]) {
		return eqFilter{}, false
	}
	attr := s[:i]
	rest := strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	j := strings.IndexFunc(rest, unicode.IsSpace)
	if j <= 0 || !strings.EqualFold(rest[:j], "eq") {
		return eqFilter{}, false
	}
	lit := strings.TrimSpace(rest[j:])
	switch lit {
	case "true":
		return eqFilter{attr: attr, value: true}, true
	case "false":
		return eqFilter{attr: attr, value: false}, true
	}
	if lit == "" || lit[0] != '"' {
		return eqFilter{}, false
	}
	var v string
	if err := json.Unmarshal([]byte(lit), &v); err != nil {
		return eqFilter{}, false
	}
	return eqFilter{attr: attr, value: v}, true
}

// validAttrPath accepts SCIM attribute paths: a letter, then letters,
// digits and _ - . : $ (URN-qualified names included).
func validAttrPath(s string) bool {
	for i, r := range s {
		switch {
		case r < unicode.MaxASCII && unicode.IsLetter(r):
		case i > 0 && r < unicode.MaxASCII && (unicode.IsDigit(r) || strings.ContainsRune("_-.:$", r)):
		default:
			return false
		}
	}
	return s != ""
}

// listFilter parses a list-endpoint filter that may only be `attr eq
// "string"` with attr one of allowed (case-insensitive); it returns the
// canonical attribute name from allowed and the value.
func listFilter(s string, allowed ...string) (attr, value string, ok bool) {
	f, ok := parseEqFilter(s)
	if !ok {
		return "", "", false
	}
	v, isString := f.value.(string)
	if !isString {
		return "", "", false
	}
	for _, a := range allowed {
		if strings.EqualFold(f.attr, a) {
			return a, v, true
		}
	}
	return "", "", false
}
