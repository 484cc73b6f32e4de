package main

import (
	"fmt"

	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
)

// importApp builds the importer's view of one configured app: a lister
// over its SCIM API that takes from the app's rate-limit bucket in the
// store, shared with the reconcilers of every replica.
func importApp(st store.Store, app config.App, userAgent string) (inbound.App, error) {
	client, err := outbound.NewClient(outbound.ClientOptions{
		BaseURL:   app.BaseURL,
		Token:     app.Token.Reveal(),
		Timeout:   app.Timeout.Std(),
		UserAgent: userAgent,
		Wait:      inbound.Limit(st, app.Name, app.RateLimit.RequestsPerSecond, app.RateLimit.Burst, nil),
	})
	if err != nil {
		return inbound.App{}, fmt.Errorf("import: app %s: %w", app.Name, err)
	}
	return inbound.App{
		Name: app.Name, Users: inbound.NewLister(client), Drift: app.Drift, Safeguard: app.Safeguard,
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
		ia, err := importApp(st, a, "scim-gateway-import")
		if err != nil {
			return nil, err
		}
		apps = append(apps, ia)
	}
	return apps, nil
}
