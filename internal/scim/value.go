package scim

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// normalizeValue checks and converts an input value for attribute a (the
// tolerant input rules of Decode and PATCH, see doc.go). It returns
// present=false for values that mean "unassigned" (null; an empty complex
// value). A multi-valued attribute always yields a []any (a single value is
// wrapped), possibly empty.
func normalizeValue(a *Attribute, v any, path string) (out any, present bool, err error) {
	if v == nil {
		return nil, false, nil
	}
	if !a.MultiValued {
		// Tolerate a one-element array for a single value (Entra's
		// legacy manager example sends [{"value": id}]).
		if list, isList := v.([]any); isList {
			switch len(list) {
			case 0:
				return nil, false, nil
			case 1:
				v = list[0]
			default:
				return nil, false, ErrInvalidValue.Detailf("%s: expected a single value, got an array of %d", path, len(list))
			}
		}
		return normalizeSingle(a, v, path)
	}
	in, isArr := v.([]any)
	if !isArr {
		in = []any{v}
	}
	elems := make([]any, 0, len(in))
	for i, e := range in {
		ev, ok, err := normalizeSingle(a, e, path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, false, err
		}
		if ok {
			elems = append(elems, ev)
		}
	}
	if countPrimary(a, elems) > 1 {
		return nil, false, ErrInvalidValue.Detailf("%s: at most one value may be primary", path)
	}
	return elems, true, nil
}

// normalizeSingle normalizes one value (an element of a multi-valued
// attribute, or the value of a single-valued one).
func normalizeSingle(a *Attribute, v any, path string) (any, bool, error) {
	if v == nil {
		return nil, false, nil
	}
	switch a.Type {
	case TypeString, TypeReference:
		if s, ok := v.(string); ok {
			return s, true, nil
		}
		return nil, false, typeError(a, v, path)
	case TypeBinary:
		s, ok := v.(string)
		if !ok {
			return nil, false, typeError(a, v, path)
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			if _, err := base64.RawStdEncoding.DecodeString(s); err != nil {
				return nil, false, ErrInvalidValue.Detailf("%s: not base64-encoded binary data", path)
			}
		}
		return s, true, nil
	case TypeBoolean:
		if b, ok := toBool(v); ok {
			return b, true, nil
		}
		return nil, false, typeError(a, v, path)
	case TypeInteger:
		n, ok := toNumber(v)
		if !ok {
			return nil, false, typeError(a, v, path)
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			return nil, false, ErrInvalidValue.Detailf("%s: %s is not an integer", path, n)
		}
		return n, true, nil
	case TypeDecimal:
		n, ok := toNumber(v)
		if !ok {
			return nil, false, typeError(a, v, path)
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false, ErrInvalidValue.Detailf("%s: %s is not a decimal", path, n)
		}
		return n, true, nil
	case TypeDateTime:
		switch t := v.(type) {
		case string:
			if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
				return nil, false, ErrInvalidValue.Detailf("%s: %q is not an RFC 3339 dateTime", path, t)
			}
			return t, true, nil
		case time.Time:
			return t.Format(time.RFC3339Nano), true, nil
		}
		return nil, false, typeError(a, v, path)
	case TypeComplex:
		m, ok := v.(map[string]any)
		if !ok {
			// A bare value of a complex attribute with a "value"
			// sub-attribute is that sub-attribute: Entra sends
			// manager as a plain id, IdPs send members as ids.
			vs := a.Sub("value")
			if vs == nil {
				return nil, false, typeError(a, v, path)
			}
			if _, isList := v.([]any); isList {
				return nil, false, typeError(a, v, path)
			}
			if s, isStr := v.(string); isStr && s == "" {
				return nil, false, nil
			}
			m = map[string]any{vs.Name: v}
		}
		return normalizeComplex(a, m, path)
	}
	return nil, false, ErrInvalidValue.Detailf("%s: unsupported attribute type %q", path, a.Type)
}

// normalizeComplex keeps the known, writable sub-attributes of m under
// their canonical names. Unknown and readOnly sub-attributes are dropped.
func normalizeComplex(a *Attribute, m map[string]any, path string) (any, bool, error) {
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		sa := a.Sub(k)
		if sa == nil || sa.Mutability == MutabilityReadOnly {
			continue
		}
		nv, ok, err := normalizeValue(sa, m[k], path+"."+sa.Name)
		if err != nil {
			return nil, false, err
		}
		if ok {
			out[sa.Name] = nv
		}
	}
	if len(out) == 0 && !isPresent(m) {
		return nil, false, nil
	}
	for _, sa := range a.SubAttributes {
		if sa.Required && !isPresent(out[sa.Name]) {
			return nil, false, ErrInvalidValue.Detailf("%s: sub-attribute %q is required", path, sa.Name)
		}
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	return out, true, nil
}

func typeError(a *Attribute, v any, path string) *Error {
	article := "a"
	if a.Type == TypeInteger {
		article = "an"
	}
	return ErrInvalidValue.Detailf("%s: expected %s %s, got %s", path, article, a.Type, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

// toBool accepts booleans and the strings "true"/"false" in any case
// (Entra ID sends "True" and "False").
func toBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch {
		case strings.EqualFold(t, "true"):
			return true, true
		case strings.EqualFold(t, "false"):
			return false, true
		}
	}
	return false, false
}

// toNumber converts JSON numbers (and Go numbers in caller-built maps) to
// json.Number.
func toNumber(v any) (json.Number, bool) {
	switch t := v.(type) {
	case json.Number:
		return t, true
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return "", false
		}
		return json.Number(strconv.FormatFloat(t, 'g', -1, 64)), true
	case float32:
		return toNumber(float64(t))
	case int:
		return json.Number(strconv.Itoa(t)), true
	case int64:
		return json.Number(strconv.FormatInt(t, 10)), true
	case int32:
		return json.Number(strconv.FormatInt(int64(t), 10)), true
	case uint:
		return json.Number(strconv.FormatUint(uint64(t), 10)), true
	case uint64:
		return json.Number(strconv.FormatUint(t, 10)), true
	case uint32:
		return json.Number(strconv.FormatUint(uint64(t), 10)), true
	}
	return "", false
}

// numeric parses a number for comparison: as an int64 when it is one, and
// always as a float64.
func numeric(v any) (i int64, isInt bool, f float64, ok bool) {
	n, ok := toNumber(v)
	if !ok {
		return 0, false, 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true, float64(i), true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, false, 0, false
	}
	return 0, false, f, true
}

// countPrimary counts the elements of a multi-valued complex attribute
// whose "primary" sub-attribute is true.
func countPrimary(a *Attribute, elems []any) int {
	if a.Type != TypeComplex || a.Sub("primary") == nil {
		return 0
	}
	n := 0
	for _, e := range elems {
		if isPrimary(e) {
			n++
		}
	}
	return n
}

func isPrimary(e any) bool {
	m, ok := e.(map[string]any)
	if !ok {
		return false
	}
	v, _ := lookupKey(m, "primary")
	b, _ := toBool(v)
	return b
}

// isPresent reports whether v is a non-empty value (RFC 7644 "pr"): not
// null, not "", not an empty array or object, and for arrays and objects
// at least one present member.
func isPresent(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		for _, e := range t {
			if isPresent(e) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, e := range t {
			if isPresent(e) {
				return true
			}
		}
		return false
	}
	return true
}

// Clone returns a deep copy of a resource: maps and slices are copied,
// scalars shared.
func Clone(res map[string]any) map[string]any {
	if res == nil {
		return nil
	}
	return cloneValue(res).(map[string]any)
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = cloneValue(e)
		}
		return s
	}
	return v
}

// sameValue compares two values exactly (case-sensitive strings), treating
// numbers numerically and absent, null, empty arrays and empty objects as
// equal.
func sameValue(a, b any) bool {
	pa, pb := isPresent(a), isPresent(b)
	if !pa || !pb {
		return pa == pb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range x {
			if !sameValue(v, y[k]) {
				return false
			}
		}
		for k, v := range y {
			if _, seen := x[k]; !seen && isPresent(v) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	xi, xInt, xf, xok := numeric(a)
	yi, yInt, yf, yok := numeric(b)
	if xok && yok {
		if xInt && yInt {
			return xi == yi
		}
		return xf == yf
	}
	return a == b
}

// equalAttr compares two values of attribute a with its semantics:
// strings case-insensitively unless caseExact, complex values by their
// sub-attributes.
func equalAttr(a *Attribute, x, y any) bool {
	if a == nil {
		return sameValue(x, y)
	}
	px, py := isPresent(x), isPresent(y)
	if !px || !py {
		return px == py
	}
	if a.MultiValued {
		xs, xok := x.([]any)
		ys, yok := y.([]any)
		if !xok || !yok || len(xs) != len(ys) {
			return sameValue(x, y)
		}
		single := *a
		single.MultiValued = false
		for i := range xs {
			if !equalAttr(&single, xs[i], ys[i]) {
				return false
			}
		}
		return true
	}
	switch a.Type {
	case TypeComplex:
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if !xok || !yok {
			return sameValue(x, y)
		}
		for _, sa := range a.SubAttributes {
			xv, _ := lookupKey(xm, sa.Name)
			yv, _ := lookupKey(ym, sa.Name)
			if !equalAttr(sa, xv, yv) {
				return false
			}
		}
		return true
	case TypeString, TypeReference:
		xs, xok := x.(string)
		ys, yok := y.(string)
		if xok && yok && !a.CaseExact {
			return strings.EqualFold(xs, ys)
		}
	case TypeBoolean:
		xb, xok := toBool(x)
		yb, yok := toBool(y)
		if xok && yok {
			return xb == yb
		}
	case TypeDateTime:
		xt, xok := toTime(x)
		yt, yok := toTime(y)
		if xok && yok {
			return xt.Equal(yt)
		}
	}
	return sameValue(x, y)
}

func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case string:
		tm, err := time.Parse(time.RFC3339Nano, t)
		return tm, err == nil
	case time.Time:
		return t, true
	}
	return time.Time{}, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
