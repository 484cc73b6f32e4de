// Package atlassian is the target profile of Atlassian's user-provisioning
// SCIM API (used by Bitbucket Cloud), app type "atlassian": lookups of one
// `eq` at a time, the search before a create by externalId alone, groups
// never renamed (a rename is a new group). Its simulator, for tests and
// local trials, is atlassiantest beneath it.
package atlassian

import (
	"context"
	"fmt"

	"github.com/scimgate/scim-gateway/internal/apptype"
	"github.com/scimgate/scim-gateway/outbound/generic"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
	"github.com/scimgate/scim-gateway/outbound/target"
)

// Name is the type name of the Atlassian profile in apps[].type.
const Name = "atlassian"

// Descriptor is Atlassian's user-provisioning API: generic.CoreMapping (what
// Atlassian turns into profile fields), emails required, groups not
// pushed by default (Atlassian documents group sync as unavailable for
// Bitbucket).
func Descriptor() target.Descriptor {
	return target.Descriptor{
		Type: apptype.Type{
			Name:           Name,
			DefaultMapping: generic.CoreMapping,
			RequiresEmails: true,
		},
		NewTarget: func(o scimclient.Options) (target.Target, error) { return New(o) },
		NewLister: generic.NewLister,
	}
}

// Target is Atlassian's user-provisioning API: filters take a single
// `eq` on userName or externalId, so a lookup is up to two calls; DELETE
// removes the SCIM record for good (deactivate with PATCH active); groups
// are never renamed. Bodies are sent as application/json, as every client
// seen in the field sends them.
type Target struct {
	*generic.Target
}

var _ target.Target = (*Target)(nil)

// New returns a Target over a client made from o.
func New(o scimclient.Options) (*Target, error) {
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	t, err := generic.New(o)
	if err != nil {
		return nil, err
	}
	return &Target{t}, nil
}

// FindUser asks by userName; when that finds nothing, or an account whose
// externalId is another one's, it asks by externalId too.
func (t *Target) FindUser(ctx context.Context, userName, externalID string) (*target.RemoteUser, error) {
	byName, err := t.First(ctx, "userName", userName)
	if err != nil {
		return nil, err
	}
	if externalID == "" || (byName != nil && (byName.ExternalID == "" || byName.ExternalID == externalID)) {
		return byName, nil
	}
	byExt, err := t.First(ctx, "externalId", externalID)
	if err != nil {
		return nil, err
	}
	return generic.PickFound(byName, byExt, externalID), nil
}

// FindUserBeforeCreate asks by externalId alone (by userName when there
// is no externalId): one call where FindUser makes two for an account
// that does not exist yet, the common case of a first sync. A userName
// already taken makes the create a 409, and the reconciler then asks
// FindUser.
func (t *Target) FindUserBeforeCreate(ctx context.Context, userName, externalID string) (*target.RemoteUser, error) {
	if externalID == "" {
		return t.First(ctx, "userName", userName)
	}
	return t.First(ctx, "externalId", externalID)
}

// RenamesGroups is false: Atlassian's groups keep their name for life
// (products key on it). The reconciler renames by creating a group with
// the new name, moving the members and deleting the old group.
func (t *Target) RenamesGroups() bool { return false }

func (t *Target) RenameGroup(context.Context, string, string) (*target.RemoteGroup, error) {
	return nil, fmt.Errorf("rename group: atlassian: %w", target.ErrGroupRename)
}
