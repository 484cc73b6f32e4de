package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
)

// runningConfigKey is the store state holding the redacted configuration
// the gateway last started or reloaded with, so `plan` can compare a new
// configuration with what is running.
const runningConfigKey = "config/running"

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

// desired computes what app should hold for a hub user now. A user gone
// from the hub is not desired; whether its account is protected is
// judged by the userName last applied to the app.
func (e *policyEngine) desired(ctx context.Context, app, hubID string) (mapping.Desired, error) {
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
		return d, nil
	}
	if err != nil {
		return mapping.Desired{}, err
	}
	return p.DesiredUser(app, u), nil
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
	if err := st.PutState(ctx, runningConfigKey, b); err != nil {
		return fmt.Errorf("save running configuration: %w", err)
	}
	return nil
}

// loadRunning compiles the configuration recorded as running, or returns
// nil policies when none was recorded.
func loadRunning(ctx context.Context, st store.Store) (*mapping.Policies, error) {
	b, err := st.GetState(ctx, runningConfigKey)
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
