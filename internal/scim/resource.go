package scim

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// Decode reads a POST or PUT body for resource type rt: malformed JSON, or
// anything but one JSON object, is 400 invalidSyntax; the object is then
// checked and normalized by Normalize. Numbers are decoded as json.Number.
// The caller limits the body size.
func Decode(r io.Reader, rt *ResourceType) (map[string]any, error) {
	m, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	return Normalize(m, rt)
}

// decodeObject decodes exactly one JSON object with UseNumber.
func decodeObject(r io.Reader) (map[string]any, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrInvalidSyntax.Detailf("empty request body")
		}
		return nil, ErrInvalidSyntax.Detailf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, ErrInvalidSyntax.Detailf("malformed JSON: data after the top-level object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrInvalidSyntax.Detailf("request body must be a JSON object, got %s", jsonKind(v))
	}
	return m, nil
}

// Normalize checks a decoded resource against rt and returns a new,
// normalized map (in is not modified):
//   - "schemas" must be an array of strings including rt's core schema URN
//     (else 400 invalidSyntax); unknown URNs (Entra's ADSCIM Group URN,
//     typos) are dropped, and "schemas" is rebuilt as the core URN plus the
//     extensions that hold data;
//   - attribute names are case-insensitive and are rewritten to the
//     schema's spelling; URN-qualified and dotted names ("name.givenName")
//     are accepted, as are core attributes nested in an object under the
//     core URN, and an unqualified extension attribute name resolves to
//     the extension; unknown attributes and sub-attributes are dropped;
//   - readOnly attributes (id, meta, groups, manager.displayName) are
//     dropped; null means unassigned and is dropped; an empty array is
//     kept (so a PUT can tell "members":[] from no members key);
//   - values are type-checked (400 invalidValue): booleans also as the
//     strings "true"/"false" in any case, integers and decimals as JSON
//     numbers, dateTimes as RFC 3339 strings, binary as base64; a complex
//     attribute with a "value" sub-attribute given as a bare value becomes
//     {"value": v} (Entra's manager); a single value of a multi-valued
//     attribute becomes a one-element array; canonical values are not
//     enforced;
//   - required attributes (userName, Group displayName) must be present
//     and not "" (400 invalidValue), at most one element of a multi-valued
//     attribute may be primary (400 invalidValue).
func Normalize(in map[string]any, rt *ResourceType) (map[string]any, error) {
	if err := checkSchemas(in, rt.schema.id); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(in))
	for _, k := range sortedKeys(in) {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		p, ok := rt.Resolve(k)
		if !ok {
			// Some clients nest core attributes under the core URN.
			if obj, isObj := in[k].(map[string]any); isObj && strings.EqualFold(k, rt.schema.id) {
				for _, ik := range sortedKeys(obj) {
					if ip, ok := rt.resolveKey(rt.schema, ik); ok {
						if err := assignInput(out, ip, obj[ik]); err != nil {
							return nil, err
						}
					}
				}
			}
			continue
		}
		if p.Attr == nil {
			obj, isObj := in[k].(map[string]any)
			if in[k] == nil {
				continue
			}
			if !isObj {
				return nil, ErrInvalidValue.Detailf("%s: expected an object, got %s", p.Schema.id, jsonKind(in[k]))
			}
			for _, ik := range sortedKeys(obj) {
				ip, ok := rt.resolveKey(p.Schema, ik)
				if !ok {
					continue
				}
				if err := assignInput(out, ip, obj[ik]); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := assignInput(out, p, in[k]); err != nil {
			return nil, err
		}
	}
	if err := checkRequired(out, rt); err != nil {
		return nil, err
	}
	out["schemas"] = schemasOf(out, rt)
	return out, nil
}

// assignInput normalizes an input value and stores it at p in out,
// skipping readOnly targets and dotted names into multi-valued attributes.
func assignInput(out map[string]any, p AttrPath, v any) error {
	if p.Attr.Mutability == MutabilityReadOnly || (p.Sub != nil && p.Sub.Mutability == MutabilityReadOnly) {
		return nil
	}
	if p.Sub != nil {
		if p.Attr.MultiValued {
			return nil
		}
		nv, ok, err := normalizeValue(p.Sub, v, p.String())
		if err != nil || !ok {
			return err
		}
		c := containerOf(out, p, true)
		cur, _ := lookupKey(c, p.Attr.Name)
		m, isMap := cur.(map[string]any)
		if !isMap {
			m = map[string]any{}
		}
		m[p.Sub.Name] = nv
		setKey(c, p.Attr.Name, m)
		return nil
	}
	nv, ok, err := normalizeValue(p.Attr, v, p.String())
	if err != nil || !ok {
		return err
	}
	setKey(containerOf(out, p, true), p.Attr.Name, nv)
	return nil
}

func checkSchemas(in map[string]any, core string) error {
	v, ok := lookupKey(in, "schemas")
	if !ok || v == nil {
		return ErrInvalidSyntax.Detailf("\"schemas\" is required and must include %q", core)
	}
	list, isList := v.([]any)
	if !isList {
		return ErrInvalidSyntax.Detailf("\"schemas\" must be an array of URNs, got %s", jsonKind(v))
	}
	found := false
	for _, e := range list {
		s, isStr := e.(string)
		if !isStr {
			return ErrInvalidSyntax.Detailf("\"schemas\" must be an array of URNs, got an element that is %s", jsonKind(e))
		}
		if strings.EqualFold(s, core) {
			found = true
		}
	}
	if !found {
		return ErrInvalidSyntax.Detailf("\"schemas\" must include %q", core)
	}
	return nil
}

// schemasOf lists the core schema URN and the URNs of extensions that hold
// data in res.
func schemasOf(res map[string]any, rt *ResourceType) []any {
	out := []any{rt.schema.id}
	for _, e := range rt.exts {
		if v, ok := lookupKey(res, e.Schema.id); ok && isPresent(v) {
			out = append(out, e.Schema.id)
		}
	}
	return out
}

// checkRequired checks that required attributes and required extensions
// are present.
func checkRequired(res map[string]any, rt *ResourceType) error {
	for _, a := range rt.schema.attrs {
		if !a.Required {
			continue
		}
		if v, _ := lookupKey(res, a.Name); !isPresent(v) {
			return ErrInvalidValue.Detailf("attribute %q is required", a.Name)
		}
	}
	for _, e := range rt.exts {
		ext, _ := lookupKey(res, e.Schema.id)
		if e.Required && !isPresent(ext) {
			return ErrInvalidValue.Detailf("schema extension %q is required", e.Schema.id)
		}
		m, _ := ext.(map[string]any)
		if m == nil {
			continue
		}
		for _, a := range e.Schema.attrs {
			if !a.Required {
				continue
			}
			if v, _ := lookupKey(m, a.Name); !isPresent(v) {
				return ErrInvalidValue.Detailf("attribute %q is required", e.Schema.id+":"+a.Name)
			}
		}
	}
	return nil
}

// slots lists every top-level attribute rt defines: core, common and
// extension attributes.
func slots(rt *ResourceType) []AttrPath { return rt.slots }

func buildSlots(rt *ResourceType) []AttrPath {
	var out []AttrPath
	for _, a := range rt.schema.attrs {
		out = append(out, AttrPath{Schema: rt.schema, Attr: a})
	}
	for _, a := range commonSchema.attrs {
		if rt.schema.Attribute(a.Name) == nil {
			out = append(out, AttrPath{Schema: rt.schema, Attr: a})
		}
	}
	for _, e := range rt.exts {
		for _, a := range e.Schema.attrs {
			out = append(out, AttrPath{Schema: e.Schema, Ext: true, Attr: a})
		}
	}
	return out
}

// get returns the value of the top-level attribute p in res.
func get(res map[string]any, p AttrPath) any {
	c := containerOf(res, p, false)
	if c == nil {
		return nil
	}
	v, _ := lookupKey(c, p.Attr.Name)
	return v
}

// put sets the top-level attribute p, or removes it for nil or an empty
// object (dropping an extension object that becomes empty). An empty array
// is stored as is.
func put(res map[string]any, p AttrPath, v any) {
	if m, isMap := v.(map[string]any); v == nil || isMap && !isPresent(m) {
		c := containerOf(res, p, false)
		if c == nil {
			return
		}
		deleteKey(c, p.Attr.Name)
		if p.Ext && len(c) == 0 {
			deleteKey(res, p.Schema.id)
		}
		return
	}
	setKey(containerOf(res, p, true), p.Attr.Name, v)
}

// Replace implements PUT (RFC 7644 §3.5.1): new (a Decode result) replaces
// old, except that readOnly attributes (id, meta, groups) keep old's
// values, writeOnly attributes (password) omitted from new keep old's
// values (clients cannot read them back), and immutable attributes (and
// immutable sub-attributes of single-valued complex attributes) keep old's
// value when omitted and must not change when given (400 mutability). Everything else omitted from new is cleared. Neither map
// is modified. For groups, membership is the caller's: read it from the
// decoded body with MemberIDs.
func Replace(old, new map[string]any, rt *ResourceType) (map[string]any, error) {
	out := Clone(new)
	for _, p := range slots(rt) {
		if p.Attr.Name == "schemas" {
			continue
		}
		ov, nv := get(old, p), get(out, p)
		switch p.Attr.Mutability {
		case MutabilityReadOnly:
			put(out, p, cloneValue(ov))
		case MutabilityWriteOnly:
			if !isPresent(nv) {
				put(out, p, cloneValue(ov))
			}
		case MutabilityImmutable:
			if !isPresent(nv) {
				put(out, p, cloneValue(ov))
			}
		default:
			keepImmutableSubs(ov, out, p)
		}
	}
	if err := checkImmutable(old, out, rt); err != nil {
		return nil, err
	}
	out["schemas"] = schemasOf(out, rt)
	return out, nil
}

// keepImmutableSubs copies into out the immutable sub-attributes of the
// single-valued complex attribute p that old has and out omits.
func keepImmutableSubs(ov any, out map[string]any, p AttrPath) {
	if p.Attr.Type != TypeComplex || p.Attr.MultiValued {
		return
	}
	om, _ := ov.(map[string]any)
	for _, sa := range p.Attr.SubAttributes {
		if sa.Mutability != MutabilityImmutable {
			continue
		}
		bs, _ := lookupKey(om, sa.Name)
		cur, _ := get(out, p).(map[string]any)
		if as, _ := lookupKey(cur, sa.Name); !isPresent(bs) || isPresent(as) {
			continue
		}
		if cur == nil {
			cur = map[string]any{}
		}
		cur[sa.Name] = cloneValue(bs)
		put(out, p, cur)
	}
}

// checkImmutable fails with 400 mutability when an immutable attribute, or
// an immutable sub-attribute of a single-valued complex attribute, had a
// value in before and has a different one in after.
func checkImmutable(before, after map[string]any, rt *ResourceType) error {
	for _, p := range slots(rt) {
		bv, av := get(before, p), get(after, p)
		if p.Attr.Mutability == MutabilityImmutable {
			if isPresent(bv) && !equalAttr(p.Attr, bv, av) {
				return ErrMutability.Detailf("attribute %q is immutable", p.String())
			}
			continue
		}
		if p.Attr.Type != TypeComplex || p.Attr.MultiValued {
			continue
		}
		bm, _ := bv.(map[string]any)
		am, _ := av.(map[string]any)
		for _, sa := range p.Attr.SubAttributes {
			if sa.Mutability != MutabilityImmutable {
				continue
			}
			bs, _ := lookupKey(bm, sa.Name)
			as, _ := lookupKey(am, sa.Name)
			if isPresent(bs) && !equalAttr(sa, bs, as) {
				return ErrMutability.Detailf("attribute %q is immutable", p.String()+"."+sa.Name)
			}
		}
	}
	return nil
}

// attrReader reads the top-level attributes of one resource as get does.
// When every key of the resource (and of its extension objects) is
// spelled as the schemas spell it, as Normalize and Patch leave them, an
// attribute not found under its own name is absent, and the reader skips
// the case-insensitive scan get makes of the whole map for it.
type attrReader struct {
	res     map[string]any
	spelled bool
}

func newAttrReader(res map[string]any, rt *ResourceType) attrReader {
	for k, v := range res {
		subs, known := rt.spelled[k]
		if !known {
			return attrReader{res: res}
		}
		if m, isMap := v.(map[string]any); isMap && subs != nil {
			for sk := range m {
				if !subs[sk] {
					return attrReader{res: res}
				}
			}
		}
	}
	return attrReader{res: res, spelled: true}
}

func (r attrReader) get(p AttrPath) any {
	if !r.spelled {
		return get(r.res, p)
	}
	if !p.Ext {
		return r.res[p.Attr.Name]
	}
	c, _ := r.res[p.Schema.id].(map[string]any)
	return c[p.Attr.Name]
}

// Change is one top-level attribute whose value differs between two
// versions of a resource: Attr is a core attribute's name or an extension
// attribute's URN-qualified name, Old and New its values (nil when
// absent).
type Change struct {
	Attr     string
	Old, New any
}

// Changes lists, sorted by Attr, the top-level attributes whose values
// differ (exactly: a change of case is a change) between before and after,
// either of which may be nil. It is O(attributes of the schema), without
// a scan of either resource per attribute.
func Changes(before, after map[string]any, rt *ResourceType) []Change {
	b, a := newAttrReader(before, rt), newAttrReader(after, rt)
	var out []Change
	for _, p := range slots(rt) {
		if p.Attr.Name == "schemas" {
			continue
		}
		if ov, nv := b.get(p), a.get(p); !sameValue(ov, nv) {
			out = append(out, Change{Attr: p.String(), Old: ov, New: nv})
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Attr, y.Attr) })
	return out
}

// changedAttrs is the names of Changes.
func changedAttrs(before, after map[string]any, rt *ResourceType) []string {
	var out []string
	for _, c := range Changes(before, after, rt) {
		out = append(out, c.Attr)
	}
	return out
}

// Changed lists, sorted, the top-level attributes whose values differ
// between two versions of a resource (for reports): core attributes by
// name ("name", "emails"), extension attributes URN-qualified. Values are
// compared exactly, so a change of case counts.
func Changed(before, after map[string]any, rt *ResourceType) []string {
	return changedAttrs(before, after, rt)
}

// IndexValues returns the non-empty string values at path ("userName",
// "externalId", "emails.value", "displayName") in res, deduplicated
// case-insensitively, for the store's unique indexes. An unknown path
// yields nothing.
func IndexValues(res map[string]any, rt *ResourceType, path string) []string {
	p, ok := rt.Resolve(path)
	if !ok || p.Attr == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range p.Values(res) {
		s, isStr := v.(string)
		if !isStr || s == "" || seen[strings.ToLower(s)] {
			continue
		}
		seen[strings.ToLower(s)] = true
		out = append(out, s)
	}
	return out
}

// StringAt returns the first non-empty string value at path in res, or "".
func StringAt(res map[string]any, rt *ResourceType, path string) string {
	if vs := IndexValues(res, rt, path); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// MemberIDs returns the member ids of a decoded group (the "value" of each
// "members" element), deduplicated in order, and whether the "members" key
// was present at all: a PUT with "members":[] empties the group, a PUT
// without "members" leaves membership alone.
func MemberIDs(res map[string]any) ([]string, bool) {
	v, ok := lookupKey(res, "members")
	if !ok || v == nil {
		return nil, false
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range list {
		var id string
		switch t := e.(type) {
		case string:
			id = t
		case map[string]any:
			id, _ = lookupValue(t, "value").(string)
		}
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, true
}

func lookupValue(m map[string]any, key string) any {
	v, _ := lookupKey(m, key)
	return v
}
