package config

import (
	"time"

	"github.com/scimgate/scim-gateway/internal/apptype"
)

// Deprovisioning actions, for App.Deprovision.
const (
	DeprovisionDeactivate = "deactivate" // PATCH active:false; reversible
	DeprovisionDelete     = "delete"     // DELETE; the remote record is gone for good
)

// Drift handling, for App.Drift.
const (
	DriftReport = "report" // report the difference, change nothing
	DriftRepush = "repush" // report it and push the desired state again
	DriftAccept = "accept" // report it and take the remote state as applied
)

// Attribute transforms, for AttributeMapping.Transform.
const (
	TransformLowercase = "lowercase"
	TransformUppercase = "uppercase"
	TransformTrim      = "trim"
)

// App is a downstream application that the gateway provisions accounts to,
// through its SCIM API.
type App struct {
	// Name identifies the app in queues, links, reports and policies:
	// lowercase letters, digits and '-', unique.
	Name string `yaml:"name"`
	// Type is the target profile: a name registered in internal/apptype
	// (the built-in ones: atlassian, scim).
	Type string `yaml:"type"`
	// BaseURL is the SCIM base URL; /Users and /Groups are under it.
	BaseURL string `yaml:"base_url"`
	// Token is the bearer token for the app's API. An empty token pauses
	// the app (see Paused).
	Token Secret `yaml:"token"`
	// TokenFile names a file holding the token; Parse reads it into Token.
	TokenFile string `yaml:"token_file"`
	// Actions says which kinds of remote change the gateway may make.
	Actions Actions `yaml:"actions"`
	// Deprovision is what happens to the account of a user that no policy
	// admits any more: DeprovisionDeactivate or DeprovisionDelete.
	Deprovision string `yaml:"deprovision"`
	// RateLimit bounds the calls to the app, across all replicas.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Concurrency is the number of reconcilers per replica for this app.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds each remote call.
	Timeout Duration `yaml:"timeout"`
	// Protected lists userNames (compared case-insensitively) whose
	// accounts are never deactivated or deleted by the gateway.
	Protected []string `yaml:"protected"`
	// Safeguard stops a plan, reload or import that would deprovision too
	// many accounts at once.
	Safeguard Safeguard `yaml:"safeguard"`
	// Drift is what an import does with an account that differs from what
	// was last applied: DriftReport, DriftRepush or DriftAccept.
	Drift string `yaml:"drift"`
	// Import schedules the periodic import of the app's accounts.
	Import Import `yaml:"import"`
	// Attributes maps source (hub) attributes to target attributes; empty
	// means the profile's default mapping.
	Attributes []AttributeMapping `yaml:"attributes"`
}

// Actions switches kinds of remote change on and off.
type Actions struct {
	Create     bool `yaml:"create"`
	Update     bool `yaml:"update"`
	Deactivate bool `yaml:"deactivate"`
	Delete     bool `yaml:"delete"`
	// Groups enables pushing groups (policies' push_groups). nil means the
	// type's default (apptype.Type.PushesGroupsByDefault: false for
	// atlassian, whose docs call group sync unavailable for Bitbucket, true
	// for scim). Parse fills it in; use App.PushesGroups to read it.
	Groups *bool `yaml:"groups"`
}

// RateLimit is a token bucket shared by every replica.
type RateLimit struct {
	// RequestsPerSecond is the refill rate; fractions are allowed.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is the bucket size.
	Burst int `yaml:"burst"`
}

// Safeguard is the mass-deprovisioning threshold of an app.
type Safeguard struct {
	// MaxDeprovisionPercent is the largest share of the app's population,
	// 0 to 100, that one change may deactivate or delete.
	MaxDeprovisionPercent float64 `yaml:"max_deprovision_percent"`
	// MinPopulation is the population below which the threshold does not
	// apply (in a small app every single leaver is a large share).
	MinPopulation int `yaml:"min_population"`
}

// Exceeded reports whether deprovisioning that many accounts out of a
// population trips the safeguard: more than MaxDeprovisionPercent of the
// population, in a population of at least MinPopulation.
func (s Safeguard) Exceeded(deprovisions, population int) bool {
	if population < s.MinPopulation || deprovisions <= 0 {
		return false
	}
	return float64(deprovisions)*100 > s.MaxDeprovisionPercent*float64(population)
}

// AttributeMapping sets one target attribute. Exactly one of Source and
// Template gives the value; package mapping compiles and checks the paths
// and templates against the SCIM User schema.
type AttributeMapping struct {
	// Target is the attribute path in the app: "title", "name.givenName",
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
	// or `emails[type eq "work"].value` for one element of a multi-valued
	// attribute.
	Target string `yaml:"target"`
	// Source is the hub attribute path the value is copied from.
	Source string `yaml:"source"`
	// Template builds a string from hub attributes: "{{name.givenName}}
	// {{name.familyName}}".
	Template string `yaml:"template"`
	// Transform is applied to the value: TransformLowercase,
	// TransformUppercase, TransformTrim, or "" for none.
	Transform string `yaml:"transform"`
	// Default is used when the source (or a template's path) has no value;
	// without one the attribute is left out.
	Default string `yaml:"default"`
}

// Policy admits hub users to an app: members of any of Groups that match
// Filter.
type Policy struct {
	// Name identifies the policy in plans and reports; unique.
	Name string `yaml:"name"`
	// App is the name of the app the policy admits users to.
	App string `yaml:"app"`
	// Groups are source groups by displayName (case-insensitive) or as
	// "id:<group id>"; at least one.
	Groups []string `yaml:"groups"`
	// Filter is an optional SCIM filter the User must also match.
	Filter string `yaml:"filter"`
	// PushGroups are groups created in the app with their members; only
	// for apps whose actions.groups is on.
	PushGroups []PushGroup `yaml:"push_groups"`
}

// PushGroup is a hub group pushed to an app.
type PushGroup struct {
	// Group is the source group by displayName or as "id:<group id>".
	Group string `yaml:"group"`
	// As is the group's name in the app; empty means the source group's
	// displayName.
	As string `yaml:"as"`
}

// GroupIDPrefix starts a group reference by id ("id:<group id>") in
// Policy.Groups and PushGroup.Group.
const GroupIDPrefix = "id:"

// DefaultApp returns an App with every default filled in and no name,
// type, URL or token. Parse starts each item of apps from it.
func DefaultApp() App {
	return App{
		Actions:     Actions{Create: true, Update: true, Deactivate: true},
		Deprovision: DeprovisionDeactivate,
		RateLimit:   RateLimit{RequestsPerSecond: 10, Burst: 20},
		Concurrency: 4,
		Timeout:     Duration(30 * time.Second),
		Safeguard:   Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 20},
		Drift:       DriftReport,
		Import:      Import{Interval: Duration(24 * time.Hour), Match: []string{MatchUserName, MatchEmail}},
	}
}

// Import configures an app's periodic import.
type Import struct {
	// Interval between imports; 0s imports only on demand (the import
	// command, POST /admin/apps/{app}/import).
	Interval Duration `yaml:"interval"`
	// Match is the order in which an unlinked account is matched to a hub
	// user: userName, email (primary), externalId.
	Match []string `yaml:"match"`
}

// The attributes an import matches accounts on.
const (
	MatchUserName   = "userName"
	MatchEmail      = "email"
	MatchExternalID = "externalId"
)

func (a *App) setDefaults() { *a = DefaultApp() }

// PushesGroups reports whether the app pushes groups: actions.groups when
// it is set, else the profile's default.
func (a App) PushesGroups() bool {
	if a.Actions.Groups != nil {
		return *a.Actions.Groups
	}
	t, _ := apptype.Lookup(a.Type)
	return t.PushesGroupsByDefault
}

// Paused reports whether the app has no token (`token: ${VAR:-}` with VAR
// unset): its work is queued as usual, and nothing is sent to it until a
// token is configured.
func (a App) Paused() bool { return a.Token == "" }

// resolveAppDefaults fills in the defaults that depend on other keys, so
// that the effective configuration shows them.
func (c *Config) resolveAppDefaults() {
	for i := range c.Apps {
		a := &c.Apps[i]
		if _, known := apptype.Lookup(a.Type); a.Actions.Groups == nil && known {
			on := a.PushesGroups()
			a.Actions.Groups = &on
		}
	}
}
