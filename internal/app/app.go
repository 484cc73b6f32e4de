package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
)

// The background loops, in the order Run stops them (after the HTTP
// server): no reconcile is left half done behind a stopped importer, and
// retention, which touches nothing the others read, goes last.
const (
	loopReconcilers = "reconcilers"
	loopImporter    = "importer"
	loopRetention   = "retention"
)

// retentionInterval is how often the report log is pruned.
const retentionInterval = 10 * time.Minute

// Options configure an App. Zero values take the documented defaults.
type Options struct {
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registry receives the gateway's metrics, served on /metrics; nil:
	// a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// ConfigPath is the configuration file a reload reads ("" for the
	// built-in default, see LoadConfig), with ${VAR} expanded by Getenv
	// (nil: no variables). Only apps and policies are reloaded; listen
	// address, store and credentials are read at start only.
	ConfigPath string
	Getenv     func(string) (string, bool)
	// Clock runs the reconcilers, the importer, report retention and the
	// server's timestamps; default the wall clock.
	Clock clock.Clock
	// Listener, when set, is served instead of listening on the
	// configuration's server.listen; Run closes it.
	Listener net.Listener
}

// App is the running gateway: the SCIM and admin server, the policy
// engine, the reconcilers of every configured app, the scheduled imports,
// report retention and configuration reloads.
type App struct {
	cfg      *config.Config
	st       store.Store
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	engine   *Engine
	reloader *reloader
	server   *gateway.Server
	loops    *supervisor

	mu       sync.Mutex
	runner   *outbound.Runner
	importer *inbound.Importer
	started  bool
	addr     net.Addr
	ready    chan struct{}
}

// New builds the gateway for cfg, a validated configuration, on st, which
// it uses but does not close. Nothing runs until Run.
func New(cfg *config.Config, st store.Store, opts Options) (*App, error) {
	if cfg == nil || st == nil {
		return nil, errors.New("app: a configuration and a store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Wall
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	pols, err := CompilePolicies(cfg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, st: st, opts: opts, log: opts.Logger, reg: reg, engine: NewEngine(st, pols),
		loops: newSupervisor(opts.Logger), ready: make(chan struct{})}
	apps := appConfigs(cfg, a.log)
	a.reloader = &reloader{
		load:         func() (*config.Config, error) { return LoadConfig(opts.ConfigPath, opts.Getenv) },
		st:           st,
		engine:       a.engine,
		log:          a.log,
		now:          opts.Clock.Now,
		apps:         apps,
		restart:      a.runReconcilers,
		reconfigured: a.runImporter,
	}
	if err := a.runReconcilers(apps); err != nil {
		return nil, err
	}
	if err := a.runImporter(cfg); err != nil {
		return nil, err
	}
	retention, maxEntries := cfg.Reports.Retention.Std(), cfg.Reports.MaxEntries
	if err := a.loops.set(loopRetention, func(ctx context.Context) error {
		return report.RunRetention(ctx, st, retention, maxEntries, retentionInterval, opts.Clock, a.log)
	}); err != nil {
		return nil, err
	}
	a.server, err = gateway.New(gateway.Options{
		Admin:           gateway.AdminOptions{Store: st, Apps: a.reloader.appNames},
		AppStatus:       a.appStatus,
		Store:           st,
		Logger:          a.log,
		Registry:        reg,
		IDPAuth:         credentials(cfg.Auth.IdP),
		AdminAuth:       credentials(cfg.Auth.Admin),
		Marker:          a.engine,
		AfterWrite:      a.wake,
		Reload:          a.Reload,
		Import:          a.importNow,
		Now:             opts.Clock.Now,
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
		return nil, err
	}
	return a, nil
}

// Run records the configuration as running, starts the background loops,
// listens and serves until ctx ends. Then it shuts the HTTP server down
// (letting requests in flight finish within server.shutdown_timeout),
// stops the reconcilers, the importer and report retention, in that
// order, and returns. An App runs once.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("app: Run called twice")
	}
	a.started = true
	a.mu.Unlock()
	ln := a.opts.Listener
	if err := SaveRunning(ctx, a.st, a.cfg); err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return err
	}
	a.loops.start(ctx)
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.Server.Listen); err != nil {
			return errors.Join(fmt.Errorf("listen %s: %w", a.cfg.Server.Listen, err), a.stopLoops())
		}
	}
	a.mu.Lock()
	a.addr = ln.Addr()
	a.mu.Unlock()
	close(a.ready)
	err := a.server.Serve(ctx, ln)
	return errors.Join(err, a.stopLoops())
}

// stopLoops stops the background loops in shutdown order.
func (a *App) stopLoops() error {
	if err := a.loops.stop(loopReconcilers, loopImporter, loopRetention); err != nil {
		return fmt.Errorf("background loops: %w", err)
	}
	return nil
}

// Ready is closed once Run listens; Addr then says where.
func (a *App) Ready() <-chan struct{} { return a.ready }

// Addr is the address Run listens on; nil before Ready is closed.
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Reload applies the configuration file's apps and policies (see
// Options.ConfigPath): validate, plan, refuse a change that exceeds an
// app's safeguard unless force, swap the policies, enqueue what changed,
// and rebuild the reconcilers (when the apps changed) and the importer.
// An invalid configuration (gateway.ErrInvalidConfig) or a refused one
// (gateway.ErrReloadRefused) leaves the running one in place. It returns
// the plan's summary, one app a line. SIGHUP and POST /admin/reload call
// it.
func (a *App) Reload(ctx context.Context, force bool) (string, error) {
	return a.reloader.reload(ctx, force)
}

// runReconcilers builds the reconcilers of apps and runs them in place of
// the running ones (which keep running if the new ones cannot be built).
func (a *App) runReconcilers(apps []outbound.AppConfig) error {
	r, err := outbound.New(outbound.Options{Store: a.st, Source: a.engine, Apps: apps, Logger: a.log, Registerer: a.reg,
		Clock: a.opts.Clock, Lease: leaseFor(apps)})
	if err != nil {
		return err
	}
	if err := a.loops.set(loopReconcilers, r.Run); err != nil {
		return err
	}
	a.mu.Lock()
	a.runner = r
	a.mu.Unlock()
	a.log.Info("reconcilers running", "apps", len(apps))
	return nil
}

// runImporter builds the scheduled importer of cfg's apps and runs it in
// place of the running one (which keeps running if the new one cannot be
// built).
func (a *App) runImporter(cfg *config.Config) error {
	iapps, err := importApps(a.st, cfg)
	if err != nil {
		return err
	}
	im, err := inbound.New(inbound.Config{Store: a.st, Source: a.engine, Apps: iapps, Logger: a.log, Clock: a.opts.Clock})
	if err != nil {
		return err
	}
	if err := a.loops.set(loopImporter, im.Run); err != nil {
		return err
	}
	a.mu.Lock()
	a.importer = im
	a.mu.Unlock()
	return nil
}

// wake makes idle reconcilers look at their queues now (after a hub write
// that queued marks).
func (a *App) wake() {
	a.mu.Lock()
	r := a.runner
	a.mu.Unlock()
	r.Wake()
}

// importNow runs one import of app now (POST /admin/apps/{app}/import).
func (a *App) importNow(ctx context.Context, app string, dryRun, force bool) (any, error) {
	a.mu.Lock()
	im := a.importer
	a.mu.Unlock()
	res, err := im.RunOnce(ctx, app, inbound.Options{DryRun: dryRun, Force: force})
	switch {
	case errors.Is(err, inbound.ErrUnknownApp):
		return nil, fmt.Errorf("%w: %v", gateway.ErrUnknownApp, err)
	case errors.Is(err, store.ErrLocked):
		return nil, fmt.Errorf("%w: %v", gateway.ErrBusy, err)
	}
	return res, err
}

// appStatus reads an app's failing state as its reconcilers record it.
func (a *App) appStatus(ctx context.Context, app string) (gateway.AppFailure, error) {
	s, err := outbound.ReadStatus(ctx, a.st, app)
	return gateway.AppFailure{Failing: s.Failing, Since: s.Since, LastError: s.LastError}, err
}
