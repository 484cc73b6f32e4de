package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"
)

// Limits that keep a hostile filter from costing much: the parser is
// recursive and not fast (100-200µs for `userName eq "x"`).
const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

// Filter is a SCIM filter (RFC 7644 §3.4.2.2) compiled against a resource
// type: parsed once, every attribute path resolved and every comparison
// type-checked, ready to be matched against many resources. A Filter is
// immutable and safe for concurrent use.
type Filter struct {
	expr string
	rt   *ResourceType
	root node
}

// Hooks answer questions about group membership when the resource map
// carries no "members" key (the store keeps members in sets, not in the
// group document). Either hook may be nil.
type Hooks struct {
	// IsMember answers `members eq "id"`, `members.value eq "id"` and
	// `members[value eq "id"]` in O(1).
	IsMember func(memberID string) (bool, error)
	// Members lists the member ids, for any other members filter. When it
	// is nil, such filters see a group without members.
	Members func() ([]string, error)
}

// IndexKey is an equality lookup a store index can answer. Name is the
// canonical attribute path ("id", "userName", "externalId", "emails.value",
// "displayName"), Value the compared string as given.
type IndexKey struct {
	Name  string
	Value string
}

// Compile parses and validates a filter for resource type rt. Every error
// is a *Error with status 400 and scimType invalidFilter, naming the
// offending attribute or construct. Besides the RFC grammar it accepts
// Entra ID's `emails[type eq "work"].value eq "x"` (a value path followed
// by a sub-attribute), meaning an element that matches both, and a full
// filter (any number of and/or/not, grouping) inside brackets. Filters are
// limited to 4096 bytes and 32 levels of nesting. rt must not be nil; a
// resource type built with NewResourceType from the caller's own attribute
// definitions (report entry fields) works like the built-in ones.
func Compile(expr string, rt *ResourceType) (*Filter, error) {
	root, err := compileText(expr, rt, nil)
	if err != nil {
		return nil, err
	}
	return &Filter{expr: expr, rt: rt, root: root}, nil
}

// String returns the filter as it was given.
func (f *Filter) String() string { return f.expr }

// Match reports whether res matches. Without hooks, a group map without a
// "members" key has no members.
func (f *Filter) Match(res map[string]any) bool {
	ok, _ := f.MatchWith(res, Hooks{})
	return ok
}

// MatchWith is Match with membership hooks. When a hook fails, MatchWith
// returns false and the hook's error (wrapped).
func (f *Filter) MatchWith(res map[string]any, h Hooks) (bool, error) {
	ev := evaluator{hooks: h, members: f.rt.members}
	ok := f.root.match(&ev, res)
	if ev.err != nil {
		return false, ev.err
	}
	return ok, nil
}

// Exact returns the one index lookup whose candidates are exactly the
// filter's matches, when there is one: the whole filter is a single `eq`
// with a string literal on id (compared exactly, as ids are looked up),
// or on userName, displayName or emails.value, which are not caseExact
// and so compare folded with strings.ToLower as the store folds index
// keys. The caller may then skip Match on the candidates. A caseExact
// attribute (externalId) is not exact: its folded index finds a superset.
func (f *Filter) Exact() (IndexKey, bool) {
	n, ok := f.root.(*cmpNode)
	if !ok {
		return IndexKey{}, false
	}
	k, ok := n.indexKey()
	if !ok || n.path.Sub != nil && k.Name != "emails.value" {
		return IndexKey{}, false
	}
	if k.Name != "id" && (n.leaf == nil || n.leaf.CaseExact || n.leaf.Type == TypeBinary) {
		return IndexKey{}, false
	}
	return k, true
}

// Plan returns equality lookups that produce candidates for the filter
// from an index: each `eq` with a string literal on id, userName,
// externalId, displayName or emails.value (also written emails[value eq
// …], emails[type eq "work" and value eq …] or emails[type eq
// "work"].value eq …) that is the whole filter or one conjunct of its
// top-level "and"s. Every resource matching the filter is found by any one
// of the keys, so the caller fetches the candidates of the key its store
// answers best and still runs Match on each. A filter with no such
// conjunct (an "or" at the top, "not", other operators or attributes)
// yields nil: the caller scans.
func (f *Filter) Plan() []IndexKey {
	var out []IndexKey
	for _, n := range conjuncts(f.root, nil) {
		switch t := n.(type) {
		case *cmpNode:
			if k, ok := t.indexKey(); ok {
				out = append(out, k)
			}
		case *vpNode:
			if t.path.Ext || !strings.EqualFold(t.path.Attr.Name, "emails") {
				continue
			}
			for _, in := range conjuncts(t.inner, nil) {
				if c, ok := in.(*cmpNode); ok && c.op == "eq" && c.lit.kind == litString && strings.EqualFold(c.leaf.Name, "value") {
					out = append(out, IndexKey{Name: "emails.value", Value: c.lit.s})
				}
			}
		}
	}
	return out
}

func conjuncts(n node, acc []node) []node {
	if a, ok := n.(*andNode); ok {
		return conjuncts(a.r, conjuncts(a.l, acc))
	}
	return append(acc, n)
}

// compileText compiles filter text. With a scope (a complex attribute),
// the text is a value filter whose attribute names are the scope's
// sub-attributes.
func compileText(expr string, rt *ResourceType, scope *Attribute) (node, *Error) {
	text := strings.TrimSpace(expr)
	if text == "" {
		return nil, ErrInvalidFilter.Detailf("empty filter")
	}
	if len(text) > maxFilterLen {
		return nil, ErrInvalidFilter.Detailf("filter longer than %d bytes", maxFilterLen)
	}
	ast, vps, e := parseFilterSyntax(text, scope == nil)
	if e != nil {
		return nil, e
	}
	c := compiler{rt: rt, vps: vps}
	return c.expr(ast, scope)
}

// compileValueFilter compiles the parsed text of a value filter (see
// parseFilterSyntax with allowValuePaths false) on complex attribute scope.
func compileValueFilter(ast filter.Expression, rt *ResourceType, scope *Attribute) (node, *Error) {
	c := compiler{rt: rt}
	return c.expr(ast, scope)
}

// parseFilterSyntax parses filter text (trimmed, not empty) with the value
// paths cut out (see rewriteValuePaths); allowValuePaths is false for the
// text inside brackets.
func parseFilterSyntax(text string, allowValuePaths bool) (filter.Expression, map[string]vpText, *Error) {
	rewritten, vps, detail := rewriteValuePaths(text, allowValuePaths)
	if detail != "" {
		return nil, nil, ErrInvalidFilter.Detailf("invalid filter %s: %s", quoteShort(text), detail)
	}
	ast, err := parseFilter(rewritten)
	if err != nil {
		return nil, nil, ErrInvalidFilter.Detailf("invalid filter syntax: %s", quoteShort(text))
	}
	return ast, vps, nil
}

func parseFilter(text string) (e filter.Expression, err error) {
	if ae, ok := parseSimpleFilter(text); ok {
		return ae, nil
	}
	return parseFilterSlow(text)
}

// parseFilterSlow is the parser, with its panics turned into errors.
func parseFilterSlow(text string) (e filter.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("filter parser panic: %v", r)
		}
	}()
	return filter.ParseFilterNumber([]byte(text))
}

// parseSimpleFilter parses the filter every IdP sends before it creates a
// user or group, `userName eq "value"`, into the expression the parser
// would return, without the parser (a PEG parser that spends about 120 µs
// and 2,300 allocations on it). It handles an attribute name, optionally
// with one sub-attribute, one comparison operator in lower case, single
// spaces and a quoted string of printable ASCII without escapes, and
// reports false for anything else, which the parser then handles.
// FuzzSimpleFilter holds its result equal to the parser's.
func parseSimpleFilter(text string) (*filter.AttributeExpression, bool) {
	name, rest, ok := strings.Cut(text, " ")
	if !ok {
		return nil, false
	}
	op, value, ok := strings.Cut(rest, " ")
	if !ok || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil, false
	}
	switch filter.CompareOperator(op) {
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.LT, filter.GE, filter.LE:
	default:
		return nil, false
	}
	value = value[1 : len(value)-1]
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, false
		}
	}
	attr, sub, hasSub := strings.Cut(name, ".")
	if !simpleAttrName(attr) || hasSub && !simpleAttrName(sub) {
		return nil, false
	}
	p := filter.AttributePath{AttributeName: attr}
	if hasSub {
		p.SubAttribute = &sub
	}
	return &filter.AttributeExpression{AttributePath: p, Operator: filter.CompareOperator(op), CompareValue: value}, true
}

// simpleAttrName reports whether s is an ATTRNAME of RFC 7643 §2.1:
// ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
func simpleAttrName(s string) bool {
	if s == "" || !isASCIILetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isASCIILetter(c) && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func parseAttrPath(text string) (p filter.AttributePath, err error) {
	if ap, ok := parseSimpleAttrPath(text); ok {
		return ap, nil
	}
	return parseAttrPathSlow(text)
}

// parseSimpleAttrPath parses an attribute path, "name", "name.sub" or
// either after a schema URN ("urn:...:User:department"), into what the
// parser would return, without the parser (about 1 ms per PATCH
// operation path). Anything else reports false and is left to the parser.
// FuzzSimpleAttrPath holds its result equal to the parser's.
func parseSimpleAttrPath(text string) (filter.AttributePath, bool) {
	var p filter.AttributePath
	rest := text
	if i := strings.LastIndexByte(text, ':'); i >= 0 {
		uri := text[:i]
		for _, seg := range strings.Split(uri, ":") {
			if !uriSegment(seg) {
				return p, false
			}
		}
		p.URIPrefix, rest = &uri, text[i+1:]
	}
	attr, sub, hasSub := strings.Cut(rest, ".")
	if !simpleAttrName(attr) || hasSub && !simpleAttrName(sub) {
		return p, false
	}
	p.AttributeName = attr
	if hasSub {
		p.SubAttribute = &sub
	}
	return p, true
}

// uriSegment reports whether s is one colon-separated segment of a URN as
// the parser reads it: letters, digits, "-" and ".".
func uriSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isASCIILetter(c) && !('0' <= c && c <= '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// parseAttrPathSlow is the parser, with its panics turned into errors.
func parseAttrPathSlow(text string) (p filter.AttributePath, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = filter.AttributePath{}, fmt.Errorf("attribute path parser panic: %v", r)
		}
	}()
	return filter.ParseAttrPath([]byte(text))
}

func quoteShort(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// vpText is a value path cut out of a filter by rewriteValuePaths.
type vpText struct {
	attr  string // attribute path before "["
	inner string // the value filter between the brackets
	sub   string // sub-attribute after "].", or ""
}

// rewriteValuePaths replaces every `attrPath[valFilter]` (optionally
// followed by ".subAttr") with a placeholder attribute name, so that the
// parser sees a plain attribute expression and the value filter can be
// parsed on its own with the full filter grammar. It also upper-cases the
// hex digits of \u escapes (the parser accepts only A-F) and enforces the
// nesting limit. A non-empty detail reports an error.
func rewriteValuePaths(expr string, allowValuePaths bool) (string, map[string]vpText, string) {
	prefix := "scimvp"
	lower := strings.ToLower(expr)
	for strings.Contains(lower, prefix) {
		prefix += "x"
	}
	var vps map[string]vpText
	b := make([]byte, 0, len(expr)+16)
	depth := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch c {
		case '"':
			end, ok := scanString(expr, i, &b)
			if !ok {
				return "", nil, "unterminated string"
			}
			i = end
			continue
		case '(':
			depth++
			if depth > maxFilterDepth {
				return "", nil, fmt.Sprintf("nested deeper than %d levels", maxFilterDepth)
			}
		case ')':
			depth--
		case ']':
			return "", nil, "unbalanced \"]\""
		case '[':
			if !allowValuePaths {
				return "", nil, "value filters cannot be nested"
			}
			j := len(b)
			for j > 0 && b[j-1] == ' ' {
				j--
			}
			k := j
			for k > 0 && isPathChar(b[k-1]) {
				k--
			}
			if k == j {
				return "", nil, "\"[\" must follow an attribute name"
			}
			end, detail := findBracketEnd(expr, i+1)
			if detail != "" {
				return "", nil, detail
			}
			vp := vpText{attr: string(b[k:j]), inner: expr[i+1 : end]}
			pos := end + 1
			if pos < len(expr) && expr[pos] == '.' {
				q := pos + 1
				for q < len(expr) && (isPathChar(expr[q]) && expr[q] != '.' && expr[q] != ':') {
					q++
				}
				vp.sub = expr[pos+1 : q]
				if !validAttrName(vp.sub) {
					return "", nil, "invalid sub-attribute after \"]\""
				}
				pos = q
			}
			if vps == nil {
				vps = map[string]vpText{}
			}
			name := prefix + strconv.Itoa(len(vps))
			vps[name] = vp
			b = append(b[:k], name...)
			if vp.sub == "" {
				b = append(b, " pr"...)
			}
			i = pos
			continue
		}
		b = append(b, c)
		i++
	}
	return string(b), vps, ""
}

// scanString copies the string literal starting at expr[i] (a quote) to
// b, upper-casing \u escape digits, and returns the index after it.
func scanString(expr string, i int, b *[]byte) (int, bool) {
	*b = append(*b, '"')
	for j := i + 1; j < len(expr); {
		c := expr[j]
		switch c {
		case '\\':
			if j+1 >= len(expr) {
				return 0, false
			}
			if expr[j+1] == 'u' && j+6 <= len(expr) {
				*b = append(*b, '\\', 'u')
				for _, h := range []byte(expr[j+2 : j+6]) {
					if h >= 'a' && h <= 'f' {
						h -= 'a' - 'A'
					}
					*b = append(*b, h)
				}
				j += 6
				continue
			}
			*b = append(*b, c, expr[j+1])
			j += 2
			continue
		case '"':
			*b = append(*b, c)
			return j + 1, true
		}
		*b = append(*b, c)
		j++
	}
	return 0, false
}

// findBracketEnd returns the index of the "]" closing a value filter that
// starts at expr[start].
func findBracketEnd(expr string, start int) (int, string) {
	var scratch []byte
	for j := start; j < len(expr); {
		switch expr[j] {
		case '"':
			scratch = scratch[:0]
			end, ok := scanString(expr, j, &scratch)
			if !ok {
				return 0, "unterminated string"
			}
			j = end
			continue
		case '[':
			return 0, "value filters cannot be nested"
		case ']':
			return j, ""
		}
		j++
	}
	return 0, "missing \"]\""
}

func isPathChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '$'
}

type compiler struct {
	rt  *ResourceType
	vps map[string]vpText
}

func (c *compiler) expr(e filter.Expression, scope *Attribute) (node, *Error) {
	switch t := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.expr(t.Left, scope)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(t.Right, scope)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(string(t.Operator)) {
		case "and":
			return &andNode{l: l, r: r}, nil
		case "or":
			return &orNode{l: l, r: r}, nil
		}
		return nil, ErrInvalidFilter.Detailf("unknown logical operator %q", t.Operator)
	case *filter.NotExpression:
		x, err := c.expr(t.Expression, scope)
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	case *filter.AttributeExpression:
		return c.attrExpr(t, scope)
	}
	// *filter.ValuePath never reaches here: rewriteValuePaths cuts every
	// value path out of the text before parsing.
	return nil, ErrInvalidFilter.Detailf("unsupported filter expression %T", e)
}

func (c *compiler) attrExpr(ae *filter.AttributeExpression, scope *Attribute) (node, *Error) {
	ap := ae.AttributePath
	if scope != nil {
		if ap.URIPrefix != nil || ap.SubAttribute != nil {
			return nil, ErrInvalidFilter.Detailf("in a value filter on %q, %q must be a sub-attribute name", scope.Name, ap.String())
		}
		sa := scope.Sub(ap.AttributeName)
		if sa == nil {
			return nil, ErrInvalidFilter.Detailf("unknown attribute %q in value filter on %q", ap.AttributeName, scope.Name)
		}
		return compare(AttrPath{Attr: scope, Sub: sa}, true, ae)
	}
	if ap.URIPrefix == nil && ap.SubAttribute == nil {
		if vp, ok := c.vps[ap.AttributeName]; ok {
			return c.valuePath(vp, ae)
		}
	}
	p, ok := c.rt.resolveParts(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if !ok || p.Attr == nil {
		return nil, ErrInvalidFilter.Detailf("unknown attribute %q", ap.String())
	}
	return compare(p, false, ae)
}

func (c *compiler) valuePathAttr(ap filter.AttributePath) (AttrPath, *Error) {
	p, ok := c.rt.resolveParts(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if !ok || p.Attr == nil {
		return AttrPath{}, ErrInvalidFilter.Detailf("unknown attribute %q", ap.String())
	}
	if p.Sub != nil || p.Attr.Type != TypeComplex {
		return AttrPath{}, ErrInvalidFilter.Detailf("%q is not a complex attribute: it cannot take a value filter", ap.String())
	}
	return p, nil
}

func (c *compiler) valuePath(vp vpText, ae *filter.AttributeExpression) (node, *Error) {
	ap, err := parseAttrPath(vp.attr)
	if err != nil {
		return nil, ErrInvalidFilter.Detailf("invalid attribute path %q", vp.attr)
	}
	p, e := c.valuePathAttr(ap)
	if e != nil {
		return nil, e
	}
	inner, e := compileText(vp.inner, c.rt, p.Attr)
	if e != nil {
		return nil, e
	}
	if vp.sub == "" {
		return &vpNode{path: p, inner: inner}, nil
	}
	sa := p.Attr.Sub(vp.sub)
	if sa == nil {
		return nil, ErrInvalidFilter.Detailf("unknown attribute %q", p.String()+"."+vp.sub)
	}
	cmp, e := compare(AttrPath{Attr: p.Attr, Sub: sa}, true, ae)
	if e != nil {
		return nil, e
	}
	return &vpNode{path: p, inner: &andNode{l: inner, r: cmp}}, nil
}

// compare builds the node of one attribute expression. rel means the
// comparison is on a sub-attribute of an element inside a value filter.
func compare(p AttrPath, rel bool, ae *filter.AttributeExpression) (node, *Error) {
	op := strings.ToLower(string(ae.Operator))
	name := p.String()
	if rel {
		name = p.Sub.Name
	}
	if op == "pr" {
		return &cmpNode{path: p, leaf: p.Leaf(), op: op, rel: rel}, nil
	}
	if ae.CompareValue == nil {
		switch op {
		case "eq":
			return &notNode{x: &cmpNode{path: p, leaf: p.Leaf(), op: "pr", rel: rel}}, nil
		case "ne":
			return &cmpNode{path: p, leaf: p.Leaf(), op: "pr", rel: rel}, nil
		}
		return nil, ErrInvalidFilter.Detailf("%q %s null: only eq and ne compare with null", name, op)
	}
	leaf := p.Leaf()
	if leaf.Type == TypeComplex {
		vs := leaf.Sub("value")
		if vs == nil {
			return nil, ErrInvalidFilter.Detailf("%q is a complex attribute: name a sub-attribute", name)
		}
		p.Sub, leaf = vs, vs
	}
	if !opAllowed(leaf.Type, op) {
		return nil, ErrInvalidFilter.Detailf("operator %q is not supported for %s attribute %q", op, leaf.Type, name)
	}
	lit, err := makeLiteral(leaf, ae.CompareValue)
	if err != "" {
		return nil, ErrInvalidFilter.Detailf("%q %s: %s", name, op, err)
	}
	if op == "ne" {
		return &notNode{x: &cmpNode{path: p, leaf: leaf, op: "eq", lit: lit, rel: rel}}, nil
	}
	return &cmpNode{path: p, leaf: leaf, op: op, lit: lit, rel: rel}, nil
}

func opAllowed(t Type, op string) bool {
	switch op {
	case "eq", "ne":
		return true
	case "co", "sw", "ew":
		return t == TypeString || t == TypeReference || t == TypeBinary
	case "gt", "ge", "lt", "le":
		return t == TypeString || t == TypeReference || t == TypeInteger || t == TypeDecimal || t == TypeDateTime
	}
	return false
}

type litKind int

const (
	litString litKind = iota + 1
	litBool
	litNumber
	litTime
)

// literal is a typed comparison value.
type literal struct {
	kind  litKind
	s     string // litString: the value; litTime: as written
	fold  string // litString: lower-cased
	b     bool
	i     int64
	isInt bool
	f     float64
	t     time.Time
}

// value returns the literal as a resource value (for PATCH to create an
// element from a filter).
func (l literal) value() any {
	switch l.kind {
	case litBool:
		return l.b
	case litNumber:
		if l.isInt {
			return json.Number(strconv.FormatInt(l.i, 10))
		}
		return json.Number(strconv.FormatFloat(l.f, 'g', -1, 64))
	}
	return l.s
}

func makeLiteral(a *Attribute, v any) (literal, string) {
	switch a.Type {
	case TypeString, TypeReference, TypeBinary:
		s, ok := v.(string)
		if !ok {
			return literal{}, "the value must be a string"
		}
		s, ok = unescape(s)
		if !ok {
			return literal{}, "invalid string escape"
		}
		return literal{kind: litString, s: s, fold: strings.ToLower(s)}, ""
	case TypeBoolean:
		if s, ok := v.(string); ok {
			v, _ = unescape(s)
		}
		b, ok := toBool(v)
		if !ok {
			return literal{}, "the value must be true or false"
		}
		return literal{kind: litBool, b: b}, ""
	case TypeInteger, TypeDecimal:
		i, isInt, f, ok := numeric(v)
		if !ok {
			return literal{}, "the value must be a number"
		}
		return literal{kind: litNumber, i: i, isInt: isInt, f: f}, ""
	case TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return literal{}, "the value must be a dateTime string"
		}
		s, _ = unescape(s)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return literal{}, fmt.Sprintf("%q is not an RFC 3339 dateTime", s)
		}
		return literal{kind: litTime, s: s, t: t}, ""
	}
	return literal{}, fmt.Sprintf("cannot compare a %s attribute", a.Type)
}

// unescape decodes the JSON escapes the parser leaves in string literals.
func unescape(s string) (string, bool) {
	if !strings.ContainsRune(s, '\\') {
		return s, true
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return "", false
	}
	return out, true
}

// evaluator carries one MatchWith call's state.
type evaluator struct {
	hooks   Hooks
	members *Attribute
	err     error
	loaded  bool
	elems   []any
}

func (ev *evaluator) fail(err error) {
	if ev.err == nil {
		ev.err = err
	}
}

// membersMap returns a stand-in resource holding only the members listed
// by the Members hook (none without the hook).
func (ev *evaluator) membersMap() map[string]any {
	if !ev.loaded {
		ev.loaded = true
		if ev.hooks.Members != nil {
			ids, err := ev.hooks.Members()
			if err != nil {
				ev.fail(fmt.Errorf("filter: list members: %w", err))
			}
			ev.elems = make([]any, 0, len(ids))
			for _, id := range ids {
				ev.elems = append(ev.elems, map[string]any{"value": id})
			}
		}
	}
	if ev.elems == nil {
		return map[string]any{}
	}
	return map[string]any{ev.members.Name: ev.elems}
}

// needsMembers reports whether p is the members attribute of a resource
// that does not carry it.
func (ev *evaluator) needsMembers(p AttrPath, res map[string]any) bool {
	if ev.members == nil || p.Attr != ev.members {
		return false
	}
	_, ok := lookupKey(res, ev.members.Name)
	return !ok
}

func (ev *evaluator) isMember(id string) bool {
	ok, err := ev.hooks.IsMember(id)
	if err != nil {
		ev.fail(fmt.Errorf("filter: is member %q: %w", id, err))
		return false
	}
	return ok
}

type node interface {
	match(ev *evaluator, res map[string]any) bool
}

type andNode struct{ l, r node }

func (n *andNode) match(ev *evaluator, res map[string]any) bool {
	return n.l.match(ev, res) && n.r.match(ev, res)
}

type orNode struct{ l, r node }

func (n *orNode) match(ev *evaluator, res map[string]any) bool {
	return n.l.match(ev, res) || n.r.match(ev, res)
}

type notNode struct{ x node }

func (n *notNode) match(ev *evaluator, res map[string]any) bool {
	return !n.x.match(ev, res)
}

// cmpNode compares the values at path with a literal (op is one of pr eq
// co sw ew gt ge lt le; ne is compiled as not eq). With rel, res is an
// element of a multi-valued complex attribute and the value is its
// sub-attribute leaf.
type cmpNode struct {
	path AttrPath
	leaf *Attribute
	op   string
	lit  literal
	rel  bool
}

func (n *cmpNode) indexKey() (IndexKey, bool) {
	if n.rel || n.op != "eq" || n.lit.kind != litString || n.path.Ext {
		return IndexKey{}, false
	}
	switch name := n.path.String(); name {
	case "id", "userName", "externalId", "displayName", "emails.value":
		return IndexKey{Name: name, Value: n.lit.s}, true
	}
	return IndexKey{}, false
}

func (n *cmpNode) match(ev *evaluator, res map[string]any) bool {
	if n.rel {
		v, _ := lookupKey(res, n.leaf.Name)
		return n.testAny(v)
	}
	if ev.needsMembers(n.path, res) {
		if n.op == "eq" && n.lit.kind == litString && n.path.Sub != nil && strings.EqualFold(n.path.Sub.Name, "value") && ev.hooks.IsMember != nil {
			return ev.isMember(n.lit.s)
		}
		res = ev.membersMap()
	}
	c := containerOf(res, n.path, false)
	if c == nil {
		return false
	}
	v, _ := lookupKey(c, n.path.Attr.Name)
	if n.path.Sub == nil {
		return n.testAny(v)
	}
	switch t := v.(type) {
	case map[string]any:
		sv, _ := lookupKey(t, n.path.Sub.Name)
		return n.testAny(sv)
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				if sv, _ := lookupKey(m, n.path.Sub.Name); n.testAny(sv) {
					return true
				}
			}
		}
	}
	return false
}

// testAny tests a value, or for an array any of its elements.
func (n *cmpNode) testAny(v any) bool {
	if arr, ok := v.([]any); ok {
		if n.op == "pr" {
			return isPresent(arr)
		}
		for _, e := range arr {
			if n.test(e) {
				return true
			}
		}
		return false
	}
	return n.test(v)
}

func (n *cmpNode) test(v any) bool {
	if n.op == "pr" {
		return isPresent(v)
	}
	if v == nil {
		return false
	}
	switch n.lit.kind {
	case litString:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if n.leaf.CaseExact || n.leaf.Type == TypeBinary {
			return stringOp(n.op, s, n.lit.s)
		}
		// Fold with strings.ToLower, as the store folds index keys, so
		// that Plan's lookups find every resource eq matches.
		return stringOp(n.op, strings.ToLower(s), n.lit.fold)
	case litBool:
		b, ok := toBool(v)
		return ok && n.op == "eq" && b == n.lit.b
	case litNumber:
		i, isInt, f, ok := numeric(v)
		if !ok {
			return false
		}
		var c int
		if isInt && n.lit.isInt {
			c = cmpOrdered(i, n.lit.i)
		} else {
			c = cmpOrdered(f, n.lit.f)
		}
		return orderOp(n.op, c)
	case litTime:
		t, ok := toTime(v)
		if !ok {
			return false
		}
		return orderOp(n.op, t.Compare(n.lit.t))
	}
	return false
}

func stringOp(op, s, lit string) bool {
	switch op {
	case "eq":
		return s == lit
	case "co":
		return strings.Contains(s, lit)
	case "sw":
		return strings.HasPrefix(s, lit)
	case "ew":
		return strings.HasSuffix(s, lit)
	}
	return orderOp(op, strings.Compare(s, lit))
}

func orderOp(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// vpNode matches when an element of a complex attribute (the value itself
// for a single-valued one) matches the inner, element-relative filter.
type vpNode struct {
	path  AttrPath
	inner node
}

// memberID returns id when the value filter is exactly `value eq "id"`.
func (n *vpNode) memberID() (string, bool) {
	c, ok := n.inner.(*cmpNode)
	if !ok || c.op != "eq" || c.lit.kind != litString || !strings.EqualFold(c.leaf.Name, "value") {
		return "", false
	}
	return c.lit.s, true
}

func (n *vpNode) match(ev *evaluator, res map[string]any) bool {
	if ev.needsMembers(n.path, res) {
		if id, ok := n.memberID(); ok && ev.hooks.IsMember != nil {
			return ev.isMember(id)
		}
		res = ev.membersMap()
	}
	c := containerOf(res, n.path, false)
	if c == nil {
		return false
	}
	v, _ := lookupKey(c, n.path.Attr.Name)
	switch t := v.(type) {
	case map[string]any:
		return n.inner.match(ev, t)
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok && n.inner.match(ev, m) {
				return true
			}
		}
	}
	return false
}
