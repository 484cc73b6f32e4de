package config

// Configurations name app types, which the target profiles register.
import _ "github.com/scimgate/scim-gateway/outbound/targets"
