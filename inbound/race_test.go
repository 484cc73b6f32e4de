package inbound

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// onceAfterSurvey runs fn once, when the survey has listed n accounts:
// between the decisions and the acts, like a reconciler or an IdP push
// writing while the import runs.
func onceAfterSurvey(e *env, n int, fn func()) {
	done := false
	e.im.apps[testApp].Users = &faultyLister{Lister: e.app.Users, after: func(i int) {
		if i == n && !done {
			done = true
			fn()
		}
	}}
}

// TestChangesDuringImport: what changed between the decision and the act
// is respected: an account linked meanwhile is not linked again, a hub
// user linked elsewhere meanwhile is a conflict (and the account it got
// linked to is not imported), an account whose
// userName an IdP push took meanwhile is linked to that user instead of
// imported, and a drift whose link the reconciler rewrote is not accepted.
func TestChangesDuringImport(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, _ *Config) { a.Drift = config.DriftAccept })
	e.hubUser("u-alice", "alice@example.com", "alice@example.com", true)
	e.hubUser("u-bob", "bob@example.com", "bob@example.com", true)
	e.hubUser("u-dave", "dave@example.com", "dave@example.com", true)
	if err := e.st.Enqueue(e.ctx, marks("u-dave")...); err != nil {
		t.Fatal(err)
	}
	e.reconcile()
	daveLink := e.link("u-dave")
	if _, err := e.sim.ModifyUser(daveLink.RemoteID, func(u *atlassiantest.User) { u.DisplayName = "D" }); err != nil {
		t.Fatal(err)
	}
	alice := e.seed("alice@example.com", "alice@example.com", "Alice Example")
	e.seed("bob@example.com", "bob@example.com", "Bob Example")
	e.seed("carol@example.com", "carol@example.com", "Carol Example")
	bobOther := e.seed("bob.other@example.com", "bob.other@example.com", "Bob Other")
	onceAfterSurvey(e, 5, func() {
		// The reconciler adopted alice's account, linked bob elsewhere and
		// rewrote dave's link; the IdP pushed carol.
		if err := e.st.PutLink(e.ctx, store.Link{App: testApp, Kind: store.KindUser, HubID: "u-alice", RemoteID: alice.ID, Status: "active"}); err != nil {
			t.Fatal(err)
		}
		if err := e.st.PutLink(e.ctx, store.Link{App: testApp, Kind: store.KindUser, HubID: "u-bob", RemoteID: bobOther.ID, Status: "active"}); err != nil {
			t.Fatal(err)
		}
		l := *daveLink
		l.AppliedAt = l.AppliedAt.Add(time.Second)
		if err := e.st.PutLink(e.ctx, l); err != nil {
			t.Fatal(err)
		}
		e.hubUser("u-carol", "carol@example.com", "carol@example.com", true)
	})
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 5, Unchanged: 2, Drifted: 1, Linked: 1, Conflicts: 1, Requeued: 1})
	if l := e.link("u-carol"); l == nil {
		t.Error("carol was not linked to the hub user the IdP pushed")
	}
	if n := len(e.users()); n != 4 {
		t.Errorf("%d hub users, want 4: carol imported although the IdP pushed her, or bob's other account although linked", n)
	}
	if l := e.link("u-bob"); l == nil || l.RemoteID != bobOther.ID {
		t.Errorf("bob's link %+v", l)
	}
	es := byUser(e.reports(res.RunID))
	if en := es["bob@example.com"]; en.Operation != store.OpConflict || !strings.Contains(en.Detail, "during the import") {
		t.Errorf("bob: %+v", en)
	}
	if en := es["dave@example.com"]; en.Status != store.ReportSkipped || !strings.Contains(en.Detail, "link changed") {
		t.Errorf("dave: %+v", en)
	}
	if l := e.link("u-dave"); l.Hash != daveLink.Hash {
		t.Errorf("dave's drift was accepted over the reconciler's link")
	}
	if _, ok := es["alice@example.com"]; ok {
		t.Errorf("alice, linked meanwhile, was reported: %+v", es["alice@example.com"])
	}
	if got := strings.Join(e.queued(), ","); got != "user:u-carol" {
		t.Errorf("queued %s", got)
	}
}

// TestManyChangesListTwice: a survey with more decisions than it keeps
// lists the app again to act, with the same outcome.
func TestManyChangesListTwice(t *testing.T) {
	e := newEnv(t, openBolt, func(_ *App, c *Config) { c.MaxBuffered = 2 })
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.seed(n+"@example.com", n+"@example.com", "Some One")
	}
	lists := 0
	e.im.apps[testApp].Users = &faultyLister{Lister: e.app.Users, after: func(i int) {
		if i == 1 {
			lists++
		}
	}}
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 5, Imported: 5})
	if lists != 2 {
		t.Errorf("listed %d times, want 2", lists)
	}
	if n := len(e.links()); n != 5 {
		t.Errorf("%d links", n)
	}
	lists = 0
	res = e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 5, Unchanged: 5})
	if lists != 1 {
		t.Errorf("nothing to do, listed %d times, want 1", lists)
	}
}

// TestRunScheduleWhileLocked: a scheduled import finding the app locked
// (another replica imports it) tries again after the lock's lease, not
// in a loop.
func TestRunScheduleWhileLocked(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, c *Config) { a.Interval, c.LockTTL = time.Hour, time.Minute })
	held, err := e.st.AcquireLock(e.ctx, store.ImportLock(testApp), "replica-2", e.clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- e.im.Run(ctx) }()
	e.clock.waitFor(t, "a retry after the lock's lease", func(now time.Time, s []time.Time) bool {
		return slices.Contains(s, now.Add(time.Minute))
	})
	if _, ok, _ := ReadLast(e.ctx, e.st, testApp); ok {
		t.Fatal("an import ran while the app was locked")
	}
	if err := e.st.ReleaseLock(e.ctx, held); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.clock.waitFor(t, "the next scheduled import", func(now time.Time, s []time.Time) bool {
		return slices.Contains(s, now.Add(time.Hour))
	})
	if _, ok, _ := ReadLast(e.ctx, e.st, testApp); !ok {
		t.Fatal("no import after the lock was released")
	}
	cancel()
	<-stopped
}

// TestProgressByTime: progress is also reported every ProgressInterval,
// with the rate.
func TestProgressByTime(t *testing.T) {
	var got []Progress
	e := newEnv(t, openBolt, func(_ *App, c *Config) {
		c.ProgressEvery, c.ProgressInterval = 1000, time.Second
		c.OnProgress = func(p Progress) { got = append(got, p) }
	})
	for _, n := range []string{"a", "b", "c"} {
		e.seed(n+"@example.com", n+"@example.com", "Some One")
	}
	e.im.apps[testApp].Users = &faultyLister{Lister: e.app.Users, after: func(i int) {
		if i == 1 {
			e.clock.Advance(2 * time.Second)
		}
	}}
	e.importOnce(Options{DryRun: true})
	// After the second account (2s after the start), and at the end.
	if len(got) != 2 || got[0].Seen != 2 || got[0].Rate != 1 || got[1].Seen != 3 || got[1].Phase != "dry-run" {
		t.Errorf("progress %+v", got)
	}
}
