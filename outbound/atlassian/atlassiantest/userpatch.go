package atlassiantest

import (
	"slices"
	"strings"
)

// Singular string attributes of a user, by folded name.
var userStringAttrs = map[string]func(*User) *string{
	"username":          func(u *User) *string { return &u.UserName },
	"externalid":        func(u *User) *string { return &u.ExternalID },
	"displayname":       func(u *User) *string { return &u.DisplayName },
	"nickname":          func(u *User) *string { return &u.NickName },
	"title":             func(u *User) *string { return &u.Title },
	"preferredlanguage": func(u *User) *string { return &u.PreferredLanguage },
	"timezone":          func(u *User) *string { return &u.Timezone },
	"department":        func(u *User) *string { return &u.Department },
	"organization":      func(u *User) *string { return &u.Organization },
}

var nameSubAttrs = map[string]func(*Name) *string{
	"formatted":       func(n *Name) *string { return &n.Formatted },
	"familyname":      func(n *Name) *string { return &n.FamilyName },
	"givenname":       func(n *Name) *string { return &n.GivenName },
	"middlename":      func(n *Name) *string { return &n.MiddleName },
	"honorificprefix": func(n *Name) *string { return &n.HonorificPrefix },
	"honorificsuffix": func(n *Name) *string { return &n.HonorificSuffix },
}

var enterpriseSubAttrs = map[string]func(*Enterprise) *string{
	"department":   func(e *Enterprise) *string { return &e.Department },
	"organization": func(e *Enterprise) *string { return &e.Organization },
}

// Read-only attributes: a PATCH path naming one fails with mutability; a
// path-less PATCH value containing one ignores it.
var userReadOnly = map[string]bool{"id": true, "meta": true, "groups": true, "schemas": true, "atlassian": true}

// Pseudo attribute names for the extensions.
const (
	attrEnterprise = "enterprise"
	attrAtlassian  = "atlassian"
)

// userPath is a parsed user PATCH path.
type userPath struct {
	raw    string
	attr   string    // folded attribute name, or attrEnterprise / attrAtlassian
	sub    string    // folded sub-attribute, "" for none
	filter *eqFilter // value filter on emails / phoneNumbers
}

// parseUserPath accepts attr, attr.sub, attr[filter], attr[filter].sub,
// core-URN-qualified names, and the enterprise extension URN with an
// optional :sub.
func parseUserPath(p string) (userPath, *scimError) {
	up := userPath{raw: p}
	lp := fold(p)
	if rest, ok := strings.CutPrefix(lp, fold(EnterpriseSchema)); ok {
		up.attr = attrEnterprise
		if rest == "" {
			return up, nil
		}
		if rest[0] != ':' || enterpriseSubAttrs[rest[1:]] == nil {
			return up, errInvalidPath(p)
		}
		up.sub = rest[1:]
		return up, nil
	}
	if strings.HasPrefix(lp, fold(AtlassianSchema)) {
		up.attr = attrAtlassian
		return up, nil
	}
	if rest, ok := strings.CutPrefix(lp, fold(CoreUserSchema)+":"); ok {
		p = p[len(p)-len(rest):]
	}
	if i := strings.IndexByte(p, '['); i >= 0 {
		j := closingBracket(p, i)
		if j < 0 {
			return up, errInvalidPath(up.raw)
		}
		f, ok := parseEqFilter(p[i+1 : j])
		if !ok {
			return up, errInvalidPath(up.raw)
		}
		up.attr, up.filter = fold(p[:i]), &f
		if rest := p[j+1:]; rest != "" {
			if rest[0] != '.' {
				return up, errInvalidPath(up.raw)
			}
			up.sub = fold(rest[1:])
		}
	} else {
		a, sub, _ := strings.Cut(p, ".")
		up.attr, up.sub = fold(a), fold(sub)
	}
	switch up.attr {
	case "emails", "phonenumbers":
		if up.filter != nil {
			fa := fold(up.filter.attr)
			_, isString := up.filter.value.(string)
			_, isBool := up.filter.value.(bool)
			if !((fa == "value" || fa == "type") && isString) && !(fa == "primary" && isBool) {
				return up, errInvalidPath(up.raw)
			}
		}
		if (up.filter == nil && up.sub != "") || (up.sub != "" && up.sub != "value" && up.sub != "type" && up.sub != "primary") {
			return up, errInvalidPath(up.raw)
		}
	case "name":
		if up.filter != nil || (up.sub != "" && nameSubAttrs[up.sub] == nil) {
			return up, errInvalidPath(up.raw)
		}
	default:
		if up.filter != nil || up.sub != "" || (userStringAttrs[up.attr] == nil && up.attr != "active" && !userReadOnly[up.attr]) {
			return up, errInvalidPath(up.raw)
		}
	}
	return up, nil
}

// closingBracket returns the index of the ']' closing the '[' at open,
// skipping quoted strings, or -1.
func closingBracket(s string, open int) int {
	inQuote := false
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ']':
			return i
		}
	}
	return -1
}

// applyUserPatch applies one PATCH operation to u (a working copy).
func applyUserPatch(u *User, op patchOp) *scimError {
	name := fold(op.Op)
	switch name {
	case "add", "replace", "remove":
	default:
		return errInvalidSyntax("unsupported PATCH op %q: want add, replace or remove", op.Op)
	}
	if strings.TrimSpace(op.Path) == "" {
		return applyUserPathless(u, name, op.Value)
	}
	up, e := parseUserPath(strings.TrimSpace(op.Path))
	if e != nil {
		return e
	}
	return applyUserOp(u, name, up, op.Value)
}

// applyUserPathless handles add/replace with an object value whose keys are
// attribute paths (dotted and URN keys included); keys are applied in
// sorted order so "name" comes before "name.givenName".
func applyUserPathless(u *User, op string, v any) *scimError {
	if op == "remove" {
		return errNoTarget("a remove operation needs a path")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errInvalidValue("a PATCH operation without path needs an object value")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		up, e := parseUserPath(k)
		if e != nil {
			return e
		}
		if userReadOnly[up.attr] {
			continue
		}
		if e := applyUserOp(u, op, up, obj[k]); e != nil {
			return e
		}
	}
	return nil
}

func applyUserOp(u *User, op string, up userPath, v any) *scimError {
	var e *scimError
	switch up.attr {
	case "active":
		if op == "remove" {
			u.Active = true // back to the documented default
			return nil
		}
		b, ok := v.(bool)
		if !ok {
			return errInvalidValue("active must be a boolean")
		}
		u.Active = b
	case "name":
		if up.sub != "" {
			return setString(nameSubAttrs[up.sub](&u.Name), op, v, up.raw)
		}
		if op == "remove" {
			u.Name = Name{}
			return nil
		}
		return mergeComplex(&u.Name, nameSubAttrs, v, up.raw)
	case attrEnterprise:
		if up.sub != "" {
			return setString(enterpriseSubAttrs[up.sub](&u.Enterprise), op, v, up.raw)
		}
		if op == "remove" {
			u.Enterprise = Enterprise{}
			return nil
		}
		return mergeComplex(&u.Enterprise, enterpriseSubAttrs, v, up.raw)
	case "emails":
		u.Emails, e = patchMulti(u.Emails, op, up, v)
	case "phonenumbers":
		u.PhoneNumbers, e = patchMulti(u.PhoneNumbers, op, up, v)
	default:
		if userReadOnly[up.attr] {
			return errMutability("attribute %q is read-only", up.raw)
		}
		return setString(userStringAttrs[up.attr](u), op, v, up.raw)
	}
	return e
}

func setString(dst *string, op string, v any, path string) *scimError {
	if op == "remove" || v == nil {
		*dst = ""
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return errInvalidValue("%s must be a string", path)
	}
	*dst = s
	return nil
}

// mergeComplex sets the sub-attributes present in v (an object) on dst;
// others are left unchanged (RFC 7644 §3.5.2.3).
func mergeComplex[T any](dst *T, subs map[string]func(*T) *string, v any, path string) *scimError {
	obj, ok := v.(map[string]any)
	if !ok {
		return errInvalidValue("%s needs an object value", path)
	}
	for k, x := range obj {
		f := subs[fold(k)]
		if f == nil {
			return errInvalidPath(path + "." + k)
		}
		if e := setString(f(dst), "replace", x, path+"."+k); e != nil {
			return e
		}
	}
	return nil
}

// patchMulti applies an operation to emails or phoneNumbers.
func patchMulti(list []MultiValue, op string, up userPath, v any) ([]MultiValue, *scimError) {
	if up.filter == nil {
		switch op {
		case "remove":
			return nil, nil
		case "replace":
			items, e := multiValues(v, up.raw)
			if e != nil {
				return nil, e
			}
			return items, nil
		}
		items, e := multiValues(v, up.raw)
		if e != nil {
			return nil, e
		}
		for _, it := range items {
			i := slices.IndexFunc(list, func(m MultiValue) bool { return strings.EqualFold(m.Value, it.Value) })
			if i < 0 {
				list = append(list, it)
				i = len(list) - 1
			} else {
				list[i] = it
			}
			if it.Primary {
				onlyPrimary(list, i)
			}
		}
		return list, nil
	}
	var idx []int
	for i := range list {
		if matchMulti(&list[i], up.filter) {
			idx = append(idx, i)
		}
	}
	if op == "remove" {
		switch up.sub {
		case "", "value":
			out := list[:0:0]
			for i, m := range list {
				if !slices.Contains(idx, i) {
					out = append(out, m)
				}
			}
			return out, nil
		case "type":
			for _, i := range idx {
				list[i].Type = ""
			}
		case "primary":
			for _, i := range idx {
				list[i].Primary = false
			}
		}
		return list, nil
	}
	if len(idx) == 0 {
		// add or replace through a filter that matches nothing creates
		// the element the filter describes (what Entra's mappings expect).
		var m MultiValue
		switch fold(up.filter.attr) {
		case "value":
			m.Value = up.filter.value.(string)
		case "type":
			m.Type = up.filter.value.(string)
		case "primary":
			m.Primary = up.filter.value.(bool)
		}
		list = append(list, m)
		idx = []int{len(list) - 1}
	}
	for _, i := range idx {
		var e *scimError
		if up.sub == "" {
			e = mergeMulti(&list[i], v, up.raw)
		} else {
			e = setMultiSub(&list[i], up.sub, v, up.raw)
		}
		if e != nil {
			return nil, e
		}
		if list[i].Primary {
			onlyPrimary(list, i)
		}
	}
	return list, nil
}

func matchMulti(m *MultiValue, f *eqFilter) bool {
	switch fold(f.attr) {
	case "value":
		return strings.EqualFold(m.Value, f.value.(string))
	case "type":
		return strings.EqualFold(m.Type, f.value.(string))
	case "primary":
		return m.Primary == f.value.(bool)
	}
	return false
}

func onlyPrimary(list []MultiValue, keep int) {
	for i := range list {
		if i != keep {
			list[i].Primary = false
		}
	}
}

// multiValues decodes an array of {value,type,primary} objects (or a single
// object); other sub-attributes (display, ...) are ignored.
func multiValues(v any, path string) ([]MultiValue, *scimError) {
	var elems []any
	switch x := v.(type) {
	case []any:
		elems = x
	case map[string]any:
		elems = []any{x}
	default:
		return nil, errInvalidValue("%s needs an array of objects", path)
	}
	out := make([]MultiValue, 0, len(elems))
	for _, el := range elems {
		var m MultiValue
		if e := mergeMulti(&m, el, path); e != nil {
			return nil, e
		}
		if m.Value == "" {
			return nil, errInvalidValue("%s: every element needs a value", path)
		}
		out = append(out, m)
	}
	return out, nil
}

func mergeMulti(m *MultiValue, v any, path string) *scimError {
	obj, ok := v.(map[string]any)
	if !ok {
		return errInvalidValue("%s needs an object value", path)
	}
	for k, x := range obj {
		switch sub := fold(k); sub {
		case "value", "type", "primary":
			if e := setMultiSub(m, sub, x, path); e != nil {
				return e
			}
		}
	}
	return nil
}

func setMultiSub(m *MultiValue, sub string, v any, path string) *scimError {
	switch sub {
	case "value":
		return setString(&m.Value, "replace", v, path)
	case "type":
		return setString(&m.Type, "replace", v, path)
	}
	b, ok := v.(bool)
	if !ok {
		return errInvalidValue("%s: primary must be a boolean", path)
	}
	m.Primary = b
	return nil
}
