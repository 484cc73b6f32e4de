package atlassiantest

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	aaidRE = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestCreateUserResponseShape(t *testing.T) {
	h := start(t, Options{})
	body := user("alice@example.com", "externalId", "ext-1", "name", map[string]any{"givenName": "Alice"})
	r := h.do("POST", "/Users", body).expect(t, 201)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if strings.Contains(string(r.body), "null") {
		t.Errorf("response contains null: %s", r.body)
	}
	m := r.obj(t)
	wantKeys := []string{"active", "emails", "externalId", "groups", "id", "meta", "name", "schemas", AtlassianSchema, "userName"}
	sort.Strings(wantKeys)
	if got := keys(m); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("keys = %v, want %v (unset attributes must be omitted)", got, wantKeys)
	}
	if got := m["schemas"]; !reflect.DeepEqual(got, []any{AtlassianSchema, CoreUserSchema, EnterpriseSchema}) {
		t.Errorf("schemas = %v", got)
	}
	id := m["id"].(string)
	if !uuidRE.MatchString(id) {
		t.Errorf("id %q is not a UUID", id)
	}
	if aaid, _ := get(m, AtlassianSchema, "atlassianAccountId").(string); !aaidRE.MatchString(aaid) {
		t.Errorf("atlassianAccountId %q is not 24 hex digits", aaid)
	}
	if m["active"] != true {
		t.Errorf("active = %v, want default true", m["active"])
	}
	if g, ok := m["groups"].([]any); !ok || len(g) != 0 {
		t.Errorf("groups = %#v, want []", m["groups"])
	}
	wantMeta := map[string]any{
		"resourceType": "User",
		"location":     h.s.URL() + "/Users/" + id,
		"created":      "2024-03-05T10:11:12.123456Z",
		"lastModified": "2024-03-05T10:11:12.123456Z",
	}
	if !reflect.DeepEqual(m["meta"], wantMeta) {
		t.Errorf("meta = %v, want %v", m["meta"], wantMeta)
	}
	if get(m, "name", "givenName") != "Alice" || m["externalId"] != "ext-1" || get(m, "emails", 0, "primary") != true {
		t.Errorf("attributes not echoed: %s", r.body)
	}
	g := h.do("GET", "/Users/"+id, nil).expect(t, 200)
	if string(g.body) != string(r.body) {
		t.Errorf("GET differs from POST:\n%s\n%s", g.body, r.body)
	}
	u, ok := h.s.User(id)
	if !ok || u.UserName != "alice@example.com" || !u.Active || u.Created != h.clock.Now().Truncate(time.Microsecond) {
		t.Errorf("stored user = %+v", u)
	}
}

func TestCreateUserKeepsActiveFalseAndIgnoresReadOnly(t *testing.T) {
	h := start(t, Options{})
	body := user("bob@example.com", "active", false, "id", "my-id",
		"groups", []any{map[string]any{"value": "g1"}},
		AtlassianSchema, map[string]any{"atlassianAccountId": "000000000000000000000000"})
	m := h.do("POST", "/Users", body).expect(t, 201).obj(t)
	if m["active"] != false {
		t.Errorf("active = %v, want false", m["active"])
	}
	if m["id"] == "my-id" || len(m["groups"].([]any)) != 0 || get(m, AtlassianSchema, "atlassianAccountId") == "000000000000000000000000" {
		t.Errorf("read-only input not ignored: %v", m)
	}
}

func TestCreateUserValidation(t *testing.T) {
	h := start(t, Options{})
	two := func(p1, p2 bool) []any {
		return []any{
			map[string]any{"value": "a@example.com", "primary": p1},
			map[string]any{"value": "b@example.com", "primary": p2},
		}
	}
	cases := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"no userName", map[string]any{"emails": []any{map[string]any{"value": "a@example.com"}}}, 400, "invalidValue"},
		{"blank userName", user(" "), 400, "invalidValue"},
		{"no emails", map[string]any{"userName": "a"}, 400, "invalidValue"},
		{"empty emails", user("a", "emails", []any{}), 400, "invalidValue"},
		{"two emails no primary", user("a", "emails", two(false, false)), 400, "invalidValue"},
		{"two primaries", user("a", "emails", two(true, true)), 400, "invalidValue"},
		{"not an email", user("a", "emails", []any{map[string]any{"value": "nope"}}), 400, "invalidValue"},
		{"userName not a string", map[string]any{"userName": 5, "emails": []any{map[string]any{"value": "a@example.com"}}}, 400, "invalidValue"},
		{"active as string", user("a@example.com", "active", "false"), 400, "invalidValue"},
		{"malformed JSON", `{"userName":`, 400, "invalidSyntax"},
		{"JSON array", `[]`, 400, "invalidSyntax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.do("POST", "/Users", c.body).scimErr(t, c.status, c.scimType)
		})
	}
	// A single email needs no primary flag.
	h.do("POST", "/Users", user("solo", "emails", []any{map[string]any{"value": "solo@example.com"}})).expect(t, 201)
	if n, _ := h.s.Counts(); n != 1 {
		t.Fatalf("users = %d, want 1: failed creates must not store anything", n)
	}
}

func TestRequestContentType(t *testing.T) {
	h := start(t, Options{})
	for _, ct := range []string{"", "text/plain"} {
		r := h.doWith("POST", "/Users", user("a@example.com"), func(r *request) {
			r.Header.Set("Authorization", "Bearer secret")
			r.Header.Set("Content-Type", ct)
		})
		r.scimErr(t, 415, "")
	}
	r := h.doWith("POST", "/Users", user("a@example.com"), func(r *request) {
		r.Header.Set("Authorization", "Bearer secret")
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
	})
	r.expect(t, 201)
}

func TestCreateUserUniqueness(t *testing.T) {
	h := start(t, Options{})
	h.do("POST", "/Users", user("Alice@Example.com", "externalId", "ext-1", "emails", []any{
		map[string]any{"value": "alice@example.com", "primary": true},
		map[string]any{"value": "alt@example.com"},
	})).expect(t, 201)
	cases := []struct {
		name   string
		body   any
		detail string
	}{
		{"userName other case", user("alice@example.com", "emails", []any{map[string]any{"value": "new@example.com"}}),
			"Resource [USER]: with userName[alice@example.com] already exists."},
		{"secondary email other case", user("x", "emails", []any{map[string]any{"value": "ALT@example.com"}}),
			"Resource [USER]: with email[ALT@example.com] already exists."},
		{"externalId", user("y@example.com", "externalId", "ext-1"),
			"Resource [USER]: with externalId[ext-1] already exists."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := h.do("POST", "/Users", c.body).scimErr(t, 409, "uniqueness")
			if m["detail"] != c.detail {
				t.Errorf("detail = %q, want %q", m["detail"], c.detail)
			}
		})
	}
	// externalId is case-sensitive.
	h.do("POST", "/Users", user("z@example.com", "externalId", "EXT-1")).expect(t, 201)
}

func TestUserNameCaseSensitiveOption(t *testing.T) {
	h := start(t, Options{UserNameCaseSensitive: true})
	h.createUser("alice", "emails", []any{map[string]any{"value": "a1@example.com"}})
	id := h.createUser("ALICE", "emails", []any{map[string]any{"value": "a2@example.com"}})
	m := h.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "ALICE"`), nil).expect(t, 200).obj(t)
	if m["totalResults"] != 1.0 || get(m, "Resources", 0, "id") != id {
		t.Fatalf("case-sensitive filter: %v", m)
	}
	if _, ok := h.s.UserByUserName("Alice"); ok {
		t.Fatal("UserByUserName should be case-sensitive")
	}
}

func TestGetUserNotFound(t *testing.T) {
	h := start(t, Options{})
	m := h.do("GET", "/Users/6a0f4d0e-0000-4000-8000-000000000000", nil).scimErr(t, 404, "")
	if !strings.Contains(m["detail"].(string), "6a0f4d0e-0000-4000-8000-000000000000") {
		t.Errorf("detail = %v", m["detail"])
	}
}

func listQuery(filter string, extra ...string) string {
	q := url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/Users?" + q.Encode()
}

func TestListUsersFilter(t *testing.T) {
	h := start(t, Options{})
	alice := h.createUser("Alice@Example.com", "externalId", "Ext-A")
	h.createUser("bob@example.com", "externalId", "ext-b")
	cases := []struct {
		filter string
		want   []string
	}{
		{`userName eq "alice@example.com"`, []string{alice}},
		{`USERNAME EQ "ALICE@EXAMPLE.COM"`, []string{alice}},
		{`externalId eq "Ext-A"`, []string{alice}},
		{`externalId eq "ext-a"`, nil}, // case-sensitive
		{`userName eq "nobody@example.com"`, nil},
		{`userName eq "6f5c8ef0-8d6e-4b0e-9a55-2f4b8f8d1c11"`, nil}, // Entra's probe: empty 200
	}
	for _, c := range cases {
		m := h.do("GET", listQuery(c.filter), nil).expect(t, 200).obj(t)
		var got []string
		for _, r := range m["Resources"].([]any) {
			got = append(got, r.(map[string]any)["id"].(string))
		}
		if !slices.Equal(got, c.want) || m["totalResults"] != float64(len(c.want)) || m["itemsPerPage"] != float64(len(c.want)) || m["startIndex"] != 1.0 {
			t.Errorf("%s: got %s", c.filter, h.do("GET", listQuery(c.filter), nil).body)
		}
		if !reflect.DeepEqual(m["schemas"], []any{ListResponseSchema}) {
			t.Errorf("schemas = %v", m["schemas"])
		}
	}
}

func TestListUsersInvalidFilter(t *testing.T) {
	h := start(t, Options{})
	h.createUser("alice@example.com")
	want := `{"schemas":["urn:ietf:params:scim:b:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"Resource [USER] invalid filter"}`
	for _, f := range []string{
		`emails eq "alice@example.com"`,
		`emails.value eq "alice@example.com"`,
		`title eq "x"`,
		`displayName eq "x"`,
		`userName co "alice"`,
		`userName sw "alice"`,
		`userName ne "alice"`,
		`userName pr`,
		`userName eq "a" and externalId eq "b"`,
		`userName eq "a" or userName eq "b"`,
		`not (userName eq "a")`,
		`(userName eq "a")`,
		`userName eq alice`,
		`userName eq 5`,
		`userName eq true`,
		`userName eq "unterminated`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`,
		``,
	} {
		r := h.do("GET", "/Users?filter="+url.QueryEscape(f), nil)
		if r.status != 400 || string(r.body) != want {
			t.Errorf("filter %q: %d %s", f, r.status, r.body)
		}
	}
}

// seedUsers creates n users directly and returns their ids in order.
func seedUsers(t testing.TB, s *Server, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		name := fmt.Sprintf("%s-%04d@example.com", prefix, i)
		u, err := s.Seed(User{UserName: name, Emails: []MultiValue{{Value: name, Primary: true}}, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}

func (h *harness) page(q string) (ids []string, m map[string]any) {
	h.t.Helper()
	m = h.do("GET", "/Users?"+q, nil).expect(h.t, 200).obj(h.t)
	for _, r := range m["Resources"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids, m
}

func TestListUsersPaging250(t *testing.T) {
	h := start(t, Options{})
	// Created over HTTP, so paging order is the order clients created them.
	var want []string
	for i := range 250 {
		want = append(want, h.createUser(fmt.Sprintf("u%03d@example.com", i)))
	}
	var got []string
	var sizes []float64
	for start := 1; ; {
		ids, m := h.page(fmt.Sprintf("startIndex=%d&count=100", start))
		if m["totalResults"] != 250.0 || m["startIndex"] != float64(start) {
			t.Fatalf("page at %d: totalResults %v startIndex %v", start, m["totalResults"], m["startIndex"])
		}
		got = append(got, ids...)
		sizes = append(sizes, m["itemsPerPage"].(float64))
		if len(ids) == 0 || start+len(ids) > 250 {
			break
		}
		start += len(ids)
	}
	if !slices.Equal(sizes, []float64{100, 100, 50}) {
		t.Errorf("page sizes = %v", sizes)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging returned %d ids, not each user exactly once in creation order", len(got))
	}
}

func TestListUsersPagingParams(t *testing.T) {
	h := start(t, Options{})
	ids := seedUsers(t, h.s, 120, "p")
	cases := []struct {
		query     string
		first     int // index into ids, -1 for an empty page
		n         int
		wantStart float64
	}{
		{"", 0, 100, 1},
		{"startIndex=0", 0, 100, 1},
		{"startIndex=-5&count=3", 0, 3, 1},
		{"count=500", 0, 100, 1},
		{"startIndex=101&count=50", 100, 20, 101},
		{"startIndex=121", -1, 0, 121},
		{"count=0", -1, 0, 1},
		{"count=-1", -1, 0, 1},
		{"startIndex=2&count=2&sortBy=userName&sortOrder=descending", 1, 2, 2},
	}
	for _, c := range cases {
		got, m := h.page(c.query)
		if len(got) != c.n || m["itemsPerPage"] != float64(c.n) || m["totalResults"] != 120.0 || m["startIndex"] != c.wantStart {
			t.Errorf("%q: %d items, meta %v/%v/%v", c.query, len(got), m["itemsPerPage"], m["totalResults"], m["startIndex"])
			continue
		}
		if c.n > 0 && !slices.Equal(got, ids[c.first:c.first+c.n]) {
			t.Errorf("%q: wrong users or order", c.query)
		}
	}
	for _, q := range []string{"startIndex=abc", "count=1.5"} {
		h.do("GET", "/Users?"+q, nil).scimErr(t, 400, "invalidValue")
	}
	// Order stays by creation after a delete.
	h.do("DELETE", "/Users/"+ids[1], nil).expect(t, 204)
	got, _ := h.page("count=3")
	if !slices.Equal(got, []string{ids[0], ids[2], ids[3]}) {
		t.Errorf("after delete: %v", got)
	}
}

func TestPageSizeOption(t *testing.T) {
	h := start(t, Options{PageSize: 10})
	seedUsers(t, h.s, 25, "ps")
	for _, q := range []string{"", "count=50"} {
		got, m := h.page(q)
		if len(got) != 10 || m["totalResults"] != 25.0 {
			t.Errorf("%q: %d items", q, len(got))
		}
	}
}

func TestPutUserReplacesClearsAndReactivates(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("carol@example.com",
		"externalId", "ext-c", "displayName", "Carol", "title", "Engineer", "nickName", "cc",
		"department", "Dept", "organization", "Org", "timezone", "Europe/Paris", "preferredLanguage", "fr",
		"name", map[string]any{"givenName": "Carol", "familyName": "King"},
		"phoneNumbers", []any{map[string]any{"value": "+1 555", "type": "work"}},
		EnterpriseSchema, map[string]any{"department": "R&D"},
		"active", false)
	gid := h.createGroup("carols", id)
	before := h.do("GET", "/Users/"+id, nil).expect(t, 200).obj(t)
	optional := []string{"externalId", "title", "nickName", "name", "phoneNumbers", EnterpriseSchema,
		"department", "organization", "timezone", "preferredLanguage"}
	for _, k := range append(optional, "displayName") {
		if before[k] == nil {
			t.Fatalf("POST did not keep %s: %v", k, before)
		}
	}
	h.clock.Add(time.Second)
	m := h.do("PUT", "/Users/"+id, user("carol@example.com", "displayName", "Carol K")).expect(t, 200).obj(t)
	for _, k := range optional {
		if _, ok := m[k]; ok {
			t.Errorf("PUT kept omitted attribute %s: %v", k, m[k])
		}
	}
	if m["active"] != true {
		t.Error("PUT without active must re-activate")
	}
	if m["displayName"] != "Carol K" || m["id"] != id {
		t.Errorf("PUT result %v", m)
	}
	if get(m, AtlassianSchema, "atlassianAccountId") != get(before, AtlassianSchema, "atlassianAccountId") {
		t.Error("account id changed")
	}
	if get(m, "meta", "created") != get(before, "meta", "created") || get(m, "meta", "lastModified") != "2024-03-05T10:11:13.123456Z" {
		t.Errorf("meta = %v", m["meta"])
	}
	if get(m, "groups", 0, "value") != gid {
		t.Errorf("PUT must keep group memberships: %v", m["groups"])
	}
	// PUT with active false keeps it false; externalId can be set again.
	m = h.do("PUT", "/Users/"+id, user("carol@example.com", "active", false, "externalId", "ext-c2")).expect(t, 200).obj(t)
	if m["active"] != false || m["externalId"] != "ext-c2" {
		t.Errorf("PUT result %v", m)
	}
}

func TestPutUserErrors(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("dave@example.com", "displayName", "Dave")
	h.createUser("erin@example.com", "externalId", "ext-e")
	h.do("PUT", "/Users/"+id, user("erin@example.com")).scimErr(t, 409, "uniqueness")
	h.do("PUT", "/Users/"+id, user("dave@example.com", "externalId", "ext-e")).scimErr(t, 409, "uniqueness")
	h.do("PUT", "/Users/"+id, map[string]any{"userName": "dave@example.com"}).scimErr(t, 400, "invalidValue")
	h.do("PUT", "/Users/00000000-0000-4000-8000-000000000000", user("x@example.com")).scimErr(t, 404, "")
	if u, _ := h.s.User(id); u.DisplayName != "Dave" || u.UserName != "dave@example.com" {
		t.Errorf("failed PUTs changed the user: %+v", u)
	}
}

func TestPatchUser(t *testing.T) {
	h := start(t, Options{})
	base := func(name string) string {
		return h.createUser(name+"@example.com", "displayName", "Before", "title", "T", "externalId", "x-"+name,
			"name", map[string]any{"givenName": "G", "familyName": "F"},
			"emails", []any{map[string]any{"value": name + "@example.com", "type": "work", "primary": true}})
	}
	cases := []struct {
		name  string
		body  any
		check func(m map[string]any) bool
	}{
		{"Operations replace", patch(op("replace", "displayName", "After")),
			func(m map[string]any) bool { return m["displayName"] == "After" }},
		{"lower-case operations key and op case", map[string]any{"schemas": []string{PatchOpSchema},
			"operations": []any{op("Replace", "displayName", "After")}},
			func(m map[string]any) bool { return m["displayName"] == "After" }},
		{"ADD title", patch(op("ADD", "title", "Boss")),
			func(m map[string]any) bool { return m["title"] == "Boss" }},
		{"name.givenName", patch(op("replace", "name.givenName", "Gina")),
			func(m map[string]any) bool {
				return get(m, "name", "givenName") == "Gina" && get(m, "name", "familyName") == "F"
			}},
		{"name merge", patch(op("replace", "name", map[string]any{"familyName": "Fox"})),
			func(m map[string]any) bool {
				return get(m, "name", "givenName") == "G" && get(m, "name", "familyName") == "Fox"
			}},
		{"remove name", patch(op("remove", "name", nil)),
			func(m map[string]any) bool { return m["name"] == nil }},
		{"work email value", patch(op("replace", `emails[type eq "work"].value`, "new-p9@example.com")),
			func(m map[string]any) bool {
				return get(m, "emails", 0, "value") == "new-p9@example.com" && len(m["emails"].([]any)) == 1
			}},
		{"filtered add creates element", patch(op("add", `emails[type eq "home"].value`, "home-p10@example.com")),
			func(m map[string]any) bool {
				return get(m, "emails", 1, "value") == "home-p10@example.com" && get(m, "emails", 1, "type") == "home" && get(m, "emails", 0, "primary") == true
			}},
		{"enterprise department", patch(op("replace", EnterpriseSchema+":department", "Sales")),
			func(m map[string]any) bool { return get(m, EnterpriseSchema, "department") == "Sales" }},
		{"enterprise object", patch(op("add", EnterpriseSchema, map[string]any{"organization": "ACME"})),
			func(m map[string]any) bool { return get(m, EnterpriseSchema, "organization") == "ACME" }},
		{"path-less object", patch(op("replace", "", map[string]any{"displayName": "PL", "active": false, "name": map[string]any{"familyName": "Z"}, "name.givenName": "Y", "id": "ignored"})),
			func(m map[string]any) bool {
				return m["displayName"] == "PL" && m["active"] == false && get(m, "name", "familyName") == "Z" && get(m, "name", "givenName") == "Y"
			}},
		{"deactivate", patch(op("replace", "active", false)),
			func(m map[string]any) bool { return m["active"] == false }},
		{"remove title", patch(op("remove", "title", nil)),
			func(m map[string]any) bool { _, ok := m["title"]; return !ok }},
		{"remove externalId", patch(op("remove", "externalId", nil)),
			func(m map[string]any) bool { _, ok := m["externalId"]; return !ok }},
		{"userName", patch(op("replace", "userName", "renamed-p15@example.com")),
			func(m map[string]any) bool { return m["userName"] == "renamed-p15@example.com" }},
		{"core URN path", patch(op("replace", CoreUserSchema+":title", "URN")),
			func(m map[string]any) bool { return m["title"] == "URN" }},
		{"add emails moves primary", patch(op("add", "emails", []any{map[string]any{"value": "second-p17@example.com", "primary": true}})),
			func(m map[string]any) bool {
				return get(m, "emails", 0, "primary") == nil && get(m, "emails", 1, "primary") == true
			}},
		{"replace emails", patch(op("replace", "emails", []any{map[string]any{"value": "only-p18@example.com"}})),
			func(m map[string]any) bool {
				return len(m["emails"].([]any)) == 1 && get(m, "emails", 0, "value") == "only-p18@example.com"
			}},
		{"remove filtered email", patch(
			op("add", "emails", []any{map[string]any{"value": "h-p19@example.com", "type": "home"}}),
			op("remove", `emails[type eq "home"]`, nil)),
			func(m map[string]any) bool { return len(m["emails"].([]any)) == 1 }},
		{"filtered primary moves primary", patch(
			op("add", "emails", []any{map[string]any{"value": "home-p20@example.com", "type": "home"}}),
			op("replace", `emails[type eq "home"].primary`, true)),
			func(m map[string]any) bool {
				return get(m, "emails", 0, "primary") == nil && get(m, "emails", 1, "primary") == true
			}},
		{"path-less keys apply in order", patch(op("replace", "", map[string]any{
			`emails[type eq "work"].value`: "b-p21@example.com",
			"emails":                       []any{map[string]any{"value": "a-p21@example.com", "type": "work", "primary": true}},
		})),
			func(m map[string]any) bool {
				return len(m["emails"].([]any)) == 1 && get(m, "emails", 0, "value") == "b-p21@example.com"
			}},
		{"phone by type", patch(op("add", `phoneNumbers[type eq "mobile"].value`, "+44 7000")),
			func(m map[string]any) bool {
				return get(m, "phoneNumbers", 0, "value") == "+44 7000" && get(m, "phoneNumbers", 0, "type") == "mobile"
			}},
		{"several ops in order", patch(op("replace", "title", "A"), op("replace", "title", "B")),
			func(m map[string]any) bool { return m["title"] == "B" }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := base(fmt.Sprintf("p%d", i))
			h.clock.Add(time.Second)
			r := h.do("PATCH", "/Users/"+id, c.body).expect(t, 200)
			m := r.obj(t)
			if !c.check(m) {
				t.Fatalf("unexpected result: %s", r.body)
			}
			if get(m, "meta", "lastModified") == get(m, "meta", "created") {
				t.Error("lastModified not updated")
			}
			if g := h.do("GET", "/Users/"+id, nil).expect(t, 200); string(g.body) != string(r.body) {
				t.Errorf("GET differs from PATCH response")
			}
		})
	}
}

func TestPatchUserReactivate(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("frank@example.com")
	h.do("PATCH", "/Users/"+id, patch(op("replace", "active", false))).expect(t, 200)
	if u, _ := h.s.User(id); u.Active {
		t.Fatal("still active")
	}
	m := h.do("PATCH", "/Users/"+id, patch(op("replace", "active", true))).expect(t, 200).obj(t)
	if m["active"] != true {
		t.Fatal("not re-activated")
	}
}

func TestPatchUserErrors(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("gina@example.com", "displayName", "Gina")
	h.createUser("hank@example.com", "externalId", "ext-h")
	cases := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"active as string", patch(op("replace", "active", "False")), 400, "invalidValue"},
		{"id", patch(op("replace", "id", "x")), 400, "mutability"},
		{"groups", patch(op("add", "groups", []any{map[string]any{"value": "g"}})), 400, "mutability"},
		{"atlassian extension", patch(op("replace", AtlassianSchema+":atlassianAccountId", "x")), 400, "mutability"},
		{"unknown attribute", patch(op("replace", "shoeSize", "9")), 400, "invalidPath"},
		{"unknown name part", patch(op("replace", "name.nick", "x")), 400, "invalidPath"},
		{"unsupported value filter", patch(op("replace", `emails[display eq "x"].value`, "x")), 400, "invalidPath"},
		{"broken filter", patch(op("replace", `emails[type eq "work".value`, "x")), 400, "invalidPath"},
		{"unknown op", patch(op("move", "title", "x")), 400, "invalidSyntax"},
		{"no operations", map[string]any{"schemas": []string{PatchOpSchema}}, 400, "invalidSyntax"},
		{"remove without path", patch(op("remove", "", nil)), 400, "noTarget"},
		{"path-less scalar", patch(op("replace", "", "x")), 400, "invalidValue"},
		{"remove all emails", patch(op("remove", "emails", nil)), 400, "invalidValue"},
		{"remove userName", patch(op("remove", "userName", nil)), 400, "invalidValue"},
		{"atomic: a later op fails", patch(op("replace", "displayName", "Changed"), op("replace", "active", "no")), 400, "invalidValue"},
		{"userName taken", patch(op("replace", "userName", "HANK@example.com")), 409, "uniqueness"},
		{"email taken", patch(op("add", "emails", []any{map[string]any{"value": "hank@example.com"}})), 409, "uniqueness"},
		{"externalId taken", patch(op("add", "externalId", "ext-h")), 409, "uniqueness"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.do("PATCH", "/Users/"+id, c.body).scimErr(t, c.status, c.scimType)
		})
	}
	if u, _ := h.s.User(id); u.DisplayName != "Gina" || u.UserName != "gina@example.com" || len(u.Emails) != 1 || u.ExternalID != "" {
		t.Errorf("failed PATCHes changed the user: %+v", u)
	}
	h.do("PATCH", "/Users/00000000-0000-4000-8000-000000000000", patch(op("replace", "title", "x"))).scimErr(t, 404, "")
}

func TestDeleteUser(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("ivy@example.com")
	other := h.createUser("jack@example.com")
	gid := h.createGroup("team", id, other)
	aaid, _ := h.s.User(id)
	r := h.do("DELETE", "/Users/"+id, nil).expect(t, 204)
	if len(r.body) != 0 {
		t.Errorf("DELETE body %q", r.body)
	}
	h.do("GET", "/Users/"+id, nil).scimErr(t, 404, "")
	h.do("PATCH", "/Users/"+id, patch(op("replace", "active", true))).scimErr(t, 404, "")
	h.do("PUT", "/Users/"+id, user("ivy@example.com")).scimErr(t, 404, "")
	h.do("DELETE", "/Users/"+id, nil).scimErr(t, 404, "")
	if ids := memberIDsOf(t, h.do("GET", "/Groups/"+gid, nil).expect(t, 200).obj(t)); !slices.Equal(ids, []string{other}) {
		t.Errorf("group members after delete = %v", ids)
	}
	m := h.do("POST", "/Users", user("ivy@example.com")).expect(t, 201).obj(t)
	if m["id"] == id {
		t.Error("re-created user got the old id")
	}
	if len(m["groups"].([]any)) != 0 {
		t.Error("re-created user is in groups")
	}
	if get(m, AtlassianSchema, "atlassianAccountId") != aaid.AtlassianAccountID {
		t.Error("re-created user must link to the same Atlassian account")
	}
	if ids := memberIDsOf(t, h.do("GET", "/Groups/"+gid, nil).expect(t, 200).obj(t)); !slices.Equal(ids, []string{other}) {
		t.Errorf("group members after re-create = %v", ids)
	}
}

func TestAccountEmailOwnedByAnotherAccount(t *testing.T) {
	h := start(t, Options{})
	aaid := h.s.SeedAccount("Invited@example.com")
	if again := h.s.SeedAccount("invited@example.com"); again != aaid {
		t.Fatal("SeedAccount not idempotent")
	}
	bob := h.createUser("bob@example.com")
	m := h.do("PATCH", "/Users/"+bob, patch(op("replace", `emails[type eq "work"].value`, "invited@example.com"))).scimErr(t, 409, "uniqueness")
	if m["detail"] != "Resource [USER]: with email[invited@example.com] already exists." {
		t.Errorf("detail = %v", m["detail"])
	}
	// A create with that email links to the existing account.
	u := h.do("POST", "/Users", user("invited@example.com")).expect(t, 201).obj(t)
	if get(u, AtlassianSchema, "atlassianAccountId") != aaid {
		t.Error("create did not link to the existing account")
	}
	// Moving a user's own primary email keeps its account and frees the old email.
	h.do("PATCH", "/Users/"+bob, patch(op("replace", `emails[type eq "work"].value`, "robert@example.com"))).expect(t, 200)
	c := h.do("POST", "/Users", user("bobby", "emails", []any{map[string]any{"value": "bob@example.com"}})).expect(t, 201).obj(t)
	if b, _ := h.s.User(bob); get(c, AtlassianSchema, "atlassianAccountId") == b.AtlassianAccountID {
		t.Error("new user got the account of a user whose email changed")
	}
}

func TestLastModifiedOnEveryWrite(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("kim@example.com")
	gid := h.createGroup("g")
	stamps := func() (string, string) {
		u, _ := h.s.User(id)
		g, _ := h.s.Group(gid)
		return formatTime(u.LastModified), formatTime(g.LastModified)
	}
	created, _ := stamps()
	steps := []struct {
		name string
		do   func()
		user bool
	}{
		{"PATCH user", func() { h.do("PATCH", "/Users/"+id, patch(op("replace", "title", "x"))).expect(t, 200) }, true},
		{"PUT user", func() { h.do("PUT", "/Users/"+id, user("kim@example.com")).expect(t, 200) }, true},
		{"PATCH group", func() { h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", members(id)))).expect(t, 200) }, false},
		{"PUT group", func() {
			h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "g"}).expect(t, 200)
		}, false},
	}
	for _, s := range steps {
		h.clock.Add(1500 * time.Microsecond)
		want := formatTime(h.clock.Now().Truncate(time.Microsecond))
		s.do()
		u, g := stamps()
		if got := map[bool]string{true: u, false: g}[s.user]; got != want {
			t.Errorf("%s: lastModified %s, want %s", s.name, got, want)
		}
	}
	if u, _ := h.s.User(id); formatTime(u.Created) != created {
		t.Error("created changed")
	}
}

func TestProjection(t *testing.T) {
	h := start(t, Options{})
	id := h.createUser("lee@example.com", "displayName", "Lee", "name", map[string]any{"givenName": "L", "familyName": "E"})
	m := h.do("GET", "/Users/"+id+"?attributes=userName,emails.value", nil).expect(t, 200).obj(t)
	if got := keys(m); !slices.Equal(got, []string{"emails", "id", "meta", "schemas", "userName"}) {
		t.Errorf("attributes: keys %v", got)
	}
	if e := get(m, "emails", 0).(map[string]any); len(e) != 1 || e["value"] != "lee@example.com" {
		t.Errorf("attributes: emails %v", e)
	}
	m = h.do("GET", listQuery(`userName eq "lee@example.com"`, "excludedAttributes", "groups,name.givenName,"+AtlassianSchema), nil).expect(t, 200).obj(t)
	r := get(m, "Resources", 0).(map[string]any)
	if _, ok := r["groups"]; ok || r["displayName"] != "Lee" || get(r, "name", "givenName") != nil || get(r, "name", "familyName") != "E" || r[AtlassianSchema] != nil {
		t.Errorf("excludedAttributes: %v", r)
	}
	h.do("GET", "/Users/"+id+"?attributes=userName&excludedAttributes=groups", nil).scimErr(t, 400, "invalidValue")
	p := h.do("PATCH", "/Users/"+id+"?attributes=title", patch(op("add", "title", "Dr"))).expect(t, 200).obj(t)
	if got := keys(p); !slices.Equal(got, []string{"id", "meta", "schemas", "title"}) {
		t.Errorf("PATCH with attributes: keys %v", got)
	}
}

func TestSeedModifyDeleteOutOfBand(t *testing.T) {
	h := start(t, Options{})
	created := time.Date(2020, 1, 2, 3, 4, 5, 6789, time.UTC)
	u, err := h.s.Seed(User{ID: "fixed-id", UserName: "seeded@example.com", ExternalID: "ext-s",
		Emails: []MultiValue{{Value: "seeded@example.com"}}, Active: true, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "fixed-id" || !aaidRE.MatchString(u.AtlassianAccountID) || !u.Created.Equal(created.Truncate(time.Microsecond)) {
		t.Fatalf("seeded %+v", u)
	}
	m := h.do("GET", "/Users/fixed-id", nil).expect(t, 200).obj(t)
	if get(m, "meta", "created") != "2020-01-02T03:04:05.000006Z" {
		t.Errorf("created %v", get(m, "meta", "created"))
	}
	if _, err := h.s.Seed(User{UserName: "SEEDED@example.com", Emails: []MultiValue{{Value: "s2@example.com"}}}); !errorsIs(err, ErrConflict) {
		t.Errorf("duplicate seed: %v", err)
	}
	if _, err := h.s.Seed(User{UserName: "no-email"}); !errorsIs(err, ErrInvalid) {
		t.Errorf("invalid seed: %v", err)
	}
	if got, ok := h.s.UserByExternalID("ext-s"); !ok || got.ID != "fixed-id" {
		t.Error("UserByExternalID")
	}
	mu, err := h.s.ModifyUser("fixed-id", func(u *User) { u.DisplayName = "Drifted"; u.ID = "ignored" })
	if err != nil || mu.DisplayName != "Drifted" || mu.ID != "fixed-id" {
		t.Fatalf("ModifyUser: %+v %v", mu, err)
	}
	if _, err := h.s.ModifyUser("nope", func(*User) {}); !errorsIs(err, ErrNotFound) {
		t.Errorf("ModifyUser unknown: %v", err)
	}
	if !h.s.DeleteUser("fixed-id") || h.s.DeleteUser("fixed-id") {
		t.Error("DeleteUser")
	}
	h.do("GET", "/Users/fixed-id", nil).scimErr(t, 404, "")
}
