package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// newGroupHarness is a harness whose app pushes groups.
func newGroupHarness(t *testing.T, st store.Store, cfg harnessConfig) *harness {
	t.Helper()
	more := cfg.opts
	cfg.opts = func(o *Options) {
		o.Apps[0].Groups = true
		if more != nil {
			more(o)
		}
	}
	return newHarness(t, st, cfg)
}

func userName(i int) string { return fmt.Sprintf("user%03d@example.com", i) }

// addUsers provisions users h<from>..h<to> through the reconciler, each a
// member (in the hub) of groups.
func (h *harness) addUsers(from, to int, groups ...string) {
	h.t.Helper()
	for i := from; i <= to; i++ {
		id := fmt.Sprintf("h%d", i)
		d := person(id, userName(i), fmt.Sprintf("User %d", i))
		d.GroupIDs = groups
		h.src.set(id, d)
		h.mark(id)
		h.drain()
	}
}

// drain works keys until none is due.
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		ok, err := h.r.Step(context.Background(), testApp)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok {
			return
		}
	}
	h.t.Fatal("the queue does not drain")
}

// seedLinked seeds accounts h<from>..h<to> in the simulator and links them
// as the reconciler would, without remote calls by the Runner.
func (h *harness) seedLinked(from, to int) {
	h.t.Helper()
	for i := from; i <= to; i++ {
		id := fmt.Sprintf("h%d", i)
		u, err := h.sim.Seed(atlassiantest.User{UserName: userName(i), ExternalID: id, Active: true,
			Emails: []atlassiantest.MultiValue{{Value: userName(i), Type: "work", Primary: true}}})
		if err != nil {
			h.t.Fatal(err)
		}
		if err := h.st.PutLink(context.Background(), store.Link{App: testApp, Kind: store.KindUser, HubID: id, RemoteID: u.ID, Status: store.LinkActive, AppliedAt: t0}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func hubIDs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("h%d", i))
	}
	return out
}

func (h *harness) remoteID(hubID string) string {
	h.t.Helper()
	return h.link(hubID).RemoteID
}

func (h *harness) remoteIDs(hubIDs ...string) []string {
	h.t.Helper()
	out := make([]string, len(hubIDs))
	for i, id := range hubIDs {
		out[i] = h.remoteID(id)
	}
	slices.Sort(out)
	return out
}

func (h *harness) markGroup(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		if err := h.st.Enqueue(context.Background(), store.Mark{App: testApp, Key: store.GroupKey(id), Due: h.clk.Now()}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) syncGroup(id string) {
	h.t.Helper()
	h.markGroup(id)
	h.step()
}

func (h *harness) groupLink(id string) *store.Link {
	h.t.Helper()
	l, err := h.st.GetLink(context.Background(), testApp, store.KindGroup, id)
	if err != nil {
		h.t.Fatalf("group link of %s: %v", id, err)
	}
	return l
}

func (h *harness) groupState(id string) groupState {
	h.t.Helper()
	st, trusted := lastGroupState(h.groupLink(id))
	if !trusted {
		h.t.Fatalf("group link of %s: state not vouched for by its hash", id)
	}
	return st
}

func (h *harness) simGroup(name string) atlassiantest.Group {
	h.t.Helper()
	g, ok := h.sim.GroupByDisplayName(name)
	if !ok {
		h.t.Fatalf("simulator has no group %q", name)
	}
	return g
}

func memberIDsOf(g atlassiantest.Group) []string {
	out := make([]string, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}

// reportsOf returns the report entries of op, oldest first.
func (h *harness) reportsOf(op string) []store.ReportEntry {
	var out []store.ReportEntry
	for _, e := range h.reports() {
		if e.Operation == op {
			out = append(out, e)
		}
	}
	return out
}

// idsInPatch returns the member ids a membership PATCH adds and removes.
func idsInPatch(t *testing.T, r recorded) (add, remove []string) {
	t.Helper()
	for _, op := range patchOpsOf(t, r) {
		switch op["op"] {
		case "add":
			if op["path"] != "members" {
				t.Fatalf("add op %v", op)
			}
			for _, v := range op["value"].([]any) {
				add = append(add, v.(map[string]any)["value"].(string))
			}
		case "remove":
			p, _ := op["path"].(string)
			id, ok := strings.CutPrefix(p, `members[value eq "`)
			if !ok || !strings.HasSuffix(id, `"]`) || op["value"] != nil {
				t.Fatalf("remove op %v", op)
			}
			remove = append(remove, strings.TrimSuffix(id, `"]`))
		default:
			t.Fatalf("op %v", op)
		}
	}
	return add, remove
}

var engineering = DesiredGroup{Present: true, Name: "Engineering", Reason: "pushed by policy engineers"}

func withMembers(g DesiredGroup, members ...string) DesiredGroup {
	g.Members = members
	return g
}

func TestGroupCreatedWithMembers(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newGroupHarness(t, open(t), harnessConfig{})
		h.addUsers(1, 2)
		h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
		n := h.rec.Count()
		h.syncGroup("g1")

		reqs := h.rec.Since(n)
		if got := methods(reqs); !slices.Equal(got, []string{"GET", "POST", "PATCH"}) {
			t.Fatalf("calls = %v, want a search by displayName, POST, PATCH of the members", got)
		}
		if q := reqs[0].Query; reqs[0].Path != "/scim/directory/test-directory/Groups" || !strings.Contains(q, "displayName+eq+%22Engineering%22") {
			t.Errorf("search = %s?%s", reqs[0].Path, q)
		}
		if b := string(reqs[1].Body); !strings.Contains(b, `"displayName":"Engineering"`) || !strings.Contains(b, `"externalId":"g1"`) || strings.Contains(b, "members") {
			t.Errorf("POST body = %s", b)
		}
		want := h.remoteIDs("h1", "h2")
		if add, remove := idsInPatch(t, reqs[2]); !slices.Equal(add, want) || remove != nil {
			t.Errorf("PATCH adds %v removes %v, want adds %v", add, remove, want)
		}
		g := h.simGroup("Engineering")
		if got := memberIDsOf(g); !slices.Equal(got, want) || g.ExternalID != "g1" {
			t.Errorf("remote group = %+v", g)
		}
		l := h.groupLink("g1")
		if l.RemoteID != g.ID || l.Status != store.LinkActive || l.Kind != store.KindGroup || l.Hash == "" || !l.AppliedAt.Equal(t0) {
			t.Errorf("link = %+v", l)
		}
		if st := h.groupState("g1"); st.Name != "Engineering" || !slices.Equal(st.Members, want) || st.Replaces != nil {
			t.Errorf("link state = %+v", st)
		}
		creates, members := h.reportsOf(store.OpGroupCreate), h.reportsOf(store.OpGroupMembers)
		if len(creates) != 1 || creates[0].Status != store.ReportSuccess || creates[0].HTTPStatus != 201 || creates[0].ResourceType != "Group" ||
			creates[0].ResourceID != "g1" || !strings.Contains(creates[0].Detail, "pushed by policy engineers") {
			t.Errorf("create reports = %+v", creates)
		}
		if len(members) != 1 || members[0].Status != store.ReportSuccess || members[0].HTTPStatus != 200 || len(members[0].Changes) != 1 ||
			fmt.Sprint(members[0].Changes[0].New) != fmt.Sprint(want) || !strings.Contains(members[0].Detail, "added 2 and removed 0") {
			t.Errorf("members reports = %+v", members)
		}
		h.idle()

		// Marked again with nothing changed: no remote call at all.
		n = h.rec.Count()
		h.syncGroup("g1")
		if extra := h.rec.Since(n); len(extra) != 0 {
			t.Errorf("unchanged group made calls %v", methods(extra))
		}
	})
}

func TestGroupMemberChangeIsOnePatchOfTheChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newGroupHarness(t, open(t), harnessConfig{})
		h.addUsers(1, 3)
		h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
		h.syncGroup("g1")

		h.src.setGroup("g1", withMembers(engineering, "h2", "h3"))
		n := h.rec.Count()
		h.syncGroup("g1")
		reqs := h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "PATCH" {
			t.Fatalf("calls = %v, want one PATCH", methods(reqs))
		}
		ops := patchOpsOf(t, reqs[0])
		wantOps := []map[string]any{
			{"op": "remove", "path": `members[value eq "` + h.remoteID("h1") + `"]`},
			{"op": "add", "path": "members", "value": []any{map[string]any{"value": h.remoteID("h3")}}},
		}
		if fmt.Sprint(ops) != fmt.Sprint(wantOps) {
			t.Errorf("ops = %v, want %v", ops, wantOps)
		}
		if got, want := memberIDsOf(h.simGroup("Engineering")), h.remoteIDs("h2", "h3"); !slices.Equal(got, want) {
			t.Errorf("remote members = %v, want %v", got, want)
		}
		e := h.lastReport()
		if e.Operation != store.OpGroupMembers || e.Status != store.ReportSuccess || fmt.Sprint(e.Changes[0].Old) != fmt.Sprint([]string{h.remoteID("h1")}) ||
			fmt.Sprint(e.Changes[0].New) != fmt.Sprint([]string{h.remoteID("h3")}) {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestGroupRenameOnAtlassianReplacesTheGroup(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newGroupHarness(t, open(t), harnessConfig{})
		h.addUsers(1, 2)
		h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
		h.syncGroup("g1")
		old := h.simGroup("Engineering")

		renamed := withMembers(engineering, "h1", "h2")
		renamed.Name = "Platform"
		h.src.setGroup("g1", renamed)
		n := h.rec.Count()
		h.syncGroup("g1")
		reqs := h.rec.Since(n)
		if got := methods(reqs); !slices.Equal(got, []string{"GET", "POST", "PATCH", "DELETE"}) {
			t.Fatalf("calls = %v, want search, POST of the new group, PATCH of its members, DELETE of the old", got)
		}
		if reqs[3].Path != "/scim/directory/test-directory/Groups/"+old.ID {
			t.Errorf("DELETE %s, want the old group %s", reqs[3].Path, old.ID)
		}
		if _, ok := h.sim.GroupByDisplayName("Engineering"); ok {
			t.Error("the old group is still there")
		}
		g := h.simGroup("Platform")
		if got, want := memberIDsOf(g), h.remoteIDs("h1", "h2"); !slices.Equal(got, want) || g.ID == old.ID {
			t.Errorf("new group = %+v, want members %v", g, want)
		}
		if l, st := h.groupLink("g1"), h.groupState("g1"); l.RemoteID != g.ID || st.Name != "Platform" || st.Replaces != nil {
			t.Errorf("link = %+v, state = %+v", l, st)
		}
		var ops []string
		for _, e := range h.reports()[len(h.reports())-3:] {
			ops = append(ops, e.Operation+"/"+e.Status)
		}
		if want := []string{"group-create/success", "group-members/success", "group-delete/success"}; !slices.Equal(ops, want) {
			t.Errorf("reports = %v, want %v", ops, want)
		}
		if e := h.reportsOf(store.OpGroupDelete)[0]; !strings.Contains(e.Detail, `replaced by "Platform"`) {
			t.Errorf("delete report = %+v", e)
		}
		n = h.rec.Count()
		h.syncGroup("g1")
		if extra := h.rec.Since(n); len(extra) != 0 {
			t.Errorf("converged group made calls %v", methods(extra))
		}
	})
}

func TestGroupRenameResumesAfterAFailedDelete(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.addUsers(1, 1)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.syncGroup("g1")
	old := h.simGroup("Engineering")

	renamed := withMembers(engineering, "h1")
	renamed.Name = "Platform"
	h.src.setGroup("g1", renamed)
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodDelete {
			return errors.New("connection reset")
		}
		return nil
	})
	h.syncGroup("g1")
	if l, st := h.groupLink("g1"), h.groupState("g1"); l.RemoteID == old.ID || st.Replaces == nil || st.Replaces.ID != old.ID || st.Name != "Platform" {
		t.Fatalf("after the failed delete: link = %+v, state = %+v; want the new group linked and the old one pending", l, st)
	}
	if e := h.lastReport(); e.Operation != store.OpGroupDelete || e.Status != store.ReportFailure {
		t.Errorf("report = %+v", e)
	}
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d, want the key requeued", n)
	}
	h.rec.SetBefore(nil)
	h.clk.Advance(time.Second)
	n := h.rec.Count()
	h.step()
	if got := methods(h.rec.Since(n)); !slices.Equal(got, []string{"DELETE"}) {
		t.Errorf("calls on retry = %v, want only the DELETE of the old group", got)
	}
	if _, ok := h.sim.Group(old.ID); ok {
		t.Error("the old group survived")
	}
	if st := h.groupState("g1"); st.Replaces != nil {
		t.Errorf("state = %+v", st)
	}
	if got := len(h.sim.Groups()); got != 1 {
		t.Errorf("%d groups remotely, want 1", got)
	}
}

func TestGroupRenamedAgainBeforeTheFirstFinished(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.addUsers(1, 1)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.syncGroup("g1")
	first := h.simGroup("Engineering")
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodDelete {
			return errors.New("connection reset")
		}
		return nil
	})
	g := withMembers(engineering, "h1")
	g.Name = "Platform"
	h.src.setGroup("g1", g)
	h.syncGroup("g1") // Platform created, Engineering pending deletion
	h.rec.SetBefore(nil)

	g.Name = "Infrastructure"
	h.src.setGroup("g1", g)
	h.clk.Advance(time.Second)
	h.step()
	groups := h.sim.Groups()
	if len(groups) != 1 || groups[0].DisplayName != "Infrastructure" || !slices.Equal(memberIDsOf(groups[0]), h.remoteIDs("h1")) {
		t.Errorf("remote groups = %+v, want Infrastructure alone", groups)
	}
	if _, ok := h.sim.Group(first.ID); ok {
		t.Error("the first group survived")
	}
	if st := h.groupState("g1"); st.Name != "Infrastructure" || st.Replaces != nil {
		t.Errorf("state = %+v", st)
	}
}

func TestGroupRenameOnSCIMProfilePatchesDisplayName(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{
		// The simulator refuses renames like Atlassian; told to ignore
		// them, it answers 200 and the request shows what was sent.
		sim:  atlassiantest.Options{IgnoreGroupRename: true},
		opts: func(o *Options) { o.Apps[0].Type = "scim" },
	})
	h.seedLinked(1, 2)
	h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
	h.syncGroup("g1")
	if got := memberIDsOf(h.simGroup("Engineering")); !slices.Equal(got, h.remoteIDs("h1", "h2")) {
		t.Fatalf("remote members = %v", got)
	}
	g := withMembers(engineering, "h1")
	g.Name = "Platform"
	h.src.setGroup("g1", g)
	n := h.rec.Count()
	h.syncGroup("g1")
	reqs := h.rec.Since(n)
	if got := methods(reqs); !slices.Equal(got, []string{"PATCH", "PATCH"}) {
		t.Fatalf("calls = %v, want a PATCH of displayName and one of the members", got)
	}
	if ops := patchOpsOf(t, reqs[0]); fmt.Sprint(ops) != fmt.Sprint([]map[string]any{{"op": "replace", "path": "displayName", "value": "Platform"}}) {
		t.Errorf("rename ops = %v", ops)
	}
	if add, remove := idsInPatch(t, reqs[1]); add != nil || !slices.Equal(remove, h.remoteIDs("h2")) {
		t.Errorf("member PATCH adds %v removes %v", add, remove)
	}
	if st := h.groupState("g1"); st.Name != "Platform" || h.groupLink("g1").RemoteID != h.simGroup("Engineering").ID {
		t.Errorf("state = %+v", st)
	}
	if e := h.reportsOf(store.OpGroupUpdate); len(e) != 1 || e[0].Changes[0].Attr != "displayName" || e[0].Changes[0].New != "Platform" {
		t.Errorf("update reports = %+v", e)
	}
}

func TestGroupGoneFromHubIsDeletedRemotely(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newGroupHarness(t, open(t), harnessConfig{})
		h.addUsers(1, 1)
		h.src.setGroup("g1", withMembers(engineering, "h1"))
		h.syncGroup("g1")
		id := h.simGroup("Engineering").ID

		h.src.removeGroup("g1")
		n := h.rec.Count()
		h.syncGroup("g1")
		if reqs := h.rec.Since(n); len(reqs) != 1 || reqs[0].Method != "DELETE" || !strings.HasSuffix(reqs[0].Path, "/Groups/"+id) {
			t.Fatalf("calls = %v, want one DELETE of the group", methods(reqs))
		}
		if _, ok := h.sim.Group(id); ok {
			t.Error("the group is still there")
		}
		if _, err := h.st.GetLink(context.Background(), testApp, store.KindGroup, "g1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("group link: %v, want none", err)
		}
		if e := h.lastReport(); e.Operation != store.OpGroupDelete || e.Status != store.ReportSuccess || e.HTTPStatus != 204 || !strings.Contains(e.Detail, "group deleted from the hub") {
			t.Errorf("report = %+v", e)
		}
		if _, ok := h.sim.UserByUserName(userName(1)); !ok {
			t.Error("the member's account went with the group")
		}
		n = h.rec.Count()
		h.syncGroup("g1")
		if h.rec.Count() != n {
			t.Error("calls for a group that is gone on both sides")
		}
	})
}

func TestUserCreatedAfterTheGroupIsAddedOnceItsAccountExists(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newGroupHarness(t, open(t), harnessConfig{})
		h.addUsers(1, 1, "g1")
		h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
		h.syncGroup("g1")
		if got := h.groupState("g1").Members; !slices.Equal(got, h.remoteIDs("h1")) {
			t.Fatalf("members = %v, want h1's account alone (h2 has none yet)", got)
		}
		if n := h.queueLen(); n != 0 {
			t.Fatalf("queue length %d", n)
		}

		d := person("h2", userName(2), "User 2")
		d.GroupIDs = []string{"g1"}
		h.src.set("h2", d)
		h.sync("h2")
		if e := h.lastReport(); e.Operation != store.OpCreate || e.Status != store.ReportSuccess {
			t.Fatalf("report = %+v", e)
		}
		if n := h.queueLen(); n != 1 {
			t.Fatalf("queue length %d after the account was created, want the group queued", n)
		}
		h.idle() // not before GroupDelay
		h.clk.Advance(DefaultGroupDelay)
		n := h.rec.Count()
		h.step()
		reqs := h.rec.Since(n)
		if len(reqs) != 1 || reqs[0].Method != "PATCH" {
			t.Fatalf("calls = %v, want one PATCH", methods(reqs))
		}
		if add, remove := idsInPatch(t, reqs[0]); !slices.Equal(add, h.remoteIDs("h2")) || remove != nil {
			t.Errorf("PATCH adds %v removes %v", add, remove)
		}
		if got := memberIDsOf(h.simGroup("Engineering")); !slices.Equal(got, h.remoteIDs("h1", "h2")) {
			t.Errorf("remote members = %v", got)
		}
		// An update of a member's attributes does not queue its groups.
		h.src.update("h2", func(d *Desired) { d.Attributes["title"] = "Boss" })
		h.sync("h2")
		if n := h.queueLen(); n != 0 {
			t.Errorf("queue length %d after an attribute update", n)
		}
	})
}

// Accounts created in a burst join their group in one reconcile and one
// PATCH, GroupDelay after the first.
func TestAccountsCreatedTogetherJoinTheGroupTogether(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) { o.GroupDelay = time.Minute }})
	h.src.setGroup("g1", withMembers(engineering, hubIDs(1, 3)...))
	h.syncGroup("g1") // the group, empty: nobody has an account yet
	for i := 1; i <= 3; i++ {
		d := person(fmt.Sprintf("h%d", i), userName(i), "User")
		d.GroupIDs = []string{"g1"}
		h.src.set(fmt.Sprintf("h%d", i), d)
		h.sync(fmt.Sprintf("h%d", i))
		h.clk.Advance(10 * time.Second)
	}
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d, want the group once", n)
	}
	h.idle()
	h.clk.Advance(30 * time.Second) // a minute after the first account
	n := h.rec.Count()
	h.step()
	reqs := h.rec.Since(n)
	if len(reqs) != 1 {
		t.Fatalf("calls = %v, want one PATCH", methods(reqs))
	}
	if add, _ := idsInPatch(t, reqs[0]); !slices.Equal(add, h.remoteIDs(hubIDs(1, 3)...)) {
		t.Errorf("PATCH adds %v", add)
	}
	h.idle()
}

func TestDeprovisionedUserLeavesTheGroup(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.addUsers(1, 2, "g1")
	h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
	h.syncGroup("g1")
	r1 := h.remoteID("h1")

	// No policy admits h1 any more: the source leaves it out of the group.
	h.src.update("h1", func(d *Desired) { d.Present, d.Reason = false, "no policy matches" })
	h.src.setGroup("g1", withMembers(engineering, "h2"))
	h.sync("h1")
	if l := h.link("h1"); l.Status != store.LinkDeactivated {
		t.Fatalf("link = %+v", l)
	}
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d after the deactivation, want the group queued", n)
	}
	h.clk.Advance(DefaultGroupDelay)
	n := h.rec.Count()
	h.step()
	reqs := h.rec.Since(n)
	if len(reqs) != 1 {
		t.Fatalf("calls = %v", methods(reqs))
	}
	if add, remove := idsInPatch(t, reqs[0]); add != nil || !slices.Equal(remove, []string{r1}) {
		t.Errorf("PATCH adds %v removes %v", add, remove)
	}

	// Admitted again: reactivated, and back in the group.
	h.src.update("h1", func(d *Desired) { d.Present, d.Reason = true, "policy engineering" })
	h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
	h.sync("h1")
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d after the reactivation, want the group queued", n)
	}
	h.clk.Advance(DefaultGroupDelay)
	h.step()
	if got := memberIDsOf(h.simGroup("Engineering")); !slices.Equal(got, h.remoteIDs("h1", "h2")) {
		t.Errorf("remote members = %v", got)
	}
}

func TestGroupsSwitchedOffAreSkipped(t *testing.T) {
	h := newHarness(t, backends["bolt"](t), harnessConfig{})
	h.src.setGroup("g1", withMembers(engineering))
	d := person("h1", alice, "Alice Smith")
	d.GroupIDs = []string{"g1"}
	h.src.set("h1", d)
	h.sync("h1")
	if n := h.queueLen(); n != 0 {
		t.Fatalf("queue length %d: groups queued although the app does not push them", n)
	}
	n := h.rec.Count()
	h.syncGroup("g1")
	if h.rec.Count() != n {
		t.Errorf("calls for a group of an app that does not push groups: %v", methods(h.rec.Since(n)))
	}
	e := h.lastReport()
	if e.Operation != store.OpReconcile || e.Status != store.ReportSkipped || e.ResourceType != "Group" || !strings.Contains(e.Detail, "switched off") {
		t.Errorf("report = %+v", e)
	}
	if n := h.queueLen(); n != 0 {
		t.Errorf("queue length %d", n)
	}
	if len(h.sim.Groups()) != 0 {
		t.Error("a group was created")
	}
}

func TestGroupMembershipIsPatchedInChunks(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 240)
	h.src.setGroup("g1", withMembers(engineering, hubIDs(1, 230)...))
	n := h.rec.Count()
	h.syncGroup("g1")
	reqs := h.rec.Since(n)
	if got := methods(reqs); !slices.Equal(got, []string{"GET", "POST", "PATCH", "PATCH", "PATCH"}) {
		t.Fatalf("calls = %v", got)
	}
	var sizes []int
	for _, r := range reqs[2:] {
		add, _ := idsInPatch(t, r)
		sizes = append(sizes, len(add))
	}
	if !slices.Equal(sizes, []int{100, 100, 30}) {
		t.Errorf("ids per PATCH = %v", sizes)
	}
	if got := len(h.simGroup("Engineering").Members); got != 230 {
		t.Errorf("%d remote members", got)
	}

	// 150 leave, 10 join: removals first, at most 100 ids a request.
	h.src.setGroup("g1", withMembers(engineering, hubIDs(151, 240)...))
	n = h.rec.Count()
	h.syncGroup("g1")
	reqs = h.rec.Since(n)
	if len(reqs) != 2 {
		t.Fatalf("calls = %v, want two PATCHes", methods(reqs))
	}
	a0, r0 := idsInPatch(t, reqs[0])
	a1, r1 := idsInPatch(t, reqs[1])
	if len(a0) != 0 || len(r0) != 100 || len(r1) != 50 || len(a1) != 10 {
		t.Errorf("PATCH 1 adds %d removes %d; PATCH 2 adds %d removes %d", len(a0), len(r0), len(a1), len(r1))
	}
	if got, want := memberIDsOf(h.simGroup("Engineering")), h.remoteIDs(hubIDs(151, 240)...); !slices.Equal(got, want) {
		t.Errorf("remote members: %d, want %d", len(got), len(want))
	}
	if e := h.lastReport(); e.Operation != store.OpGroupMembers || len(e.Changes[0].Old.([]any)) != maxReportedMembers ||
		!strings.Contains(e.Detail, "added 10 and removed 150 members in 2 requests") {
		t.Errorf("report = %+v", e)
	}
}

func TestGroupMembershipProgressSurvivesAFailedChunk(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 150)
	h.src.setGroup("g1", withMembers(engineering, hubIDs(1, 150)...))
	patches := 0
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodPatch {
			if patches++; patches == 2 {
				return errors.New("connection reset")
			}
		}
		return nil
	})
	h.syncGroup("g1")
	if got := len(h.groupState("g1").Members); got != 100 {
		t.Fatalf("link records %d members after the first chunk, want 100", got)
	}
	h.clk.Advance(time.Second)
	n := h.rec.Count()
	h.step()
	reqs := h.rec.Since(n)
	if len(reqs) != 1 {
		t.Fatalf("calls on retry = %v, want one PATCH", methods(reqs))
	}
	if add, _ := idsInPatch(t, reqs[0]); len(add) != 50 {
		t.Errorf("retry adds %d ids, want the 50 left", len(add))
	}
	if got := len(h.simGroup("Engineering").Members); got != 150 {
		t.Errorf("%d remote members", got)
	}
}

func TestGroupMemberCapLeavesTheExcessOutAndReportsIt(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) { o.Apps[0].MaxGroupMembers = 3 }})
	h.seedLinked(1, 5)
	h.src.setGroup("g1", withMembers(engineering, hubIDs(1, 5)...))
	h.syncGroup("g1")
	first := h.groupState("g1").Members
	if len(first) != 3 || len(h.simGroup("Engineering").Members) != 3 {
		t.Fatalf("applied members %v", first)
	}
	e := h.lastReport()
	if e.Operation != store.OpGroupMembers || e.Status != store.ReportFailure || !strings.Contains(e.Detail, "2 desired members left out") {
		t.Errorf("report = %+v", e)
	}
	if l := h.groupLink("g1"); l.Status != store.LinkActive || !strings.Contains(l.Error, "at most 3") {
		t.Errorf("link = %+v", l)
	}
	// A sixth member changes nothing: the members in place keep their seats.
	h.seedLinked(6, 6)
	h.src.setGroup("g1", withMembers(engineering, hubIDs(1, 6)...))
	n := h.rec.Count()
	h.syncGroup("g1")
	if h.rec.Count() != n || !slices.Equal(h.groupState("g1").Members, first) {
		t.Errorf("a full group churned: calls %v, members %v", methods(h.rec.Since(n)), h.groupState("g1").Members)
	}
}

func TestGroupAdoptsExistingGroupByName(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 1)
	stray, err := h.sim.Seed(atlassiantest.User{UserName: "stray@example.com", Active: true,
		Emails: []atlassiantest.MultiValue{{Value: "stray@example.com", Type: "work", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := h.sim.SeedGroup(atlassiantest.Group{DisplayName: "engineering", Members: []atlassiantest.Member{{ID: stray.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	n := h.rec.Count()
	h.syncGroup("g1")
	reqs := h.rec.Since(n)
	if got := methods(reqs); !slices.Equal(got, []string{"GET", "PATCH"}) {
		t.Fatalf("calls = %v, want a search and a PATCH (no POST)", got)
	}
	if add, remove := idsInPatch(t, reqs[1]); !slices.Equal(add, h.remoteIDs("h1")) || !slices.Equal(remove, []string{stray.ID}) {
		t.Errorf("PATCH adds %v removes %v", add, remove)
	}
	if l := h.groupLink("g1"); l.RemoteID != seeded.ID {
		t.Errorf("link = %+v", l)
	}
	if e := h.reportsOf(store.OpGroupCreate); len(e) != 1 || !strings.Contains(e[0].Detail, "adopted existing group") {
		t.Errorf("create reports = %+v", e)
	}
}

func TestGroupOfAnotherOwnerIsAConflict(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	if _, err := h.sim.SeedGroup(atlassiantest.Group{DisplayName: "Engineering", ExternalID: "okta-00g1"}); err != nil {
		t.Fatal(err)
	}
	h.src.setGroup("g1", withMembers(engineering))
	h.syncGroup("g1")
	if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET"}) {
		t.Errorf("calls = %v", got)
	}
	if l := h.groupLink("g1"); l.Status != store.LinkParked || l.RemoteID != "" || !strings.Contains(l.Error, "okta-00g1") {
		t.Errorf("link = %+v", l)
	}
	if e := h.lastReport(); e.Operation != store.OpConflict || e.Status != store.ReportFailure {
		t.Errorf("report = %+v", e)
	}
	if n := h.queueLen(); n != 0 {
		t.Errorf("queue length %d: a conflict is parked, not retried", n)
	}
}

func TestGroupCreateConflicts(t *testing.T) {
	t.Run("adopted when the group turns up", func(t *testing.T) {
		h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
		h.src.setGroup("g1", withMembers(engineering))
		h.rec.SetBefore(func(r *http.Request) error {
			if r.Method == http.MethodPost {
				if _, err := h.sim.SeedGroup(atlassiantest.Group{DisplayName: "Engineering", ExternalID: "g1"}); err != nil {
					return err
				}
			}
			return nil
		})
		h.syncGroup("g1")
		if got := methods(h.rec.All()); !slices.Equal(got, []string{"GET", "POST", "GET"}) {
			t.Errorf("calls = %v", got)
		}
		if l := h.groupLink("g1"); l.Status != store.LinkActive || l.RemoteID != h.simGroup("Engineering").ID {
			t.Errorf("link = %+v", l)
		}
	})
	t.Run("parked when the name is taken elsewhere in the organisation", func(t *testing.T) {
		h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
		h.src.setGroup("g1", withMembers(engineering))
		h.rec.SetBefore(func(r *http.Request) error {
			if r.Method == http.MethodPost {
				h.sim.FailNext(1, http.StatusConflict, 0)
			}
			return nil
		})
		h.syncGroup("g1")
		if l := h.groupLink("g1"); l.Status != store.LinkParked || !strings.Contains(l.Error, "taken in the organisation") {
			t.Errorf("link = %+v", l)
		}
		if e := h.lastReport(); e.Operation != store.OpConflict || e.HTTPStatus != 409 {
			t.Errorf("report = %+v", e)
		}
	})
}

func TestGroupDroppedCreateResponseMakesNoDuplicate(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 1)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.sim.DropAfterCommit(1)
	h.syncGroup("g1")
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d", n)
	}
	h.clk.Advance(time.Second)
	h.step()
	if groups := h.sim.Groups(); len(groups) != 1 || !slices.Equal(memberIDsOf(groups[0]), h.remoteIDs("h1")) {
		t.Errorf("remote groups = %+v", groups)
	}
}

func TestRemoteGroupGoneIsCreatedAgain(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 2)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.syncGroup("g1")
	old := h.simGroup("Engineering")
	h.sim.DeleteGroup(old.ID)

	h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
	n := h.rec.Count()
	h.syncGroup("g1")
	if got := methods(h.rec.Since(n)); !slices.Equal(got, []string{"PATCH", "GET", "POST", "PATCH"}) {
		t.Errorf("calls = %v", got)
	}
	g := h.simGroup("Engineering")
	if !slices.Equal(memberIDsOf(g), h.remoteIDs("h1", "h2")) || h.groupLink("g1").RemoteID != g.ID {
		t.Errorf("remote group = %+v, link = %+v", g, h.groupLink("g1"))
	}
}

func TestGroupLinkWithoutAppliedStateAsksTheGroup(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 2)
	g, err := h.sim.SeedGroup(atlassiantest.Group{DisplayName: "Engineering", Members: []atlassiantest.Member{{ID: h.remoteID("h1")}}})
	if err != nil {
		t.Fatal(err)
	}
	// As an importer links a group: no state the reconciler vouches for.
	if err := h.st.PutLink(context.Background(), store.Link{App: testApp, Kind: store.KindGroup, HubID: "g1", RemoteID: g.ID, Status: store.LinkActive}); err != nil {
		t.Fatal(err)
	}
	h.src.setGroup("g1", withMembers(engineering, "h1", "h2"))
	h.syncGroup("g1")
	reqs := h.rec.All()
	if got := methods(reqs); !slices.Equal(got, []string{"GET", "PATCH"}) || !strings.HasSuffix(reqs[0].Path, "/Groups/"+g.ID) {
		t.Fatalf("calls = %v", got)
	}
	if add, remove := idsInPatch(t, reqs[1]); !slices.Equal(add, h.remoteIDs("h2")) || remove != nil {
		t.Errorf("PATCH adds %v removes %v", add, remove)
	}
	if st := h.groupState("g1"); !slices.Equal(st.Members, h.remoteIDs("h1", "h2")) {
		t.Errorf("state = %+v", st)
	}
}

// userSource is a Source that cannot compute groups.
type userSource struct{}

func (userSource) DesiredUser(context.Context, string, string) (Desired, error) {
	return Desired{}, nil
}

func TestNewRefusesGroupsWithoutAGroupSource(t *testing.T) {
	_, err := New(Options{Store: backends["bolt"](t), Source: userSource{}, Apps: []AppConfig{
		{Name: "a", Type: "scim", Groups: true, Client: scimclient.Options{BaseURL: "http://x", Token: "t"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "GroupSource") {
		t.Errorf("New: %v", err)
	}
	_, err = New(Options{Store: backends["bolt"](t), Source: userSource{}, Apps: []AppConfig{
		{Name: "a", Type: "scim", Client: scimclient.Options{BaseURL: "http://x", Token: "t"}, MaxGroupMembers: -1},
	}})
	if err == nil || !strings.Contains(err.Error(), "max group members -1") {
		t.Errorf("New: %v", err)
	}
}

// cancelOnPutLink cancels a context once a link of a user has been stored:
// a process that dies right after its account change landed.
type cancelOnPutLink struct {
	Store
	cancel func()
}

func (s *cancelOnPutLink) PutLink(ctx context.Context, l store.Link) error {
	err := s.Store.PutLink(ctx, l)
	if l.Kind == store.KindUser && l.RemoteID != "" {
		s.cancel()
	}
	return err
}

// The user's groups are queued before its account changes: a process that
// dies right after the change cannot lose them (the retry finds the
// account linked and changes nothing).
func TestGroupsQueuedBeforeTheAccountChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{opts: func(o *Options) {
		o.Store = &cancelOnPutLink{Store: o.Store, cancel: cancel}
	}})
	d := person("h1", alice, "Alice Smith")
	d.GroupIDs = []string{"g1"}
	h.src.set("h1", d)
	h.mark("h1")
	if ok, err := h.r.Step(ctx, testApp); !ok || err != nil {
		t.Fatalf("step: %v %v", ok, err)
	}
	if l := h.link("h1"); l.RemoteID == "" {
		t.Fatalf("link = %+v", l)
	}
	if n := h.queueLen(); n != 2 {
		t.Fatalf("queue length %d, want the abandoned user key and its group", n)
	}
	h.clk.Advance(DefaultLease)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.drain()
	if got := memberIDsOf(h.simGroup("Engineering")); !slices.Equal(got, h.remoteIDs("h1")) {
		t.Errorf("remote members = %v", got)
	}
}

// The user's groups are queued again once the account exists: the group
// may have been reconciled while the account was being created.
func TestGroupsQueuedAgainOnceTheAccountExists(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	r2 := h.secondRunner()
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	d := person("h1", alice, "Alice Smith")
	d.GroupIDs = []string{"g1"}
	h.src.set("h1", d)
	var once sync.Once
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") {
			once.Do(func() {
				// Another replica works the group while the account is
				// being created: it finds no account to add.
				h.clk.Advance(DefaultGroupDelay)
				if ok, err := r2.Step(context.Background(), testApp); !ok || err != nil {
					t.Errorf("group step: %v %v", ok, err)
				}
			})
		}
		return nil
	})
	h.sync("h1")
	if st := h.groupState("g1"); len(st.Members) != 0 {
		t.Fatalf("group state = %+v, want it created before the account existed", st)
	}
	if n := h.queueLen(); n != 1 {
		t.Fatalf("queue length %d, want the group queued again", n)
	}
	h.clk.Advance(DefaultGroupDelay)
	h.step()
	if got := memberIDsOf(h.simGroup("Engineering")); !slices.Equal(got, h.remoteIDs("h1")) {
		t.Errorf("remote members = %v", got)
	}
}

func TestMemberIDNeedsAnActiveAccount(t *testing.T) {
	state := func(active bool) []byte { return canon.JSON(map[string]any{"userName": alice, "active": active}) }
	for _, tc := range []struct {
		name string
		l    *store.Link
		want string
	}{
		{"no link", nil, ""},
		{"active", &store.Link{RemoteID: "r1", Status: store.LinkActive}, "r1"},
		{"deactivated", &store.Link{RemoteID: "r1", Status: store.LinkDeactivated}, ""},
		// An update the target refused keeps the account a member.
		{"parked active", &store.Link{RemoteID: "r1", Status: store.LinkParked, State: state(true)}, "r1"},
		{"parked inactive", &store.Link{RemoteID: "r1", Status: store.LinkParked, State: state(false)}, ""},
		{"parked create", &store.Link{Status: store.LinkParked}, ""},
	} {
		if got := memberID(tc.l); got != tc.want {
			t.Errorf("%s: memberID = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A change of case only cannot be made on Atlassian, whose names are
// unique case-insensitively: the group stays, nothing is deleted.
func TestGroupCaseOnlyRenameOnAtlassianKeepsTheGroup(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 1)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.syncGroup("g1")
	id := h.simGroup("Engineering").ID
	g := withMembers(engineering, "h1")
	g.Name = "ENGINEERING"
	h.src.setGroup("g1", g)
	n := h.rec.Count()
	h.syncGroup("g1")
	if got := methods(h.rec.Since(n)); !slices.Equal(got, []string{"GET"}) {
		t.Errorf("calls = %v, want the search alone", got)
	}
	if groups := h.sim.Groups(); len(groups) != 1 || groups[0].ID != id {
		t.Errorf("remote groups = %+v", groups)
	}
	if st := h.groupState("g1"); st.Name != "ENGINEERING" || h.groupLink("g1").RemoteID != id {
		t.Errorf("state = %+v", st)
	}
	if e := h.lastReport(); e.Operation != store.OpGroupUpdate || e.Status != store.ReportSkipped {
		t.Errorf("report = %+v", e)
	}
	n = h.rec.Count()
	h.syncGroup("g1")
	if h.rec.Count() != n {
		t.Error("calls for a converged group")
	}
}

// Renamed back to the first name before the first rename finished: the
// first group is kept, the one in between deleted.
func TestGroupRenamedBackBeforeTheFirstRenameFinished(t *testing.T) {
	h := newGroupHarness(t, backends["bolt"](t), harnessConfig{})
	h.seedLinked(1, 1)
	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.syncGroup("g1")
	first := h.simGroup("Engineering")
	h.rec.SetBefore(func(r *http.Request) error {
		if r.Method == http.MethodDelete {
			return errors.New("connection reset")
		}
		return nil
	})
	g := withMembers(engineering, "h1")
	g.Name = "Platform"
	h.src.setGroup("g1", g)
	h.syncGroup("g1")
	h.rec.SetBefore(nil)

	h.src.setGroup("g1", withMembers(engineering, "h1"))
	h.clk.Advance(time.Second)
	h.step()
	groups := h.sim.Groups()
	if len(groups) != 1 || groups[0].ID != first.ID || !slices.Equal(memberIDsOf(groups[0]), h.remoteIDs("h1")) {
		t.Errorf("remote groups = %+v, want the first group alone", groups)
	}
	if st, l := h.groupState("g1"), h.groupLink("g1"); l.RemoteID != first.ID || st.Name != "Engineering" || st.Replaces != nil {
		t.Errorf("link = %+v, state = %+v", l, st)
	}
}
