package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

func linkTests() []test {
	return []test{
		{"PutGet", testLinkPutGet},
		{"Replace", testLinkReplace},
		{"Delete", testLinkDelete},
		{"Scoped", testLinkScoped},
		{"List", testLinkList},
		{"ReturnsCopies", testLinkCopies},
	}
}

// checkLink compares two links field by field (State as JSON, times with
// Equal).
func checkLink(t testing.TB, what string, got *store.Link, want store.Link) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil link", what)
	}
	g, w := *got, want
	if !jsonEqualOrEmpty(g.State, w.State) {
		t.Errorf("%s: State = %s, want %s (compared as JSON)", what, g.State, w.State)
	}
	if !g.AppliedAt.Equal(w.AppliedAt) {
		t.Errorf("%s: AppliedAt = %v, want %v", what, g.AppliedAt, w.AppliedAt)
	}
	g.State, w.State = nil, nil
	g.AppliedAt, w.AppliedAt = time.Time{}, time.Time{}
	if g.App != w.App || g.Kind != w.Kind || g.HubID != w.HubID || g.RemoteID != w.RemoteID ||
		g.Hash != w.Hash || g.AppliedHash != w.AppliedHash || g.Status != w.Status || g.Error != w.Error {
		t.Errorf("%s: link = %+v, want %+v", what, g, w)
	}
}

// jsonEqualOrEmpty is jsonEqual, with an absent value equal to an absent one.
func jsonEqualOrEmpty(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return jsonEqual(a, b)
}

func sampleLink(app string, kind store.Kind, hub, remote string) store.Link {
	return store.Link{
		App: app, Kind: kind, HubID: hub, RemoteID: remote,
		Hash:        "sha256:" + remote,
		AppliedHash: "desired:" + remote,
		State:       json.RawMessage(`{"id": "` + remote + `", "active": true, "meta": {"version": "W/\"3\""}}`),
		AppliedAt:   time.Date(2031, time.March, 1, 2, 3, 4, 5006007, time.UTC),
		Status:      "active",
	}
}

func testLinkPutGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := sampleLink("bitbucket", store.KindUser, "u1", "r-1")
	l.Error = "last attempt: 429"
	noErr(t, s.PutLink(ctx, l), "put link")

	got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
	noErr(t, err, "get link")
	checkLink(t, "GetLink", got, l)
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
	noErr(t, err, "link by remote")
	checkLink(t, "LinkByRemote", got, l)

	// A link with no state, hash or status round-trips as empty.
	bare := store.Link{App: "bitbucket", Kind: store.KindGroup, HubID: "g1", RemoteID: "rg-1", AppliedAt: at(time.Second)}
	noErr(t, s.PutLink(ctx, bare), "put bare link")
	got, err = s.GetLink(ctx, "bitbucket", store.KindGroup, "g1")
	noErr(t, err, "get bare link")
	checkLink(t, "bare link", got, bare)

	_, err = s.GetLink(ctx, "bitbucket", store.KindUser, "u2")
	wantErr(t, err, store.ErrNotFound, "get a missing link")
	_, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-2")
	wantErr(t, err, store.ErrNotFound, "link by a missing remote id")
}

// testLinkReplace: PutLink replaces the link of (App, Kind, HubID), and a
// changed RemoteID drops the old reverse entry.
func testLinkReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, s.PutLink(ctx, sampleLink("bitbucket", store.KindUser, "u1", "r-old")), "put link")

	upd := sampleLink("bitbucket", store.KindUser, "u1", "r-new")
	upd.Status = "deactivated"
	upd.Hash = "sha256:other"
	upd.AppliedAt = at(time.Hour)
	noErr(t, s.PutLink(ctx, upd), "replace link")

	got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
	noErr(t, err, "get link")
	checkLink(t, "replaced link", got, upd)
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-new")
	noErr(t, err, "link by new remote id")
	checkLink(t, "link by new remote id", got, upd)
	_, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-old")
	wantErr(t, err, store.ErrNotFound, "link by the dropped remote id")

	// Same RemoteID, new state: the reverse entry stays.
	upd.Status = "active"
	noErr(t, s.PutLink(ctx, upd), "replace link keeping its remote id")
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-new")
	noErr(t, err, "link by kept remote id")
	checkLink(t, "link by kept remote id", got, upd)

	// The dropped remote id is free for another hub resource.
	other := sampleLink("bitbucket", store.KindUser, "u2", "r-old")
	noErr(t, s.PutLink(ctx, other), "put link reusing a dropped remote id")
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-old")
	noErr(t, err, "link by reused remote id")
	checkLink(t, "link by reused remote id", got, other)
}

// testLinkDelete: DeleteLink drops the link and its reverse entry; a
// missing link is ErrNotFound.
func testLinkDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, s.PutLink(ctx, sampleLink("bitbucket", store.KindUser, "u1", "r-1")), "put link")
	keep := sampleLink("bitbucket", store.KindUser, "u2", "r-2")
	noErr(t, s.PutLink(ctx, keep), "put link")

	noErr(t, s.DeleteLink(ctx, "bitbucket", store.KindUser, "u1"), "delete link")
	_, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
	wantErr(t, err, store.ErrNotFound, "get a deleted link")
	_, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
	wantErr(t, err, store.ErrNotFound, "link by the remote id of a deleted link")
	err = s.DeleteLink(ctx, "bitbucket", store.KindUser, "u1")
	wantErr(t, err, store.ErrNotFound, "delete a deleted link")
	err = s.DeleteLink(ctx, "bitbucket", store.KindGroup, "u2")
	wantErr(t, err, store.ErrNotFound, "delete a link of another kind")

	got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u2")
	noErr(t, err, "get the other link")
	checkLink(t, "other link", got, keep)
	links, err := s.Links(ctx, "bitbucket", store.KindUser, "", 10)
	noErr(t, err, "links")
	if len(links) != 1 || links[0].HubID != "u2" {
		t.Errorf("links after delete = %+v, want only u2", links)
	}
}

// testLinkScoped: links are per (app, kind); the same hub id and the same
// remote id live independently in each.
func testLinkScoped(t *testing.T, s store.Store) {
	ctx := t.Context()
	links := []store.Link{
		sampleLink("bitbucket", store.KindUser, "x1", "r-1"),
		sampleLink("jira", store.KindUser, "x1", "r-1"),
		sampleLink("bitbucket", store.KindGroup, "x1", "r-1"),
		sampleLink("jira", store.KindUser, "x2", "r-2"),
	}
	links[1].Status = "parked"
	links[2].Status = "group"
	for _, l := range links {
		noErr(t, s.PutLink(ctx, l), "put link %s %s %s", l.App, l.Kind, l.HubID)
	}
	for _, l := range links {
		got, err := s.GetLink(ctx, l.App, l.Kind, l.HubID)
		noErr(t, err, "get link %s %s %s", l.App, l.Kind, l.HubID)
		checkLink(t, "scoped GetLink", got, l)
		got, err = s.LinkByRemote(ctx, l.App, l.Kind, l.RemoteID)
		noErr(t, err, "link by remote %s %s %s", l.App, l.Kind, l.RemoteID)
		checkLink(t, "scoped LinkByRemote", got, l)
	}
	_, err := s.GetLink(ctx, "bitbucket", store.KindUser, "x2")
	wantErr(t, err, store.ErrNotFound, "link of another app")
	_, err = s.LinkByRemote(ctx, "bitbucket", store.KindGroup, "r-2")
	wantErr(t, err, store.ErrNotFound, "remote id of another app")

	noErr(t, s.DeleteLink(ctx, "jira", store.KindUser, "x1"), "delete link")
	got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "x1")
	noErr(t, err, "link of the other app after delete")
	checkLink(t, "other app's link", got, links[0])
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
	noErr(t, err, "remote id of the other app after delete")
	checkLink(t, "other app's reverse link", got, links[0])
}

// testLinkList: Links pages an app's links of a kind by HubID, after an
// exclusive HubID, at most count.
func testLinkList(t *testing.T, s store.Store) {
	ctx := t.Context()
	hubs := []string{"u10", "u2", "u1", "a", "u3", "b7"}
	for i, h := range hubs {
		noErr(t, s.PutLink(ctx, sampleLink("bitbucket", store.KindUser, h, fmt.Sprintf("r-%d", i))), "put link")
	}
	noErr(t, s.PutLink(ctx, sampleLink("bitbucket", store.KindGroup, "a0", "rg")), "put group link")
	noErr(t, s.PutLink(ctx, sampleLink("jira", store.KindUser, "a1", "rj")), "put other app link")
	all := sorted(hubs)

	ids := func(after string, count int) []string {
		t.Helper()
		ls, err := s.Links(ctx, "bitbucket", store.KindUser, after, count)
		noErr(t, err, "links after %q count %d", after, count)
		var out []string
		for _, l := range ls {
			if l.App != "bitbucket" || l.Kind != store.KindUser {
				t.Errorf("Links(bitbucket, User) returned a link of %s %s", l.App, l.Kind)
			}
			out = append(out, l.HubID)
		}
		return out
	}
	if got := ids("", 100); !slices.Equal(got, all) {
		t.Fatalf("links = %q, want %q", got, all)
	}
	// Page through two at a time.
	var paged []string
	after := ""
	for range len(all) + 1 {
		page := ids(after, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("links page of %d, want at most 2", len(page))
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged links = %q, want %q", paged, all)
	}
	if got := ids("u10", 100); !slices.Equal(got, []string{"u2", "u3"}) {
		t.Errorf("links after u10 = %q, want [u2 u3]", got)
	}
	if got := ids("u11", 100); !slices.Equal(got, []string{"u2", "u3"}) {
		t.Errorf("links after a missing hub id u11 = %q, want [u2 u3]", got)
	}
	if got := ids("u3", 100); len(got) != 0 {
		t.Errorf("links after the last = %q, want none", got)
	}
	ls, err := s.Links(ctx, "bitbucket", store.KindUser, "", 1)
	noErr(t, err, "links")
	if len(ls) != 1 {
		t.Fatalf("links count 1 = %d links", len(ls))
	}
	checkLink(t, "listed link", &ls[0], sampleLink("bitbucket", store.KindUser, "a", "r-3"))
	ls, err = s.Links(ctx, "nope", store.KindUser, "", 10)
	noErr(t, err, "links of an app without links")
	if len(ls) != 0 {
		t.Errorf("links of an app without links = %+v", ls)
	}
}

func testLinkCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := sampleLink("bitbucket", store.KindUser, "u1", "r-1")
	want := l
	want.State = slices.Clone(l.State)
	noErr(t, s.PutLink(ctx, l), "put link")
	for i := range l.State {
		l.State[i] = ' '
	}
	got, err := s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
	noErr(t, err, "get link")
	checkLink(t, "after changing the put link", got, want)
	for i := range got.State {
		got.State[i] = ' '
	}
	got, err = s.LinkByRemote(ctx, "bitbucket", store.KindUser, "r-1")
	noErr(t, err, "link by remote")
	checkLink(t, "after changing a returned link", got, want)
	for i := range got.State {
		got.State[i] = ' '
	}
	ls, err := s.Links(ctx, "bitbucket", store.KindUser, "", 10)
	noErr(t, err, "links")
	if len(ls) != 1 {
		t.Fatalf("links = %+v, want one", ls)
	}
	for i := range ls[0].State {
		ls[0].State[i] = ' '
	}
	got, err = s.GetLink(ctx, "bitbucket", store.KindUser, "u1")
	noErr(t, err, "get link")
	checkLink(t, "after changing returned links", got, want)
}
