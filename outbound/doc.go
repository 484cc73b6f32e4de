// Package outbound owns the gateway's fan-out to downstream SCIM targets:
// durable, retried, rate-limited and idempotent. The IdP never waits on it:
// a hub write only marks keys ("user:<hub id>", "group:<hub id>") dirty
// in an app's work queue in the store, and this package's reconcilers
// converge each app on the desired state later, level-triggered, so ten
// quick updates to one user become one remote call and a crash loses
// nothing.
//
// It has three layers, each its own package:
//
//   - outbound/scimclient: a generic SCIM 2.0 HTTP client. Bearer token from
//     a string or a function (never logged, never in errors or reports), a
//     timeout per call, ListResponse paging, and defensive parsing of error
//     bodies (SCIM errors with status as a string, Atlassian's non-SCIM
//     {"error","traceId"}, HTML from proxies) into *RemoteError, with
//     Retry-After (seconds or HTTP-date) honoured. It never sends an
//     Idempotency-Key header, so Go's http.Transport never replays a POST on
//     its own; creates are made idempotent by search-then-adopt instead.
//   - outbound/target: what a reconciler needs from an app (find, create,
//     update by PATCH of changed top-level attributes, activate or
//     deactivate, delete, groups) and the registry of profiles chosen by a
//     config "type": outbound/atlassian (Atlassian's user-provisioning API,
//     whose filters take one eq only) and outbound/generic ("scim", a plain
//     RFC 7644 service provider), registered in outbound/targets. Every
//     profile passes outbound/targettest's contract suite.
//   - Runner (runner.go, user.go, group.go): per app, N workers claim keys
//     from the app's queue, read the desired state from a Source at that
//     moment, compare it with what the link records as last applied, and
//     make the fewest calls that converge: create (after a search, adopting
//     what exists; a 409 is an adoption or a reported conflict, never a
//     duplicate), patch, deactivate, reactivate or delete. Failures are
//     classified on the HTTP status like alertmanager's notifiers: 429, 5xx
//     and transport errors are requeued with exponential backoff and full
//     jitter (Retry-After wins when longer); 401/403 mark the app failing
//     loudly (state, metric, log, report) and retry slowly; other 4xx park
//     the key until the hub resource changes. Every remote call waits for a
//     token from one bucket per app in the store, shared by all replicas.
//     Every action, failure and skip is reported (the searches before a
//     create are part of its create or adopt entry), with the attribute
//     changes of updates.
//
// The link of (app, hub user) records what was last applied: Link.State is
// the desired attributes as applied and Link.AppliedHash their hash (an
// unchanged desired state makes no call); Link.Hash is the normalised hash
// of the account as the target returned it (Options.Hash, default
// target.RemoteHash), for drift detection by an importer. A link with status
// "parked" and no RemoteID records a create that was refused (a conflict).
//
// Groups (AppConfig.Groups, the config's actions.groups) are reconciled
// from keys "group:<hub id>" (group.go) against a GroupSource: the group's
// name in the app and the hub users who should be members. The link of
// (app, hub group) records the name and the remote user ids last applied.
// A group is found by displayName and adopted, or created (a 409 is
// searched again); its membership is converged with PATCHes of at most
// 100 ids (removals as `members[value eq "id"]`, additions as one value
// list), diffed against the last applied set, so one member joining is
// one small PATCH whatever the group's size; at most MaxGroupMembers
// (Atlassian's 35,000) are pushed and the excess is reported. A member is
// pushed once its account exists and is active: the user reconcile queues
// the user's groups when its account is created, adopted, recreated,
// deactivated, reactivated or deleted. A rename is a PATCH of displayName
// on the "scim" profile; Atlassian cannot rename (products key on the
// name), so there a group with the new name is created, given the
// members, and the old one deleted, each step resumable from the link. A
// group the hub lost, or the app no longer pushes, is deleted remotely.
//
// The package does not import the policy engine: it declares what it
// consumes (Source, whose Desired is mapping's) and the slice of the store
// it uses (Store).
package outbound
