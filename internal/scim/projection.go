package scim

import "strings"

// Project returns the representation of res to send in a response, per
// the attributes and excludedAttributes parameters (RFC 7644 §3.4.2.5)
// and each attribute's "returned" characteristic:
//   - never-returned attributes (password) are never included;
//   - always-returned attributes (id, schemas) are always included;
//   - with attributes, only the listed attributes (and always ones) are
//     included; a sub-attribute path ("name.givenName", "emails.value")
//     keeps only that sub-attribute; an extension URN selects the whole
//     extension; request-returned attributes appear only when listed;
//   - otherwise default-returned attributes are included minus the
//     excluded ones (which may be sub-attributes);
//   - attribute lists may hold comma-separated items; unknown attributes
//     in them are ignored.
//
// Keys of res that rt does not define are dropped; "schemas" is rebuilt
// from the extensions left. res is not modified and the result shares
// nothing with it.
func Project(res map[string]any, rt *ResourceType, attributes, excludedAttributes []string) map[string]any {
	sel := newSelection(rt, attributes, excludedAttributes)
	out := make(map[string]any, len(res))
	for k, v := range res {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if ext := rt.extension(k); ext != nil {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			em := make(map[string]any, len(m))
			for ek, ev := range m {
				a := ext.Attribute(ek)
				if a == nil {
					continue
				}
				if pv, ok := sel.project(AttrPath{Schema: ext, Ext: true, Attr: a}, ev); ok {
					em[a.Name] = pv
				}
			}
			if len(em) > 0 {
				out[ext.id] = em
			}
			continue
		}
		a := rt.coreAttr(k)
		if a == nil {
			continue
		}
		if pv, ok := sel.project(AttrPath{Schema: rt.schema, Attr: a}, v); ok {
			out[a.Name] = pv
		}
	}
	out["schemas"] = schemasOf(out, rt)
	return out
}

// NeedsAttribute reports whether a response projected with attributes and
// excludedAttributes would include the top-level attribute name (when the
// resource has it), so that the caller can skip loading it: a GET
// /Groups?excludedAttributes=members need not read the member set.
func NeedsAttribute(rt *ResourceType, attributes, excludedAttributes []string, name string) bool {
	p, ok := rt.Resolve(name)
	if !ok || p.Attr == nil {
		return false
	}
	switch p.Attr.Returned {
	case ReturnedNever:
		return false
	case ReturnedAlways:
		return true
	}
	sel := newSelection(rt, attributes, excludedAttributes)
	whole, subs := sel.match(AttrPath{Schema: p.Schema, Ext: p.Ext, Attr: p.Attr})
	if sel.include {
		return whole || len(subs) > 0
	}
	return p.Attr.Returned != ReturnedRequest && !whole
}

// selection is a resolved attributes (include) or excludedAttributes list.
type selection struct {
	include bool
	paths   []AttrPath
}

func newSelection(rt *ResourceType, attributes, excluded []string) selection {
	if paths := resolveList(rt, attributes); len(paths) > 0 || hasItems(attributes) {
		return selection{include: true, paths: paths}
	}
	return selection{paths: resolveList(rt, excluded)}
}

func hasItems(list []string) bool {
	for _, s := range list {
		for _, item := range strings.Split(s, ",") {
			if strings.TrimSpace(item) != "" {
				return true
			}
		}
	}
	return false
}

func resolveList(rt *ResourceType, list []string) []AttrPath {
	var out []AttrPath
	for _, s := range list {
		for _, item := range strings.Split(s, ",") {
			if p, ok := rt.Resolve(strings.TrimSpace(item)); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// match reports whether the selection names attribute p as a whole (or its
// whole extension), and which of its sub-attributes it names.
func (s selection) match(p AttrPath) (whole bool, subs map[string]bool) {
	for _, q := range s.paths {
		switch {
		case q.Attr == nil:
			whole = whole || (p.Ext && q.Schema == p.Schema)
		case q.Attr == p.Attr && q.Ext == p.Ext && q.Schema == p.Schema:
			if q.Sub == nil {
				whole = true
				continue
			}
			if subs == nil {
				subs = map[string]bool{}
			}
			subs[strings.ToLower(q.Sub.Name)] = true
		}
	}
	return whole, subs
}

// project returns the projected value of top-level attribute p, or false
// when it is left out.
func (s selection) project(p AttrPath, v any) (any, bool) {
	a := p.Attr
	if a.Returned == ReturnedNever || v == nil {
		return nil, false
	}
	if a.Returned == ReturnedAlways {
		return keepSubs(a, v, func(sa *Attribute) bool { return sa.Returned != ReturnedNever })
	}
	whole, subs := s.match(p)
	if s.include {
		switch {
		case whole:
			return keepSubs(a, v, func(sa *Attribute) bool {
				return sa.Returned != ReturnedNever && sa.Returned != ReturnedRequest
			})
		case len(subs) > 0:
			return keepSubs(a, v, func(sa *Attribute) bool {
				return sa.Returned == ReturnedAlways || (subs[strings.ToLower(sa.Name)] && sa.Returned != ReturnedNever)
			})
		}
		return nil, false
	}
	if whole || a.Returned == ReturnedRequest {
		return nil, false
	}
	return keepSubs(a, v, func(sa *Attribute) bool {
		if sa.Returned == ReturnedAlways {
			return true
		}
		return sa.Returned != ReturnedNever && sa.Returned != ReturnedRequest && !subs[strings.ToLower(sa.Name)]
	})
}

// keepSubs copies v keeping, for a complex attribute, the sub-attributes
// keep accepts (unknown sub-attributes are dropped); elements left empty
// are dropped, and an attribute left empty is left out.
func keepSubs(a *Attribute, v any, keep func(*Attribute) bool) (any, bool) {
	if a.Type != TypeComplex {
		return cloneValue(v), true
	}
	one := func(e any) (map[string]any, bool) {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		out := make(map[string]any, len(m))
		for k, sv := range m {
			if sa := a.Sub(k); sa != nil && keep(sa) && sv != nil {
				out[sa.Name] = cloneValue(sv)
			}
		}
		return out, len(out) > 0
	}
	if list, ok := v.([]any); ok {
		out := make([]any, 0, len(list))
		for _, e := range list {
			if m, ok := one(e); ok {
				out = append(out, m)
			}
		}
		if len(out) == 0 && len(list) > 0 {
			return nil, false
		}
		return out, true
	}
	return one(v)
}
