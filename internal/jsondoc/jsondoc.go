// Package jsondoc encodes JSON documents as the gateway holds them
// (map[string]any trees decoded with UseNumber) exactly as encoding/json
// does, without its reflection.
package jsondoc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Append appends the JSON encoding of v to dst, byte for byte what
// json.Marshal would produce, for the values a decoded document holds:
// map[string]any (keys sorted), []any, string, bool, nil and json.Number,
// and the []string, []map[string]any and int of list responses. Any other
// value is handed to json.Marshal.
//
// It exists for speed: encoding/json walks a map[string]any by reflection
// and allocates for every key and value it visits, which was a fifth of a
// user create's allocations; Append allocates only to sort a map's keys.
func Append(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case json.Number:
		n := string(v)
		if n == "" {
			n = "0" // as encoding/json writes an empty Number
		}
		if !isJSONNumber(n) {
			return dst, fmt.Errorf("json: invalid number literal %q", n)
		}
		return append(dst, n...), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = Append(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case []string:
		return appendArray(dst, v, func(dst []byte, e string) ([]byte, error) { return appendJSONString(dst, e), nil })
	case []map[string]any:
		return appendArray(dst, v, func(dst []byte, e map[string]any) ([]byte, error) { return Append(dst, e) })
	case []any:
		return appendArray(dst, v, Append)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
}

// appendArray appends v as a JSON array (null when nil), each element
// encoded by each.
func appendArray[E any](dst []byte, v []E, each func([]byte, E) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	for i, e := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = each(dst, e); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// AppendString appends s as a JSON string, escaped as json.Marshal
// escapes it.
func AppendString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// Marshal is Append into a new slice.
func Marshal(v any) ([]byte, error) {
	return Append(make([]byte, 0, 512), v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: with HTML
// escaping (<, >, & as \u003c, \u003e, \u0026), U+2028 and U+2029 escaped,
// and invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isJSONNumber reports whether s is a JSON number literal (RFC 8259 §6).
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
