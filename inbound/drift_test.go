package inbound

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// driftEnv provisions alice, bob, carol and dave through the reconciler,
// then changes their accounts behind the gateway's back: alice's
// displayName and givenName (drift), bob's email case and carol's title
// (normalisation and an unmanaged attribute: no drift), dave deactivated
// (drift to inactive).
func driftEnv(t *testing.T, drift string) (*env, map[string]atlassiantest.User) {
	t.Helper()
	e := newEnv(t, openBolt, func(a *App, _ *Config) { a.Drift = drift })
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		e.hubUser("u-"+n, n+"@example.com", n+"@example.com", true)
	}
	if err := e.st.Enqueue(e.ctx, marks("u-alice", "u-bob", "u-carol", "u-dave")...); err != nil {
		t.Fatal(err)
	}
	e.reconcile()
	if res := e.importOnce(Options{}); res.Unchanged != 4 || res.Seen != 4 {
		t.Fatalf("import right after the reconciler provisioned: %+v, want 4 unchanged", res)
	}
	accs := map[string]atlassiantest.User{}
	modify := func(name string, fn func(*atlassiantest.User)) {
		u, ok := e.sim.UserByUserName(name + "@example.com")
		if !ok {
			t.Fatalf("%s was not provisioned", name)
		}
		u, err := e.sim.ModifyUser(u.ID, fn)
		if err != nil {
			t.Fatal(err)
		}
		accs[name] = u
	}
	modify("alice", func(u *atlassiantest.User) { u.DisplayName, u.Name.GivenName = "Alice Renamed", "Al" })
	modify("bob", func(u *atlassiantest.User) { u.Emails[0].Value = "BOB@EXAMPLE.COM" })
	modify("carol", func(u *atlassiantest.User) { u.Title = "Chief Tinkerer" })
	modify("dave", func(u *atlassiantest.User) { u.Active = false })
	return e, accs
}

func marks(ids ...string) []store.Mark {
	var ms []store.Mark
	for _, id := range ids {
		ms = append(ms, store.Mark{App: testApp, Key: store.UserKey(id)})
	}
	return ms
}

// remoteHash is the normalised hash of the account as the app lists it.
func remoteHash(t *testing.T, e *env, id string) string {
	t.Helper()
	return target.RemoteHash(remoteOf(t, e, id))
}

func TestDriftReport(t *testing.T) {
	e, accs := driftEnv(t, config.DriftReport)
	before := map[string]*store.Link{}
	for _, n := range []string{"alice", "dave"} {
		before[n] = e.link("u-" + n)
	}
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 2, Drifted: 2})
	if res.Deprovisions != 1 {
		t.Errorf("deprovisions %d, want 1 (dave drifted to inactive)", res.Deprovisions)
	}
	es := byUser(e.reports(res.RunID))
	if len(es) != 2 {
		t.Errorf("reported %v, want alice and dave only", es)
	}
	a := es["alice@example.com"]
	wantChanges := []store.AttrChange{
		{Attr: "displayName", Old: "Alice Tester", New: "Alice Renamed"},
		{Attr: "name.givenName", Old: "Alice", New: "Al"},
	}
	if a.Operation != store.OpDrift || a.Status != store.ReportSkipped || !reflect.DeepEqual(a.Changes, wantChanges) {
		t.Errorf("alice's drift entry %+v, want changes %+v", a, wantChanges)
	}
	d := es["dave@example.com"]
	if d.Operation != store.OpDrift || len(d.Changes) != 1 || d.Changes[0].Attr != "active" || d.Changes[0].New != false ||
		!strings.Contains(d.Detail, "deactivated") {
		t.Errorf("dave's drift entry %+v", d)
	}
	// Report only: the drifted links are as they were, nothing queued.
	for n, l := range before {
		if got := e.link("u-" + n); !sameLink(got, l) {
			t.Errorf("%s's link changed: %+v -> %+v", n, l, got)
		}
	}
	if n := e.queueLen(); n != 0 {
		t.Errorf("%d keys queued", n)
	}
	// Normalisation and unmanaged attributes: the baseline follows the app.
	for _, n := range []string{"bob", "carol"} {
		if l := e.link("u-" + n); l.Hash != remoteHash(t, e, accs[n].ID) {
			t.Errorf("%s's baseline hash was not refreshed", n)
		}
	}
	// The drift stays reported until something is done about it.
	res = e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 2, Drifted: 2})
}

func TestDriftRepush(t *testing.T) {
	e, accs := driftEnv(t, config.DriftRepush)
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 2, Drifted: 2, Requeued: 2})
	if got := strings.Join(e.queued(), ","); got != "user:u-alice,user:u-dave" {
		t.Errorf("queued %s", got)
	}
	if en := byUser(e.reports(res.RunID))["alice@example.com"]; en.Status != store.ReportSuccess || len(en.Changes) != 2 {
		t.Errorf("alice's drift entry %+v", en)
	}
	// The reconciler pushes the desired state again.
	e.reconcile()
	if u, _ := e.sim.User(accs["alice"].ID); u.DisplayName != "Alice Tester" || u.Name.GivenName != "Alice" {
		t.Errorf("alice's account after the re-push: %+v", u)
	}
	if u, _ := e.sim.User(accs["dave"].ID); !u.Active {
		t.Errorf("dave's account was not reactivated")
	}
	res = e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 4})
}

// TestDriftRepushNotDesired: an account the policies no longer admit is
// not re-pushed (the reconciler would deprovision it instead).
func TestDriftRepushNotDesired(t *testing.T) {
	e, _ := driftEnv(t, config.DriftRepush)
	if _, err := e.st.Apply(e.ctx, store.Write{Group: engGroup, RemoveMembers: []string{"u-alice"}}); err != nil {
		t.Fatal(err)
	}
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 2, Drifted: 2, Requeued: 1})
	if en := byUser(e.reports(res.RunID))["alice@example.com"]; en.Status != store.ReportSkipped || !strings.Contains(en.Detail, "not desired") {
		t.Errorf("alice's drift entry %+v", en)
	}
	if got := strings.Join(e.queued(), ","); got != "user:u-dave" {
		t.Errorf("queued %s", got)
	}
}

func TestDriftAccept(t *testing.T) {
	e, accs := driftEnv(t, config.DriftAccept)
	res := e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 2, Drifted: 2})
	for _, n := range []string{"alice", "dave"} {
		if l := e.link("u-" + n); l.Hash != remoteHash(t, e, accs[n].ID) {
			t.Errorf("%s's hash was not accepted", n)
		}
	}
	if l := e.link("u-dave"); l.Status != "deactivated" {
		t.Errorf("dave's link status %q, want deactivated", l.Status)
	}
	if n := e.queueLen(); n != 0 {
		t.Errorf("%d keys queued", n)
	}
	res = e.importOnce(Options{})
	checkCounts(t, res, Result{Seen: 4, Unchanged: 4})
	if u, _ := e.sim.User(accs["alice"].ID); u.DisplayName != "Alice Renamed" {
		t.Errorf("accepted drift was undone: %+v", u)
	}
}

func TestManagedDiff(t *testing.T) {
	state := map[string]any{
		"schemas":     []any{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    "alice@example.com",
		"externalId":  "u-alice",
		"active":      true,
		"displayName": "Alice Tester",
		"name":        map[string]any{"givenName": "Alice", "familyName": "Tester"},
		"emails": []any{
			map[string]any{"type": "work", "primary": true, "value": "alice@example.com"},
			map[string]any{"type": "home", "value": "alice@home.example"},
		},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"},
		"title": "",
	}
	remote := func(mod func(m map[string]any)) map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(`{
			"schemas":["urn:scim:schemas:extension:atlassian-external:1.0","urn:ietf:params:scim:schemas:core:2.0:User"],
			"id":"r1","UserName":"Alice@Example.com","externalId":"u-alice","active":true,"displayName":"Alice Tester",
			"name":{"givenName":"Alice","familyName":"Tester","formatted":"Alice Tester"},
			"emails":[{"value":"alice@home.example","type":"home"},{"value":"ALICE@example.com","type":"Work","primary":true}],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"},
			"groups":[{"value":"g1"}],"meta":{"lastModified":"2031-01-01T00:00:00Z"},
			"urn:scim:schemas:extension:atlassian-external:1.0":{"atlassianAccountId":"abc"},
			"nickName":"ali"}`), &m)
		if mod != nil {
			mod(m)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		mod  func(m map[string]any)
		want []string // "attr:old->new"
	}{
		{"normalised only", nil, nil},
		{"active omitted", func(m map[string]any) { delete(m, "active") }, nil},
		{"active as a string", func(m map[string]any) { m["active"] = "True" }, nil},
		{"deactivated", func(m map[string]any) { m["active"] = false }, []string{"active:true->false"}},
		{"displayName", func(m map[string]any) { m["displayName"] = "A. T." }, []string{"displayName:Alice Tester->A. T."}},
		{"givenName", func(m map[string]any) { m["name"].(map[string]any)["givenName"] = "Al" }, []string{"name.givenName:Alice->Al"}},
		{"name dropped", func(m map[string]any) { delete(m, "name") }, []string{"name.familyName:Tester-><nil>", "name.givenName:Alice-><nil>"}},
		{"department", func(m map[string]any) {
			m["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"department": "Sales"}
		}, []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department:R&D->Sales"}},
		{"email changed", func(m map[string]any) {
			m["emails"].([]any)[1].(map[string]any)["value"] = "alice@elsewhere.example"
		}, []string{"emails"}},
		{"email added", func(m map[string]any) {
			m["emails"] = append(m["emails"].([]any), map[string]any{"value": "x@example.com"})
		}, []string{"emails"}},
		{"primary moved", func(m map[string]any) {
			m["emails"].([]any)[1].(map[string]any)["primary"] = false
			m["emails"].([]any)[0].(map[string]any)["primary"] = true
		}, []string{"emails"}},
		{"externalId", func(m map[string]any) { m["externalId"] = "someone" }, []string{"externalId:u-alice->someone"}},
		{"userName", func(m map[string]any) { m["UserName"] = "bob@example.com" }, []string{"userName:alice@example.com->bob@example.com"}},
		{"unmanaged and owned attributes", func(m map[string]any) {
			m["nickName"], m["title"] = "other", ""
			m["groups"] = []any{}
			m["schemas"] = []any{"x"}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range managedDiff(state, remote(tc.mod)) {
				if c.Attr == "emails" {
					got = append(got, "emails")
					continue
				}
				got = append(got, fmt.Sprintf("%s:%v->%v", c.Attr, c.Old, c.New))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("changes %q, want %q", got, tc.want)
			}
		})
	}
}
