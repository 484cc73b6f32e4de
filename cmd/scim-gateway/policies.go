package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound"
)

// policyEngine holds the compiled policies, swapped atomically on
// reload, and answers the gateway (which keys a change marks) and the
// reconcilers (what an app should hold now) from the same snapshot.
type policyEngine struct {
	st  store.Store
	cur atomic.Pointer[mapping.Policies]
}

func newPolicyEngine(st store.Store, p *mapping.Policies) *policyEngine {
	e := &policyEngine{st: st}
	e.cur.Store(p)
	return e
}

func (e *policyEngine) policies() *mapping.Policies { return e.cur.Load() }

func (e *policyEngine) UserChanged(id string, due time.Time) []store.Mark {
	return e.policies().MarksForUser(id, due)
}

func (e *policyEngine) MembershipChanged(groupID, groupName string, members []string, due time.Time) []store.Mark {
	return e.policies().MarksForMembership(groupID, groupName, members, due)
}

func (e *policyEngine) GroupChanged(groupID, groupName string, due time.Time) []store.Mark {
	return e.policies().MarksForGroup(groupID, groupName, due)
}

// desired computes what app should hold for a hub user now, and the ids
// of the user's hub groups that the app pushes (whether or not the user
// is admitted: a user leaving the app must leave its groups too). A user
// gone from the hub is not desired and has no groups; whether its account
// is protected is judged by the userName last applied to the app.
func (e *policyEngine) desired(ctx context.Context, app, hubID string) (mapping.Desired, []string, error) {
	p := e.policies()
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
func (e *policyEngine) DesiredGroup(ctx context.Context, app, groupID string) (outbound.DesiredGroup, error) {
	p := e.policies()
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

// compilePolicies compiles a validated configuration's apps and policies.
func compilePolicies(cfg *config.Config) (*mapping.Policies, error) {
	p, err := mapping.Compile(cfg.Apps, cfg.Policies)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	return p, nil
}

// saveRunning records cfg as the running configuration (secrets masked).
func saveRunning(ctx context.Context, st store.Store, cfg *config.Config) error {
	b, err := cfg.Redacted()
	if err != nil {
		return err
	}
	if err := st.PutState(ctx, store.RunningConfigKey, b); err != nil {
		return fmt.Errorf("save running configuration: %w", err)
	}
	return nil
}

// loadRunning compiles the configuration recorded as running, or returns
// nil policies when none was recorded.
func loadRunning(ctx context.Context, st store.Store) (*mapping.Policies, error) {
	b, err := st.GetState(ctx, store.RunningConfigKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read running configuration: %w", err)
	}
	cfg, err := config.Parse(b, nil)
	if err != nil {
		return nil, fmt.Errorf("running configuration: %w", err)
	}
	return compilePolicies(cfg)
}

// plan compares the policies before and after over every hub user, with
// each user's accounts read from the links.
func plan(ctx context.Context, st store.Store, before, after *mapping.Policies) (map[string]*mapping.AppPlan, error) {
	var iterErr error
	plans := mapping.Plan(before, after, mapping.Users(ctx, st, &iterErr, after.Apps()...))
	if iterErr != nil {
		return nil, iterErr
	}
	return plans, nil
}
