package mapping

import (
	"fmt"
	"strings"
	"sync"

	"github.com/scimgate/scim-gateway/internal/apptype"
)

// profileRules compiles the default attribute mapping of app type typ, as
// internal/apptype registered it, once per type.
func profileRules(typ string) ([]*rule, bool) {
	if r, ok := compiledProfiles.Load(typ); ok {
		return r.([]*rule), true
	}
	t, ok := apptype.Lookup(typ)
	if !ok {
		return nil, false
	}
	r, _ := compiledProfiles.LoadOrStore(typ, mustCompileProfile(t.DefaultMapping))
	return r.([]*rule), true
}

// compiledProfiles caches profileRules: app type name -> []*rule.
var compiledProfiles sync.Map

// mustCompileProfile compiles a registered default mapping; a rule that
// does not compile is a programming error in the type's package.
func mustCompileProfile(rules []apptype.Rule) []*rule {
	out := make([]*rule, 0, len(rules))
	for _, pr := range rules {
		target, ferr := compileTarget(pr.Target)
		if ferr != nil {
			panic(fmt.Sprintf("mapping: built-in profile: %v", ferr))
		}
		r := &rule{target: target}
		for _, s := range pr.Sources {
			var src producer
			if strings.Contains(s, "{{") {
				t, err := parseTemplate(s)
				if err != nil {
					panic(fmt.Sprintf("mapping: built-in profile: %s: %v", s, err))
				}
				src = t
			} else {
				ref, err := parseRef(s)
				if err != nil {
					panic(fmt.Sprintf("mapping: built-in profile: %s: %v", s, err))
				}
				if msg := compatible(target, ref); msg != "" {
					panic(fmt.Sprintf("mapping: built-in profile: %s: %s", s, msg))
				}
				src = ref
			}
			r.sources = append(r.sources, src)
		}
		out = append(out, r)
	}
	return out
}
