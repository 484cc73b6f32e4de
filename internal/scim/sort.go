package scim

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Sorter orders resources by one attribute (RFC 7644 §3.4.2.3). Build one
// with NewSorter; it is immutable and safe for concurrent use.
type Sorter struct {
	path AttrPath
	leaf *Attribute
	desc bool
}

// NewSorter validates sortBy (an attribute path; a complex attribute sorts
// by its "value" sub-attribute) and sortOrder ("ascending", the default
// when empty, or "descending", case-insensitive). Errors are 400
// invalidValue.
//
// Values compare by type: strings case-insensitively unless caseExact,
// numbers numerically, dateTimes chronologically, false before true. A
// multi-valued attribute sorts by its primary value, else its first.
// Resources without a value sort last in ascending order (and so first in
// descending order).
func NewSorter(rt *ResourceType, sortBy, sortOrder string) (*Sorter, error) {
	p, ok := rt.Resolve(strings.TrimSpace(sortBy))
	if !ok || p.Attr == nil {
		return nil, ErrInvalidValue.Detailf("sortBy: unknown attribute %s", quoteShort(sortBy))
	}
	if p.Sub == nil && p.Attr.Type == TypeComplex {
		p.Sub = p.Attr.Sub("value")
		if p.Sub == nil {
			return nil, ErrInvalidValue.Detailf("sortBy: %q is a complex attribute: name a sub-attribute", p.String())
		}
	}
	s := &Sorter{path: p, leaf: p.Leaf()}
	switch o := strings.TrimSpace(sortOrder); {
	case o == "" || strings.EqualFold(o, "ascending"):
	case strings.EqualFold(o, "descending"):
		s.desc = true
	default:
		return nil, ErrInvalidValue.Detailf("sortOrder must be \"ascending\" or \"descending\", got %s", quoteShort(sortOrder))
	}
	return s, nil
}

// Compare orders a before b (negative), after (positive) or as equal (0).
func (s *Sorter) Compare(a, b map[string]any) int {
	c := compareKeys(s.key(a), s.key(b))
	if s.desc {
		return -c
	}
	return c
}

// Sort sorts resources in place, stably, extracting each sort key once.
func (s *Sorter) Sort(list []map[string]any) {
	type keyed struct {
		k   sortKey
		res map[string]any
	}
	ks := make([]keyed, len(list))
	for i, r := range list {
		ks[i] = keyed{k: s.key(r), res: r}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		c := compareKeys(x.k, y.k)
		if s.desc {
			return -c
		}
		return c
	})
	for i := range ks {
		list[i] = ks[i].res
	}
}

type sortKey struct {
	kind  litKind // 0: missing
	s     string
	b     bool
	i     int64
	isInt bool
	f     float64
	t     time.Time
}

func (s *Sorter) key(res map[string]any) sortKey {
	c := containerOf(res, s.path, false)
	if c == nil {
		return sortKey{}
	}
	v, _ := lookupKey(c, s.path.Attr.Name)
	if list, ok := v.([]any); ok {
		v = nil
		for _, e := range list {
			if isPrimary(e) {
				v = e
				break
			}
		}
		if v == nil && len(list) > 0 {
			v = list[0]
		}
	}
	if s.path.Sub != nil {
		m, _ := v.(map[string]any)
		v, _ = lookupKey(m, s.path.Sub.Name)
	}
	if v == nil {
		return sortKey{}
	}
	switch s.leaf.Type {
	case TypeBoolean:
		if b, ok := toBool(v); ok {
			return sortKey{kind: litBool, b: b}
		}
	case TypeInteger, TypeDecimal:
		if i, isInt, f, ok := numeric(v); ok {
			return sortKey{kind: litNumber, i: i, isInt: isInt, f: f}
		}
	case TypeDateTime:
		if t, ok := toTime(v); ok {
			return sortKey{kind: litTime, t: t}
		}
	default:
		if str, ok := v.(string); ok {
			if !s.leaf.CaseExact {
				str = strings.ToLower(str)
			}
			return sortKey{kind: litString, s: str}
		}
	}
	return sortKey{}
}

func compareKeys(x, y sortKey) int {
	switch {
	case x.kind == 0 && y.kind == 0:
		return 0
	case x.kind == 0:
		return 1
	case y.kind == 0:
		return -1
	}
	switch x.kind {
	case litBool:
		switch {
		case x.b == y.b:
			return 0
		case !x.b:
			return -1
		}
		return 1
	case litNumber:
		if x.isInt && y.isInt {
			return cmp.Compare(x.i, y.i)
		}
		return cmp.Compare(x.f, y.f)
	case litTime:
		return x.t.Compare(y.t)
	}
	return strings.Compare(x.s, y.s)
}
