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

func (s *Server) adminRoutes(g *echo.Group) {
	if s.opts.Reload != nil {
		g.POST("/reload", s.reload)
	}
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
