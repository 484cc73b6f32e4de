package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/scim"
)

func errUnauthorized() error {
	return &scim.Error{Status: http.StatusUnauthorized, Detail: "authentication required: send a valid bearer token or JWT"}
}

func errBodyTooLarge(limit int64) error {
	return &scim.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body exceeds %d bytes", limit)}
}

func errUnsupportedMediaType(ct string) error {
	return &scim.Error{Status: http.StatusUnsupportedMediaType,
		Detail: fmt.Sprintf("unsupported Content-Type %q: send application/scim+json or application/json", ct)}
}

// handleError is echo's single error handler: every error leaves as an
// RFC 7644 §3.12 body. SCIM errors are sent as they are; echo's routing
// errors keep their status; anything else is a 500 whose cause is logged
// with the request id and never sent to the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var se *scim.Error
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &mbe):
		se = errBodyTooLarge(mbe.Limit).(*scim.Error)
	case errors.As(err, &he):
		se = &scim.Error{Status: he.Code, Detail: echoDetail(he)}
	default:
		s.logger(c).Error("internal error", "err", err, "method", c.Request().Method, "path", c.Request().URL.Path)
		se = &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error; quote request id " + requestIDOf(c)}
	}
	if se.Status >= 500 && errors.As(err, &he) {
		s.logger(c).Error("internal error", "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(se.Status)
		return
	}
	if werr := writeSCIM(c, se.Status, se); werr != nil {
		s.logger(c).Warn("write error response", "err", werr)
	}
}

func echoDetail(he *echo.HTTPError) string {
	switch he.Code {
	case http.StatusNotFound:
		return "no such endpoint"
	case http.StatusMethodNotAllowed:
		return "method not allowed on this endpoint"
	case http.StatusRequestEntityTooLarge:
		return "request body too large"
	}
	return http.StatusText(he.Code)
}
