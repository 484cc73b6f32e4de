package store

import (
	"fmt"
	"strings"
)

// The gateway's shared vocabulary: the names that one subsystem writes into
// the store and another reads back (queue keys, link statuses, report
// operations and statuses, origins, state keys, lock and bucket names).
// Each is defined here once, so that writer and reader cannot drift apart.
// The values are stored: changing one orphans what existing stores hold.

// Queue keys: what a reconciler of an app is asked to converge, one key per
// hub resource ("user:<id>", "group:<id>").
const (
	userKeyPrefix  = "user:"
	groupKeyPrefix = "group:"
)

// UserKey is the queue key of hub user id.
func UserKey(id string) string { return userKeyPrefix + id }

// GroupKey is the queue key of hub group id.
func GroupKey(id string) string { return groupKeyPrefix + id }

// ParseKey splits a queue key made by UserKey or GroupKey into the kind
// and id of the hub resource. Any other key, or one with an empty id, is
// an error.
func ParseKey(key string) (Kind, string, error) {
	if id, ok := strings.CutPrefix(key, userKeyPrefix); ok && id != "" {
		return KindUser, id, nil
	}
	if id, ok := strings.CutPrefix(key, groupKeyPrefix); ok && id != "" {
		return KindGroup, id, nil
	}
	return "", "", fmt.Errorf("store: malformed queue key %q: want user:<id> or group:<id>", key)
}

// Link statuses (Link.Status). The reconciler writes them; the importer
// and the policies read them to tell an account's state.
const (
	// LinkActive: the account exists and is active.
	LinkActive = "active"
	// LinkDeactivated: the account exists and is deactivated.
	LinkDeactivated = "deactivated"
	// LinkParked: the last attempt failed in a way retrying cannot fix
	// (a 4xx, a conflict); Link.Error says why. A parked link with no
	// RemoteID records a failure to create or adopt.
	LinkParked = "parked"
)

// Report statuses (ReportEntry.Status, ReportQuery.Status).
const (
	ReportSuccess = "success"
	ReportFailure = "failure"
	// ReportSkipped: a change was decided but not made (switched off,
	// protected, a dry run, ...); Detail says why.
	ReportSkipped = "skipped"
)

// Report operations (ReportEntry.Operation, ReportQuery.Operation). One
// name means one thing whoever reports it: a "create" is a resource
// created, by an IdP in the hub or by the reconciler in an app.
const (
	// Resource writes: by an IdP in the hub (create, replace, patch,
	// delete) and by the reconciler in an app (create, update, deactivate,
	// reactivate, delete).
	OpCreate     = "create"
	OpReplace    = "replace" // an IdP's PUT
	OpPatch      = "patch"   // an IdP's PATCH
	OpUpdate     = "update"
	OpDeactivate = "deactivate"
	OpReactivate = "reactivate"
	OpDelete     = "delete"
	// OpAdopt: the reconciler linked an account the app already had
	// instead of creating one.
	OpAdopt = "adopt"
	// OpConflict: an account that belongs to someone else (outbound), or
	// matches several hub users (import).
	OpConflict = "conflict"
	// Group operations of the reconciler: a group created or adopted
	// (also the new group of a rename on a target that cannot rename),
	// renamed in place, deleted, and its membership changed.
	OpGroupCreate  = "group-create"
	OpGroupUpdate  = "group-update"
	OpGroupDelete  = "group-delete"
	OpGroupMembers = "group-members"
	// OpReconcile: a reconcile failure before any remote call (desired
	// state, store), or a queue key the reconciler does not handle.
	OpReconcile = "reconcile"
	// Import operations: an account imported as a hub user, linked to a
	// matching hub user, drifted from what was last applied, gone from the
	// app; and a run stopped by the mass-deprovisioning safeguard.
	OpImport    = "import"
	OpLink      = "link"
	OpDrift     = "drift"
	OpMissing   = "missing"
	OpSafeguard = "safeguard"
)

// Origins (Resource.Origin): who made a hub resource.
const (
	// OriginIdP: pushed by an IdP.
	OriginIdP = "idp"
	// OriginAppPrefix starts the origin of a resource imported from an
	// app (see AppOrigin).
	OriginAppPrefix = "app:"
)

// AppOrigin is the origin of a hub resource imported from app.
func AppOrigin(app string) string { return OriginAppPrefix + app }

// RunningConfigKey is the state key (PutState, GetState) of the redacted
// configuration the gateway last started or reloaded with, which plan
// compares a new configuration against.
const RunningConfigKey = "config/running"

// AppStatusKey is the state key of an app's outbound status (failing or
// not, and why), which every replica and the admin API read.
func AppStatusKey(app string) string { return "app/" + app + "/status" }

// LastImportKey is the state key of the result (JSON) of an app's last
// import run.
func LastImportKey(app string) string { return "import/" + app + "/last" }

// ImportLock is the lock name (AcquireLock) under which one replica at a
// time imports from an app.
func ImportLock(app string) string { return "import/" + app }

// AppBucket is the token bucket (TakeToken) of an app's rate limit, which
// the reconciler and the importer share: both call the app.
func AppBucket(app string) string { return "app/" + app }
