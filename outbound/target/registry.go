package target

import (
	"fmt"
	"strings"
	"sync"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// Descriptor is one target profile: everything type-specific about an app
// type, in one value. Type is what the configuration and the policies
// see (name, default attribute mapping, the actions.groups default, the
// attributes the API requires); NewTarget and NewLister build what the
// reconcilers and the importer drive.
type Descriptor struct {
	apptype.Type
	// NewTarget returns a Target talking through a client made from opts.
	NewTarget func(opts scimclient.Options) (Target, error)
	// NewLister returns the importer's view of the app's accounts over c.
	NewLister func(c *scimclient.Client) Lister
}

var (
	mu          sync.RWMutex
	descriptors = map[string]Descriptor{}
)

// Register adds d to this registry and d.Type to internal/apptype's, in
// one call. It panics on an incomplete or duplicate descriptor:
// registration happens once, at init, from code.
func Register(d Descriptor) {
	if d.NewTarget == nil || d.NewLister == nil {
		panic(fmt.Sprintf("target: descriptor %q lacks a constructor", d.Name))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := descriptors[d.Name]; dup {
		panic(fmt.Sprintf("target: type %q registered twice", d.Name))
	}
	apptype.Register(d.Type) // panics on an empty name
	descriptors[d.Name] = d
}

// Lookup returns the descriptor registered as name.
func Lookup(name string) (Descriptor, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := descriptors[name]
	return d, ok
}

// lookup is Lookup with an error naming the registered types.
func lookup(typ string) (Descriptor, error) {
	d, ok := Lookup(typ)
	if !ok {
		return Descriptor{}, fmt.Errorf("target type %q: want one of %s", typ, strings.Join(apptype.Names(), ", "))
	}
	return d, nil
}

// New returns a Target of the registered type typ over a client made from
// opts.
func New(typ string, opts scimclient.Options) (Target, error) {
	d, err := lookup(typ)
	if err != nil {
		return nil, err
	}
	t, err := d.NewTarget(opts)
	if err != nil {
		return nil, fmt.Errorf("target type %q: %w", typ, err)
	}
	return t, nil
}

// NewLister returns the importer's Lister of the registered type typ over c.
func NewLister(typ string, c *scimclient.Client) (Lister, error) {
	d, err := lookup(typ)
	if err != nil {
		return nil, err
	}
	return d.NewLister(c), nil
}
