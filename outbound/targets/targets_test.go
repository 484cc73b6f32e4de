package targets_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/mapping"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
	_ "github.com/scimgate/scim-gateway/outbound/targets"
)

func TestBuiltInTypesAreRegistered(t *testing.T) {
	if got := apptype.Names(); !slices.Equal(got, []string{"atlassian", "scim"}) {
		t.Fatalf("registered types = %v, want atlassian and scim", got)
	}
	for _, name := range apptype.Names() {
		d, ok := target.Lookup(name)
		if !ok || d.NewTarget == nil || d.NewLister == nil || len(d.DefaultMapping) == 0 {
			t.Errorf("descriptor %q = %+v: want constructors and a default mapping", name, d)
		}
	}
	if d, _ := target.Lookup("atlassian"); d.PushesGroupsByDefault || !d.RequiresEmails {
		t.Errorf("atlassian: pushes groups by default %v, requires emails %v; want false, true", d.PushesGroupsByDefault, d.RequiresEmails)
	}
	if d, _ := target.Lookup("scim"); !d.PushesGroupsByDefault {
		t.Error("scim must push groups by default")
	}
}

func TestUnknownType(t *testing.T) {
	if _, err := target.New("okta", scimclient.Options{BaseURL: "https://x", Token: "t"}); err == nil || !strings.Contains(err.Error(), "atlassian, scim") {
		t.Errorf("target.New of an unknown type: %v, want the registered names", err)
	}
	if _, err := target.NewLister("okta", nil); err == nil {
		t.Error("target.NewLister of an unknown type succeeded")
	}
}

// TestDefaultMappingsCompile compiles, for every registered type, an app
// that takes the type's default mapping, and checks that configuration
// validation and the policies accept exactly the registered types.
func TestDefaultMappingsCompile(t *testing.T) {
	for _, name := range apptype.Names() {
		app := config.DefaultApp()
		app.Name, app.Type, app.BaseURL = "app-"+name, name, "https://example.com/scim"
		if _, err := mapping.Compile([]config.App{app}, []config.Policy{{Name: "p", App: app.Name, Groups: []string{"Everyone"}}}); err != nil {
			t.Errorf("type %s: default mapping does not compile: %v", name, err)
		}
	}
	app := config.DefaultApp()
	app.Name, app.Type, app.BaseURL = "app-x", "okta", "https://example.com/scim"
	if _, err := mapping.Compile([]config.App{app}, nil); err == nil || !strings.Contains(err.Error(), "must be atlassian or scim") {
		t.Errorf("unknown type compiled: %v", err)
	}
}
