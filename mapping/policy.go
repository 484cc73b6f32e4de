package mapping

import (
	"slices"
	"strconv"
	"strings"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/scim"
)

// GroupRef is a group a user is a member of, as the hub knows it.
type GroupRef struct {
	ID          string
	DisplayName string
}

// UserView is a hub user as policies see it.
type UserView struct {
	// ID is the hub id.
	ID string
	// Doc is the SCIM user document, including id and meta. It is only
	// read.
	Doc map[string]any
	// Groups are the groups the user is a member of.
	Groups []GroupRef
	// Accounts, when not nil, is the state of the user's account in each
	// app (from the links; an app missing from the map means no account).
	// Plan uses it to tell a reactivation from a creation and to skip
	// accounts that are already deactivated; nil means unknown, and Plan
	// assumes the old policies had been applied.
	Accounts map[string]Account
}

// Account is the state of a user's account in an app.
type Account uint8

// The account states.
const (
	NoAccount       Account = iota // no account, or not linked
	ActiveAccount                  // linked and active
	InactiveAccount                // linked and deactivated
)

// GroupView is a hub group as policies see it.
type GroupView struct {
	ID          string
	DisplayName string
}

// Desired is what an app should hold for a user.
type Desired struct {
	// Present: some policy of the app admits the user, who should have an
	// account there.
	Present bool
	// Active is the user's active (absent means true), when Present.
	Active bool
	// Attributes is the target representation when Present: SCIM-shaped,
	// with schemas, the mapped attributes, externalId (the hub id) and
	// active. It is a fresh map the caller may keep or change.
	Attributes map[string]any
	// GroupNames are the names of the app's groups the user should be a
	// member of, sorted, when Present and the app pushes groups.
	GroupNames []string
	// GroupIDs are the hub ids of the user's groups that the app pushes,
	// sorted, whether or not the user is Present (a user leaving the app
	// leaves its groups too): the reconciler queues them when the user's
	// account starts or stops being a member candidate. DesiredUser leaves
	// it empty; the engine that loads the user's groups fills it in.
	GroupIDs []string
	// Protected: the userName is in the app's protected list, and the
	// account must never be deactivated or deleted by the gateway.
	Protected bool
	// Reason says why: "policy <name>", "no policy matches" or
	// "unknown app <name>".
	Reason string
}

// Policies are the compiled apps and policies of a configuration,
// immutable and safe for concurrent use. A nil *Policies has no apps.
type Policies struct {
	apps  map[string]*app
	order []string
}

// app is one app's compiled policies and mapping.
type app struct {
	name        string
	deprovision string
	safeguard   config.Safeguard
	pushes      bool // actions.groups
	protected   map[string]bool
	policies    []*policy
	rules       []*rule
	push        []pushRule
	// groupFilter is true when a filter of the app may read the user's
	// groups, so that any membership change can change the outcome.
	groupFilter bool
}

type policy struct {
	name   string
	groups []groupRef
	filter *scim.Filter
	// withGroups: the filter may read "groups", which is filled from
	// UserView.Groups when the document has none.
	withGroups bool
}

// groupRef is a group reference as written in the configuration: by id
// ("id:<id>", exact) or by displayName (case-insensitive).
type groupRef struct {
	id, name string
}

func parseGroupRef(s string) groupRef {
	if id, ok := strings.CutPrefix(s, config.GroupIDPrefix); ok {
		return groupRef{id: strings.TrimSpace(id)}
	}
	return groupRef{name: s}
}

func (r groupRef) matches(id, name string) bool {
	if r.id != "" {
		return r.id == id
	}
	return strings.EqualFold(r.name, name)
}

type pushRule struct {
	group groupRef
	as    string
}

// Compile compiles the apps and policies of a configuration (which
// config.Validate has accepted): filters, attribute paths and templates
// are compiled against the SCIM User schema once. Problems are returned
// together as a *config.ValidationError whose key paths ("apps[0].
// attributes[2].template") are those of the configuration file.
func Compile(apps []config.App, policies []config.Policy) (*Policies, error) {
	var probs []config.Problem
	add := func(path, msg string) { probs = append(probs, config.Problem{Path: path, Msg: msg}) }
	ps := &Policies{apps: make(map[string]*app, len(apps))}
	for i, ca := range apps {
		path := "apps[" + strconv.Itoa(i) + "]"
		if _, dup := ps.apps[ca.Name]; dup {
			add(path+".name", "app names must be unique")
			continue
		}
		a := &app{
			name:        ca.Name,
			deprovision: ca.Deprovision,
			safeguard:   ca.Safeguard,
			pushes:      ca.PushesGroups(),
			protected:   make(map[string]bool, len(ca.Protected)),
		}
		for _, u := range ca.Protected {
			a.protected[strings.ToLower(strings.TrimSpace(u))] = true
		}
		if len(ca.Attributes) == 0 {
			rules, ok := profileRules(ca.Type)
			if !ok {
				add(path+".type", "must be "+config.OneOf(apptype.Names()))
			}
			a.rules = rules
		} else {
			a.rules = compileRules(ca, path, add)
		}
		ps.apps[ca.Name] = a
		ps.order = append(ps.order, ca.Name)
	}
	for i, cp := range policies {
		path := "policies[" + strconv.Itoa(i) + "]"
		a := ps.apps[cp.App]
		if a == nil {
			add(path+".app", "names no app: it must be the name of an entry of apps")
			continue
		}
		pol := &policy{name: cp.Name}
		for _, g := range cp.Groups {
			pol.groups = append(pol.groups, parseGroupRef(g))
		}
		if cp.Filter != "" {
			f, err := scim.Compile(cp.Filter, scim.UserResourceType)
			if err != nil {
				add(path+".filter", "not a valid SCIM filter on Users: "+scim.AsError(err).Detail)
				continue
			}
			pol.filter = f
			pol.withGroups = strings.Contains(strings.ToLower(cp.Filter), "groups")
			a.groupFilter = a.groupFilter || pol.withGroups
		}
		a.policies = append(a.policies, pol)
		if len(cp.PushGroups) > 0 && !a.pushes {
			add(path+".push_groups", "the app does not push groups; set actions.groups: true on the app first")
			continue
		}
		for _, pg := range cp.PushGroups {
			a.push = append(a.push, pushRule{group: parseGroupRef(pg.Group), as: pg.As})
		}
	}
	if len(probs) > 0 {
		return nil, &config.ValidationError{Problems: probs}
	}
	return ps, nil
}

// compileRules compiles an app's configured attribute mapping.
func compileRules(ca config.App, path string, add func(path, msg string)) []*rule {
	var rules []*rule
	var hasUserName, hasEmails bool
	for j, m := range ca.Attributes {
		mp := path + ".attributes[" + strconv.Itoa(j) + "]"
		r, ferr := compileRule(m)
		if ferr != nil {
			if ferr.key != "" {
				mp += "." + ferr.key
			}
			add(mp, ferr.msg)
			continue
		}
		switch {
		case r.target.path.Ext:
		case r.target.path.Attr.Name == "userName":
			hasUserName = true
		case r.target.path.Attr.Name == "emails" && (r.target.whole() || strings.EqualFold(r.target.path.Sub.Name, "value")):
			hasEmails = true
		}
		rules = append(rules, r)
	}
	if len(rules) < len(ca.Attributes) {
		return nil
	}
	switch {
	case !hasUserName:
		add(path+".attributes", "must set userName")
	case !hasEmails && requiresEmails(ca.Type):
		add(path+".attributes", `must set emails for an `+ca.Type+` app, e.g. target emails[type eq "work"].value from source emails.value`)
	}
	return rules
}

// Apps returns the names of the apps, in configuration order.
func (p *Policies) Apps() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.order)
}

func (p *Policies) app(name string) *app {
	if p == nil {
		return nil
	}
	return p.apps[name]
}

// DesiredUser evaluates the app's policies for a user: the user is Present
// when a member of one of a policy's groups who also matches its filter.
// For an app that is not configured, the user is not Present.
func (p *Policies) DesiredUser(appName string, u UserView) Desired {
	a := p.app(appName)
	if a == nil {
		return Desired{Reason: "unknown app " + appName}
	}
	d := Desired{Protected: a.isProtected(u.Doc)}
	var withGroups map[string]any
	for _, pol := range a.policies {
		if !pol.admitsGroups(u.Groups) {
			continue
		}
		if pol.filter != nil {
			doc := u.Doc
			if pol.withGroups {
				if withGroups == nil {
					withGroups = docWithGroups(u)
				}
				doc = withGroups
			}
			if !pol.filter.Match(doc) {
				continue
			}
		}
		d.Present = true
		d.Reason = "policy " + pol.name
		break
	}
	if !d.Present {
		d.Reason = "no policy matches"
		return d
	}
	d.Active = activeOf(u.Doc)
	d.Attributes = a.attributes(u, d.Active)
	if a.pushes {
		d.GroupNames = a.groupNames(u.Groups)
	}
	return d
}

// DesiredGroup reports whether the app pushes the group, and under which
// name: the push_groups "as", else the group's displayName. When several
// entries name the group, the first in the configuration wins.
func (p *Policies) DesiredGroup(appName string, g GroupView) (string, bool) {
	a := p.app(appName)
	if a == nil || !a.pushes {
		return "", false
	}
	return a.pushedName(g.ID, g.DisplayName)
}

func (a *app) pushedName(id, displayName string) (string, bool) {
	for _, pr := range a.push {
		if !pr.group.matches(id, displayName) {
			continue
		}
		name := pr.as
		if name == "" {
			name = displayName
		}
		if name == "" {
			return "", false
		}
		return name, true
	}
	return "", false
}

// isSource reports whether the group is a source group of one of the
// app's policies.
func (a *app) isSource(id, displayName string) bool {
	for _, pol := range a.policies {
		for _, g := range pol.groups {
			if g.matches(id, displayName) {
				return true
			}
		}
	}
	return false
}

func (pol *policy) admitsGroups(groups []GroupRef) bool {
	for _, ref := range pol.groups {
		for _, g := range groups {
			if ref.matches(g.ID, g.DisplayName) {
				return true
			}
		}
	}
	return false
}

var userNameRef = mustRef("userName")

func mustRef(s string) ref {
	r, err := parseRef(s)
	if err != nil {
		panic("mapping: " + err.Error())
	}
	return r
}

// userName returns the user's userName, or "".
func userName(doc map[string]any) string {
	v, _ := userNameRef.produce(doc)
	s, _ := v.(string)
	return s
}

func (a *app) isProtected(doc map[string]any) bool {
	n := userName(doc)
	return n != "" && a.protected[strings.ToLower(strings.TrimSpace(n))]
}

// activeOf reads the user's active: absent means true (RFC 7643 leaves it
// to the service provider; Atlassian defaults it to true).
func activeOf(doc map[string]any) bool {
	switch t := lookup(doc, "active").(type) {
	case bool:
		return t
	case string:
		return !strings.EqualFold(strings.TrimSpace(t), "false")
	}
	return true
}

// docWithGroups returns the user's document with "groups" filled from
// UserView.Groups when it has none, so that filters on groups work when
// the hub keeps membership apart from the document.
func docWithGroups(u UserView) map[string]any {
	if present(lookup(u.Doc, "groups")) {
		return u.Doc
	}
	doc := make(map[string]any, len(u.Doc)+1)
	for k, v := range u.Doc {
		doc[k] = v
	}
	groups := make([]any, 0, len(u.Groups))
	for _, g := range u.Groups {
		groups = append(groups, map[string]any{"value": g.ID, "display": g.DisplayName, "type": "direct"})
	}
	doc["groups"] = groups
	return doc
}

// attributes builds the target representation of a user.
func (a *app) attributes(u UserView, active bool) map[string]any {
	out := make(map[string]any, len(a.rules)+4)
	for _, r := range a.rules {
		r.apply(u.Doc, out)
	}
	schemas := []any{scim.SchemaUser}
	if _, ok := out[scim.SchemaEnterpriseUser]; ok {
		schemas = append(schemas, scim.SchemaEnterpriseUser)
	}
	out["schemas"] = schemas
	out["externalId"] = u.ID
	out["active"] = active
	return out
}

// groupNames lists the app's names of the pushed groups among groups.
func (a *app) groupNames(groups []GroupRef) []string {
	var names []string
	for _, g := range groups {
		if name, ok := a.pushedName(g.ID, g.DisplayName); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// requiresEmails reports whether app type typ refuses users without an
// email.
func requiresEmails(typ string) bool {
	t, _ := apptype.Lookup(typ)
	return t.RequiresEmails
}
