package scim

import (
	"bytes"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

const maxPathLen = 1024

// Patch is a parsed PatchOp request body (RFC 7644 §3.5.2).
type Patch struct {
	Operations []Operation
}

// Operation is one PATCH operation. ParsePatch checks and parses them;
// operations built by hand are checked by Apply (with the same errors).
type Operation struct {
	// Op is "add", "replace" or "remove", lower-cased whatever the client
	// sent ("Replace", "Add").
	Op string
	// Path is the path as sent (trimmed), "" when absent.
	Path string
	// Value is the value decoded with UseNumber; nil when absent or null.
	Value any

	hasValue     bool
	path         *patchPath
	prepared     bool   // checked and parsed by prepare
	preparedPath string // the Path prepare parsed
}

// patchPath is a syntactically checked PATCH path:
// attrPath [ "[" valFilter "]" [ "." subAttr ] ].
type patchPath struct {
	attr      filter.AttributePath
	hasFilter bool
	filter    string            // the value filter text
	ast       filter.Expression // the value filter, parsed
	sub       string
}

// MemberDelta is what a PATCH does to a group's membership, so that the
// caller can update a large group in O(changed) without a member list:
// when Replace is false, add the ids in Add and remove those in Remove
// (the two are disjoint); when Replace is true, the member set becomes
// exactly Add (Remove is empty).
type MemberDelta struct {
	Add    []string
	Remove []string
	// Replace: the new member set is Add.
	Replace bool
	// RemoveAll: a remove operation without value cleared the members
	// (informational: it implies Replace).
	RemoveAll bool
}

// Result is the outcome of applying a Patch.
type Result struct {
	// Resource is the patched copy, with "schemas" rebuilt.
	Resource map[string]any
	// Changed lists, sorted, the top-level attributes whose values
	// changed (extension attributes URN-qualified), plus "members" when
	// the membership delta is not empty. Empty when the PATCH changed
	// nothing.
	Changed []string
	// Members is the membership delta of a group PATCH, nil when no
	// operation addressed members.
	Members *MemberDelta
}

// ParsePatch parses a PatchOp body. Malformed JSON, a missing or empty
// "Operations" (also spelled "operations"), an operation that is not an
// object or an unknown op are 400 invalidSyntax. "schemas", when present,
// must include the PatchOp URN (invalidSyntax); when absent it is
// tolerated. Op names are case-insensitive ("Replace"). A path that does
// not parse is 400 invalidPath; remove without a path is 400 noTarget;
// add without a value, replace without a "value" key, or a path-less
// add/replace whose value is not an object are 400 invalidValue.
func ParsePatch(body []byte) (*Patch, error) {
	m, err := decodeObject(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if v, ok := lookupKey(m, "schemas"); ok && v != nil {
		list, _ := v.([]any)
		found := false
		for _, e := range list {
			if s, _ := e.(string); strings.EqualFold(s, SchemaPatchOp) {
				found = true
			}
		}
		if !found {
			return nil, ErrInvalidSyntax.Detailf("\"schemas\" must include %q", SchemaPatchOp)
		}
	}
	ov, ok := lookupKey(m, "Operations")
	if !ok || ov == nil {
		return nil, ErrInvalidSyntax.Detailf("\"Operations\" is required")
	}
	list, isList := ov.([]any)
	if !isList {
		return nil, ErrInvalidSyntax.Detailf("\"Operations\" must be an array, got %s", jsonKind(ov))
	}
	if len(list) == 0 {
		return nil, ErrInvalidSyntax.Detailf("\"Operations\" must hold at least one operation")
	}
	p := &Patch{Operations: make([]Operation, 0, len(list))}
	for i, e := range list {
		op, err := parseOperation(e)
		if err != nil {
			return nil, withIndex(i, err)
		}
		p.Operations = append(p.Operations, op)
	}
	return p, nil
}

func parseOperation(e any) (Operation, *Error) {
	om, ok := e.(map[string]any)
	if !ok {
		return Operation{}, ErrInvalidSyntax.Detailf("an operation must be an object, got %s", jsonKind(e))
	}
	opv, _ := lookupKey(om, "op")
	s, _ := opv.(string)
	op := Operation{Op: s}
	if pv, ok := lookupKey(om, "path"); ok && pv != nil {
		ps, isStr := pv.(string)
		if !isStr {
			return Operation{}, ErrInvalidPath.Detailf("\"path\" must be a string, got %s", jsonKind(pv))
		}
		op.Path = ps
	}
	v, hasKey := lookupKey(om, "value")
	op.Value = v
	if err := op.prepare(hasKey); err != nil {
		return Operation{}, err
	}
	return op, nil
}

// prepare checks op, normalizes Op and Path and parses the path.
// hasValueKey tells whether the body had a "value" key (replace with an
// explicit null removes; replace without a value is an error).
func (op *Operation) prepare(hasValueKey bool) *Error {
	raw := op.Op
	op.Op = strings.ToLower(strings.TrimSpace(op.Op))
	switch op.Op {
	case "add", "replace", "remove":
	default:
		return ErrInvalidSyntax.Detailf("\"op\" must be add, replace or remove, got %s", quoteShort(raw))
	}
	op.Path = strings.TrimSpace(op.Path)
	op.path = nil
	if op.Path != "" {
		pp, err := parsePatchPath(op.Path)
		if err != nil {
			return err
		}
		op.path = pp
	}
	op.hasValue = op.Value != nil
	switch {
	case op.Op == "remove" && op.path == nil:
		return ErrNoTarget.Detailf("remove requires a path")
	case op.Op == "add" && !op.hasValue:
		return ErrInvalidValue.Detailf("add requires a value")
	case op.Op == "replace" && !hasValueKey:
		return ErrInvalidValue.Detailf("replace requires a value")
	case op.Op != "remove" && op.path == nil:
		if _, isObj := op.Value.(map[string]any); !isObj {
			return ErrInvalidValue.Detailf("without a path, the value must be an object of attributes, got %s", jsonKind(op.Value))
		}
	}
	op.prepared = true
	op.preparedPath = op.Path
	return nil
}

func parsePatchPath(s string) (*patchPath, *Error) {
	if len(s) > maxPathLen {
		return nil, ErrInvalidPath.Detailf("path longer than %d bytes", maxPathLen)
	}
	i := strings.IndexByte(s, '[')
	if i < 0 {
		ap, err := parseAttrPath(s)
		if err != nil {
			return nil, ErrInvalidPath.Detailf("invalid path %s", quoteShort(s))
		}
		return &patchPath{attr: ap}, nil
	}
	ap, err := parseAttrPath(strings.TrimRight(s[:i], " "))
	if err != nil {
		return nil, ErrInvalidPath.Detailf("invalid path %s", quoteShort(s))
	}
	end, detail := findBracketEnd(s, i+1)
	if detail != "" {
		return nil, ErrInvalidPath.Detailf("invalid path %s: %s", quoteShort(s), detail)
	}
	pp := &patchPath{attr: ap, hasFilter: true, filter: strings.TrimSpace(s[i+1 : end])}
	if pp.filter == "" {
		return nil, ErrInvalidPath.Detailf("invalid path %s: empty value filter", quoteShort(s))
	}
	if rest := s[end+1:]; rest != "" {
		if rest[0] != '.' || !validAttrName(rest[1:]) {
			return nil, ErrInvalidPath.Detailf("invalid path %s: expected .subAttribute after \"]\"", quoteShort(s))
		}
		pp.sub = rest[1:]
	}
	ast, _, e := parseFilterSyntax(pp.filter, false)
	if e != nil {
		return nil, ErrInvalidPath.Detailf("invalid path %s: %s", quoteShort(s), e.Detail)
	}
	pp.ast = ast
	return pp, nil
}

func withIndex(i int, err error) *Error {
	e := AsError(err)
	return &Error{Status: e.Status, ScimType: e.ScimType, Detail: "Operations[" + strconv.Itoa(i) + "]: " + e.Detail}
}

// Apply applies the operations in order to a copy of res; res is never
// modified, and on error nothing is returned. rt must be the resource
// type of res.
//
// Semantics (RFC 7644 §3.5.2, with the tolerances Okta and Entra ID need):
//   - add/replace without a path take an object whose keys are attribute
//     paths, also dotted ("name.givenName") or URN-qualified; readOnly
//     (Okta's "id") and unknown keys are ignored;
//   - a readOnly target addressed by a path is 400 mutability; changing
//     an immutable value is 400 mutability;
//   - add to a multi-valued attribute appends, merging an element equal to
//     an existing one (primary aside); replace without a filter replaces
//     all values; add or replace on a complex attribute merges
//     sub-attributes;
//   - a value filter selects elements: replace and add set the
//     sub-attribute (or merge the value) in every match and, when nothing
//     matches and the filter is a conjunction of eq comparisons, create
//     the element from them (`emails[type eq "work"].value`); otherwise
//     400 noTarget. Remove with a filter that matches nothing is 400
//     noTarget; remove of an absent attribute is a no-op;
//   - remove with a value on a multi-valued attribute removes the elements
//     matching the given values;
//   - setting primary true unsets it on the other elements; two primaries
//     are 400 invalidValue; removing a required attribute is 400
//     invalidValue;
//   - values are checked and converted as by Normalize (400 invalidValue).
//
// For a group-like type (a core "members" attribute), operations on
// members never read or write res["members"]: they build Result.Members.
// Member values are ids: strings or objects with a string "value". A
// remove of path "members" with a value removes those members (Entra ID),
// without a value removes all; members[value eq "id"] (or ors of such)
// selects members; removing a member that is absent is not an error.
func (p *Patch) Apply(res map[string]any, rt *ResourceType) (*Result, error) {
	a := &applier{rt: rt, res: Clone(res)}
	if a.res == nil {
		a.res = map[string]any{}
	}
	for i := range p.Operations {
		op := p.Operations[i]
		if !op.prepared || op.Path != op.preparedPath {
			// Built or changed by hand, not by ParsePatch: check it
			// (on this copy; the Patch is never modified).
			if err := op.prepare(true); err != nil {
				return nil, withIndex(i, err)
			}
		}
		if err := a.apply(&op); err != nil {
			return nil, withIndex(i, err)
		}
	}
	if err := a.check(res); err != nil {
		return nil, err
	}
	a.res["schemas"] = schemasOf(a.res, rt)
	r := &Result{Resource: a.res, Changed: changedAttrs(res, a.res, rt)}
	if a.mb != nil {
		r.Members = a.mb.delta()
		if d := r.Members; d.Replace || len(d.Add) > 0 || len(d.Remove) > 0 {
			r.Changed = append(r.Changed, "members")
		}
	}
	return r, nil
}

type applier struct {
	rt  *ResourceType
	res map[string]any
	mb  *memberBuf
}

// target is a resolved PATCH path.
type target struct {
	path   AttrPath
	filter node           // value filter, nil without one
	eqs    map[string]any // element template from the filter's eq conjuncts; nil when not creatable
}

func (a *applier) apply(op *Operation) error {
	if op.path == nil {
		obj, _ := op.Value.(map[string]any)
		return a.setObject(op.Op, nil, obj)
	}
	t, err := a.target(op.path)
	if err != nil {
		return err
	}
	if p := t.path; p.Attr != nil {
		if p.Attr.Mutability == MutabilityReadOnly || (p.Sub != nil && p.Sub.Mutability == MutabilityReadOnly) {
			return ErrMutability.Detailf("attribute %q is readOnly", p.String())
		}
	}
	if a.isMembers(t.path) {
		return a.members(op, t)
	}
	if op.Op == "remove" {
		return a.remove(t, op)
	}
	return a.set(op.Op, t, op.Value)
}

func (a *applier) target(pp *patchPath) (target, error) {
	ap := pp.attr
	p, ok := a.rt.resolveParts(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if !ok {
		return target{}, ErrInvalidPath.Detailf("unknown attribute %q", ap.String())
	}
	t := target{path: p}
	if !pp.hasFilter {
		return t, nil
	}
	if p.Attr == nil || p.Sub != nil || p.Attr.Type != TypeComplex {
		return target{}, ErrInvalidPath.Detailf("%q is not a complex attribute: it cannot take a value filter", ap.String())
	}
	n, e := compileValueFilter(pp.ast, a.rt, p.Attr)
	if e != nil {
		return target{}, ErrInvalidPath.Detailf("value filter of %q: %s", p.String(), e.Detail)
	}
	t.filter, t.eqs = n, equalities(n)
	if pp.sub != "" {
		t.path.Sub = p.Attr.Sub(pp.sub)
		if t.path.Sub == nil {
			return target{}, ErrInvalidPath.Detailf("unknown attribute %q", p.String()+"."+pp.sub)
		}
	}
	return t, nil
}

// equalities returns the element described by a value filter made only of
// eq comparisons joined by and, or nil.
func equalities(n node) map[string]any {
	out := map[string]any{}
	for _, c := range conjuncts(n, nil) {
		cmp, ok := c.(*cmpNode)
		if !ok || !cmp.rel || cmp.op != "eq" || cmp.lit.kind == 0 {
			return nil
		}
		out[cmp.leaf.Name] = cmp.lit.value()
	}
	return out
}

func (a *applier) isMembers(p AttrPath) bool {
	return a.rt.members != nil && !p.Ext && p.Attr == a.rt.members
}

// setObject applies a path-less add/replace value (scope nil) or the value
// of a whole extension (scope is the extension schema).
func (a *applier) setObject(op string, scope *Schema, obj map[string]any) error {
	for _, k := range sortedKeys(obj) {
		var p AttrPath
		var ok bool
		if scope == nil {
			if strings.EqualFold(k, "schemas") {
				continue
			}
			p, ok = a.rt.Resolve(k)
		} else {
			p, ok = a.rt.resolveKey(scope, k)
		}
		if !ok {
			continue
		}
		if p.Attr == nil {
			if err := a.set(op, target{path: p}, obj[k]); err != nil {
				return err
			}
			continue
		}
		if p.Attr.Mutability == MutabilityReadOnly || (p.Sub != nil && p.Sub.Mutability == MutabilityReadOnly) {
			continue
		}
		if a.isMembers(p) {
			if p.Sub != nil {
				return ErrMutability.Detailf("attribute %q is immutable", p.String())
			}
			ids, err := memberIDsOf(obj[k])
			if err != nil {
				return err
			}
			if op == "replace" {
				a.memberBuf().clear(false)
			}
			a.memberBuf().add(ids)
			continue
		}
		if err := a.set(op, target{path: p}, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) set(op string, t target, value any) error {
	p := t.path
	if p.Attr == nil {
		if value == nil {
			if op == "replace" {
				deleteKey(a.res, p.Schema.id)
			}
			return nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return ErrInvalidValue.Detailf("%s: expected an object, got %s", p.Schema.id, jsonKind(value))
		}
		return a.setObject(op, p.Schema, obj)
	}
	c := containerOf(a.res, p, true)
	defer a.dropEmptyExt(p)
	switch {
	case t.filter != nil:
		return a.setFiltered(op, t, c, value)
	case p.Sub != nil:
		return a.setSub(op, p, c, value)
	}
	return a.setAttr(op, p, c, value)
}

func (a *applier) dropEmptyExt(p AttrPath) {
	if !p.Ext {
		return
	}
	if v, ok := lookupKey(a.res, p.Schema.id); ok {
		if m, isMap := v.(map[string]any); !isMap || len(m) == 0 {
			deleteKey(a.res, p.Schema.id)
		}
	}
}

func (a *applier) setAttr(op string, p AttrPath, c map[string]any, value any) error {
	attr := p.Attr
	nv, present, err := normalizeValue(attr, value, p.String())
	if err != nil {
		return err
	}
	if list, isList := nv.([]any); !present || isList && len(list) == 0 {
		if op == "replace" {
			deleteKey(c, attr.Name)
		}
		return nil
	}
	switch {
	case attr.MultiValued:
		add := nv.([]any)
		if op == "replace" {
			setKey(c, attr.Name, add)
			return nil
		}
		cur := elemsOf(c, attr.Name)
		if countPrimary(attr, add) > 0 {
			clearPrimary(cur, nil)
		}
		for _, e := range add {
			cur = appendElem(attr, cur, e)
		}
		setKey(c, attr.Name, cur)
	case attr.Type == TypeComplex:
		cur, _ := lookupValue(c, attr.Name).(map[string]any)
		if cur == nil {
			cur = map[string]any{}
		}
		for k, v := range nv.(map[string]any) {
			setKey(cur, k, v)
		}
		setKey(c, attr.Name, cur)
	default:
		setKey(c, attr.Name, nv)
	}
	return nil
}

func (a *applier) setSub(op string, p AttrPath, c map[string]any, value any) error {
	attr, sub := p.Attr, p.Sub
	nv, present, err := normalizeValue(sub, value, p.String())
	if err != nil {
		return err
	}
	if !attr.MultiValued {
		m, _ := lookupValue(c, attr.Name).(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if present {
			setKey(m, sub.Name, nv)
		} else if op == "replace" {
			deleteKey(m, sub.Name)
		}
		if len(m) == 0 {
			deleteKey(c, attr.Name)
		} else {
			setKey(c, attr.Name, m)
		}
		return nil
	}
	elems := elemsOf(c, attr.Name)
	switch {
	case !present:
		if op == "replace" {
			for _, e := range elems {
				if m, ok := e.(map[string]any); ok {
					deleteKey(m, sub.Name)
				}
			}
		}
	case op == "add" || len(elems) == 0:
		e := map[string]any{sub.Name: nv}
		if isPrimary(e) {
			clearPrimary(elems, nil)
		}
		elems = appendElem(attr, elems, e)
	default:
		for _, e := range elems {
			if m, ok := e.(map[string]any); ok {
				setKey(m, sub.Name, nv)
			}
		}
	}
	writeElems(c, attr.Name, elems)
	return nil
}

func (a *applier) setFiltered(op string, t target, c map[string]any, value any) error {
	p := t.path
	attr := p.Attr
	elems, matched := matchElems(c, attr, t.filter)
	var patch map[string]any
	if p.Sub != nil {
		nv, present, err := normalizeValue(p.Sub, value, p.String())
		if err != nil {
			return err
		}
		if !present {
			if op == "replace" {
				for _, i := range matched {
					deleteKey(elems[i].(map[string]any), p.Sub.Name)
				}
				writeFiltered(c, attr, elems)
			}
			return nil
		}
		patch = map[string]any{p.Sub.Name: nv}
	} else {
		nv, present, err := normalizeSingle(attr, value, p.String())
		if err != nil {
			return err
		}
		if !present {
			if op == "replace" {
				writeFiltered(c, attr, removeIndexes(elems, matched))
			}
			return nil
		}
		patch = nv.(map[string]any)
	}
	if len(matched) == 0 {
		if t.eqs == nil {
			return ErrNoTarget.Detailf("no value of %q matches the filter, and the filter does not describe a value to create", p.Attr.Name)
		}
		e := cloneValue(t.eqs).(map[string]any)
		elems = append(elems, e)
		matched = []int{len(elems) - 1}
	}
	for _, i := range matched {
		m := elems[i].(map[string]any)
		for k, v := range patch {
			setKey(m, k, cloneValue(v))
		}
	}
	if isPrimary(patch) {
		clearPrimary(elems, matched)
	}
	writeFiltered(c, attr, elems)
	return nil
}

func (a *applier) remove(t target, op *Operation) error {
	p := t.path
	if p.Attr == nil {
		deleteKey(a.res, p.Schema.id)
		return nil
	}
	c := containerOf(a.res, p, false)
	defer a.dropEmptyExt(p)
	attr := p.Attr
	if t.filter != nil {
		if c == nil {
			return ErrNoTarget.Detailf("no value of %q matches the filter", attr.Name)
		}
		elems, matched := matchElems(c, attr, t.filter)
		if len(matched) == 0 {
			return ErrNoTarget.Detailf("no value of %q matches the filter", attr.Name)
		}
		if p.Sub != nil {
			for _, i := range matched {
				deleteKey(elems[i].(map[string]any), p.Sub.Name)
			}
		} else {
			elems = removeIndexes(elems, matched)
		}
		writeFiltered(c, attr, elems)
		return nil
	}
	if c == nil {
		return nil
	}
	if p.Sub != nil {
		if !attr.MultiValued {
			if m, ok := lookupValue(c, attr.Name).(map[string]any); ok {
				deleteKey(m, p.Sub.Name)
				if len(m) == 0 {
					deleteKey(c, attr.Name)
				}
			}
			return nil
		}
		elems := elemsOf(c, attr.Name)
		for _, e := range elems {
			if m, ok := e.(map[string]any); ok {
				deleteKey(m, p.Sub.Name)
			}
		}
		writeElems(c, attr.Name, elems)
		return nil
	}
	if op.hasValue && attr.MultiValued {
		nv, _, err := normalizeValue(attr, op.Value, p.String())
		if err != nil {
			return err
		}
		elems := elemsOf(c, attr.Name)
		kept := elems[:0]
		for _, e := range elems {
			if !matchesAny(attr, e, nv.([]any)) {
				kept = append(kept, e)
			}
		}
		writeElems(c, attr.Name, kept)
		return nil
	}
	deleteKey(c, attr.Name)
	return nil
}

// check runs the whole-resource checks after all operations.
func (a *applier) check(before map[string]any) error {
	if err := checkImmutable(before, a.res, a.rt); err != nil {
		return err
	}
	for _, p := range slots(a.rt) {
		v := get(a.res, p)
		if p.Attr.Required && isPresent(get(before, p)) && !isPresent(v) {
			return ErrInvalidValue.Detailf("required attribute %q cannot be removed", p.String())
		}
		if p.Attr.MultiValued {
			if list, ok := v.([]any); ok && countPrimary(p.Attr, list) > 1 {
				return ErrInvalidValue.Detailf("%s: at most one value may be primary", p.String())
			}
		}
	}
	return nil
}

// elemsOf returns the elements of a multi-valued attribute in c (a single
// value counts as one element).
func elemsOf(c map[string]any, name string) []any {
	v, ok := lookupKey(c, name)
	if !ok || v == nil {
		return nil
	}
	if list, isList := v.([]any); isList {
		return list
	}
	return []any{v}
}

// writeElems stores elements, dropping empty ones, and removes the
// attribute when none are left.
func writeElems(c map[string]any, name string, elems []any) {
	kept := make([]any, 0, len(elems))
	for _, e := range elems {
		if isPresent(e) {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		deleteKey(c, name)
		return
	}
	setKey(c, name, kept)
}

// matchElems returns the elements of complex attribute attr (a
// single-valued one as one element) and the indexes matching f.
func matchElems(c map[string]any, attr *Attribute, f node) ([]any, []int) {
	var elems []any
	if c != nil {
		if attr.MultiValued {
			elems = elemsOf(c, attr.Name)
		} else if m, ok := lookupValue(c, attr.Name).(map[string]any); ok {
			elems = []any{m}
		}
	}
	var ev evaluator
	var matched []int
	for i, e := range elems {
		if m, ok := e.(map[string]any); ok && f.match(&ev, m) {
			matched = append(matched, i)
		}
	}
	return elems, matched
}

func writeFiltered(c map[string]any, attr *Attribute, elems []any) {
	if attr.MultiValued {
		writeElems(c, attr.Name, elems)
		return
	}
	if len(elems) == 0 || !isPresent(elems[0]) {
		deleteKey(c, attr.Name)
		return
	}
	setKey(c, attr.Name, elems[0])
}

func removeIndexes(elems []any, idx []int) []any {
	drop := make(map[int]bool, len(idx))
	for _, i := range idx {
		drop[i] = true
	}
	out := make([]any, 0, len(elems))
	for i, e := range elems {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}

// clearPrimary sets primary to false on every element not in keep.
func clearPrimary(elems []any, keep []int) {
	for i, e := range elems {
		m, ok := e.(map[string]any)
		if !ok || !isPrimary(m) {
			continue
		}
		kept := false
		for _, k := range keep {
			kept = kept || k == i
		}
		if !kept {
			setKey(m, "primary", false)
		}
	}
}

// appendElem adds e to elems unless an element equal to it apart from
// "primary" exists; that element then takes e's primary flag, if e has one.
func appendElem(attr *Attribute, elems []any, e any) []any {
	for _, x := range elems {
		if sameElem(attr, x, e) {
			xm, xok := x.(map[string]any)
			em, eok := e.(map[string]any)
			if xok && eok {
				if p, ok := lookupKey(em, "primary"); ok {
					setKey(xm, "primary", p)
				}
			}
			return elems
		}
	}
	return append(elems, e)
}

// sameElem compares two elements of a multi-valued attribute, ignoring
// "primary".
func sameElem(attr *Attribute, x, y any) bool {
	if attr.Type != TypeComplex {
		single := *attr
		single.MultiValued = false
		return equalAttr(&single, x, y)
	}
	xm, xok := x.(map[string]any)
	ym, yok := y.(map[string]any)
	if !xok || !yok {
		return false
	}
	for _, sa := range attr.SubAttributes {
		if strings.EqualFold(sa.Name, "primary") {
			continue
		}
		if !equalAttr(sa, lookupValue(xm, sa.Name), lookupValue(ym, sa.Name)) {
			return false
		}
	}
	return true
}

// matchesAny reports whether element e matches one of the given values:
// for complex attributes, every sub-attribute a given value names is equal.
func matchesAny(attr *Attribute, e any, given []any) bool {
	for _, g := range given {
		gm, gok := g.(map[string]any)
		em, eok := e.(map[string]any)
		if !gok || !eok {
			if sameElem(attr, e, g) {
				return true
			}
			continue
		}
		all := true
		for k, gv := range gm {
			if !equalAttr(attr.Sub(k), gv, lookupValue(em, k)) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// members turns an operation on the members attribute into delta changes.
func (a *applier) members(op *Operation, t target) error {
	if t.path.Sub != nil {
		return ErrMutability.Detailf("attribute %q is immutable", t.path.String())
	}
	var selected []string
	if t.filter != nil {
		ids, ok := memberFilterIDs(t.filter)
		if !ok {
			return ErrInvalidPath.Detailf("a members filter must select members by id: members[value eq \"id\"]")
		}
		selected = ids
	}
	mb := a.memberBuf()
	switch op.Op {
	case "remove":
		switch {
		case t.filter != nil:
			mb.remove(selected)
		case op.hasValue:
			ids, err := memberIDsOf(op.Value)
			if err != nil {
				return err
			}
			mb.remove(ids)
		default:
			mb.clear(true)
		}
		return nil
	}
	ids, err := memberIDsOf(op.Value)
	if err != nil {
		return err
	}
	switch {
	case t.filter != nil && op.Op == "replace":
		mb.remove(selected)
	case t.filter == nil && op.Op == "replace":
		mb.clear(false)
	}
	mb.add(ids)
	return nil
}

// memberFilterIDs extracts the ids of a filter `value eq "a" or value eq
// "b" …`.
func memberFilterIDs(n node) ([]string, bool) {
	switch t := n.(type) {
	case *orNode:
		l, ok := memberFilterIDs(t.l)
		if !ok {
			return nil, false
		}
		r, ok := memberFilterIDs(t.r)
		return append(l, r...), ok
	case *cmpNode:
		if t.rel && t.op == "eq" && t.lit.kind == litString && strings.EqualFold(t.leaf.Name, "value") {
			return []string{t.lit.s}, true
		}
	}
	return nil, false
}

// memberIDsOf reads member ids from a PATCH value: an array (or a single
// item) of id strings or objects with a string "value".
func memberIDsOf(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	for i, e := range list {
		var id string
		switch t := e.(type) {
		case string:
			id = t
		case map[string]any:
			id, _ = lookupValue(t, "value").(string)
		}
		if id == "" {
			return nil, ErrInvalidValue.Detailf("members[%d]: a member must be an id string or an object with a string \"value\"", i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (a *applier) memberBuf() *memberBuf {
	if a.mb == nil {
		a.mb = &memberBuf{inAdd: map[string]bool{}, inRemove: map[string]bool{}}
	}
	return a.mb
}

// memberBuf accumulates membership changes in operation order; inAdd and
// inRemove are the truth, the slices keep first-seen order (stale entries
// are filtered out by delta).
type memberBuf struct {
	adds, rems        []string
	inAdd, inRemove   map[string]bool
	replace, clearAll bool
}

func (b *memberBuf) add(ids []string) {
	for _, id := range ids {
		delete(b.inRemove, id)
		if !b.inAdd[id] {
			b.inAdd[id] = true
			b.adds = append(b.adds, id)
		}
	}
}

func (b *memberBuf) remove(ids []string) {
	for _, id := range ids {
		delete(b.inAdd, id)
		if !b.replace && !b.inRemove[id] {
			b.inRemove[id] = true
			b.rems = append(b.rems, id)
		}
	}
}

func (b *memberBuf) clear(all bool) {
	b.replace = true
	b.clearAll = b.clearAll || all
	b.adds, b.rems = nil, nil
	b.inAdd, b.inRemove = map[string]bool{}, map[string]bool{}
}

func (b *memberBuf) delta() *MemberDelta {
	d := &MemberDelta{Replace: b.replace, RemoveAll: b.clearAll}
	seen := map[string]bool{}
	for _, id := range b.adds {
		if b.inAdd[id] && !seen[id] {
			seen[id] = true
			d.Add = append(d.Add, id)
		}
	}
	for _, id := range b.rems {
		if b.inRemove[id] && !seen[id] {
			seen[id] = true
			d.Remove = append(d.Remove, id)
		}
	}
	return d
}

// MembersDelta returns the membership change of a PATCH that does nothing
// but add or remove members of a group-like type: every operation is an
// add of path "members", or a remove of path "members" with a value or of
// members[value eq "id"]. Such a PATCH reads and changes nothing else of
// the resource, so a caller may apply its delta without the resource's
// current state: member additions and removals commute. ok is false when
// any operation does anything else (a replace, another attribute, a
// path-less value, a remove of every member); err is what Apply would
// answer for a bad member value or path.
func (p *Patch) MembersDelta(rt *ResourceType) (d *MemberDelta, ok bool, err error) {
	if rt.members == nil || len(p.Operations) == 0 {
		return nil, false, nil
	}
	a := &applier{rt: rt, res: map[string]any{}}
	for i := range p.Operations {
		op := p.Operations[i]
		if !op.prepared || op.Path != op.preparedPath {
			if err := op.prepare(true); err != nil {
				return nil, false, withIndex(i, err)
			}
		}
		if op.path == nil || (op.Op != "add" && op.Op != "remove") {
			return nil, false, nil
		}
		t, err := a.target(op.path)
		if err != nil {
			return nil, false, withIndex(i, err)
		}
		if !a.isMembers(t.path) || t.path.Sub != nil || (op.Op == "remove" && t.filter == nil && !op.hasValue) {
			return nil, false, nil
		}
		if err := a.members(&op, t); err != nil {
			return nil, false, withIndex(i, err)
		}
	}
	d = a.memberBuf().delta()
	if d.Replace {
		return nil, false, nil
	}
	return d, true, nil
}
