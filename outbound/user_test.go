package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

const alice = "alice@example.com"

// TestMappedExternalIDIsNeverMatchedOn: when a mapping sends the IdP's
// externalId (not unique: Entra's mailNickname) instead of the hub id, the
// searches around a create are by userName, so another user's account
// holding the same externalId is never adopted. Atlassian refuses a second
// account with one externalId (409): that is a parked conflict, reported,
// and the other account is left alone.
func TestMappedExternalIDIsNeverMatchedOn(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	other, err := h.sim.Seed(atlassiantest.User{UserName: "j.smith.other@example.com", ExternalID: "jsmith", DisplayName: "Other", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: "other@example.com", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	d := person("h1", alice, "Alice Smith")
	d.Attributes["externalId"] = "jsmith"
	h.src.set("h1", d)
	h.sync("h1")
	for _, r := range h.rec.All() {
		if r.Method == "GET" && strings.Contains(r.Query, "externalId") {
			t.Errorf("searched by a mapped externalId: %s", r.Query)
		}
	}
	l := h.link("h1")
	if l == nil || l.RemoteID == other.ID || l.Status != store.LinkParked {
		t.Fatalf("link = %+v: want a parked conflict, never the other user's account %s", l, other.ID)
	}
	if e := h.lastReport(); e.Operation != store.OpConflict {
		t.Errorf("report = %+v, want a conflict", e)
	}
	if u, _ := h.sim.User(other.ID); u.UserName != "j.smith.other@example.com" || u.DisplayName != "Other" {
		t.Errorf("the other user's account changed: %+v", u)
	}
}

func TestCreateThenNoCallWhenUnchanged(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		reqs := h.rec.All()
		// A taken userName would make the POST a 409: only the externalId,
		// which Atlassian does not promise to keep unique, is searched first.
		if got := methods(reqs); !slices.Equal(got, []string{"GET", "POST"}) {
			t.Fatalf("calls = %v, want a search by externalId, then POST", got)
		}
		if q := reqs[0].Query; !strings.Contains(q, "externalId+eq+%22h1%22") {
			t.Errorf("search query = %s", q)
		}
		u := h.simUser(alice)
		if u.ExternalID != "h1" || u.DisplayName != "Alice Smith" || u.Title != "Engineer" || !u.Active || u.Name.GivenName != "Alice" {
			t.Errorf("remote user = %+v", u)
		}
		l := h.link("h1")
		if l.RemoteID != u.ID || l.Status != store.LinkActive || l.AppliedHash == "" || l.Hash == "" || !l.AppliedAt.Equal(t0) {
			t.Errorf("link = %+v", l)
		}
		e := h.lastReport()
		if e.Operation != store.OpCreate || e.Status != store.ReportSuccess || e.User != alice || e.ResourceID != "h1" || e.Attempt != 1 || e.App != testApp || e.HTTPStatus != 201 {
			t.Errorf("report = %+v", e)
		}
		h.idle()
		if n := h.queueLen(); n != 0 {
			t.Errorf("queue length = %d", n)
		}

		// Marked again with nothing changed: no remote call at all.
		n := h.rec.Count()
		h.sync("h1")
		if extra := h.rec.Since(n); len(extra) != 0 {
			t.Errorf("unchanged user made calls %v", methods(extra))
		}
	})
}

func TestUpdatePatchesOnlyChangedAttributes(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		h.src.update("h1", func(d *Desired) {
			d.Attributes["displayName"] = "Alice Jones"
			delete(d.Attributes, "title")
		})
		h.clk.Advance(time.Minute)
		n := h.rec.Count()
		h.sync("h1")
		reqs := h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "PATCH" {
			t.Fatalf("calls = %v, want one PATCH", methods(reqs))
		}
		ops := patchOpsOf(t, reqs[0])
		want := []map[string]any{
			{"op": "replace", "path": "displayName", "value": "Alice Jones"},
			{"op": "remove", "path": "title"},
		}
		if fmt.Sprint(ops) != fmt.Sprint(want) {
			t.Errorf("ops = %v, want %v", ops, want)
		}
		u := h.simUser(alice)
		if u.DisplayName != "Alice Jones" || u.Title != "" {
			t.Errorf("remote user = %+v", u)
		}
		e := h.lastReport()
		if e.Operation != store.OpUpdate || e.Status != store.ReportSuccess || e.HTTPStatus != 200 || len(e.Changes) != 2 ||
			e.Changes[0].Attr != "displayName" || e.Changes[0].Old != "Alice Smith" || e.Changes[0].New != "Alice Jones" ||
			e.Changes[1].Attr != "title" || e.Changes[1].Old != "Engineer" || e.Changes[1].New != nil {
			t.Errorf("report = %+v", e)
		}
		if l := h.link("h1"); !l.AppliedAt.Equal(t0.Add(time.Minute)) || l.Status != store.LinkActive {
			t.Errorf("link = %+v", l)
		}
	})
}

func TestAdoptsExistingAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		seeded, err := h.sim.Seed(atlassiantest.User{UserName: alice, DisplayName: "A. Smith", Active: true,
			Emails: []atlassiantest.MultiValue{{Value: alice, Type: "work", Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		// The account has no externalId: the search by externalId misses,
		// the POST is refused for the userName, and the account found by
		// userName is adopted.
		reqs := h.rec.All()
		if got := methods(reqs); !slices.Equal(got, []string{"GET", "POST", "GET", "PATCH"}) {
			t.Fatalf("calls = %v, want a search, a refused POST, a search by userName, then one PATCH", got)
		}
		if users, _ := h.sim.Counts(); users != 1 {
			t.Errorf("simulator has %d users: an account was created although one existed", users)
		}
		if l := h.link("h1"); l.RemoteID != seeded.ID || l.Status != store.LinkActive {
			t.Errorf("link = %+v, want remote id %s", l, seeded.ID)
		}
		u := h.simUser(alice)
		if u.ID != seeded.ID || u.ExternalID != "h1" || u.DisplayName != "Alice Smith" || u.Title != "Engineer" {
			t.Errorf("remote user = %+v", u)
		}
		e := h.lastReport()
		if e.Operation != store.OpAdopt || e.Status != store.ReportSuccess || !strings.Contains(e.Detail, seeded.ID) {
			t.Errorf("report = %+v", e)
		}
		changed := map[string]bool{}
		for _, c := range e.Changes {
			changed[c.Attr] = true
		}
		if !changed["externalId"] || !changed["displayName"] || !changed["title"] || changed["userName"] || changed["emails"] {
			t.Errorf("adopt changes = %+v", e.Changes)
		}
		// Converged: nothing more to do.
		n := h.rec.Count()
		h.sync("h1")
		if h.rec.Count() != n {
			t.Error("adopted user is updated again")
		}
	})
}

// TestAdoptsAccountByExternalID: an account that already carries the
// user's externalId (a create whose link was lost, a rename since) is
// found by the one search before a create, and adopted without a POST.
func TestAdoptsAccountByExternalID(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	seeded, err := h.sim.Seed(atlassiantest.User{UserName: "alice.old@example.com", ExternalID: "h1", DisplayName: "Alice Smith", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: "alice.old@example.com", Type: "work", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET", "PATCH"}) {
		t.Fatalf("calls = %v, want a search then one PATCH", got)
	}
	if l := h.link("h1"); l.RemoteID != seeded.ID || l.Status != store.LinkActive {
		t.Errorf("link = %+v, want remote id %s", l, seeded.ID)
	}
	if u := h.simUser(alice); u.ID != seeded.ID {
		t.Errorf("the account was not renamed: %+v", u)
	}
}

func TestConflictWithSomeoneElsesAccountIsParked(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		other, err := h.sim.Seed(atlassiantest.User{UserName: alice, ExternalID: "someone-else", Active: true,
			Emails: []atlassiantest.MultiValue{{Value: alice, Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET", "POST", "GET", "GET"}) {
			t.Fatalf("calls = %v, want a search, a refused POST, then both searches", got)
		}
		if users, _ := h.sim.Counts(); users != 1 {
			t.Errorf("simulator has %d users, want only the other account", users)
		}
		e := h.lastReport()
		if e.Operation != store.OpConflict || e.Status != store.ReportFailure || !strings.Contains(e.Detail, "someone-else") || !strings.Contains(e.Detail, other.ID) {
			t.Errorf("report = %+v", e)
		}
		l := h.link("h1")
		if l.Status != store.LinkParked || l.RemoteID != "" || !strings.Contains(l.Error, "someone-else") {
			t.Errorf("link = %+v", l)
		}
		if n := h.queueLen(); n != 0 {
			t.Errorf("a parked key stays queued (%d)", n)
		}
		if u := h.simUser(alice); u.ExternalID != "someone-else" || u.DisplayName != "" {
			t.Errorf("someone else's account was changed: %+v", u)
		}

		// The other account goes away; the next change of the hub user
		// marks the key again, and it is created.
		h.sim.DeleteUser(other.ID)
		h.sync("h1")
		if l := h.link("h1"); l.Status != store.LinkActive || l.RemoteID == "" || l.Error != "" {
			t.Errorf("link after the conflict is gone = %+v", l)
		}
	})
}

func TestDeactivateThenReactivate(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")
		id := h.link("h1").RemoteID

		h.src.remove("h1")
		n := h.rec.Count()
		h.sync("h1")
		reqs := h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "PATCH" || !strings.HasSuffix(reqs[0].Path, "/Users/"+id) {
			t.Fatalf("calls = %v, want one PATCH of the account", methods(reqs))
		}
		if ops := patchOpsOf(t, reqs[0]); fmt.Sprint(ops) != fmt.Sprint([]map[string]any{{"op": "replace", "path": "active", "value": false}}) {
			t.Errorf("ops = %v", ops)
		}
		if u := h.simUser(alice); u.Active {
			t.Error("remote user still active")
		}
		if l := h.link("h1"); l.Status != store.LinkDeactivated || l.RemoteID != id {
			t.Errorf("link = %+v", l)
		}
		if e := h.lastReport(); e.Operation != store.OpDeactivate || e.Status != store.ReportSuccess || e.Detail != "not in any policy" {
			t.Errorf("report = %+v", e)
		}

		// Already deactivated: no call.
		n = h.rec.Count()
		h.sync("h1")
		if h.rec.Count() != n {
			t.Error("a deactivated account is deactivated again")
		}

		// Back in a policy: one PATCH of active alone.
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")
		reqs = h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "PATCH" {
			t.Fatalf("calls = %v, want one PATCH", methods(reqs))
		}
		if ops := patchOpsOf(t, reqs[0]); fmt.Sprint(ops) != fmt.Sprint([]map[string]any{{"op": "replace", "path": "active", "value": true}}) {
			t.Errorf("ops = %v", ops)
		}
		if u := h.simUser(alice); !u.Active || u.ID != id {
			t.Errorf("remote user = %+v", u)
		}
		if l := h.link("h1"); l.Status != store.LinkActive {
			t.Errorf("link = %+v", l)
		}
		if e := h.lastReport(); e.Operation != store.OpReactivate || e.Status != store.ReportSuccess {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestDesiredInactiveUpdatesAndDeactivatesInOneCall(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	h.src.update("h1", func(d *Desired) {
		d.Active = false
		d.Attributes["title"] = "Former engineer"
	})
	n := h.rec.Count()
	h.sync("h1")
	reqs := h.rec.Since(n)
	if len(reqs) != 1 || reqs[0].Method != "PATCH" {
		t.Fatalf("calls = %v, want one PATCH", methods(reqs))
	}
	if u := h.simUser(alice); u.Active || u.Title != "Former engineer" {
		t.Errorf("remote user = %+v", u)
	}
	if e := h.lastReport(); e.Operation != store.OpDeactivate || len(e.Changes) != 2 {
		t.Errorf("report = %+v", e)
	}
	if l := h.link("h1"); l.Status != store.LinkDeactivated {
		t.Errorf("link = %+v", l)
	}
}

func TestDesiredInactiveCreatesNothing(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	d := person("h1", alice, "Alice Smith")
	d.Active = false
	h.src.set("h1", d)
	h.sync("h1")
	if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET", "GET"}) {
		t.Errorf("calls = %v, want the searches only", got)
	}
	if e := h.lastReport(); e.Operation != store.OpCreate || e.Status != store.ReportSkipped {
		t.Errorf("report = %+v", e)
	}
	h.noLink("h1")
}

func TestDeleteMode(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{opts: func(o *Options) { o.Apps[0].Deprovision = DeprovisionDelete }})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")
		id := h.link("h1").RemoteID

		h.src.remove("h1")
		n := h.rec.Count()
		h.sync("h1")
		reqs := h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "DELETE" || !strings.HasSuffix(reqs[0].Path, "/Users/"+id) {
			t.Fatalf("calls = %v, want one DELETE", methods(reqs))
		}
		if _, ok := h.sim.User(id); ok {
			t.Error("remote record still exists")
		}
		h.noLink("h1")
		if e := h.lastReport(); e.Operation != store.OpDelete || e.Status != store.ReportSuccess || e.HTTPStatus != 204 {
			t.Errorf("report = %+v", e)
		}
		// Not linked any more: nothing to do.
		n = h.rec.Count()
		h.sync("h1")
		if h.rec.Count() != n {
			t.Error("calls for an unlinked, absent user")
		}
	})
}

func TestProtectedIsNeverDeprovisioned(t *testing.T) {
	for _, mode := range []string{DeprovisionDeactivate, DeprovisionDelete} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) { o.Apps[0].Deprovision = mode }})
			h.src.set("h1", person("h1", alice, "Alice Smith"))
			h.sync("h1")

			h.src.set("h1", Desired{Present: false, Protected: true, Reason: "break-glass"})
			n := h.rec.Count()
			h.sync("h1")
			// Present but inactive is no different for a protected account.
			d := person("h1", alice, "Alice Smith")
			d.Active, d.Protected = false, true
			h.src.set("h1", d)
			h.sync("h1")
			if extra := h.rec.Since(n); len(extra) != 0 {
				t.Errorf("calls for a protected account: %v", methods(extra))
			}
			if u := h.simUser(alice); !u.Active {
				t.Error("protected account deactivated")
			}
			if l := h.link("h1"); l.Status != store.LinkActive {
				t.Errorf("link = %+v", l)
			}
			es := h.reports()
			for _, e := range es[len(es)-2:] {
				if e.Status != store.ReportSkipped || !strings.Contains(e.Detail, "protected") {
					t.Errorf("report = %+v", e)
				}
			}
		})
	}
}

func TestDroppedCreateResponseMakesNoDuplicate(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.sim.DropAfterCommit(1)
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		e := h.lastReport()
		if e.Operation != store.OpCreate || e.Status != store.ReportFailure || e.HTTPStatus != 0 || !strings.Contains(e.Detail, "retrying in 500ms") {
			t.Errorf("report = %+v", e)
		}
		h.noLink("h1")
		h.idle() // requeued for 0.5 s (half of the 1 s base: rand is 0.5)
		h.clk.Advance(500 * time.Millisecond)
		n := h.rec.Count()
		h.step()

		if got := methods(h.rec.Since(n)); !slices.Equal(got, []string{"GET"}) {
			t.Errorf("calls on retry = %v, want the search that finds the account", got)
		}
		if users, _ := h.sim.Counts(); users != 1 {
			t.Errorf("simulator has %d users, want 1", users)
		}
		u := h.simUser(alice)
		if l := h.link("h1"); l.RemoteID != u.ID || l.Status != store.LinkActive {
			t.Errorf("link = %+v", l)
		}
		if e := h.lastReport(); e.Operation != store.OpAdopt || e.Status != store.ReportSuccess || e.Attempt != 2 {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestConflictOnCreateIsAdopted(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		// Someone provisions the same person between our search and our
		// POST: the POST gets 409, and the account is adopted.
		var seeded atlassiantest.User
		h.rec.SetBefore(func(r *http.Request) error {
			if r.Method != http.MethodPost || seeded.ID != "" {
				return nil
			}
			var err error
			seeded, err = h.sim.Seed(atlassiantest.User{UserName: alice, ExternalID: "h1", DisplayName: "Alice Smith", Active: true,
				Emails: []atlassiantest.MultiValue{{Value: alice, Type: "work", Primary: true}}})
			return err
		})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET", "POST", "GET", "PATCH"}) {
			t.Errorf("calls = %v", got)
		}
		if users, _ := h.sim.Counts(); users != 1 {
			t.Errorf("simulator has %d users, want 1", users)
		}
		if l := h.link("h1"); l.RemoteID != seeded.ID {
			t.Errorf("link = %+v, want remote id %s", l, seeded.ID)
		}
		if e := h.lastReport(); e.Operation != store.OpAdopt || e.Status != store.ReportSuccess {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestConflictOnCreateWithNothingToAdoptIsParked(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	// The email belongs to another SCIM user (another userName): 409, and
	// no account with our userName or externalId.
	if _, err := h.sim.Seed(atlassiantest.User{UserName: "old-alice", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: alice, Primary: true}}}); err != nil {
		t.Fatal(err)
	}
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	e := h.lastReport()
	if e.Operation != store.OpConflict || e.Status != store.ReportFailure || e.HTTPStatus != 409 || !strings.Contains(e.Detail, "uniqueness") {
		t.Errorf("report = %+v", e)
	}
	if l := h.link("h1"); l.Status != store.LinkParked {
		t.Errorf("link = %+v", l)
	}
	if n := h.queueLen(); n != 0 {
		t.Errorf("queue length = %d", n)
	}
}

func TestRateLimitedHonoursRetryAfter(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.sim.FailNext(1, http.StatusTooManyRequests, 30*time.Second)
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")

		e := h.lastReport()
		if e.Status != store.ReportFailure || e.HTTPStatus != 429 || !strings.Contains(e.Detail, "retrying in 30s") {
			t.Errorf("report = %+v", e)
		}
		h.clk.Advance(29 * time.Second)
		h.idle()
		h.clk.Advance(time.Second)
		h.step()
		if e := h.lastReport(); e.Operation != store.OpCreate || e.Status != store.ReportSuccess || e.Attempt != 2 {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestServerErrorsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.sim.FailNext(2, http.StatusBadGateway, 0) // HTML bodies
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	if e := h.lastReport(); e.HTTPStatus != 502 || !strings.Contains(e.Detail, "502 Bad Gateway") || strings.Contains(e.Detail, "<") {
		t.Errorf("report = %+v", e)
	}
	// Attempt 1 waits 0.5 × 1 s, attempt 2 waits 0.5 × 2 s.
	h.clk.Advance(499 * time.Millisecond)
	h.idle()
	h.clk.Advance(time.Millisecond)
	h.step()
	if e := h.lastReport(); e.Attempt != 2 || !strings.Contains(e.Detail, "retrying in 1s") {
		t.Errorf("report = %+v", e)
	}
	h.clk.Advance(999 * time.Millisecond)
	h.idle()
	h.clk.Advance(time.Millisecond)
	h.step()
	if e := h.lastReport(); e.Operation != store.OpCreate || e.Status != store.ReportSuccess || e.Attempt != 3 {
		t.Errorf("report = %+v", e)
	}
	if got := metricValue(t, h.reg, "scimgw_outbound_reconciles_total", testApp, "retry"); got != 2 {
		t.Errorf("retry count = %v", got)
	}
}

func TestExpiredTokenMarksAppFailing(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		for _, status := range []int{401, 403} {
			t.Run(fmt.Sprint(status), func(t *testing.T) {
				h := newHarness(t, open(t), harnessConfig{sim: atlassiantest.Options{AuthFailureStatus: status}})
				ctx := context.Background()
				h.sim.ExpireToken()
				h.src.set("h1", person("h1", alice, "Alice Smith"))
				h.sync("h1")

				st, err := ReadStatus(ctx, h.st, testApp)
				if err != nil {
					t.Fatal(err)
				}
				if !st.Failing || !st.Since.Equal(t0) || !strings.Contains(st.LastError, fmt.Sprint(status)) || !strings.Contains(st.LastError, "Not authorized") {
					t.Errorf("status = %+v", st)
				}
				if g := metricValue(t, h.reg, "scimgw_outbound_app_failing", testApp); g != 1 {
					t.Errorf("failing gauge = %v", g)
				}
				if !strings.Contains(h.logs.String(), `"level":"ERROR"`) || !strings.Contains(h.logs.String(), "app marked failing") {
					t.Errorf("no error log: %s", h.logs.String())
				}
				e := h.lastReport()
				if e.Status != store.ReportFailure || e.HTTPStatus != status || !strings.Contains(e.Detail, "credentials rejected") {
					t.Errorf("report = %+v", e)
				}

				// Keys are retried slowly, not dropped.
				h.clk.Advance(59 * time.Second)
				h.idle()
				const newToken = "tok-regenerated-0a1b2c"
				h.sim.SetToken(newToken)
				h.setToken(newToken)
				h.clk.Advance(time.Second)
				h.step()
				if e := h.lastReport(); e.Operation != store.OpCreate || e.Status != store.ReportSuccess {
					t.Errorf("report = %+v", e)
				}
				st, err = ReadStatus(ctx, h.st, testApp)
				if err != nil {
					t.Fatal(err)
				}
				if st.Failing || !st.Since.Equal(t0.Add(time.Minute)) {
					t.Errorf("status after recovery = %+v", st)
				}
				if g := metricValue(t, h.reg, "scimgw_outbound_app_failing", testApp); g != 0 {
					t.Errorf("failing gauge = %v", g)
				}

				raw, _ := json.Marshal(h.reports())
				state, _ := h.st.GetState(ctx, store.AppStatusKey(testApp))
				assertNoSecret(t, testToken, map[string]string{"logs": h.logs.String(), "reports": string(raw), "status": string(state)})
				assertNoSecret(t, newToken, map[string]string{"logs": h.logs.String(), "reports": string(raw), "status": string(state)})
			})
		}
	})
}

func TestFailingStatusSurvivesRestart(t *testing.T) {
	st := backends["bolt"](t)
	h := newHarness(t, st, harnessConfig{})
	h.sim.ExpireToken()
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")

	// A new process on the same store shows the app failing and clears it
	// on its first success.
	h.sim.SetToken(testToken)
	h2reg := prometheus.NewRegistry()
	o := h.opts
	o.Registerer = h2reg
	h2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h2.Step(context.Background(), testApp); err != nil {
		t.Fatal(err)
	}
	if g := metricValue(t, h2reg, "scimgw_outbound_app_failing", testApp); g != 1 {
		t.Errorf("failing gauge of the new process = %v, want 1", g)
	}
	h.clk.Advance(time.Minute)
	if ok, err := h2.Step(context.Background(), testApp); err != nil || !ok {
		t.Fatalf("step: %v %v", ok, err)
	}
	if s, _ := ReadStatus(context.Background(), st, testApp); s.Failing {
		t.Errorf("status = %+v", s)
	}
	if g := metricValue(t, h2reg, "scimgw_outbound_app_failing", testApp); g != 0 {
		t.Errorf("failing gauge = %v", g)
	}
}

func TestFailingAppPausesWorkers(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.sim.ExpireToken()
	for i := range 5 {
		id := fmt.Sprint("h", i)
		h.src.set(id, person(id, fmt.Sprintf("u%d@example.com", i), "U Ser"))
		h.mark(id)
	}
	run(t, h.r)
	eventually(t, "the first auth failure", func() bool { return len(h.reports()) == 1 })
	// Four more keys are due, but the app is paused until the retry: the
	// worker, woken again and again, claims nothing. (A negative check:
	// it needs a little wall-clock time.)
	for range 5 {
		h.r.Wake()
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.sim.CallCount("", ""); got != 1 {
		t.Errorf("%d calls to a failing app, want 1", got)
	}
	// After the retry interval, with a valid key, everything goes through.
	h.sim.SetToken(testToken)
	h.clk.Advance(time.Minute)
	h.r.Wake()
	eventually(t, "all users created", func() bool { u, _ := h.sim.Counts(); return u == 5 })
}

func TestRemoteAccountGoneIsCreatedAgain(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")
		old := h.link("h1").RemoteID
		h.sim.DeleteUser(old)

		h.src.update("h1", func(d *Desired) { d.Attributes["displayName"] = "Alice Jones" })
		n := h.rec.Count()
		h.sync("h1")
		if got := methods(h.rec.Since(n)); !slices.Equal(got, []string{"PATCH", "GET", "POST"}) {
			t.Errorf("calls = %v", got)
		}
		u := h.simUser(alice)
		if l := h.link("h1"); l.RemoteID != u.ID || l.RemoteID == old || u.DisplayName != "Alice Jones" {
			t.Errorf("link = %+v, user = %+v", l, u)
		}
	})
}

func TestRejectedUpdateIsParkedUntilTheUserChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open(t), harnessConfig{})
		h.src.set("h1", person("h1", alice, "Alice Smith"))
		h.sync("h1")
		id := h.link("h1").RemoteID

		h.src.update("h1", func(d *Desired) {
			d.Attributes["emails"] = []any{map[string]any{"value": "not-an-email", "primary": true}}
		})
		h.sync("h1")
		l := h.link("h1")
		if l.Status != store.LinkParked || l.RemoteID != id || !strings.Contains(l.Error, "invalidValue") {
			t.Errorf("link = %+v", l)
		}
		if e := h.lastReport(); e.Operation != store.OpUpdate || e.Status != store.ReportFailure || e.HTTPStatus != 400 {
			t.Errorf("report = %+v", e)
		}
		if n := h.queueLen(); n != 0 {
			t.Errorf("queue length = %d", n)
		}

		// The hub user is fixed and marked again: applied, park lifted.
		h.src.update("h1", func(d *Desired) {
			d.Attributes["emails"] = []any{map[string]any{"value": "alice@new.example.com", "type": "work", "primary": true}}
		})
		h.sync("h1")
		if l := h.link("h1"); l.Status != store.LinkActive || l.Error != "" {
			t.Errorf("link = %+v", l)
		}
		if u := h.simUser(alice); u.PrimaryEmail() != "alice@new.example.com" {
			t.Errorf("remote user = %+v", u)
		}
	})
}

func TestParkLiftedWhenDesiredReturnsToApplied(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	good := h.src.users["h1"]
	h.src.update("h1", func(d *Desired) { d.Attributes["emails"] = []any{map[string]any{"value": "bad"}} })
	h.sync("h1")
	h.src.set("h1", good)
	n := h.rec.Count()
	h.sync("h1")
	if h.rec.Count() != n {
		t.Error("calls although the account holds the desired state")
	}
	if l := h.link("h1"); l.Status != store.LinkActive || l.Error != "" {
		t.Errorf("link = %+v", l)
	}
}

func TestUnknownKeyKindIsAckedAndReported(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	if err := h.st.Enqueue(context.Background(), store.Mark{App: testApp, Key: "role:r1", Due: t0}); err != nil {
		t.Fatal(err)
	}
	h.step()
	if e := h.lastReport(); e.Operation != store.OpReconcile || e.Status != store.ReportSkipped || !strings.Contains(e.Detail, "role:r1") {
		t.Errorf("report = %+v", e)
	}
	if n := h.queueLen(); n != 0 || h.rec.Count() != 0 {
		t.Errorf("queue length %d, calls %d", n, h.rec.Count())
	}
}

func TestSourceErrorIsRetried(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.src.err = errors.New("hub unavailable")
	h.mark("h1")
	h.step()
	if e := h.lastReport(); e.Operation != store.OpReconcile || e.Status != store.ReportFailure || !strings.Contains(e.Detail, "hub unavailable") {
		t.Errorf("report = %+v", e)
	}
	if n := h.queueLen(); n != 1 {
		t.Errorf("queue length = %d, want the key requeued", n)
	}
}

func TestInvalidDesiredStateIsParked(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	d := person("h1", "", "Nameless")
	h.src.set("h1", d)
	h.sync("h1")
	if h.rec.Count() != 0 {
		t.Error("calls for a user without userName")
	}
	if l := h.link("h1"); l.Status != store.LinkParked || !strings.Contains(l.Error, "userName") {
		t.Errorf("link = %+v", l)
	}
}

func TestWaitLongerThanLeaseHandsKeyBack(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) {
		o.Lease = time.Minute
		o.Apps[0].Rate, o.Apps[0].Burst = 0.01, 1 // one call per 100 s
	}})
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	if got := h.rec.Count(); got != 1 {
		t.Fatalf("%d calls, want 1 (the bucket holds one token)", got)
	}
	if got := len(h.reports()); got != 0 {
		t.Errorf("a handed-back key is reported: %+v", h.reports())
	}
	h.clk.Advance(99 * time.Second)
	h.idle()
	h.clk.Advance(time.Second)
	h.step()
	if got := h.rec.Count(); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Options{Apps: []AppConfig{
		{Name: "a", Type: "nope", Client: scimclient.Options{BaseURL: "http://x"}},
		{Name: "", Type: "scim", Client: scimclient.Options{BaseURL: "http://x"}, Deprovision: "archive", Rate: -1},
	}})
	if err == nil {
		t.Fatal("New accepted a broken config")
	}
	for _, want := range []string{"store is required", "source is required", `target type "nope"`, "token", `name ""`, `deprovision "archive"`, "rate -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_, err = New(Options{Store: backends["bolt"](t), Source: newFakeSource(), Lease: 10 * time.Second,
		Apps: []AppConfig{{Name: "a", Type: "scim", Client: scimclient.Options{BaseURL: "http://x", Token: "t"}}}})
	if err == nil || !strings.Contains(err.Error(), "shorter than the lease") {
		t.Errorf("a lease shorter than the call timeout: %v", err)
	}
}

func TestSwitchedOffActionsAreReportedNotMade(t *testing.T) {
	present := func(h *harness) { h.src.set("h1", person("h1", alice, "Alice Smith")) }
	for _, tc := range []struct {
		name    string
		actions Actions
		mode    string
		setup   func(h *harness) // runs with every action on
		change  func(h *harness)
		wantOp  string
	}{
		{"create", Actions{Update: true, Deactivate: true, Delete: true}, "", nil, present, store.OpCreate},
		{"update", Actions{Create: true, Deactivate: true, Delete: true}, "", present,
			func(h *harness) { h.src.update("h1", func(d *Desired) { d.Attributes["title"] = "Boss" }) }, store.OpUpdate},
		{"deactivate", Actions{Create: true, Update: true, Delete: true}, "", present,
			func(h *harness) { h.src.remove("h1") }, store.OpDeactivate},
		{"delete", Actions{Create: true, Update: true, Deactivate: true}, DeprovisionDelete, present,
			func(h *harness) { h.src.remove("h1") }, store.OpDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, backends["bolt"](t), harnessConfig{})
			if tc.setup != nil {
				tc.setup(h)
				h.sync("h1")
			}
			o := h.opts
			o.Registerer = prometheus.NewRegistry()
			o.Apps = slices.Clone(o.Apps)
			o.Apps[0].Actions, o.Apps[0].Deprovision = &tc.actions, tc.mode
			r, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			n := h.rec.Count()
			tc.change(h)
			h.mark("h1")
			if ok, err := r.Step(context.Background(), testApp); !ok || err != nil {
				t.Fatalf("step: %v %v", ok, err)
			}
			for _, req := range h.rec.Since(n) {
				if req.Method != "GET" {
					t.Errorf("a %s was made although %s is switched off", req.Method, tc.name)
				}
			}
			e := h.lastReport()
			if e.Operation != tc.wantOp || e.Status != store.ReportSkipped || !strings.Contains(e.Detail, tc.name+" is switched off") {
				t.Errorf("report = %+v", e)
			}
		})
	}
}

func TestRemoteHashFunctionIsInjected(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) {
		o.Hash = func(m map[string]any) string { return "custom:" + m["id"].(string) }
	}})
	h.src.set("h1", person("h1", alice, "Alice Smith"))
	h.sync("h1")
	if l := h.link("h1"); l.Hash != "custom:"+l.RemoteID {
		t.Errorf("link hash = %q", l.Hash)
	}
}

// The backends must keep Link.AppliedHash: without it no unchanged user is
// ever skipped and dropped attributes are never removed.
func TestStoreKeepsAppliedHash(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		st := open(t)
		ctx := context.Background()
		in := store.Link{App: testApp, Kind: store.KindUser, HubID: "h1", RemoteID: "r1", AppliedHash: "sha256:abc", AppliedAt: t0}
		if err := st.PutLink(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetLink(ctx, testApp, store.KindUser, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if got.AppliedHash != in.AppliedHash {
			t.Errorf("the store backend drops Link.AppliedHash (got %q): its link record must carry it", got.AppliedHash)
		}
	})
}
