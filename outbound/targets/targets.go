// Package targets registers the built-in target profiles. Import it (for
// its side effect) wherever app types are resolved: the application core,
// and tests of packages that validate or compile configurations. A new
// app type is one new package beside outbound/atlassian and one line here.
package targets

import (
	"github.com/scimgate/scim-gateway/outbound/atlassian"
	"github.com/scimgate/scim-gateway/outbound/generic"
	"github.com/scimgate/scim-gateway/outbound/target"
)

func init() {
	target.Register(atlassian.Descriptor())
	target.Register(generic.Descriptor())
}
