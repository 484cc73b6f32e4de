package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Hash returns a canonical hash (hex SHA-256) of a representation, desired
// or as a target returned it, so that equal states hash equally however
// they were built or serialised:
//   - attribute names are compared case-insensitively (SCIM's rule), so
//     keys are folded to lower case and sorted;
//   - multi-valued attributes are unordered, so array elements are sorted
//     by their canonical form;
//   - null, empty strings, empty arrays and empty objects are unassigned
//     (RFC 7643 §2.5, and how filters' "pr" sees them), so they are left
//     out;
//   - numbers compare by value: 1, 1.0, json.Number("1") and int64(1) are
//     equal.
//
// Values are compared exactly otherwise: a change of case in a value is a
// change. A nil or empty map hashes like an empty object.
func Hash(attributes map[string]any) string {
	var b bytes.Buffer
	canonical(&b, attributes)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// canonical writes v's canonical form: JSON-like, unambiguous, with the
// rules of Hash. It reports whether v is assigned (and so was written).
func canonical(b *bytes.Buffer, v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		if t == "" {
			return false
		}
		writeString(b, t)
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case json.Number:
		writeNumber(b, string(t))
	case float64:
		writeNumber(b, strconv.FormatFloat(t, 'g', -1, 64))
	case float32:
		writeNumber(b, strconv.FormatFloat(float64(t), 'g', -1, 32))
	case int:
		writeNumber(b, strconv.Itoa(t))
	case int64:
		writeNumber(b, strconv.FormatInt(t, 10))
	case int32:
		writeNumber(b, strconv.FormatInt(int64(t), 10))
	case uint64:
		writeNumber(b, strconv.FormatUint(t, 10))
	case map[string]any:
		return writeObject(b, t)
	case []any:
		return writeArray(b, t)
	default:
		return canonicalOther(b, v)
	}
	return true
}

// writeString writes s quoted (Go syntax: unambiguous, and cheaper than
// JSON's encoder).
func writeString(b *bytes.Buffer, s string) {
	b.Write(strconv.AppendQuote(b.AvailableBuffer(), s))
}

// writeNumber writes a number by value: integers exactly, others in the
// shortest float64 form; text that is no number is written as a string.
func writeNumber(b *bytes.Buffer, s string) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		b.WriteString(strconv.FormatInt(i, 10))
		return
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
		writeString(b, s)
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		b.WriteString(strconv.FormatInt(int64(f), 10))
	default:
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
}

func writeObject(b *bytes.Buffer, m map[string]any) bool {
	type entry struct {
		key, orig string
		val       []byte
	}
	entries := make([]entry, 0, len(m))
	for k, v := range m {
		var vb bytes.Buffer
		if !canonical(&vb, v) {
			continue
		}
		entries = append(entries, entry{key: strings.ToLower(k), orig: k, val: vb.Bytes()})
	}
	if len(entries) == 0 {
		return false
	}
	// Two spellings of one name are ambiguous; order them by their
	// original spelling so that the result does not depend on map order.
	slices.SortFunc(entries, func(x, y entry) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.orig, y.orig)
	})
	b.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, e.key)
		b.WriteByte(':')
		b.Write(e.val)
	}
	b.WriteByte('}')
	return true
}

func writeArray(b *bytes.Buffer, list []any) bool {
	elems := make([][]byte, 0, len(list))
	for _, e := range list {
		var eb bytes.Buffer
		if canonical(&eb, e) {
			elems = append(elems, eb.Bytes())
		}
	}
	if len(elems) == 0 {
		return false
	}
	slices.SortFunc(elems, bytes.Compare)
	b.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return true
}

// canonicalOther handles values of other types (typed slices and maps
// built by callers, structs) through their JSON form.
func canonicalOther(b *bytes.Buffer, v any) bool {
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.IsNil() {
		return false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		// Not representable in JSON, so never sent: hash its Go form so
		// that equal values still hash equally.
		writeString(b, fmt.Sprintf("%T:%v", v, v))
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		writeString(b, string(raw))
		return true
	}
	return canonical(b, generic)
}
