package mapping

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/config"
)

// AppPlan is what a change of policies would do in one app (see Plan). The lists
// hold userNames (the hub id for a user without one), sorted.
type AppPlan struct {
	App string
	// Create: admitted and active, with no account.
	Create []string
	// Reactivate: admitted and active, with a deactivated account.
	Reactivate []string
	// Update: admitted, with an active account whose desired attributes
	// change (or that the policies before the change did not admit).
	Update []string
	// Deactivate and Delete: accounts to deprovision, because no policy
	// admits the user any more (deprovision picks which) or because the
	// user is inactive (always Deactivate).
	Deactivate []string
	Delete     []string
	// Protected: accounts that would be deprovisioned but are protected.
	Protected []string
	// Population is the app's current population: users the policies
	// before the change admit, or who have an active account.
	Population int
	// GroupsPushed are the names of the groups the policies after push
	// (groups without members are not seen); GroupsAdded and
	// GroupsRemoved are the names that start and stop being pushed.
	GroupsPushed  []string
	GroupsAdded   []string
	GroupsRemoved []string
	// ExceedsSafeguard: Deactivate and Delete together are more than the
	// app's safeguard allows for Population; applying the change needs
	// forcing.
	ExceedsSafeguard bool
	// Safeguard is the app's threshold, for messages.
	Safeguard config.Safeguard
}

// Deprovisions is the number of accounts the plan deactivates or deletes.
func (p *AppPlan) Deprovisions() int { return len(p.Deactivate) + len(p.Delete) }

// String summarises the plan on one line.
func (p *AppPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: create %d, reactivate %d, update %d, deactivate %d, delete %d of %d",
		p.App, len(p.Create), len(p.Reactivate), len(p.Update), len(p.Deactivate), len(p.Delete), p.Population)
	if n := len(p.Protected); n > 0 {
		fmt.Fprintf(&b, "; %d protected kept", n)
	}
	if len(p.GroupsPushed)+len(p.GroupsRemoved) > 0 {
		fmt.Fprintf(&b, "; groups pushed %d (+%d -%d)", len(p.GroupsPushed), len(p.GroupsAdded), len(p.GroupsRemoved))
	}
	if p.ExceedsSafeguard {
		fmt.Fprintf(&b, "; REFUSED unless forced: %d deprovisions exceed %g%% of %d",
			p.Deprovisions(), p.Safeguard.MaxDeprovisionPercent, p.Population)
	}
	return b.String()
}

// Plan compares, for every hub user, what the policies before and after a
// change want in each app of after (before may be nil: nothing was
// desired). Apps only before has are left out: removing an app from the
// configuration stops managing it and deprovisions nobody.
//
// The account a user has in an app is taken from UserView.Accounts, or,
// when that is nil, assumed to be what before wanted. No account
// is created for an inactive user.
func Plan(before, after *Policies, users iter.Seq[UserView]) map[string]*AppPlan {
	plans := make(map[string]*AppPlan, len(after.Apps()))
	type groupSets struct{ pushed, was map[string]bool }
	groups := make(map[string]groupSets, len(after.Apps()))
	for _, name := range after.Apps() {
		plans[name] = &AppPlan{App: name, Safeguard: after.apps[name].safeguard}
		groups[name] = groupSets{pushed: map[string]bool{}, was: map[string]bool{}}
	}
	for u := range users {
		label := userName(u.Doc)
		if label == "" {
			label = u.ID
		}
		for name, pl := range plans {
			a := after.apps[name]
			o := before.DesiredUser(name, u)
			n := after.DesiredUser(name, u)
			state := accountState(u, name, o)
			if o.Present || state == ActiveAccount {
				pl.Population++
			}
			pl.classify(a, label, o, n, state)
			gs := groups[name]
			for _, g := range u.Groups {
				if gn, ok := after.DesiredGroup(name, GroupView(g)); ok {
					gs.pushed[gn] = true
				}
				if gn, ok := before.DesiredGroup(name, GroupView(g)); ok {
					gs.was[gn] = true
				}
			}
		}
	}
	for name, pl := range plans {
		for _, list := range []*[]string{&pl.Create, &pl.Reactivate, &pl.Update, &pl.Deactivate, &pl.Delete, &pl.Protected} {
			slices.Sort(*list)
		}
		gs := groups[name]
		for g := range gs.pushed {
			pl.GroupsPushed = append(pl.GroupsPushed, g)
			if !gs.was[g] {
				pl.GroupsAdded = append(pl.GroupsAdded, g)
			}
		}
		for g := range gs.was {
			if !gs.pushed[g] {
				pl.GroupsRemoved = append(pl.GroupsRemoved, g)
			}
		}
		slices.Sort(pl.GroupsPushed)
		slices.Sort(pl.GroupsAdded)
		slices.Sort(pl.GroupsRemoved)
		pl.ExceedsSafeguard = pl.Safeguard.Exceeded(pl.Deprovisions(), pl.Population)
	}
	return plans
}

// accountState is the user's account in the app: from the view, or as
// the policies before the change left it.
func accountState(u UserView, app string, old Desired) Account {
	if u.Accounts != nil {
		return u.Accounts[app]
	}
	switch {
	case !old.Present:
		return NoAccount
	case old.Active:
		return ActiveAccount
	}
	return InactiveAccount
}

// classify adds one user's change in the app to the plan.
func (pl *AppPlan) classify(a *app, label string, o, n Desired, state Account) {
	switch {
	case n.Present && n.Active:
		switch state {
		case NoAccount:
			pl.Create = append(pl.Create, label)
		case InactiveAccount:
			pl.Reactivate = append(pl.Reactivate, label)
		case ActiveAccount:
			if !o.Present || !canon.Equal(o.Attributes, n.Attributes) {
				pl.Update = append(pl.Update, label)
			}
		}
	case n.Present: // inactive user
		if state != ActiveAccount {
			return
		}
		if n.Protected {
			pl.Protected = append(pl.Protected, label)
			return
		}
		pl.Deactivate = append(pl.Deactivate, label)
	default: // no policy admits the user
		if state == NoAccount || (state == InactiveAccount && a.deprovision != config.DeprovisionDelete) {
			return
		}
		if n.Protected {
			pl.Protected = append(pl.Protected, label)
			return
		}
		if a.deprovision == config.DeprovisionDelete {
			pl.Delete = append(pl.Delete, label)
		} else {
			pl.Deactivate = append(pl.Deactivate, label)
		}
	}
}
