package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/store"
)

// AdminStatus is the body of GET /admin/status.
type AdminStatus struct {
	Time  time.Time   `json:"time"`
	Store StoreHealth `json:"store"`
	Apps  []AppHealth `json:"apps"`
}

// StoreHealth says whether the store answered.
type StoreHealth struct {
	Reachable bool `json:"reachable"`
}

// AppHealth is one configured app as the store records it.
type AppHealth struct {
	Name string `json:"name"`
	// QueueDepth counts the app's queued keys, leased or not; null when
	// it could not be read.
	QueueDepth *int `json:"queueDepth"`
	// Failing is set while the app rejects the gateway's credentials (as
	// Options.AppStatus reads it); Since is when that started, or ended.
	Failing   bool       `json:"failing"`
	Since     *time.Time `json:"since,omitempty"`
	LastError string     `json:"lastError,omitempty"`
	// LastImport is the importer's record of its last run, as it stored it.
	LastImport json.RawMessage `json:"lastImport,omitempty"`
	// Errors name what could not be read (causes are in the log).
	Errors []string `json:"errors,omitempty"`
}

// statusTimeout bounds the store reads of one status request.
const statusTimeout = 5 * time.Second

// status serves GET /admin/status: per configured app its queue depth,
// failing state and last import, and whether the store is reachable. It
// answers 503 when the store is not.
func (s *Server) status(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(c.Request().Context(), statusTimeout)
	defer cancel()
	log := s.logger(c)
	st := s.opts.Admin.Store
	out := AdminStatus{Time: s.opts.Now(), Apps: []AppHealth{}}
	if err := st.Ping(ctx); err != nil {
		log.Warn("status: store unreachable", "err", err)
	} else {
		out.Store.Reachable = true
	}
	var apps []string
	if s.opts.Admin.Apps != nil {
		apps = s.opts.Admin.Apps()
	}
	for _, app := range apps {
		h := AppHealth{Name: app}
		if !out.Store.Reachable {
			h.Errors = []string{"store unreachable"}
			out.Apps = append(out.Apps, h)
			continue
		}
		if n, err := st.QueueLen(ctx, app); err != nil {
			log.Warn("status: queue depth", "app", app, "err", err)
			h.Errors = append(h.Errors, "queue depth unavailable")
		} else {
			h.QueueDepth = &n
		}
		if as, err := s.appStatus(ctx, app); err != nil {
			log.Warn("status: app status", "app", app, "err", err)
			h.Errors = append(h.Errors, "failing state unavailable")
		} else {
			h.Failing, h.LastError = as.Failing, as.LastError
			if !as.Since.IsZero() {
				h.Since = &as.Since
			}
		}
		b, err := st.GetState(ctx, store.LastImportKey(app))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			log.Warn("status: last import", "app", app, "err", err)
			h.Errors = append(h.Errors, "last import unavailable")
		case !json.Valid(b):
			log.Warn("status: last import record is not JSON", "app", app)
			h.Errors = append(h.Errors, "last import record unreadable")
		default:
			h.LastImport = json.RawMessage(b)
		}
		out.Apps = append(out.Apps, h)
	}
	code := http.StatusOK
	if !out.Store.Reachable {
		code = http.StatusServiceUnavailable
	}
	return c.JSON(code, out)
}

// AppFailure is an app's failing state as its reconcilers record it.
type AppFailure struct {
	// Failing is set while the app rejects the gateway's credentials.
	Failing bool
	// Since is when the app started failing, or recovered; zero when it
	// was never seen failing.
	Since time.Time
	// LastError is the last rejection (status and detail; never a secret).
	LastError string
}

// AppStatusFunc reads an app's failing state; an app never seen failing
// has the zero AppFailure.
type AppStatusFunc func(ctx context.Context, app string) (AppFailure, error)

// appStatus reads app's failing state through Options.AppStatus; without
// one, no app is reported failing.
func (s *Server) appStatus(ctx context.Context, app string) (AppFailure, error) {
	if s.opts.AppStatus == nil {
		return AppFailure{}, nil
	}
	as, err := s.opts.AppStatus(ctx, app)
	if err != nil {
		return AppFailure{}, fmt.Errorf("read status of %s: %w", app, err)
	}
	return as, nil
}
