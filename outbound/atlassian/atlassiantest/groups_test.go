package atlassiantest

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateGroupShape(t *testing.T) {
	h := start(t, Options{})
	r := h.do("POST", "/Groups", map[string]any{"schemas": []string{CoreGroupSchema}, "displayName": "Engineering"}).expect(t, 201)
	m := r.obj(t)
	id, _ := m["id"].(string)
	if !uuidRE.MatchString(id) {
		t.Errorf("id %q", id)
	}
	if !reflect.DeepEqual(m["schemas"], []any{CoreGroupSchema}) || m["displayName"] != "Engineering" {
		t.Errorf("group %s", r.body)
	}
	if mem, ok := m["members"].([]any); !ok || len(mem) != 0 {
		t.Errorf("members = %#v, want []", m["members"])
	}
	if _, ok := m["externalId"]; ok {
		t.Error("unset externalId must be omitted")
	}
	wantMeta := map[string]any{"resourceType": "Group", "location": h.s.URL() + "/Groups/" + id,
		"created": "2024-03-05T10:11:12.123456Z", "lastModified": "2024-03-05T10:11:12.123456Z"}
	if !reflect.DeepEqual(m["meta"], wantMeta) {
		t.Errorf("meta = %v", m["meta"])
	}
	h.do("POST", "/Groups", map[string]any{"displayName": " "}).scimErr(t, 400, "invalidValue")
}

func TestCreateGroupWithMembers(t *testing.T) {
	h := start(t, Options{})
	a := h.createUser("a@example.com")
	b := h.createUser("b@example.com")
	gid := h.createGroup("team", b, a, b)
	m := h.do("GET", "/Groups/"+gid, nil).expect(t, 200).obj(t)
	// Members come in user creation order, deduplicated, with Atlassian's shape.
	want := []any{
		map[string]any{"type": "User", "value": a, "display": "a@example.com", "$ref": h.s.URL() + "/Users/" + a},
		map[string]any{"type": "User", "value": b, "display": "b@example.com", "$ref": h.s.URL() + "/Users/" + b},
	}
	if !reflect.DeepEqual(m["members"], want) {
		t.Errorf("members = %v", m["members"])
	}
	u := h.do("GET", "/Users/"+a, nil).expect(t, 200).obj(t)
	wantRef := []any{map[string]any{"type": "direct", "value": gid, "display": "team", "$ref": h.s.URL() + "/Groups/" + gid}}
	if !reflect.DeepEqual(u["groups"], wantRef) {
		t.Errorf("user groups = %v", u["groups"])
	}
	h.do("POST", "/Groups", map[string]any{"displayName": "bad", "members": members(a, "no-such-user")}).scimErr(t, 400, "invalidValue")
	if _, ok := h.s.GroupByDisplayName("bad"); ok {
		t.Error("group with an unknown member was created")
	}
}

func TestCreateGroupDuplicateName(t *testing.T) {
	h := start(t, Options{})
	h.createGroup("Engineering")
	if _, err := h.s.SeedGroup(Group{DisplayName: "site-admins"}); err != nil {
		t.Fatal(err)
	}
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"Resource [GROUP]: with displayName already exists."}`
	for _, name := range []string{"Engineering", "engineering", "SITE-ADMINS"} {
		r := h.do("POST", "/Groups", map[string]any{"displayName": name})
		if r.status != 409 || string(r.body) != want {
			t.Errorf("%q: %d %s", name, r.status, r.body)
		}
	}
	if _, err := h.s.SeedGroup(Group{DisplayName: "ENGINEERING"}); !errorsIs(err, ErrConflict) {
		t.Errorf("SeedGroup duplicate: %v", err)
	}
}

func TestListGroups(t *testing.T) {
	h := start(t, Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, h.createGroup(fmt.Sprintf("Group %d", i)))
	}
	m := h.do("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "group 3"`), nil).expect(t, 200).obj(t)
	if m["totalResults"] != 1.0 || get(m, "Resources", 0, "id") != ids[3] {
		t.Errorf("filter: %v", m)
	}
	m = h.do("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "nope"`), nil).expect(t, 200).obj(t)
	if m["totalResults"] != 0.0 || len(m["Resources"].([]any)) != 0 {
		t.Errorf("no match: %v", m)
	}
	m = h.do("GET", "/Groups?startIndex=2&count=2", nil).expect(t, 200).obj(t)
	if m["totalResults"] != 5.0 || m["itemsPerPage"] != 2.0 || get(m, "Resources", 0, "id") != ids[1] || get(m, "Resources", 1, "id") != ids[2] {
		t.Errorf("paging: %v", m)
	}
	want := `{"schemas":["urn:ietf:params:scim:b:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"Resource [GROUP] invalid filter"}`
	for _, f := range []string{`displayName co "Group"`, `externalId eq "x"`, `userName eq "x"`, `displayName eq "a" or displayName eq "b"`, ``} {
		r := h.do("GET", "/Groups?filter="+url.QueryEscape(f), nil)
		if r.status != 400 || string(r.body) != want {
			t.Errorf("filter %q: %d %s", f, r.status, r.body)
		}
	}
}

func TestPatchGroupMembers(t *testing.T) {
	h := start(t, Options{})
	var u []string
	for i := range 5 {
		u = append(u, h.createUser(fmt.Sprintf("m%d@example.com", i)))
	}
	gid := h.createGroup("team")
	steps := []struct {
		name string
		body any
		want []string
	}{
		{"add with display", patch(op("add", "members", []any{
			map[string]any{"value": u[1], "display": "m1@example.com"},
			map[string]any{"value": u[0]},
		})), []string{u[0], u[1]}},
		{"add existing is a no-op", patch(op("add", "members", members(u[0]))), []string{u[0], u[1]}},
		{"lower-case operations, path-less add", map[string]any{"schemas": []string{PatchOpSchema},
			"operations": []any{op("Add", "", map[string]any{"members": members(u[2], u[3])})}}, []string{u[0], u[1], u[2], u[3]}},
		{"remove with value list", patch(op("remove", "members", members(u[1]))), []string{u[0], u[2], u[3]}},
		{"remove with value filter", patch(op("remove", fmt.Sprintf(`members[value eq "%s"]`, u[2]), nil)), []string{u[0], u[3]}},
		{"remove non-member and unknown id", patch(op("remove", "members", members(u[4], "no-such-user"))), []string{u[0], u[3]}},
		{"replace", patch(op("replace", "members", members(u[4], u[1]))), []string{u[1], u[4]}},
		{"remove all", patch(op("REMOVE", "members", nil)), nil},
		{"several ops", patch(op("add", "members", members(u[0], u[1])), op("remove", "members", members(u[0]))), []string{u[1]}},
	}
	for _, s := range steps {
		m := h.do("PATCH", "/Groups/"+gid, s.body).expect(t, 200).obj(t)
		if got := memberIDsOf(t, m); !slices.Equal(got, s.want) {
			t.Fatalf("%s: members %v, want %v", s.name, got, s.want)
		}
		if m["displayName"] != "team" || !reflect.DeepEqual(m["schemas"], []any{CoreGroupSchema}) {
			t.Fatalf("%s: not a full group: %v", s.name, m)
		}
	}
	// Adding an unknown user fails the whole request.
	h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", members(u[2])), op("add", "members", members("no-such-user")))).scimErr(t, 400, "invalidValue")
	if g, _ := h.s.Group(gid); len(g.Members) != 1 || g.Members[0].ID != u[1] {
		t.Errorf("failed PATCH changed members: %+v", g.Members)
	}
	for _, bad := range []any{
		patch(op("add", "members", "not-a-list")),
		patch(op("add", "members", []any{map[string]any{"display": "x"}})),
	} {
		h.do("PATCH", "/Groups/"+gid, bad).scimErr(t, 400, "invalidValue")
	}
	h.do("PATCH", "/Groups/"+gid, patch(op("replace", "owner", "x"))).scimErr(t, 400, "invalidPath")
	h.do("PATCH", "/Groups/"+gid, patch(op("add", `members[value eq "x"]`, "x"))).scimErr(t, 400, "invalidPath")
	h.do("PATCH", "/Groups/"+gid, patch(op("remove", `members[display eq "x"]`, nil))).scimErr(t, 400, "invalidPath")
	h.do("PATCH", "/Groups/"+gid, patch(op("merge", "members", members(u[0])))).scimErr(t, 400, "invalidSyntax")
	h.do("PATCH", "/Groups/"+gid, map[string]any{"Operations": []any{}}).scimErr(t, 400, "invalidSyntax")
	h.do("PATCH", "/Groups/no-such-group", patch(op("add", "members", members(u[0])))).scimErr(t, 404, "")
	// externalId can change.
	m := h.do("PATCH", "/Groups/"+gid, patch(op("replace", "externalId", "okta-123"))).expect(t, 200).obj(t)
	if m["externalId"] != "okta-123" {
		t.Errorf("externalId %v", m["externalId"])
	}
}

func TestGroupRenameRejected(t *testing.T) {
	h := start(t, Options{})
	gid := h.createGroup("Old Name")
	for _, body := range []any{
		patch(op("replace", "displayName", "New Name")),
		patch(op("replace", "", map[string]any{"displayName": "New Name"})),
		patch(op("replace", "displayName", "old name")), // a case change is a rename too
	} {
		m := h.do("PATCH", "/Groups/"+gid, body).scimErr(t, 400, "mutability")
		if d := m["detail"].(string); !strings.Contains(d, "renaming groups is not supported") {
			t.Errorf("detail %q", d)
		}
	}
	h.do("PATCH", "/Groups/"+gid, patch(op("remove", "displayName", nil))).scimErr(t, 400, "mutability")
	h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "New Name"}).scimErr(t, 400, "mutability")
	h.do("PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "Old Name"))).expect(t, 200)
	if g, _ := h.s.Group(gid); g.DisplayName != "Old Name" {
		t.Errorf("renamed to %q", g.DisplayName)
	}
}

func TestGroupRenameIgnoredOption(t *testing.T) {
	h := start(t, Options{IgnoreGroupRename: true})
	gid := h.createGroup("Old Name")
	m := h.do("PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "New Name"))).expect(t, 200).obj(t)
	if m["displayName"] != "Old Name" {
		t.Errorf("displayName %v", m["displayName"])
	}
	h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "New Name"}).expect(t, 200)
}

func TestPutGroup(t *testing.T) {
	h := start(t, Options{})
	a := h.createUser("a@example.com")
	b := h.createUser("b@example.com")
	gid := h.createGroup("team", a)
	h.clock.Add(time.Second)
	m := h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "team", "externalId": "e1", "members": members(b)}).expect(t, 200).obj(t)
	if got := memberIDsOf(t, m); !slices.Equal(got, []string{b}) || m["externalId"] != "e1" {
		t.Errorf("PUT: %v", m)
	}
	if get(m, "meta", "lastModified") == get(m, "meta", "created") {
		t.Error("lastModified not updated")
	}
	if u, _ := h.s.User(a); len(u.Groups) != 0 {
		t.Error("removed member still lists the group")
	}
	m = h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "team"}).expect(t, 200).obj(t)
	if len(m["members"].([]any)) != 0 || m["externalId"] != nil {
		t.Errorf("PUT without members/externalId: %v", m)
	}
	h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "team", "members": members("nope")}).scimErr(t, 400, "invalidValue")
	h.do("PUT", "/Groups/"+gid, map[string]any{"members": members(a)}).scimErr(t, 400, "invalidValue")
	h.do("PUT", "/Groups/nope", map[string]any{"displayName": "team"}).scimErr(t, 404, "")
}

func TestDeleteGroup(t *testing.T) {
	h := start(t, Options{})
	a := h.createUser("a@example.com")
	gid := h.createGroup("team", a)
	r := h.do("DELETE", "/Groups/"+gid, nil).expect(t, 204)
	if len(r.body) != 0 {
		t.Errorf("body %q", r.body)
	}
	h.do("DELETE", "/Groups/"+gid, nil).scimErr(t, 404, "")
	h.do("GET", "/Groups/"+gid, nil).scimErr(t, 404, "")
	if u := h.do("GET", "/Users/"+a, nil).expect(t, 200).obj(t); len(u["groups"].([]any)) != 0 {
		t.Errorf("user still in deleted group: %v", u["groups"])
	}
	// The name is free again.
	h.createGroup("team")
}

func TestGroupMemberCap(t *testing.T) {
	h := start(t, Options{MaxGroupMembers: 3})
	var u []string
	for i := range 4 {
		u = append(u, h.createUser(fmt.Sprintf("c%d@example.com", i)))
	}
	h.do("POST", "/Groups", map[string]any{"displayName": "big", "members": members(u...)}).scimErr(t, 400, "invalidValue")
	gid := h.createGroup("capped", u[0], u[1])
	h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", members(u[2], u[3])))).scimErr(t, 400, "invalidValue")
	h.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "capped", "members": members(u...)}).scimErr(t, 400, "invalidValue")
	// Removing and adding in one request counts the result, not the steps.
	h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", members(u[2])), op("remove", "members", members(u[0])), op("add", "members", members(u[3])))).expect(t, 200)
	if g, _ := h.s.Group(gid); len(g.Members) != 3 {
		t.Errorf("members = %d", len(g.Members))
	}
}

func TestGroupMemberCapDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 35,001 users")
	}
	h := start(t, Options{})
	ids := seedUsers(t, h.s, DefaultMaxGroupMembers+1, "cap")
	full := make([]Member, DefaultMaxGroupMembers)
	for i := range full {
		full[i] = Member{ID: ids[i]}
	}
	g, err := h.s.SeedGroup(Group{DisplayName: "everyone", Members: full})
	if err != nil {
		t.Fatal(err)
	}
	gid := g.ID
	h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", members(ids[DefaultMaxGroupMembers])))).scimErr(t, 400, "invalidValue")
	if g, _ := h.s.Group(gid); len(g.Members) != DefaultMaxGroupMembers {
		t.Errorf("members = %d", len(g.Members))
	}
}

func TestMaxUsers(t *testing.T) {
	h := start(t, Options{MaxUsers: 2})
	h.createUser("a@example.com")
	h.createUser("b@example.com")
	h.do("POST", "/Users", user("c@example.com")).scimErr(t, 400, "invalidValue")
}
