package mapping

// Policies compile the default mappings the target profiles register.
import _ "github.com/scimgate/scim-gateway/outbound/targets"
