package outbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

const groupsEndpoint = "Groups"

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

// errGroupRename is RenameGroup of a profile whose target cannot rename.
var errGroupRename = errors.New("the target does not rename groups")

// FindGroup asks for `displayName eq "name"` and returns the group whose
// displayName equals name (case-insensitively, as Atlassian's uniqueness
// rule compares), or nil.
func (t *scimTarget) FindGroup(ctx context.Context, displayName string) (*RemoteGroup, error) {
	var found *RemoteGroup
	err := t.c.Search(ctx, groupsEndpoint, eqFilter("displayName", displayName), func(r map[string]any) error {
		g := remoteGroup(r)
		if strings.EqualFold(g.DisplayName, displayName) {
			found = g
			return ErrStopSearch
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find group: %w", err)
	}
	return found, nil
}

func (t *scimTarget) GetGroup(ctx context.Context, remoteID string) (*RemoteGroup, error) {
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
func (t *scimTarget) CreateGroup(ctx context.Context, displayName, externalID string) (*RemoteGroup, error) {
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

func (t *scimTarget) RenamesGroups() bool { return true }

// RenameGroup replaces displayName with one PATCH.
func (t *scimTarget) RenameGroup(ctx context.Context, remoteID, displayName string) (*RemoteGroup, error) {
	res, err := t.c.Patch(ctx, groupsEndpoint, remoteID, PatchOperation{Op: "replace", Path: "displayName", Value: displayName})
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
func (t *scimTarget) PatchMembers(ctx context.Context, remoteID string, add, remove []string) (*RemoteGroup, error) {
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

func (t *scimTarget) DeleteGroup(ctx context.Context, remoteID string) error {
	if err := t.c.Delete(ctx, groupsEndpoint, remoteID); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// RenamesGroups is false: Atlassian's groups keep their name for life
// (products key on it). The reconciler renames by creating a group with
// the new name, moving the members and deleting the old group.
func (t *atlassianTarget) RenamesGroups() bool { return false }

func (t *atlassianTarget) RenameGroup(context.Context, string, string) (*RemoteGroup, error) {
	return nil, fmt.Errorf("rename group: atlassian: %w", errGroupRename)
}

// GroupSchema is the SCIM core Group schema URN.
const GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"

// memberOps are the PATCH operations of a membership change.
func memberOps(add, remove []string) []PatchOperation {
	ops := make([]PatchOperation, 0, len(remove)+1)
	for _, id := range remove {
		ops = append(ops, PatchOperation{Op: "remove", Path: "members[" + eqFilter("value", id) + "]"})
	}
	if len(add) > 0 {
		vals := make([]any, len(add))
		for i, id := range add {
			vals[i] = map[string]any{"value": id}
		}
		ops = append(ops, PatchOperation{Op: "add", Path: "members", Value: vals})
	}
	return ops
}

func remoteGroupOrNil(res map[string]any) *RemoteGroup {
	if res == nil {
		return nil
	}
	return remoteGroup(res)
}

func remoteGroup(res map[string]any) *RemoteGroup {
	g := &RemoteGroup{Attributes: res}
	g.ID = stringField(res, "id")
	g.DisplayName = stringField(res, "displayName")
	g.ExternalID = stringField(res, "externalId")
	for k, v := range res {
		if !strings.EqualFold(k, "members") {
			continue
		}
		g.MembersKnown = true
		list, _ := v.([]any)
		for _, el := range list {
			if m, ok := el.(map[string]any); ok {
				if id := stringField(m, "value"); id != "" {
					g.Members = append(g.Members, id)
				}
			}
		}
	}
	return g
}
