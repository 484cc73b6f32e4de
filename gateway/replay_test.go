package gateway

// Recorded Okta and Microsoft Entra ID request sequences, replayed through
// the real handler over loopback HTTP on every store backend.
//
// Each file under testdata/okta/ and testdata/entra/ is one sequence (a
// fixture); its requests and their bodies are quoted from
// shared/reference/idp-clients.md (the "source" field names the section and
// source key), with the ids the document elides filled in. The format:
//
//	{"name": "...", "source": "idp-clients.md §1.4 [O1]",
//	 "headers": {"Authorization": "Bearer {{token}}", "User-Agent": "Okta SCIM Client 1.0.0"},
//	 "contentType": "application/scim+json; charset=utf-8",
//	 "steps": [
//	   {"note": "...",
//	    "request": {"method": "POST", "path": "/Users", "headers": {...}, "body": {...}},
//	    "response": {"status": 201, "headers": {"Location": "{{base}}/Users/{{userId}}"}, "body": {...}},
//	    "capture": {"userId": "id"}}]}
//
// Requests: "path" is relative to the SCIM base URL (/scim/v2). "headers"
// of the fixture are sent with every request; a step's headers override
// them, and a null value removes one (a request without Authorization).
// "contentType" is the Content-Type of requests that have a body, unless
// the step sets one. The body is sent compacted, byte for byte as written
// otherwise. {{name}} in the path, header values and body is replaced by a
// variable: {{base}} (the SCIM base URL), {{token}} (the test token), the
// values captured so far, and {{i}} inside a repeated step. An unresolved
// {{…}} fails the test.
//
// Responses: "status" must match; each header listed must equal the
// normalised value (null: must be absent), headers not listed are not
// compared; "body" is compared exactly, as whole JSON documents, after
// normalising the actual body (an absent "body" means the response must
// have none):
//   - the SCIM base URL becomes {{base}} (meta.location, $ref, Location);
//   - a captured value becomes {{name}} wherever it occurs in a string;
//   - an id the server issued that no variable captured becomes <id>
//     (ids are found in "id", "Resources[].id" and Location);
//   - meta.created and meta.lastModified become <time> when they are RFC
//     3339 times (a malformed time stays and fails the comparison);
//   - "members" arrays are sorted by "value": SCIM multi-valued attributes
//     are unordered (RFC 7643 §2.4) and the store lists members by id;
//   - values selected by "collect" become <collected>.
//
// In an expected body an array element {"$repeat": n, "of": x} stands for
// n copies of x (long list pages of masked items).
//
// Other step fields: "capture" {"var": "json.path"} binds a variable from
// the actual body ("Resources.0.id"); "repeat": n runs the step n times
// with {{i}} = 1…n (substituted in the expected response too; the actual
// ids stay uncaptured unless a capture name uses {{i}}); "collect"
// {"name": "Resources.*.userName"} appends the values at a path ("*" is
// every array element) to a named list and masks them, for list pages
// whose content depends on the server's id order; a step with "check"
// instead of "request" asserts on a list: its length, that its values are
// distinct, or that it equals another list (same values, same order).
//
// go test ./gateway -run TestReplay -update rewrites each "response" from
// the server (bolt backend; identical runs of array elements are folded
// into $repeat), except for steps that repeat or that carry "pinned": a
// pinned step's expectation states the correct behaviour where the server
// is known to differ, and -update must not overwrite it. Every generated
// expectation has to be reviewed against idp-clients.md and the RFCs
// before it is committed.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

var replayUpdate = flag.Bool("update", false, "rewrite the expected responses of testdata/{okta,entra} fixtures from the server (review every change)")

// fixture is one recorded request sequence.
type fixture struct {
	Name        string             `json:"name"`
	Source      string             `json:"source"`
	Description string             `json:"description,omitempty"`
	Headers     map[string]*string `json:"headers,omitempty"`
	ContentType string             `json:"contentType,omitempty"`
	Steps       []step             `json:"steps"`

	file string
}

type step struct {
	Note     string            `json:"note,omitempty"`
	Pinned   string            `json:"pinned,omitempty"`
	Repeat   int               `json:"repeat,omitempty"`
	Request  *replayRequest    `json:"request,omitempty"`
	Response *replayResponse   `json:"response,omitempty"`
	Capture  map[string]string `json:"capture,omitempty"`
	Collect  map[string]string `json:"collect,omitempty"`
	Check    *listCheck        `json:"check,omitempty"`
}

type replayRequest struct {
	Method  string             `json:"method"`
	Path    string             `json:"path"`
	Headers map[string]*string `json:"headers,omitempty"`
	Body    json.RawMessage    `json:"body,omitempty"`
}

type replayResponse struct {
	Status  int                `json:"status"`
	Headers map[string]*string `json:"headers,omitempty"`
	Body    json.RawMessage    `json:"body,omitempty"`
}

// listCheck asserts on a list built by "collect".
type listCheck struct {
	List     string `json:"list"`
	Len      *int   `json:"len,omitempty"`
	Distinct bool   `json:"distinct,omitempty"`
	Equals   string `json:"equals,omitempty"`
}

// generatedHeaders are the response headers -update records when present.
var generatedHeaders = []string{"Content-Type", "Location", "ETag", "WWW-Authenticate", "Allow"}

func TestReplay(t *testing.T) {
	fixtures := loadFixtures(t)
	if *replayUpdate {
		for _, fx := range fixtures {
			t.Run(fx.Name, func(t *testing.T) {
				ts := startServer(t, backends["bolt"](t))
				newReplayer(t, ts, fx).run()
				writeFixture(t, fx)
			})
		}
		return
	}
	eachBackend(t, func(t *testing.T, open func(tb testing.TB) store.Store) {
		for _, fx := range fixtures {
			t.Run(fx.Name, func(t *testing.T) {
				t.Parallel()
				ts := startServer(t, open(t))
				newReplayer(t, ts, fx).run()
			})
		}
	})
}

// loadFixtures reads and validates every fixture; -update writes back to
// the same files.
func loadFixtures(t *testing.T) []*fixture {
	t.Helper()
	var files []string
	for _, dir := range []string{"okta", "entra"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			t.Fatalf("no fixtures in testdata/%s", dir)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	names := map[string]string{}
	var out []*fixture
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		fx := &fixture{file: f}
		if err := dec.Decode(fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := fx.validate(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if prev, dup := names[fx.Name]; dup {
			t.Fatalf("%s: name %q is also used by %s", f, fx.Name, prev)
		}
		names[fx.Name] = f
		out = append(out, fx)
	}
	return out
}

func (fx *fixture) validate() error {
	if fx.Name == "" || strings.ContainsAny(fx.Name, " /") {
		return fmt.Errorf("name %q: want a non-empty name without spaces or slashes", fx.Name)
	}
	if fx.Source == "" {
		return fmt.Errorf("no source: say where the sequence comes from")
	}
	if len(fx.Steps) == 0 {
		return fmt.Errorf("no steps")
	}
	for i, s := range fx.Steps {
		switch {
		case (s.Request == nil) == (s.Check == nil):
			return fmt.Errorf("step %d: want exactly one of request and check", i)
		case s.Check != nil && (s.Response != nil || s.Capture != nil || s.Collect != nil || s.Repeat != 0):
			return fmt.Errorf("step %d: a check step takes no response, capture, collect or repeat", i)
		case s.Request != nil && s.Response == nil && !*replayUpdate:
			return fmt.Errorf("step %d: no expected response (generate one with -update, then review it)", i)
		case s.Repeat < 0:
			return fmt.Errorf("step %d: negative repeat", i)
		case s.Response != nil && len(s.Response.Body) > 0 && !json.Valid(s.Response.Body):
			return fmt.Errorf("step %d: expected body is not JSON", i)
		case s.Request != nil && len(s.Request.Body) > 0 && !json.Valid(s.Request.Body):
			return fmt.Errorf("step %d: request body is not JSON", i)
		}
	}
	return nil
}

// replayer runs one fixture against one server.
type replayer struct {
	t      *testing.T
	ts     *testServer
	fx     *fixture
	vars   map[string]string   // captured values by name
	issued map[string]bool     // ids the server issued
	lists  map[string][]string // collected values
}

func newReplayer(t *testing.T, ts *testServer, fx *fixture) *replayer {
	return &replayer{t: t, ts: ts, fx: fx, vars: map[string]string{}, issued: map[string]bool{}, lists: map[string][]string{}}
}

func (r *replayer) run() {
	for i := range r.fx.Steps {
		s := &r.fx.Steps[i]
		if s.Check != nil {
			r.check(i, s.Check)
			continue
		}
		n := max(s.Repeat, 1)
		for k := 1; k <= n; k++ {
			iter := ""
			if s.Repeat > 0 {
				iter = strconv.Itoa(k)
			}
			r.step(i, s, iter)
		}
	}
}

// label names a step in failure messages.
func (r *replayer) label(i int, s *step, iter string) string {
	l := fmt.Sprintf("%s step %d", filepath.Base(r.fx.file), i)
	if iter != "" {
		l += " (i=" + iter + ")"
	}
	l += ": " + s.Request.Method + " " + s.Request.Path
	if s.Note != "" {
		l += " — " + s.Note
	}
	return l
}

var varRef = regexp.MustCompile(`\{\{([A-Za-z0-9_.-]+)\}\}`)

// subst replaces {{name}} references in s; iter is the value of {{i}}
// ("" outside a repeated step). It fails the test on an unknown name.
func (r *replayer) subst(s, iter string, jsonText bool) string {
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-2]
		var v string
		switch {
		case name == "i" && iter != "":
			v = iter
		case name == "base":
			v = r.ts.URL
		case name == "token":
			v = testToken
		default:
			var ok bool
			if v, ok = r.vars[name]; !ok {
				r.t.Fatalf("%s: variable {{%s}} is not defined here", r.fx.file, name)
			}
		}
		if jsonText {
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return v
	})
	if strings.Contains(out, "{{") {
		r.t.Fatalf("%s: unresolved reference in %q", r.fx.file, s)
	}
	return out
}

// substIter replaces only {{i}} (expected responses of repeated steps).
func substIter(s, iter string) string {
	if iter == "" {
		return s
	}
	return strings.ReplaceAll(s, "{{i}}", iter)
}

func (r *replayer) step(i int, s *step, iter string) {
	t := r.t
	label := r.label(i, s, iter)
	req := s.Request

	var body io.Reader
	if len(req.Body) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, req.Body); err != nil {
			t.Fatalf("%s: request body: %v", label, err)
		}
		body = strings.NewReader(r.subst(buf.String(), iter, true))
	}
	hreq, err := http.NewRequest(req.Method, r.ts.URL+r.subst(req.Path, iter, false), body)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	headers := map[string]*string{}
	for k, v := range r.fx.Headers {
		headers[http.CanonicalHeaderKey(k)] = v
	}
	if len(req.Body) > 0 && r.fx.ContentType != "" {
		ct := r.fx.ContentType
		headers["Content-Type"] = &ct
	}
	for k, v := range req.Headers {
		headers[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range headers {
		if v != nil {
			hreq.Header.Set(k, r.subst(*v, iter, false))
		}
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read response: %v", label, err)
	}

	var got any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: response body is not JSON: %v\n%s", label, err, raw)
		}
	}
	r.noteIssued(got, resp.Header.Get("Location"))
	for name, path := range s.Capture {
		name = substIter(name, iter)
		vs := pick(got, strings.Split(path, "."))
		if len(vs) != 1 {
			t.Fatalf("%s: capture %s: path %q selects %d values in %s", label, name, path, len(vs), raw)
		}
		v, ok := vs[0].(string)
		if !ok || v == "" {
			t.Fatalf("%s: capture %s: %q is %v, not a non-empty string", label, name, path, vs[0])
		}
		if prev, dup := r.vars[name]; dup && prev != v {
			t.Fatalf("%s: capture %s: already bound to another value", label, name)
		}
		r.vars[name] = v
	}
	for _, list := range sortedMapKeys(s.Collect) {
		for _, v := range pick(got, strings.Split(s.Collect[list], ".")) {
			str, ok := v.(string)
			if !ok {
				t.Fatalf("%s: collect %s: value %v is not a string", label, list, v)
			}
			r.lists[list] = append(r.lists[list], str)
		}
		got = mask(got, strings.Split(s.Collect[list], "."))
	}
	norm := r.normalize(got, "")

	if *replayUpdate {
		if s.Pinned == "" && s.Repeat == 0 {
			s.Response = r.generated(resp, norm, s.Response)
		}
		return
	}
	want := s.Response
	if resp.StatusCode != want.Status {
		t.Errorf("%s: status %d, want %d; body: %s", label, resp.StatusCode, want.Status, raw)
	}
	for _, k := range sortedMapKeys(want.Headers) {
		wv := want.Headers[k]
		vals := resp.Header.Values(k)
		switch {
		case wv == nil && len(vals) > 0:
			t.Errorf("%s: header %s: %q, want none", label, k, vals)
		case wv != nil && len(vals) != 1:
			t.Errorf("%s: header %s: %q, want %q", label, k, vals, substIter(*wv, iter))
		case wv != nil && r.normString(vals[0]) != substIter(*wv, iter):
			t.Errorf("%s: header %s: %q (normalised %q), want %q", label, k, vals[0], r.normString(vals[0]), substIter(*wv, iter))
		}
	}
	if len(want.Body) == 0 {
		if len(raw) > 0 {
			t.Errorf("%s: response has a body, want none: %s", label, raw)
		}
		return
	}
	if got == nil {
		t.Errorf("%s: response has no body, want:\n%s", label, want.Body)
		return
	}
	exp := decodeExpected(t, label, []byte(substIter(string(want.Body), iter)))
	if !reflect.DeepEqual(norm, exp) {
		t.Errorf("%s: body mismatch\n--- got (normalised)\n%s\n--- want\n%s\n--- first difference: %s",
			label, indentJSON(norm), indentJSON(exp), firstDiff("", norm, exp))
	}
}

// noteIssued records the ids a response carries as server-issued.
func (r *replayer) noteIssued(body any, location string) {
	for _, path := range []string{"id", "Resources.*.id"} {
		for _, v := range pick(body, strings.Split(path, ".")) {
			if s, ok := v.(string); ok && s != "" {
				r.issued[s] = true
			}
		}
	}
	if location != "" {
		r.issued[location[strings.LastIndexByte(location, '/')+1:]] = true
	}
}

var uuidLike = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// normString normalises one string of a response.
func (r *replayer) normString(s string) string {
	s = strings.ReplaceAll(s, r.ts.URL, "{{base}}")
	names := sortedMapKeys(r.vars)
	// Longest value first, so that no value replaces part of another.
	slices.SortStableFunc(names, func(a, b string) int { return len(r.vars[b]) - len(r.vars[a]) })
	for _, n := range names {
		s = strings.ReplaceAll(s, r.vars[n], "{{"+n+"}}")
	}
	return uuidLike.ReplaceAllStringFunc(s, func(m string) string {
		if r.issued[m] {
			return "<id>"
		}
		return m
	})
}

// normalize returns a normalised copy of v; key is the key v is held
// under in its parent object ("" for the root and array elements).
func (r *replayer) normalize(v any, key string) any {
	switch x := v.(type) {
	case string:
		return r.normString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.normalize(e, "")
		}
		if strings.EqualFold(key, "members") {
			slices.SortStableFunc(out, func(a, b any) int {
				return strings.Compare(memberValue(a), memberValue(b))
			})
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.normalize(e, k)
		}
		if strings.EqualFold(key, "meta") {
			for _, k := range []string{"created", "lastModified"} {
				if s, ok := out[k].(string); ok {
					if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
						out[k] = "<time>"
					}
				}
			}
		}
		return out
	}
	return v
}

func memberValue(e any) string {
	m, _ := e.(map[string]any)
	s, _ := m["value"].(string)
	return s
}

// pick returns the values at a dotted path; "*" selects every element of
// an array, a number one element.
func pick(v any, path []string) []any {
	if len(path) == 0 {
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		e, ok := x[path[0]]
		if !ok {
			return nil
		}
		return pick(e, path[1:])
	case []any:
		if path[0] == "*" {
			var out []any
			for _, e := range x {
				out = append(out, pick(e, path[1:])...)
			}
			return out
		}
		n, err := strconv.Atoi(path[0])
		if err != nil || n < 0 || n >= len(x) {
			return nil
		}
		return pick(x[n], path[1:])
	}
	return nil
}

// mask replaces the values at path with "<collected>", in place.
func mask(v any, path []string) any {
	if len(path) == 0 {
		return "<collected>"
	}
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x[path[0]]; ok {
			x[path[0]] = mask(e, path[1:])
		}
	case []any:
		for i := range x {
			if path[0] == "*" || path[0] == strconv.Itoa(i) {
				x[i] = mask(x[i], path[1:])
			}
		}
	}
	return v
}

func (r *replayer) check(i int, c *listCheck) {
	label := fmt.Sprintf("%s step %d: check %s", filepath.Base(r.fx.file), i, c.List)
	list, ok := r.lists[c.List]
	if !ok {
		r.t.Fatalf("%s: nothing was collected into %q", label, c.List)
	}
	if c.Len != nil && len(list) != *c.Len {
		r.t.Errorf("%s: %d values, want %d", label, len(list), *c.Len)
	}
	if c.Distinct {
		seen := map[string]bool{}
		for _, v := range list {
			if seen[v] {
				r.t.Errorf("%s: %q occurs more than once", label, v)
			}
			seen[v] = true
		}
	}
	if c.Equals != "" && !slices.Equal(list, r.lists[c.Equals]) {
		r.t.Errorf("%s: differs from %s (same values in the same order expected):\n%q\n%q", label, c.Equals, list, r.lists[c.Equals])
	}
}

// decodeExpected decodes an expected body, expanding {"$repeat": n, "of": x}.
func decodeExpected(t *testing.T, label string, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: expected body: %v", label, err)
	}
	return expandRepeats(v)
}

func expandRepeats(v any) any {
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok && len(m) == 2 {
				if n, ok := m["$repeat"].(json.Number); ok {
					if k, err := n.Int64(); err == nil {
						for range k {
							out = append(out, expandRepeats(m["of"]))
						}
						continue
					}
				}
			}
			out = append(out, expandRepeats(e))
		}
		if out == nil {
			out = []any{}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = expandRepeats(e)
		}
		return out
	}
	return v
}

// foldRepeats is the inverse of expandRepeats for -update: runs of three
// or more equal array elements become {"$repeat": n, "of": x}.
func foldRepeats(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for i := 0; i < len(x); {
			j := i + 1
			for j < len(x) && reflect.DeepEqual(x[i], x[j]) {
				j++
			}
			if j-i >= 3 {
				out = append(out, map[string]any{"$repeat": j - i, "of": foldRepeats(x[i])})
			} else {
				for k := i; k < j; k++ {
					out = append(out, foldRepeats(x[k]))
				}
			}
			i = j
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = foldRepeats(e)
		}
		return out
	}
	return v
}

// generated builds the expectation -update records for a response.
func (r *replayer) generated(resp *http.Response, norm any, prev *replayResponse) *replayResponse {
	out := &replayResponse{Status: resp.StatusCode, Headers: map[string]*string{}}
	keys := slices.Clone(generatedHeaders)
	if prev != nil {
		keys = append(keys, sortedMapKeys(prev.Headers)...)
	}
	for _, k := range keys {
		k = http.CanonicalHeaderKey(k)
		if vals := resp.Header.Values(k); len(vals) > 0 {
			v := r.normString(vals[0])
			out.Headers[k] = &v
		} else if prev != nil {
			if _, listed := prev.Headers[k]; listed {
				out.Headers[k] = nil
			}
		}
	}
	if norm != nil {
		b, err := marshalNoEscape(foldRepeats(norm))
		if err != nil {
			r.t.Fatal(err)
		}
		out.Body = b
	}
	return out
}

func writeFixture(t *testing.T, fx *fixture) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func indentJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return buf.String()
}

// firstDiff names the first path at which two decoded documents differ.
func firstDiff(path string, a, b any) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := sortedMapKeys(x)
		for _, k := range sortedMapKeys(y) {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			xv, xok := x[k]
			yv, yok := y[k]
			switch {
			case !xok:
				return path + "." + k + ": missing from the response"
			case !yok:
				return path + "." + k + ": not expected"
			case !reflect.DeepEqual(xv, yv):
				return firstDiff(path+"."+k, xv, yv)
			}
		}
		return path
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if len(x) != len(y) {
			return fmt.Sprintf("%s: %d elements, want %d", path, len(x), len(y))
		}
		for i := range x {
			if !reflect.DeepEqual(x[i], y[i]) {
				return firstDiff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i])
			}
		}
		return path
	}
	return fmt.Sprintf("%s: %s (%T), want %s (%T)", path, compactJSON(a), a, compactJSON(b), b)
}

func compactJSON(v any) string {
	b, err := marshalNoEscape(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestReplayerNormalise pins the normalisation rules the fixtures rely on,
// so that a change to them cannot silently weaken every comparison.
func TestReplayerNormalise(t *testing.T) {
	const issued = "3f2b8c1e-9d4a-4b6e-8f00-1a2b3c4d5e6f"
	const captured = "0d9e8f7a-6b5c-4d3e-9f21-0a1b2c3d4e5f"
	const foreign = "0a21f0f2-8d2a-4f8e-bf98-7d2c5bd5e3a1" // a client-supplied GUID
	r := newReplayer(t, &testServer{URL: "http://127.0.0.1:1/scim/v2"}, &fixture{file: "x.json"})
	r.vars["userId"] = captured
	r.issued[issued], r.issued[captured] = true, true

	in := decodeExpected(t, "in", []byte(`{
	  "id": "`+captured+`", "externalId": "`+foreign+`",
	  "meta": {"created": "2026-11-27T12:00:00Z", "lastModified": "yesterday", "location": "http://127.0.0.1:1/scim/v2/Users/`+captured+`"},
	  "members": [{"value": "`+captured+`"}, {"value": "`+issued+`"}],
	  "emails": [{"value": "b"}, {"value": "a"}],
	  "totalResults": 0}`))
	got := r.normalize(in, "")
	want := decodeExpected(t, "want", []byte(`{
	  "id": "{{userId}}", "externalId": "`+foreign+`",
	  "meta": {"created": "<time>", "lastModified": "yesterday", "location": "{{base}}/Users/{{userId}}"},
	  "members": [{"value": "<id>"}, {"value": "{{userId}}"}],
	  "emails": [{"value": "b"}, {"value": "a"}],
	  "totalResults": 0}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("normalize:\n%s\nwant\n%s", indentJSON(got), indentJSON(want))
	}
	// Counters must stay typed: the string "0" is not the integer 0.
	if d := firstDiff("", map[string]any{"n": "0"}, map[string]any{"n": json.Number("0")}); !strings.Contains(d, "string") {
		t.Errorf("firstDiff of \"0\" and 0 = %q", d)
	}

	page := decodeExpected(t, "page", []byte(`{"Resources": [{"userName": "a"}, {"userName": "b"}, {"userName": "c"}, {"userName": "d", "x": 1}]}`))
	vs := pick(page, strings.Split("Resources.*.userName", "."))
	if len(vs) != 4 || vs[3] != "d" {
		t.Errorf("pick = %v", vs)
	}
	masked := mask(page, strings.Split("Resources.*.userName", "."))
	folded := foldRepeats(masked)
	if b, _ := marshalNoEscape(folded); string(b) != `{"Resources":[{"$repeat":3,"of":{"userName":"<collected>"}},{"userName":"<collected>","x":1}]}` {
		t.Errorf("foldRepeats = %s", b)
	}
	b, _ := marshalNoEscape(folded)
	if back := decodeExpected(t, "back", b); !reflect.DeepEqual(back, decodeExpected(t, "m", mustJSON(t, masked))) {
		t.Errorf("expandRepeats does not undo foldRepeats: %s", indentJSON(back))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := marshalNoEscape(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
