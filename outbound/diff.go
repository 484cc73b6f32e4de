package outbound

import (
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
)

// readOnlyAttrs are top-level attributes never diffed nor patched: the
// service provider owns them.
var readOnlyAttrs = map[string]bool{"schemas": true, "id": true, "meta": true, "groups": true}

// volatileAttrs are left out of RemoteHash: they change without any
// change to the account (timestamps, memberships pushed separately).
var volatileAttrs = map[string]bool{"meta": true, "groups": true}

// secretAttrs are never put in a report.
var secretAttrs = map[string]bool{"password": true}

// attrChange is one top-level attribute that differs between two states.
type attrChange struct {
	Attr   string
	Old    any
	New    any
	Remove bool // the attribute is dropped: New is absent
}

// diffAttrs compares the top-level attributes of old and new (read-only
// ones aside): attributes of new that are absent from old or differ in
// value are replaced, attributes of old absent from new are removed. Values
// are compared as canonical JSON, so a json.Number 1 equals an int 1. The
// result is ordered by attribute name.
func diffAttrs(old, new map[string]any) []attrChange {
	var out []attrChange
	for k, nv := range new {
		if readOnlyAttrs[k] {
			continue
		}
		ov, ok := old[k]
		if ok && canon.Equal(ov, nv) {
			continue
		}
		out = append(out, attrChange{Attr: k, Old: ov, New: nv})
	}
	for k, ov := range old {
		if readOnlyAttrs[k] {
			continue
		}
		if _, ok := new[k]; !ok {
			out = append(out, attrChange{Attr: k, Old: ov, Remove: true})
		}
	}
	slices.SortFunc(out, func(a, b attrChange) int { return strings.Compare(a.Attr, b.Attr) })
	return out
}

// patchOps turns changes into PATCH operations: replace changed values,
// remove dropped attributes.
func patchOps(changes []attrChange) []PatchOperation {
	ops := make([]PatchOperation, 0, len(changes))
	for _, c := range changes {
		if c.Remove {
			ops = append(ops, PatchOperation{Op: "remove", Path: c.Attr})
			continue
		}
		ops = append(ops, PatchOperation{Op: "replace", Path: c.Attr, Value: c.New})
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

// project returns the values remote holds for the top-level attributes of
// want (names matched case-insensitively, as SCIM attribute names are),
// under want's spelling; attributes remote lacks are left out.
func project(remote, want map[string]any) map[string]any {
	out := make(map[string]any, len(want))
	for k := range want {
		if v, ok := remote[k]; ok {
			out[k] = v
			continue
		}
		for rk, v := range remote {
			if strings.EqualFold(rk, k) {
				out[k] = v
				break
			}
		}
	}
	return out
}

// cloneAttrs copies m deeply enough for the reconciler: maps and slices
// are copied, scalars shared.
func cloneAttrs(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneAttrs(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}
