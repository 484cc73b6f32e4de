package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	Store     Store
	Logger    *slog.Logger
	Registry  *prometheus.Registry // nil: a private registry
	IDPAuth   Authenticator        // required: nothing is served anonymously
	AdminAuth Authenticator        // nil: admin endpoints are off
	Marker    Marker               // nil: no fan-out marks (no apps)
	// AfterWrite, when set, is called after a hub write that queued
	// marks (to wake the reconcilers).
	AfterWrite func()
	// Reload, when set, is served on POST /admin/reload[?force=true]: it
	// reloads the configuration and returns a summary of what changed.
	Reload func(ctx context.Context, force bool) (string, error)
	// Import, when set, is served on POST /admin/apps/{app}/import: one
	// import run of the app now; the result is rendered as JSON.
	Import func(ctx context.Context, app string, dryRun, force bool) (any, error)
	Now    func() time.Time

	// Admin configures /admin/reports, /admin/status and the report page.
	Admin AdminOptions
	// AppStatus, when set, tells /admin/status whether each app is failing
	// (the reconcilers keep that state; the gateway only reads it).
	AppStatus AppStatusFunc

	BaseURL         string // external base URL for meta.location; "" derives it from the request
	BodyLimit       int64  // default 1 MiB
	MaxResults      int    // cap on count and filter results; default 200
	DefaultCount    int    // default 100
	IdempotencyTTL  time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	ShutdownTimeout time.Duration
}

// Server is the gateway's HTTP face: the SCIM service provider, the admin
// API and the operational endpoints.
type Server struct {
	opts    Options
	log     *slog.Logger
	echo    *echo.Echo
	metrics *httpMetrics
	reg     *prometheus.Registry
}

// New builds a Server and its routes.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("gateway: no store")
	}
	if opts.IDPAuth == nil {
		return nil, errors.New("gateway: no IdP authenticator: refusing to serve SCIM anonymously")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = 200
	}
	if opts.DefaultCount <= 0 || opts.DefaultCount > opts.MaxResults {
		opts.DefaultCount = min(100, opts.MaxResults)
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 60 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 15 * time.Second
	}
	m, err := newHTTPMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: m, reg: opts.Registry}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(canonicalPath)
	e.Use(s.requestID, s.observe, s.recoverPanic, s.limitBody)
	s.echo = e
	s.routes()
	return s, nil
}

// Handler returns the server's http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish within ShutdownTimeout, and
// returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.echo,
		ReadTimeout:       s.opts.ReadTimeout,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("gateway listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("gateway shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))
	s.scimRoutes(e.Group("/scim/v2", s.authenticate(s.opts.IDPAuth), s.audit))
	admin := s.opts.AdminAuth
	if admin == nil {
		admin = NewCredentials(nil, nil, nil, nil) // refuses everyone
	}
	s.adminRoutes(e.Group("/admin", s.authenticate(admin)))
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		s.logger(c).Warn("readiness: store unreachable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "store unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// scimEndpoints maps the lower-cased first segment under /scim/v2 to the
// endpoint's canonical name.
var scimEndpoints = map[string]string{
	"users": "Users", "groups": "Groups", "serviceproviderconfig": "ServiceProviderConfig",
	"resourcetypes": "ResourceTypes", "schemas": "Schemas",
}

// canonicalPath lets clients name SCIM endpoints in any case (/scim/v2/users)
// and with a trailing slash (/Users/?filter=...), as some IdP test suites
// do, by rewriting the path before routing.
func canonicalPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := r.URL.Path
		if rest, ok := strings.CutPrefix(p, "/scim/v2/"); ok {
			seg, tail, _ := strings.Cut(rest, "/")
			if canon, ok := scimEndpoints[strings.ToLower(seg)]; ok && canon != seg {
				p = "/scim/v2/" + canon
				if tail != "" || strings.HasSuffix(rest, "/") {
					p += "/" + tail
				}
			}
			if len(p) > len("/scim/v2/") && strings.HasSuffix(p, "/") {
				p = strings.TrimSuffix(p, "/")
			}
			if p != r.URL.Path {
				r.URL.Path = p
				r.URL.RawPath = ""
			}
		}
		return next(c)
	}
}

const ctxRequestID = "request_id"
const ctxPrincipal = "principal"

// requestID takes a caller's X-Request-Id when it is short and plain (so
// it cannot forge log lines) and makes one otherwise.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// logger returns the server logger with the request's id.
func (s *Server) logger(c echo.Context) *slog.Logger {
	if id, ok := c.Get(ctxRequestID).(string); ok {
		return s.log.With("request_id", id)
	}
	return s.log
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// recoverPanic turns a handler panic into a 500 with the cause logged.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// limitBody rejects bodies whose declared length exceeds the limit before
// reading them; readBody enforces the limit on the bytes actually read.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.opts.BodyLimit {
			return errBodyTooLarge(s.opts.BodyLimit)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, s.opts.BodyLimit)
		return next(c)
	}
}

// authenticate admits requests that a carries a credential auth accepts.
func (s *Server) authenticate(auth Authenticator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := auth.Authenticate(c.Request())
			if err != nil {
				s.logger(c).Info("authentication failed", "err", err, "remote", c.RealIP())
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="scim-gateway"`)
				return errUnauthorized()
			}
			c.Set(ctxPrincipal, p)
			return next(c)
		}
	}
}

func principalOf(c echo.Context) Principal {
	p, _ := c.Get(ctxPrincipal).(Principal)
	return p
}
