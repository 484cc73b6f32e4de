// Package target is what outbound's reconcilers and inbound's importer
// drive in an app, and the registry of the target profiles that implement
// it. A profile (outbound/atlassian, outbound/scim) is one package with one
// Descriptor; outbound/targets registers the built-in ones, so a new app
// type is one new package and one registration line.
package target

import (
	"context"
	"errors"
)

// RemoteUser is a user account in a target.
type RemoteUser struct {
	ID         string
	UserName   string
	ExternalID string
	// Active is nil when the target did not say (Atlassian sometimes omits
	// it): unknown, not false.
	Active *bool
	// Attributes is the resource as the target returned it.
	Attributes map[string]any
}

// Target is what a reconciler drives in an app. Every method honours ctx.
// Errors from the service provider are *scimclient.RemoteError (match with
// errors.As); anything else is a transport, timeout or decoding error.
type Target interface {
	// FindUser looks an account up by userName, then by externalId (when
	// not empty), and returns nil and no error when there is none. An
	// account found by userName whose externalId is another one's is
	// returned only when no account has externalID: the caller decides
	// whether it may adopt it.
	FindUser(ctx context.Context, userName, externalID string) (*RemoteUser, error)
	// FindUserBeforeCreate looks up, before a create, what the create
	// could duplicate without being refused. Service providers refuse a
	// second account with a userName (409), but not all refuse one with
	// an externalId: it returns the account holding externalID (or, when
	// that is empty, userName), possibly fewer calls than FindUser. A 409
	// on the create is then looked up with FindUser.
	FindUserBeforeCreate(ctx context.Context, userName, externalID string) (*RemoteUser, error)
	// CreateUser creates an account with attrs (a SCIM User).
	CreateUser(ctx context.Context, attrs map[string]any) (*RemoteUser, error)
	// UpdateUser brings the account from old to new with one PATCH of the
	// top-level attributes that changed: changed ones are replaced,
	// dropped ones removed. It makes no call when nothing changed. The
	// result is nil when the target answered without a body.
	UpdateUser(ctx context.Context, remoteID string, old, new map[string]any) (*RemoteUser, error)
	// SetActive activates or deactivates the account (reversibly).
	SetActive(ctx context.Context, remoteID string, active bool) (*RemoteUser, error)
	// DeleteUser removes the account's SCIM record for good: a later
	// create gets a new id. The caller drops its link.
	DeleteUser(ctx context.Context, remoteID string) error

	// FindGroup looks a group up by displayName and returns nil and no
	// error when there is none.
	FindGroup(ctx context.Context, displayName string) (*RemoteGroup, error)
	// GetGroup returns a group with its members.
	GetGroup(ctx context.Context, remoteID string) (*RemoteGroup, error)
	// CreateGroup creates a group without members.
	CreateGroup(ctx context.Context, displayName, externalID string) (*RemoteGroup, error)
	// RenamesGroups reports whether RenameGroup changes a group's name in
	// place; when not, a rename is a new group, its members moved, and the
	// old group deleted.
	RenamesGroups() bool
	// RenameGroup changes a group's displayName with one PATCH.
	RenameGroup(ctx context.Context, remoteID, displayName string) (*RemoteGroup, error)
	// PatchMembers adds and removes members (SCIM user ids) with one PATCH
	// and makes no call when both are empty; the caller bounds how many
	// ids a request carries. The result is nil when the target answered
	// without a body.
	PatchMembers(ctx context.Context, remoteID string, add, remove []string) (*RemoteGroup, error)
	// DeleteGroup deletes a group; its members lose what it granted.
	DeleteGroup(ctx context.Context, remoteID string) error
}

// RemoteGroup is a group in a target.
type RemoteGroup struct {
	ID          string
	DisplayName string
	ExternalID  string
	// Members are the SCIM ids of the group's members, in the order the
	// target listed them. MembersKnown is false when the answer carried
	// no members attribute at all: unknown, not empty.
	Members      []string
	MembersKnown bool
	// Attributes is the group as the target returned it.
	Attributes map[string]any
}

// Lister is what an importer needs from an app: its user accounts.
type Lister interface {
	// ListUsers calls fn with every user account of the app as the target
	// returns it, page by page (the listing need not be a snapshot: an
	// account may be missed or seen twice when the app changes meanwhile).
	// An error of fn ends the listing and is returned.
	ListUsers(ctx context.Context, fn func(map[string]any) error) error
	// GetUser returns one account, or an error matching ErrRemoteGone when
	// the app does not have it.
	GetUser(ctx context.Context, id string) (map[string]any, error)
}

// ErrRemoteGone is returned by Lister.GetUser when the account does not
// exist (404).
var ErrRemoteGone = errors.New("remote account not found")

// ErrGroupRename is RenameGroup of a profile whose target cannot rename
// (RenamesGroups is false).
var ErrGroupRename = errors.New("the target does not rename groups")
