package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
)

// maxExprLen bounds an attribute path or template.
const maxExprLen = 1024

// ref is an attribute path of the User resource type, compiled: a path
// that scim.ResourceType.Resolve accepts ("title", "name.givenName",
// "urn:…:enterprise:2.0:User:department", "phoneNumbers"), or one element
// of a multi-valued complex attribute selected by its type and a
// sub-attribute of it (`emails[type eq "work"].value`).
type ref struct {
	path scim.AttrPath
	// sel is true for a selector path; typ is then the selected type,
	// compared case-insensitively.
	sel bool
	typ string
}

// attr is the path of the attribute ref reads or writes, without its
// sub-attribute: the value AttrPath.Values yields is the attribute's
// value, or its elements when it is multi-valued.
func (r ref) attr() scim.AttrPath {
	return scim.AttrPath{Schema: r.path.Schema, Ext: r.path.Ext, Attr: r.path.Attr}
}

// leaf is the attribute the path ends at.
func (r ref) leaf() *scim.Attribute { return r.path.Leaf() }

// whole reports whether the path names a whole complex or multi-valued
// attribute, whose value is copied as it is.
func (r ref) whole() bool {
	return r.path.Sub == nil && (r.path.Attr.Type == scim.TypeComplex || r.path.Attr.MultiValued)
}

// same reports whether two paths name the same thing.
func (r ref) same(o ref) bool {
	return r.path.Schema == o.path.Schema && r.path.Attr == o.path.Attr && r.path.Sub == o.path.Sub &&
		r.sel == o.sel && strings.EqualFold(r.typ, o.typ)
}

// String renders the canonical path.
func (r ref) String() string {
	if !r.sel {
		return r.path.String()
	}
	base := r.attr().String()
	q, _ := json.Marshal(r.typ)
	return base + "[type eq " + string(q) + "]." + r.path.Sub.Name
}

// parseRef compiles an attribute path against the User resource type.
func parseRef(s string) (ref, error) {
	text := strings.TrimSpace(s)
	switch {
	case text == "":
		return ref{}, errors.New("empty attribute path")
	case len(text) > maxExprLen:
		return ref{}, fmt.Errorf("attribute path longer than %d bytes", maxExprLen)
	}
	open := strings.IndexByte(text, '[')
	if open < 0 {
		if strings.ContainsAny(text, "]{} \t\r\n\"") {
			return ref{}, fmt.Errorf("%s is not an attribute path", quote(text))
		}
		p, ok := scim.UserResourceType.Resolve(text)
		if !ok {
			return ref{}, fmt.Errorf("unknown attribute %s", quote(text))
		}
		if p.Attr == nil {
			return ref{}, fmt.Errorf("%s names a whole extension schema, not an attribute", quote(text))
		}
		return ref{path: p}, nil
	}
	base := text[:open]
	p, ok := scim.UserResourceType.Resolve(base)
	switch {
	case !ok || p.Attr == nil:
		return ref{}, fmt.Errorf("unknown attribute %s", quote(base))
	case p.Sub != nil || p.Attr.Type != scim.TypeComplex || !p.Attr.MultiValued || p.Attr.Sub("type") == nil:
		return ref{}, fmt.Errorf("%s cannot take [type eq \"…\"]: only multi-valued attributes with a type, such as emails and phoneNumbers, can", quote(base))
	}
	typ, rest, err := parseSelector(text[open+1:])
	if err != nil {
		return ref{}, fmt.Errorf("%s: %w", quote(base), err)
	}
	sub, hasSub := strings.CutPrefix(rest, ".")
	if !hasSub || sub == "" {
		return ref{}, fmt.Errorf(`%s[…] must be followed by a sub-attribute, e.g. %s[type eq "work"].value`, base, base)
	}
	p.Sub = p.Attr.Sub(sub)
	if p.Sub == nil {
		return ref{}, fmt.Errorf("%s has no sub-attribute %s", quote(base), quote(sub))
	}
	return ref{path: p, sel: true, typ: typ}, nil
}

// parseSelector parses `type eq "literal"]` and returns the literal and
// what follows the bracket.
func parseSelector(s string) (string, string, error) {
	const want = `the only selector is [type eq "…"]`
	s = strings.TrimLeft(s, " ")
	word, s, _ := strings.Cut(s, " ")
	if !strings.EqualFold(word, "type") {
		return "", "", errors.New(want)
	}
	s = strings.TrimLeft(s, " ")
	word, s, _ = strings.Cut(s, " ")
	if !strings.EqualFold(word, "eq") {
		return "", "", errors.New(want)
	}
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New(want + ", with a quoted value")
	}
	end := closingQuote(s)
	if end < 0 {
		return "", "", errors.New("unterminated string")
	}
	var typ string
	if err := json.Unmarshal([]byte(s[:end+1]), &typ); err != nil {
		return "", "", errors.New("invalid string")
	}
	if typ == "" {
		return "", "", errors.New("the type must not be empty")
	}
	rest, ok := strings.CutPrefix(strings.TrimLeft(s[end+1:], " "), "]")
	if !ok {
		return "", "", errors.New(want + ": missing ]")
	}
	return typ, rest, nil
}

// closingQuote returns the index of the quote that ends the JSON string
// starting at s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// produce reads the value at the path in doc. A path through a
// multi-valued attribute without a selector reads its primary element,
// else its first element of type "work", else its first; with a selector,
// the primary of the elements of that type, else the first of them.
// Absent, null and empty values are no value.
func (r ref) produce(doc map[string]any) (any, bool) {
	vals := r.attr().Values(doc)
	if len(vals) == 0 {
		return nil, false
	}
	var v any
	switch {
	case r.whole():
		if !r.path.Attr.MultiValued {
			v = vals[0]
		} else {
			v = vals
		}
	case !r.path.Attr.MultiValued:
		v = vals[0]
	case r.path.Attr.Type != scim.TypeComplex:
		v = vals[0]
	default:
		e := pickElement(vals, r.sel, r.typ)
		if e == nil {
			return nil, false
		}
		v = e
	}
	if r.path.Sub != nil && !r.whole() {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = lookup(m, r.path.Sub.Name)
	}
	if !present(v) {
		return nil, false
	}
	return cloneValue(v), true
}

// pickElement chooses the element of a multi-valued complex attribute
// that a path reads (see produce).
func pickElement(elems []any, sel bool, typ string) map[string]any {
	var first, firstWork, primary map[string]any
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		t, _ := lookup(m, "type").(string)
		if sel && !strings.EqualFold(t, typ) {
			continue
		}
		if first == nil {
			first = m
		}
		if firstWork == nil && strings.EqualFold(t, "work") {
			firstWork = m
		}
		if primary == nil && isTrue(lookup(m, "primary")) {
			primary = m
		}
	}
	switch {
	case primary != nil:
		return primary
	case firstWork != nil:
		return firstWork
	}
	return first
}

// write sets v at the path in doc, a target representation being built.
// An element written through a selector is added when doc has no element
// of that type, and marked primary when it is the attribute's first.
func (r ref) write(doc map[string]any, v any) {
	c := doc
	if r.path.Ext {
		m, ok := doc[r.path.Schema.ID()].(map[string]any)
		if !ok {
			m = map[string]any{}
			doc[r.path.Schema.ID()] = m
		}
		c = m
	}
	name := r.path.Attr.Name
	switch {
	case r.whole() || r.path.Sub == nil:
		c[name] = v
	case r.sel:
		elems, _ := c[name].([]any)
		var elem map[string]any
		for _, e := range elems {
			m, _ := e.(map[string]any)
			if t, _ := m["type"].(string); strings.EqualFold(t, r.typ) {
				elem = m
				break
			}
		}
		if elem == nil {
			elem = map[string]any{"type": r.typ}
			if len(elems) == 0 && r.path.Attr.Sub("primary") != nil {
				elem["primary"] = true
			}
			elems = append(elems, elem)
			c[name] = elems
		}
		elem[r.path.Sub.Name] = v
	default:
		m, ok := c[name].(map[string]any)
		if !ok {
			m = map[string]any{}
			c[name] = m
		}
		m[r.path.Sub.Name] = v
	}
}

// producer yields a value from a hub user document.
type producer interface {
	produce(doc map[string]any) (any, bool)
}

// template is text with {{path}} placeholders.
type template struct {
	lits []string // len(refs)+1 literal pieces around the placeholders
	refs []ref
}

// parseTemplate compiles a template: {{ and }} always delimit a path.
func parseTemplate(s string) (template, error) {
	if len(s) > maxExprLen {
		return template{}, fmt.Errorf("template longer than %d bytes", maxExprLen)
	}
	var t template
	rest := s
	for {
		open := strings.Index(rest, "{{")
		if stray := strings.Index(rest, "}}"); stray >= 0 && (open < 0 || stray < open) {
			return template{}, errors.New("}} without a {{ before it")
		}
		if open < 0 {
			t.lits = append(t.lits, rest)
			return t, nil
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return template{}, errors.New("{{ without a }} after it")
		}
		inner := rest[open+2 : open+2+end]
		if strings.Contains(inner, "{{") {
			return template{}, errors.New("{{ inside {{ }}")
		}
		r, err := parseRef(inner)
		if err != nil {
			return template{}, fmt.Errorf("in {{%s}}: %w", inner, err)
		}
		if r.whole() || r.leaf().Type == scim.TypeComplex {
			return template{}, fmt.Errorf("in {{%s}}: %s is not a single value; name a sub-attribute", inner, r)
		}
		t.lits = append(t.lits, rest[:open])
		t.refs = append(t.refs, r)
		rest = rest[open+2+end+2:]
	}
}

// produce renders the template; it has no value when a placeholder has
// none, or when the result is empty.
func (t template) produce(doc map[string]any) (any, bool) {
	var b strings.Builder
	b.WriteString(t.lits[0])
	for i, r := range t.refs {
		v, ok := r.produce(doc)
		if !ok {
			return nil, false
		}
		s, ok := scalarString(v)
		if !ok {
			return nil, false
		}
		b.WriteString(s)
		b.WriteString(t.lits[i+1])
	}
	if b.Len() == 0 {
		return nil, false
	}
	return b.String(), true
}

// rule sets one target attribute: the first producer with a value gives
// it, converted to the target's type and transformed; else the default,
// if any.
type rule struct {
	target    ref
	sources   []producer
	transform func(string) string
	def       any
}

func (r *rule) apply(doc, out map[string]any) {
	for _, src := range r.sources {
		v, ok := src.produce(doc)
		if !ok {
			continue
		}
		if v, ok = convert(r.target, v); !ok {
			continue
		}
		if v, ok = r.finish(v); ok {
			r.target.write(out, v)
			return
		}
	}
	if r.def != nil {
		r.target.write(out, cloneValue(r.def))
	}
}

// finish applies the transform to a string value; a value the transform
// empties is no value.
func (r *rule) finish(v any) (any, bool) {
	s, isString := v.(string)
	if r.transform == nil || !isString {
		return v, true
	}
	s = r.transform(s)
	return s, s != ""
}

// reservedTargets are set by the gateway itself (or never sent), so that
// every representation carries them the same way.
var reservedTargets = map[string]string{
	"schemas":    "set by the gateway",
	"id":         "assigned by the app",
	"meta":       "assigned by the app",
	"externalId": "set by the gateway to the hub id",
	"active":     "set by the gateway from the user's active and the policies",
	"groups":     "read-only; group membership is pushed with push_groups",
	"password":   "never sent",
}

var transforms = map[string]func(string) string{
	config.TransformLowercase: strings.ToLower,
	config.TransformUppercase: strings.ToUpper,
	config.TransformTrim:      strings.TrimSpace,
}

// fieldError is a problem with one key of an attribute mapping.
type fieldError struct {
	key string // "target", "source", "template", "transform", "default"; "" for the item
	msg string
}

func fieldErr(key, format string, args ...any) *fieldError {
	return &fieldError{key: key, msg: fmt.Sprintf(format, args...)}
}

// compileRule compiles one configured attribute mapping.
func compileRule(m config.AttributeMapping) (*rule, *fieldError) {
	target, ferr := compileTarget(m.Target)
	if ferr != nil {
		return nil, ferr
	}
	r := &rule{target: target}
	switch {
	case m.Source != "" && m.Template != "":
		return nil, fieldErr("", "set only one of source and template")
	case m.Source != "":
		src, err := parseRef(m.Source)
		if err != nil {
			return nil, fieldErr("source", "%v", err)
		}
		if msg := compatible(target, src); msg != "" {
			return nil, fieldErr("source", "%s", msg)
		}
		r.sources = []producer{src}
	case m.Template != "":
		if target.whole() {
			return nil, fieldErr("template", "%s is not a single value; a template cannot set it", target)
		}
		t, err := parseTemplate(m.Template)
		if err != nil {
			return nil, fieldErr("template", "%v", err)
		}
		r.sources = []producer{t}
	default:
		return nil, fieldErr("", "set source or template")
	}
	if m.Transform != "" {
		fn, ok := transforms[m.Transform]
		if !ok {
			return nil, fieldErr("transform", "must be lowercase, uppercase or trim")
		}
		if !stringType(target.leaf().Type) || target.whole() {
			return nil, fieldErr("transform", "applies to string attributes only, and %s is not one", target)
		}
		r.transform = fn
	}
	if m.Default != "" {
		if target.whole() {
			return nil, fieldErr("default", "%s is not a single value; it cannot have a default", target)
		}
		v, ok := convert(target, m.Default)
		if !ok {
			return nil, fieldErr("default", "not a valid %s value for %s", target.leaf().Type, target)
		}
		if v, ok = r.finish(v); !ok {
			return nil, fieldErr("default", "is empty once transformed")
		}
		r.def = v
	}
	return r, nil
}

// compileTarget compiles a target path and checks that a mapping may set
// it.
func compileTarget(s string) (ref, *fieldError) {
	t, err := parseRef(s)
	if err != nil {
		return ref{}, fieldErr("target", "%v", err)
	}
	if !t.path.Ext {
		if why, reserved := reservedTargets[t.path.Attr.Name]; reserved {
			return ref{}, fieldErr("target", "%s cannot be mapped: %s", t.path.Attr.Name, why)
		}
	}
	for _, a := range []*scim.Attribute{t.path.Attr, t.path.Sub} {
		if a != nil && (a.Mutability == scim.MutabilityReadOnly || a.Mutability == scim.MutabilityWriteOnly) {
			return ref{}, fieldErr("target", "%s is %s and cannot be sent", t, a.Mutability)
		}
	}
	if t.path.Attr.MultiValued && t.path.Sub != nil && !t.sel {
		base := t.attr().String()
		return ref{}, fieldErr("target", `%s has many elements: write one as %s[type eq "work"].%s`, t, base, t.path.Sub.Name)
	}
	if t.sel && strings.EqualFold(t.path.Sub.Name, "type") {
		return ref{}, fieldErr("target", "the selector already sets the type")
	}
	return t, nil
}

// compatible checks that a source can feed a target; "" when it can.
func compatible(target, src ref) string {
	switch {
	case target.whole():
		if !src.same(target) {
			return fmt.Sprintf("%s is copied whole, so the source must be %s too", target, target)
		}
	case src.whole() || src.leaf().Type == scim.TypeComplex:
		return fmt.Sprintf("%s is not a single value; name a sub-attribute", src)
	}
	return ""
}

func stringType(t scim.Type) bool {
	return t == scim.TypeString || t == scim.TypeReference
}

// convert turns a source value into a value of the target's type; false
// when it cannot.
func convert(target ref, v any) (any, bool) {
	if target.whole() {
		return v, true
	}
	switch target.leaf().Type {
	case scim.TypeBoolean:
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
		return nil, false
	case scim.TypeInteger:
		s, ok := scalarString(v)
		if !ok {
			return nil, false
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return nil, false
		}
		return json.Number(s), true
	case scim.TypeDecimal:
		s, ok := scalarString(v)
		if !ok {
			return nil, false
		}
		if f, err := strconv.ParseFloat(s, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, false
		}
		return json.Number(s), true
	case scim.TypeComplex:
		return nil, false
	default: // string, reference, dateTime, binary
		s, ok := scalarString(v)
		if !ok || s == "" {
			return nil, false
		}
		return s, true
	}
}

// scalarString renders a scalar value as text.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case json.Number:
		return t.String(), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	}
	return "", false
}

// lookup returns m[key], matching the key case-insensitively as SCIM
// attribute names are.
func lookup(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func isTrue(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}

// present reports whether v is a value (RFC 7643 §2.5: null, an empty
// string and an empty array or object are unassigned).
func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return scim.Clone(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// quote quotes configured text for a message, shortened if long.
func quote(s string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(s) > maxRunes {
		s = string([]rune(s)[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}
