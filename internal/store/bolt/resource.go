package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
)

// Get returns a resource by id.
func (s *Store) Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error) {
	var r *store.Resource
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		r, err = getResource(tx, kind, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: get %s %q: %w", kind, id, err)
	}
	return r, nil
}

// GetMany reads the resources among ids in one transaction.
func (s *Store) GetMany(ctx context.Context, kind store.Kind, ids []string) (map[string]*store.Resource, error) {
	out := make(map[string]*store.Resource, len(ids))
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		for i, id := range ids {
			if i%4096 == 4095 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r, err := getResource(tx, kind, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("id %q: %w", id, err)
			}
			out[id] = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: get %d %ss: %w", len(ids), kind, err)
	}
	return out, nil
}

// Lookup returns the resource holding the folded index value: its one
// holder in a unique index, the holder with the smallest id in a
// non-unique one.
func (s *Store) Lookup(ctx context.Context, kind store.Kind, index, value string) (*store.Resource, error) {
	var r *store.Resource
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		rs, err := lookup(tx, kind, index, value, 1)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return store.ErrNotFound
		}
		r = rs[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: lookup %s %s %q: %w", kind, index, value, err)
	}
	return r, nil
}

// LookupAll returns the resources holding the folded index value in id
// order, at most limit of them (limit <= 0: all).
func (s *Store) LookupAll(ctx context.Context, kind store.Kind, index, value string, limit int) ([]*store.Resource, error) {
	var rs []*store.Resource
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		rs, err = lookup(tx, kind, index, value, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: lookup all %s %s %q: %w", kind, index, value, err)
	}
	return rs, nil
}

// lookup reads up to limit (<= 0: all) holders of a folded index value: a
// Get in a unique index, a cursor walk over the value's keys in a
// non-unique one (O(log n + limit)).
func lookup(tx *bbolt.Tx, kind store.Kind, index, value string, limit int) ([]*store.Resource, error) {
	out := []*store.Resource{}
	folded := fold(value)
	ib := nested(tx, bucketIdx, []byte(kind), []byte(index))
	if ib == nil || folded == "" {
		return out, nil
	}
	add := func(id []byte) error {
		r, err := getResource(tx, kind, string(id))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("index entry points at missing id %q", id)
		}
		if err != nil {
			return fmt.Errorf("id %q: %w", id, err)
		}
		out = append(out, r)
		return nil
	}
	if store.Unique(index) {
		if id := ib.Get([]byte(folded)); id != nil {
			return out, add(id)
		}
		return out, nil
	}
	prefix := valuePrefix(folded)
	c := ib.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := add(k[len(prefix):]); err != nil {
			return nil, err
		}
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// List returns resources of a kind in id order. The offset is skipped with
// a cursor walk (O(offset)); the total is the kind's counter.
func (s *Store) List(ctx context.Context, kind store.Kind, offset, count int) (store.Page, error) {
	var page store.Page
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := nested(tx, bucketRes, []byte(kind))
		page.Total = countOf(b)
		if b == nil || count <= 0 || offset >= page.Total {
			return nil
		}
		c := b.Cursor()
		k, v := seekOffset(tx, []byte(kind), c, max(offset, 0))
		page.Resources = make([]*store.Resource, 0, min(count, page.Total-max(offset, 0)))
		for ; k != nil && len(page.Resources) < count; k, v = c.Next() {
			r, err := decodeResource(v)
			if err != nil {
				return fmt.Errorf("id %q: %w", k, err)
			}
			page.Resources = append(page.Resources, r)
		}
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("bolt store: list %s: %w", kind, err)
	}
	return page, nil
}

// Apply performs w in one read-write transaction: the version check, the
// index checks and updates, the resource, both directions of the
// membership changes, the re-versioning of a deleted member's groups, the
// marks and the report entries either all commit or none does.
func (s *Store) Apply(ctx context.Context, w store.Write) (*store.Resource, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("bolt store: apply: %w", err)
	}
	reports, err := encodeReports(w.Reports)
	if err != nil {
		return nil, fmt.Errorf("bolt store: apply %s: report: %w", describeWrite(&w), err)
	}
	var out *store.Resource
	err = s.update(ctx, func(tx *bbolt.Tx) (bool, error) {
		if w.Put != nil {
			r, err := putResource(tx, w.Put, w.ExpectVersion)
			if err != nil {
				return false, err
			}
			out = r
		}
		if w.Delete != nil {
			if err := deleteResource(tx, *w.Delete, w.DeleteVersion, w.Time); err != nil {
				return false, err
			}
		}
		if w.Group != "" {
			n, err := changeMembers(tx, w.Group, w.AddMembers, w.RemoveMembers)
			if err != nil {
				return false, err
			}
			if w.Touch {
				// A touch that changed nothing has no effect at all.
				if n == 0 {
					return false, nil
				}
				if out, err = touchGroup(tx, []byte(w.Group), w.Time); err != nil {
					return false, err
				}
			}
		}
		for _, m := range w.Marks {
			if err := mark(tx, m); err != nil {
				return false, err
			}
		}
		if err := appendReports(tx, w.Reports, reports); err != nil {
			return false, fmt.Errorf("report: %w", err)
		}
		if w.ReadGroups {
			if out.MemberOf, err = groupsOf(tx, w.Put.ID); err != nil {
				return false, fmt.Errorf("groups of %q: %w", w.Put.ID, err)
			}
		}
		changed := w.Put != nil || w.Delete != nil ||
			len(w.AddMembers) > 0 || len(w.RemoveMembers) > 0 || len(w.Marks) > 0 || len(w.Reports) > 0
		return changed, nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: apply %s: %w", describeWrite(&w), err)
	}
	return out, nil
}

func describeWrite(w *store.Write) string {
	var parts []string
	if w.Put != nil {
		parts = append(parts, fmt.Sprintf("put %s %q", w.Put.Kind, w.Put.ID))
	}
	if w.Delete != nil {
		parts = append(parts, fmt.Sprintf("delete %s %q", w.Delete.Kind, w.Delete.ID))
	}
	if w.Group != "" {
		parts = append(parts, fmt.Sprintf("members of group %q", w.Group))
	}
	if len(w.Marks) > 0 {
		parts = append(parts, fmt.Sprintf("%d marks", len(w.Marks)))
	}
	if len(w.Reports) > 0 {
		parts = append(parts, fmt.Sprintf("%d report entries", len(w.Reports)))
	}
	if len(parts) == 0 {
		return "empty write"
	}
	return strings.Join(parts, ", ")
}

func getResource(tx *bbolt.Tx, kind store.Kind, id string) (*store.Resource, error) {
	b := nested(tx, bucketRes, []byte(kind))
	if b == nil || id == "" {
		return nil, store.ErrNotFound
	}
	v := b.Get([]byte(id))
	if v == nil {
		return nil, store.ErrNotFound
	}
	return decodeResource(v)
}

func putResource(tx *bbolt.Tx, p *store.Resource, expect int64) (*store.Resource, error) {
	b, err := ensure(tx, bucketRes, []byte(p.Kind))
	if err != nil {
		return nil, err
	}
	key := []byte(p.ID)
	old := b.Get(key)
	var prev []store.IndexKey
	version := int64(1)
	switch {
	case expect == 0 && old != nil:
		return nil, fmt.Errorf("id exists: %w", store.ErrConflict)
	case expect > 0 && old == nil:
		return nil, store.ErrNotFound
	case expect > 0:
		stored, err := decodeResource(old)
		if err != nil {
			return nil, err
		}
		if stored.Version != expect {
			return nil, fmt.Errorf("stored version is %d, expected %d: %w", stored.Version, expect, store.ErrVersionMismatch)
		}
		prev, version = stored.Indexes, stored.Version+1
	}
	r := &store.Resource{
		Kind:     p.Kind,
		ID:       p.ID,
		Version:  version,
		Created:  p.Created,
		Modified: p.Modified,
		Origin:   p.Origin,
		Indexes:  slices.Clone(p.Indexes),
	}
	if len(p.Data) > 0 {
		r.Data = bytes.Clone(p.Data)
	}
	if err := setIndexes(tx, p.Kind, p.ID, prev, r.Indexes); err != nil {
		return nil, err
	}
	enc, err := encodeResource(r)
	if err != nil {
		return nil, err
	}
	if err := b.Put(key, enc); err != nil {
		return nil, err
	}
	if old == nil {
		if err := addCount(b, 1); err != nil {
			return nil, err
		}
		if err := countID(tx, []byte(p.Kind), key, 1); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// deleteResource removes a resource, its index keys and its memberships,
// and re-versions the groups it was a member of (see touchGroup).
func deleteResource(tx *bbolt.Tx, ref store.Ref, expect int64, now time.Time) error {
	b := nested(tx, bucketRes, []byte(ref.Kind))
	if b == nil {
		return store.ErrNotFound
	}
	key := []byte(ref.ID)
	old := b.Get(key)
	if old == nil {
		return store.ErrNotFound
	}
	stored, err := decodeResource(old)
	if err != nil {
		return err
	}
	if expect > 0 && stored.Version != expect {
		return fmt.Errorf("stored version is %d, expected %d: %w", stored.Version, expect, store.ErrVersionMismatch)
	}
	if err := setIndexes(tx, ref.Kind, ref.ID, stored.Indexes, nil); err != nil {
		return err
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	if err := addCount(b, -1); err != nil {
		return err
	}
	if err := countID(tx, []byte(ref.Kind), key, -1); err != nil {
		return err
	}
	return dropMemberships(tx, ref, now)
}

// indexEntry is an index key with its value folded.
type indexEntry struct{ name, value string }

// foldIndexes folds, sorts and deduplicates index keys. Keys with an empty
// value are dropped: an absent attribute claims nothing.
func foldIndexes(keys []store.IndexKey) []indexEntry {
	out := make([]indexEntry, 0, len(keys))
	for _, k := range keys {
		if v := fold(k.Value); v != "" {
			out = append(out, indexEntry{k.Name, v})
		}
	}
	slices.SortFunc(out, compareIndexEntry)
	return slices.Compact(out)
}

// setIndexes moves the index entries of id from the keys in old to the
// keys in next, touching only the keys that change. It fails with
// ErrConflict when another resource of the kind holds a key of a unique
// index in next; keys of a non-unique index (store.Unique) are value keys,
// one per holder, and never conflict.
func setIndexes(tx *bbolt.Tx, kind store.Kind, id string, old, next []store.IndexKey) error {
	want, had := foldIndexes(next), foldIndexes(old)
	idKey := []byte(id)
	for _, e := range want {
		if _, kept := slices.BinarySearchFunc(had, e, compareIndexEntry); kept {
			continue
		}
		ib, err := ensure(tx, bucketIdx, []byte(kind), []byte(e.name))
		if err != nil {
			return err
		}
		if !store.Unique(e.name) {
			if err := ib.Put(valueKey(e.value, id), empty); err != nil {
				return fmt.Errorf("index %s %q: %w", e.name, e.value, err)
			}
			continue
		}
		holder := ib.Get([]byte(e.value))
		switch {
		case holder == nil:
			if err := ib.Put([]byte(e.value), idKey); err != nil {
				return fmt.Errorf("index %s %q: %w", e.name, e.value, err)
			}
		case !bytes.Equal(holder, idKey):
			return fmt.Errorf("%s %q is held by %s %q: %w", e.name, e.value, kind, holder, store.ErrConflict)
		}
	}
	for _, e := range had {
		if _, kept := slices.BinarySearchFunc(want, e, compareIndexEntry); kept {
			continue
		}
		ib := nested(tx, bucketIdx, []byte(kind), []byte(e.name))
		if ib == nil {
			continue
		}
		key := []byte(e.value)
		if !store.Unique(e.name) {
			key = valueKey(e.value, id)
		} else if !bytes.Equal(ib.Get(key), idKey) {
			continue
		}
		if err := ib.Delete(key); err != nil {
			return fmt.Errorf("index %s %q: %w", e.name, e.value, err)
		}
	}
	return nil
}

func compareIndexEntry(a, b indexEntry) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	return strings.Compare(a.value, b.value)
}

// fold is the case folding of index values, user and app names.
func fold(s string) string { return strings.ToLower(s) }

// changeMembers adds and removes members of group, both directions, in
// O(len(add)+len(remove)) bucket operations.
func changeMembers(tx *bbolt.Tx, group string, add, remove []string) (changed int, err error) {
	if b := nested(tx, bucketRes, []byte(store.KindGroup)); b == nil || b.Get([]byte(group)) == nil {
		return 0, fmt.Errorf("group: %w", store.ErrNotFound)
	}
	if len(add)+len(remove) == 0 {
		return 0, nil
	}
	gk := []byte(group)
	groups := tx.Bucket(bucketGrp)
	members := nested(tx, bucketMem, gk)
	if len(add) > 0 {
		if members, err = ensure(tx, bucketMem, gk); err != nil {
			return 0, err
		}
	}
	if members == nil {
		return 0, nil // nothing to remove from a group that never had members
	}
	delta := 0
	for _, m := range add {
		mk := []byte(m)
		if members.Get(mk) != nil {
			continue
		}
		if err := members.Put(mk, empty); err != nil {
			return 0, fmt.Errorf("add member %q: %w", m, err)
		}
		of, err := groups.CreateBucketIfNotExists(mk)
		if err != nil {
			return 0, fmt.Errorf("add member %q: %w", m, err)
		}
		if err := of.Put(gk, empty); err != nil {
			return 0, fmt.Errorf("add member %q: %w", m, err)
		}
		delta++
		changed++
	}
	for _, m := range remove {
		mk := []byte(m)
		if members.Get(mk) == nil {
			continue
		}
		if err := members.Delete(mk); err != nil {
			return 0, fmt.Errorf("remove member %q: %w", m, err)
		}
		if err := unlinkGroup(groups, mk, gk); err != nil {
			return 0, fmt.Errorf("remove member %q: %w", m, err)
		}
		delta--
		changed++
	}
	return changed, addCount(members, delta)
}

// unlinkGroup removes group from member's group set, and the set when it
// empties.
func unlinkGroup(groups *bbolt.Bucket, member, group []byte) error {
	of := groups.Bucket(member)
	if of == nil {
		return nil
	}
	if err := of.Delete(group); err != nil {
		return err
	}
	return deleteIfEmpty(groups, member)
}

// dropMemberships removes a deleted resource from the groups it belongs
// to, re-versioning each of them, and, for a group, its own member set
// with the reverse entries (its members are not re-versioned).
func dropMemberships(tx *bbolt.Tx, ref store.Ref, now time.Time) error {
	id := []byte(ref.ID)
	groups := tx.Bucket(bucketGrp)
	if of := groups.Bucket(id); of != nil {
		err := of.ForEach(func(g, _ []byte) error {
			if _, err := touchGroup(tx, g, now); err != nil {
				return fmt.Errorf("group %q: %w", g, err)
			}
			members := nested(tx, bucketMem, g)
			if members == nil || members.Get(id) == nil {
				return nil
			}
			if err := members.Delete(id); err != nil {
				return err
			}
			return addCount(members, -1)
		})
		if err != nil {
			return fmt.Errorf("leave groups: %w", err)
		}
		if err := groups.DeleteBucket(id); err != nil {
			return fmt.Errorf("leave groups: %w", err)
		}
	}
	if ref.Kind != store.KindGroup {
		return nil
	}
	memTop := tx.Bucket(bucketMem)
	members := memTop.Bucket(id)
	if members == nil {
		return nil
	}
	err := members.ForEach(func(m, _ []byte) error {
		return unlinkGroup(groups, m, id)
	})
	if err != nil {
		return fmt.Errorf("drop members: %w", err)
	}
	if err := memTop.DeleteBucket(id); err != nil {
		return fmt.Errorf("drop members: %w", err)
	}
	return nil
}

// touchGroup bumps the version of a group whose member list changed under
// it (a member was deleted) and sets its Modified to now unless now is
// zero. A group id that names no group (the deleted group itself, when it
// was its own member) is left alone.
func touchGroup(tx *bbolt.Tx, group []byte, now time.Time) (*store.Resource, error) {
	b := nested(tx, bucketRes, []byte(store.KindGroup))
	if b == nil {
		return nil, nil
	}
	v := b.Get(group)
	if v == nil {
		return nil, nil
	}
	r, err := decodeResource(v)
	if err != nil {
		return nil, err
	}
	r.Version++
	if !now.IsZero() {
		r.Modified = now
	}
	enc, err := encodeResource(r)
	if err != nil {
		return nil, err
	}
	return r, b.Put(group, enc)
}

// Members returns the member ids of a group (in id order).
func (s *Store) Members(ctx context.Context, groupID string) ([]string, error) {
	var ids []string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := nested(tx, bucketMem, []byte(groupID))
		if b == nil {
			return nil
		}
		ids = make([]string, 0, countOf(b))
		return b.ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: members of %q: %w", groupID, err)
	}
	return ids, nil
}

// IsMember reports whether memberID is in the group's member set.
func (s *Store) IsMember(ctx context.Context, groupID, memberID string) (bool, error) {
	var ok bool
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := nested(tx, bucketMem, []byte(groupID))
		ok = b != nil && memberID != "" && b.Get([]byte(memberID)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bolt store: is %q a member of %q: %w", memberID, groupID, err)
	}
	return ok, nil
}

// MemberCount returns the size of a group's member set from its counter.
func (s *Store) MemberCount(ctx context.Context, groupID string) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		n = countOf(nested(tx, bucketMem, []byte(groupID)))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt store: member count of %q: %w", groupID, err)
	}
	return n, nil
}

// GroupsOf returns the ids of the groups memberID belongs to (in id order).
// GroupsOfMany reads each member's groups in one transaction.
func (s *Store) GroupsOfMany(ctx context.Context, memberIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		for _, id := range memberIDs {
			b := nested(tx, bucketGrp, []byte(id))
			if b == nil {
				continue
			}
			var ids []string
			if err := b.ForEach(func(k, _ []byte) error {
				ids = append(ids, string(k))
				return nil
			}); err != nil {
				return err
			}
			if len(ids) > 0 {
				out[id] = ids
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: groups of %d members: %w", len(memberIDs), err)
	}
	return out, nil
}

func (s *Store) GroupsOf(ctx context.Context, memberID string) ([]string, error) {
	var ids []string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		ids, err = groupsOf(tx, memberID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt store: groups of %q: %w", memberID, err)
	}
	return ids, nil
}

// groupsOf reads the ids of the groups memberID is in (nil when none).
func groupsOf(tx *bbolt.Tx, memberID string) ([]string, error) {
	b := nested(tx, bucketGrp, []byte(memberID))
	if b == nil {
		return nil, nil
	}
	var ids []string
	err := b.ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	return ids, err
}
