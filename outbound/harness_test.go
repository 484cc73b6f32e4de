package outbound

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/fakeclock"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backendtest"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/targettest"
)

// t0 is the tests' clock origin, far from the wall clock.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

const (
	testApp   = "bitbucket"
	testToken = "tok-5f1e8a0b9c7d4e2f"
)

// ---- stores ----

// backends opens a fresh store per test for each backend; eachBackend
// runs a test once per backend.
var (
	backends    = backendtest.Open
	eachBackend = backendtest.Each
)

// ---- clock ----

// fakeClock is the shared test clock, with the helper the tests wait with.
type fakeClock struct{ *fakeclock.Clock }

func newFakeClock() *fakeClock { return &fakeClock{fakeclock.New(t0)} }

// waitSleepers blocks until exactly n goroutines sleep on the clock.
func (c *fakeClock) waitSleepers(t *testing.T, n int) {
	t.Helper()
	err := c.WaitFor(fmt.Sprintf("%d sleepers", n), 10*time.Second, func(_ time.Time, s []time.Time) bool { return len(s) == n })
	if err != nil {
		t.Fatal(err)
	}
}

// ---- source ----

// fakeSource serves desired states set by the test; a user it does not
// know is not present.
type fakeSource struct {
	mu     sync.Mutex
	users  map[string]Desired
	groups map[string]DesiredGroup
	err    error
	reads  atomic.Int64
	// onRead, when set, runs on every read (outside the lock).
	onRead func(hubID string)
}

func newFakeSource() *fakeSource {
	return &fakeSource{users: map[string]Desired{}, groups: map[string]DesiredGroup{}}
}

var _ GroupSource = (*fakeSource)(nil)

// setGroup sets a group's desired state; a group it does not know is not
// present.
func (s *fakeSource) setGroup(hubID string, g DesiredGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g.Members = slices.Clone(g.Members)
	s.groups[hubID] = g
}

func (s *fakeSource) removeGroup(hubID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups, hubID)
}

func (s *fakeSource) DesiredGroup(ctx context.Context, app, groupID string) (DesiredGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return DesiredGroup{}, s.err
	}
	g, ok := s.groups[groupID]
	if !ok {
		return DesiredGroup{Reason: "group deleted from the hub"}, nil
	}
	g.Members = slices.Clone(g.Members)
	return g, nil
}

func (s *fakeSource) set(hubID string, d Desired) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[hubID] = d
}

func (s *fakeSource) update(hubID string, fn func(*Desired)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.users[hubID]
	d.Attributes = cloneAttrs(d.Attributes)
	fn(&d)
	s.users[hubID] = d
}

func (s *fakeSource) remove(hubID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, hubID)
}

func (s *fakeSource) DesiredUser(ctx context.Context, app, hubID string) (Desired, error) {
	s.reads.Add(1)
	if s.onRead != nil {
		s.onRead(hubID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Desired{}, s.err
	}
	d, ok := s.users[hubID]
	if !ok {
		return Desired{Reason: "not in any policy"}, nil
	}
	d.Attributes = cloneAttrs(d.Attributes)
	d.GroupIDs = slices.Clone(d.GroupIDs)
	return d, nil
}

// person is the desired state of an active user, shaped like mapping's
// output.
func person(hubID, userName, displayName string) Desired {
	given, family, _ := strings.Cut(displayName, " ")
	return Desired{
		Present: true,
		Active:  true,
		Reason:  "policy engineering",
		Attributes: map[string]any{
			"schemas":     []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName":    userName,
			"externalId":  hubID,
			"displayName": displayName,
			"name":        map[string]any{"givenName": given, "familyName": family},
			"emails":      []any{map[string]any{"value": userName, "type": "work", "primary": true}},
			"title":       "Engineer",
			"active":      true,
		},
	}
}

// ---- HTTP recording ----

// recorded and recorder are the test clients' transport: every request
// recorded, with optional hooks.
type (
	recorded = targettest.Request
	recorder = targettest.Recorder
)

func newRecorder() *recorder { return targettest.NewRecorder() }

func methods(rs []recorded) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Method
	}
	return out
}

// ---- logs ----

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---- harness ----

// harness is a simulator, a store, a fake source and clock, and a Runner
// for one app, testApp, of type atlassian.
type harness struct {
	t     *testing.T
	sim   *atlassiantest.Server
	st    store.Store
	src   *fakeSource
	clk   *fakeClock
	rec   *recorder
	reg   *prometheus.Registry
	logs  *syncBuffer
	token atomic.Pointer[string]
	opts  Options
	r     *Runner
}

type harnessConfig struct {
	sim  atlassiantest.Options
	opts func(*Options)
}

func newHarness(t *testing.T, st store.Store, cfg harnessConfig) *harness {
	t.Helper()
	h := &harness{t: t, st: st, src: newFakeSource(), clk: newFakeClock(), rec: newRecorder(),
		reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	tok := testToken
	h.token.Store(&tok)
	so := cfg.sim
	so.Token = testToken
	if so.Now == nil {
		so.Now = h.clk.Now
	}
	h.sim = atlassiantest.NewServer(so)
	t.Cleanup(h.sim.Close)
	h.opts = Options{
		Store: st, Source: h.src, Clock: h.clk, Rand: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: h.reg,
		Apps: []AppConfig{{
			Name: testApp, Type: "atlassian",
			Client: scimclient.Options{
				BaseURL:    h.sim.URL(),
				TokenFunc:  func(context.Context) (string, error) { return *h.token.Load(), nil },
				HTTPClient: &http.Client{Transport: h.rec},
			},
		}},
	}
	if cfg.opts != nil {
		cfg.opts(&h.opts)
	}
	r, err := New(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	return h
}

// secondRunner is another Runner (another replica) on the same store,
// simulator and clock.
func (h *harness) secondRunner() *Runner {
	h.t.Helper()
	o := h.opts
	o.Registerer = prometheus.NewRegistry()
	r, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) setToken(tok string) { h.token.Store(&tok) }

// mark queues hub user ids, due now.
func (h *harness) mark(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		if err := h.st.Enqueue(context.Background(), store.Mark{App: testApp, Key: store.UserKey(id), Due: h.clk.Now()}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// step works one key and fails the test if there was none.
func (h *harness) step() {
	h.t.Helper()
	ok, err := h.r.Step(context.Background(), testApp)
	if err != nil {
		h.t.Fatal(err)
	}
	if !ok {
		h.t.Fatal("step: no key was due")
	}
}

// idle asserts that no key is due now.
func (h *harness) idle() {
	h.t.Helper()
	ok, err := h.r.Step(context.Background(), testApp)
	if err != nil {
		h.t.Fatal(err)
	}
	if ok {
		h.t.Fatal("a key was due, want none")
	}
}

// sync marks and works one user.
func (h *harness) sync(id string) {
	h.t.Helper()
	h.mark(id)
	h.step()
}

func (h *harness) queueLen() int {
	h.t.Helper()
	n, err := h.st.QueueLen(context.Background(), testApp)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) link(id string) *store.Link {
	h.t.Helper()
	l, err := h.st.GetLink(context.Background(), testApp, store.KindUser, id)
	if err != nil {
		h.t.Fatalf("link of %s: %v", id, err)
	}
	return l
}

func (h *harness) noLink(id string) {
	h.t.Helper()
	if l, err := h.st.GetLink(context.Background(), testApp, store.KindUser, id); err == nil {
		h.t.Fatalf("link of %s: %+v, want none", id, l)
	}
}

// reports returns the app's report entries, oldest first.
func (h *harness) reports() []store.ReportEntry {
	h.t.Helper()
	es, _, err := h.st.QueryReports(context.Background(), store.ReportQuery{App: testApp, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	slices.Reverse(es)
	return es
}

// lastReport returns the newest report entry.
func (h *harness) lastReport() store.ReportEntry {
	h.t.Helper()
	es := h.reports()
	if len(es) == 0 {
		h.t.Fatal("no report entries")
	}
	return es[len(es)-1]
}

func (h *harness) simUser(userName string) atlassiantest.User {
	h.t.Helper()
	u, ok := h.sim.UserByUserName(userName)
	if !ok {
		h.t.Fatalf("simulator has no user %q", userName)
	}
	return u
}

// patchOps decodes the operations of a recorded PATCH.
func patchOpsOf(t *testing.T, r recorded) []map[string]any { return targettest.PatchOps(t, r) }

// eventually polls cond until it holds or 10 s pass: for workers that
// run on their own goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts r.Run and returns a stop function that cancels it and waits.
func run(t *testing.T, r *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// assertNoSecret fails when secret appears in any of texts.
func assertNoSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(texts)) {
		if strings.Contains(texts[name], secret) {
			t.Errorf("the token appears in %s", name)
		}
	}
}

// metricValue returns the value of the gauge or counter name whose label
// values are labels (in label-name order), or fails the test.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if !slices.Equal(got, labels) {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}
