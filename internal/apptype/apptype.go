// Package apptype is the registry of app types (target profiles) as the
// configuration and the policies see them: a name, whether the type
// pushes groups by default, its default attribute mapping and the
// attributes its API requires. The constructors that speak to such an
// app (its Target and its importer's Lister) are registered with the same
// name by outbound/target, which fills this registry in the same call;
// internal/config validates `apps[].type` against the names here and
// mapping compiles the default mapping from here, so neither knows any
// type by name. Built-in types register in package outbound/targets.
package apptype

import (
	"fmt"
	"slices"
	"sync"
)

// Rule is one rule of a type's default attribute mapping: the target
// attribute path and its sources, tried in turn (a source holding "{{"
// is a template, as in the configuration's attribute mappings).
type Rule struct {
	Target  string
	Sources []string
}

// Type is what the configuration and the policies know of an app type.
type Type struct {
	// Name is the value of apps[].type.
	Name string
	// PushesGroupsByDefault is the default of apps[].actions.groups.
	PushesGroupsByDefault bool
	// DefaultMapping is what an app of the type gets when it configures
	// no attributes.
	DefaultMapping []Rule
	// RequiresEmails: the type's API refuses a user without an email, so
	// a configured mapping must set emails.
	RequiresEmails bool
}

var (
	mu    sync.RWMutex
	types = map[string]Type{}
)

// Register adds t. It panics on an empty or duplicate name: registration
// happens once, at init, from code.
func Register(t Type) {
	mu.Lock()
	defer mu.Unlock()
	if t.Name == "" {
		panic("apptype: Register with an empty name")
	}
	if _, dup := types[t.Name]; dup {
		panic(fmt.Sprintf("apptype: type %q registered twice", t.Name))
	}
	t.DefaultMapping = slices.Clone(t.DefaultMapping)
	types[t.Name] = t
}

// Lookup returns the registered type name.
func Lookup(name string) (Type, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := types[name]
	return t, ok
}

// Names returns the registered names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(types))
	for n := range types {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
