package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// importUserAgent is the User-Agent of the importer's calls.
const importUserAgent = "scim-gateway-import"

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
			Client: scimclient.Options{
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

// leaseFor is how long a claimed key stays invisible to other workers: long
// enough for one reconcile's calls (a search or two and a write) at the
// slowest app's timeout, and no longer, since after a crash the keys the
// dead process held come back only when their lease ends.
func leaseFor(apps []outbound.AppConfig) time.Duration {
	var longest time.Duration
	for _, a := range apps {
		t := a.Client.Timeout
		if t <= 0 {
			t = scimclient.DefaultTimeout
		}
		longest = max(longest, t)
	}
	return max(30*time.Second, 4*longest)
}

// importApp builds the importer's view of one configured app: a lister
// over its SCIM API that takes from the app's rate-limit bucket in the
// store, shared with the reconcilers of every replica.
func importApp(st store.Store, app config.App, userAgent string) (inbound.App, error) {
	client, err := scimclient.New(scimclient.Options{
		BaseURL:   app.BaseURL,
		Token:     app.Token.Reveal(),
		Timeout:   app.Timeout.Std(),
		UserAgent: userAgent,
		Wait:      inbound.Limit(st, app.Name, app.RateLimit.RequestsPerSecond, app.RateLimit.Burst, nil),
	})
	if err != nil {
		return inbound.App{}, fmt.Errorf("import: app %s: %w", app.Name, err)
	}
	users, err := target.NewLister(app.Type, client)
	if err != nil {
		return inbound.App{}, fmt.Errorf("import: app %s: %w", app.Name, err)
	}
	return inbound.App{
		Name: app.Name, Users: users, Drift: app.Drift, Safeguard: app.Safeguard,
		Match: app.Import.Match, Interval: app.Import.Interval.Std(),
	}, nil
}

// importApps is importApp for every app with a token.
func importApps(st store.Store, cfg *config.Config) ([]inbound.App, error) {
	var apps []inbound.App
	for _, a := range cfg.Apps {
		if a.Paused() {
			continue
		}
		ia, err := importApp(st, a, importUserAgent)
		if err != nil {
			return nil, err
		}
		apps = append(apps, ia)
	}
	return apps, nil
}

// ImportJob is one import run of one app on demand, outside a running
// gateway (the import command).
type ImportJob struct {
	// App is the app to import; it must have a token.
	App config.App
	// Policies decide what the app should hold (drift, re-pushes).
	Policies *mapping.Policies
	// Options are the run's (dry run, force).
	Options inbound.Options
	// Logger defaults to discarding.
	Logger *slog.Logger
	// OnProgress, when set, is told the run's progress.
	OnProgress func(inbound.Progress)
}

// Import runs job now, under the app's import lock (store.ErrLocked when
// another import of the app holds it).
func Import(ctx context.Context, st store.Store, job ImportJob) (inbound.Result, error) {
	ia, err := importApp(st, job.App, importUserAgent)
	if err != nil {
		return inbound.Result{}, err
	}
	im, err := inbound.New(inbound.Config{
		Store:      st,
		Source:     NewEngine(st, job.Policies),
		Logger:     job.Logger,
		Apps:       []inbound.App{ia},
		OnProgress: job.OnProgress,
	})
	if err != nil {
		return inbound.Result{}, fmt.Errorf("import: %w", err)
	}
	return im.RunOnce(ctx, job.App.Name, job.Options)
}

// credentials turns a configuration's credential set into the gateway's
// authenticator.
func credentials(c config.Credentials) *gateway.Credentials {
	var tokens []gateway.StaticToken
	for _, t := range c.Tokens {
		if !t.Active() {
			continue
		}
		tokens = append(tokens, gateway.StaticToken{Name: t.Name, Value: t.Token.Reveal(), AllowRawHeader: t.RawHeader()})
	}
	var issuers []gateway.OIDCIssuer
	for _, o := range c.OIDC {
		issuers = append(issuers, gateway.OIDCIssuer{Name: o.Name, Issuer: o.Issuer, DiscoveryURL: o.DiscoveryURL,
			Audiences: o.Audiences, RequiredClaims: o.RequiredClaims})
	}
	return gateway.NewCredentials(tokens, issuers, nil, nil)
}
