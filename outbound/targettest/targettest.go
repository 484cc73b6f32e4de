// Package targettest is the contract every target profile and the server
// it is tested against must pass (Run), with the HTTP test support the
// profiles' tests share: a recording transport and a canned-answer server.
// Like net/http/httptest, it is imported by tests only.
package targettest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// Fixture is a target under test, talking over real loopback HTTP to a
// server with the semantics of the service provider it targets.
type Fixture struct {
	// Target is the profile under test. Its client sends through Recorder.
	Target   target.Target
	Recorder *Recorder
	// Seed creates a user account on the server directly, not through
	// Target, and returns its id.
	Seed func(userName, externalID string) (string, error)
}

// Run checks the Target contract on fresh fixtures: lookups, create,
// update, activation, delete and groups, each case on a new fixture.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Helper()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, f Fixture)
	}{
		{"FindNothing", findNothing},
		{"CreateThenFind", createThenFind},
		{"FindSeeded", findSeeded},
		{"CreateConflict", createConflict},
		{"UpdateOnlyWhatChanged", updateOnlyWhatChanged},
		{"SetActive", setActive},
		{"Delete", deleteUser},
		{"Groups", groups},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newFixture(t)) })
	}
}

// User returns a SCIM user body as the reconcilers send one.
func User(userName, externalID, displayName string) map[string]any {
	given, family, _ := strings.Cut(displayName, " ")
	return map[string]any{
		"schemas":     []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"externalId":  externalID,
		"displayName": displayName,
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"title":       "Engineer",
		"active":      true,
	}
}

func mustCreate(t *testing.T, f Fixture, userName, externalID string) *target.RemoteUser {
	t.Helper()
	u, err := f.Target.CreateUser(context.Background(), User(userName, externalID, "Test User"))
	if err != nil {
		t.Fatalf("CreateUser %s: %v", userName, err)
	}
	if u == nil || u.ID == "" {
		t.Fatalf("CreateUser %s = %+v: want an account with an id", userName, u)
	}
	return u
}

func mustFind(t *testing.T, f Fixture, userName, externalID string) *target.RemoteUser {
	t.Helper()
	u, err := f.Target.FindUser(context.Background(), userName, externalID)
	if err != nil {
		t.Fatalf("FindUser(%q, %q): %v", userName, externalID, err)
	}
	return u
}

func findNothing(t *testing.T, f Fixture) {
	ctx := context.Background()
	if u := mustFind(t, f, "nobody@example.com", "ext-nobody"); u != nil {
		t.Errorf("FindUser of no account = %+v, want nil", u)
	}
	if u, err := f.Target.FindUserBeforeCreate(ctx, "nobody@example.com", "ext-nobody"); err != nil || u != nil {
		t.Errorf("FindUserBeforeCreate of no account = %+v, %v; want nil, nil", u, err)
	}
	if g, err := f.Target.FindGroup(ctx, "No Such Group"); err != nil || g != nil {
		t.Errorf("FindGroup of no group = %+v, %v; want nil, nil", g, err)
	}
}

func createThenFind(t *testing.T, f Fixture) {
	ctx := context.Background()
	u := mustCreate(t, f, "alice@example.com", "hub-alice")
	if u.UserName != "alice@example.com" || u.ExternalID != "hub-alice" || u.Active == nil || !*u.Active {
		t.Errorf("created = %+v, want userName, externalId and active as sent", u)
	}
	for _, q := range []struct{ what, userName, externalID string }{
		{"by userName", "alice@example.com", ""},
		{"by userName, another case", "ALICE@example.com", ""},
		{"by externalId after a rename", "alice.renamed@example.com", "hub-alice"},
		{"by both", "alice@example.com", "hub-alice"},
	} {
		if got := mustFind(t, f, q.userName, q.externalID); got == nil || got.ID != u.ID {
			t.Errorf("FindUser %s = %+v, want %s", q.what, got, u.ID)
		}
	}
	got, err := f.Target.FindUserBeforeCreate(ctx, "alice@example.com", "hub-alice")
	if err != nil || got == nil || got.ID != u.ID {
		t.Errorf("FindUserBeforeCreate = %+v, %v; want %s", got, err, u.ID)
	}
}

func findSeeded(t *testing.T, f Fixture) {
	id, err := f.Seed("seeded@example.com", "hub-seeded")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, f, "seeded@example.com", "hub-seeded"); got == nil || got.ID != id {
		t.Errorf("FindUser of an account created on the server = %+v, want %s", got, id)
	}
}

func createConflict(t *testing.T, f Fixture) {
	mustCreate(t, f, "bob@example.com", "hub-bob")
	_, err := f.Target.CreateUser(context.Background(), User("bob@example.com", "hub-bob-2", "Bob Two"))
	var re *scimclient.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusConflict {
		t.Errorf("second create of one userName: %v, want a RemoteError with status 409", err)
	}
}

func updateOnlyWhatChanged(t *testing.T, f Fixture) {
	ctx := context.Background()
	attrs := User("carol@example.com", "hub-carol", "Carol Smith")
	u, err := f.Target.CreateUser(ctx, attrs)
	if err != nil {
		t.Fatal(err)
	}
	n := f.Recorder.Count()
	if got, err := f.Target.UpdateUser(ctx, u.ID, attrs, User("carol@example.com", "hub-carol", "Carol Smith")); err != nil || got != nil {
		t.Errorf("UpdateUser without a change = %+v, %v; want nil, nil", got, err)
	}
	if calls := f.Recorder.Count() - n; calls != 0 {
		t.Errorf("UpdateUser without a change made %d calls, want none", calls)
	}
	next := User("carol@example.com", "hub-carol", "Carol Jones")
	delete(next, "title")
	if _, err := f.Target.UpdateUser(ctx, u.ID, attrs, next); err != nil {
		t.Fatal(err)
	}
	if calls := f.Recorder.Since(n); len(calls) != 1 || calls[0].Method != http.MethodPatch {
		t.Errorf("UpdateUser sent %v, want one PATCH", methods(calls))
	}
	got := mustFind(t, f, "carol@example.com", "")
	if got == nil {
		t.Fatal("the updated account is gone")
	}
	if dn := scimclient.StringField(got.Attributes, "displayName"); dn != "Carol Jones" {
		t.Errorf("displayName after the update = %q, want Carol Jones", dn)
	}
	if title := scimclient.StringField(got.Attributes, "title"); title != "" {
		t.Errorf("title after its removal = %q, want none", title)
	}
}

func setActive(t *testing.T, f Fixture) {
	ctx := context.Background()
	u := mustCreate(t, f, "dave@example.com", "hub-dave")
	for _, want := range []bool{false, true} {
		got, err := f.Target.SetActive(ctx, u.ID, want)
		if err != nil {
			t.Fatalf("SetActive %v: %v", want, err)
		}
		if got != nil && (got.Active == nil || *got.Active != want) {
			t.Errorf("SetActive %v answered %+v", want, got)
		}
		if now := mustFind(t, f, "dave@example.com", ""); now == nil || now.Active == nil || *now.Active != want {
			t.Errorf("after SetActive %v the account reads %+v", want, now)
		}
	}
}

func deleteUser(t *testing.T, f Fixture) {
	ctx := context.Background()
	u := mustCreate(t, f, "erin@example.com", "hub-erin")
	if err := f.Target.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, f, "erin@example.com", "hub-erin"); got != nil {
		t.Errorf("a deleted account is still found: %+v", got)
	}
	var re *scimclient.RemoteError
	if err := f.Target.DeleteUser(ctx, u.ID); !errors.As(err, &re) || re.Status != http.StatusNotFound {
		t.Errorf("second delete: %v, want a RemoteError with status 404", err)
	}
}

func groups(t *testing.T, f Fixture) {
	ctx := context.Background()
	u1 := mustCreate(t, f, "g1@example.com", "hub-g1")
	u2 := mustCreate(t, f, "g2@example.com", "hub-g2")
	g, err := f.Target.CreateGroup(ctx, "Engineering Team", "hub-group-1")
	if err != nil || g == nil || g.ID == "" {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	if found, err := f.Target.FindGroup(ctx, "engineering team"); err != nil || found == nil || found.ID != g.ID {
		t.Errorf("FindGroup in another case = %+v, %v; want %s", found, err, g.ID)
	}
	members := func(want ...string) {
		t.Helper()
		got, err := f.Target.GetGroup(ctx, g.ID)
		if err != nil {
			t.Fatalf("GetGroup: %v", err)
		}
		have := slices.Sorted(slices.Values(got.Members))
		slices.Sort(want)
		if len(want) > 0 && !got.MembersKnown || !slices.Equal(have, want) {
			t.Errorf("members = %v (known %v), want %v", have, got.MembersKnown, want)
		}
	}
	members()
	if _, err := f.Target.PatchMembers(ctx, g.ID, []string{u1.ID, u2.ID}, nil); err != nil {
		t.Fatal(err)
	}
	members(u1.ID, u2.ID)
	n := f.Recorder.Count()
	if _, err := f.Target.PatchMembers(ctx, g.ID, nil, nil); err != nil || f.Recorder.Count() != n {
		t.Errorf("PatchMembers of nothing: %v, %d calls; want no call", err, f.Recorder.Count()-n)
	}
	if _, err := f.Target.PatchMembers(ctx, g.ID, nil, []string{u1.ID}); err != nil {
		t.Fatal(err)
	}
	members(u2.ID)

	_, err = f.Target.RenameGroup(ctx, g.ID, "Engineering Renamed")
	switch {
	case f.Target.RenamesGroups() && err != nil:
		t.Errorf("RenameGroup: %v", err)
	case f.Target.RenamesGroups():
		if found, err := f.Target.FindGroup(ctx, "Engineering Renamed"); err != nil || found == nil || found.ID != g.ID {
			t.Errorf("after a rename FindGroup(new name) = %+v, %v", found, err)
		}
	case !errors.Is(err, target.ErrGroupRename):
		t.Errorf("RenameGroup of a profile that cannot rename: %v, want ErrGroupRename", err)
	}

	if err := f.Target.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Engineering Team", "Engineering Renamed"} {
		if found, err := f.Target.FindGroup(ctx, name); err != nil || found != nil {
			t.Errorf("FindGroup(%q) after delete = %+v, %v; want nil", name, found, err)
		}
	}
}

func methods(rs []Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprint(r.Method, " ", r.Path)
	}
	return out
}
