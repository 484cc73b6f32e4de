package app

// The built-in app types (outbound/atlassian, outbound/scim), registered
// for every configuration this package loads.
import _ "github.com/scimgate/scim-gateway/outbound/targets"
