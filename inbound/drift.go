package inbound

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/internal/store"
)

// account is one remote user account as listed.
type account struct {
	ID         string
	UserName   string
	ExternalID string
	Email      string // primary email (or the only or first one)
	Active     *bool  // nil: the target did not say
	Hash       string // normalised hash (Config.Hash)
	Attrs      map[string]any
}

func parseAccount(m map[string]any, hash func(map[string]any) string) *account {
	a := &account{Attrs: m, Hash: hash(m)}
	a.ID = stringAttr(m, "id")
	a.UserName = stringAttr(m, "userName")
	a.ExternalID = stringAttr(m, "externalId")
	if v, ok := lookupFold(m, "active"); ok {
		if b, ok := asBool(v); ok {
			a.Active = &b
		}
	}
	a.Email = primaryEmail(m)
	return a
}

// active is the account's active, true when unknown.
func (a *account) active() bool { return a.Active == nil || *a.Active }

// linkStatus is the link status that tells the account's state.
func (a *account) linkStatus() string {
	if a.active() {
		return store.LinkActive
	}
	return store.LinkDeactivated
}

func stringAttr(m map[string]any, name string) string {
	v, _ := lookupFold(m, name)
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// primaryEmail is the value of the email marked primary, else of the first.
func primaryEmail(m map[string]any) string {
	v, _ := lookupFold(m, "emails")
	list, _ := v.([]any)
	first := ""
	for _, e := range list {
		em, _ := e.(map[string]any)
		val, _ := lookupFold(em, "value")
		s, _ := val.(string)
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if p, _ := lookupFold(em, "primary"); isTrue(p) {
			return s
		}
		if first == "" {
			first = s
		}
	}
	return first
}

// lookupFold finds a key case-insensitively, preferring the exact one
// (SCIM attribute names are case-insensitive).
func lookupFold(m map[string]any, key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func isTrue(v any) bool {
	b, ok := asBool(v)
	return ok && b
}

// ignoredAttr reports whether a top-level attribute is never compared:
// the target owns it (id, meta, groups, its own extensions) or adds it
// (schemas), or it is never read back (password).
func ignoredAttr(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "schemas", "id", "meta", "groups", "password":
		return true
	}
	return strings.HasPrefix(n, "urn:scim:schemas:extension:atlassian-")
}

// caseInsensitive lists the attribute paths whose string values a target
// may re-case: userName (caseExact false in RFC 7643), email values and
// the type canonical values.
var caseInsensitive = map[string]bool{
	"username": true, "emails.value": true, "emails.type": true,
	"phonenumbers.type": true, "addresses.type": true,
}

// managedDiff compares what was last applied (state) with the account as
// listed (remote), for the attributes of state only: the ones the gateway
// manages. It tolerates target normalisation: ignored attributes (see
// ignoredAttr), a missing "active" (unknown, not false), names matched
// case-insensitively, case of userName and emails, sub-attributes and
// multi-valued elements compared on what state holds (a target may add
// sub-attributes), elements in any order, and absent, "", false, [] and {}
// all meaning "no value". Complex attributes are reported sub-attribute by
// sub-attribute ("name.givenName"); multi-valued ones whole. The result is
// ordered by attribute path; Old is the applied value, New the remote one.
func managedDiff(state, remote map[string]any) []store.AttrChange {
	var out []store.AttrChange
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if ignoredAttr(k) {
			continue
		}
		want := state[k]
		got, ok := lookupFold(remote, k)
		if strings.EqualFold(k, "active") {
			if !ok {
				continue // unknown: Atlassian sometimes omits it
			}
			wb, wok := asBool(want)
			gb, gok := asBool(got)
			if !wok {
				wb, wok = true, want == nil // absent means true
			}
			if wok && gok && wb == gb {
				continue
			}
			out = append(out, store.AttrChange{Attr: k, Old: want, New: got})
			continue
		}
		diffValue(k, want, got, &out)
	}
	return out
}

// diffValue appends the changes between want and got at path; a complex
// (object) value is compared sub-attribute by sub-attribute.
func diffValue(path string, want, got any, out *[]store.AttrChange) {
	if wm, ok := want.(map[string]any); ok {
		gm, gok := got.(map[string]any)
		if gok || empty(got) {
			keys := make([]string, 0, len(wm))
			for k := range wm {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				gv, _ := lookupFold(gm, k)
				diffValue(subPath(path, k), wm[k], gv, out)
			}
			return
		}
	}
	if !equalValue(path, want, got) {
		*out = append(*out, store.AttrChange{Attr: path, Old: want, New: got})
	}
}

// subPath joins a sub-attribute to a path: "name.givenName", or, under an
// extension URN, "urn:…:User:department".
func subPath(path, sub string) string {
	if strings.HasPrefix(strings.ToLower(path), "urn:") && !strings.Contains(path[strings.LastIndexByte(path, ':')+1:], ".") {
		return path + ":" + sub
	}
	return path + "." + sub
}

// equalValue compares a managed value with the remote one under the
// tolerances of managedDiff.
func equalValue(path string, want, got any) bool {
	if empty(want) && empty(got) {
		return true
	}
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		if !ok {
			return false
		}
		if caseInsensitive[strings.ToLower(path)] {
			return strings.EqualFold(w, g)
		}
		return w == g
	case bool:
		g, ok := asBool(got)
		return ok && g == w
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, _ := lookupFold(g, k)
			if !equalValue(subPath(path, k), wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return false
		}
		return equalMulti(path, w, g)
	}
	return canon.Equal(want, got)
}

// equalMulti compares multi-valued attributes as multisets: as many
// elements, each of want matching a distinct element of got.
func equalMulti(path string, want, got []any) bool {
	if len(want) != len(got) {
		return false
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && equalValue(path, w, g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// empty reports whether v means "no value".
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func decodeState(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil
	}
	return m
}

// stateActive is the active a state records (true when absent).
func stateActive(state map[string]any) bool {
	v, ok := lookupFold(state, "active")
	if !ok {
		return true
	}
	b, ok := asBool(v)
	return !ok || b
}

// project returns remote's values of the given attributes (names matched
// case-insensitively, spelled as in keys), leaving out those it lacks
// and the ignored ones.
func project(remote map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if ignoredAttr(k) {
			continue
		}
		if v, ok := lookupFold(remote, k); ok && v != nil {
			out[k] = v
		}
	}
	return out
}

// importedAttrs are the attributes an imported account brings to the hub
// and the ones an importer-written link records as the account's state.
var importedAttrs = []string{"userName", "name", "displayName", "emails", "active"}

// stateKeys are the attributes a link written by the importer records:
// the imported ones, plus those the desired state sets (nil: none).
func stateKeys(desired map[string]any) []string {
	keys := slices.Clone(importedAttrs)
	for k := range desired {
		if !ignoredAttr(k) && !slices.ContainsFunc(keys, func(s string) bool { return strings.EqualFold(s, k) }) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
