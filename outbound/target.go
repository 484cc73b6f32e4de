package outbound

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
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
// Errors from the service provider are *RemoteError (match with
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

// TargetFactory builds a Target of one profile.
type TargetFactory func(ClientOptions) (Target, error)

// profiles are the target types a config may name.
var profiles = map[string]TargetFactory{
	"atlassian": newAtlassianTarget,
	"scim":      newSCIMTarget,
}

// Profiles returns the target types NewTarget accepts, sorted.
func Profiles() []string {
	out := make([]string, 0, len(profiles))
	for k := range profiles {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NewTarget returns a Target of the profile typ ("atlassian" or "scim")
// talking through a Client made from opts.
func NewTarget(typ string, opts ClientOptions) (Target, error) {
	f, ok := profiles[typ]
	if !ok {
		return nil, fmt.Errorf("target type %q: want one of %s", typ, strings.Join(Profiles(), ", "))
	}
	t, err := f(opts)
	if err != nil {
		return nil, fmt.Errorf("target type %q: %w", typ, err)
	}
	return t, nil
}

const usersEndpoint = "Users"

// scimTarget is the generic RFC 7644 profile: one filter with "or" finds
// by userName or externalId; PATCH may answer 204.
type scimTarget struct {
	c *Client
}

var _ Target = (*scimTarget)(nil)

func newSCIMTarget(o ClientOptions) (Target, error) {
	c, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	return &scimTarget{c: c}, nil
}

// FindUser asks once, with `userName eq "u" or externalId eq "x"`.
func (t *scimTarget) FindUser(ctx context.Context, userName, externalID string) (*RemoteUser, error) {
	filter := eqFilter("userName", userName)
	if externalID != "" {
		filter += " or " + eqFilter("externalId", externalID)
	}
	var byName, byExt *RemoteUser
	err := t.c.Search(ctx, usersEndpoint, filter, func(r map[string]any) error {
		u := remoteUser(r)
		if byName == nil && strings.EqualFold(u.UserName, userName) {
			byName = u
		}
		if byExt == nil && externalID != "" && u.ExternalID == externalID {
			byExt = u
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return pickFound(byName, byExt, externalID), nil
}

// FindUserBeforeCreate is FindUser: one call asks for both attributes.
func (t *scimTarget) FindUserBeforeCreate(ctx context.Context, userName, externalID string) (*RemoteUser, error) {
	return t.FindUser(ctx, userName, externalID)
}

func (t *scimTarget) CreateUser(ctx context.Context, attrs map[string]any) (*RemoteUser, error) {
	return createUser(ctx, t.c, attrs)
}

func (t *scimTarget) UpdateUser(ctx context.Context, remoteID string, old, new map[string]any) (*RemoteUser, error) {
	return updateUser(ctx, t.c, remoteID, old, new)
}

func (t *scimTarget) SetActive(ctx context.Context, remoteID string, active bool) (*RemoteUser, error) {
	return setActive(ctx, t.c, remoteID, active)
}

func (t *scimTarget) DeleteUser(ctx context.Context, remoteID string) error {
	return deleteUser(ctx, t.c, remoteID)
}

// atlassianTarget is Atlassian's user-provisioning API: filters take a
// single `eq` on userName or externalId, so a lookup is up to two calls;
// DELETE removes the SCIM record for good (deactivate with PATCH active).
// Bodies are sent as application/json, as every client seen in the field
// sends them.
type atlassianTarget struct {
	scimTarget
}

var _ Target = (*atlassianTarget)(nil)

func newAtlassianTarget(o ClientOptions) (Target, error) {
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	c, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	return &atlassianTarget{scimTarget{c: c}}, nil
}

// FindUser asks by userName; when that finds nothing, or an account whose
// externalId is another one's, it asks by externalId too.
func (t *atlassianTarget) FindUser(ctx context.Context, userName, externalID string) (*RemoteUser, error) {
	byName, err := t.first(ctx, "userName", userName)
	if err != nil {
		return nil, err
	}
	if externalID == "" || (byName != nil && (byName.ExternalID == "" || byName.ExternalID == externalID)) {
		return byName, nil
	}
	byExt, err := t.first(ctx, "externalId", externalID)
	if err != nil {
		return nil, err
	}
	return pickFound(byName, byExt, externalID), nil
}

// FindUserBeforeCreate asks by externalId alone (by userName when there
// is no externalId): one call where FindUser makes two for an account
// that does not exist yet, the common case of a first sync. A userName
// already taken makes the create a 409, and the reconciler then asks
// FindUser.
func (t *atlassianTarget) FindUserBeforeCreate(ctx context.Context, userName, externalID string) (*RemoteUser, error) {
	if externalID == "" {
		return t.first(ctx, "userName", userName)
	}
	return t.first(ctx, "externalId", externalID)
}

func (t *atlassianTarget) first(ctx context.Context, attr, value string) (*RemoteUser, error) {
	var found *RemoteUser
	err := t.c.Search(ctx, usersEndpoint, eqFilter(attr, value), func(r map[string]any) error {
		found = remoteUser(r)
		return ErrStopSearch
	})
	if err != nil {
		return nil, fmt.Errorf("find user by %s: %w", attr, err)
	}
	return found, nil
}

// pickFound prefers the account found by userName when it is ours or
// unclaimed, then the one that carries our externalId, then whatever was
// found by userName (someone else's: the caller reports a conflict).
func pickFound(byName, byExt *RemoteUser, externalID string) *RemoteUser {
	switch {
	case byName != nil && (byName.ExternalID == "" || byName.ExternalID == externalID):
		return byName
	case byExt != nil:
		return byExt
	}
	return byName
}

func createUser(ctx context.Context, c *Client, attrs map[string]any) (*RemoteUser, error) {
	res, err := c.Create(ctx, usersEndpoint, attrs)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	u := remoteUser(res)
	if u.ID == "" {
		return nil, fmt.Errorf("create user: the response carries no id")
	}
	return u, nil
}

func updateUser(ctx context.Context, c *Client, remoteID string, old, new map[string]any) (*RemoteUser, error) {
	ops := patchOps(diffAttrs(old, new))
	if len(ops) == 0 {
		return nil, nil
	}
	res, err := c.Patch(ctx, usersEndpoint, remoteID, ops...)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return remoteUserOrNil(res), nil
}

func setActive(ctx context.Context, c *Client, remoteID string, active bool) (*RemoteUser, error) {
	res, err := c.Patch(ctx, usersEndpoint, remoteID, PatchOperation{Op: "replace", Path: "active", Value: active})
	if err != nil {
		return nil, fmt.Errorf("set active %v: %w", active, err)
	}
	return remoteUserOrNil(res), nil
}

func deleteUser(ctx context.Context, c *Client, remoteID string) error {
	if err := c.Delete(ctx, usersEndpoint, remoteID); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// eqFilter is `attr eq "value"` with value as a JSON string, so quotes
// and backslashes are escaped.
func eqFilter(attr, value string) string {
	b := canon.JSON(value)
	return attr + " eq " + string(b)
}

func remoteUserOrNil(res map[string]any) *RemoteUser {
	if res == nil {
		return nil
	}
	return remoteUser(res)
}

func remoteUser(res map[string]any) *RemoteUser {
	u := &RemoteUser{Attributes: res}
	u.ID = stringField(res, "id")
	u.UserName = stringField(res, "userName")
	u.ExternalID = stringField(res, "externalId")
	for k, v := range res {
		if strings.EqualFold(k, "active") {
			switch x := v.(type) {
			case bool:
				u.Active = &x
			case string: // "True"/"False", as some providers send
				if b, ok := parseBool(x); ok {
					u.Active = &b
				}
			}
		}
	}
	return u
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
