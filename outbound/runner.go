package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/clock"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// Desired is what an app should hold for one hub user, as the policies
// say (mapping.Desired): Present, Active, the SCIM-shaped Attributes
// (externalId: when absent, the hub id is sent as one), Protected, the
// Reason reported, and GroupIDs, the hub groups the app pushes that the
// user is in.
type Desired = mapping.Desired

// Source computes desired state now: level-triggered, always from the hub
// and the policies at reconcile time.
type Source interface {
	// DesiredUser returns what app should hold for hub user hubID; not
	// Present when the hub user is gone or no policy gives it the app.
	DesiredUser(ctx context.Context, app, hubID string) (Desired, error)
}

// Store is the slice of store.Store the reconcilers use.
type Store interface {
	Enqueue(ctx context.Context, marks ...store.Mark) error
	Claim(ctx context.Context, app string, now time.Time, lease time.Duration, max int) ([]store.Claim, error)
	Ack(ctx context.Context, c store.Claim) error
	Requeue(ctx context.Context, c store.Claim, due time.Time) error
	Release(ctx context.Context, c store.Claim, due time.Time) error

	GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error)
	PutLink(ctx context.Context, l store.Link) error
	DeleteLink(ctx context.Context, app string, kind store.Kind, hubID string) error
	LinkByRemote(ctx context.Context, app string, kind store.Kind, remoteID string) (*store.Link, error)

	TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error)
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
	AppendReport(ctx context.Context, entries ...store.ReportEntry) error
}

var _ Store = store.Store(nil)

// Deprovisioning actions for an account that should no longer be present.
const (
	DeprovisionDeactivate = "deactivate" // PATCH active false: reversible (default)
	DeprovisionDelete     = "delete"     // DELETE: the SCIM record is gone for good
)

// Runner defaults.
const (
	DefaultLease        = 5 * time.Minute
	DefaultPollInterval = 100 * time.Millisecond
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultAuthRetry    = time.Minute
	DefaultGroupDelay   = time.Second
	// DefaultMaxGroupMembers is Atlassian's limit of users per group.
	DefaultMaxGroupMembers = 35000
)

// AppConfig is one downstream app.
type AppConfig struct {
	// Name identifies the app: its queue, links, bucket, reports.
	Name string
	// Type is the target profile: a type registered with outbound/target.
	Type string
	// Client configures the SCIM client (base URL, token, timeout). Its
	// Wait is chained after the app's rate limiter; Now defaults to the
	// Runner's clock.
	Client scimclient.Options
	// Rate is the most remote calls per second, across all replicas (one
	// token bucket in the store); <= 0 means unlimited.
	Rate float64
	// Burst is the bucket size; default max(1, ceil(Rate)).
	Burst int
	// Concurrency is the number of workers; default 1.
	Concurrency int
	// Deprovision is DeprovisionDeactivate (default) or DeprovisionDelete.
	Deprovision string
	// Actions switches kinds of remote change on and off; nil allows all.
	Actions *Actions
	// Groups switches group push on (the config's actions.groups): group
	// keys are reconciled (the Runner's Source must then be a
	// GroupSource). Off, they are acknowledged and reported skipped.
	Groups bool
	// MaxGroupMembers caps the members pushed to one group; members past
	// it are left out and reported as a failure. Default
	// DefaultMaxGroupMembers.
	MaxGroupMembers int
}

// Actions says which kinds of remote change a Runner may make in an app.
// A change that is switched off is reported as skipped and makes no call.
type Actions struct {
	Create     bool // POST new accounts (adopting an existing one links it)
	Update     bool // PATCH attributes, and reactivate
	Deactivate bool // PATCH active false
	Delete     bool // DELETE
}

// Options configure a Runner.
type Options struct {
	Store  Store  // required
	Source Source // required
	Apps   []AppConfig
	// Lease is how long a claimed key is held. A worker that stops hands
	// its key back; a process that dies holds its keys until their leases
	// end. A call is only started when it can finish within the lease.
	// Default DefaultLease.
	Lease time.Duration
	// PollInterval is how often an idle worker looks at its queue (Wake
	// cuts it short). Default DefaultPollInterval.
	PollInterval time.Duration
	// BackoffBase and BackoffMax bound the exponential backoff (full
	// jitter) of retried keys. Defaults 1s and 5m.
	BackoffBase, BackoffMax time.Duration
	// AuthRetry is how long a failing app (401/403) waits before the next
	// try. Default 1m.
	AuthRetry time.Duration
	// GroupDelay is how long after a user's account changed as a group
	// member (created, deactivated, ...) its groups are reconciled, so
	// that a burst of account changes is folded into one reconcile of
	// each group (which costs O(members)) per GroupDelay at most. Keys
	// are claimed earliest due first, so behind a backlog of user keys
	// (a first sync) a group waits for the backlog anyway. Default 1s.
	GroupDelay time.Duration
	// Clock defaults to the wall clock; Rand (uniform in [0,1), for
	// jitter) to math/rand/v2.
	Clock clock.Clock
	Rand  func() float64
	// Logger defaults to discarding; Registerer, when set, gets the
	// metrics.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Hash is the normalised hash of a resource as a target returned it,
	// stored in Link.Hash for drift detection; default target.RemoteHash. An
	// importer comparing hashes must use the same function.
	Hash func(map[string]any) string
}

// app is one app's runtime state.
type app struct {
	name        string
	target      target.Target
	rate        float64
	burst       int
	concurrency int
	deprovision string
	actions     Actions
	groups      bool
	maxMembers  int
	callTimeout time.Duration
	health      health
}

// Runner reconciles the apps' queues. Make it with New; run it with Run.
type Runner struct {
	store   Store
	source  Source
	groups  GroupSource // nil when Source cannot compute groups
	clock   clock.Clock
	rand    func() float64
	hash    func(map[string]any) string
	log     *slog.Logger
	metrics *metrics

	lease, poll, backoffBase, backoffMax, authRetry, groupDelay time.Duration

	apps  map[string]*app
	order []*app

	wakeMu  sync.Mutex
	wakeCh  chan struct{}
	running atomic.Bool
}

// New checks o (reporting every problem at once), applies defaults and
// builds each app's target.
func New(o Options) (*Runner, error) {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if o.Source == nil {
		errs = append(errs, errors.New("a source is required"))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"lease", &o.Lease, DefaultLease},
		{"poll interval", &o.PollInterval, DefaultPollInterval},
		{"backoff base", &o.BackoffBase, DefaultBackoffBase},
		{"backoff max", &o.BackoffMax, DefaultBackoffMax},
		{"auth retry", &o.AuthRetry, DefaultAuthRetry},
		{"group delay", &o.GroupDelay, DefaultGroupDelay},
	} {
		if *d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, *d.v))
		}
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if o.BackoffMax < o.BackoffBase {
		errs = append(errs, fmt.Errorf("backoff max %v is below backoff base %v", o.BackoffMax, o.BackoffBase))
	}
	if o.Clock == nil {
		o.Clock = clock.Wall
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hash == nil {
		o.Hash = target.RemoteHash
	}
	groups, _ := o.Source.(GroupSource)
	r := &Runner{
		store: o.Store, source: o.Source, groups: groups, clock: o.Clock, rand: o.Rand, hash: o.Hash, log: o.Logger,
		lease: o.Lease, poll: o.PollInterval, backoffBase: o.BackoffBase, backoffMax: o.BackoffMax, authRetry: o.AuthRetry,
		groupDelay: o.GroupDelay, apps: map[string]*app{}, wakeCh: make(chan struct{}),
	}
	for i, ac := range o.Apps {
		a, err := r.newApp(ac)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %d (%q): %w", i, ac.Name, err))
			continue
		}
		if r.apps[a.name] != nil {
			errs = append(errs, fmt.Errorf("app %d: name %q is used twice", i, a.name))
			continue
		}
		if a.groups && o.Source != nil && groups == nil {
			errs = append(errs, fmt.Errorf("app %d (%q): pushes groups, but the source has no DesiredGroup (want a GroupSource)", i, a.name))
			continue
		}
		r.apps[a.name] = a
		r.order = append(r.order, a)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("outbound: %w", errors.Join(errs...))
	}
	for _, a := range r.order {
		if a.callTimeout >= o.Lease {
			errs = append(errs, fmt.Errorf("app %q: timeout %v must be shorter than the lease %v", a.name, a.callTimeout, o.Lease))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("outbound: %w", errors.Join(errs...))
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	for _, a := range r.order {
		m.failing.WithLabelValues(a.name).Set(0)
	}
	return r, nil
}

func (r *Runner) newApp(ac AppConfig) (*app, error) {
	var errs []error
	if ac.Name == "" || strings.ContainsAny(ac.Name, "/ \t\n") {
		errs = append(errs, fmt.Errorf("name %q: want a non-empty name without '/' or spaces", ac.Name))
	}
	if ac.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v is negative", ac.Rate))
	}
	if ac.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d is negative", ac.Burst))
	}
	if ac.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d is negative", ac.Concurrency))
	}
	if ac.MaxGroupMembers < 0 {
		errs = append(errs, fmt.Errorf("max group members %d is negative", ac.MaxGroupMembers))
	}
	switch ac.Deprovision {
	case "":
		ac.Deprovision = DeprovisionDeactivate
	case DeprovisionDeactivate, DeprovisionDelete:
	default:
		errs = append(errs, fmt.Errorf("deprovision %q: want %q or %q", ac.Deprovision, DeprovisionDeactivate, DeprovisionDelete))
	}
	a := &app{
		name: ac.Name, rate: ac.Rate, burst: ac.Burst, concurrency: max(1, ac.Concurrency),
		deprovision: ac.Deprovision, callTimeout: ac.Client.Timeout,
		groups: ac.Groups, maxMembers: ac.MaxGroupMembers,
		actions: Actions{Create: true, Update: true, Deactivate: true, Delete: true},
	}
	if ac.Actions != nil {
		a.actions = *ac.Actions
	}
	if a.callTimeout <= 0 {
		a.callTimeout = scimclient.DefaultTimeout
	}
	if a.maxMembers == 0 {
		a.maxMembers = DefaultMaxGroupMembers
	}
	if a.burst == 0 {
		a.burst = max(1, int(ac.Rate+0.999999))
	}
	co := ac.Client
	if co.Now == nil {
		co.Now = r.clock.Now
	}
	next := co.Wait
	co.Wait = func(ctx context.Context) error {
		if err := r.wait(ctx, a); err != nil {
			return err
		}
		if next != nil {
			return next(ctx)
		}
		return nil
	}
	t, err := target.New(ac.Type, co)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a.target = t
	return a, nil
}

// Run starts the workers of every app and returns when ctx ends, after
// they stopped. A worker stopped mid-reconcile hands its key back to the
// queue, due at once, for a worker of another replica (or of the next
// run) to take again. Run returns nil on a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("outbound: Run is already running")
	}
	defer r.running.Store(false)
	var wg sync.WaitGroup
	for _, a := range r.order {
		r.loadHealth(ctx, a)
		for range a.concurrency {
			wg.Go(func() { r.work(ctx, a) })
		}
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Wake makes idle workers look at their queues now rather than at the
// next poll.
func (r *Runner) Wake() {
	r.wakeMu.Lock()
	close(r.wakeCh)
	r.wakeCh = make(chan struct{})
	r.wakeMu.Unlock()
}

func (r *Runner) wakeChan() <-chan struct{} {
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	return r.wakeCh
}

// Step claims at most one due key of app and reconciles it, reporting
// whether there was one. It is what each worker does in a loop; tools and
// tests use it to work a queue synchronously.
func (r *Runner) Step(ctx context.Context, appName string) (bool, error) {
	a, ok := r.apps[appName]
	if !ok {
		return false, fmt.Errorf("outbound: unknown app %q", appName)
	}
	r.loadHealth(ctx, a)
	return r.step(ctx, a)
}

func (r *Runner) work(ctx context.Context, a *app) {
	timer := time.NewTimer(r.poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		wake := r.wakeChan()
		wait := r.poll
		if p := a.paused(r.clock.Now()); p > 0 {
			wait = min(wait, p)
		} else {
			worked, err := r.step(ctx, a)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				r.log.Warn("cannot claim work", "app", a.name, "err", err)
			} else if worked {
				continue
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

func (r *Runner) step(ctx context.Context, a *app) (bool, error) {
	cs, err := r.store.Claim(ctx, a.name, r.clock.Now(), r.lease, 1)
	if err != nil {
		return false, fmt.Errorf("outbound: claim %s: %w", a.name, err)
	}
	if len(cs) == 0 {
		return false, nil
	}
	r.process(ctx, a, cs[0])
	return true, nil
}

// claimKey carries the claim being worked in a context, for the lease
// check before each call.
type claimKey struct{}

func withClaim(ctx context.Context, c *store.Claim) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

func claimFrom(ctx context.Context) *store.Claim {
	c, _ := ctx.Value(claimKey{}).(*store.Claim)
	return c
}

// wait runs before every remote call of a: it takes a token from the
// app's bucket in the store (shared by all replicas), sleeping as long as
// the store says, and refuses to start a call that could outlive the
// claim's lease.
func (r *Runner) wait(ctx context.Context, a *app) error {
	c := claimFrom(ctx)
	for {
		now := r.clock.Now()
		if c != nil && c.LeaseEnd.Sub(now) < a.callTimeout {
			return &leaseError{}
		}
		if a.rate > 0 {
			d, err := r.store.TakeToken(ctx, store.AppBucket(a.name), a.rate, a.burst, now)
			if err != nil {
				return fmt.Errorf("rate limit: %w", err)
			}
			if d > 0 {
				if c != nil && c.LeaseEnd.Sub(now.Add(d)) < a.callTimeout {
					return &leaseError{wait: d}
				}
				if err := r.clock.Sleep(ctx, d); err != nil {
					return err
				}
				continue
			}
		}
		r.metrics.calls.WithLabelValues(a.name).Inc()
		return nil
	}
}

// job is one reconcile of one key.
type job struct {
	r    *Runner
	a    *app
	c    store.Claim
	ctx  context.Context // carries the claim and a status note
	key  string
	user string // userName, for reports

	kind  store.Kind // of the hub resource: KindUser or KindGroup
	hubID string
	d     Desired
	link  *store.Link // as loaded, then as last written

	g        DesiredGroup // a group key's desired state
	overflow int          // desired members left out by the app's cap

	op        string // the operation being attempted, for failure reports
	result    string // metric label of a success: resultDone or resultSkipped
	contacted bool   // a remote call succeeded
	note      scimclient.StatusNote
}

// Results of a key worked without a failure, as the reconciles metric
// labels them (failures are labelled by their class).
const (
	resultDone    = "done"
	resultSkipped = "skipped"
)

func (r *Runner) process(ctx context.Context, a *app, c store.Claim) {
	j := &job{r: r, a: a, c: c, key: c.Key, op: store.OpReconcile, result: resultDone}
	j.ctx = scimclient.WithStatusNote(withClaim(ctx, &c), &j.note)
	kind, id, err := store.ParseKey(c.Key)
	switch {
	case err == nil && kind == store.KindUser:
		j.kind, j.hubID = store.KindUser, id
		r.finish(ctx, j, j.reconcileUser())
	case err == nil && kind == store.KindGroup && a.groups:
		j.kind, j.hubID = store.KindGroup, id
		r.finish(ctx, j, j.reconcileGroup())
	case err == nil && kind == store.KindGroup:
		j.kind, j.hubID = store.KindGroup, id
		j.report(store.OpReconcile, store.ReportSkipped, nil, fmt.Sprintf("group push is switched off for this app (actions.groups): queue key %q ignored", c.Key))
		r.ack(ctx, j, resultSkipped)
	default:
		j.report(store.OpReconcile, store.ReportSkipped, nil, fmt.Sprintf("unsupported queue key %q: ignored", c.Key))
		r.ack(ctx, j, resultSkipped)
	}
}

// loadLink reads the job's link (nil when there is none) into j.link.
func (j *job) loadLink(kind store.Kind) (*store.Link, error) {
	l, err := j.r.store.GetLink(j.ctx, j.a.name, kind, j.hubID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		l = nil
	case err != nil:
		return nil, fmt.Errorf("get link: %w", err)
	}
	j.link = l
	return l, nil
}

// handBackTimeout bounds how long a stopping worker tries to hand its key
// back to the queue.
const handBackTimeout = 5 * time.Second

// finish acks, requeues or parks the key according to err.
func (r *Runner) finish(ctx context.Context, j *job, err error) {
	a, c := j.a, j.c
	now := r.clock.Now()
	if err == nil {
		if j.contacted {
			r.clearFailing(ctx, a, now)
		}
		r.ack(ctx, j, j.result)
		return
	}
	cl := classify(ctx, err)
	log := r.log.With("app", a.name, "key", c.Key, "op", j.op, "attempt", c.Attempt+1, "status", statusOf(err), "err", err)
	switch cl {
	case classAbandon:
		r.metrics.reconciles.WithLabelValues(a.name, cl.String()).Inc()
		// Stopping: hand the key back due now, so that a worker of another
		// replica takes it at once instead of when its lease ends. The
		// reconcile is idempotent, so whatever part of it reached the app
		// is found and kept by the next one.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
		defer cancel()
		if err := r.store.Release(hctx, c, now); err != nil {
			log.Warn("stopping: cannot hand the key back; it comes back when its lease ends", "release_err", err)
			return
		}
		log.Debug("stopping: key handed back")
	case classLease:
		var le *leaseError
		errors.As(err, &le)
		log.Info("lease too short for the next call: key handed back", "due_in", le.wait)
		r.requeue(ctx, j, now.Add(le.wait), cl)
	case classRetry:
		delay := max(backoff(c.Attempt, r.backoffBase, r.backoffMax, r.rand()), retryAfterOf(err))
		j.report(j.op, store.ReportFailure, nil, fmt.Sprintf("%s; retrying in %v", detailOf(err), delay.Round(time.Millisecond)), err)
		log.Warn("reconcile failed: retrying", "retry_in", delay)
		r.requeue(ctx, j, now.Add(delay), cl)
	case classAuth:
		j.report(j.op, store.ReportFailure, nil, fmt.Sprintf("credentials rejected: %s; app marked failing, retrying in %v", detailOf(err), r.authRetry), err)
		r.markFailing(ctx, a, err, now)
		r.requeue(ctx, j, now.Add(r.authRetry), cl)
	case classPark:
		op := j.op
		var ce *conflictError
		if errors.As(err, &ce) {
			op = store.OpConflict
			if ce.remote != nil {
				err = ce.remote
			}
		}
		detail := detailOf(err)
		if ce != nil {
			detail = ce.detail
		}
		j.report(op, store.ReportFailure, nil, "parked until the hub resource changes: "+detail, err)
		log.Warn("reconcile failed: key parked until the hub resource changes", "detail", detail)
		j.park(detail)
		r.ack(ctx, j, cl.String())
	}
}

// park records on the link that the key waits for a change; a key never
// linked gets a link without a remote id.
func (j *job) park(detail string) {
	if j.hubID == "" {
		return
	}
	l := store.Link{App: j.a.name, Kind: j.kind, HubID: j.hubID, Status: store.LinkParked, Error: detail, AppliedAt: j.r.clock.Now()}
	if j.link != nil {
		l = *j.link
		l.Status, l.Error = store.LinkParked, detail
	}
	if err := j.r.store.PutLink(j.ctx, l); err != nil {
		j.r.log.Warn("cannot park link", "app", j.a.name, "key", j.key, "err", err)
	}
}

func (r *Runner) ack(ctx context.Context, j *job, result string) {
	r.metrics.reconciles.WithLabelValues(j.a.name, result).Inc()
	if err := r.store.Ack(ctx, j.c); err != nil {
		r.log.Warn("cannot ack key: it will be reconciled again", "app", j.a.name, "key", j.key, "err", err)
	}
}

func (r *Runner) requeue(ctx context.Context, j *job, due time.Time, cl class) {
	r.metrics.reconciles.WithLabelValues(j.a.name, cl.String()).Inc()
	if err := r.store.Requeue(ctx, j.c, due); err != nil {
		r.log.Warn("cannot requeue key: it comes back when its lease ends", "app", j.a.name, "key", j.key, "err", err)
	}
}

// report appends one report entry; cause, when given, supplies the HTTP
// status.
func (j *job) report(op, status string, changes []target.Change, detail string, cause ...error) {
	e := store.ReportEntry{
		Time: j.r.clock.Now(), User: j.user, ResourceType: string(j.kind), ResourceID: j.hubID,
		App: j.a.name, Operation: op, Status: status, Detail: detail, Attempt: j.c.Attempt + 1,
	}
	if status == store.ReportSuccess {
		e.HTTPStatus = j.note.Status()
	}
	for _, err := range cause {
		e.HTTPStatus = statusOf(err)
	}
	for _, c := range changes {
		ac := store.AttrChange{Attr: c.Attr, Old: c.Old, New: c.New}
		if secretAttrs[strings.ToLower(c.Attr)] {
			ac.Old, ac.New = redact(c.Old), redact(c.New)
		}
		e.Changes = append(e.Changes, ac)
	}
	if err := j.r.store.AppendReport(j.ctx, e); err != nil {
		j.r.log.Warn("cannot append report entry", "app", j.a.name, "key", j.key, "op", op, "err", err)
	}
}

func redact(v any) any {
	if v == nil {
		return nil
	}
	return "<secret>"
}
