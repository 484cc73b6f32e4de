// Package store is the gateway's state: the hub's SCIM resources with their
// indexes and group memberships, the links to remote accounts, the
// per-app work queues that drive reconciliation, idempotency records, locks,
// shared rate-limit buckets, small key/value state and the report log.
//
// The contract is stated here, in comments, and checked by one conformance
// suite (package storetest) that every backend runs. Backends live in
// subpackages: redis (production, shared by replicas) and bolt (embedded,
// single process).
//
// The names that one subsystem stores and another reads back (queue keys,
// link statuses, report operations and statuses, origins, state keys, lock
// and bucket names) are defined here once too, in vocab.go.
//
// General rules every backend follows:
//   - Every method honours ctx and wraps errors with context; callers match
//     the sentinel errors below with errors.Is.
//   - Apply is atomic: a Write either happens whole or not at all, and a
//     failed precondition leaves everything untouched.
//   - Time is passed in by the caller (a "now" argument or absolute times),
//     so leases, TTLs and retention follow the caller's clock, and tests can
//     advance it.
//   - Returned values are copies; callers may modify them freely.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
)

// Sentinel errors. Backends wrap them with context.
var (
	// ErrNotFound: the resource, link, record or lock does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a key of a unique index is already held by another
	// resource, or a create names an id that already exists.
	ErrConflict = errors.New("conflict")
	// ErrVersionMismatch: a compare-and-set precondition failed.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrLeaseLost: a queue ack or requeue came with a token that no longer
	// holds the key (the lease expired and another worker claimed it, or the
	// key was acknowledged already).
	ErrLeaseLost = errors.New("lease lost")
	// ErrLocked: the lock is held by another owner.
	ErrLocked = errors.New("locked")
	// ErrInvalid: a Write or Mark the contract does not define (see
	// Write.Validate and Mark.Validate). It is refused before anything is
	// read or changed.
	ErrInvalid = errors.New("invalid write")
)

// Kind is a resource type of the hub.
type Kind string

// The resource kinds the hub stores.
const (
	KindUser  Kind = "User"
	KindGroup Kind = "Group"
)

// Index names. Values are compared case-insensitively: callers pass them
// as they are and the store folds them (strings.ToLower) itself.
//
// Uniqueness is a property of the index name (see Unique): userName and
// displayName are unique within a kind; emails.value and externalId are
// not. Okta and Entra let two users share an email (only the login is
// unique), and RFC 7643 gives externalId no uniqueness: Entra maps
// mailNickname, which is not unique, to it by default. The hub must accept
// what they push, and answers both from the index.
const (
	IndexUserName    = "userName"     // Users; unique
	IndexExternalID  = "externalId"   // Users and Groups; not unique
	IndexEmail       = "emails.value" // Users; one entry per distinct email; not unique
	IndexDisplayName = "displayName"  // Groups; unique
)

// Unique reports whether an index is unique: whether one (kind, folded
// value) of it may be held by one resource only. IndexEmail and
// IndexExternalID are not; every other name, including names this package
// does not define, is unique.
func Unique(index string) bool { return index != IndexEmail && index != IndexExternalID }

// IndexKey is one index entry of a resource. Within one Kind, a key of a
// unique index (one (Name, folded Value) pair) belongs to at most one
// resource; the keys of a non-unique index never conflict, and any number
// of resources may hold one. Both kinds of index are answered from the
// index, in id order when several resources hold a key (see Lookup and
// LookupAll). A resource may hold several keys of one index (several
// emails); duplicate keys in one resource are allowed and collapse to one;
// keys with an empty Value are ignored. Resource ids are unique across
// kinds.
type IndexKey struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}

// Resource is a stored hub resource. Data holds the SCIM attributes as JSON
// (without members for groups: membership lives in sets, see Write).
type Resource struct {
	Kind     Kind            `json:"kind"`
	ID       string          `json:"id"`
	Version  int64           `json:"version"` // set by the store: 1 on create, +1 on every Put and, for a group, when a member is deleted (see Write.Time); other membership-only writes leave it
	Created  time.Time       `json:"created"`
	Modified time.Time       `json:"modified"`
	Origin   string          `json:"origin,omitempty"` // OriginIdP or AppOrigin(app)
	Indexes  []IndexKey      `json:"indexes,omitempty"`
	Data     json.RawMessage `json:"data"`

	// MemberOf holds, on a Resource that Apply returns for a Put with
	// Write.ReadGroups, the ids of the groups it is a member of (nil when
	// none, unordered), as of the write. Nothing stores it and no other
	// method sets it: everywhere else, GroupsOf answers.
	MemberOf []string `json:"-"`
}

// Mark asks for (App, Key) to be reconciled at or after Due; both must be
// set (see Mark.Validate). Marking a key that is already queued does not
// duplicate it: the earlier due time wins. Marking a key that a worker
// holds makes it due again after that worker acknowledges or requeues it
// (at the earlier of Due and the requeue time), so no change is lost while
// a reconcile is in flight.
type Mark struct {
	App string    `json:"app"`
	Key string    `json:"key"`
	Due time.Time `json:"due"`
}

// Write is one atomic change to the hub. At most one of Put and Delete is
// set; membership changes and marks may come alone or with either.
//
// A Write that breaks a rule below is invalid: Apply refuses it with
// ErrInvalid, and it has no effect at all (no resource, index, membership,
// mark or report entry changes). Write.Validate states the rules; every
// backend calls it before doing anything.
type Write struct {
	// Put creates or replaces a resource (setting both Put and Delete is
	// invalid). Put needs a Kind and an ID, and each of its index keys a
	// Name. ExpectVersion 0 means create: the id must not exist (else
	// ErrConflict). ExpectVersion > 0 means replace: the stored version
	// must equal it (else ErrVersionMismatch; ErrNotFound when missing).
	// ExpectVersion < 0 is invalid. Index keys are replaced by Put.Indexes; a key of a
	// unique index held by another resource of the same kind fails the
	// write with ErrConflict (keys of a non-unique index never do). The
	// cost of the index update is proportional to the keys that change.
	// The stored Version is assigned by the store; Put.Version is ignored.
	Put           *Resource
	ExpectVersion int64

	// Delete removes a resource, its index keys, its memberships (both
	// directions) and nothing else (links are the caller's). Each group the
	// resource belonged to is re-versioned (see Time), because its member
	// list changed: its entity tag must change with it. Deleting a group
	// re-versions nothing else (not its members). DeleteVersion > 0 makes
	// it conditional (ErrVersionMismatch); missing is ErrNotFound. Delete
	// needs a Kind and an ID; DeleteVersion < 0 is invalid.
	Delete        *Ref
	DeleteVersion int64

	// Time is the time of this write: on Delete, every group the deleted
	// resource was a member of gets Version+1 and Modified = Time (zero
	// Time: Modified unchanged, Version still bumped). The cost is
	// O(groups of the deleted resource). Other writes ignore it.
	Time time.Time

	// Membership changes of one group: ids added to or removed from its
	// member set, and the group id added to or removed from each member's
	// group set. Adding a present member or removing an absent one is a
	// no-op. Cost is O(len(changes)), whatever the group's size. The group
	// must exist (ErrNotFound) unless it is created by Put in this Write.
	// Members are not checked to exist: that is the caller's job.
	// Membership changes leave the group's Version and Modified alone: a
	// caller that changes a group's members pairs them with a Put of the
	// group.
	//
	// Invalid: members without a Group, an empty member id, an id both
	// added and removed in one Write (which would leave the outcome to the
	// order the backend applies them in), and a Group that this Write
	// deletes (Delete removes its memberships itself).
	Group         string
	AddMembers    []string
	RemoveMembers []string

	// Touch makes a membership-only write (Group set, no Put, no Delete)
	// one commutative step: when its adds and removes change the group's
	// member set, the group's Version is incremented and its Modified set
	// to Time (zero Time: Modified unchanged), and the Marks and Reports
	// of the write apply; when they change nothing (adding present members,
	// removing absent ones) the write has no effect at all. There is no
	// precondition on the group's version: concurrent touches of one
	// group are all applied, none lost, each changing one a version
	// strictly greater than the last, and a touch retried after a lost
	// reply changes nothing more. Apply returns the group as stored after
	// a touch that changed it, and nil after one that changed nothing, so
	// the caller knows which it was. This is how a PATCH that only adds or removes members is
	// stored without compare-and-set, whatever the group's size.
	Touch bool

	// ReadGroups asks Apply to read, in the same atomic step as a Put, the
	// groups the put resource is a member of, and to return them as the
	// stored Resource's MemberOf: a gateway answering a user's PUT or
	// PATCH with its readOnly "groups" needs no second round trip for
	// them. Invalid without a Put.
	ReadGroups bool

	// Marks are queued in the same atomic step; an invalid Mark (see
	// Mark.Validate) makes the Write invalid.
	Marks []Mark

	// Reports are appended to the report log in the same atomic step, with
	// IDs assigned as AppendReport assigns them, and only when the write
	// succeeds: a failed precondition appends nothing. A Write may carry
	// Reports alone.
	Reports []ReportEntry
}

// Ref names a resource.
type Ref struct {
	Kind Kind
	ID   string
}

// Page is a slice of an ordered listing.
type Page struct {
	Resources []*Resource
	Total     int
}

// Link ties a hub resource to its account in an app.
type Link struct {
	App      string `json:"app"`
	Kind     Kind   `json:"kind"`
	HubID    string `json:"hubId"`
	RemoteID string `json:"remoteId"`
	// Hash of the account as the target returned it after the last
	// apply (its normalised form), against which imports measure drift.
	Hash string `json:"hash,omitempty"`
	// State is the desired representation last applied (JSON), from
	// which the next reconcile computes the attributes to patch, and
	// AppliedHash its hash, so that a reconcile whose desired state has
	// not changed makes no call. State is trusted as "last applied" only
	// when AppliedHash matches it.
	State       json.RawMessage `json:"state,omitempty"`
	AppliedHash string          `json:"appliedHash,omitempty"`
	AppliedAt   time.Time       `json:"appliedAt"`
	Status      string          `json:"status,omitempty"` // LinkActive, LinkDeactivated or LinkParked
	Error       string          `json:"error,omitempty"`
}

// Claim is a queue key handed to one worker until its lease ends.
type Claim struct {
	App      string
	Key      string
	Token    string // proves ownership in Ack and Requeue
	Attempt  int    // how many times the key was requeued since it was last acked
	LeaseEnd time.Time
}

// Lock is a held lock. Token is a fencing token: strictly increasing per
// lock name across all acquisitions.
type Lock struct {
	Name    string
	Owner   string
	Token   int64
	Expires time.Time
}

// ReportEntry is one provisioning action in the report log.
type ReportEntry struct {
	ID           string       `json:"id"` // assigned by the store; orders entries by Time
	Time         time.Time    `json:"time"`
	User         string       `json:"user,omitempty"` // end-user identifier (userName)
	ResourceType string       `json:"resourceType,omitempty"`
	ResourceID   string       `json:"resourceId,omitempty"`
	App          string       `json:"app,omitempty"`
	Operation    string       `json:"operation"` // an Op constant
	Status       string       `json:"status"`    // ReportSuccess, ReportFailure or ReportSkipped
	Changes      []AttrChange `json:"changes,omitempty"`
	HTTPStatus   int          `json:"httpStatus,omitempty"`
	Detail       string       `json:"detail,omitempty"`
	RequestID    string       `json:"requestId,omitempty"`
	RunID        string       `json:"runId,omitempty"`
	Attempt      int          `json:"attempt,omitempty"`
}

// AppendJSON appends e's JSON encoding, byte for byte what json.Marshal
// makes of it, without reflection: the stores encode an entry with every
// write.
func (e ReportEntry) AppendJSON(b []byte) ([]byte, error) {
	t, err := e.Time.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("report entry time: %w", err)
	}
	b = jsondoc.AppendString(append(b, `{"id":`...), e.ID)
	b = append(append(b, `,"time":`...), t...)
	str := func(name, v string) {
		if v != "" {
			b = jsondoc.AppendString(append(b, name...), v)
		}
	}
	str(`,"user":`, e.User)
	str(`,"resourceType":`, e.ResourceType)
	str(`,"resourceId":`, e.ResourceID)
	str(`,"app":`, e.App)
	b = jsondoc.AppendString(append(b, `,"operation":`...), e.Operation)
	b = jsondoc.AppendString(append(b, `,"status":`...), e.Status)
	if len(e.Changes) > 0 {
		b = append(b, `,"changes":[`...)
		for i, c := range e.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = c.appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if e.HTTPStatus != 0 {
		b = strconv.AppendInt(append(b, `,"httpStatus":`...), int64(e.HTTPStatus), 10)
	}
	str(`,"detail":`, e.Detail)
	str(`,"requestId":`, e.RequestID)
	str(`,"runId":`, e.RunID)
	if e.Attempt != 0 {
		b = strconv.AppendInt(append(b, `,"attempt":`...), int64(e.Attempt), 10)
	}
	return append(b, '}'), nil
}

// AttrChange is one attribute's old and new value in a report entry.
type AttrChange struct {
	Attr string `json:"attr"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// MarshalJSON encodes c as its struct tags say, with Old and New (decoded
// documents' values) encoded by jsondoc instead of by reflection.
func (c AttrChange) MarshalJSON() ([]byte, error) {
	return c.appendJSON(make([]byte, 0, 128))
}

func (c AttrChange) appendJSON(b []byte) ([]byte, error) {
	b = jsondoc.AppendString(append(b, `{"attr":`...), c.Attr)
	var err error
	for _, f := range []struct {
		name string
		v    any
	}{{`,"old":`, c.Old}, {`,"new":`, c.New}} {
		if err != nil || f.v == nil {
			continue
		}
		b, err = jsondoc.Append(append(b, f.name...), f.v)
	}
	if err != nil {
		return nil, fmt.Errorf("attribute %s: %w", c.Attr, err)
	}
	return append(b, '}'), nil
}

// ReportQuery selects report entries, newest first. Empty fields match all.
// User and App are matched case-insensitively and are answered from indexes:
// a query by user or by app reads only that user's or app's entries.
// From is inclusive, To exclusive; zero means unbounded.
type ReportQuery struct {
	User      string
	App       string
	Operation string
	Status    string
	From      time.Time
	To        time.Time
	Cursor    string // from a previous page's next cursor; "" starts at the newest
	Limit     int    // <= 0 means 100
}

// Store is the whole contract. Subsystems declare the slices they use.
type Store interface {
	// Get returns a resource by id.
	Get(ctx context.Context, kind Kind, id string) (*Resource, error)
	// GetMany returns the resources of a kind among ids in one read (one
	// round trip), keyed by id; ids that name none are absent from the map,
	// which is not an error. For rendering many resources at once: a
	// group's members with their names.
	GetMany(ctx context.Context, kind Kind, ids []string) (map[string]*Resource, error)
	// Lookup returns the resource holding an index key (folded), or
	// ErrNotFound. It reads the index, never scans. On a non-unique index
	// it returns the holder with the smallest id.
	Lookup(ctx context.Context, kind Kind, index, value string) (*Resource, error)
	// LookupAll returns the resources holding an index key (folded), ordered by id, at most max (max <= 0:
	// no limit), from the index, never scanning; an empty result is not an error. It works on unique and
	// non-unique indexes.
	LookupAll(ctx context.Context, kind Kind, index, value string, max int) ([]*Resource, error)
	// List returns resources of a kind ordered by id, skipping offset,
	// at most count of them, with the kind's total.
	List(ctx context.Context, kind Kind, offset, count int) (Page, error)
	// Apply performs one atomic Write and returns the stored resource when
	// Put was set, the stored group of a Touch that changed it, nil
	// otherwise.
	Apply(ctx context.Context, w Write) (*Resource, error)

	// Members returns a group's member ids (unordered). Members, IsMember
	// and MemberCount of a missing group return empty results.
	Members(ctx context.Context, groupID string) ([]string, error)
	// IsMember reports whether memberID is in the group, in O(1).
	IsMember(ctx context.Context, groupID, memberID string) (bool, error)
	// MemberCount returns the size of a group's member set.
	MemberCount(ctx context.Context, groupID string) (int, error)
	// GroupsOf returns the ids of the groups a resource is a member of.
	GroupsOf(ctx context.Context, memberID string) ([]string, error)
	// GroupsOfMany is GroupsOf for several resources in one read (one
	// round trip), for a page of users: the map has an entry for each
	// member that is in at least one group.
	GroupsOfMany(ctx context.Context, memberIDs []string) (map[string][]string, error)

	// PutLink creates or replaces the link of (App, Kind, HubID); the
	// reverse index RemoteID -> HubID is kept in step (a changed RemoteID
	// drops the old reverse entry).
	PutLink(ctx context.Context, l Link) error
	GetLink(ctx context.Context, app string, kind Kind, hubID string) (*Link, error)
	LinkByRemote(ctx context.Context, app string, kind Kind, remoteID string) (*Link, error)
	DeleteLink(ctx context.Context, app string, kind Kind, hubID string) error
	// Links lists an app's links of a kind ordered by HubID, after the
	// given HubID ("" from the start), at most count.
	Links(ctx context.Context, app string, kind Kind, after string, count int) ([]Link, error)

	// Enqueue marks keys dirty outside a resource write (same semantics as
	// Write.Marks).
	Enqueue(ctx context.Context, marks ...Mark) error
	// Claim hands out up to max keys of app that are due at now and not
	// leased (earliest due first), each leased until now+lease (a lease is
	// over at now >= end). A key whose lease has ended is
	// claimable again, with a new token. No key is ever held by two
	// unexpired claims.
	Claim(ctx context.Context, app string, now time.Time, lease time.Duration, max int) ([]Claim, error)
	// Ack removes a claimed key from the queue, unless it was marked while
	// claimed, in which case it becomes due again (at its mark's due time)
	// with Attempt reset. A stale token is ErrLeaseLost.
	Ack(ctx context.Context, c Claim) error
	// Requeue returns a claimed key to the queue due at due, Attempt+1.
	// A stale token is ErrLeaseLost.
	Requeue(ctx context.Context, c Claim, due time.Time) error
	// Release returns a claimed key to the queue unworked: due at due
	// (or at the earlier due time of a mark made while it was claimed),
	// Attempt unchanged. A worker that stops hands its keys back with it
	// rather than holding them until their leases end. A stale token is
	// ErrLeaseLost.
	Release(ctx context.Context, c Claim, due time.Time) error
	// QueueLen counts an app's queued keys, leased or not.
	QueueLen(ctx context.Context, app string) (int, error)

	// PutIdempotency stores rec under key until now+ttl unless a live
	// record exists; it returns the live record (and false) in that case,
	// or rec and true when it stored it.
	PutIdempotency(ctx context.Context, key string, rec []byte, now time.Time, ttl time.Duration) ([]byte, bool, error)
	// GetIdempotency returns a live record or ErrNotFound.
	GetIdempotency(ctx context.Context, key string, now time.Time) ([]byte, error)

	// AcquireLock takes name for owner until now+ttl if it is free or its
	// holder's lease ended (ErrLocked otherwise), with a new fencing token.
	// An owner whose lease has not ended gets it extended with the same
	// token; after it ended, acquiring is a new acquisition (new token).
	AcquireLock(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (Lock, error)
	// ReleaseLock frees name if l still holds it: ErrNotFound when nobody
	// holds name, ErrLocked when another acquisition holds it.
	ReleaseLock(ctx context.Context, l Lock) error

	// TakeToken takes one token from the bucket name, which refills at rate
	// tokens per second up to burst. It returns 0 when a token was taken,
	// or how long to wait before one will be (taking nothing).
	TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error)

	// PutState and GetState keep small named values (app status, import
	// checkpoints). GetState returns ErrNotFound when unset.
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)

	// AppendReport appends entries, assigning each an ID ordered by Time
	// (entries at equal times are ordered by append order). Entries may be
	// appended in any time order; report times are kept to the millisecond.
	AppendReport(ctx context.Context, entries ...ReportEntry) error
	// QueryReports returns up to q.Limit entries newest first, and the
	// cursor of the next page ("" when there is none); a page holds Limit
	// entries unless it is the last.
	QueryReports(ctx context.Context, q ReportQuery) ([]ReportEntry, string, error)
	// PruneReports removes entries older than before (zero: none by age)
	// and then the oldest beyond maxCount (<= 0: no count limit),
	// from the log and its indexes; it returns how many it removed.
	PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error)

	// Ping checks the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	io.Closer
}
