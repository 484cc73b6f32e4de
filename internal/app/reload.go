package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound"
)

// reloader applies a new configuration's apps and policies to a running
// gateway (SIGHUP, POST /admin/reload): validate, plan, refuse a change
// that exceeds an app's safeguard unless forced, then swap the policies
// atomically, enqueue the users whose desired state changed, and restart
// the reconcilers when the apps changed. An invalid configuration leaves
// the running one in place. Listen address, store and credentials are
// read at start only.
type reloader struct {
	// load reads and validates the configuration to apply.
	load   func() (*config.Config, error)
	st     store.Store
	engine *Engine
	log    *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	apps []outbound.AppConfig
	// restart runs the reconcilers of apps in place of the running ones.
	restart func(apps []outbound.AppConfig) error
	// reconfigured, when set, is told every configuration applied.
	reconfigured func(cfg *config.Config) error
}

// reload applies the configuration load returns; force lifts the
// safeguard. It returns the plan's summary, one app a line.
func (r *reloader) reload(ctx context.Context, force bool) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := r.load()
	var next *mapping.Policies
	if err == nil {
		next, err = CompilePolicies(cfg)
	}
	if err != nil {
		r.log.Error("reload refused: invalid configuration; the running one stays", "err", err)
		return "", fmt.Errorf("%w: %v", gateway.ErrInvalidConfig, err)
	}
	plans, err := Plan(ctx, r.st, r.engine.Policies(), next)
	if err != nil {
		return "", fmt.Errorf("reload: plan: %w", err)
	}
	summary, over := summarize(plans)
	if over && !force {
		r.log.Warn("reload refused: the change exceeds an app's safeguard; use force", "plan", summary)
		return summary, gateway.ErrReloadRefused
	}
	prev := r.engine.Swap(next)
	if err := SaveRunning(ctx, r.st, cfg); err != nil {
		r.log.Warn("reload: record running configuration", "err", err)
	}
	if err := r.enqueueGroups(ctx, prev, next, plans); err != nil {
		return summary, fmt.Errorf("reload: enqueue groups: %w", err)
	}
	if err := r.enqueue(ctx, next, plans); err != nil {
		return summary, fmt.Errorf("reload: enqueue changes: %w", err)
	}
	apps := appConfigs(cfg, r.log)
	if !reflect.DeepEqual(apps, r.apps) {
		if err := r.restart(apps); err != nil {
			return summary, fmt.Errorf("reload: restart reconcilers: %w", err)
		}
		r.apps = apps
	}
	if r.reconfigured != nil {
		if err := r.reconfigured(cfg); err != nil {
			return summary, fmt.Errorf("reload: %w", err)
		}
	}
	r.log.Info("configuration reloaded", "plan", summary, "forced", force && over)
	return summary, nil
}

// summarize renders plans one app a line and reports whether any app's
// change exceeds its safeguard.
func summarize(plans map[string]*mapping.AppPlan) (string, bool) {
	names := make([]string, 0, len(plans))
	for n := range plans {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	over := false
	for _, n := range names {
		lines = append(lines, plans[n].String())
		over = over || plans[n].ExceedsSafeguard
	}
	return strings.Join(lines, "\n"), over
}

// enqueue marks every user a plan changes, in the apps it changes in.
func (r *reloader) enqueue(ctx context.Context, p *mapping.Policies, plans map[string]*mapping.AppPlan) error {
	var marks []store.Mark
	for app, pl := range plans {
		for _, list := range [][]string{pl.Create, pl.Reactivate, pl.Update, pl.Deactivate, pl.Delete} {
			for _, name := range list {
				u, err := r.st.Lookup(ctx, store.KindUser, store.IndexUserName, name)
				if errors.Is(err, store.ErrNotFound) {
					u, err = r.st.Get(ctx, store.KindUser, name) // a user without userName is listed by id
				}
				if err != nil {
					continue
				}
				for _, m := range p.MarksForUser(u.ID, r.now()) {
					if m.App == app {
						marks = append(marks, m)
					}
				}
			}
		}
	}
	for len(marks) > 0 {
		n := min(len(marks), 500)
		if err := r.st.Enqueue(ctx, marks[:n]...); err != nil {
			return err
		}
		marks = marks[n:]
	}
	return nil
}

// appNames lists the apps the reconcilers run (paused apps have none).
func (r *reloader) appNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.apps))
	for _, a := range r.apps {
		names = append(names, a.Name)
	}
	return names
}

// enqueueGroups marks, in every app whose set of pushed groups the change
// alters, every hub group that the policies before or after push there:
// a group newly pushed is created, one no longer pushed is deleted. It
// reads every hub group once (reloads are rare).
func (r *reloader) enqueueGroups(ctx context.Context, before, after *mapping.Policies, plans map[string]*mapping.AppPlan) error {
	changed := map[string]bool{}
	for app, pl := range plans {
		if len(pl.GroupsAdded)+len(pl.GroupsRemoved) > 0 {
			changed[app] = true
		}
	}
	if len(changed) == 0 {
		return nil
	}
	now := r.now()
	for offset := 0; ; offset += 500 {
		page, err := r.st.List(ctx, store.KindGroup, offset, 500)
		if err != nil {
			return err
		}
		var marks []store.Mark
		for _, g := range page.Resources {
			name := groupName(g)
			for _, m := range append(before.MarksForGroup(g.ID, name, now), after.MarksForGroup(g.ID, name, now)...) {
				if changed[m.App] {
					marks = append(marks, m)
				}
			}
		}
		if len(marks) > 0 {
			if err := r.st.Enqueue(ctx, marks...); err != nil {
				return err
			}
		}
		if len(page.Resources) < 500 {
			return nil
		}
	}
}

func groupName(g *store.Resource) string {
	var d struct {
		DisplayName string `json:"displayName"`
	}
	_ = json.Unmarshal(g.Data, &d)
	return d.DisplayName
}
