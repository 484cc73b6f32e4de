package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The report page, GET /admin/ui/reports, is one static HTML file with its
// script and style inline, embedded in the binary: no build step, no
// asset server.
//
// Authentication: the page is a shell that holds no data; everything it
// shows comes from GET /admin/reports, which requires admin credentials
// like every admin endpoint. The admin pastes a token (or an OIDC JWT) into
// a password input and the page's script sends it as a bearer header. The
// page itself is therefore served without credentials (a browser cannot
// put a bearer header on a navigation), and nothing else changes: no
// cookie, so no ambient credential that a cross-site (or same-site)
// request could ride on to reach POST /admin/reload, no session state to
// share between replicas, and the token never leaves the tab's memory.
//
// The response forbids everything the page does not need (Content-Security-Policy
// with the hashes of its inline script and style, connect-src 'self', no
// framing, no referrer) and is never cached.

//go:embed ui/reports.html
var uiFiles embed.FS

var (
	reportsPage = mustReadUI("ui/reports.html")
	reportsCSP  = contentSecurityPolicy(reportsPage)
)

func mustReadUI(name string) []byte {
	b, err := uiFiles.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("gateway: embedded %s: %v", name, err))
	}
	return b
}

// contentSecurityPolicy allows exactly the inline <script> and <style>
// blocks of page, by hash, and fetches to the page's own origin.
func contentSecurityPolicy(page []byte) string {
	hashes := func(tag string) string {
		var out []string
		for _, body := range inlineBlocks(page, tag) {
			sum := sha256.Sum256(body)
			out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
		if len(out) == 0 {
			return "'none'"
		}
		return strings.Join(out, " ")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + hashes("script"),
		"style-src " + hashes("style"),
		"connect-src 'self'",
		"form-action 'none'",
		"frame-ancestors 'none'",
		"base-uri 'none'",
	}, "; ")
}

// inlineBlocks returns the contents of every <tag>...</tag> in page (the
// page is ours: its tags carry no attributes).
func inlineBlocks(page []byte, tag string) [][]byte {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	var out [][]byte
	for {
		i := bytes.Index(page, open)
		if i < 0 {
			return out
		}
		page = page[i+len(open):]
		j := bytes.Index(page, end)
		if j < 0 {
			return out
		}
		out = append(out, page[:j])
		page = page[j+len(end):]
	}
}

// uiRoutes serves the report page when admin credentials are configured
// (without them the report API it calls is closed to everyone).
func (s *Server) uiRoutes() {
	if s.opts.AdminAuth == nil {
		return
	}
	s.echo.GET("/admin/ui/reports", s.reportsPage)
}

func (s *Server) reportsPage(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", reportsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", reportsPage)
}
