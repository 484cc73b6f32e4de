package inbound

// The reconcilers resolve app types through the registered profiles.
import _ "github.com/scimgate/scim-gateway/outbound/targets"
