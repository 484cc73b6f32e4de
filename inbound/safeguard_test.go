package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// hidingLister leaves one account out of the listing, as paging over a
// changing directory can.
type hidingLister struct {
	Lister
	hide string
}

func (h *hidingLister) ListUsers(ctx context.Context, fn func(map[string]any) error) error {
	return h.Lister.ListUsers(ctx, func(m map[string]any) error {
		if m["id"] == h.hide {
			return nil
		}
		return fn(m)
	})
}

// TestMissingRemotely: a linked account gone from the app is reported and
// its link dropped; a user still desired is queued, and the reconciler
// creates the account again; an imported one is not. An account the
// listing skipped but a GET finds is not missing.
func TestMissingRemotely(t *testing.T) {
	e := newEnv(t, openBolt, nil)
	e.hubUser("u-alice", "alice@example.com", "alice@example.com", true)
	e.hubUser("u-bob", "bob@example.com", "bob@example.com", true)
	if err := e.st.Enqueue(e.ctx, marks("u-alice", "u-bob")...); err != nil {
		t.Fatal(err)
	}
	e.reconcile()
	carol := e.seed("carol@example.com", "carol@example.com", "Carol Example")
	if res := e.importOnce(Options{}); res.Imported != 1 {
		t.Fatalf("carol not imported: %+v", res)
	}
	carolHub := e.userByName("carol@example.com")
	alice := e.link("u-alice")
	e.sim.DeleteUser(alice.RemoteID)
	e.sim.DeleteUser(carol.ID)
	bob := e.link("u-bob")
	e.im.apps[testApp].Users = &hidingLister{Lister: e.app.Users, hide: bob.RemoteID}

	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 1, Unchanged: 1, Missing: 2, Requeued: 1})
	if e.link("u-alice") != nil || e.link(carolHub.ID) != nil {
		t.Errorf("links of gone accounts kept")
	}
	if l := e.link("u-bob"); !sameLink(l, bob) {
		t.Errorf("bob (skipped by the listing) was touched: %+v", l)
	}
	if got := strings.Join(e.queued(), ","); got != "user:u-alice" {
		t.Errorf("queued %s", got)
	}
	es := byUser(e.reports(res.RunID))
	if en := es["alice@example.com"]; en.Operation != store.OpMissing || en.Status != store.ReportSuccess || !strings.Contains(en.Detail, "creates it again") {
		t.Errorf("alice's entry %+v", en)
	}
	if en := es["carol@example.com"]; en.Operation != store.OpMissing || !strings.Contains(en.Detail, "nothing is re-created") {
		t.Errorf("carol's entry %+v", en)
	}
	if e.userByName("carol@example.com") == nil {
		t.Errorf("the imported hub user was deleted")
	}

	e.reconcile()
	l := e.link("u-alice")
	if l == nil || l.RemoteID == alice.RemoteID {
		t.Fatalf("alice's account was not created again: %+v", l)
	}
	if u, ok := e.sim.User(l.RemoteID); !ok || u.UserName != "alice@example.com" {
		t.Errorf("alice's new account %+v", u)
	}
}

// safeguardEnv provisions n users through the reconciler, in an app whose
// safeguard is 10% of at least 5 accounts.
func safeguardEnv(t *testing.T, n int) *env {
	t.Helper()
	e := newEnv(t, openBolt, func(a *App, _ *Config) {
		a.Safeguard = config.Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 5}
	})
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u-%02d", i)
		e.hubUser(id, fmt.Sprintf("user%02d@example.com", i), fmt.Sprintf("user%02d@example.com", i), true)
		ids = append(ids, id)
	}
	if err := e.st.Enqueue(e.ctx, marks(ids...)...); err != nil {
		t.Fatal(err)
	}
	e.reconcile()
	return e
}

// TestSafeguard: a run that would unlink or deprovision more than the
// app's threshold (accounts gone, accounts deactivated in the app) stops
// before changing anything, reports one safeguard entry and its counts,
// and goes through with Force.
func TestSafeguard(t *testing.T) {
	e := safeguardEnv(t, 10)
	gone := []*store.Link{e.link("u-00"), e.link("u-01")}
	for _, l := range gone {
		e.sim.DeleteUser(l.RemoteID)
	}
	if _, err := e.sim.ModifyUser(e.link("u-02").RemoteID, func(u *atlassiantest.User) { u.Active = false }); err != nil {
		t.Fatal(err)
	}
	linksBefore := e.links()

	res := e.importOnce(Options{})
	if !res.Stopped || res.Deprovisions != 3 || res.Population != 10 {
		t.Fatalf("result %+v: want stopped with 3 deprovisions of 10", res)
	}
	checkCounts(t, res, Result{Seen: 8, Unchanged: 7, Drifted: 1, Missing: 2, Requeued: 2})
	if got := e.links(); !reflect.DeepEqual(got, linksBefore) {
		t.Errorf("links changed by a stopped run")
	}
	if n := e.queueLen(); n != 0 {
		t.Errorf("a stopped run queued %d keys", n)
	}
	es := e.reports(res.RunID)
	if len(es) != 1 || es[0].Operation != store.OpSafeguard || es[0].Status != store.ReportFailure {
		t.Fatalf("a stopped run reported %+v, want one safeguard entry", es)
	}
	for _, s := range []string{"3 unlinks or deprovisions", "2 missing remotely", "1 drifted to inactive", "10%", "user00@example.com", "force"} {
		if !strings.Contains(es[0].Detail, s) {
			t.Errorf("safeguard detail %q does not say %q", es[0].Detail, s)
		}
	}
	if last, _, _ := ReadLast(e.ctx, e.st, testApp); !last.Stopped {
		t.Errorf("the last result does not say the run stopped: %+v", last)
	}

	res = e.importOnce(Options{Force: true})
	if res.Stopped {
		t.Fatalf("forced run stopped: %+v", res)
	}
	checkCounts(t, res, Result{Seen: 8, Unchanged: 7, Drifted: 1, Missing: 2, Requeued: 2})
	if e.link("u-00") != nil || e.link("u-01") != nil {
		t.Errorf("the forced run kept the links of gone accounts")
	}
	if got := strings.Join(e.queued(), ","); got != "user:u-00,user:u-01" {
		t.Errorf("queued %s", got)
	}
	ops := map[string]string{}
	for _, en := range e.reports(res.RunID) {
		ops[en.Operation] = en.Status
	}
	if ops[store.OpSafeguard] != store.ReportSuccess || ops[store.OpMissing] != store.ReportSuccess || ops[store.OpDrift] != store.ReportSkipped {
		t.Errorf("forced run reported %v", ops)
	}
}

// TestSafeguardLinksThatDeprovision: linking existing accounts to hub
// users no policy admits would have the reconciler deactivate them: a
// first import that would do that to many stops too.
func TestSafeguardLinksThatDeprovision(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, _ *Config) {
		a.Safeguard = config.Safeguard{MaxDeprovisionPercent: 10, MinPopulation: 5}
	})
	for i := range 6 {
		name := fmt.Sprintf("user%02d@example.com", i)
		e.hubUser(fmt.Sprintf("u-%02d", i), name, name, i == 0) // only u-00 is admitted
		e.seed(name, name, "Some One")
	}
	res := e.importOnce(Options{})
	if !res.Stopped || res.Deprovisions != 5 || res.Linked != 6 {
		t.Fatalf("result %+v: want stopped, 6 links of which 5 deprovision", res)
	}
	if n := len(e.links()); n != 0 {
		t.Errorf("a stopped run linked %d accounts", n)
	}
	res = e.importOnce(Options{Force: true})
	if res.Stopped || len(e.links()) != 6 || e.queueLen() != 6 {
		t.Errorf("forced: %+v, %d links, %d queued", res, len(e.links()), e.queueLen())
	}
}

// TestDryRunChangesNothing: a dry run decides as a run would, reports
// every decision marked dry-run, and leaves users, links, the queue and
// the last result alone.
func TestDryRunChangesNothing(t *testing.T) {
	e := safeguardEnv(t, 6)
	e.im.apps[testApp].Drift = config.DriftRepush
	e.sim.DeleteUser(e.link("u-00").RemoteID)                                                                                 // missing
	if _, err := e.sim.ModifyUser(e.link("u-01").RemoteID, func(u *atlassiantest.User) { u.DisplayName = "X" }); err != nil { // drift
		t.Fatal(err)
	}
	e.hubUser("u-linkme", "linkme@example.com", "linkme@example.com", true)
	e.seed("linkme@example.com", "linkme@example.com", "Link Me")        // link
	e.seed("stranger@example.com", "stranger@example.com", "A Stranger") // import
	e.hubUser("u-s1", "s1@example.com", "same@example.com", true)
	e.hubUser("u-s2", "s2@example.com", "same@example.com", true)
	e.seed("same@example.com", "same@example.com", "Same") // conflict

	snapshot := func() string {
		var b strings.Builder
		for _, u := range e.users() {
			fmt.Fprintf(&b, "%s/%d/%s;", u.ID, u.Version, u.Origin)
		}
		ls, _ := json.Marshal(e.links())
		b.Write(ls)
		fmt.Fprintf(&b, ";queue=%d", e.queueLen())
		_, err := e.st.GetState(e.ctx, store.LastImportKey(testApp))
		fmt.Fprintf(&b, ";last=%v", err)
		return b.String()
	}
	before := snapshot()
	dry := e.importOnce(Options{DryRun: true})
	if after := snapshot(); after != before {
		t.Errorf("the dry run changed the store:\nbefore %s\nafter  %s", before, after)
	}
	want := Result{Seen: 8, Unchanged: 4, Drifted: 1, Linked: 1, Imported: 1, Missing: 1, Conflicts: 1, Requeued: 3}
	checkCounts(t, dry, want)
	if !dry.Stopped {
		t.Errorf("the dry run does not say a real run would stop (1 missing of 8 > 10%%): %+v", dry)
	}
	es := e.reports(dry.RunID)
	ops := map[string]bool{}
	for _, en := range es {
		ops[en.Operation] = true
		if en.Status != store.ReportSkipped || !strings.HasPrefix(en.Detail, "dry-run: ") {
			t.Errorf("dry-run entry not marked: %+v", en)
		}
	}
	for _, op := range []string{store.OpDrift, store.OpLink, store.OpImport, store.OpMissing, store.OpConflict, store.OpSafeguard} {
		if !ops[op] {
			t.Errorf("the dry run did not report a %s", op)
		}
	}
	// Forced, a dry run says the real run would go past the safeguard.
	forced := e.importOnce(Options{DryRun: true, Force: true})
	if forced.Stopped {
		t.Errorf("a forced dry run says the run would stop: %+v", forced)
	}
	if es := e.reports(forced.RunID); len(es) == 0 || es[len(es)-1].Operation != store.OpSafeguard || !strings.Contains(es[len(es)-1].Detail, "forced run would go past") {
		t.Errorf("forced dry run's safeguard entry: %+v", es)
	}
	if after := snapshot(); after != before {
		t.Errorf("the forced dry run changed the store")
	}
	// The real run does what the dry run said.
	real := e.importOnce(Options{Force: true})
	checkCounts(t, real, want)
}
