package mapping

import (
	"fmt"
	"strings"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
)

// profileRule is one rule of a profile's default mapping: a target and
// the sources tried in turn (a source with "{{" is a template).
type profileRule struct {
	target  string
	sources []string
}

var enterprise = scim.SchemaEnterpriseUser + ":"

// atlassianProfile sends what Atlassian's SCIM API turns into profile
// fields, and always userName, one primary work email, the name parts and
// a displayName, which Atlassian's sources disagree about requiring.
var atlassianProfile = []profileRule{
	{"userName", []string{"userName"}},
	{`emails[type eq "work"].value`, []string{"emails.value"}},
	{"name.givenName", []string{"name.givenName"}},
	{"name.familyName", []string{"name.familyName"}},
	{"displayName", []string{"displayName", "{{name.givenName}} {{name.familyName}}", "name.givenName", "name.familyName", "userName"}},
	{"title", []string{"title"}},
	{"preferredLanguage", []string{"preferredLanguage"}},
	{"timezone", []string{"timezone"}},
	{enterprise + "department", []string{enterprise + "department"}},
	{enterprise + "organization", []string{enterprise + "organization"}},
}

// scimProfile is the Atlassian one plus phone numbers, copied whole.
var scimProfile = append(append([]profileRule(nil), atlassianProfile...),
	profileRule{"phoneNumbers", []string{"phoneNumbers"}})

// profiles holds the compiled default mapping of each app type.
var profiles = map[string][]*rule{
	config.AppTypeAtlassian: mustCompileProfile(atlassianProfile),
	config.AppTypeSCIM:      mustCompileProfile(scimProfile),
}

func mustCompileProfile(rules []profileRule) []*rule {
	out := make([]*rule, 0, len(rules))
	for _, pr := range rules {
		target, ferr := compileTarget(pr.target)
		if ferr != nil {
			panic(fmt.Sprintf("mapping: built-in profile: %v", ferr))
		}
		r := &rule{target: target}
		for _, s := range pr.sources {
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
