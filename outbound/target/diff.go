package target

import (
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// readOnlyAttrs are top-level attributes never diffed nor patched: the
// service provider owns them.
var readOnlyAttrs = map[string]bool{"schemas": true, "id": true, "meta": true, "groups": true}

// volatileAttrs are left out of RemoteHash: they change without any
// change to the account (timestamps, memberships pushed separately).
var volatileAttrs = map[string]bool{"meta": true, "groups": true}

// Change is one top-level attribute that differs between two states.
type Change struct {
	Attr   string
	Old    any
	New    any
	Remove bool // the attribute is dropped: New is absent
}

// Diff compares the top-level attributes of old and new (read-only
// ones aside): attributes of new that are absent from old or differ in
// value are replaced, attributes of old absent from new are removed. Values
// are compared as canonical JSON, so a json.Number 1 equals an int 1. The
// result is ordered by attribute name.
func Diff(old, new map[string]any) []Change {
	var out []Change
	for k, nv := range new {
		if readOnlyAttrs[k] {
			continue
		}
		ov, ok := old[k]
		if ok && canon.Equal(ov, nv) {
			continue
		}
		out = append(out, Change{Attr: k, Old: ov, New: nv})
	}
	for k, ov := range old {
		if readOnlyAttrs[k] {
			continue
		}
		if _, ok := new[k]; !ok {
			out = append(out, Change{Attr: k, Old: ov, Remove: true})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Attr, b.Attr) })
	return out
}

// PatchOps turns changes into PATCH operations: replace changed values,
// remove dropped attributes.
func PatchOps(changes []Change) []scimclient.PatchOperation {
	ops := make([]scimclient.PatchOperation, 0, len(changes))
	for _, c := range changes {
		if c.Remove {
			ops = append(ops, scimclient.PatchOperation{Op: "remove", Path: c.Attr})
			continue
		}
		ops = append(ops, scimclient.PatchOperation{Op: "replace", Path: c.Attr, Value: c.New})
	}
	return ops
}

// RemoteHash is the normalised hash of a resource as a target returned it:
// the hash of its canonical JSON without meta and groups, which change
// without the account changing. The reconciler stores it in Link.Hash
// after every apply; an importer detects drift by comparing the hash of
// what it lists with it.
func RemoteHash(res map[string]any) string {
	if res == nil {
		return ""
	}
	m := make(map[string]any, len(res))
	for k, v := range res {
		if !volatileAttrs[k] {
			m[k] = v
		}
	}
	return canon.Hash(m)
}
