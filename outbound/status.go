package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/store"
)

// AppStatus is an app's health as the reconcilers see it, kept in the
// store under store.AppStatusKey(app) so that every replica and the admin
// API read the same thing.
type AppStatus struct {
	// Failing is set when the app rejects our credentials (401/403), and
	// cleared by the next successful call.
	Failing bool `json:"failing"`
	// Since is when the app started failing, or when it recovered.
	Since time.Time `json:"since"`
	// LastError is the last rejection (status and detail; never a secret).
	LastError string `json:"lastError,omitempty"`
}

// ReadStatus returns an app's status from the store; an app never seen
// failing has the zero status.
func ReadStatus(ctx context.Context, st Store, app string) (AppStatus, error) {
	b, err := st.GetState(ctx, store.AppStatusKey(app))
	if errors.Is(err, store.ErrNotFound) {
		return AppStatus{}, nil
	}
	if err != nil {
		return AppStatus{}, fmt.Errorf("outbound: read status of %s: %w", app, err)
	}
	var s AppStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return AppStatus{}, fmt.Errorf("outbound: read status of %s: %w", app, err)
	}
	return s, nil
}

// health is one app's failing state in this process, mirrored to the store
// and the gauge.
type health struct {
	mu      sync.Mutex
	loaded  bool
	failing bool
	since   time.Time
	// pauseUntil: workers claim nothing of a failing app before it, so a
	// rejected key costs one call per retry interval, not one per key.
	pauseUntil time.Time
}

// metrics are the Runner's Prometheus collectors.
type metrics struct {
	failing    *prometheus.GaugeVec
	reconciles *prometheus.CounterVec
	calls      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scimgw_outbound_app_failing",
			Help: "1 while an app rejects the gateway's credentials (401/403), else 0.",
		}, []string{"app"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgw_outbound_reconciles_total",
			Help: "Reconciled queue keys, by app and result (done, skipped, retry, auth, parked, abandoned, lease).",
		}, []string{"app", "result"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgw_outbound_calls_total",
			Help: "Remote calls made, by app.",
		}, []string{"app"}),
	}
	if reg != nil {
		// A Runner restarted on reload shares the collectors of the one
		// before it, so the series continue.
		var err error
		if m.failing, err = register(reg, m.failing); err != nil {
			return nil, err
		}
		if m.reconciles, err = register(reg, m.reconciles); err != nil {
			return nil, err
		}
		if m.calls, err = register(reg, m.calls); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("outbound: register metrics: %w", err)
}

// loadHealth reads the app's stored status once, so that a process that
// starts while the app is failing shows it and clears it on success.
func (r *Runner) loadHealth(ctx context.Context, a *app) {
	a.health.mu.Lock()
	defer a.health.mu.Unlock()
	if a.health.loaded {
		return
	}
	s, err := ReadStatus(ctx, r.store, a.name)
	if err != nil {
		r.log.Warn("cannot read app status", "app", a.name, "err", err)
		return
	}
	a.health.loaded = true
	a.health.failing, a.health.since = s.Failing, s.Since
	if s.Failing {
		r.metrics.failing.WithLabelValues(a.name).Set(1)
	} else {
		r.metrics.failing.WithLabelValues(a.name).Set(0)
	}
}

// markFailing records that the app rejected our credentials: stored
// status, gauge, error log; workers pause until the retry.
func (r *Runner) markFailing(ctx context.Context, a *app, cause error, now time.Time) {
	h := &a.health
	h.mu.Lock()
	if !h.failing {
		h.failing, h.since = true, now
	}
	h.pauseUntil = now.Add(r.authRetry)
	st := AppStatus{Failing: true, Since: h.since, LastError: fmt.Sprintf("%d %s", statusOf(cause), detailOf(cause))}
	h.mu.Unlock()
	r.metrics.failing.WithLabelValues(a.name).Set(1)
	r.log.Error("app rejects the gateway's credentials: app marked failing; check or regenerate its API key",
		"app", a.name, "status", statusOf(cause), "detail", detailOf(cause), "since", st.Since, "retry_in", r.authRetry)
	r.putStatus(ctx, a, st)
}

// clearFailing records a successful call of a failing app.
func (r *Runner) clearFailing(ctx context.Context, a *app, now time.Time) {
	h := &a.health
	h.mu.Lock()
	if !h.failing {
		h.mu.Unlock()
		return
	}
	since := h.since
	h.failing, h.since, h.pauseUntil = false, now, time.Time{}
	h.mu.Unlock()
	r.metrics.failing.WithLabelValues(a.name).Set(0)
	r.log.Info("app accepts the gateway's credentials again", "app", a.name, "failing_since", since)
	r.putStatus(ctx, a, AppStatus{Failing: false, Since: now})
}

func (r *Runner) putStatus(ctx context.Context, a *app, st AppStatus) {
	b, err := json.Marshal(st)
	if err == nil {
		err = r.store.PutState(ctx, store.AppStatusKey(a.name), b)
	}
	if err != nil {
		r.log.Warn("cannot store app status", "app", a.name, "err", err)
	}
}

// paused returns how long workers should wait before claiming keys of a
// failing app.
func (a *app) paused(now time.Time) time.Duration {
	a.health.mu.Lock()
	defer a.health.mu.Unlock()
	if !a.health.failing || !now.Before(a.health.pauseUntil) {
		return 0
	}
	return a.health.pauseUntil.Sub(now)
}
