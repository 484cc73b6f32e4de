package atlassiantest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// projection is a parsed attributes or excludedAttributes parameter of the
// Users endpoints. A nil projection returns resources whole.
type projection struct {
	include bool
	attrs   map[string]map[string]bool // folded top-level name -> folded sub-attributes (empty: all)
}

// Attributes that are always returned, whatever the parameters say.
var alwaysReturned = map[string]bool{"id": true, "schemas": true, "meta": true}

// extensionURNs are the folded extension schema URNs (they contain dots,
// so they are matched whole before splitting on ".").
var extensionURNs = []string{fold(EnterpriseSchema), fold(AtlassianSchema)}

func parseProjection(q url.Values) (*projection, *scimError) {
	inc, exc := q.Get("attributes"), q.Get("excludedAttributes")
	switch {
	case inc != "" && exc != "":
		return nil, errInvalidValue("attributes and excludedAttributes are mutually exclusive")
	case inc == "" && exc == "":
		return nil, nil
	}
	p := &projection{include: inc != "", attrs: map[string]map[string]bool{}}
	list := inc + exc
	for _, item := range strings.Split(list, ",") {
		item = fold(strings.TrimSpace(item))
		if item == "" {
			continue
		}
		item = strings.TrimPrefix(item, fold(CoreUserSchema)+":")
		top, sub, _ := strings.Cut(item, ".")
		for _, urn := range extensionURNs {
			if rest, ok := strings.CutPrefix(item, urn); ok && (rest == "" || rest[0] == ':') {
				top, sub = urn, strings.TrimPrefix(rest, ":")
			}
		}
		if p.attrs[top] == nil {
			p.attrs[top] = map[string]bool{}
		}
		if sub != "" {
			p.attrs[top][sub] = true
		}
	}
	return p, nil
}

// apply returns w itself when p is nil, else a JSON object holding only the
// selected (or without the excluded) attributes.
func (p *projection) apply(w userWire) any {
	if p == nil {
		return w
	}
	b, err := json.Marshal(w)
	if err != nil {
		panic(fmt.Sprintf("atlassiantest: encode user: %v", err))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("atlassiantest: decode user: %v", err))
	}
	for k, v := range m {
		lk := fold(k)
		if alwaysReturned[lk] {
			continue
		}
		subs, named := p.attrs[lk]
		switch {
		case p.include && !named:
			delete(m, k)
		case p.include && len(subs) > 0:
			m[k] = filterSubs(v, subs, true)
		case !p.include && named && len(subs) == 0:
			delete(m, k)
		case !p.include && named:
			m[k] = filterSubs(v, subs, false)
		}
	}
	return m
}

// filterSubs keeps (keep=true) or drops the named sub-attributes of a
// complex value or of each element of a multi-valued one.
func filterSubs(v any, subs map[string]bool, keep bool) any {
	one := func(obj map[string]any) map[string]any {
		for k := range obj {
			if subs[fold(k)] != keep {
				delete(obj, k)
			}
		}
		return obj
	}
	switch x := v.(type) {
	case map[string]any:
		return one(x)
	case []any:
		for i, el := range x {
			if obj, ok := el.(map[string]any); ok {
				x[i] = one(obj)
			}
		}
	}
	return v
}
