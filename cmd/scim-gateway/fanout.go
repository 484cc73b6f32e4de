package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
)

// DesiredUser implements outbound.Source from the current policies.
func (e *policyEngine) DesiredUser(ctx context.Context, app, hubID string) (outbound.Desired, error) {
	d, groups, err := e.desired(ctx, app, hubID)
	if err != nil {
		return outbound.Desired{}, err
	}
	return outbound.Desired{Present: d.Present, Active: d.Active, Attributes: d.Attributes, Protected: d.Protected, Reason: d.Reason, Groups: groups}, nil
}

var _ outbound.GroupSource = (*policyEngine)(nil)

// appConfigs turns the configured apps into reconciler settings; an app
// without a token is paused: its keys stay queued until it has one.
func appConfigs(cfg *config.Config, log *slog.Logger) []outbound.AppConfig {
	var apps []outbound.AppConfig
	for _, a := range cfg.Apps {
		if a.Paused() {
			log.Warn("app paused: no token configured; its changes stay queued", "app", a.Name)
			continue
		}
		apps = append(apps, outbound.AppConfig{
			Name: a.Name,
			Type: a.Type,
			Client: outbound.ClientOptions{
				BaseURL: a.BaseURL,
				Token:   a.Token.Reveal(),
				Timeout: a.Timeout.Std(),
			},
			Rate:        a.RateLimit.RequestsPerSecond,
			Burst:       a.RateLimit.Burst,
			Concurrency: a.Concurrency,
			Deprovision: a.Deprovision,
			Actions: &outbound.Actions{Create: a.Actions.Create, Update: a.Actions.Update,
				Deactivate: a.Actions.Deactivate, Delete: a.Actions.Delete},
			Groups: a.PushesGroups(),
		})
	}
	return apps
}

// fanout runs the reconcilers of the current configuration and restarts
// them when a reload changes the apps.
type fanout struct {
	st     store.Store
	source outbound.Source
	log    *slog.Logger
	reg    prometheus.Registerer
}

// run runs one Runner for apps until ctx ends.
func (f *fanout) run(ctx context.Context, apps []outbound.AppConfig, reg prometheus.Registerer) (*outbound.Runner, <-chan error, error) {
	r, err := outbound.New(outbound.Options{Store: f.st, Source: f.source, Apps: apps, Logger: f.log, Registerer: reg,
		Lease: leaseFor(apps)})
	if err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, done, nil
}

// leaseFor is how long a claimed key stays invisible to other workers: long
// enough for one reconcile's calls (a search or two and a write) at the
// slowest app's timeout, and no longer, since after a crash the keys the
// dead process held come back only when their lease ends.
func leaseFor(apps []outbound.AppConfig) time.Duration {
	var longest time.Duration
	for _, a := range apps {
		t := a.Client.Timeout
		if t <= 0 {
			t = outbound.DefaultTimeout
		}
		longest = max(longest, t)
	}
	return max(30*time.Second, 4*longest)
}
