package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backend"
	"github.com/scimgate/scim-gateway/outbound"
)

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: built-in defaults, token from SCIM_GATEWAY_TOKEN)")
	listen := fs.String("listen", "", "listen address host:port (overrides server.listen)")
	storeURL := fs.String("store", "", "store URL: bolt:///path/file.db, bolt://relative/file.db or redis://host:port/db (overrides store.url)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	if err == nil {
		_, err = compilePolicies(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scim-gateway: refusing to start on an invalid configuration:\n%v\n", err)
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *storeURL != "" {
		cfg.Store.URL = *storeURL
	}
	log := newLogger(cfg.Log, stderr)
	if err := serve(ctx, cfg, *path, getenv, log, nil); err != nil {
		log.Error("gateway stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// serve runs the gateway until ctx ends: the SCIM server and the
// reconcilers of every configured app, with the policies reloaded on
// SIGHUP and POST /admin/reload. ready, when not nil, receives the
// listening address once the server accepts connections.
func serve(ctx context.Context, cfg *config.Config, path string, getenv env, log *slog.Logger, ready chan<- net.Addr) error {
	st, err := backend.Open(ctx, cfg.Store.URL, backend.Options{RedisPrefix: cfg.Store.RedisPrefix})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("close store", "err", err)
		}
	}()
	log.Info("store open", "url", backend.Redact(cfg.Store.URL))
	pols, err := compilePolicies(cfg)
	if err != nil {
		return err
	}
	engine := newPolicyEngine(st, pols)
	if err := saveRunning(ctx, st, cfg); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The reconcilers run under their own context, restarted when a
	// reload changes the apps, and stopped after the HTTP server.
	fo := &fanout{st: st, source: engine, log: log, reg: reg}
	var (
		runMu     sync.Mutex
		runner    *outbound.Runner
		runDone   <-chan error
		runCancel context.CancelFunc = func() {}
	)
	start := func(apps []outbound.AppConfig) error {
		runMu.Lock()
		defer runMu.Unlock()
		runCancel()
		if runDone != nil {
			if err := <-runDone; err != nil {
				log.Warn("reconcilers stopped", "err", err)
			}
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r, done, err := fo.run(rctx, apps, reg)
		if err != nil {
			cancel()
			runCancel, runDone, runner = func() {}, nil, nil
			return err
		}
		runner, runDone, runCancel = r, done, cancel
		log.Info("reconcilers running", "apps", len(apps))
		return nil
	}
	apps := appConfigs(cfg, log)
	if err := start(apps); err != nil {
		return err
	}
	defer func() {
		runMu.Lock()
		defer runMu.Unlock()
		runCancel()
		if runDone != nil {
			if err := <-runDone; err != nil {
				log.Warn("reconcilers stopped", "err", err)
			}
		}
	}()
	wake := func() {
		runMu.Lock()
		r := runner
		runMu.Unlock()
		if r != nil {
			r.Wake()
		}
	}
	// The scheduled importer, rebuilt on every reload.
	var (
		impMu     sync.Mutex
		importer  *inbound.Importer
		impDone   chan error
		impCancel context.CancelFunc = func() {}
	)
	startImports := func(c *config.Config) error {
		impMu.Lock()
		defer impMu.Unlock()
		impCancel()
		if impDone != nil {
			if err := <-impDone; err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("importer stopped", "err", err)
			}
		}
		importer, impDone, impCancel = nil, nil, func() {}
		iapps, err := importApps(st, c)
		if err != nil {
			return err
		}
		im, err := inbound.New(inbound.Config{Store: st, Source: engine, Apps: iapps, Logger: log})
		if err != nil {
			return err
		}
		ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() { done <- im.Run(ictx) }()
		importer, impDone, impCancel = im, done, cancel
		return nil
	}
	if err := startImports(cfg); err != nil {
		return err
	}
	defer func() {
		impMu.Lock()
		defer impMu.Unlock()
		impCancel()
		if impDone != nil {
			<-impDone
		}
	}()
	importNow := func(ictx context.Context, app string, dryRun, force bool) (any, error) {
		impMu.Lock()
		im := importer
		impMu.Unlock()
		res, err := im.RunOnce(ictx, app, inbound.Options{DryRun: dryRun, Force: force})
		switch {
		case errors.Is(err, inbound.ErrUnknownApp):
			return nil, fmt.Errorf("%w: %v", gateway.ErrUnknownApp, err)
		case errors.Is(err, store.ErrLocked):
			return nil, fmt.Errorf("%w: %v", gateway.ErrBusy, err)
		}
		return res, err
	}

	rl := &reloader{path: path, getenv: getenv, st: st, engine: engine, log: log, now: time.Now, apps: apps, restart: start,
		reconfigured: startImports}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if _, err := rl.reload(ctx, false); err != nil {
					log.Error("SIGHUP reload", "err", err)
				}
			}
		}
	}()

	retCtx, retStop := context.WithCancel(ctx)
	retDone := make(chan struct{})
	go func() {
		defer close(retDone)
		if err := report.RunRetention(retCtx, st, cfg.Reports.Retention.Std(), cfg.Reports.MaxEntries, 10*time.Minute, nil, log); err != nil {
			log.Error("report retention stopped", "err", err)
		}
	}()
	defer func() { retStop(); <-retDone }()

	srv, err := gateway.New(gateway.Options{
		Admin:           gateway.AdminOptions{Store: st, Apps: rl.appNames},
		Store:           st,
		Logger:          log,
		Registry:        reg,
		IDPAuth:         credentials(cfg.Auth.IdP),
		AdminAuth:       credentials(cfg.Auth.Admin),
		Marker:          engine,
		AfterWrite:      wake,
		Reload:          rl.reload,
		Import:          importNow,
		BaseURL:         cfg.Server.BaseURL,
		BodyLimit:       cfg.Server.BodyLimitBytes,
		MaxResults:      cfg.SCIM.MaxResults,
		DefaultCount:    cfg.SCIM.DefaultCount,
		IdempotencyTTL:  cfg.SCIM.IdempotencyTTL.Std(),
		ReadTimeout:     cfg.Server.ReadTimeout.Std(),
		WriteTimeout:    cfg.Server.WriteTimeout.Std(),
		ShutdownTimeout: cfg.Server.ShutdownTimeout.Std(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	if ready != nil {
		ready <- ln.Addr()
	}
	return srv.Serve(ctx, ln)
}

// credentials turns a configuration's credential set into the gateway's
// authenticator.
func credentials(c config.Credentials) *gateway.Credentials {
	var tokens []gateway.StaticToken
	for _, t := range c.Tokens {
		if !t.Active() {
			continue
		}
		tokens = append(tokens, gateway.StaticToken{Name: t.Name, Value: t.Token.Reveal(), AllowRawHeader: t.AllowRawHeader})
	}
	var issuers []gateway.OIDCIssuer
	for _, o := range c.OIDC {
		issuers = append(issuers, gateway.OIDCIssuer{Name: o.Name, Issuer: o.Issuer, DiscoveryURL: o.DiscoveryURL,
			Audiences: o.Audiences, RequiredClaims: o.RequiredClaims})
	}
	return gateway.NewCredentials(tokens, issuers, nil, nil)
}
