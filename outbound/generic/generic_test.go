package generic

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/internal/store/bolt"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/targettest"
)

const testToken = "tok-5f1e8a0b9c7d4e2f"

// TestContract: the generic profile against a generic RFC 7644 service
// provider passes the contract every profile passes. The provider is the
// project's own SCIM server (package gateway, on a bolt store), which is
// one: it has no profile-specific leniency the way a simulator written
// for this profile could have.
func TestContract(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Fixture {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "sp.db"), bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		srv, err := gateway.New(gateway.Options{Store: st,
			IDPAuth: gateway.NewCredentials([]gateway.StaticToken{{Name: "sp", Value: testToken}}, nil, nil, nil)})
		if err != nil {
			t.Fatal(err)
		}
		sp := httptest.NewServer(srv.Handler())
		t.Cleanup(sp.Close)
		rec := targettest.NewRecorder()
		tg, err := New(scimclient.Options{BaseURL: sp.URL + "/scim/v2", Token: testToken, HTTPClient: &http.Client{Transport: rec}})
		if err != nil {
			t.Fatal(err)
		}
		// Seed creates the account with a client of its own, so the
		// target's recorder does not see it.
		seed, err := scimclient.New(scimclient.Options{BaseURL: sp.URL + "/scim/v2", Token: testToken})
		if err != nil {
			t.Fatal(err)
		}
		return targettest.Fixture{Target: tg, Recorder: rec, Seed: func(userName, externalID string) (string, error) {
			res, err := seed.Create(context.Background(), usersEndpoint, targettest.User(userName, externalID, "Seeded User"))
			if err != nil {
				return "", fmt.Errorf("seed %s: %w", userName, err)
			}
			return scimclient.StringField(res, "id"), nil
		}}
	})
}

func TestSCIMProfile(t *testing.T) {
	s := targettest.NewStub(t)
	s.Answer(200, map[string]string{"Content-Type": "application/scim+json"}, `{
		"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"itemsPerPage":2,"startIndex":1,
		"Resources":[
			{"id":"r1","userName":"a@example.com","externalId":"someone-else","active":"False"},
			{"id":"r2","userName":"a-old@example.com","externalId":"h1","active":true}]}`)
	tg, err := New(scimclient.Options{BaseURL: s.URL + "/scim/v2", Token: testToken})
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
	if f := s.Last().URL.Query().Get("filter"); f != `userName eq "a@example.com" or externalId eq "h1"` {
		t.Errorf("filter = %q, want one query with or", f)
	}

	// The service provider answers PATCH with 204.
	s.Answer(204, nil, "")
	got, err := tg.UpdateUser(context.Background(), "r2", map[string]any{"title": "a"}, map[string]any{"title": "b"})
	if err != nil || got != nil {
		t.Errorf("UpdateUser = %+v, %v", got, err)
	}
	if ct := s.Last().Header.Get("Content-Type"); ct != "application/scim+json" {
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
