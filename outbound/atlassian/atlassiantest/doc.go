// Package atlassiantest is an in-process fake of Atlassian's user-provisioning
// SCIM API (https://api.atlassian.com/scim/directory/{directoryId}), in the
// spirit of net/http/httptest. It owns the contract our outbound reconcilers
// are tested against: real HTTP on loopback, Atlassian's semantics and error
// bodies as far as they are known (../../../shared/reference/atlassian-scim.md),
// fault knobs for the failures a provisioning client must survive (429, 5xx,
// latency, responses lost after commit, expired keys), and inspection and
// seeding for assertions. It is self-contained: it does not use the gateway's
// internal/scim, so a bug there cannot hide the same bug here.
//
// # Use
//
//	srv := atlassiantest.NewServer(atlassiantest.Options{Token: "k"})
//	defer srv.Close()
//	// point the client under test at srv.URL() (http://127.0.0.1:port/scim/directory/test-directory)
//	// with "Authorization: Bearer k"
//	srv.RateLimit(20, 5)   // knobs are safe to change while serving
//	srv.DropAfterCommit(1) // the next successful write loses its response
//	...
//	err := srv.WaitCalls(ctx, "POST", atlassiantest.KindUsers, 100)
//	u, ok := srv.UserByUserName("alice@example.com")
//
// Inspection and seeding: Users, User, UserByUserName, UserByExternalID,
// Groups, Group, GroupByDisplayName, Counts; Seed, SeedGroup, SeedAccount,
// ModifyUser (drift), DeleteUser, DeleteGroup (out-of-band changes); Reset.
// Accounting: Calls, CallCount, CallLog, WaitCalls, InFlight, WaitInFlight.
//
// New builds a Server without listening, for use with Handler() in your own
// http.Server (cmd/atlassian-sim does that).
//
// # Request pipeline
//
// Every request goes through, in order: Latency; authentication (path
// directory and bearer token); the rate limiter; injected failures
// (FailNext, then FailRate), which happen before any state is touched; the
// endpoint. Each request is then counted (Calls, CallCount, WaitCalls) and,
// with Options.RecordCalls, logged (CallLog) before its response is written,
// so a client holding a response always finds its call counted. A 2xx write
// may finally be dropped (DropAfterCommit): committed, then the connection is
// hijacked and closed with nothing written.
//
// # Behaviour (Atlassian's where known; choices marked as ours)
//
//   - Auth: "Authorization: Bearer <token>" (scheme case-insensitive). A wrong,
//     missing or expired token, or another directory id in the path, gets
//     Options.AuthFailureStatus (401, or 403) with Atlassian's non-SCIM body
//     {"error":"Not authorized to access : scim/directory/{id}/{Section}","traceId":"<hex>"}.
//     Paths outside /scim/directory/ get a SCIM 404.
//   - Bodies: requests must be application/json or application/scim+json (415
//     otherwise, ours: it catches clients that forget the header), at most
//     16 MiB (413). Attribute names are matched case-insensitively; unknown
//     and read-only attributes (id, meta, groups, the Atlassian extension) are
//     ignored on input. Responses are application/json.
//   - Users: ids are UUIDs; each user is linked to an Atlassian account id
//     (24 hex) under urn:scim:schemas:extension:atlassian-external:1.0. The
//     schemas list is [atlassian-external:1.0, core User, enterprise:2.0 User];
//     unset attributes are omitted, never null; groups is always present ([]
//     when empty); active is always present and defaults to true on POST and
//     PUT; meta has resourceType "User", an absolute location, and created /
//     lastModified in RFC 3339 UTC with microseconds.
//   - Required: userName, at least one email, exactly one primary email when
//     there are several, every email value of the form a@b (400 invalidValue).
//   - Uniqueness (409 uniqueness, detail "Resource [USER]: with <field>[<value>]
//     already exists.", checked in the order userName, email, externalId) on
//     POST, PUT and PATCH: userName case-insensitive (Options.UserNameCaseSensitive
//     to change; ours, Atlassian's is unknown), every email value
//     case-insensitive, externalId case-sensitive.
//   - Org accounts (a minimal model of Atlassian's org store): an account
//     outlives its SCIM record. A POST whose primary email belongs to an
//     unlinked account links to it (same atlassianAccountId after DELETE and
//     re-create); a PUT/PATCH moving a user's primary email onto another
//     account's email is a 409 (email). SeedAccount registers such accounts.
//   - GET /Users?filter= supports only `userName eq "v"` and `externalId eq "v"`
//     (attribute names and operator case-insensitive; value a JSON string).
//     Anything else, including an empty filter, is 400 with Atlassian's odd
//     URN: {"schemas":["urn:ietf:params:scim:b:messages:2.0:Error"],"status":"400",
//     "scimType":"invalidFilter","detail":"Resource [USER] invalid filter"}.
//   - Paging (Users and Groups): startIndex 1-based (< 1 means 1), count
//     default and maximum Options.PageSize (<= 100; negative means 0), order
//     by creation, stable; ListResponse with integer totalResults, startIndex,
//     itemsPerPage and "Resources" (always present). sortBy/sortOrder are
//     ignored. A non-integer startIndex or count is 400 invalidValue (ours).
//   - attributes / excludedAttributes work on the Users endpoints (top-level,
//     dotted sub-attributes, URN-qualified names); both at once is 400
//     invalidValue. id, schemas and meta are always returned.
//   - PUT /Users/{id} replaces every mutable attribute: omitted ones are
//     CLEARED (externalId too) and an omitted active RE-ACTIVATES the user.
//   - PATCH /Users/{id}: "Operations" or "operations"; op add/replace/remove in
//     any case; paths: the singular strings (userName, externalId, displayName,
//     nickName, title, preferredLanguage, timezone, department, organization),
//     active (boolean only; remove resets it to true), name and name.*,
//     emails / phoneNumbers (add appends or updates by value, replace replaces
//     all, remove clears), emails[type eq "work"] with optional .value/.type/
//     .primary (add or replace through a filter that matches nothing creates
//     the element), the enterprise URN with optional :department or
//     :organization, core-URN-qualified names; no path with an object value
//     (keys are paths, dotted and URN keys included). Read-only paths are 400
//     mutability, unknown paths 400 invalidPath. Operations apply atomically
//     to a copy; the result is validated and checked for uniqueness; 200 with
//     the full user.
//   - DELETE /Users/{id}: 204; the SCIM record is gone for good (404
//     afterwards), its group memberships are dropped; a later POST gets a new
//     id, no groups, and the same account id.
//   - Groups: POST {displayName, externalId?, members?} 201; displayName
//     required and unique case-insensitively (ours; Atlassian's case rule is
//     unknown) → 409 "Resource [GROUP]: with displayName already exists.".
//     GET /Groups?filter= supports only `displayName eq "v"` (case-insensitive),
//     else the invalidFilter 400 with [GROUP]. Members are rendered inline as
//     {type:"User", value:<user id>, display:<userName>, $ref}; a user's groups
//     as {type:"direct", value, display:<displayName>, $ref}.
//   - PATCH /Groups/{id}: add "members" with [{value:<user id>}] (unknown id →
//     400 invalidValue, nothing applied); remove via path "members" with a value
//     list (no value: all members) or via `members[value eq "<id>"]` (a
//     non-member or unknown id is a no-op); replace "members" replaces them;
//     externalId may change. A displayName change (PATCH or PUT) is 400
//     mutability with a detail explaining that renames are unsupported (ours:
//     Atlassian documents renames as unsupported but its response is unknown,
//     so a client that tries fails loudly; Options.IgnoreGroupRename keeps the
//     old name silently instead). PUT replaces members and externalId. More
//     than Options.MaxGroupMembers (35,000) members is 400 invalidValue.
//     DELETE is 204, 404 when unknown.
//   - More than Options.MaxUsers (150,000) users: POST is 400 invalidValue
//     (ours; Atlassian's answer is unknown).
//   - /ServiceProviderConfig, /ResourceTypes[/User|/Group], /Schemas[/{urn}]
//     (User, Group, enterprise User): GET only, plausible documents (patch yes;
//     bulk, sort, etag, changePassword no; filter yes with maxResults 100).
//     There is no /Bulk. A wrong method on a known path is 405 with Allow.
//   - Every write (POST, PUT, PATCH) sets lastModified (created never
//     changes); timestamps come from Options.Now, truncated to microseconds.
//
// # Faults
//
// RateLimit is one token bucket per directory, shared by all clients (two
// gateway replicas see the aggregate limit), on the Options.Now clock, so a
// test with a fake clock is exact. A 429 has a SCIM error body (Atlassian's
// is unknown) and, switchably, Retry-After and X-RateLimit-* headers.
// Injected failures (FailNext, FailRate) carry SCIM error bodies, except 502
// and 504, which get an HTML page as an edge proxy would send, to exercise
// defensive parsing. FailRate and DropAfterCommitRate draw from one PCG
// source seeded with Options.Seed.
//
// Note for clients tested with DropAfterCommit: Go's http.Transport silently
// retries a request on a reused connection when it is idempotent (GET, HEAD,
// OPTIONS, TRACE) or carries an Idempotency-Key header, so such a request may
// be replayed by the transport itself.
//
// # Not modelled
//
// Managed versus external domains (unlinking and group removal on email
// change to an unclaimed domain), product access and default access groups,
// the org-level admin APIs (get-scim-links, unlink, onlyDeleteUserInDB; see
// DeleteUser for the last), the legacy "DELETE only deactivates" mode, ETags
// and Bulk.
package atlassiantest
