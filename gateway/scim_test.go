package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/store"
)

func oktaUser(userName string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"name":        map[string]any{"givenName": "Test", "familyName": "User"},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": "Test User",
		"externalId":  "ext-" + userName,
		"groups":      []any{},
		"password":    "1mz050nq",
		"active":      true,
	}
}

func filterQ(f string) string { return "?filter=" + url.QueryEscape(f) }

func TestUserLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		created := ts.do("POST", "/Users", oktaUser("alice@example.com")).must(t, 201)
		id := str(created.Body["id"])
		if id == "" {
			t.Fatal("no id")
		}
		if loc := created.Header.Get("Location"); loc != ts.URL+"/Users/"+id {
			t.Errorf("Location %q", loc)
		}
		if created.Header.Get("ETag") != `W/"1"` {
			t.Errorf("ETag %q", created.Header.Get("ETag"))
		}
		if _, ok := created.Body["password"]; ok {
			t.Error("password returned")
		}
		meta, _ := created.Body["meta"].(map[string]any)
		if meta["resourceType"] != "User" || meta["location"] != ts.URL+"/Users/"+id || meta["version"] != `W/"1"` {
			t.Errorf("meta %v", meta)
		}

		got := ts.do("GET", "/Users/"+id, nil).must(t, 200)
		if got.Body["userName"] != "alice@example.com" {
			t.Errorf("get: %s", got.Raw)
		}
		// userName is case-insensitive (caseExact false): the lookup finds it.
		list := ts.do("GET", "/Users"+filterQ(`userName eq "ALICE@example.com"`), nil).must(t, 200)
		if list.Body["totalResults"].(interface{ String() string }).String() != "1" {
			t.Errorf("filter: %s", list.Raw)
		}

		// PUT replaces: omitted attributes are cleared, readOnly kept.
		put := oktaUser("alice@example.com")
		delete(put, "displayName")
		put["id"] = "ignored"
		put["active"] = false
		ts.advance(1e9)
		upd := ts.do("PUT", "/Users/"+id, put).must(t, 200)
		if _, ok := upd.Body["displayName"]; ok {
			t.Error("PUT kept an omitted attribute")
		}
		if upd.Body["id"] != id || upd.Body["active"] != false || upd.Header.Get("ETag") != `W/"2"` {
			t.Errorf("PUT result %s etag %s", upd.Raw, upd.Header.Get("ETag"))
		}
		um, _ := upd.Body["meta"].(map[string]any)
		if um["created"] == um["lastModified"] {
			t.Error("lastModified not advanced")
		}

		// PATCH path-less (Okta reactivate).
		p := ts.do("PATCH", "/Users/"+id, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": true}}},
		}).must(t, 200)
		if p.Body["active"] != true {
			t.Errorf("PATCH: %s", p.Raw)
		}

		ts.do("DELETE", "/Users/"+id, nil).must(t, 204)
		ts.do("GET", "/Users/"+id, nil).scimError(t, 404, "")
		ts.do("DELETE", "/Users/"+id, nil).scimError(t, 404, "")
		// The userName is free again.
		ts.do("POST", "/Users", oktaUser("alice@example.com")).must(t, 201)
	})
}

func TestUniquenessConflict(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		a := ts.do("POST", "/Users", oktaUser("a@example.com")).must(t, 201)
		ts.do("POST", "/Users", oktaUser("b@example.com")).must(t, 201)

		dup := ts.do("POST", "/Users", oktaUser("A@example.com"))
		dup.scimError(t, 409, "uniqueness")
		if !strings.Contains(str(dup.Body["detail"]), "userName") {
			t.Errorf("detail does not name the attribute: %s", dup.Raw)
		}
		// An update that takes another user's userName fails, names it and
		// changes nothing.
		body := oktaUser("B@example.com")
		body["externalId"] = "ext-b@example.com"
		body["emails"] = []any{map[string]any{"value": "new@example.com", "primary": true}}
		body["displayName"] = "Changed"
		put := ts.do("PUT", "/Users/"+str(a.Body["id"]), body)
		put.scimError(t, 409, "uniqueness")
		if d := str(put.Body["detail"]); !strings.Contains(d, "userName") || strings.Contains(d, "externalId") {
			t.Errorf("detail must name userName, and never externalId, which is not unique: %s", put.Raw)
		}
		after := ts.do("GET", "/Users/"+str(a.Body["id"]), nil).must(t, 200)
		if after.Body["displayName"] != "Test User" || after.Header.Get("ETag") != `W/"1"` {
			t.Errorf("failed update changed the user: %s", after.Raw)
		}
		list := ts.do("GET", "/Users"+filterQ(`emails.value eq "a@example.com"`), nil).must(t, 200)
		if fmt.Sprint(list.Body["totalResults"]) != "1" {
			t.Errorf("email index lost: %s", list.Raw)
		}
		// Emails are not unique (Okta and Entra allow a shared mailbox):
		// two users may share one, and an email filter finds both from the
		// index, without a scan.
		shared := oktaUser("c@example.com")
		shared["emails"] = []any{map[string]any{"value": "A@example.com", "primary": true}}
		ts.do("POST", "/Users", shared).must(t, 201)
		before := ts.store.lists.Load()
		all := ts.do("GET", "/Users"+filterQ(`emails.value eq "a@example.com"`), nil).must(t, 200)
		if fmt.Sprint(all.Body["totalResults"]) != "2" || ts.store.lists.Load() != before {
			t.Errorf("shared email lookup: %s (scans %d)", all.Raw, ts.store.lists.Load()-before)
		}
	})
}

// TestSharedExternalID: externalId is not unique (RFC 7643; Entra maps
// the non-unique mailNickname to it, and Microsoft's Postman collection
// reuses one): users and groups sharing one are created, and an
// externalId filter finds them all from the index, without a scan.
func TestSharedExternalID(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		var ids []string
		for _, name := range []string{"x1@example.com", "x2@example.com"} {
			u := oktaUser(name)
			u["externalId"] = "jsmith"
			ids = append(ids, str(ts.do("POST", "/Users", u).must(t, 201).Body["id"]))
		}
		slices.Sort(ids)
		before := ts.store.lists.Load()
		list := ts.do("GET", "/Users"+filterQ(`externalId eq "jsmith"`), nil).must(t, 200)
		var got []string
		for _, r := range list.Body["Resources"].([]any) {
			got = append(got, str(r.(map[string]any)["id"]))
		}
		if fmt.Sprint(list.Body["totalResults"]) != "2" || !slices.Equal(got, ids) || ts.store.lists.Load() != before {
			t.Errorf("externalId eq: %s (want %v in id order, scans %d)", list.Raw, ids, ts.store.lists.Load()-before)
		}
		// An update to a shared value is no conflict either.
		third := ts.do("POST", "/Users", oktaUser("x3@example.com")).must(t, 201)
		p := ts.do("PATCH", "/Users/"+str(third.Body["id"]), map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "externalId", "value": "jsmith"}},
		}).must(t, 200)
		if p.Body["externalId"] != "jsmith" {
			t.Errorf("PATCH externalId: %s", p.Raw)
		}
		for _, name := range []string{"G1", "G2"} {
			ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": name, "externalId": "grp-ext"}).must(t, 201)
		}
		groups := ts.do("GET", "/Groups"+filterQ(`externalId eq "grp-ext"`), nil).must(t, 200)
		if fmt.Sprint(groups.Body["totalResults"]) != "2" {
			t.Errorf("groups by a shared externalId: %s", groups.Raw)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		first := ts.do("POST", "/Users", oktaUser("idem@example.com"), "Idempotency-Key", "k-1").must(t, 201)
		again := ts.do("POST", "/Users", oktaUser("idem@example.com"), "Idempotency-Key", "k-1").must(t, 201)
		if string(first.Raw) != string(again.Raw) || first.Header.Get("Location") != again.Header.Get("Location") {
			t.Errorf("replay differs:\n%s\n%s", first.Raw, again.Raw)
		}
		if again.Header.Get("Idempotent-Replayed") != "true" {
			t.Error("replay not marked")
		}
		// Same key, different body: refused.
		ts.do("POST", "/Users", oktaUser("other@example.com"), "Idempotency-Key", "k-1").scimError(t, 422, "")
		// Without the key, a repeated POST is a conflict.
		ts.do("POST", "/Users", oktaUser("idem@example.com")).scimError(t, 409, "uniqueness")
		// After the TTL the key is forgotten.
		ts.advance(25 * 3600e9)
		ts.do("POST", "/Users", oktaUser("idem@example.com"), "Idempotency-Key", "k-1").scimError(t, 409, "uniqueness")
	})
}

func TestETags(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		id := str(ts.do("POST", "/Users", oktaUser("e@example.com")).must(t, 201).Body["id"])
		r := ts.do("GET", "/Users/"+id, nil, "If-None-Match", `W/"1"`)
		if r.Status != http.StatusNotModified {
			t.Errorf("If-None-Match current: %d", r.Status)
		}
		ts.do("GET", "/Users/"+id, nil, "If-None-Match", `W/"7"`).must(t, 200)
		patch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "X"}}}
		ts.do("PATCH", "/Users/"+id, patch, "If-Match", `W/"9"`).scimError(t, 412, "")
		ts.do("PUT", "/Users/"+id, oktaUser("e@example.com"), "If-Match", `W/"9"`).scimError(t, 412, "")
		ts.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"9"`).scimError(t, 412, "")
		ok := ts.do("PATCH", "/Users/"+id, patch, "If-Match", `W/"1"`).must(t, 200)
		if ok.Header.Get("ETag") != `W/"2"` {
			t.Errorf("etag after patch %q", ok.Header.Get("ETag"))
		}
		// A PATCH that changes nothing writes nothing.
		same := ts.do("PATCH", "/Users/"+id, patch).must(t, 200)
		if same.Header.Get("ETag") != `W/"2"` {
			t.Errorf("no-op PATCH bumped the version: %q", same.Header.Get("ETag"))
		}
		ts.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"2"`).must(t, 204)
	})
}

func TestErrors(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st, func(o *Options) { o.BodyLimit = 4096 })
	ts.do("POST", "/Users", `{"userName": "x",`).scimError(t, 400, "invalidSyntax")
	ts.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`).scimError(t, 400, "invalidValue")
	ts.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"maybe"}`).scimError(t, 400, "invalidValue")
	ts.do("GET", "/Users"+filterQ(`nosuch eq "x"`), nil).scimError(t, 400, "invalidFilter")
	ts.do("GET", "/Users"+filterQ(`userName eq`), nil).scimError(t, 400, "invalidFilter")
	ts.do("GET", "/Users?startIndex=abc", nil).scimError(t, 400, "invalidValue")
	big := `{"userName":"` + strings.Repeat("x", 5000) + `"}`
	ts.do("POST", "/Users", big).scimError(t, 413, "")
	ts.do("DELETE", "/Users", nil).scimError(t, 405, "")
	ts.do("POST", "/Users", `{}`, "Content-Type", "text/plain").scimError(t, 415, "")
	ts.do("GET", "/Nope", nil).scimError(t, 404, "")
	id := str(ts.do("POST", "/Users", oktaUser("err@example.com")).must(t, 201).Body["id"])
	bad := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "nosuch[", "value": "x"}}}
	ts.do("PATCH", "/Users/"+id, bad).scimError(t, 400, "invalidPath")
	rm := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "remove", "path": `emails[type eq "home"]`}}}
	ts.do("PATCH", "/Users/"+id, rm).scimError(t, 400, "noTarget")
	ts.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "id", "value": "new"}}}).scimError(t, 400, "mutability")
	// After all the bad requests, the user is intact.
	got := ts.do("GET", "/Users/"+id, nil).must(t, 200)
	if got.Header.Get("ETag") != `W/"1"` || got.Body["userName"] != "err@example.com" {
		t.Errorf("bad requests changed the user: %s", got.Raw)
	}
	// Unauthenticated.
	req, _ := http.NewRequest("GET", ts.URL+"/Users", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
}

func TestListPagingAndIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t), func(o *Options) { o.MaxResults = 5; o.DefaultCount = 3 })
		for i := 0; i < 7; i++ {
			ts.do("POST", "/Users", oktaUser(fmt.Sprintf("u%d@example.com", i))).must(t, 201)
		}
		seen := map[string]bool{}
		for start := 1; start <= 7; start += 3 {
			page := ts.do("GET", fmt.Sprintf("/Users?startIndex=%d", start), nil).must(t, 200)
			if fmt.Sprint(page.Body["totalResults"]) != "7" || fmt.Sprint(page.Body["startIndex"]) != fmt.Sprint(start) {
				t.Fatalf("page %d: %s", start, page.Raw)
			}
			for _, r := range page.Body["Resources"].([]any) {
				id := str(r.(map[string]any)["id"])
				if seen[id] {
					t.Errorf("id %s on two pages", id)
				}
				seen[id] = true
			}
		}
		if len(seen) != 7 {
			t.Errorf("paging returned %d of 7", len(seen))
		}
		capped := ts.do("GET", "/Users?count=100", nil).must(t, 200)
		if fmt.Sprint(capped.Body["itemsPerPage"]) != "5" {
			t.Errorf("count not capped: %s", capped.Body["itemsPerPage"])
		}
		zero := ts.do("GET", "/Users?count=0", nil).must(t, 200)
		if fmt.Sprint(zero.Body["itemsPerPage"]) != "0" || fmt.Sprint(zero.Body["totalResults"]) != "7" {
			t.Errorf("count=0: %s", zero.Raw)
		}

		// Indexed lookups never list the collection.
		before := ts.store.lists.Load()
		for _, f := range []string{`userName eq "u3@example.com"`, `externalId eq "ext-u3@example.com"`,
			`emails[type eq "work" and value eq "u3@example.com"]`, `userName eq "u3@example.com" and active eq true`} {
			r := ts.do("GET", "/Users"+filterQ(f), nil).must(t, 200)
			if fmt.Sprint(r.Body["totalResults"]) != "1" {
				t.Errorf("%s: %s", f, r.Raw)
			}
		}
		if ts.store.lists.Load() != before {
			t.Error("an indexed filter scanned the collection")
		}
		// Other filters scan and still answer correctly; sortBy orders.
		r := ts.do("GET", "/Users"+filterQ(`userName sw "u1" or userName ew "5@example.com"`)+"&sortBy=userName&sortOrder=descending", nil).must(t, 200)
		res := r.Body["Resources"].([]any)
		if len(res) != 2 || res[0].(map[string]any)["userName"] != "u5@example.com" {
			t.Errorf("scan+sort: %s", r.Raw)
		}
		// attributes projection keeps id and the asked attributes only.
		p := ts.do("GET", "/Users"+filterQ(`userName eq "u3@example.com"`)+"&attributes=userName", nil).must(t, 200)
		item := p.Body["Resources"].([]any)[0].(map[string]any)
		if _, ok := item["emails"]; ok || item["id"] == nil || item["userName"] == nil {
			t.Errorf("attributes=userName: %v", item)
		}
		// POST .search answers like GET.
		s := ts.do("POST", "/Users/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter": `userName eq "u4@example.com"`, "attributes": []string{"userName"}}).must(t, 200)
		if fmt.Sprint(s.Body["totalResults"]) != "1" {
			t.Errorf(".search: %s", s.Raw)
		}
	})
}

func TestGroupMembership(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		var ids []string
		for i := 0; i < 4; i++ {
			ids = append(ids, str(ts.do("POST", "/Users", oktaUser(fmt.Sprintf("m%d@example.com", i))).must(t, 201).Body["id"]))
		}
		g := ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Engineering", "members": []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}}}).must(t, 201)
		gid := str(g.Body["id"])
		if len(g.Body["members"].([]any)) != 2 {
			t.Fatalf("created members: %s", g.Raw)
		}
		ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "engineering"}).scimError(t, 409, "uniqueness")
		ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Bad", "members": []any{map[string]any{"value": "no-such-user"}}}).scimError(t, 400, "invalidValue")

		// Membership PATCH touches only the named members: no member-set read.
		before := ts.store.members.Load()
		ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{
				map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": ids[2]}, map[string]any{"value": ids[3]}}},
				map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": ids[0]}}},
			}}).must(t, 204)
		ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, ids[1])}}}).must(t, 204)
		if ts.store.members.Load() != before {
			t.Error("membership PATCH read the whole member set")
		}
		got := ts.do("GET", "/Groups/"+gid, nil).must(t, 200)
		if m := memberIDs(got.Body); fmt.Sprint(m) != fmt.Sprint(map[string]bool{ids[2]: true, ids[3]: true}) {
			t.Errorf("members after PATCH: %v", m)
		}
		// excludedAttributes=members neither returns nor loads members.
		before = ts.store.members.Load()
		ex := ts.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil).must(t, 200)
		if _, ok := ex.Body["members"]; ok || ts.store.members.Load() != before {
			t.Errorf("excludedAttributes=members: %s", ex.Raw)
		}
		q := ts.do("GET", "/Groups"+filterQ(`displayName eq "ENGINEERING"`)+"&excludedAttributes=members", nil).must(t, 200)
		if fmt.Sprint(q.Body["totalResults"]) != "1" || ts.store.members.Load() != before {
			t.Errorf("displayName query: %s", q.Raw)
		}
		// Entra's membership check answers from the member set in O(1).
		chk := ts.do("GET", "/Groups"+filterQ(fmt.Sprintf(`id eq "%s" and members eq "%s"`, gid, ids[2]))+"&attributes=id", nil).must(t, 200)
		if fmt.Sprint(chk.Body["totalResults"]) != "1" || ts.store.members.Load() != before {
			t.Errorf("members eq check: %s", chk.Raw)
		}
		// Deleting a user removes it from the group.
		ts.do("DELETE", "/Users/"+ids[3], nil).must(t, 204)
		got = ts.do("GET", "/Groups/"+gid, nil).must(t, 200)
		if m := memberIDs(got.Body); len(m) != 1 || !m[ids[2]] {
			t.Errorf("members after user delete: %v", m)
		}
		// Replace all members (Okta "push now"), then remove all.
		ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "members", "value": []any{map[string]any{"value": ids[0]}}}}}).must(t, 204)
		if m := memberIDs(ts.do("GET", "/Groups/"+gid, nil).Body); len(m) != 1 || !m[ids[0]] {
			t.Errorf("after replace: %v", m)
		}
		ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "remove", "path": "members"}}}).must(t, 204)
		if m := memberIDs(ts.do("GET", "/Groups/"+gid, nil).Body); len(m) != 0 {
			t.Errorf("after remove all: %v", m)
		}
		// PUT with members sets them; the rename frees the old name.
		ts.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Platform", "members": []any{map[string]any{"value": ids[1]}}}).must(t, 200)
		ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Engineering"}).must(t, 201)
		ts.do("DELETE", "/Groups/"+gid, nil).must(t, 204)
	})
}

func memberIDs(group map[string]any) map[string]bool {
	out := map[string]bool{}
	list, _ := group["members"].([]any)
	for _, m := range list {
		out[str(m.(map[string]any)["value"])] = true
	}
	return out
}

func TestDiscovery(t *testing.T) {
	ts := startServer(t, backends["bolt"](t), func(o *Options) { o.MaxResults = 150 })
	spc := ts.do("GET", "/ServiceProviderConfig", nil).must(t, 200)
	if f := spc.Body["filter"].(map[string]any); fmt.Sprint(f["maxResults"]) != "150" || f["supported"] != true {
		t.Errorf("filter: %v", f)
	}
	if spc.Body["bulk"].(map[string]any)["supported"] != false || spc.Body["etag"].(map[string]any)["supported"] != true {
		t.Errorf("spc: %s", spc.Raw)
	}
	rts := ts.do("GET", "/ResourceTypes", nil).must(t, 200)
	if fmt.Sprint(rts.Body["totalResults"]) != "2" {
		t.Errorf("resource types: %s", rts.Raw)
	}
	ts.do("GET", "/ResourceTypes/User", nil).must(t, 200)
	ts.do("GET", "/ResourceTypes/Nope", nil).scimError(t, 404, "")
	sch := ts.do("GET", "/Schemas", nil).must(t, 200)
	if fmt.Sprint(sch.Body["totalResults"]) != "3" {
		t.Errorf("schemas: %s", sch.Raw)
	}
	u := ts.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil).must(t, 200)
	if u.Body["id"] != "urn:ietf:params:scim:schemas:core:2.0:User" {
		t.Errorf("user schema: %s", u.Raw)
	}
}

func TestEndpointCaseAndTrailingSlash(t *testing.T) {
	ts := startServer(t, backends["bolt"](t))
	ts.do("POST", "/users", oktaUser("case@example.com")).must(t, 201)
	r := ts.do("GET", "/USERS/"+filterQ(`userName eq "case@example.com"`), nil).must(t, 200)
	if fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Errorf("lower-case endpoint with trailing slash: %s", r.Raw)
	}
	ts.do("GET", "/serviceproviderconfig", nil).must(t, 200)
}

func TestAttrList(t *testing.T) {
	got := attrList(`userName, emails[type eq "work"], emails[value eq "x"].value,name.givenName`)
	want := []string{"userName", "emails", "emails.value", "name.givenName"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attrList = %q, want %q", got, want)
	}
}

// Concurrent membership PATCHes on one group (several IdP workers) all
// succeed: they are commutative store writes, with no compare-and-set.
func TestConcurrentGroupPatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		gid := str(ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Busy"}).must(t, 201).Body["id"])
		const n = 24
		ids := make([]string, n)
		for i := range ids {
			ids[i] = str(ts.do("POST", "/Users", oktaUser(fmt.Sprintf("busy%d@example.com", i))).must(t, 201).Body["id"])
		}
		errs := make(chan string, n)
		for _, id := range ids {
			go func() {
				r := ts.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}}}})
				if r.Status != 204 {
					errs <- fmt.Sprintf("%d %s", r.Status, r.Raw)
					return
				}
				errs <- ""
			}()
		}
		for range ids {
			if e := <-errs; e != "" {
				t.Errorf("concurrent add: %s", e)
			}
		}
		if m := memberIDs(ts.do("GET", "/Groups/"+gid, nil).Body); len(m) != n {
			t.Errorf("%d members, want %d", len(m), n)
		}
	})
}

// A list page renders each user's groups, reading each group once per
// request, not once per member.
func TestUserGroupsReadOncePerRequest(t *testing.T) {
	ts := startServer(t, backends["bolt"](t))
	var members []any
	for i := 0; i < 5; i++ {
		id := str(ts.do("POST", "/Users", oktaUser(fmt.Sprintf("g%d@example.com", i))).must(t, 201).Body["id"])
		members = append(members, map[string]any{"value": id})
	}
	ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Everyone", "members": members}).must(t, 201)
	before := ts.store.groupGets.Load()
	list := ts.do("GET", "/Users", nil).must(t, 200)
	for _, r := range list.Body["Resources"].([]any) {
		gs, _ := r.(map[string]any)["groups"].([]any)
		if len(gs) != 1 || gs[0].(map[string]any)["display"] != "Everyone" {
			t.Fatalf("groups of a listed user: %v", gs)
		}
	}
	if n := ts.store.groupGets.Load() - before; n != 1 {
		t.Errorf("listing 5 members of one group read the group %d times, want 1", n)
	}
}

// TestGroupMembersCarryDisplay: group responses (POST, GET, PUT, a PATCH
// asking for members, lists) name each member by display, the user's
// displayName else its userName, as Okta's group tests expect; the members
// are read in one store read, not one per member, and
// excludedAttributes=members reads none.
func TestGroupMembersCarryDisplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ts := startServer(t, open(t))
		named := ts.do("POST", "/Users", oktaUser("named@example.com")).must(t, 201)
		bare := oktaUser("bare@example.com")
		delete(bare, "displayName")
		plain := ts.do("POST", "/Users", bare).must(t, 201)
		nid, pid := str(named.Body["id"]), str(plain.Body["id"])
		want := map[string]string{nid: "Test User", pid: "bare@example.com"}
		check := func(what string, r response, ids ...string) {
			t.Helper()
			ms, _ := r.Body["members"].([]any)
			if len(ms) != len(ids) {
				t.Fatalf("%s: members %s, want %d", what, r.Raw, len(ids))
			}
			for _, m := range ms {
				mm := m.(map[string]any)
				id := str(mm["value"])
				if mm["display"] != want[id] || mm["type"] != "User" || !strings.HasSuffix(str(mm["$ref"]), "/Users/"+id) {
					t.Errorf("%s: member %v, want display %q", what, mm, want[id])
				}
			}
		}
		g := ts.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Display Test", "members": []any{map[string]any{"value": nid}, map[string]any{"value": pid}}}).must(t, 201)
		check("POST", g, nid, pid)
		gid := str(g.Body["id"])

		reads, gets := ts.store.getMany.Load(), ts.store.userGets.Load()
		check("GET", ts.do("GET", "/Groups/"+gid, nil).must(t, 200), nid, pid)
		if ts.store.getMany.Load()-reads != 1 || ts.store.userGets.Load() != gets {
			t.Errorf("GET read the members with %d batched reads and %d single reads, want 1 and 0",
				ts.store.getMany.Load()-reads, ts.store.userGets.Load()-gets)
		}
		reads = ts.store.getMany.Load()
		ex := ts.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil).must(t, 200)
		if _, ok := ex.Body["members"]; ok || ts.store.getMany.Load() != reads {
			t.Errorf("excludedAttributes=members read or returned members: %s", ex.Raw)
		}
		put := ts.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Display Test", "members": []any{map[string]any{"value": pid}}}).must(t, 200)
		check("PUT", put, pid)
		p := ts.do("PATCH", "/Groups/"+gid+"?attributes=members", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": nid}}}},
		}).must(t, 200)
		check("PATCH with attributes=members", p, nid, pid)
		list := ts.do("GET", "/Groups"+filterQ(`displayName eq "Display Test"`), nil).must(t, 200)
		rs, _ := list.Body["Resources"].([]any)
		if len(rs) != 1 {
			t.Fatalf("list: %s", list.Raw)
		}
		check("list", response{Body: rs[0].(map[string]any), Raw: list.Raw}, nid, pid)
	})
}
