package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/config"
)

const (
	engID  = "2819c223-7f76-453a-919d-413861904646"
	opsID  = "0a7f4c1e-0000-4000-8000-000000000002"
	salesI = "0a7f4c1e-0000-4000-8000-000000000003"
)

var (
	eng   = GroupRef{ID: engID, DisplayName: "Engineering"}
	ops   = GroupRef{ID: opsID, DisplayName: "Ops"}
	sales = GroupRef{ID: salesI, DisplayName: "Sales"}
)

func newApp(name, typ string) config.App {
	a := config.DefaultApp()
	a.Name, a.Type, a.BaseURL, a.Token = name, typ, "https://"+name+".example.com/scim", "tok"
	return a
}

// doc decodes a JSON user document as the hub stores it (numbers as
// json.Number).
func doc(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("test document: %v", err)
	}
	return m
}

// person is a hub user with a userName, a work email and a name.
func person(t testing.TB, id, userName string, groups ...GroupRef) UserView {
	t.Helper()
	d := doc(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`",
		"name":{"givenName":"Given","familyName":"Family"},
		"emails":[{"value":"`+userName+`","type":"work","primary":true}],
		"meta":{"resourceType":"User","version":"W/\"1\""}}`)
	d["id"] = id
	return UserView{ID: id, Doc: d, Groups: groups}
}

func mustCompile(t testing.TB, apps []config.App, policies []config.Policy) *Policies {
	t.Helper()
	p, err := Compile(apps, policies)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

// compileProblems compiles and returns the problems, failing if there are
// none.
func compileProblems(t *testing.T, apps []config.App, policies []config.Policy) []config.Problem {
	t.Helper()
	p, err := Compile(apps, policies)
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Compile = %v, %v; want a *config.ValidationError", p, err)
	}
	if p != nil {
		t.Errorf("Compile returned policies with an error")
	}
	return ve.Problems
}

func wantProblems(t *testing.T, got, want []config.Problem) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
