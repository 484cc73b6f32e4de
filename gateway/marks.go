package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Marker decides which (app, key) pairs a hub change makes dirty; the
// gateway queues them in the same atomic store write as the change
// (DESIGN principle 2), so the IdP never waits on an app and a crash
// loses no fan-out. The policies behind it may be swapped at runtime.
type Marker interface {
	// UserChanged: a user was created, changed or deleted.
	UserChanged(userID string, due time.Time) []store.Mark
	// MembershipChanged: members joined or left the group named groupName.
	MembershipChanged(groupID, groupName string, members []string, due time.Time) []store.Mark
	// GroupChanged: a group was created, renamed or deleted.
	GroupChanged(groupID, groupName string, due time.Time) []store.Mark
}

// userMarks are the marks of a user write.
func (s *Server) userMarks(id string) []store.Mark {
	if s.opts.Marker == nil {
		return nil
	}
	return s.opts.Marker.UserChanged(id, s.opts.Now())
}

// groupMarks are the marks of a group write: the group itself when it is
// new, renamed or deleted (named by its old and new names, since
// policies may name groups by displayName, every member is affected
// then), and the members that joined or left.
func (s *Server) groupMarks(ctx context.Context, id, oldName, newName string, changed []string, structural bool) ([]store.Mark, error) {
	m := s.opts.Marker
	if m == nil {
		return nil, nil
	}
	now := s.opts.Now()
	var marks []store.Mark
	if structural {
		all, err := s.opts.Store.Members(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("members of %s: %w", id, err)
		}
		changed = append(changed, all...)
		for _, name := range uniqueNames(oldName, newName) {
			marks = append(marks, m.GroupChanged(id, name, now)...)
		}
	}
	if len(changed) > 0 {
		for _, name := range uniqueNames(oldName, newName) {
			marks = append(marks, m.MembershipChanged(id, name, changed, now)...)
		}
	}
	return dedupMarks(marks), nil
}

// leftGroupsMarks are the marks of a user leaving every group it is in,
// as its deletion does (the store drops its memberships in the same
// write): each group, under its name, with the user as the member that
// changed. Apps that push a group then drop the member now instead of at
// the group's next change, which the user's own reconcile cannot cause:
// a user gone from the hub has no groups. O(groups of the user).
func (s *Server) leftGroupsMarks(ctx context.Context, userID string) ([]store.Mark, error) {
	m := s.opts.Marker
	if m == nil {
		return nil, nil
	}
	groups, err := s.opts.Store.GroupsOf(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", userID, err)
	}
	now := s.opts.Now()
	var marks []store.Mark
	for _, id := range groups {
		g, err := s.opts.Store.Get(ctx, store.KindGroup, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile; its deletion marked it
		}
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", id, err)
		}
		marks = append(marks, m.MembershipChanged(id, displayNameOf(g.Data), []string{userID}, now)...)
	}
	return marks, nil
}

func uniqueNames(a, b string) []string {
	switch {
	case a == "":
		return []string{b}
	case b == "" || strings.EqualFold(a, b):
		return []string{a}
	}
	return []string{a, b}
}

func dedupMarks(ms []store.Mark) []store.Mark {
	seen := make(map[[2]string]bool, len(ms))
	out := ms[:0]
	for _, m := range ms {
		k := [2]string{m.App, m.Key}
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

// displayNameOf reads a stored group's displayName.
func displayNameOf(data json.RawMessage) string {
	var d struct {
		DisplayName string `json:"displayName"`
	}
	_ = json.Unmarshal(data, &d)
	return d.DisplayName
}
