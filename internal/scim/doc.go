// Package scim owns the SCIM 2.0 resource model of the gateway (RFC 7643,
// RFC 7644): schemas and resource types, the one SCIM error type, decoding
// and normalizing request bodies, filter compilation and evaluation, the
// PATCH engine, attribute projection and sorting. It exists so that the
// HTTP layer (gateway), the policy engine (mapping) and the report queries
// share one implementation of these rules, tolerant of what Okta and
// Microsoft Entra ID actually send, and strict about everything else. It
// imports nothing from this repository and does no I/O: the caller reads
// bodies (under a size limit) and supplies membership lookups.
//
// # Resources
//
// A resource is a JSON object decoded into map[string]any with
// json.Decoder.UseNumber: core and common attributes (id, externalId,
// meta, schemas) at the top level under their schema spelling, extension
// attributes under the extension URN ("urn:…:enterprise:2.0:User":
// {"manager": {"value": "…"}}). Numbers are json.Number; booleans are bool;
// dateTimes are RFC 3339 strings. Lookups of keys are case-insensitive, so
// maps a caller builds by hand also work.
//
// # Errors
//
// Every error this package returns to a client-facing caller is an *Error
// {Status, ScimType, Detail} that marshals to the RFC 7644 §3.12 body with
// the status as a string. Prototypes (ErrInvalidFilter, ErrNoTarget,
// ErrNotFound, ErrUniqueness, ErrPreconditionFailed, …) are matched with
// errors.Is and specialised with Detailf; AsError turns any error into a
// response (unknown errors become a 500 that leaks nothing).
//
// # Schemas
//
// UserResourceType (User + Enterprise User extension) and
// GroupResourceType are built in (RFC 7643 §4, §8.7); Schema.Document and
// ResourceType.Document render the /Schemas and /ResourceTypes
// representations. NewSchema and NewResourceType build other types from
// attribute definitions, for example the fields of report entries, so that
// the same filter evaluator serves them. ResourceType.Resolve resolves
// "userName", "name.givenName", "emails.value",
// "urn:…:enterprise:2.0:User:manager.value" and extension URNs,
// case-insensitively; an unqualified extension attribute name ("manager")
// resolves to the extension, as Entra ID uses it.
//
// # Decoding (POST, PUT)
//
//	res, err := scim.Decode(body, scim.UserResourceType)     // POST
//	res, err = scim.Replace(stored, res, scim.UserResourceType) // PUT
//
// Normalize documents the input rules: "schemas" must include the core
// URN; names are canonicalised; readOnly attributes (id, meta, groups) and
// unknown attributes are dropped (tolerant: Okta sends "groups":[], Entra
// sends "meta" and foreign schema URNs); null is unassigned; booleans are
// also accepted as "True"/"False"; a bare manager id becomes {"value": id};
// required attributes and primary uniqueness are enforced. Replace keeps
// readOnly attributes and omitted writeOnly (password) or immutable values
// from the stored resource and clears everything else that was omitted.
// IndexValues, StringAt and MemberIDs extract what the store indexes.
//
// # Filters
//
//	f, err := scim.Compile(`emails[type eq "work"].value eq "a@b.c"`, scim.UserResourceType)
//	keys := f.Plan()       // [{emails.value a@b.c}]: candidates from an index
//	ok := f.Match(res)     // always re-check candidates
//
// Compile accepts the whole RFC 7644 §3.4.2.2 grammar (parsed with
// github.com/scim2/filter-parser/v2), Entra ID's value-path-with-sub-
// attribute form, and full filters inside brackets; every attribute is
// resolved and every comparison type-checked at compile time (400
// invalidFilter otherwise, never a silent mismatch). Semantics: strings
// compare case-insensitively unless the attribute is caseExact (id,
// externalId, member values); a multi-valued attribute matches when any
// value matches; "ne" is "not eq" (an absent attribute is "ne" anything);
// "eq null" is "not pr"; a complex attribute compared without a
// sub-attribute compares its "value" ("manager eq", "members eq"). Plan
// returns index lookups only for eq on id, userName, externalId,
// displayName and emails.value at the top level or under top-level "and"s;
// "or", "not" and other shapes yield no plan and the caller scans. Groups
// are stored without their member list: MatchWith takes Hooks whose
// IsMember answers `members eq "id"` and `members[value eq "id"]` in O(1).
//
// # PATCH
//
//	p, err := scim.ParsePatch(body)
//	r, err := p.Apply(stored, scim.GroupResourceType)
//	// r.Resource, r.Changed (attribute names), r.Members (*MemberDelta)
//
// Apply is atomic: it works on a copy and returns nothing on error. It
// accepts ops in any case, string booleans, path-less values with dotted
// and URN keys, readOnly keys in path-less values (ignored), and creates
// the element a filtered replace targets when it is missing (Entra's
// `emails[type eq "work"].value`). Group membership never goes through
// the resource map: member operations yield a MemberDelta (add/remove ids,
// or replace the whole set), so a 50,000-member group is updated in
// O(changed). Entra's `remove` of path "members" with a value list removes
// those members, not all of them.
//
// # Responses
//
// Project applies attributes/excludedAttributes and the "returned"
// characteristic (password is never returned, id and schemas always);
// NeedsAttribute tells the caller whether to load members at all.
// NewSorter implements sortBy/sortOrder.
package scim
