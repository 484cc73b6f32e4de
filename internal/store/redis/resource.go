package redis

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
)

// resourceMeta is a resource without its version and data, as kept in the
// "m" field of its hash. Data is kept apart, byte for byte, in "d", and the
// version in "v", where the apply script checks and bumps it.
type resourceMeta struct {
	Kind     store.Kind       `json:"k"`
	ID       string           `json:"i"`
	Created  time.Time        `json:"c"`
	Modified time.Time        `json:"m"`
	Origin   string           `json:"o,omitempty"`
	Indexes  []store.IndexKey `json:"x,omitempty"`
}

// decodeResource builds a resource from the v, m and d fields of its hash.
func decodeResource(v, m, d any) (*store.Resource, error) {
	vs, ok1 := v.(string)
	ms, ok2 := m.(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("malformed resource record (%T, %T)", v, m)
	}
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("malformed resource version %q: %w", vs, err)
	}
	var meta resourceMeta
	if err := decodeMeta(ms, &meta); err != nil {
		return nil, fmt.Errorf("malformed resource metadata: %w", err)
	}
	r := &store.Resource{
		Kind:     meta.Kind,
		ID:       meta.ID,
		Version:  version,
		Created:  meta.Created,
		Modified: meta.Modified,
		Origin:   meta.Origin,
		Indexes:  meta.Indexes,
	}
	if ds, _ := d.(string); ds != "" {
		r.Data = json.RawMessage(ds)
	}
	return r, nil
}

// Get returns a resource by id.
func (s *Store) Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error) {
	vals, err := s.c.HMGet(ctx, s.k.resource(string(kind), id), "v", "m", "d").Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: get %s %q: %w", kind, id, err)
	}
	if vals[0] == nil {
		return nil, fmt.Errorf("redis store: get %s %q: %w", kind, id, store.ErrNotFound)
	}
	r, err := decodeResource(vals[0], vals[1], vals[2])
	if err != nil {
		return nil, fmt.Errorf("redis store: get %s %q: %w", kind, id, err)
	}
	return r, nil
}

// GetMany reads the resources among ids in one pipeline.
func (s *Store) GetMany(ctx context.Context, kind store.Kind, ids []string) (map[string]*store.Resource, error) {
	out := make(map[string]*store.Resource, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.SliceCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.k.resource(string(kind), id), "v", "m", "d")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis store: get %d %ss: %w", len(ids), kind, err)
	}
	for i, id := range ids {
		vals := cmds[i].Val()
		if len(vals) < 3 || vals[0] == nil {
			continue
		}
		r, err := decodeResource(vals[0], vals[1], vals[2])
		if err != nil {
			return nil, fmt.Errorf("redis store: get %s %q: %w", kind, id, err)
		}
		out[id] = r
	}
	return out, nil
}

// Lookup returns the resource holding an index key: the one in a unique
// index's hash, or the first id of a non-unique index's value set.
func (s *Store) Lookup(ctx context.Context, kind store.Kind, index, value string) (*store.Resource, error) {
	rs, err := s.lookup(ctx, kind, index, value, 1)
	if err != nil {
		return nil, fmt.Errorf("redis store: lookup %s %s %q: %w", kind, index, value, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("redis store: lookup %s %s %q: %w", kind, index, value, store.ErrNotFound)
	}
	return rs[0], nil
}

// LookupAll returns the resources holding an index key in id order, at
// most limit of them (limit <= 0: all).
func (s *Store) LookupAll(ctx context.Context, kind store.Kind, index, value string, limit int) ([]*store.Resource, error) {
	rs, err := s.lookup(ctx, kind, index, value, limit)
	if err != nil {
		return nil, fmt.Errorf("redis store: lookup all %s %s %q: %w", kind, index, value, err)
	}
	return rs, nil
}

// lookup reads the holders of an index key and their resources in one
// script: HGET on a unique index's hash, ZRANGE by rank on a non-unique
// index's value set (O(log n + limit)). An empty value is no key.
func (s *Store) lookup(ctx context.Context, kind store.Kind, index, value string, limit int) ([]*store.Resource, error) {
	folded := fold(value)
	if folded == "" {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return []*store.Resource{}, nil
	}
	key, mode := s.k.index(string(kind), index), "hash"
	if !store.Unique(index) {
		key, mode = s.k.valueSet(string(kind), index, folded), "set"
	}
	vals, err := lookupScript.Run(ctx, s.c, []string{key},
		mode, folded, max(limit, 0), s.k.resourcePrefix(string(kind))).Slice()
	if err != nil {
		return nil, err
	}
	if len(vals)%3 != 0 {
		return nil, fmt.Errorf("malformed reply of %d values", len(vals))
	}
	out := make([]*store.Resource, 0, len(vals)/3)
	for i := 0; i < len(vals); i += 3 {
		r, err := decodeResource(vals[i], vals[i+1], vals[i+2])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// List returns a page of a kind in id order: ZRANGE by rank over the kind's
// id set (all scores equal, so ranks follow the ids' byte order), then the
// page's resources, in one script.
func (s *Store) List(ctx context.Context, kind store.Kind, offset, count int) (store.Page, error) {
	offset = max(offset, 0)
	if count <= 0 {
		n, err := s.c.ZCard(ctx, s.k.ids(string(kind))).Result()
		if err != nil {
			return store.Page{}, fmt.Errorf("redis store: list %s: %w", kind, err)
		}
		return store.Page{Resources: []*store.Resource{}, Total: int(n)}, nil
	}
	vals, err := listScript.Run(ctx, s.c, []string{s.k.ids(string(kind))},
		offset, count, s.k.resourcePrefix(string(kind))).Slice()
	if err != nil {
		return store.Page{}, fmt.Errorf("redis store: list %s: %w", kind, err)
	}
	total, ok := vals[0].(int64)
	if !ok || (len(vals)-1)%3 != 0 {
		return store.Page{}, fmt.Errorf("redis store: list %s: malformed reply", kind)
	}
	page := store.Page{Total: int(total), Resources: make([]*store.Resource, 0, (len(vals)-1)/3)}
	for i := 1; i < len(vals); i += 3 {
		r, err := decodeResource(vals[i], vals[i+1], vals[i+2])
		if err != nil {
			return store.Page{}, fmt.Errorf("redis store: list %s: %w", kind, err)
		}
		page.Resources = append(page.Resources, r)
	}
	return page, nil
}

// Apply performs one Write in one script call (see applyScript).
func (s *Store) Apply(ctx context.Context, w store.Write) (*store.Resource, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("redis store: apply %s: %w", describe(w), err)
	}
	if w.Put == nil && w.Delete == nil && w.Group == "" && len(w.Marks) == 0 && len(w.Reports) == 0 {
		return nil, nil
	}

	op, kind, id, expect := "none", "", "", int64(0)
	var data, meta []byte
	var entries []indexArg
	switch {
	case w.Put != nil:
		op, kind, id, expect = "put", string(w.Put.Kind), w.Put.ID, w.ExpectVersion
		m, err := json.Marshal(resourceMeta{
			Kind: w.Put.Kind, ID: w.Put.ID, Created: w.Put.Created, Modified: w.Put.Modified,
			Origin: w.Put.Origin, Indexes: w.Put.Indexes,
		})
		if err != nil {
			return nil, fmt.Errorf("redis store: apply %s: encode: %w", describe(w), err)
		}
		meta, data = m, w.Put.Data
		entries = foldIndexes(w.Put.Indexes)
	case w.Delete != nil:
		op, kind, id, expect = "delete", string(w.Delete.Kind), w.Delete.ID, w.DeleteVersion
	}
	// touched is the Modified of the groups a delete re-versions, as the
	// metadata JSON keeps times ("" leaves Modified unchanged).
	var touched string
	if (w.Delete != nil || w.Touch) && !w.Time.IsZero() {
		b, err := w.Time.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("redis store: apply %s: write time: %w", describe(w), err)
		}
		touched = string(b)
	}

	target := s.k.queueTokens() // any key of the store when there is no target
	if op != "none" {
		target = s.k.resource(kind, id)
	}
	groupKey, groupMode := target, "check"
	if w.Group != "" {
		groupKey = s.k.resource(string(store.KindGroup), w.Group)
		switch {
		case w.Put != nil && w.Put.Kind == store.KindGroup && w.Put.ID == w.Group:
			groupMode = "created"
		case w.Touch:
			groupMode = "touch"
		}
	}
	keys := []string{target, s.k.ids(kind), groupKey}

	args := make([]any, 0, 18+3*len(entries)+len(w.AddMembers)+len(w.RemoveMembers)+3*len(w.Marks))
	args = append(args, op, id, expect, newWriteID(), data, meta, s.k.indexPrefix(kind), s.k.valueSetPrefix(kind), len(entries))
	for _, e := range entries {
		args = append(args, e.name, e.folded, e.set)
	}
	args = append(args, w.Group, s.k.memberPrefix(), s.k.groupsPrefix(), groupMode)
	readGroups := ""
	if w.ReadGroups {
		readGroups = "1"
	}
	args = append(args, s.k.resourcePrefix(string(store.KindGroup)), touched, readGroups, len(w.AddMembers))
	for _, m := range w.AddMembers {
		args = append(args, m)
	}
	args = append(args, len(w.RemoveMembers))
	for _, m := range w.RemoveMembers {
		args = append(args, m)
	}
	keys, markArgs := s.markArgs(keys, w.Marks)
	args = append(args, len(w.Marks))
	args = append(args, markArgs...)
	if len(w.Reports) == 0 {
		args = append(args, 0, 0)
	} else {
		var (
			base       int
			reportArgs []any
			err        error
		)
		keys, base, reportArgs, err = s.reportArgs(keys, w.Reports)
		if err != nil {
			return nil, fmt.Errorf("redis store: apply %s: report: %w", describe(w), err)
		}
		args = append(args, base, len(w.Reports))
		args = append(args, reportArgs...)
	}

	reply, err := applyScript.Run(ctx, s.c, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: apply %s: %w", describe(w), scriptError(err))
	}
	if w.Touch {
		if reply == int64(0) {
			return nil, nil // changed nothing
		}
		vals, ok := reply.([]any)
		if !ok || len(vals) != 3 {
			return nil, fmt.Errorf("redis store: apply %s: malformed reply %v", describe(w), reply)
		}
		g, err := decodeResource(vals[0], vals[1], vals[2])
		if err != nil {
			return nil, fmt.Errorf("redis store: apply %s: %w", describe(w), err)
		}
		return g, nil
	}
	if w.Put == nil {
		return nil, nil
	}
	var groups []string
	if w.ReadGroups {
		vals, ok := reply.([]any)
		if !ok || len(vals) != 2 {
			return nil, fmt.Errorf("redis store: apply %s: malformed reply %v", describe(w), reply)
		}
		ids, ok := vals[1].([]any)
		if !ok {
			return nil, fmt.Errorf("redis store: apply %s: malformed groups %v", describe(w), vals[1])
		}
		for _, g := range ids {
			id, ok := g.(string)
			if !ok {
				return nil, fmt.Errorf("redis store: apply %s: malformed group id %v", describe(w), g)
			}
			groups = append(groups, id)
		}
		reply = vals[0]
	}
	version, ok := reply.(int64)
	if !ok {
		return nil, fmt.Errorf("redis store: apply %s: malformed reply %v", describe(w), reply)
	}
	out := *w.Put
	out.Version = version
	out.MemberOf = groups
	out.Indexes = slices.Clone(w.Put.Indexes)
	out.Data = slices.Clone(w.Put.Data)
	return &out, nil
}

// newWriteID names one Apply call, so that the apply script can tell its
// own retry from a concurrent write. It needs to be unique, not secret.
func newWriteID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// markArgs appends a queue zset and meta hash per distinct app of marks to
// keys, and returns the marks' script arguments: per mark, the app's
// 1-based pair number, the key and the due time in ms.
func (s *Store) markArgs(keys []string, marks []store.Mark) ([]string, []any) {
	pair := map[string]int{}
	args := make([]any, 0, 3*len(marks))
	for _, m := range marks {
		n, ok := pair[m.App]
		if !ok {
			n = len(pair) + 1
			pair[m.App] = n
			keys = append(keys, s.k.queue(m.App), s.k.queueMeta(m.App))
		}
		args = append(args, n, m.Key, ms(m.Due))
	}
	return keys, args
}

// indexArg is one index entry as the apply script takes it: the index
// name, the folded value and, for a non-unique index, the suffix of the
// value's set key ("" for a unique index).
type indexArg struct{ name, folded, set string }

// foldIndexes returns the distinct (name, folded value) entries of keys.
// Keys with an empty value are dropped: an absent attribute claims nothing.
func foldIndexes(keys []store.IndexKey) []indexArg {
	out := make([]indexArg, 0, len(keys))
	seen := make(map[[2]string]bool, len(keys))
	for _, k := range keys {
		p := [2]string{k.Name, fold(k.Value)}
		if p[1] == "" || seen[p] {
			continue
		}
		seen[p] = true
		e := indexArg{name: p[0], folded: p[1]}
		if !store.Unique(k.Name) {
			e.set = valueSetSuffix(p[0], p[1])
		}
		out = append(out, e)
	}
	return out
}

// describe names a write in errors.
func describe(w store.Write) string {
	switch {
	case w.Put != nil && w.ExpectVersion == 0:
		return fmt.Sprintf("create %s %q", w.Put.Kind, w.Put.ID)
	case w.Put != nil:
		return fmt.Sprintf("replace %s %q", w.Put.Kind, w.Put.ID)
	case w.Delete != nil:
		return fmt.Sprintf("delete %s %q", w.Delete.Kind, w.Delete.ID)
	case w.Group != "":
		return fmt.Sprintf("members of group %q", w.Group)
	case len(w.Marks) > 0:
		return "marks"
	default:
		return "report entries"
	}
}

// GroupsOfMany reads each member's group set in one pipeline.
func (s *Store) GroupsOfMany(ctx context.Context, memberIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(memberIDs) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.StringSliceCmd, len(memberIDs))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range memberIDs {
			cmds[i] = p.SMembers(ctx, s.k.groupsOf(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis store: groups of %d members: %w", len(memberIDs), err)
	}
	for i, id := range memberIDs {
		if ids := cmds[i].Val(); len(ids) > 0 {
			out[id] = ids
		}
	}
	return out, nil
}

// Members returns a group's member ids.
func (s *Store) Members(ctx context.Context, groupID string) ([]string, error) {
	ids, err := s.c.SMembers(ctx, s.k.members(groupID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: members of group %q: %w", groupID, err)
	}
	return ids, nil
}

// IsMember reports whether memberID is in the group (SISMEMBER, O(1)).
func (s *Store) IsMember(ctx context.Context, groupID, memberID string) (bool, error) {
	ok, err := s.c.SIsMember(ctx, s.k.members(groupID), memberID).Result()
	if err != nil {
		return false, fmt.Errorf("redis store: is %q a member of group %q: %w", memberID, groupID, err)
	}
	return ok, nil
}

// MemberCount returns the size of a group's member set.
func (s *Store) MemberCount(ctx context.Context, groupID string) (int, error) {
	n, err := s.c.SCard(ctx, s.k.members(groupID)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis store: member count of group %q: %w", groupID, err)
	}
	return int(n), nil
}

// GroupsOf returns the ids of the groups memberID belongs to.
func (s *Store) GroupsOf(ctx context.Context, memberID string) ([]string, error) {
	ids, err := s.c.SMembers(ctx, s.k.groupsOf(memberID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: groups of %q: %w", memberID, err)
	}
	return ids, nil
}
