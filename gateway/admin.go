package gateway

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// ErrReloadRefused is returned by a Reload function that refuses a
// configuration change (it would deprovision more than an app's
// safeguard allows); the admin API answers 409 with the plan.
var ErrReloadRefused = errors.New("reload refused by the safeguard")

// ErrInvalidConfig is returned by a Reload function when the new
// configuration does not validate; the running one stays.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrUnknownApp and ErrBusy are returned by an Import function for an app
// that is not configured (404) and for an app whose import is already
// running elsewhere (409).
var (
	ErrUnknownApp = errors.New("unknown app")
	ErrBusy       = errors.New("busy")
)

func (s *Server) adminRoutes(g *echo.Group) {
	if s.opts.Reload != nil {
		g.POST("/reload", s.reload)
	}
	if s.opts.Import != nil {
		g.POST("/apps/:app/import", s.importApp)
	}
	if s.opts.Admin.Store != nil {
		g.GET("/reports", s.reports)
		g.GET("/status", s.status)
		s.uiRoutes()
	}
}

// importApp serves POST /admin/apps/{app}/import[?dry_run=true][&force=true]:
// one import run now, answered with its result.
func (s *Server) importApp(c echo.Context) error {
	dry, _ := strconv.ParseBool(c.QueryParam("dry_run"))
	force, _ := strconv.ParseBool(c.QueryParam("force"))
	res, err := s.opts.Import(c.Request().Context(), c.Param("app"), dry, force)
	switch {
	case errors.Is(err, ErrUnknownApp):
		return c.JSON(http.StatusNotFound, map[string]any{"error": err.Error()})
	case errors.Is(err, ErrBusy):
		return c.JSON(http.StatusConflict, map[string]any{"error": err.Error()})
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// reload serves POST /admin/reload: validate, plan, refuse a change over
// the safeguard unless force=true, then swap.
func (s *Server) reload(c echo.Context) error {
	force, _ := strconv.ParseBool(c.QueryParam("force"))
	summary, err := s.opts.Reload(c.Request().Context(), force)
	status := http.StatusOK
	switch {
	case errors.Is(err, ErrReloadRefused):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalidConfig):
		status = http.StatusBadRequest
	case err != nil:
		return err
	}
	body := map[string]any{"applied": err == nil, "plan": summary}
	if err != nil {
		body["error"] = err.Error()
	}
	return c.JSON(status, body)
}
