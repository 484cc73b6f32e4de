// Package generic is the target profile of a plain RFC 7644 service
// provider, app type "scim": users found with one `or` filter, PATCH of
// changed top-level attributes, groups renamed in place. Other profiles
// (outbound/atlassian) embed its Target and change what their API does
// differently; its Lister is the importer's view of any SCIM API.
package generic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// Name is the type name of the generic profile in apps[].type.
const Name = "scim"

const (
	usersEndpoint  = "Users"
	groupsEndpoint = "Groups"
)

// GroupSchema is the SCIM core Group schema URN.
const GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"

// CoreMapping is the default attribute mapping every SCIM profile starts
// from: userName, one primary work email, the name parts, a displayName
// (which service providers disagree about requiring), title, language,
// timezone, and the enterprise department and organization.
var CoreMapping = []apptype.Rule{
	{Target: "userName", Sources: []string{"userName"}},
	{Target: `emails[type eq "work"].value`, Sources: []string{"emails.value"}},
	{Target: "name.givenName", Sources: []string{"name.givenName"}},
	{Target: "name.familyName", Sources: []string{"name.familyName"}},
	{Target: "displayName", Sources: []string{"displayName", "{{name.givenName}} {{name.familyName}}", "name.givenName", "name.familyName", "userName"}},
	{Target: "title", Sources: []string{"title"}},
	{Target: "preferredLanguage", Sources: []string{"preferredLanguage"}},
	{Target: "timezone", Sources: []string{"timezone"}},
	{Target: enterprise + "department", Sources: []string{enterprise + "department"}},
	{Target: enterprise + "organization", Sources: []string{enterprise + "organization"}},
}

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"

// Descriptor is the generic RFC 7644 profile: CoreMapping plus phone
// numbers, groups pushed by default.
func Descriptor() target.Descriptor {
	return target.Descriptor{
		Type: apptype.Type{
			Name:                  Name,
			PushesGroupsByDefault: true,
			DefaultMapping:        append(append([]apptype.Rule(nil), CoreMapping...), apptype.Rule{Target: "phoneNumbers", Sources: []string{"phoneNumbers"}}),
		},
		NewTarget: func(o scimclient.Options) (target.Target, error) { return New(o) },
		NewLister: NewLister,
	}
}

// Target is the generic RFC 7644 profile: one filter with "or" finds by
// userName or externalId; PATCH may answer 204; groups are renamed in
// place. Other profiles embed it and change what their API does
// differently.
type Target struct {
	c *scimclient.Client
}

var _ target.Target = (*Target)(nil)

// New returns a Target over a client made from o.
func New(o scimclient.Options) (*Target, error) {
	c, err := scimclient.New(o)
	if err != nil {
		return nil, err
	}
	return &Target{c: c}, nil
}

// FindUser asks once, with `userName eq "u" or externalId eq "x"`.
func (t *Target) FindUser(ctx context.Context, userName, externalID string) (*target.RemoteUser, error) {
	filter := scimclient.EqFilter("userName", userName)
	if externalID != "" {
		filter += " or " + scimclient.EqFilter("externalId", externalID)
	}
	var byName, byExt *target.RemoteUser
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
	return PickFound(byName, byExt, externalID), nil
}

// FindUserBeforeCreate is FindUser: one call asks for both attributes.
func (t *Target) FindUserBeforeCreate(ctx context.Context, userName, externalID string) (*target.RemoteUser, error) {
	return t.FindUser(ctx, userName, externalID)
}

func (t *Target) CreateUser(ctx context.Context, attrs map[string]any) (*target.RemoteUser, error) {
	return createUser(ctx, t.c, attrs)
}

func (t *Target) UpdateUser(ctx context.Context, remoteID string, old, new map[string]any) (*target.RemoteUser, error) {
	return updateUser(ctx, t.c, remoteID, old, new)
}

func (t *Target) SetActive(ctx context.Context, remoteID string, active bool) (*target.RemoteUser, error) {
	return setActive(ctx, t.c, remoteID, active)
}

func (t *Target) DeleteUser(ctx context.Context, remoteID string) error {
	return deleteUser(ctx, t.c, remoteID)
}

// First returns the first account of `attr eq "value"`, or nil.
func (t *Target) First(ctx context.Context, attr, value string) (*target.RemoteUser, error) {
	var found *target.RemoteUser
	err := t.c.Search(ctx, usersEndpoint, scimclient.EqFilter(attr, value), func(r map[string]any) error {
		found = remoteUser(r)
		return scimclient.ErrStopSearch
	})
	if err != nil {
		return nil, fmt.Errorf("find user by %s: %w", attr, err)
	}
	return found, nil
}

// PickFound prefers the account found by userName when it is ours or
// unclaimed, then the one that carries our externalId, then whatever was
// found by userName (someone else's: the caller reports a conflict).
func PickFound(byName, byExt *target.RemoteUser, externalID string) *target.RemoteUser {
	switch {
	case byName != nil && (byName.ExternalID == "" || byName.ExternalID == externalID):
		return byName
	case byExt != nil:
		return byExt
	}
	return byName
}

func createUser(ctx context.Context, c *scimclient.Client, attrs map[string]any) (*target.RemoteUser, error) {
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

func updateUser(ctx context.Context, c *scimclient.Client, remoteID string, old, new map[string]any) (*target.RemoteUser, error) {
	ops := target.PatchOps(target.Diff(old, new))
	if len(ops) == 0 {
		return nil, nil
	}
	res, err := c.Patch(ctx, usersEndpoint, remoteID, ops...)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return remoteUserOrNil(res), nil
}

func setActive(ctx context.Context, c *scimclient.Client, remoteID string, active bool) (*target.RemoteUser, error) {
	res, err := c.Patch(ctx, usersEndpoint, remoteID, scimclient.PatchOperation{Op: "replace", Path: "active", Value: active})
	if err != nil {
		return nil, fmt.Errorf("set active %v: %w", active, err)
	}
	return remoteUserOrNil(res), nil
}

func deleteUser(ctx context.Context, c *scimclient.Client, remoteID string) error {
	if err := c.Delete(ctx, usersEndpoint, remoteID); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

func remoteUserOrNil(res map[string]any) *target.RemoteUser {
	if res == nil {
		return nil
	}
	return remoteUser(res)
}

func remoteUser(res map[string]any) *target.RemoteUser {
	u := &target.RemoteUser{Attributes: res}
	u.ID = scimclient.StringField(res, "id")
	u.UserName = scimclient.StringField(res, "userName")
	u.ExternalID = scimclient.StringField(res, "externalId")
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

// FindGroup asks for `displayName eq "name"` and returns the group whose
// displayName equals name (case-insensitively, as Atlassian's uniqueness
// rule compares), or nil.
func (t *Target) FindGroup(ctx context.Context, displayName string) (*target.RemoteGroup, error) {
	var found *target.RemoteGroup
	err := t.c.Search(ctx, groupsEndpoint, scimclient.EqFilter("displayName", displayName), func(r map[string]any) error {
		g := remoteGroup(r)
		if strings.EqualFold(g.DisplayName, displayName) {
			found = g
			return scimclient.ErrStopSearch
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find group: %w", err)
	}
	return found, nil
}

func (t *Target) GetGroup(ctx context.Context, remoteID string) (*target.RemoteGroup, error) {
	res, err := t.c.Get(ctx, groupsEndpoint, remoteID)
	if err != nil {
		return nil, fmt.Errorf("get group: %w", err)
	}
	if res == nil {
		return nil, fmt.Errorf("get group: empty response")
	}
	return remoteGroup(res), nil
}

// CreateGroup POSTs a group without members: they are added by
// PatchMembers in bounded requests.
func (t *Target) CreateGroup(ctx context.Context, displayName, externalID string) (*target.RemoteGroup, error) {
	res, err := t.c.Create(ctx, groupsEndpoint, map[string]any{
		"schemas":     []any{GroupSchema},
		"displayName": displayName,
		"externalId":  externalID,
	})
	if err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	g := remoteGroupOrNil(res)
	if g == nil || g.ID == "" {
		return nil, fmt.Errorf("create group: the response carries no id")
	}
	return g, nil
}

func (t *Target) RenamesGroups() bool { return true }

// RenameGroup replaces displayName with one PATCH.
func (t *Target) RenameGroup(ctx context.Context, remoteID, displayName string) (*target.RemoteGroup, error) {
	res, err := t.c.Patch(ctx, groupsEndpoint, remoteID, scimclient.PatchOperation{Op: "replace", Path: "displayName", Value: displayName})
	if err != nil {
		return nil, fmt.Errorf("rename group: %w", err)
	}
	return remoteGroupOrNil(res), nil
}

// PatchMembers sends one PATCH: one remove operation per member removed,
// with path `members[value eq "<id>"]`, then one add of the value list.
// Removals use the filtered path because RFC 7644 §3.5.2.2 lets a server
// read `remove` of path "members" as "remove every member", whatever the
// value says.
func (t *Target) PatchMembers(ctx context.Context, remoteID string, add, remove []string) (*target.RemoteGroup, error) {
	ops := memberOps(add, remove)
	if len(ops) == 0 {
		return nil, nil
	}
	res, err := t.c.Patch(ctx, groupsEndpoint, remoteID, ops...)
	if err != nil {
		return nil, fmt.Errorf("patch group members: %w", err)
	}
	return remoteGroupOrNil(res), nil
}

func (t *Target) DeleteGroup(ctx context.Context, remoteID string) error {
	if err := t.c.Delete(ctx, groupsEndpoint, remoteID); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// memberOps are the PATCH operations of a membership change.
func memberOps(add, remove []string) []scimclient.PatchOperation {
	ops := make([]scimclient.PatchOperation, 0, len(remove)+1)
	for _, id := range remove {
		ops = append(ops, scimclient.PatchOperation{Op: "remove", Path: "members[" + scimclient.EqFilter("value", id) + "]"})
	}
	if len(add) > 0 {
		vals := make([]any, len(add))
		for i, id := range add {
			vals[i] = map[string]any{"value": id}
		}
		ops = append(ops, scimclient.PatchOperation{Op: "add", Path: "members", Value: vals})
	}
	return ops
}

func remoteGroupOrNil(res map[string]any) *target.RemoteGroup {
	if res == nil {
		return nil
	}
	return remoteGroup(res)
}

func remoteGroup(res map[string]any) *target.RemoteGroup {
	g := &target.RemoteGroup{Attributes: res}
	g.ID = scimclient.StringField(res, "id")
	g.DisplayName = scimclient.StringField(res, "displayName")
	g.ExternalID = scimclient.StringField(res, "externalId")
	for k, v := range res {
		if !strings.EqualFold(k, "members") {
			continue
		}
		g.MembersKnown = true
		list, _ := v.([]any)
		for _, el := range list {
			if m, ok := el.(map[string]any); ok {
				if id := scimclient.StringField(m, "value"); id != "" {
					g.Members = append(g.Members, id)
				}
			}
		}
	}
	return g
}

// Lister lists a SCIM service provider's accounts for an importer: GET
// /Users without a filter, 1-based pages of the client's PageSize (at most
// 100).
type Lister struct {
	c *scimclient.Client
}

var _ target.Lister = (*Lister)(nil)

// NewLister returns a Lister over c.
func NewLister(c *scimclient.Client) target.Lister { return &Lister{c: c} }

// ListUsers calls fn with every account, page by page.
func (l *Lister) ListUsers(ctx context.Context, fn func(map[string]any) error) error {
	return l.c.Search(ctx, usersEndpoint, "", fn)
}

// GetUser returns one account; a 404 matches target.ErrRemoteGone.
func (l *Lister) GetUser(ctx context.Context, id string) (map[string]any, error) {
	res, err := l.c.Get(ctx, usersEndpoint, id)
	var re *scimclient.RemoteError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return nil, fmt.Errorf("get user %s: %w", id, target.ErrRemoteGone)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	if res == nil {
		return nil, fmt.Errorf("get user %s: empty response", id)
	}
	return res, nil
}
