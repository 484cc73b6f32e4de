package atlassiantest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	pathPrefix   = "/scim/directory/"
	maxBodyBytes = 16 << 20 // a 35,000-member group PUT is about 3 MB
)

// Server is a running (NewServer) or embeddable (New + Handler) fake of one
// Atlassian SCIM directory. All methods are safe for concurrent use, also
// while requests are being served.
type Server struct {
	opts   Options
	base   string // origin + /scim/directory/{id}: prefix of meta.location and $ref
	url    string // where clients send requests
	dir    *directory
	faults *faults
	calls  *callStats
	hs     *httptest.Server // nil for New

	closeOnce sync.Once
	done      chan struct{} // closed by Close: ends Latency waits
}

// New returns a Server that does not listen; serve Handler() yourself (the
// atlassian-sim command does). Options.Origin defaults to DefaultOrigin.
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	origin := strings.TrimSuffix(o.Origin, "/")
	if origin == "" {
		origin = DefaultOrigin
	}
	if u, err := url.Parse(origin); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("atlassiantest: Origin %q: want scheme://host[:port]", o.Origin)
	}
	o.Origin = origin
	s := &Server{
		opts:   o,
		base:   origin + pathPrefix + o.DirectoryID,
		dir:    newDirectory(o.UserNameCaseSensitive),
		faults: newFaults(o),
		calls:  newCallStats(o.RecordCalls),
		done:   make(chan struct{}),
	}
	s.url = s.base
	return s, nil
}

// NewServer starts a Server on 127.0.0.1 with a random port, like
// httptest.NewServer; call Close when done. It panics if opts are invalid
// or it cannot listen. meta.location and $ref point at the server itself
// unless Options.Origin says otherwise.
func NewServer(opts Options) *Server {
	hs := httptest.NewUnstartedServer(nil)
	addr := "http://" + hs.Listener.Addr().String()
	if opts.Origin == "" {
		opts.Origin = addr
	}
	s, err := New(opts)
	if err != nil {
		hs.Close()
		panic(err)
	}
	s.url = addr + pathPrefix + s.opts.DirectoryID
	s.hs = hs
	hs.Config.Handler = s
	hs.Start()
	return s
}

// URL is the base URL clients use: http://127.0.0.1:port/scim/directory/{id}
// for NewServer, Origin + /scim/directory/{id} for New.
func (s *Server) URL() string { return s.url }

// DirectoryID returns the directory served.
func (s *Server) DirectoryID() string { return s.opts.DirectoryID }

// Handler returns the server's http.Handler (the Server itself). It serves
// the full path, /scim/directory/{id}/...
func (s *Server) Handler() http.Handler { return s }

// Close aborts requests waiting in Latency (their connections are closed
// without a response) and, for a server started by NewServer, stops it,
// closing client connections and waiting for handlers to return. A Server
// made with New keeps serving other requests through Handler.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	if s.hs != nil {
		s.hs.Close()
	}
}

func (s *Server) now() time.Time {
	return s.opts.Now().UTC().Truncate(timestampResolution)
}

// route is a classified request path.
type route struct {
	kind    Kind
	inDir   bool   // under /scim/directory/
	dir     string // the directory segment
	section string // first segment after it: Users, Groups, ...
	id      string // second segment, if any
}

func classify(p string) route {
	rest, ok := strings.CutPrefix(p, pathPrefix)
	if !ok {
		return route{kind: KindOther}
	}
	rt := route{kind: KindOther, inDir: true}
	var sub string
	rt.dir, sub, _ = strings.Cut(rest, "/")
	section, id, hasID := strings.Cut(sub, "/")
	rt.section, rt.id = section, id
	single := hasID && id != "" && !strings.Contains(id, "/")
	switch {
	case section == "Users" && !hasID:
		rt.kind = KindUsers
	case section == "Users" && single:
		rt.kind = KindUser
	case section == "Groups" && !hasID:
		rt.kind = KindGroups
	case section == "Groups" && single:
		rt.kind = KindGroup
	case section == "ServiceProviderConfig" && !hasID:
		rt.kind = KindServiceProviderConfig
	case section == "ResourceTypes" && (!hasID || single):
		rt.kind = KindResourceTypes
	case section == "Schemas" && (!hasID || single):
		rt.kind = KindSchemas
	}
	return rt
}

// response is what a handler decided; ServeHTTP writes it, or drops it.
type response struct {
	status  int
	body    any    // JSON-encoded when not nil
	raw     []byte // sent as is when body is nil
	ctype   string // default application/json
	headers []header
	commit  bool // a successful write (2xx, state changed): DropAfterCommit applies
}

func errResp(e *scimError) response { return response{status: e.status, body: e.body()} }

// ServeHTTP runs the pipeline: latency, auth, rate limit, injected
// failures, then the endpoint; it counts the call and writes (or drops)
// the response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.calls.arrive()
	rt := classify(r.URL.Path)
	call := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Kind: rt.kind}
	resp, ok := s.process(w, r, rt, &call)
	if !ok {
		call.Fault = FaultCanceled
		s.finish(r, call, start)
		// Abort rather than let net/http send an empty 200.
		panic(http.ErrAbortHandler)
	}
	call.Status = resp.status
	if resp.commit && s.faults.dropNow() {
		call.Fault = FaultDropped
		s.finish(r, call, start)
		dropConnection(w)
		return
	}
	body, ctype := encode(&resp)
	s.finish(r, call, start)
	h := w.Header()
	for _, x := range resp.headers {
		h.Set(x.name, x.value)
	}
	if len(body) > 0 {
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(body)
}

// finish counts the call (before the response is written, so a client that
// has its answer always finds the call counted) and logs it.
func (s *Server) finish(r *http.Request, call Call, start time.Time) {
	s.calls.add(call)
	if s.opts.Logger != nil {
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", call.Method), slog.String("path", call.Path), slog.String("query", call.Query),
			slog.Int("status", call.Status), slog.String("fault", string(call.Fault)),
			slog.Duration("duration", time.Since(start)))
	}
}

func encode(resp *response) ([]byte, string) {
	ctype := resp.ctype
	if ctype == "" {
		ctype = "application/json"
	}
	if resp.body == nil {
		return resp.raw, ctype
	}
	b, err := json.Marshal(resp.body)
	if err != nil {
		// Only our own types are encoded; this is a bug in the fake.
		panic(fmt.Sprintf("atlassiantest: encode response: %v", err))
	}
	return b, ctype
}

// dropConnection closes the client connection without writing anything.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the response the standard way.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// process returns false when the client went away, or the server was
// closed, during the latency wait.
func (s *Server) process(w http.ResponseWriter, r *http.Request, rt route, call *Call) (response, bool) {
	if d := s.faults.getLatency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return response{}, false
		case <-s.done:
			t.Stop()
			return response{}, false
		}
	}
	if !rt.inDir {
		return errResp(&scimError{status: 404, detail: "no such endpoint: " + r.URL.Path}), true
	}
	now := s.now()
	if rt.dir != s.opts.DirectoryID || !s.faults.authorized(bearerToken(r), now) {
		call.Fault = FaultAuth
		return s.authFailure(rt), true
	}
	admitted, hs := s.faults.admit(now)
	if !admitted {
		call.Fault = FaultRateLimit
		resp := errResp(&scimError{status: 429, detail: "Too many requests: rate limit exceeded."})
		resp.headers = hs
		return resp, true
	}
	if status, retryAfter, failed := s.faults.inject(); failed {
		call.Fault = FaultInjected
		resp := injectedFailure(status)
		if retryAfter > 0 {
			resp.headers = append(resp.headers, header{"Retry-After", retryAfterSeconds(retryAfter)})
		}
		resp.headers = append(hs, resp.headers...)
		return resp, true
	}
	resp := s.route(w, r, rt)
	resp.headers = append(hs, resp.headers...)
	return resp, true
}

func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authFailure is Atlassian's non-SCIM "Not authorized" body.
func (s *Server) authFailure(rt route) response {
	target := "scim/directory/" + rt.dir
	if rt.section != "" {
		target += "/" + rt.section
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return response{status: s.opts.AuthFailureStatus, body: struct {
		Error   string `json:"error"`
		TraceID string `json:"traceId"`
	}{"Not authorized to access : " + target, hex.EncodeToString(b[:])}}
}

func injectedFailure(status int) response {
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		return response{status: status, raw: []byte("<html><head><title>" + text + "</title></head><body><h1>" + text + "</h1></body></html>\n"), ctype: "text/html; charset=utf-8"}
	}
	return errResp(&scimError{status: status, detail: "injected failure: " + http.StatusText(status)})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, rt route) response {
	m := r.Method
	switch rt.kind {
	case KindUsers:
		switch m {
		case http.MethodGet:
			return s.listUsers(r)
		case http.MethodPost:
			return s.createUser(w, r)
		}
		return methodNotAllowed(m, "GET, POST")
	case KindUser:
		switch m {
		case http.MethodGet:
			return s.getUser(r, rt.id)
		case http.MethodPut:
			return s.replaceUser(w, r, rt.id)
		case http.MethodPatch:
			return s.patchUser(w, r, rt.id)
		case http.MethodDelete:
			return s.deleteUser(rt.id)
		}
		return methodNotAllowed(m, "GET, PUT, PATCH, DELETE")
	case KindGroups:
		switch m {
		case http.MethodGet:
			return s.listGroups(r)
		case http.MethodPost:
			return s.createGroup(w, r)
		}
		return methodNotAllowed(m, "GET, POST")
	case KindGroup:
		switch m {
		case http.MethodGet:
			return s.getGroup(rt.id)
		case http.MethodPut:
			return s.replaceGroup(w, r, rt.id)
		case http.MethodPatch:
			return s.patchGroup(w, r, rt.id)
		case http.MethodDelete:
			return s.deleteGroup(rt.id)
		}
		return methodNotAllowed(m, "GET, PUT, PATCH, DELETE")
	case KindServiceProviderConfig, KindResourceTypes, KindSchemas:
		if m != http.MethodGet {
			return methodNotAllowed(m, "GET")
		}
		return s.discovery(rt)
	}
	return errResp(&scimError{status: 404, detail: "no such endpoint: " + r.URL.Path})
}

func methodNotAllowed(method, allow string) response {
	resp := errResp(&scimError{status: 405, detail: "method " + method + " is not allowed here"})
	resp.headers = []header{{"Allow", allow}}
	return resp
}

// readJSON decodes a JSON request body into v. The Content-Type must be
// application/json or application/scim+json.
func readJSON(w http.ResponseWriter, r *http.Request, v any) *scimError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/scim+json") {
		return &scimError{status: 415, detail: "Content-Type must be application/json or application/scim+json"}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &scimError{status: 413, detail: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)}
		}
		return errInvalidSyntax("reading request body: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return errInvalidValue("attribute %s: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return errInvalidSyntax("request body is not a valid JSON object: %v", err)
	}
	return nil
}

// paging reads startIndex (1-based, values < 1 mean 1) and count (default
// and maximum pageSize, negative means 0).
func paging(q url.Values, pageSize int) (start, count int, e *scimError) {
	start, count = 1, pageSize
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, errInvalidValue("startIndex %q is not an integer", v)
		}
		start = max(1, n)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, errInvalidValue("count %q is not an integer", v)
		}
		count = min(max(0, n), pageSize)
	}
	return start, count, nil
}

// window returns the [start-1, start-1+count) slice of total items.
func window(total, start, count int) (lo, hi int) {
	lo = min(start-1, total)
	hi = min(lo+count, total)
	return lo, hi
}
