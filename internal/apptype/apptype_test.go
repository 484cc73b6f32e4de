package apptype

import (
	"slices"
	"testing"
)

func TestRegisterLookupNames(t *testing.T) {
	Register(Type{Name: "zz-test", PushesGroupsByDefault: true, DefaultMapping: []Rule{{"userName", []string{"userName"}}}})
	Register(Type{Name: "aa-test"})
	got, ok := Lookup("zz-test")
	if !ok || !got.PushesGroupsByDefault || len(got.DefaultMapping) != 1 {
		t.Fatalf("Lookup = %+v, %v", got, ok)
	}
	if _, ok := Lookup("missing"); ok {
		t.Fatal("Lookup of an unregistered name succeeded")
	}
	names := Names()
	if i, j := slices.Index(names, "aa-test"), slices.Index(names, "zz-test"); i < 0 || j < i {
		t.Fatalf("Names = %v, want both, sorted", names)
	}
	for _, bad := range []Type{{Name: ""}, {Name: "zz-test"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", bad)
				}
			}()
			Register(bad)
		}()
	}
}
