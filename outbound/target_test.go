package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/atlassiantest"
)

func newSimTarget(t *testing.T, typ string) (Target, *atlassiantest.Server, *recorder) {
	t.Helper()
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: testToken})
	t.Cleanup(sim.Close)
	rec := newRecorder()
	tg, err := NewTarget(typ, ClientOptions{BaseURL: sim.URL(), Token: testToken, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	return tg, sim, rec
}

func seedUser(t *testing.T, sim *atlassiantest.Server, userName, externalID string) atlassiantest.User {
	t.Helper()
	n, _ := sim.Counts()
	u, err := sim.Seed(atlassiantest.User{UserName: userName, ExternalID: externalID, Active: true,
		Emails: []atlassiantest.MultiValue{{Value: fmt.Sprintf("seed%d@example.com", n), Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAtlassianFindUser(t *testing.T) {
	tg, sim, rec := newSimTarget(t, "atlassian")
	unclaimed := seedUser(t, sim, "a@example.com", "")
	renamed := seedUser(t, sim, "b@example.com", "h2")
	seedUser(t, sim, "c@example.com", "someone-else")
	ours := seedUser(t, sim, "c-old@example.com", "h3")
	quoted := seedUser(t, sim, `o"brien\x@example.com`, "")
	ctx := context.Background()

	cases := []struct {
		name, userName, externalID string
		want                       string // remote id, "" for none
		calls                      int
	}{
		{"by userName, unclaimed", "a@example.com", "h1", unclaimed.ID, 1},
		{"by userName, case-insensitive", "A@Example.com", "h1", unclaimed.ID, 1},
		{"by externalId after a rename", "b-new@example.com", "h2", renamed.ID, 2},
		{"ours wins over someone else's userName", "c@example.com", "h3", ours.ID, 2},
		{"someone else's, nothing of ours", "c@example.com", "h4", "", 2},
		{"none", "z@example.com", "h9", "", 2},
		{"no externalId: one call", "z@example.com", "", "", 1},
		{"quotes and backslashes are escaped", `o"brien\x@example.com`, "", quoted.ID, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := rec.count()
			u, err := tg.FindUser(ctx, tc.userName, tc.externalID)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if u != nil {
				got = u.ID
			}
			if tc.name == "someone else's, nothing of ours" {
				// Returned, for the caller to report as a conflict.
				if u == nil || u.ExternalID != "someone-else" {
					t.Errorf("got %+v, want someone else's account", u)
				}
			} else if got != tc.want {
				t.Errorf("found %q, want %q", got, tc.want)
			}
			if calls := rec.count() - n; calls != tc.calls {
				t.Errorf("%d calls, want %d", calls, tc.calls)
			}
		})
	}
}

func TestAtlassianLifecycle(t *testing.T) {
	tg, sim, rec := newSimTarget(t, "atlassian")
	ctx := context.Background()
	attrs := person("h1", alice, "Alice Smith").Attributes
	u, err := tg.CreateUser(ctx, attrs)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.UserName != alice || u.ExternalID != "h1" || u.Active == nil || !*u.Active || u.Attributes["meta"] == nil {
		t.Errorf("created = %+v", u)
	}

	// Unchanged: no call.
	n := rec.count()
	if got, err := tg.UpdateUser(ctx, u.ID, attrs, cloneAttrs(attrs)); err != nil || got != nil || rec.count() != n {
		t.Errorf("UpdateUser without changes: %v, %v, %d calls", got, err, rec.count()-n)
	}

	next := cloneAttrs(attrs)
	next["displayName"] = "Alice Jones"
	next["name"] = map[string]any{"givenName": "Alice", "familyName": "Jones"}
	delete(next, "title")
	got, err := tg.UpdateUser(ctx, u.ID, attrs, next)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attributes["displayName"] != "Alice Jones" {
		t.Errorf("updated = %+v", got)
	}
	r := rec.all()[rec.count()-1]
	if r.Method != "PATCH" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	var paths []string
	for _, op := range patchOpsOf(t, r) {
		paths = append(paths, fmt.Sprint(op["op"], " ", op["path"]))
	}
	if want := []string{"replace displayName", "replace name", "remove title"}; !slices.Equal(paths, want) {
		t.Errorf("ops = %v, want %v", paths, want)
	}
	su, _ := sim.User(u.ID)
	if su.DisplayName != "Alice Jones" || su.Name.FamilyName != "Jones" || su.Title != "" {
		t.Errorf("remote = %+v", su)
	}

	off, err := tg.SetActive(ctx, u.ID, false)
	if err != nil || off.Active == nil || *off.Active {
		t.Fatalf("SetActive false = %+v, %v", off, err)
	}
	on, err := tg.SetActive(ctx, u.ID, true)
	if err != nil || on.Active == nil || !*on.Active {
		t.Fatalf("SetActive true = %+v, %v", on, err)
	}
	if err := tg.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := sim.User(u.ID); ok {
		t.Error("record survives DELETE")
	}
	var re *RemoteError
	if err := tg.DeleteUser(ctx, u.ID); !errors.As(err, &re) || re.Status != 404 {
		t.Errorf("second DELETE: %v", err)
	}
}

func TestSCIMProfile(t *testing.T) {
	s := newStub(t)
	s.answer(200, map[string]string{"Content-Type": "application/scim+json"}, `{
		"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"itemsPerPage":2,"startIndex":1,
		"Resources":[
			{"id":"r1","userName":"a@example.com","externalId":"someone-else","active":"False"},
			{"id":"r2","userName":"a-old@example.com","externalId":"h1","active":true}]}`)
	tg, err := NewTarget("scim", ClientOptions{BaseURL: s.srv.URL + "/scim/v2", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	u, err := tg.FindUser(context.Background(), "a@example.com", "h1")
	if err != nil {
		t.Fatal(err)
	}
	if u == nil || u.ID != "r2" {
		t.Errorf("found %+v, want r2 (ours by externalId)", u)
	}
	if f := s.last.URL.Query().Get("filter"); f != `userName eq "a@example.com" or externalId eq "h1"` {
		t.Errorf("filter = %q, want one query with or", f)
	}

	// The service provider answers PATCH with 204.
	s.answer(204, nil, "")
	got, err := tg.UpdateUser(context.Background(), "r2", map[string]any{"title": "a"}, map[string]any{"title": "b"})
	if err != nil || got != nil {
		t.Errorf("UpdateUser = %+v, %v", got, err)
	}
	if ct := s.last.Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestRemoteUserReadsActive(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{{true, "true"}, {false, "false"}, {"False", "false"}, {"TRUE", "true"}, {"maybe", "unknown"}, {nil, "unknown"}} {
		res := map[string]any{"id": "x"}
		if tc.v != nil {
			res["Active"] = tc.v
		}
		got := "unknown"
		if a := remoteUser(res).Active; a != nil {
			got = fmt.Sprint(*a)
		}
		if got != tc.want {
			t.Errorf("active %v read as %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestNewTargetUnknownType(t *testing.T) {
	if _, err := NewTarget("okta", ClientOptions{BaseURL: "https://x", Token: "t"}); err == nil || !strings.Contains(err.Error(), "atlassian, scim") {
		t.Errorf("err = %v", err)
	}
	if got := Profiles(); !slices.Equal(got, []string{"atlassian", "scim"}) {
		t.Errorf("Profiles() = %v", got)
	}
}
