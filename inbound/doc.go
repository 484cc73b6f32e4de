// Package inbound owns the import: reading what a downstream app actually
// holds and reconciling the hub's knowledge of it, so that accounts made
// outside the gateway are linked or adopted, and changes made in the app
// behind the gateway's back (drift) are seen, reported and handled.
//
// For each app, under a store lock with a fencing token (one replica
// imports an app at a time), an Importer pages through the app's remote
// Users and decides for each account:
//
//   - linked, and its normalised hash equals Link.Hash: nothing;
//   - linked and different: the managed attributes (those of Link.State,
//     the last applied desired state) are compared with the account,
//     tolerating what targets rewrite (schemas, meta, groups, Atlassian's
//     extension, case of emails and userName, sub-attributes the target
//     adds). No difference refreshes the baseline hash; a difference is
//     DRIFT, reported attribute by attribute and then, per the app's drift
//     setting, only reported, re-pushed (the link is told what the account
//     holds and the user's key is queued, so the reconciler patches it
//     back) or accepted (the new hash becomes the baseline);
//   - unlinked and matching a hub user (match order, default userName then
//     primary email; an email held by several hub users is a reported
//     conflict): LINK, and queue the user's key so the reconciler converges
//     the account; nothing is created;
//   - unlinked and unmatched: IMPORT as a hub User with Origin
//     "app:<name>", linked, and queued nowhere (no policy admits it, so a
//     reconcile would deprovision it); an IdP push with the same userName
//     later claims it;
//   - linked but not listed, and confirmed gone by a GET: MISSING, reported;
//     the link is dropped, and the user's key is queued when the user is
//     still desired, so the reconciler creates the account again.
//
// Principle 5 (safe by default): a run is first surveyed without changing
// anything, and when the unlinks and deprovisions it would cause (missing
// accounts, drift to inactive, links that the reconciler would deactivate)
// exceed the app's safeguard, it stops, reports one "safeguard" entry and
// its counts, and needs Force. A dry run reports every decision, marked
// "dry-run:", and changes nothing else. Every step is idempotent, so a
// crashed import simply runs again. Every decision appends a report entry;
// the last result is kept in the store (store.LastImportKey) for /admin/status.
//
// The package declares what it consumes: the slice of the store it uses
// (Store), the remote listing (Lister, with NewLister over outbound's SCIM
// client) and the desired state (outbound.Source).
package inbound
