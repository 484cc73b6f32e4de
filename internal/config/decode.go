package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Decoding walks the parsed YAML node tree alongside the Config type. It is
// the strict decoder: yaml.v3 offers KnownFields only on a Decoder reading
// bytes, not on Node.Decode, and the tree must be decoded after expansion so
// that line numbers stay those of the file and no expanded value is ever
// parsed as YAML. The walker rejects unknown keys, duplicate keys, merge keys
// and values of the wrong kind, with line and key path, and hands each leaf
// scalar, after expanding it, to Node.Decode for yaml.v3's scalar rules.

const (
	nullTag  = "!!null"
	floatTag = "!!float"
	mergeTag = "!!merge"

	// aliasAllowance is how many values, beyond one per byte of the
	// document, decoding may visit, counting each use of an alias. A
	// document without aliases never reaches the limit; a small document of
	// nested aliases cannot make decoding (or Redacted) explode.
	aliasAllowance = 10_000
)

var durationType = reflect.TypeFor[Duration]()

type decoder struct {
	env      func(string) (string, bool)
	errs     []Problem       // the document does not fit the schema: Parse fails
	unset    []Problem       // unset variables: Validate reports them
	fromEnv  map[string]bool // paths of values set from an expansion
	nodes    int             // values visited so far
	maxNodes int
}

// defaulter is implemented (on the pointer) by the element types of lists
// whose items have defaults of their own: the walker fills each new item
// with them before decoding the item's keys over them, so that an absent
// key takes its default and an explicit value, even a zero, is kept.
type defaulter interface {
	setDefaults()
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// parseDocument parses data as a single YAML document and returns its root
// node, or nil for an empty document.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &ParseError{Problems: []Problem{syntaxProblem(err)}}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &ParseError{Problems: []Problem{syntaxProblem(err)}}
	default:
		return nil, &ParseError{Problems: []Problem{{Line: next.Line, Msg: "a second YAML document (---) is not allowed; put the whole configuration in one"}}}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 syntax error into a Problem with its line.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		if line, convErr := strconv.Atoi(m[1]); convErr == nil {
			return Problem{Line: line, Msg: m[2]}
		}
	}
	return Problem{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// value decodes n into v. A null leaves v as it is, so that an absent or
// empty key keeps its default.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "alias refers to no anchor")
			return
		}
		n = n.Alias
	}
	d.nodes++
	if d.nodes > d.maxNodes {
		if d.nodes == d.maxNodes+1 {
			d.fail(n, path, "too many values once aliases are expanded (more than %d): use fewer aliases", d.maxNodes)
		}
		return
	}
	if isLeaf(v.Type()) {
		d.leaf(n, v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isLeaf(v.Type().Elem()) {
			// Allocate only when a value is set, so that a nil pointer
			// (meaning "not given") survives `key: ${VAR:-}`.
			p := reflect.New(v.Type().Elem())
			if d.leaf(n, p.Elem(), path) {
				v.Set(p)
			}
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if def, ok := s.Index(i).Addr().Interface().(defaulter); ok {
				def.setDefaults()
			}
			d.value(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.mapping(n, v, path)
	default:
		// A Config field of a kind the walker does not know: a programming
		// error that the type tests catch.
		panic(fmt.Sprintf("config: field %s has unsupported type %s", path, v.Type()))
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping of keys to values, not %s", kindName(n))
		return
	}
	fs := fields(v.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, path, seen)
		if !ok {
			continue
		}
		f, ok := fieldNamed(fs, name)
		if !ok {
			d.fail(k, fieldPath(path, name), "unknown key; expected one of: %s", fieldNames(fs))
			continue
		}
		d.value(val, v.Field(f.index), fieldPath(path, name))
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping of keys to values, not %s", kindName(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, path, seen)
		if !ok {
			continue
		}
		elem := reflect.New(t.Elem()).Elem()
		d.value(val, elem, keyPath(path, name))
		m.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), elem)
	}
	v.Set(m)
}

// key checks a mapping key node and returns its text. Keys are never
// expanded.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]int) (string, bool) {
	switch {
	case k.Kind == yaml.AliasNode:
		d.fail(k, path, "an alias (*name) cannot be used as a key")
		return "", false
	case k.Kind != yaml.ScalarNode:
		d.fail(k, path, "keys must be plain strings, not %s", kindName(k))
		return "", false
	case k.ShortTag() == mergeTag:
		d.fail(k, path, "merge keys (<<) are not supported; write the keys out")
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		d.fail(k, keyPath(path, k.Value), "duplicate key (first at line %d)", first)
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

// leaf expands a scalar and decodes it with yaml.v3's scalar rules. It
// reports whether it set v.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "must be %s, not %s", expectation(v.Type()), kindName(n))
		return false
	}
	expanded, changed, err := d.expand(n.Value, path)
	if err != nil {
		d.fail(n, path, "%v", err)
		return false
	}
	c := *n
	if changed {
		c.Value = expanded
		// An unquoted, untagged value is typed by what it expands to, as if
		// that had been written in the file: port: ${PORT} is an integer.
		if c.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			c.Tag = ""
		}
	}
	tag := c.ShortTag()
	if tag == nullTag {
		return false
	}
	ptr := reflect.New(v.Type())
	// yaml.v3 truncates a float decoded into an integer; 1.5 is no count.
	if err := c.Decode(ptr.Interface()); err != nil || (tag == floatTag && isInteger(v.Type())) {
		// yaml.v3's message quotes the decoded value, which may be an
		// expanded secret: quote the text from the file instead.
		d.fail(n, path, "invalid value %s: must be %s", quoteRaw(n.Value), expectation(v.Type()))
		return false
	}
	v.Set(ptr.Elem())
	if changed {
		if d.fromEnv == nil {
			d.fromEnv = map[string]bool{}
		}
		d.fromEnv[path] = true
	}
	return true
}

// expand replaces ${VAR}, ${VAR:-default} and $$ in a value. A $ followed by
// anything else is kept as it is. An unset variable without a default
// expands to "" and is recorded for Validate.
func (d *decoder) expand(s, path string) (string, bool, error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), true, nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", false, fmt.Errorf("unterminated variable reference %s: close it with } (write $$ for a literal $)", quoteRaw(s[i:]))
		}
		ref := s[i : i+end+1]
		name, def, hasDef := strings.Cut(ref[2:len(ref)-1], ":-")
		if !validVarName(name) {
			return "", false, fmt.Errorf("invalid variable reference %s: use ${NAME} or ${NAME:-default}, NAME made of letters, digits and _ (write $$ for a literal $)", quoteRaw(ref))
		}
		val, ok := d.env(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			d.noteUnset(path, name)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

func (d *decoder) noteUnset(path, name string) {
	p := Problem{Path: path, Msg: "environment variable " + name + " is not set"}
	for _, q := range d.unset {
		if q == p {
			return
		}
	}
	d.unset = append(d.unset, p)
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// quoteRaw quotes text from the file for a message, shortened if long.
func quoteRaw(s string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(s) > maxRunes {
		s = string([]rune(s)[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	default:
		return "a single value"
	}
}

func isLeaf(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// isInteger reports whether t is an integer type other than Duration.
func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return t != durationType
	}
	return false
}

// expectation says in words what a leaf of type t accepts.
func expectation(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 90s, 15m, 24h or 7d"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a single value"
	}
}

// field is a struct field as the configuration file names it.
type field struct {
	name  string
	index int
}

// fields lists the exported fields of a struct type with their yaml names,
// in declaration order.
func fields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name: name, index: i})
	}
	return fs
}

func fieldNamed(fs []field, name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func fieldNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}
