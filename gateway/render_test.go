package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// createdUserSeeds are user create bodies whose normalisation differs in
// some way: the IdPs' real bodies are added from the replay fixtures.
var createdUserSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"bogus":1,"manager":null}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"USERNAME":"a","Name.GivenName":"G","password":"p","groups":[],"id":"x","meta":{"version":"1"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"nested"},"active":"True"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","department":"R&D","manager":"m-1","emails":{"value":"a@b"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"<a&b>","displayName":"\u2028","x509Certificates":[],"name":{"bogus":true}}`,
	` {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"a@b","primary":"true","type":"work","display":null}]} `,
}

// TestCreatedUserBody checks the shortcut a user create answers with: the
// stored JSON with id and meta added must be, as JSON, the response the
// general path renders (decorate, Project with no attributes parameter,
// json.Marshal).
func TestCreatedUserBody(t *testing.T) {
	bodies := append([][]byte(nil), stringsToBytes(createdUserSeeds)...)
	for _, fx := range loadFixtures(t) {
		for _, st := range fx.Steps {
			if st.Request != nil && st.Request.Method == http.MethodPost && strings.HasPrefix(st.Request.Path, "/Users") && len(st.Request.Body) > 0 {
				bodies = append(bodies, st.Request.Body)
			}
		}
	}
	if len(bodies) < len(createdUserSeeds)+3 {
		t.Fatalf("only %d bodies: the fixtures hold no user creates", len(bodies))
	}
	s := renderServer(t)
	for _, body := range bodies {
		if !checkCreatedUserBody(t, s, body) {
			t.Errorf("a seed was refused by Decode: %s", body)
		}
	}
}

func FuzzCreatedUserBody(f *testing.F) {
	for _, b := range createdUserSeeds {
		f.Add([]byte(b))
	}
	s := renderServer(f)
	f.Fuzz(func(t *testing.T, body []byte) { checkCreatedUserBody(t, s, body) })
}

func stringsToBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func renderServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := New(Options{Store: backends["bolt"](tb), IDPAuth: NewCredentials([]StaticToken{{Name: "okta", Value: testToken}}, nil, nil, nil)})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// checkCreatedUserBody compares the two renderings of body created as a
// user, and reports false when Decode refuses body.
func checkCreatedUserBody(t *testing.T, s *Server, body []byte) bool {
	t.Helper()
	doc, err := scim.Decode(bytes.NewReader(body), userKind.rt)
	if err != nil {
		return false
	}
	attrs := storable(doc)
	data, err := json.Marshal(attrs)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	created := time.Date(2026, 11, 27, 12, 0, 0, 123, time.UTC)
	r := &store.Resource{Kind: store.KindUser, ID: "a\"1", Version: 1, Created: created, Modified: created, Data: data}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "http://gw.test/scim/v2/Users", nil), httptest.NewRecorder())

	fast, err := s.withIDAndMeta(c, userKind, r)
	if err != nil {
		t.Fatalf("withIDAndMeta: %v", err)
	}
	slow, err := json.Marshal(scim.Project(s.decorate(c, userKind, r, storable(doc)), userKind.rt, nil, nil))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var got, want any
	if err := json.Unmarshal(fast, &got); err != nil {
		t.Fatalf("the shortcut rendered invalid JSON: %v\n%s", err, fast)
	}
	if err := json.Unmarshal(slow, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %s\nshortcut: %s\nprojected: %s", body, fast, slow)
	}
	return true
}

// TestNewID checks server-issued ids are RFC 9562 version 4 UUIDs in
// their canonical lowercase text form, and do not repeat.
func TestNewID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if !uuid4.MatchString(id) {
			t.Fatalf("newID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
}
