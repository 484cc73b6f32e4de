// Package gateway is the gateway's HTTP face: the SCIM 2.0 service
// provider (RFC 7643/7644) that Okta and Microsoft Entra ID push Users and
// Groups to, the admin API (reports, status, reload, on-demand import) and
// the operational endpoints (/healthz, /readyz, /metrics).
//
// It is strict where the RFC protects data (uniqueness, mutability,
// compare-and-set with ETags, one RFC 7644 error body for every failure)
// and tolerant where the IdPs need it (capitalised ops, string booleans,
// dotted path-less PATCH keys, Okta's raw "Header" token, endpoint names in
// any case). Every hub write stores the resource, its indexes, its
// membership changes and the fan-out marks for the apps it concerns in one
// atomic store write, so an IdP never waits on a downstream app; every
// write is appended to the report log. Lookups by userName, externalId,
// email, id and group displayName are answered from indexes, and group
// membership changes cost O(changed members).
package gateway
