package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound"
)

// EngineStore is the slice of store.Store the engine reads: hub users,
// their groups and links, and group members.
type EngineStore interface {
	mapping.HubReader
	Members(ctx context.Context, groupID string) ([]string, error)
}

// Engine holds the compiled policies, swapped atomically on reload, and
// answers the gateway (which keys a change marks), the reconcilers and the
// importer (what an app should hold now) from the same snapshot.
type Engine struct {
	st  EngineStore
	cur atomic.Pointer[mapping.Policies]
}

var (
	_ gateway.Marker       = (*Engine)(nil)
	_ outbound.GroupSource = (*Engine)(nil)
)

// NewEngine returns an Engine answering from st with the policies p.
func NewEngine(st EngineStore, p *mapping.Policies) *Engine {
	e := &Engine{st: st}
	e.cur.Store(p)
	return e
}

// Policies returns the policies the engine answers with now.
func (e *Engine) Policies() *mapping.Policies { return e.cur.Load() }

// Swap makes p the policies every later answer uses, and returns the
// previous ones.
func (e *Engine) Swap(p *mapping.Policies) *mapping.Policies { return e.cur.Swap(p) }

// UserChanged implements gateway.Marker.
func (e *Engine) UserChanged(id string, due time.Time) []store.Mark {
	return e.Policies().MarksForUser(id, due)
}

// MembershipChanged implements gateway.Marker.
func (e *Engine) MembershipChanged(groupID, groupName string, members []string, due time.Time) []store.Mark {
	return e.Policies().MarksForMembership(groupID, groupName, members, due)
}

// GroupChanged implements gateway.Marker.
func (e *Engine) GroupChanged(groupID, groupName string, due time.Time) []store.Mark {
	return e.Policies().MarksForGroup(groupID, groupName, due)
}

// DesiredUser implements outbound.Source and inbound.Source from
// the current policies.
func (e *Engine) DesiredUser(ctx context.Context, app, hubID string) (mapping.Desired, error) {
	d, groups, err := e.desired(ctx, app, hubID)
	if err != nil {
		return mapping.Desired{}, err
	}
	d.GroupIDs = groups
	return d, nil
}

// desired computes what app should hold for a hub user now, and the ids
// of the user's hub groups that the app pushes (whether or not the user
// is admitted: a user leaving the app must leave its groups too). A user
// gone from the hub is not desired and has no groups; whether its account
// is protected is judged by the userName last applied to the app.
func (e *Engine) desired(ctx context.Context, app, hubID string) (mapping.Desired, []string, error) {
	p := e.Policies()
	u, err := mapping.LoadUser(ctx, e.st, hubID)
	if errors.Is(err, store.ErrNotFound) {
		ghost := mapping.UserView{ID: hubID, Doc: map[string]any{"id": hubID}}
		if l, lerr := e.st.GetLink(ctx, app, store.KindUser, hubID); lerr == nil {
			var last struct {
				UserName string `json:"userName"`
			}
			if json.Unmarshal(l.State, &last) == nil && last.UserName != "" {
				ghost.Doc["userName"] = last.UserName
			}
		}
		d := p.DesiredUser(app, ghost)
		d.Present, d.Reason = false, "user deleted from the hub"
		return d, nil, nil
	}
	if err != nil {
		return mapping.Desired{}, nil, err
	}
	return p.DesiredUser(app, u), pushedGroups(p, app, u), nil
}

// pushedGroups returns the ids of the user's groups that app pushes,
// sorted.
func pushedGroups(p *mapping.Policies, app string, u mapping.UserView) []string {
	var ids []string
	for _, g := range u.Groups {
		if _, ok := p.DesiredGroup(app, mapping.GroupView{ID: g.ID, DisplayName: g.DisplayName}); ok {
			ids = append(ids, g.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// DesiredGroup implements outbound.GroupSource: the group is Present when
// the hub has it and app pushes it, under the name the policies give it;
// its members are the hub group's members whom the app admits (a policy
// gives them the app) and who are active. It evaluates every member's
// policies: O(members) store reads (each member's document and groups).
// That is paid once per burst of changes, since a group's queue key is
// coalesced like a user's, and it keeps one definition of "admitted" for
// users and group members.
func (e *Engine) DesiredGroup(ctx context.Context, app, groupID string) (outbound.DesiredGroup, error) {
	p := e.Policies()
	r, err := e.st.Get(ctx, store.KindGroup, groupID)
	if errors.Is(err, store.ErrNotFound) {
		return outbound.DesiredGroup{Reason: "group deleted from the hub"}, nil
	}
	if err != nil {
		return outbound.DesiredGroup{}, fmt.Errorf("load group %s: %w", groupID, err)
	}
	var doc struct {
		DisplayName string `json:"displayName"`
	}
	if err := json.Unmarshal(r.Data, &doc); err != nil {
		return outbound.DesiredGroup{}, fmt.Errorf("decode group %s: %w", groupID, err)
	}
	name, ok := p.DesiredGroup(app, mapping.GroupView{ID: groupID, DisplayName: doc.DisplayName})
	if !ok {
		return outbound.DesiredGroup{Reason: fmt.Sprintf("the app does not push group %q", doc.DisplayName)}, nil
	}
	ids, err := e.st.Members(ctx, groupID)
	if err != nil {
		return outbound.DesiredGroup{}, fmt.Errorf("members of group %s: %w", groupID, err)
	}
	slices.Sort(ids)
	members := make([]string, 0, len(ids))
	for _, id := range ids {
		u, err := mapping.LoadUser(ctx, e.st, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the member list was read
		}
		if err != nil {
			return outbound.DesiredGroup{}, err
		}
		if d := p.DesiredUser(app, u); d.Present && d.Active {
			members = append(members, id)
		}
	}
	reason := fmt.Sprintf("hub group %q pushed", doc.DisplayName)
	if name != doc.DisplayName {
		reason += fmt.Sprintf(" as %q", name)
	}
	return outbound.DesiredGroup{Present: true, Name: name, Members: members, Reason: reason}, nil
}
