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
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// blockingLister blocks every listing until released (or its context
// ends), telling the test when it is inside.
type blockingLister struct {
	Lister
	entered chan struct{}
	release chan struct{}
}

func newBlockingLister(l Lister) *blockingLister {
	return &blockingLister{Lister: l, entered: make(chan struct{}, 10), release: make(chan struct{})}
}

func (b *blockingLister) ListUsers(ctx context.Context, fn func(map[string]any) error) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Lister.ListUsers(ctx, fn)
}

func waitEntered(t *testing.T, b *blockingLister) {
	t.Helper()
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the import never listed")
	}
}

// TestLockOneImportPerApp: while an import of an app runs, another (of
// this or another replica: another Importer on the same store) is
// refused with store.ErrLocked; once it is done, the next one runs.
func TestLockOneImportPerApp(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		e := newEnv(t, open, nil)
		e.seed("carol@example.com", "carol@example.com", "Carol Example")
		bl := newBlockingLister(e.app.Users)
		e.im.apps[testApp].Users = bl
		other, err := New(Config{Store: e.st, Source: e.src, Clock: e.clock, Owner: "replica-2",
			Apps: []App{{Name: testApp, Users: e.app.Users, Safeguard: e.app.Safeguard}}})
		if err != nil {
			t.Fatal(err)
		}

		type outcome struct {
			res Result
			err error
		}
		first := make(chan outcome, 1)
		go func() {
			res, err := e.im.RunOnce(e.ctx, testApp, Options{})
			first <- outcome{res, err}
		}()
		waitEntered(t, bl)
		for _, im := range []*Importer{e.im, other} {
			if _, err := im.RunOnce(e.ctx, testApp, Options{}); !errors.Is(err, store.ErrLocked) {
				t.Errorf("a concurrent import: %v, want ErrLocked", err)
			}
		}
		close(bl.release)
		o := <-first
		if o.err != nil || o.res.Imported != 1 || o.res.LockToken == 0 {
			t.Fatalf("first import: %+v %v", o.res, o.err)
		}
		res, err := other.RunOnce(e.ctx, testApp, Options{})
		if err != nil || res.Unchanged != 1 {
			t.Fatalf("import after the first one: %+v %v", res, err)
		}
		if res.LockToken <= o.res.LockToken {
			t.Errorf("fencing token %d after %d: want it to increase", res.LockToken, o.res.LockToken)
		}
		if n := len(e.users()); n != 1 {
			t.Errorf("%d hub users, want 1", n)
		}
	})
}

// TestLockLost: a run whose lock lease ran out before a renewal (the
// renewal comes back with a new fencing token) stops with ErrLockLost.
func TestLockLost(t *testing.T) {
	e := newEnv(t, openBolt, func(_ *App, c *Config) { c.LockTTL = 30 * time.Second })
	bl := newBlockingLister(e.app.Users)
	e.im.apps[testApp].Users = bl
	done := make(chan error, 1)
	go func() {
		_, err := e.im.RunOnce(e.ctx, testApp, Options{})
		done <- err
	}()
	waitEntered(t, bl)
	e.clock.waitFor(t, "the lock renewer", func(now time.Time, s []time.Time) bool {
		return slices.Contains(s, now.Add(10*time.Second))
	})
	e.clock.Advance(31 * time.Second) // the lease ended before the renewal
	select {
	case err := <-done:
		if !errors.Is(err, ErrLockLost) {
			t.Fatalf("RunOnce: %v, want ErrLockLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run went on without its lock")
	}
	if last, _, _ := ReadLast(e.ctx, e.st, testApp); last.Error == "" {
		t.Errorf("the last result does not record the failure: %+v", last)
	}
}

// TestLockRenewed: a run longer than the lock's lease keeps it: the
// renewals extend it with the same fencing token.
func TestLockRenewed(t *testing.T) {
	e := newEnv(t, openBolt, func(_ *App, c *Config) { c.LockTTL = 30 * time.Second })
	e.seed("carol@example.com", "carol@example.com", "Carol Example")
	bl := newBlockingLister(e.app.Users)
	e.im.apps[testApp].Users = bl
	done := make(chan error, 1)
	go func() {
		_, err := e.im.RunOnce(e.ctx, testApp, Options{})
		done <- err
	}()
	waitEntered(t, bl)
	for range 6 { // a minute: twice the lease
		e.clock.waitFor(t, "the lock renewer", func(now time.Time, s []time.Time) bool {
			return slices.Contains(s, now.Add(10*time.Second))
		})
		e.clock.Advance(10 * time.Second)
	}
	if _, err := e.st.AcquireLock(e.ctx, store.ImportLock(testApp), "intruder", e.clock.Now(), time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Errorf("the lock was free during the run: %v", err)
	}
	close(bl.release)
	if err := <-done; err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

// TestRunSchedule: Run imports each app with an interval on its schedule,
// taken from the last result in the store.
func TestRunSchedule(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, _ *Config) { a.Interval = time.Hour })
	e.seed("carol@example.com", "carol@example.com", "Carol Example")
	ctx, cancel := context.WithCancel(e.ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- e.im.Run(ctx) }()

	waitNext := func() Result {
		t.Helper()
		e.clock.waitFor(t, "the next scheduled import", func(now time.Time, s []time.Time) bool {
			return slices.Contains(s, now.Add(time.Hour))
		})
		last, ok, err := ReadLast(e.ctx, e.st, testApp)
		if err != nil || !ok {
			t.Fatalf("no last result: %v", err)
		}
		return last
	}
	first := waitNext() // never imported: at once
	if first.Imported != 1 {
		t.Fatalf("first scheduled import %+v", first)
	}
	e.clock.Advance(time.Hour)
	second := waitNext()
	if second.RunID == first.RunID || second.Unchanged != 1 || !second.Started.Equal(first.Finished.Add(time.Hour)) {
		t.Fatalf("second scheduled import %+v after %+v", second, first)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestIdPClaimsImportedUser pins the contract the gateway relies on to
// let an IdP push claim an imported user (see the report's gateway patch):
// the imported user is found by its userName, can be replaced in place
// (same id, compare-and-set on its version, Origin "idp", the IdP's
// attributes and index keys), keeps its link, and the reconciler then
// takes the account over as the IdP user's.
func TestIdPClaimsImportedUser(t *testing.T) {
	e := newEnv(t, openBolt, nil)
	acc := e.seed("carol@example.com", "carol@example.com", "Carol Example")
	e.importOnce(Options{})
	cur := e.userByName("Carol@Example.com")
	if cur == nil || cur.Origin != store.AppOrigin(testApp) {
		t.Fatalf("imported user %+v", cur)
	}

	// The IdP POSTs carol: the gateway's create conflicts on userName, finds
	// an "app:" origin and takes the user over.
	idp, err := scim.Normalize(map[string]any{
		"schemas": []any{scim.SchemaUser}, "userName": "carol@example.com", "externalId": "okta-00u1",
		"name":   map[string]any{"givenName": "Carol", "familyName": "Danvers"},
		"emails": []any{map[string]any{"value": "carol@example.com", "type": "work", "primary": true}},
	}, scim.UserResourceType)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(idp)
	w := store.Write{Put: &store.Resource{Kind: store.KindUser, ID: cur.ID, Created: cur.Created, Modified: e.clock.Now(), Origin: "idp",
		Indexes: indexKeys(idp), Data: data}, ExpectVersion: cur.Version, Marks: marks(cur.ID)}
	if _, err := e.st.Apply(e.ctx, w); err != nil {
		t.Fatalf("take over: %v", err)
	}
	if _, err := e.st.Apply(e.ctx, store.Write{Group: engGroup, AddMembers: []string{cur.ID}}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.st.Lookup(e.ctx, store.KindUser, store.IndexExternalID, "okta-00u1"); err != nil || r.ID != cur.ID || r.Origin != "idp" {
		t.Fatalf("claimed user by externalId: %+v %v", r, err)
	}
	if l := e.link(cur.ID); l == nil || l.RemoteID != acc.ID {
		t.Fatalf("the link did not survive the claim: %+v", l)
	}
	e.reconcile()
	u, _ := e.sim.User(acc.ID)
	if u.ExternalID != cur.ID || u.DisplayName != "Carol Danvers" || !u.Active {
		t.Errorf("the account after the claim's reconcile: %+v", u)
	}
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 1, Unchanged: 1})
	if n := len(e.users()); n != 1 {
		t.Errorf("%d hub users", n)
	}
}

// TestLimitSharesTheAppBucket: the importer's rate limiter takes from the
// app's bucket in the store, the reconcilers' one, and waits on the clock.
func TestLimitSharesTheAppBucket(t *testing.T) {
	st := openBolt(t)
	clock := newFakeClock()
	wait := Limit(st, testApp, 1, 1, clock)
	ctx := context.Background()
	if err := wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := st.TakeToken(ctx, store.AppBucket(testApp), 1, 1, clock.Now()); err != nil || d <= 0 {
		t.Fatalf("the app's bucket still has a token (%v, %v): the limiter took from another", d, err)
	}
	done := make(chan error, 1)
	go func() { done <- wait(ctx) }()
	clock.waitFor(t, "the limiter to wait", func(_ time.Time, s []time.Time) bool { return len(s) == 1 })
	select {
	case err := <-done:
		t.Fatalf("the limiter did not wait: %v", err)
	default:
	}
	clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if Limit(st, testApp, 0, 0, clock) != nil {
		t.Error("rate 0 is unlimited: want no wait function")
	}
}

func TestNewChecksEverything(t *testing.T) {
	_, err := New(Config{Apps: []App{{Name: "a b", Drift: "ignore", Match: []string{"phone"}, Interval: -1}, {Name: "x", Users: &blockingLister{}}, {Name: "x", Users: &blockingLister{}}}})
	if err == nil {
		t.Fatal("New accepted a broken config")
	}
	for _, s := range []string{"a store is required", "a source is required", `name "a b"`, "lister", `drift "ignore"`, `match "phone"`, "interval", `"x" is used twice`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q: %v", s, err)
		}
	}
	im, err := New(Config{Store: openBolt(t), Source: &policySource{}, Apps: []App{{Name: "bb", Users: &blockingLister{}}}})
	if err != nil {
		t.Fatal(err)
	}
	if a := im.apps["bb"]; a.Drift != config.DriftReport || !slices.Equal(a.Match, DefaultMatch) {
		t.Errorf("defaults %+v", a)
	}
	if _, err := im.RunOnce(context.Background(), "nope", Options{}); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("unknown app: %v", err)
	}
}
