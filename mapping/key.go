package mapping

import (
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// MarksForUser marks a user in every app. It does not evaluate the
// policies: a change to a user (attributes, active, deletion) may bring
// them into an app, out of it, or change what it holds, and the
// reconciler, which decides on the state at the time it runs, finds out
// which; a key that needs nothing costs one evaluation.
func (p *Policies) MarksForUser(userID string, due time.Time) []store.Mark {
	if p == nil {
		return nil
	}
	marks := make([]store.Mark, 0, len(p.order))
	for _, name := range p.order {
		marks = append(marks, store.Mark{App: name, Key: store.UserKey(userID), Due: due})
	}
	return marks
}

// MarksForMembership marks what a change of a group's membership affects
// (members are the ids added or removed): in each app where the group is
// a source group of a policy (or a filter may read the user's groups), the
// user keys of those members; in each app that pushes the group, the
// group key. On a rename or deletion of a group, call it with every member
// under the old name and again under the new one.
func (p *Policies) MarksForMembership(groupID, groupName string, members []string, due time.Time) []store.Mark {
	if p == nil {
		return nil
	}
	var marks []store.Mark
	for _, name := range p.order {
		a := p.apps[name]
		if a.groupFilter || a.isSource(groupID, groupName) {
			seen := make(map[string]bool, len(members))
			for _, m := range members {
				if m == "" || seen[m] {
					continue
				}
				seen[m] = true
				marks = append(marks, store.Mark{App: name, Key: store.UserKey(m), Due: due})
			}
		}
		if a.pushes {
			if _, ok := a.pushedName(groupID, groupName); ok {
				marks = append(marks, store.Mark{App: name, Key: store.GroupKey(groupID), Due: due})
			}
		}
	}
	return marks
}

// MarksForGroup marks a group in every app that pushes it: for a change
// to the group itself (created, renamed, deleted). On a rename, call it
// with the old name and again with the new one, since a push by name
// follows the name. Membership is MarksForMembership's.
func (p *Policies) MarksForGroup(groupID, groupName string, due time.Time) []store.Mark {
	if p == nil {
		return nil
	}
	var marks []store.Mark
	for _, name := range p.order {
		a := p.apps[name]
		if !a.pushes {
			continue
		}
		if _, ok := a.pushedName(groupID, groupName); ok {
			marks = append(marks, store.Mark{App: name, Key: store.GroupKey(groupID), Due: due})
		}
	}
	return marks
}
