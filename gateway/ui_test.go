package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/scimgate/scim-gateway/internal/store"
)

func TestUIReportsPageHeaders(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st, withAdmin(st))
	// The page is a shell without data: it is served without credentials
	// (the data it shows needs them), even with a wrong one.
	for _, auth := range []string{"", "Bearer wrong"} {
		r := ts.adminGet("/admin/ui/reports", "Authorization", auth)
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("status %d, Content-Type %q", r.Status, r.Header.Get("Content-Type"))
		}
		if !bytes.Equal(r.Body, reportsPage) {
			t.Error("body is not the embedded page")
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "connect-src 'self'", "form-action 'none'",
			"frame-ancestors 'none'", "base-uri 'none'", "script-src 'sha256-", "style-src 'sha256-"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %q", csp)
		}
	}
	// The admin API the page calls still needs the token.
	if r := ts.adminGet("/admin/reports", "Authorization", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("reports without a token: %d", r.Status)
	}
	// No page where the admin API is closed.
	closed := startServer(t, st, func(o *Options) { o.Admin = AdminOptions{Store: st} })
	if r := closed.adminGet("/admin/ui/reports", "Authorization", ""); r.Status == http.StatusOK {
		t.Error("page served with no admin credentials configured")
	}
}

func TestUIPageBuildsNoHTMLFromData(t *testing.T) {
	page := string(reportsPage)
	// Data reaches the DOM through textContent and setAttribute only.
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"new Function", "localStorage", "sessionStorage", "document.cookie"} {
		if strings.Contains(page, sink) {
			t.Errorf("page uses %s", sink)
		}
	}
	// No input has a name: a form submitted without the script sends
	// nothing, least of all the token.
	if regexp.MustCompile(`<(input|select)[^>]*\sname=`).MatchString(page) {
		t.Error("an input has a name attribute")
	}
	if !regexp.MustCompile(`<input id="token" type="password"`).MatchString(page) {
		t.Error("the token input is not a password input")
	}
}

func TestContentSecurityPolicyHashes(t *testing.T) {
	page := []byte("<html><style>a{}</style><script>x()</script><p>y</p><script>z()</script></html>")
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := contentSecurityPolicy(page)
	if !strings.Contains(csp, "script-src "+h("x()")+" "+h("z()")+";") || !strings.Contains(csp, "style-src "+h("a{}")+";") {
		t.Errorf("CSP %q", csp)
	}
	if csp := contentSecurityPolicy([]byte("<p>static</p>")); !strings.Contains(csp, "script-src 'none'") {
		t.Errorf("CSP without scripts %q", csp)
	}
}

// TestUIReportsInChromium drives the report page in headless Chromium over
// the DevTools protocol: it fills the form, submits it, and reads the
// table and the chart the page's script built from the report API.
func TestUIReportsInChromium(t *testing.T) {
	bin := chromiumBinary(t)
	st := backends["bolt"](t)
	hostile := `<img src=x onerror="document.title='pwned'">`
	at := func(ago time.Duration) time.Time { return reportT0.Add(-ago) }
	seed := []store.ReportEntry{
		{Time: at(10 * time.Minute), User: "alice@example.com", App: "bitbucket", Operation: "create", Status: "success", HTTPStatus: 201, Detail: "created account 17"},
		{Time: at(15 * time.Minute), User: "bob@example.com", App: "bitbucket", Operation: "create", Status: "failure", HTTPStatus: 409, Detail: "other user"},
		{Time: at(20 * time.Minute), User: "alice@example.com", App: "jira", Operation: "create", Status: "success", HTTPStatus: 201, Detail: "other app"},
		{Time: at(30 * time.Minute), User: "alice@example.com", App: "bitbucket", Operation: "update", Status: "failure", HTTPStatus: 503, Detail: "upstream timeout; retrying in 2s"},
		{Time: at(40 * time.Minute), User: "Alice@Example.com", App: "Bitbucket", Operation: "update", Status: "success", HTTPStatus: 200, Detail: hostile,
			Changes: []store.AttrChange{{Attr: "title", Old: "<b>Dev</b>", New: "<script>alert(1)</script>"}, {Attr: "active", Old: true, New: false}}},
		{Time: at(70 * time.Minute), User: "alice@example.com", App: "bitbucket", Operation: "deactivate", Status: "success", HTTPStatus: 200, Detail: "deprovisioned"},
		{Time: at(30 * time.Hour), User: "alice@example.com", App: "bitbucket", Operation: "create", Status: "success", HTTPStatus: 201, Detail: "too old"},
	}
	if err := st.AppendReport(context.Background(), seed...); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, st, withAdmin(st))
	page := ts.Root + "/admin/ui/reports"
	b := startChromium(t, bin, page)

	type result struct {
		State, Message string
		Rows           [][]string
		OK, Fail       [][]string
		Hours          string
		Injected       int
		Title          string
	}
	submit := func(token, user, app, span string) result {
		t.Helper()
		args, _ := json.Marshal([]string{token, user, app, span})
		var r result
		b.eval(t, fmt.Sprintf(`(async ([token, user, app, span]) => {
			const $ = (id) => document.getElementById(id);
			$("token").value = token; $("user").value = user; $("app").value = app; $("span").value = span;
			document.body.dataset.state = "idle";
			$("query").requestSubmit();
			await new Promise((resolve, reject) => {
				const give = Date.now() + 20000;
				const check = () => ["done", "error"].includes(document.body.dataset.state) ? resolve() :
					Date.now() > give ? reject(new Error("the page did not finish: state " + document.body.dataset.state)) :
					setTimeout(check, 20);
				check();
			});
			const cells = (sel) => [...document.querySelectorAll(sel)];
			return {
				state: document.body.dataset.state,
				message: $("message").textContent,
				rows: cells("#rows tr").map((tr) => [...tr.cells].map((td) => td.textContent)),
				ok: cells("#chart rect.ok").map((r) => [r.dataset.hour, r.dataset.count]),
				fail: cells("#chart rect.fail").map((r) => [r.dataset.hour, r.dataset.count]),
				hours: $("chart").dataset.hours || "",
				injected: cells("#results img, #results script, #results b, #chart img").length,
				title: document.title,
			};
		})(%s)`, args), &r)
		return r
	}

	r := submit(adminToken, "alice@example.com", "bitbucket", "24h")
	if r.State != "done" || r.Message != "4 entries." {
		t.Fatalf("state %q, message %q", r.State, r.Message)
	}
	want := [][]string{
		{"2026-11-27 11:50:00", "alice@example.com", "bitbucket", "create", "success", "201", "created account 17", ""},
		{"2026-11-27 11:30:00", "alice@example.com", "bitbucket", "update", "failure", "503", "upstream timeout; retrying in 2s", ""},
		{"2026-11-27 11:20:00", "Alice@Example.com", "Bitbucket", "update", "success", "200", hostile,
			"title: <b>Dev</b> → <script>alert(1)</script>; active: true → false"},
		{"2026-11-27 10:50:00", "alice@example.com", "bitbucket", "deactivate", "success", "200", "deprovisioned", ""},
	}
	if !slices.EqualFunc(r.Rows, want, slices.Equal) {
		t.Errorf("rows:\n%q\nwant\n%q", r.Rows, want)
	}
	if r.Injected != 0 || r.Title != "scim-gateway · reports" {
		t.Errorf("report data was parsed as HTML: %d elements injected, title %q", r.Injected, r.Title)
	}
	// 24 hours back from 12:00 and the current hour: 25 bars.
	if r.Hours != "25" {
		t.Errorf("chart hours %q", r.Hours)
	}
	if wantOK := [][]string{{"2026-11-27T10:00:00.000Z", "1"}, {"2026-11-27T11:00:00.000Z", "2"}}; !slices.EqualFunc(r.OK, wantOK, slices.Equal) {
		t.Errorf("success bars %q, want %q", r.OK, wantOK)
	}
	if wantFail := [][]string{{"2026-11-27T11:00:00.000Z", "1"}}; !slices.EqualFunc(r.Fail, wantFail, slices.Equal) {
		t.Errorf("failure bars %q, want %q", r.Fail, wantFail)
	}

	// A wider span and no user: every app's entries.
	r = submit(adminToken, "", "", "7d")
	if r.State != "done" || len(r.Rows) != len(seed) {
		t.Errorf("7d: state %q, %d rows: %s", r.State, len(r.Rows), r.Message)
	}
	// An IdP token is not an admin token: the page says so and shows nothing.
	r = submit(testToken, "alice@example.com", "", "24h")
	if r.State != "error" || !strings.Contains(r.Message, "401") || len(r.Rows) != 0 {
		t.Errorf("IdP token: state %q, message %q, %d rows", r.State, r.Message, len(r.Rows))
	}
}

// chromiumBinary finds Chromium, skipping the test without it unless CI
// is set.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH (Debian: apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so this is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium with one page, driven over the Chrome
// DevTools Protocol.
type browser struct {
	page *cdpConn
}

// startChromium starts Chromium on url with a fresh profile and connects
// to the page; the browser is closed when the test ends.
func startChromium(t *testing.T, bin, url string) *browser {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins="+cdpOrigin, url)
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	b := &browser{}
	var control *cdpConn
	t.Cleanup(func() {
		// Ask the browser to close, and kill it if it does not.
		if control != nil {
			_, _ = control.call("Browser.close", nil)
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Log("chromium did not close: killing it")
		}
		cancel()
		<-exited
		for _, c := range []*cdpConn{control, b.page} {
			if c != nil {
				_ = c.ws.Close()
			}
		}
	})

	// Chromium writes its port and browser endpoint when it listens.
	var port, browserPath string
	waitFor(t, 30*time.Second, func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort"))
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], "/devtools/browser/") {
			return false
		}
		port, browserPath = lines[0], lines[1]
		return true
	}, exited, &stderr)
	var err error
	if control, err = dialCDP("ws://127.0.0.1:" + port + browserPath); err != nil {
		t.Fatal(err)
	}
	var pageWS string
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var targets []struct{ Type, URL, WebSocketDebuggerURL string }
		if json.NewDecoder(resp.Body).Decode(&targets) != nil {
			return false
		}
		for _, tg := range targets {
			if tg.Type == "page" && tg.URL == url && tg.WebSocketDebuggerURL != "" {
				pageWS = tg.WebSocketDebuggerURL
				return true
			}
		}
		return false
	}, exited, &stderr)
	if b.page, err = dialCDP(pageWS); err != nil {
		t.Fatal(err)
	}
	// Wait until the page and its script have loaded.
	waitFor(t, 30*time.Second, func() bool {
		var href string
		err := b.page.evaluate(`new Promise((resolve) => {
			const give = Date.now() + 5000;
			const ready = () => document.readyState === "complete" && document.getElementById("query");
			const check = () => ready() ? resolve(location.href) : Date.now() > give ? resolve("") : setTimeout(check, 20);
			check();
		})`, &href)
		return err == nil && href == url
	}, exited, &stderr)
	return b
}

func (b *browser) eval(t *testing.T, expr string, out any) {
	t.Helper()
	if err := b.page.evaluate(expr, out); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls ok every 50ms until it holds, failing the test after
// timeout or when the browser exits. Polling the browser over real time is
// unavoidable here.
func waitFor(t *testing.T, timeout time.Duration, ok func() bool, exited <-chan struct{}, stderr *tailBuffer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		select {
		case <-exited:
			t.Fatalf("chromium exited; its stderr ends:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium: timed out after %s; its stderr ends:\n%s", timeout, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cdpOrigin is the Origin the DevTools websocket client sends; Chromium
// accepts it by --remote-allow-origins.
const cdpOrigin = "http://127.0.0.1"

// cdpConn is one DevTools protocol session: JSON commands with ids over a
// websocket; events (messages without our id) are skipped.
type cdpConn struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	next int
}

func dialCDP(url string) (*cdpConn, error) {
	ws, err := websocket.Dial(url, "", cdpOrigin)
	if err != nil {
		return nil, fmt.Errorf("cdp: dial %s: %w", url, err)
	}
	return &cdpConn{ws: ws}, nil
}

func (c *cdpConn) call(method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	if err := c.ws.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return nil, err
	}
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(c.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("cdp %s: send: %w", method, err)
	}
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(c.ws, &msg); err != nil {
			return nil, fmt.Errorf("cdp %s: receive: %w", method, err)
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return nil, fmt.Errorf("cdp %s: %d %s", method, msg.Error.Code, msg.Error.Message)
		}
		return msg.Result, nil
	}
}

// evaluate runs a JavaScript expression in the page, awaits it when it is
// a promise, and decodes its value into out.
func (c *cdpConn) evaluate(expr string, out any) error {
	raw, err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("cdp evaluate: %w", err)
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("cdp evaluate: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if len(r.Result.Value) == 0 {
		return errors.New("cdp evaluate: no value")
	}
	return json.Unmarshal(r.Result.Value, out)
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 8<<10; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
