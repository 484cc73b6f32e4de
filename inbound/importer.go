package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// Store is the slice of store.Store the importer uses.
type Store interface {
	Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error)
	Lookup(ctx context.Context, kind store.Kind, index, value string) (*store.Resource, error)
	LookupAll(ctx context.Context, kind store.Kind, index, value string, max int) ([]*store.Resource, error)
	Apply(ctx context.Context, w store.Write) (*store.Resource, error)

	GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error)
	PutLink(ctx context.Context, l store.Link) error
	DeleteLink(ctx context.Context, app string, kind store.Kind, hubID string) error
	LinkByRemote(ctx context.Context, app string, kind store.Kind, remoteID string) (*store.Link, error)
	Links(ctx context.Context, app string, kind store.Kind, after string, count int) ([]store.Link, error)

	Enqueue(ctx context.Context, marks ...store.Mark) error
	AcquireLock(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (store.Lock, error)
	ReleaseLock(ctx context.Context, l store.Lock) error
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
	AppendReport(ctx context.Context, entries ...store.ReportEntry) error
}

var _ Store = store.Store(nil)

// Match keys, for App.Match.
const (
	// MatchUserName: the hub user whose userName is the account's
	// (case-insensitive).
	MatchUserName = "userName"
	// MatchEmail: the one hub user holding the account's primary email; an
	// email several hub users hold is a reported conflict, never a guess.
	MatchEmail = "email"
	// MatchExternalID: the hub user whose id is the account's externalId
	// (what the gateway sends as externalId), else the one hub user whose
	// externalId it is; externalId is not unique, and one several hub
	// users hold is a reported conflict, never a guess.
	MatchExternalID = "externalId"
)

// DefaultMatch is the match order of an App without one.
var DefaultMatch = []string{MatchUserName, MatchEmail}

// Defaults.
const (
	DefaultLockTTL          = 2 * time.Minute
	DefaultProgressEvery    = 1000
	DefaultProgressInterval = 10 * time.Second
	DefaultMaxBuffered      = 5000
)

// Errors.
var (
	// ErrLockLost: the import lock was taken over (its lease ran out
	// before a renewal); the run stopped where it was.
	ErrLockLost = errors.New("import lock lost")
	// ErrUnknownApp: RunOnce named an app the Importer does not have.
	ErrUnknownApp = errors.New("unknown app")
)

// App is one app to import from.
type App struct {
	// Name identifies the app (links, queue, reports).
	Name string
	// Users lists the app's accounts (see NewLister).
	Users Lister
	// Drift is config.DriftReport (default), config.DriftRepush or
	// config.DriftAccept.
	Drift string
	// Safeguard is the app's mass-deprovisioning threshold.
	Safeguard config.Safeguard
	// Match is the order in which an unlinked account is matched to a hub
	// user (MatchUserName, MatchEmail, MatchExternalID); default
	// DefaultMatch.
	Match []string
	// Interval is how often Run imports the app; 0: only on demand
	// (RunOnce).
	Interval time.Duration
}

// Config configures an Importer.
type Config struct {
	Store  Store  // required
	Source Source // required: desired state, as the reconcilers see it
	Apps   []App
	// Clock defaults to the wall clock; Logger to discarding.
	Clock  clock.Clock
	Logger *slog.Logger
	// Hash is the normalised hash of an account as a target returns it;
	// it must be the reconcilers' (default target.RemoteHash).
	Hash func(map[string]any) string
	// LockTTL is the lease of the per-app import lock, renewed every
	// third of it while a run lasts. Default DefaultLockTTL.
	LockTTL time.Duration
	// Owner names this process in locks; default hostname:pid.
	Owner string
	// Progress is logged (and passed to OnProgress) every ProgressEvery
	// accounts and at least every ProgressInterval. Defaults 1000 and 10s.
	ProgressEvery    int
	ProgressInterval time.Duration
	OnProgress       func(Progress)
	// MaxBuffered bounds the decisions a survey keeps to act on without
	// listing the app again; beyond it the run lists twice. Default 5000.
	MaxBuffered int
}

// Options are the options of one run.
type Options struct {
	// DryRun reports every decision (Detail "dry-run: …", Status skipped)
	// and changes nothing else: no users, links, queue entries or state.
	DryRun bool
	// Force lifts the safeguard.
	Force bool
}

// Progress is a run's progress.
type Progress struct {
	App     string
	RunID   string
	Phase   string // "survey", "import" or "dry-run"
	Seen    int
	Elapsed time.Duration
	Rate    float64 // accounts per second
}

// Result is what a run found and did. When the safeguard stopped it, the
// counts are what it would have done.
type Result struct {
	App       string    `json:"app"`
	RunID     string    `json:"runId"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	DryRun    bool      `json:"dryRun,omitempty"`
	Forced    bool      `json:"forced,omitempty"`
	LockToken int64     `json:"lockToken,omitempty"`

	Seen      int `json:"seen"`      // remote accounts listed
	Unchanged int `json:"unchanged"` // linked and equal (or differing only by normalisation)
	Drifted   int `json:"drifted"`   // linked and different
	Linked    int `json:"linked"`    // unlinked, matched a hub user, linked
	Imported  int `json:"imported"`  // unlinked, unmatched, imported as hub users
	Missing   int `json:"missing"`   // linked but gone remotely
	Conflicts int `json:"conflicts"` // ambiguous or contradictory matches, left alone
	Failed    int `json:"failed"`    // accounts that cannot be imported (no userName, invalid)
	Requeued  int `json:"requeued"`  // user keys queued for the reconciler

	// Deprovisions counts what the safeguard weighs: links dropped for
	// missing accounts, drift to inactive, and links the reconciler would
	// deactivate; Population is the larger of the app's links and the
	// accounts listed.
	Deprovisions int `json:"deprovisions"`
	Population   int `json:"population"`

	Duration time.Duration `json:"duration"`
	// Stopped: the safeguard stopped the run (for a dry run: would stop
	// it); nothing was changed.
	Stopped bool `json:"stopped,omitempty"`
	// Error is why the run failed, if it did.
	Error string `json:"error,omitempty"`
}

// StateReader is the slice of the store ReadLast uses.
type StateReader interface {
	GetState(ctx context.Context, key string) ([]byte, error)
}

// ReadLast returns the last Result of an app's import, and false when the
// app was never imported.
func ReadLast(ctx context.Context, st StateReader, app string) (Result, bool, error) {
	b, err := st.GetState(ctx, store.LastImportKey(app))
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("inbound: read last import of %s: %w", app, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, false, fmt.Errorf("inbound: read last import of %s: %w", app, err)
	}
	return r, true, nil
}

// Importer imports apps' accounts. Make it with New.
type Importer struct {
	st     Store
	source Source
	clock  clock.Clock
	log    *slog.Logger
	hash   func(map[string]any) string
	owner  string

	lockTTL          time.Duration
	progressEvery    int
	progressInterval time.Duration
	onProgress       func(Progress)
	maxBuffered      int

	apps  map[string]*App
	order []*App
}

// New checks c (reporting every problem at once) and applies defaults.
func New(c Config) (*Importer, error) {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if c.Source == nil {
		errs = append(errs, errors.New("a source is required"))
	}
	if c.LockTTL < 0 || c.ProgressInterval < 0 || c.ProgressEvery < 0 || c.MaxBuffered < 0 {
		errs = append(errs, errors.New("lock TTL, progress settings and max buffered must not be negative"))
	}
	im := &Importer{
		st: c.Store, source: c.Source, clock: c.Clock, log: c.Logger, hash: c.Hash, owner: c.Owner,
		lockTTL: c.LockTTL, progressEvery: c.ProgressEvery, progressInterval: c.ProgressInterval,
		onProgress: c.OnProgress, maxBuffered: c.MaxBuffered, apps: map[string]*App{},
	}
	if im.clock == nil {
		im.clock = clock.Wall
	}
	if im.log == nil {
		im.log = slog.New(slog.DiscardHandler)
	}
	if im.hash == nil {
		im.hash = target.RemoteHash
	}
	if im.owner == "" {
		host, _ := os.Hostname()
		im.owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	if im.lockTTL == 0 {
		im.lockTTL = DefaultLockTTL
	}
	if im.progressEvery == 0 {
		im.progressEvery = DefaultProgressEvery
	}
	if im.progressInterval == 0 {
		im.progressInterval = DefaultProgressInterval
	}
	if im.maxBuffered == 0 {
		im.maxBuffered = DefaultMaxBuffered
	}
	for i, a := range c.Apps {
		if err := checkApp(&a); err != nil {
			errs = append(errs, fmt.Errorf("app %d (%q): %w", i, a.Name, err))
			continue
		}
		if im.apps[a.Name] != nil {
			errs = append(errs, fmt.Errorf("app %d: name %q is used twice", i, a.Name))
			continue
		}
		im.apps[a.Name] = &a
		im.order = append(im.order, &a)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("inbound: %w", errors.Join(errs...))
	}
	return im, nil
}

func checkApp(a *App) error {
	var errs []error
	if a.Name == "" || strings.ContainsAny(a.Name, "/ \t\n") {
		errs = append(errs, fmt.Errorf("name %q: want a non-empty name without '/' or spaces", a.Name))
	}
	if a.Users == nil {
		errs = append(errs, errors.New("a lister of its users is required"))
	}
	switch a.Drift {
	case "":
		a.Drift = config.DriftReport
	case config.DriftReport, config.DriftRepush, config.DriftAccept:
	default:
		errs = append(errs, fmt.Errorf("drift %q: want %s, %s or %s", a.Drift, config.DriftReport, config.DriftRepush, config.DriftAccept))
	}
	if len(a.Match) == 0 {
		a.Match = DefaultMatch
	}
	for _, m := range a.Match {
		switch m {
		case MatchUserName, MatchEmail, MatchExternalID:
		default:
			errs = append(errs, fmt.Errorf("match %q: want %s, %s or %s", m, MatchUserName, MatchEmail, MatchExternalID))
		}
	}
	if a.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval %v is negative", a.Interval))
	}
	return errors.Join(errs...)
}

// Apps returns the names of the apps, in configuration order.
func (im *Importer) Apps() []string {
	out := make([]string, 0, len(im.order))
	for _, a := range im.order {
		out = append(out, a.Name)
	}
	return out
}

// RunOnce imports one app now, under its lock: a store.ErrLocked error
// means another run (of this or another replica) holds it. A run the
// safeguard stops returns its Result with Stopped set and no error. The
// Result is also kept under store.LastImportKey(app), except for a dry run.
func (im *Importer) RunOnce(ctx context.Context, app string, o Options) (Result, error) {
	a, ok := im.apps[app]
	if !ok {
		return Result{}, fmt.Errorf("inbound: %w %q", ErrUnknownApp, app)
	}
	r := &run{im: im, app: a, opts: o, id: newRunID(), started: im.clock.Now()}
	r.res = Result{App: a.Name, RunID: r.id, Started: r.started, DryRun: o.DryRun, Forced: o.Force}
	if o.DryRun {
		// Read-only: it needs no lock and does not record a result.
		err := r.execute(ctx)
		r.finish(err)
		return r.res, r.wrap(err)
	}
	lock, err := im.st.AcquireLock(ctx, store.ImportLock(app), im.owner+"/"+r.id, im.clock.Now(), im.lockTTL)
	if err != nil {
		return Result{}, fmt.Errorf("inbound: import %s: lock: %w", app, err)
	}
	r.res.LockToken = lock.Token
	runCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { im.renew(runCtx, lock, cancel) })
	err = r.execute(runCtx)
	if cause := context.Cause(runCtx); errors.Is(cause, ErrLockLost) {
		err = cause
	}
	cancel(nil)
	wg.Wait()
	rctx := context.WithoutCancel(ctx)
	if rerr := im.st.ReleaseLock(rctx, lock); rerr != nil && !errors.Is(rerr, store.ErrNotFound) && !errors.Is(rerr, store.ErrLocked) {
		im.log.Warn("cannot release the import lock; it expires by itself", "app", app, "err", rerr)
	}
	r.finish(err)
	if b, merr := json.Marshal(r.res); merr == nil {
		if perr := im.st.PutState(rctx, store.LastImportKey(app), b); perr != nil {
			im.log.Warn("cannot record the import result", "app", app, "err", perr)
		}
	}
	return r.res, r.wrap(err)
}

// renew extends the lock every third of its TTL while ctx lasts; a failed
// renewal, or one that comes back with another fencing token (the lease
// ran out and the lock was acquired anew), cancels the run with
// ErrLockLost.
func (im *Importer) renew(ctx context.Context, lock store.Lock, cancel context.CancelCauseFunc) {
	every := max(im.lockTTL/3, time.Millisecond)
	for {
		if err := im.clock.Sleep(ctx, every); err != nil {
			return
		}
		l, err := im.st.AcquireLock(ctx, lock.Name, lock.Owner, im.clock.Now(), im.lockTTL)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !errors.Is(err, store.ErrLocked):
			// The store is unreachable: the writes of the run fail too; the
			// lock holds until its lease ends, and the next renewal tells.
			im.log.Warn("cannot renew the import lock", "lock", lock.Name, "err", err)
			continue
		case err != nil:
			cancel(fmt.Errorf("%w: %s is held by another owner", ErrLockLost, lock.Name))
			return
		case l.Token != lock.Token:
			cancel(fmt.Errorf("%w: %s was re-acquired with fencing token %d (was %d)", ErrLockLost, lock.Name, l.Token, lock.Token))
			return
		}
	}
}

// Run imports every app with an Interval on its schedule until ctx ends,
// then returns nil (a run in progress stops where it is; its next run
// starts over, every step being idempotent). The schedule is kept in the store (each app's last
// Result), so replicas and restarts share it; the lock makes the run of
// an app one replica's.
func (im *Importer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, a := range im.order {
		if a.Interval > 0 {
			wg.Go(func() { im.schedule(ctx, a) })
		}
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

func (im *Importer) schedule(ctx context.Context, a *App) {
	var notBefore time.Time
	for {
		due := im.nextDue(ctx, a)
		if due.Before(notBefore) {
			due = notBefore
		}
		if wait := due.Sub(im.clock.Now()); wait > 0 {
			if err := im.clock.Sleep(ctx, wait); err != nil {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		res, err := im.RunOnce(ctx, a.Name, Options{})
		now := im.clock.Now()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, store.ErrLocked):
			// Another replica imports the app now: its result sets the
			// next due time; look again at the latest when its lock would
			// have expired.
			notBefore = now.Add(min(a.Interval, im.lockTTL))
			continue
		case err != nil:
			im.log.Error("scheduled import failed", "app", a.Name, "err", err)
		case res.Stopped:
			im.log.Warn("scheduled import stopped by the safeguard; run it with force after checking", "app", a.Name,
				"deprovisions", res.Deprovisions, "population", res.Population)
		}
		notBefore = now.Add(a.Interval)
	}
}

// nextDue is when the app is next imported: its last run's end plus its
// interval, or now when it never ran.
func (im *Importer) nextDue(ctx context.Context, a *App) time.Time {
	last, ok, err := ReadLast(ctx, im.st, a.Name)
	if err != nil {
		im.log.Warn("cannot read the last import; importing now", "app", a.Name, "err", err)
	}
	if !ok || last.Finished.IsZero() {
		return im.clock.Now()
	}
	return last.Finished.Add(a.Interval)
}
