package inbound

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// TestImportMainFlow: accounts the gateway never created are linked to
// the hub users they match (by userName, then email), imported when they
// match none, reported when the match is ambiguous or the hub user is
// linked elsewhere; the reconciler then converges the linked ones, and a
// second import finds everything as it left it.
func TestImportMainFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		var progress []Progress
		e := newEnv(t, open, func(_ *App, c *Config) {
			c.ProgressEvery = 2
			c.OnProgress = func(p Progress) { progress = append(progress, p) }
		})
		e.hubUser("u-alice", "alice@example.com", "alice@example.com", true)
		e.hubUser("u-bob", "bob@example.com", "bob@example.com", false) // no policy admits bob
		e.hubUser("u-dave", "dave@example.com", "dave@example.com", true)
		e.hubUser("u-erin1", "erin1@example.com", "shared@example.com", true)
		e.hubUser("u-erin2", "erin2@example.com", "shared@example.com", true)
		e.hubUser("u-frank", "frank@example.com", "frank@example.com", true)

		alice := e.seed("alice@example.com", "alice@example.com", "Alice Example")
		bob := e.seed("bob@example.com", "bob@example.com", "Bob Example")
		carol := e.seed("carol@example.com", "carol@example.com", "Carol Example")
		dave := e.seed("dave.old@example.com", "DAVE@example.com", "Dave Example") // matched by email, case-insensitively
		e.seed("erin@example.com", "shared@example.com", "Erin Example")           // two hub users hold the email
		e.seed("frank@example.com", "frank@example.com", "Frank Example")          // frank is linked elsewhere
		frankOld := e.seed("frank.old@example.com", "frank.old@example.com", "Frank Old")
		if err := e.st.PutLink(e.ctx, store.Link{App: testApp, Kind: store.KindUser, HubID: "u-frank", RemoteID: frankOld.ID, Status: "active"}); err != nil {
			t.Fatal(err)
		}

		res := e.importOnce(Options{})
		checkCounts(t, res, Result{Seen: 7, Unchanged: 1, Linked: 3, Imported: 1, Conflicts: 2, Requeued: 3})
		if res.Stopped || res.Error != "" || res.Deprovisions != 1 || res.Population != 7 {
			t.Errorf("result %+v: want not stopped, 1 deprovision (bob), population 7", res)
		}

		// Links: by userName, by email; each records the account as it is
		// (untrusted state: no AppliedHash) and its normalised hash.
		for hubID, acc := range map[string]string{"u-alice": alice.ID, "u-bob": bob.ID, "u-dave": dave.ID} {
			l := e.link(hubID)
			if l == nil || l.RemoteID != acc || l.Status != "active" || l.Hash == "" || l.AppliedHash != "" {
				t.Errorf("link of %s = %+v, want remote %s, active, a hash, no applied hash", hubID, l, acc)
			}
		}
		for _, hubID := range []string{"u-erin1", "u-erin2"} {
			if l := e.link(hubID); l != nil {
				t.Errorf("ambiguous email linked %s: %+v", hubID, l)
			}
		}
		if l := e.link("u-frank"); l == nil || l.RemoteID != frankOld.ID {
			t.Errorf("frank's link changed: %+v", l)
		}

		// carol: imported as a hub user of origin app:bitbucket, found by
		// the same indexes as an IdP user, and linked.
		c := e.userByName("CAROL@example.com")
		if c == nil {
			t.Fatal("carol was not imported")
		}
		if c.Origin != "app:bitbucket" {
			t.Errorf("origin %q", c.Origin)
		}
		var doc map[string]any
		if err := json.Unmarshal(c.Data, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["userName"] != "carol@example.com" || doc["displayName"] != "Carol Example" || doc["active"] != true {
			t.Errorf("imported doc %v", doc)
		}
		if _, ok := doc["externalId"]; ok {
			t.Errorf("imported doc has an externalId: %v", doc)
		}
		if n, _ := doc["name"].(map[string]any); n["givenName"] != "Carol" || n["familyName"] != "Example" {
			t.Errorf("imported name %v", doc["name"])
		}
		byEmail, err := e.st.LookupAll(e.ctx, store.KindUser, store.IndexEmail, "carol@example.com", 0)
		if err != nil || len(byEmail) != 1 || byEmail[0].ID != c.ID {
			t.Errorf("email index of the imported user: %v %v", byEmail, err)
		}
		if l := e.link(c.ID); l == nil || l.RemoteID != carol.ID {
			t.Errorf("imported user's link %+v", l)
		}

		// The linked IdP users are queued for the reconciler; the imported
		// one is not (no policy admits it: a reconcile would deprovision).
		if got := e.queued(); strings.Join(got, ",") != "user:u-alice,user:u-bob,user:u-dave" {
			t.Errorf("queued %v", got)
		}

		// Every decision is reported, under the run id.
		es := byUser(e.reports(res.RunID))
		for user, want := range map[string][2]string{
			"alice@example.com":    {store.OpLink, store.ReportSuccess},
			"bob@example.com":      {store.OpLink, store.ReportSuccess},
			"dave.old@example.com": {store.OpLink, store.ReportSuccess},
			"carol@example.com":    {store.OpImport, store.ReportSuccess},
			"erin@example.com":     {store.OpConflict, store.ReportFailure},
			"frank@example.com":    {store.OpConflict, store.ReportFailure},
		} {
			en, ok := es[user]
			if !ok || en.Operation != want[0] || en.Status != want[1] {
				t.Errorf("report of %s = %+v, want %v", user, en, want)
			}
		}
		if d := es["dave.old@example.com"].Detail; !strings.Contains(d, "by email") {
			t.Errorf("dave's link does not say how it matched: %q", d)
		}
		if d := es["bob@example.com"].Detail; !strings.Contains(d, "deactivate") {
			t.Errorf("bob's link does not say the reconciler will deactivate it: %q", d)
		}
		if d := es["erin@example.com"].Detail; !strings.Contains(d, "several hub users") {
			t.Errorf("erin's conflict: %q", d)
		}
		if d := es["frank@example.com"].Detail; !strings.Contains(d, "already linked to account "+frankOld.ID) {
			t.Errorf("frank's conflict: %q", d)
		}
		if len(e.reports(res.RunID)) != 6 {
			t.Errorf("%d report entries, want 6 (unchanged accounts are not reported)", len(e.reports(res.RunID)))
		}

		// Progress every 2 accounts, and at the end of the pass.
		var seen []int
		for _, p := range progress {
			if p.Phase == "survey" {
				seen = append(seen, p.Seen)
			}
		}
		if want := []int{2, 4, 6, 7}; !equalInts(seen, want) {
			t.Errorf("survey progress at %v, want %v", seen, want)
		}

		// The last result is kept for /admin/status.
		last, ok, err := ReadLast(e.ctx, e.st, testApp)
		if err != nil || !ok || last.RunID != res.RunID || last.Linked != 3 || last.Finished.IsZero() {
			t.Errorf("last result %+v %v %v", last, ok, err)
		}

		// The reconciler converges the linked accounts: alice's gets the
		// hub id as externalId, dave's its userName, bob's is deactivated.
		e.reconcile()
		if u, _ := e.sim.User(alice.ID); u.ExternalID != "u-alice" || !u.Active {
			t.Errorf("alice after reconcile: %+v", u)
		}
		if u, _ := e.sim.User(dave.ID); u.UserName != "dave@example.com" {
			t.Errorf("dave after reconcile: %+v", u)
		}
		if u, _ := e.sim.User(bob.ID); u.Active {
			t.Errorf("bob is still active after reconcile")
		}
		if u, _ := e.sim.User(carol.ID); !u.Active || u.ExternalID != "" {
			t.Errorf("carol's account was touched: %+v", u)
		}

		// Again: everything is as the reconciler left it. The accounts it
		// wrote hash the same when listed, and the normalisations of the
		// target are no drift.
		res2 := e.importOnce(Options{})
		checkCounts(t, res2, Result{Seen: 7, Unchanged: 5, Conflicts: 2})
		if n := len(e.users()); n != 7 {
			t.Errorf("%d hub users after two imports, want 7", n)
		}
		if n := e.queueLen(); n != 0 {
			t.Errorf("%d keys queued after the second import", n)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMatchOrder: the match order is configurable; an account whose
// externalId is a hub id is matched by MatchExternalID, and an import
// refused because a hub user the order does not consider holds the
// userName is a reported conflict, not a duplicate.
func TestMatchOrder(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, _ *Config) { a.Match = []string{MatchExternalID, MatchEmail} })
	e.hubUser("u-alice", "alice@example.com", "alice@example.com", true)
	e.hubUser("u-bob", "bob@example.com", "bob@example.com", true)
	acc, err := e.sim.Seed(seedUser("someone.else@example.com", "other@example.com", "u-alice"))
	if err != nil {
		t.Fatal(err)
	}
	bob := e.seed("bob@example.com", "bob.private@example.com", "Bob Example") // no email match; userName not in the order
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 2, Linked: 1, Conflicts: 1, Requeued: 1})
	if l := e.link("u-alice"); l == nil || l.RemoteID != acc.ID {
		t.Errorf("alice not linked by externalId: %+v", l)
	}
	es := byUser(e.reports(res.RunID))
	if en := es["bob@example.com"]; en.Operation != store.OpConflict || !strings.Contains(en.Detail, "held by hub user u-bob") {
		t.Errorf("bob's account: %+v", en)
	}
	if e.link("u-bob") != nil || len(e.users()) != 2 {
		t.Errorf("bob's account %s was linked or imported", bob.ID)
	}
}

// TestMatchByExternalIDNeverGuesses: externalId is not unique in the hub
// (Entra maps mailNickname to it). An account whose externalId is a hub id
// links to that user; one whose externalId one hub user holds links to
// it; one whose externalId several hub users hold links to none of them
// and is a reported conflict.
func TestMatchByExternalIDNeverGuesses(t *testing.T) {
	e := newEnv(t, openBolt, func(a *App, _ *Config) { a.Match = []string{MatchExternalID} })
	e.hubUserExt("u-j1", "j1@example.com", "j1@example.com", "jsmith", true)
	e.hubUserExt("u-j2", "j2@example.com", "j2@example.com", "jsmith", true)
	e.hubUserExt("u-solo", "solo@example.com", "solo@example.com", "solo-ext", true)
	e.hubUser("u-hub", "hub@example.com", "hub@example.com", true)
	shared, err := e.sim.Seed(seedUser("remote.j@example.com", "rj@example.com", "jsmith"))
	if err != nil {
		t.Fatal(err)
	}
	solo, err := e.sim.Seed(seedUser("remote.solo@example.com", "rs@example.com", "solo-ext"))
	if err != nil {
		t.Fatal(err)
	}
	byHubID, err := e.sim.Seed(seedUser("remote.hub@example.com", "rh@example.com", "u-hub"))
	if err != nil {
		t.Fatal(err)
	}
	res := e.importOnce(Options{})
	if l := e.link("u-solo"); l == nil || l.RemoteID != solo.ID {
		t.Errorf("the one holder of an externalId is not linked: %+v", l)
	}
	if l := e.link("u-hub"); l == nil || l.RemoteID != byHubID.ID {
		t.Errorf("the account naming a hub id is not linked to it: %+v", l)
	}
	if e.link("u-j1") != nil || e.link("u-j2") != nil {
		t.Errorf("an account with a shared externalId %s was linked to one of its holders", shared.ID)
	}
	es := byUser(e.reports(res.RunID))
	if en := es["remote.j@example.com"]; en.Operation != store.OpConflict || !strings.Contains(en.Detail, "several hub users") {
		t.Errorf("the ambiguous account's report: %+v", en)
	}
}

// TestImportResumes: an import that fails half-way (the app fails a page)
// changed only whole steps; running it again completes it without
// duplicates. A hub user imported by a run that died before linking it
// is linked, not imported twice.
func TestImportResumes(t *testing.T) {
	e := newEnv(t, openBolt, nil)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.seed(n+"@example.com", n+"@example.com", strings.ToUpper(n)+" Example")
	}
	// A run acting as it lists (forced), failing on the second page.
	e.im.apps[testApp].Users = &faultyLister{Lister: e.app.Users, after: func(n int) {
		if n == 2 {
			e.sim.FailNext(1, 500, 0)
		}
	}}
	_, err := e.im.RunOnce(e.ctx, testApp, Options{Force: true})
	var re *scimclient.RemoteError
	if !errors.As(err, &re) || re.Status != 500 {
		t.Fatalf("RunOnce: %v, want the app's 500", err)
	}
	if n := len(e.users()); n != 2 {
		t.Fatalf("%d users imported before the failure, want 2 (the first page)", n)
	}
	if last, _, _ := ReadLast(e.ctx, e.st, testApp); last.Error == "" {
		t.Errorf("the failed run's result has no error: %+v", last)
	}
	// A run that died between storing a hub user and linking it.
	e.im.apps[testApp].Users = e.app.Users
	c := e.userByName("c@example.com")
	if c != nil {
		t.Fatal("c imported before the failure")
	}
	cAcc, _ := e.sim.UserByUserName("c@example.com")
	doc, err := importDoc(remoteOf(t, e, cAcc.ID))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(doc)
	now := e.clock.Now()
	if _, err := e.st.Apply(e.ctx, store.Write{Put: &store.Resource{Kind: store.KindUser, ID: "u-c-leftover", Created: now, Modified: now,
		Origin: store.AppOrigin(testApp), Indexes: indexKeys(doc), Data: data}}); err != nil {
		t.Fatal(err)
	}

	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 5, Unchanged: 2, Linked: 1, Imported: 2})
	if l := e.link("u-c-leftover"); l == nil || l.RemoteID != cAcc.ID {
		t.Errorf("the leftover hub user is not linked: %+v", l)
	}
	if n := len(e.users()); n != 5 {
		t.Errorf("%d hub users, want 5", n)
	}
	if n := len(e.links()); n != 5 {
		t.Errorf("%d links, want 5", n)
	}
	if n := e.queueLen(); n != 0 {
		t.Errorf("imported users queued: %d", n)
	}
}
