package config

import (
	"math"
	"strings"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/internal/scim"
)

// maxConcurrency is the most reconcilers per app and replica.
const maxConcurrency = 64

// validateApps checks apps and policies, which refer to apps by name.
func (c *Config) validateApps(p *problems) {
	apps := map[string]*App{}
	appPaths := map[string]string{}
	for i := range c.Apps {
		a := &c.Apps[i]
		ap := indexPath("apps", i)
		a.validate(p, ap)
		if a.Name == "" {
			continue
		}
		if first, dup := appPaths[a.Name]; dup {
			p.add(fieldPath(ap, "name"), "already used by %s; app names must be unique", first)
			continue
		}
		appPaths[a.Name] = ap
		apps[a.Name] = a
	}

	policyPaths := map[string]string{}
	pushes := map[string]*pushNames{}
	for i, pol := range c.Policies {
		pp := indexPath("policies", i)
		np := fieldPath(pp, "name")
		switch {
		case pol.Name == "":
			p.add(np, "required")
		case !validName(pol.Name):
			p.add(np, "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
		default:
			if first, dup := policyPaths[pol.Name]; dup {
				p.add(np, "already used by %s; policy names must be unique", first)
			} else {
				policyPaths[pol.Name] = pp
			}
		}
		app := apps[pol.App]
		switch {
		case pol.App == "":
			p.add(fieldPath(pp, "app"), "required")
		case app == nil:
			p.add(fieldPath(pp, "app"), "names no app: it must be the name of an entry of apps")
		}
		gp := fieldPath(pp, "groups")
		if len(pol.Groups) == 0 {
			p.add(gp, "at least one group is required")
		}
		seen := map[string]bool{}
		for j, g := range pol.Groups {
			if msg := groupReference(g); msg != "" {
				p.add(indexPath(gp, j), "%s", msg)
				continue
			}
			if k := groupKey(g); seen[k] {
				p.add(indexPath(gp, j), "duplicate group")
			} else {
				seen[k] = true
			}
		}
		if pol.Filter != "" {
			c.validateFilter(p, fieldPath(pp, "filter"), pol.Filter)
		}
		if len(pol.PushGroups) == 0 {
			continue
		}
		pgp := fieldPath(pp, "push_groups")
		if app != nil && !app.PushesGroups() {
			p.add(pgp, "the app does not push groups; set actions.groups: true on the app first")
			app = nil // no further cross-checks against it
		}
		var names *pushNames
		if app != nil {
			if names = pushes[app.Name]; names == nil {
				names = &pushNames{byGroup: map[string]pushed{}, byTarget: map[string]string{}}
				pushes[app.Name] = names
			}
		}
		for j, pg := range pol.PushGroups {
			ep := indexPath(pgp, j)
			if msg := groupReference(pg.Group); msg != "" {
				p.add(fieldPath(ep, "group"), "%s", msg)
				continue
			}
			if pg.As != "" && strings.TrimSpace(pg.As) == "" {
				p.add(fieldPath(ep, "as"), "must not be blank; leave it out to keep the source group's name")
				continue
			}
			if names != nil {
				names.check(p, ep, pg)
			}
		}
	}
}

// pushNames tracks the groups one app pushes, to catch one group pushed
// under two names and two groups pushed under one name.
type pushNames struct {
	byGroup  map[string]pushed // groupKey -> first push of it
	byTarget map[string]string // folded target name -> path of its first push
}

type pushed struct {
	target string // folded target name; "" when it is the (unknown) name of an id: group
	path   string
}

func (n *pushNames) check(p *problems, path string, pg PushGroup) {
	target := pg.As
	if target == "" && !strings.HasPrefix(pg.Group, GroupIDPrefix) {
		target = pg.Group
	}
	target = strings.ToLower(target)
	k := groupKey(pg.Group)
	if first, ok := n.byGroup[k]; ok {
		if first.target != target {
			p.add(path, "%s pushes the same group under another name; a group has one name in an app", first.path)
		}
		return
	}
	n.byGroup[k] = pushed{target: target, path: path}
	if target == "" {
		return
	}
	if first, ok := n.byTarget[target]; ok {
		p.add(path, "%s pushes another group under the same name in this app", first)
		return
	}
	n.byTarget[target] = path
}

// groupReference checks a group reference: a displayName, or id:<id>.
func groupReference(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be empty"
	case strings.HasPrefix(s, GroupIDPrefix) && strings.TrimSpace(s[len(GroupIDPrefix):]) == "":
		return "id: must be followed by a group id"
	}
	return ""
}

// groupKey identifies a group reference: ids are compared exactly,
// displayNames case-insensitively.
func groupKey(s string) string {
	if strings.HasPrefix(s, GroupIDPrefix) {
		return s
	}
	return "name:" + strings.ToLower(s)
}

func (c *Config) validateFilter(p *problems, path, expr string) {
	_, err := scim.Compile(expr, scim.UserResourceType)
	if err == nil {
		return
	}
	if c.fromEnv[path] {
		// The details quote the filter, which here is not text from the
		// file but a variable's value.
		p.add(path, "not a valid SCIM filter on Users (details not shown: the value comes from an environment variable)")
		return
	}
	detail := err.Error()
	if se := scim.AsError(err); se != nil && se.Detail != "" {
		detail = se.Detail
	}
	p.add(path, "not a valid SCIM filter on Users: %s", detail)
}

func (a *App) validate(p *problems, path string) {
	np := fieldPath(path, "name")
	switch {
	case a.Name == "":
		p.add(np, "required")
	case !appName(a.Name):
		p.add(np, "must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit")
	}
	if _, known := apptype.Lookup(a.Type); !known {
		if a.Type == "" {
			p.add(fieldPath(path, "type"), "required: %s", OneOf(apptype.Names()))
		} else {
			p.add(fieldPath(path, "type"), "must be %s", OneOf(apptype.Names()))
		}
	}
	up := fieldPath(path, "base_url")
	if a.BaseURL == "" {
		p.add(up, "required")
	} else if _, msg := webURL(a.BaseURL, "must be an absolute http or https URL, e.g. https://api.atlassian.com/scim/directory/<directory-id>"); msg != "" {
		p.add(up, "%s", msg)
	}
	if a.Token != "" && !headerSafe(a.Token.Reveal()) {
		p.add(fieldPath(path, "token"), "must contain only printable ASCII characters, without spaces")
	}
	dp := fieldPath(path, "deprovision")
	switch a.Deprovision {
	case DeprovisionDeactivate:
	case DeprovisionDelete:
		if !a.Actions.Delete {
			p.add(dp, "delete requires actions.delete: true")
		}
	default:
		p.add(dp, "must be deactivate or delete")
	}
	rp := fieldPath(path, "rate_limit")
	if r := a.RateLimit.RequestsPerSecond; !(r > 0) || math.IsInf(r, 0) {
		p.add(fieldPath(rp, "requests_per_second"), "must be a positive number")
	}
	if a.RateLimit.Burst < 1 {
		p.add(fieldPath(rp, "burst"), "must be at least 1")
	}
	if a.Concurrency < 1 || a.Concurrency > maxConcurrency {
		p.add(fieldPath(path, "concurrency"), "must be from 1 to %d", maxConcurrency)
	}
	if a.Timeout <= 0 {
		p.add(fieldPath(path, "timeout"), mustBePositive)
	}
	pp := fieldPath(path, "protected")
	protected := map[string]bool{}
	for i, u := range a.Protected {
		switch k := strings.ToLower(strings.TrimSpace(u)); {
		case k == "":
			p.add(indexPath(pp, i), "must not be empty")
		case protected[k]:
			p.add(indexPath(pp, i), "duplicate userName (they are compared case-insensitively)")
		default:
			protected[k] = true
		}
	}
	sp := fieldPath(path, "safeguard")
	if m := a.Safeguard.MaxDeprovisionPercent; !(m >= 0 && m <= 100) {
		p.add(fieldPath(sp, "max_deprovision_percent"), "must be from 0 to 100")
	}
	if a.Safeguard.MinPopulation < 0 {
		p.add(fieldPath(sp, "min_population"), "must not be negative")
	}
	switch a.Drift {
	case DriftReport, DriftRepush, DriftAccept:
	default:
		p.add(fieldPath(path, "drift"), "must be report, repush or accept")
	}
	if a.Import.Interval < 0 {
		p.add(fieldPath(path, "import.interval"), "must be 0s (on demand only) or positive")
	}
	if len(a.Import.Match) == 0 {
		p.add(fieldPath(path, "import.match"), "must name at least one of userName, email, externalId")
	}
	for i, m := range a.Import.Match {
		switch m {
		case MatchUserName, MatchEmail, MatchExternalID:
		default:
			p.add(indexPath(fieldPath(path, "import.match"), i), "must be userName, email or externalId")
		}
	}
	ap := fieldPath(path, "attributes")
	targets := map[string]string{}
	for i, m := range a.Attributes {
		m.validate(p, indexPath(ap, i), targets)
	}
}

func (m AttributeMapping) validate(p *problems, path string, targets map[string]string) {
	tp := fieldPath(path, "target")
	if strings.TrimSpace(m.Target) == "" {
		p.add(tp, "required")
	} else {
		k := strings.ToLower(strings.Join(strings.Fields(m.Target), " "))
		if first, dup := targets[k]; dup {
			p.add(tp, "already set by %s; map each target once", first)
		} else {
			targets[k] = path
		}
	}
	switch {
	case m.Source == "" && m.Template == "":
		p.add(path, "set source or template")
	case m.Source != "" && m.Template != "":
		p.add(path, "set only one of source and template")
	}
	switch m.Transform {
	case "", TransformLowercase, TransformUppercase, TransformTrim:
	default:
		p.add(fieldPath(path, "transform"), "must be lowercase, uppercase or trim")
	}
}

// appName reports whether s is a valid app name: it appears in queue and
// report keys and in resource origins ("app:<name>").
func appName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z'
		if !alnum && (i == 0 || c != '-') {
			return false
		}
	}
	return true
}

// OneOf lists names for a message: "a", "a or b", "a, b or c"; "(none
// registered)" when there are none.
func OneOf(names []string) string {
	switch len(names) {
	case 0:
		return "(none registered)"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
