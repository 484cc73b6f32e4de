package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/fakeclock"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/backendtest"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/generic"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

const (
	testApp   = "bitbucket"
	testToken = "tok-import-7c1d2e3f4a5b"
	engGroup  = "g-eng"
)

// ---- stores ----

// openBolt opens a fresh bolt store; eachBackend runs f on bolt and on
// Redis.
var (
	openBolt    = backendtest.Bolt
	eachBackend = backendtest.Each
)

// ---- clock ----

// fakeClock is the shared test clock, with the helper the tests wait with.
type fakeClock struct{ *fakeclock.Clock }

// newFakeClock starts at the wall clock's now, so that keys it queues are
// due for a Runner on the wall clock.
func newFakeClock() *fakeClock {
	return &fakeClock{fakeclock.New(time.Now().UTC().Truncate(time.Millisecond))}
}

// waitFor blocks until cond holds of the clock's time and sleepers
// (checked on every change), failing the test after a while.
func (c *fakeClock) waitFor(t *testing.T, what string, cond func(now time.Time, sleepers []time.Time) bool) {
	t.Helper()
	if err := c.WaitFor(what, 10*time.Second, cond); err != nil {
		t.Fatal(err)
	}
}

// ---- desired state ----

// policySource answers desired state from compiled policies over the
// hub, as the gateway's policy engine does.
type policySource struct {
	st store.Store
	p  *mapping.Policies
}

func (s *policySource) DesiredUser(ctx context.Context, app, hubID string) (mapping.Desired, error) {
	u, err := mapping.LoadUser(ctx, s.st, hubID)
	if errors.Is(err, store.ErrNotFound) {
		return mapping.Desired{Reason: "user deleted from the hub"}, nil
	}
	if err != nil {
		return mapping.Desired{}, err
	}
	d := s.p.DesiredUser(app, u)
	return mapping.Desired{Present: d.Present, Active: d.Active, Attributes: d.Attributes, Protected: d.Protected, Reason: d.Reason}, nil
}

func compilePolicies(t *testing.T) *mapping.Policies {
	t.Helper()
	a := config.DefaultApp()
	a.Name, a.Type = testApp, "atlassian"
	p, err := mapping.Compile([]config.App{a}, []config.Policy{{Name: "engineers", App: testApp, Groups: []string{"Engineering"}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ---- environment ----

type env struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	sim   *atlassiantest.Server
	clock *fakeClock
	src   *policySource
	app   App
	cfg   Config
	im    *Importer

	runner *outbound.Runner
}

// newEnv sets up a store, a simulator paging by 2 accounts, policies
// admitting the Engineering group, and an Importer; mod changes the app
// before the Importer is built.
func newEnv(t *testing.T, open func(testing.TB) store.Store, mod func(*App, *Config)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, st: open(t), clock: newFakeClock()}
	e.sim = atlassiantest.NewServer(atlassiantest.Options{Token: testToken, PageSize: 2})
	t.Cleanup(e.sim.Close)
	e.src = &policySource{st: e.st, p: compilePolicies(t)}
	c, err := scimclient.New(scimclient.Options{BaseURL: e.sim.URL(), Token: testToken, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.app = App{Name: testApp, Users: generic.NewLister(c), Safeguard: config.Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 1000}}
	e.cfg = Config{Store: e.st, Source: e.src, Clock: e.clock}
	if mod != nil {
		mod(&e.app, &e.cfg)
	}
	e.cfg.Apps = []App{e.app}
	e.im, err = New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The group of the policy.
	now := e.clock.Now()
	if _, err := e.st.Apply(ctx, store.Write{Put: &store.Resource{Kind: store.KindGroup, ID: engGroup, Created: now, Modified: now,
		Indexes: []store.IndexKey{{Name: store.IndexDisplayName, Value: "Engineering"}}, Data: json.RawMessage(`{"displayName":"Engineering"}`)}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// importOnce runs the import and fails the test on an error.
func (e *env) importOnce(o Options) Result {
	e.t.Helper()
	res, err := e.im.RunOnce(e.ctx, testApp, o)
	if err != nil {
		e.t.Fatalf("RunOnce(%+v): %v", o, err)
	}
	return res
}

// hubUser stores an IdP user; inEng puts it in Engineering.
func (e *env) hubUser(id, userName, email string, inEng bool) {
	e.hubUserExt(id, userName, email, "", inEng)
}

// hubUserExt is hubUser with an externalId (none when ext is "").
func (e *env) hubUserExt(id, userName, email, ext string, inEng bool) {
	e.t.Helper()
	doc := map[string]any{
		"schemas":  []any{scim.SchemaUser},
		"userName": userName,
		"name":     map[string]any{"givenName": strings.ToUpper(userName[:1]) + strings.Split(userName, "@")[0][1:], "familyName": "Tester"},
		"emails":   []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":   true,
	}
	if ext != "" {
		doc["externalId"] = ext
	}
	norm, err := scim.Normalize(doc, scim.UserResourceType)
	if err != nil {
		e.t.Fatal(err)
	}
	data, _ := json.Marshal(norm)
	now := e.clock.Now()
	w := store.Write{Put: &store.Resource{Kind: store.KindUser, ID: id, Created: now, Modified: now, Origin: "idp", Indexes: indexKeys(norm), Data: data}}
	if _, err := e.st.Apply(e.ctx, w); err != nil {
		e.t.Fatalf("put hub user %s: %v", id, err)
	}
	if inEng {
		if _, err := e.st.Apply(e.ctx, store.Write{Group: engGroup, AddMembers: []string{id}}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// seed creates an account in the app the gateway never created.
func (e *env) seed(userName, email, display string) atlassiantest.User {
	e.t.Helper()
	given, family, _ := strings.Cut(display, " ")
	u, err := e.sim.Seed(atlassiantest.User{UserName: userName, DisplayName: display, Active: true,
		Name:   atlassiantest.Name{GivenName: given, FamilyName: family},
		Emails: []atlassiantest.MultiValue{{Value: email, Type: "work", Primary: true}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// reconcile builds (once) an outbound Runner on the same store, simulator
// and policies, and works the queue until it is empty.
func (e *env) reconcile() {
	e.t.Helper()
	if e.runner == nil {
		r, err := outbound.New(outbound.Options{Store: e.st, Source: e.src, Apps: []outbound.AppConfig{{
			Name: testApp, Type: "atlassian", Client: scimclient.Options{BaseURL: e.sim.URL(), Token: testToken, Timeout: 10 * time.Second},
		}}})
		if err != nil {
			e.t.Fatal(err)
		}
		e.runner = r
	}
	for range 1000 {
		worked, err := e.runner.Step(e.ctx, testApp)
		if err != nil {
			e.t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	e.t.Fatal("the queue does not drain")
}

func (e *env) link(hubID string) *store.Link {
	e.t.Helper()
	l, err := e.st.GetLink(e.ctx, testApp, store.KindUser, hubID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) links() []store.Link {
	e.t.Helper()
	ls, err := e.st.Links(e.ctx, testApp, store.KindUser, "", 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ls
}

func (e *env) users() []*store.Resource {
	e.t.Helper()
	p, err := e.st.List(e.ctx, store.KindUser, 0, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Resources
}

func (e *env) userByName(userName string) *store.Resource {
	e.t.Helper()
	r, err := e.st.Lookup(e.ctx, store.KindUser, store.IndexUserName, userName)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// queued lists the queued keys, sorted: it claims them all and hands
// them back, due now.
func (e *env) queued() []string {
	e.t.Helper()
	now := time.Now()
	cs, err := e.st.Claim(e.ctx, testApp, now.Add(time.Minute), time.Minute, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, c := range cs {
		keys = append(keys, c.Key)
		if err := e.st.Requeue(e.ctx, c, now); err != nil {
			e.t.Fatal(err)
		}
	}
	slices.Sort(keys)
	return keys
}

func (e *env) queueLen() int {
	e.t.Helper()
	n, err := e.st.QueueLen(e.ctx, testApp)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// reports returns the app's report entries of a run, oldest first.
func (e *env) reports(runID string) []store.ReportEntry {
	e.t.Helper()
	var out []store.ReportEntry
	cursor := ""
	for {
		es, next, err := e.st.QueryReports(e.ctx, store.ReportQuery{App: testApp, Cursor: cursor, Limit: 500})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, en := range es {
			if runID == "" || en.RunID == runID {
				out = append(out, en)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Reverse(out)
	return out
}

// byUser indexes report entries by user.
func byUser(es []store.ReportEntry) map[string]store.ReportEntry {
	m := map[string]store.ReportEntry{}
	for _, en := range es {
		m[en.User] = en
	}
	return m
}

func checkCounts(t *testing.T, got Result, want Result) {
	t.Helper()
	type counts struct{ Seen, Unchanged, Drifted, Linked, Imported, Missing, Conflicts, Failed, Requeued int }
	g := counts{got.Seen, got.Unchanged, got.Drifted, got.Linked, got.Imported, got.Missing, got.Conflicts, got.Failed, got.Requeued}
	w := counts{want.Seen, want.Unchanged, want.Drifted, want.Linked, want.Imported, want.Missing, want.Conflicts, want.Failed, want.Requeued}
	if g != w {
		t.Errorf("counts\n got %+v\nwant %+v", g, w)
	}
}

// seedUser is a simulator user with an externalId.
func seedUser(userName, email, externalID string) atlassiantest.User {
	return atlassiantest.User{UserName: userName, ExternalID: externalID, DisplayName: "Some One", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: email, Type: "work", Primary: true}}}
}

// faultyLister calls after with the number of accounts handed out so far,
// after each one (to inject faults between pages).
type faultyLister struct {
	Lister
	after func(n int)
}

func (f *faultyLister) ListUsers(ctx context.Context, fn func(map[string]any) error) error {
	n := 0
	return f.Lister.ListUsers(ctx, func(m map[string]any) error {
		if err := fn(m); err != nil {
			return err
		}
		n++
		f.after(n)
		return nil
	})
}

// remoteOf is the account as the app returns it.
func remoteOf(t *testing.T, e *env, id string) map[string]any {
	t.Helper()
	m, err := e.app.Users.GetUser(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
