// Package scimclient is a SCIM 2.0 client of one service provider: CRUD,
// paged search, PATCH, and every error a provider or the proxy in front of
// it answers turned into a *RemoteError that says whether and when to
// retry. Targets (outbound's profiles) and the importer's listers speak
// through it. Tokens never appear in its errors.
package scimclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scimgate/scim-gateway/internal/canon"
)

// SCIM message schema URNs.
const (
	PatchOpSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ListResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	ErrorSchema        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Client defaults.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultPageSize = 100 // also the largest page asked for
	// maxResponseBytes bounds a response body read into memory; a group of
	// 35,000 members is about 3 MB.
	maxResponseBytes = 32 << 20
	// maxErrorBytes bounds the part of an error body that is parsed.
	maxErrorBytes = 64 << 10
	// maxDetail bounds a detail taken from a non-SCIM error body.
	maxDetail = 300
)

// ErrStopSearch, returned by a Search callback, ends the search without an
// error.
var ErrStopSearch = errors.New("stop search")

// Options configure a Client.
type Options struct {
	// BaseURL is the SCIM root, e.g.
	// https://api.atlassian.com/scim/directory/{directoryId}. Required.
	BaseURL string
	// Token is the bearer token. TokenFunc, when set, is asked before every
	// request instead (a rotated key file, a secret manager). Neither is
	// ever logged, put in an error or in a report.
	Token     string
	TokenFunc func(ctx context.Context) (string, error)
	// Timeout bounds each request, including reading its response. Default
	// DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests. Default: a client of its own with a
	// clone of http.DefaultTransport keeping more idle connections per host.
	// Its Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// ContentType of request bodies and the preferred Accept type. Default
	// application/scim+json.
	ContentType string
	// PageSize is the count asked for per list page (1..100). Default 100.
	PageSize int
	// UserAgent, when set, is sent on every request.
	UserAgent string
	// Now is the clock used to turn a Retry-After HTTP-date into a delay.
	// Default time.Now.
	Now func() time.Time
	// Wait, when set, is called before every request and may block, for
	// example to take a token from a rate limiter. Its error aborts the
	// request and is returned wrapped.
	Wait func(ctx context.Context) error
}

// Client is a SCIM 2.0 client of one service provider. It is safe for
// concurrent use.
type Client struct {
	base string // BaseURL without a trailing slash
	o    Options
	hc   *http.Client
}

// New checks opts, applies defaults and returns a Client.
func New(opts Options) (*Client, error) {
	var errs []error
	u, err := url.Parse(opts.BaseURL)
	if opts.BaseURL == "" {
		errs = append(errs, errors.New("base URL is required"))
	} else if err != nil {
		errs = append(errs, errors.New("base URL does not parse"))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL %q: want http(s)://host/path", u.Redacted()))
	} else if u.User != nil {
		errs = append(errs, errors.New("base URL must not carry credentials"))
	}
	if opts.Token == "" && opts.TokenFunc == nil {
		errs = append(errs, errors.New("a token or a token function is required"))
	}
	if opts.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", opts.Timeout))
	}
	if opts.PageSize < 0 || opts.PageSize > DefaultPageSize {
		errs = append(errs, fmt.Errorf("page size %d: want 1..%d", opts.PageSize, DefaultPageSize))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("scim client: %w", errors.Join(errs...))
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.ContentType == "" {
		opts.ContentType = "application/scim+json"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc = &http.Client{Transport: tr}
	}
	return &Client{base: strings.TrimSuffix(opts.BaseURL, "/"), o: opts, hc: hc}, nil
}

// PatchOperation is one operation of a PATCH request.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// PatchOp is a PATCH request body (RFC 7644 §3.5.2). The operations key is
// spelled "Operations", as the RFC and Atlassian's own example do.
type PatchOp struct {
	Schemas    []string         `json:"schemas"`
	Operations []PatchOperation `json:"Operations"`
}

// RemoteError is a non-2xx answer of the service provider.
type RemoteError struct {
	Op         string // method and path template, e.g. "POST /Users"
	Status     int    // the HTTP status code
	ScimType   string // from a SCIM error body, if any
	Detail     string // from the body: SCIM detail, Atlassian's "error", or a text excerpt
	RetryAfter time.Duration
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scim %s: %d", e.Op, e.Status)
	if e.ScimType != "" {
		b.WriteString(" " + e.ScimType)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Create POSTs res to endpoint ("Users", "Groups") and returns the created
// resource.
func (c *Client) Create(ctx context.Context, endpoint string, res map[string]any) (map[string]any, error) {
	return c.resource(ctx, http.MethodPost, endpoint, "", nil, res)
}

// Get returns the resource endpoint/id.
func (c *Client) Get(ctx context.Context, endpoint, id string) (map[string]any, error) {
	return c.resource(ctx, http.MethodGet, endpoint, id, nil, nil)
}

// Replace PUTs res over endpoint/id. Mind that PUT clears what res omits.
func (c *Client) Replace(ctx context.Context, endpoint, id string, res map[string]any) (map[string]any, error) {
	return c.resource(ctx, http.MethodPut, endpoint, id, nil, res)
}

// Patch applies ops to endpoint/id. It returns the resource when the
// service provider answers with one, and nil for 204 No Content.
func (c *Client) Patch(ctx context.Context, endpoint, id string, ops ...PatchOperation) (map[string]any, error) {
	body := PatchOp{Schemas: []string{PatchOpSchema}, Operations: ops}
	return c.resource(ctx, http.MethodPatch, endpoint, id, nil, body)
}

// Delete removes endpoint/id.
func (c *Client) Delete(ctx context.Context, endpoint, id string) error {
	_, _, err := c.call(ctx, http.MethodDelete, endpoint, id, nil, nil)
	return err
}

// Search lists endpoint's resources matching filter ("" for all), calling
// fn for each in order. It pages with a 1-based startIndex and count of
// PageSize, until startIndex+itemsPerPage passes totalResults or a page is
// empty. fn returning ErrStopSearch ends the search early without error.
func (c *Client) Search(ctx context.Context, endpoint, filter string, fn func(map[string]any) error) error {
	start := 1
	for {
		q := url.Values{}
		if filter != "" {
			q.Set("filter", filter)
		}
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("count", strconv.Itoa(c.o.PageSize))
		_, data, err := c.call(ctx, http.MethodGet, endpoint, "", q, nil)
		if err != nil {
			return err
		}
		var page struct {
			TotalResults flexInt          `json:"totalResults"`
			ItemsPerPage flexInt          `json:"itemsPerPage"`
			Resources    []map[string]any `json:"Resources"`
		}
		if err := canon.Decode(data, &page); err != nil {
			return fmt.Errorf("scim GET /%s: list response: %w", endpoint, err)
		}
		for _, r := range page.Resources {
			if err := fn(r); err != nil {
				if errors.Is(err, ErrStopSearch) {
					return nil
				}
				return err
			}
		}
		n := len(page.Resources)
		if n == 0 {
			return nil
		}
		per := int(page.ItemsPerPage)
		if per <= 0 {
			per = n
		}
		if start+per > int(page.TotalResults) {
			return nil
		}
		start += n
	}
}

// resource makes a call whose answer is a resource (or nothing, for 204).
func (c *Client) resource(ctx context.Context, method, endpoint, id string, q url.Values, in any) (map[string]any, error) {
	status, data, err := c.call(ctx, method, endpoint, id, q, in)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var out map[string]any
	if err := canon.Decode(data, &out); err != nil {
		return nil, fmt.Errorf("scim %s: response: %w", opName(method, endpoint, id), err)
	}
	return out, nil
}

// opName is the method and path template of a call, for errors and logs.
func opName(method, endpoint, id string) string {
	if id != "" {
		return method + " /" + endpoint + "/{id}"
	}
	return method + " /" + endpoint
}

// call sends one request and returns the status and body of a 2xx answer,
// or a *RemoteError for any other status.
func (c *Client) call(ctx context.Context, method, endpoint, id string, q url.Values, in any) (int, []byte, error) {
	op := opName(method, endpoint, id)
	if c.o.Wait != nil {
		if err := c.o.Wait(ctx); err != nil {
			return 0, nil, fmt.Errorf("scim %s: %w", op, err)
		}
	}
	u := c.base + "/" + endpoint
	if id != "" {
		u += "/" + url.PathEscape(id)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return 0, nil, fmt.Errorf("scim %s: encode body: %w", op, err)
		}
		body = bytes.NewReader(raw)
	}
	token, err := c.token(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("scim %s: token: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, fmt.Errorf("scim %s: %w", op, err)
	}
	// No Idempotency-Key: with one, http.Transport would replay a POST on
	// a reused connection by itself.
	req.Header.Set("Authorization", "Bearer "+token)
	accept := c.o.ContentType
	if accept != "application/json" {
		accept += ", application/json;q=0.9"
	}
	req.Header.Set("Accept", accept)
	if in != nil {
		req.Header.Set("Content-Type", c.o.ContentType)
	}
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("scim %s: %w", op, scrubError(err, token))
	}
	defer resp.Body.Close()
	if n := statusNoteFrom(ctx); n != nil {
		n.status.Store(int64(resp.StatusCode))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return 0, nil, parseRemoteError(op, resp, data, c.o.Now(), token)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("scim %s: read response: %w", op, scrubError(err, token))
	}
	if len(data) > maxResponseBytes {
		return 0, nil, fmt.Errorf("scim %s: response larger than %d bytes", op, maxResponseBytes)
	}
	return resp.StatusCode, data, nil
}

func (c *Client) token(ctx context.Context) (string, error) {
	if c.o.TokenFunc != nil {
		t, err := c.o.TokenFunc(ctx)
		if err != nil {
			return "", err
		}
		if t == "" {
			return "", errors.New("token function returned an empty token")
		}
		return t, nil
	}
	return c.o.Token, nil
}

// StatusNote, put in a context with WithStatusNote, receives the status of
// every response to a call made with that context (the last one wins):
// the reconciler reports it. The zero value is ready to use.
type StatusNote struct{ status atomic.Int64 }

// Status is the status of the last response noted, 0 when none was.
func (n *StatusNote) Status() int { return int(n.status.Load()) }

type statusNoteKey struct{}

// WithStatusNote returns a context whose calls note their response
// status in n.
func WithStatusNote(ctx context.Context, n *StatusNote) context.Context {
	return context.WithValue(ctx, statusNoteKey{}, n)
}

func statusNoteFrom(ctx context.Context) *StatusNote {
	n, _ := ctx.Value(statusNoteKey{}).(*StatusNote)
	return n
}

// scrubError hides the token should it ever appear in err's text.
func scrubError(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return &scrubbed{msg: scrub(err.Error(), token), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "<secret>")
}

// parseRemoteError reads an error answer defensively: a SCIM error body
// (status as a string or a number), Atlassian's {"error","traceId"}, other
// JSON with a "message", or HTML/text, of which a short excerpt is kept.
func parseRemoteError(op string, resp *http.Response, body []byte, now time.Time, token string) *RemoteError {
	e := &RemoteError{Op: op, Status: resp.StatusCode}
	var obj map[string]any
	if d := json.NewDecoder(bytes.NewReader(body)); d.Decode(&obj) == nil && obj != nil {
		e.ScimType = StringField(obj, "scimType")
		e.Detail = StringField(obj, "detail")
		if e.Detail == "" {
			for _, k := range []string{"error_description", "error", "message"} {
				if s := StringField(obj, k); s != "" {
					e.Detail = s
					break
				}
			}
			if t := StringField(obj, "traceId"); t != "" && e.Detail != "" {
				e.Detail += " (traceId " + t + ")"
			}
		}
	} else {
		e.Detail = textExcerpt(body)
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	e.Detail = scrub(e.Detail, token)
	e.RetryAfter = retryAfter(resp.Header, resp.StatusCode, now)
	return e
}

// StringField returns obj's string attribute key (matched
// case-insensitively, as SCIM attribute names are), trimmed; "" when
// absent or not a string.
func StringField(obj map[string]any, key string) string {
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			if s, ok := v.(string); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// textExcerpt turns an HTML or text body into one short line: tags
// dropped, whitespace collapsed, cut at maxDetail bytes.
func textExcerpt(body []byte) string {
	var b strings.Builder
	inTag := false
	for _, r := range string(body) {
		switch {
		case r == '<':
			inTag = true
			b.WriteByte(' ')
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if len(s) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// retryAfter reads Retry-After (delay-seconds or an HTTP-date) and, on a
// 429 without it, X-RateLimit-Reset (an ISO 8601 instant, as Atlassian's
// other admin APIs send it). 0 means no advice.
func retryAfter(h http.Header, status int, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n <= 0 {
				return 0
			}
			return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now))
		}
	}
	if status == http.StatusTooManyRequests {
		if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				return max(0, t.Sub(now))
			}
		}
	}
	return 0
}

// flexInt decodes a JSON number or a numeric string (some service
// providers send list counters as strings).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}

// EqFilter is `attr eq "value"` with value as a JSON string, so quotes and
// backslashes are escaped.
func EqFilter(attr, value string) string {
	return attr + " eq " + string(canon.JSON(value))
}
