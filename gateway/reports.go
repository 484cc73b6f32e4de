package gateway

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/report"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// The report API: GET /admin/reports reads the report log newest first,
// selected by indexed parameters (user, app) and plain ones (operation,
// status, from, to), and optionally by a SCIM filter over the entry fields
// applied on top. The query itself is internal/report's: report.Parse
// reads the parameters and Request.Run reads the page, as
// `scim-gateway report` does; this file adds the HTTP: credentials,
// content negotiation and the next-cursor header.

// AdminOptions configure the admin report API, /admin/status and the
// report page. With a nil Store those endpoints are off.
type AdminOptions struct {
	// Store answers report queries and status reads; in a gateway it is
	// the store Options.Store slices.
	Store AdminStore
	// Apps returns the names of the configured apps, for /admin/status.
	// It is called on every request, so a reload shows at once.
	Apps func() []string
	// ScanBudget bounds the entries one report request with a SCIM filter
	// examines; default report.DefaultScanBudget.
	ScanBudget int
}

// AdminStore is the slice of store.Store the admin endpoints read.
type AdminStore interface {
	report.Querier
	QueueLen(ctx context.Context, app string) (int, error)
	GetState(ctx context.Context, key string) ([]byte, error)
	Ping(ctx context.Context) error
}

var _ AdminStore = store.Store(nil)

// reportBody is the JSON of GET /admin/reports: the page (entries, next)
// and the window it was read in.
type reportBody struct {
	report.Page
	// From and To are the query's bounds as resolved (relative spans
	// become times), Time the server's clock: a page that pins From for
	// its next requests, or draws a time axis, reads them.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
	Time time.Time  `json:"time"`
}

// HeaderNextCursor carries a report page's next cursor (also in CSV).
const HeaderNextCursor = "X-Next-Cursor"

// reports serves GET /admin/reports as JSON, or as CSV when asked with
// Accept: text/csv or format=csv.
func (s *Server) reports(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	v := url.Values{}
	for k, vs := range c.QueryParams() {
		v[k] = vs
	}
	format := v.Get("format")
	delete(v, "format")
	asCSV, err := wantCSV(format, c.Request().Header.Get("Accept"))
	if err != nil {
		return err
	}
	now := s.opts.Now()
	r, err := report.Parse(v, now)
	if err != nil {
		return err
	}
	page, err := r.Run(c.Request().Context(), s.opts.Admin.Store, s.opts.Admin.ScanBudget)
	if err != nil {
		return err
	}
	if page.Next != "" {
		h.Set(HeaderNextCursor, page.Next)
	}
	if asCSV {
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		return report.WriteCSV(c.Response(), page.Entries)
	}
	body := reportBody{Page: page, Time: now}
	if !r.Query.From.IsZero() {
		body.From = &r.Query.From
	}
	if !r.Query.To.IsZero() {
		body.To = &r.Query.To
	}
	return c.JSON(http.StatusOK, body)
}

// wantCSV decides the response format: format=csv|json wins, else the
// Accept media range with the highest q among text/csv and JSON.
func wantCSV(format, accept string) (bool, error) {
	switch strings.ToLower(format) {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, scim.ErrInvalidValue.Detailf("format %q: want csv or json", format)
	}
	best, csvQ := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json", "application/*", "*/*":
			best = max(best, q)
		}
	}
	return csvQ > 0 && csvQ >= best, nil
}
