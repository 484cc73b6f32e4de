package atlassian_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/scimgate/scim-gateway/outbound/atlassian"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/targettest"
)

const testToken = "tok-5f1e8a0b9c7d4e2f"

// newSimTarget is an Atlassian target of a fresh simulator, its calls
// recorded.
func newSimTarget(t *testing.T) (*atlassian.Target, *atlassiantest.Server, *targettest.Recorder) {
	t.Helper()
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: testToken})
	t.Cleanup(sim.Close)
	rec := targettest.NewRecorder()
	tg, err := atlassian.New(scimclient.Options{BaseURL: sim.URL(), Token: testToken, HTTPClient: &http.Client{Transport: rec}})
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

// TestContract: the profile against the simulator passes the contract
// every target profile passes.
func TestContract(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Fixture {
		tg, sim, rec := newSimTarget(t)
		return targettest.Fixture{Target: tg, Recorder: rec, Seed: func(userName, externalID string) (string, error) {
			u, err := sim.Seed(atlassiantest.User{UserName: userName, ExternalID: externalID, Active: true,
				Emails: []atlassiantest.MultiValue{{Value: userName, Primary: true}}})
			return u.ID, err
		}}
	})
}

func TestAtlassianFindUser(t *testing.T) {
	tg, sim, rec := newSimTarget(t)
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
			n := rec.Count()
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
			if calls := rec.Count() - n; calls != tc.calls {
				t.Errorf("%d calls, want %d", calls, tc.calls)
			}
		})
	}
}

func TestAtlassianLifecycle(t *testing.T) {
	tg, sim, rec := newSimTarget(t)
	ctx := context.Background()
	attrs := targettest.User("alice@example.com", "h1", "Alice Smith")
	u, err := tg.CreateUser(ctx, attrs)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.UserName != "alice@example.com" || u.ExternalID != "h1" || u.Active == nil || !*u.Active || u.Attributes["meta"] == nil {
		t.Errorf("created = %+v", u)
	}

	// Unchanged: no call.
	n := rec.Count()
	if got, err := tg.UpdateUser(ctx, u.ID, attrs, clone(attrs)); err != nil || got != nil || rec.Count() != n {
		t.Errorf("UpdateUser without changes: %v, %v, %d calls", got, err, rec.Count()-n)
	}

	next := targettest.User("alice@example.com", "h1", "Alice Jones")
	delete(next, "title")
	got, err := tg.UpdateUser(ctx, u.ID, attrs, next)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attributes["displayName"] != "Alice Jones" {
		t.Errorf("updated = %+v", got)
	}
	r := rec.All()[rec.Count()-1]
	if r.Method != "PATCH" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	var paths []string
	for _, op := range targettest.PatchOps(t, r) {
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
	var re *scimclient.RemoteError
	if err := tg.DeleteUser(ctx, u.ID); !errors.As(err, &re) || re.Status != 404 {
		t.Errorf("second DELETE: %v", err)
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
