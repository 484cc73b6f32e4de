package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// memStore is the suite's reference implementation of store.Store: the
// simplest code that meets the contract, to develop the suite against before
// the real backends exist, and to show that every test can pass. All data
// lives in a memDB (the "namespace"), which outlives Close so the Restart
// tests can open it again. One mutex serialises everything; values are
// kept as JSON, as the real backends keep them, which also makes every
// returned value a copy.
type memStore struct {
	db *memDB
}

var _ store.Store = (*memStore)(nil)

type memDB struct {
	mu   sync.Mutex
	open bool // a namespace is opened by one store at a time

	resources map[store.Kind]map[string]*memResource
	index     map[store.Kind]map[store.IndexKey]string          // unique index: folded key -> id
	holders   map[store.Kind]map[store.IndexKey]map[string]bool // non-unique index: folded key -> ids
	members   map[string]map[string]bool                        // group -> members
	groupsOf  map[string]map[string]bool                        // member -> groups

	links   map[linkKey][]byte // JSON of store.Link
	remotes map[linkKey]string // (app, kind, remote id) -> hub id

	queues   map[string]map[string]*memQueueEntry // app -> key -> entry
	tokenSeq int64

	idem    map[string]memIdem
	locks   map[string]store.Lock
	lockSeq map[string]int64
	buckets map[string]*memBucket
	state   map[string][]byte

	reports   []*memReport // ordered by (at, seq)
	reportSeq int64
}

type memResource struct {
	raw     []byte // JSON of store.Resource
	version int64
	keys    []store.IndexKey // folded, distinct
}

type linkKey struct {
	app  string
	kind store.Kind
	id   string
}

type memQueueEntry struct {
	due      time.Time
	attempt  int
	token    string // "" when not leased
	leaseEnd time.Time
	marked   bool // marked while leased
	markDue  time.Time
}

type memIdem struct {
	rec     []byte
	expires time.Time
}

type memBucket struct {
	tokens float64
	last   time.Time
}

type memReport struct {
	at         time.Time
	seq        int64
	user, app  string // folded
	op, status string
	raw        []byte // JSON of store.ReportEntry, ID set
}

func newMemDB() *memDB {
	return &memDB{
		resources: map[store.Kind]map[string]*memResource{},
		index:     map[store.Kind]map[store.IndexKey]string{},
		holders:   map[store.Kind]map[store.IndexKey]map[string]bool{},
		members:   map[string]map[string]bool{},
		groupsOf:  map[string]map[string]bool{},
		links:     map[linkKey][]byte{},
		remotes:   map[linkKey]string{},
		queues:    map[string]map[string]*memQueueEntry{},
		idem:      map[string]memIdem{},
		locks:     map[string]store.Lock{},
		lockSeq:   map[string]int64{},
		buckets:   map[string]*memBucket{},
		state:     map[string][]byte{},
	}
}

// memFactory is the Factory of the reference implementation.
func memFactory(testing.TB) func() (store.Store, error) {
	db := newMemDB()
	return func() (store.Store, error) {
		db.mu.Lock()
		defer db.mu.Unlock()
		if db.open {
			return nil, errors.New("memstore: namespace is already open")
		}
		db.open = true
		return &memStore{db: db}, nil
	}
}

var errClosed = errors.New("memstore: store is closed")

// lock checks ctx and takes the database lock; the caller unlocks.
func (m *memStore) lock(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	m.db.mu.Lock()
	if !m.db.open {
		m.db.mu.Unlock()
		return fmt.Errorf("memstore: %s: %w", op, errClosed)
	}
	return nil
}

func (m *memStore) unlock() { m.db.mu.Unlock() }

func (m *memStore) Close() error {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	if !m.db.open {
		return errClosed
	}
	m.db.open = false
	return nil
}

func (m *memStore) Ping(ctx context.Context) error {
	if err := m.lock(ctx, "ping"); err != nil {
		return err
	}
	m.unlock()
	return nil
}

// foldKeys folds keys and drops duplicates and empty values.
func foldKeys(keys []store.IndexKey) []store.IndexKey {
	out := make([]store.IndexKey, 0, len(keys))
	for _, k := range keys {
		f := store.IndexKey{Name: k.Name, Value: strings.ToLower(k.Value)}
		if f.Value != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func decodeResource(raw []byte) (*store.Resource, error) {
	var r store.Resource
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("memstore: decode resource: %w", err)
	}
	return &r, nil
}

func (m *memStore) Get(ctx context.Context, kind store.Kind, id string) (*store.Resource, error) {
	if err := m.lock(ctx, "get"); err != nil {
		return nil, err
	}
	defer m.unlock()
	r, ok := m.db.resources[kind][id]
	if !ok {
		return nil, fmt.Errorf("memstore: get %s %q: %w", kind, id, store.ErrNotFound)
	}
	return decodeResource(r.raw)
}

func (m *memStore) GetMany(ctx context.Context, kind store.Kind, ids []string) (map[string]*store.Resource, error) {
	if err := m.lock(ctx, "get many"); err != nil {
		return nil, err
	}
	defer m.unlock()
	out := make(map[string]*store.Resource, len(ids))
	for _, id := range ids {
		r, ok := m.db.resources[kind][id]
		if !ok {
			continue
		}
		d, err := decodeResource(r.raw)
		if err != nil {
			return nil, err
		}
		out[id] = d
	}
	return out, nil
}

// holderIDs returns the ids holding a folded key, sorted.
func (db *memDB) holderIDs(kind store.Kind, key store.IndexKey) []string {
	if store.Unique(key.Name) {
		if id, ok := db.index[kind][key]; ok {
			return []string{id}
		}
		return nil
	}
	return sorted(setKeys(db.holders[kind][key]))
}

func (m *memStore) Lookup(ctx context.Context, kind store.Kind, index, value string) (*store.Resource, error) {
	if err := m.lock(ctx, "lookup"); err != nil {
		return nil, err
	}
	defer m.unlock()
	ids := m.db.holderIDs(kind, store.IndexKey{Name: index, Value: strings.ToLower(value)})
	if len(ids) == 0 {
		return nil, fmt.Errorf("memstore: lookup %s %s %q: %w", kind, index, value, store.ErrNotFound)
	}
	return decodeResource(m.db.resources[kind][ids[0]].raw)
}

func (m *memStore) LookupAll(ctx context.Context, kind store.Kind, index, value string, limit int) ([]*store.Resource, error) {
	if err := m.lock(ctx, "lookup all"); err != nil {
		return nil, err
	}
	defer m.unlock()
	ids := m.db.holderIDs(kind, store.IndexKey{Name: index, Value: strings.ToLower(value)})
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*store.Resource, 0, len(ids))
	for _, id := range ids {
		r, err := decodeResource(m.db.resources[kind][id].raw)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (m *memStore) List(ctx context.Context, kind store.Kind, offset, count int) (store.Page, error) {
	if err := m.lock(ctx, "list"); err != nil {
		return store.Page{}, err
	}
	defer m.unlock()
	ids := make([]string, 0, len(m.db.resources[kind]))
	for id := range m.db.resources[kind] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	page := store.Page{Total: len(ids), Resources: []*store.Resource{}}
	lo := min(max(offset, 0), len(ids))
	hi := min(lo+max(count, 0), len(ids))
	for _, id := range ids[lo:hi] {
		r, err := decodeResource(m.db.resources[kind][id].raw)
		if err != nil {
			return store.Page{}, err
		}
		page.Resources = append(page.Resources, r)
	}
	return page, nil
}

func (m *memStore) Apply(ctx context.Context, w store.Write) (*store.Resource, error) {
	if err := m.lock(ctx, "apply"); err != nil {
		return nil, err
	}
	defer m.unlock()
	db := m.db

	// Check every precondition before changing anything.
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("memstore: apply: %w", err)
	}
	var put *memResource
	var putRes store.Resource
	var touched map[string]*memResource // groups a Delete re-versions, by id
	if p := w.Put; p != nil {
		old, exists := db.resources[p.Kind][p.ID]
		switch {
		case w.ExpectVersion == 0 && exists:
			return nil, fmt.Errorf("memstore: create %s %q: %w", p.Kind, p.ID, store.ErrConflict)
		case w.ExpectVersion > 0 && !exists:
			return nil, fmt.Errorf("memstore: replace %s %q: %w", p.Kind, p.ID, store.ErrNotFound)
		case w.ExpectVersion > 0 && old.version != w.ExpectVersion:
			return nil, fmt.Errorf("memstore: replace %s %q at version %d, expected %d: %w",
				p.Kind, p.ID, old.version, w.ExpectVersion, store.ErrVersionMismatch)
		}
		keys := foldKeys(p.Indexes)
		for _, k := range keys {
			if !store.Unique(k.Name) {
				continue
			}
			if holder, ok := db.index[p.Kind][k]; ok && holder != p.ID {
				return nil, fmt.Errorf("memstore: put %s %q: %s %q is held by %q: %w",
					p.Kind, p.ID, k.Name, k.Value, holder, store.ErrConflict)
			}
		}
		putRes = *p
		putRes.Version = 1
		if exists {
			putRes.Version = old.version + 1
		}
		raw, err := json.Marshal(&putRes)
		if err != nil {
			return nil, fmt.Errorf("memstore: put %s %q: encode: %w", p.Kind, p.ID, err)
		}
		put = &memResource{raw: raw, version: putRes.Version, keys: keys}
	}
	if d := w.Delete; d != nil {
		old, exists := db.resources[d.Kind][d.ID]
		switch {
		case !exists:
			return nil, fmt.Errorf("memstore: delete %s %q: %w", d.Kind, d.ID, store.ErrNotFound)
		case w.DeleteVersion > 0 && old.version != w.DeleteVersion:
			return nil, fmt.Errorf("memstore: delete %s %q at version %d, expected %d: %w",
				d.Kind, d.ID, old.version, w.DeleteVersion, store.ErrVersionMismatch)
		}
		var err error
		if touched, err = db.touchGroups(*d, w.Time); err != nil {
			return nil, err
		}
	}
	if w.Group != "" {
		_, exists := db.resources[store.KindGroup][w.Group]
		createdHere := w.Put != nil && w.Put.Kind == store.KindGroup && w.Put.ID == w.Group
		if !exists && !createdHere {
			return nil, fmt.Errorf("memstore: membership of group %q: %w", w.Group, store.ErrNotFound)
		}
	}
	reports, err := db.encodeReports(w.Reports)
	if err != nil {
		return nil, err
	}

	// Commit.
	var out *store.Resource
	if put != nil {
		p := w.Put
		if old, ok := db.resources[p.Kind][p.ID]; ok {
			db.dropKeys(p.Kind, p.ID, old.keys)
		}
		if db.resources[p.Kind] == nil {
			db.resources[p.Kind] = map[string]*memResource{}
		}
		db.resources[p.Kind][p.ID] = put
		db.addKeys(p.Kind, p.ID, put.keys)
		r, err := decodeResource(put.raw)
		if err != nil {
			return nil, err
		}
		out = r
	}
	// A Delete comes before the membership changes of the same Write, as
	// in the backends: a group the deleted resource leaves is re-versioned
	// once, whatever the membership changes then do.
	if d := w.Delete; d != nil {
		old := db.resources[d.Kind][d.ID]
		db.dropKeys(d.Kind, d.ID, old.keys)
		delete(db.resources[d.Kind], d.ID)
		for member := range db.members[d.ID] {
			db.removeMember(d.ID, member)
		}
		for group := range db.groupsOf[d.ID] {
			db.removeMember(group, d.ID)
		}
		for id, g := range touched {
			db.resources[store.KindGroup][id] = g
		}
	}
	changed := 0
	for _, id := range w.AddMembers {
		if !db.members[w.Group][id] {
			changed++
		}
		db.addMember(w.Group, id)
	}
	for _, id := range w.RemoveMembers {
		if db.members[w.Group][id] {
			changed++
		}
		db.removeMember(w.Group, id)
	}
	if w.Touch {
		g := db.resources[store.KindGroup][w.Group]
		r, err := decodeResource(g.raw)
		if err != nil {
			return nil, err
		}
		if changed == 0 {
			return nil, nil // no effect: no version, marks or reports
		}
		r.Version++
		if !w.Time.IsZero() {
			r.Modified = w.Time
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		db.resources[store.KindGroup][w.Group] = &memResource{raw: raw, version: r.Version, keys: g.keys}
		out = r
	}
	for _, mk := range w.Marks {
		db.mark(mk)
	}
	db.insertReports(reports)
	if w.ReadGroups {
		if len(db.groupsOf[w.Put.ID]) > 0 {
			out.MemberOf = setKeys(db.groupsOf[w.Put.ID])
		}
	}
	return out, nil
}

// touchGroups returns the groups that deleting d re-versions, as they will
// be stored: every group d is a member of (except d itself) with
// Version+1, and Modified = now unless now is zero. It changes nothing.
func (db *memDB) touchGroups(d store.Ref, now time.Time) (map[string]*memResource, error) {
	out := map[string]*memResource{}
	for id := range db.groupsOf[d.ID] {
		g, ok := db.resources[store.KindGroup][id]
		if !ok || (d.Kind == store.KindGroup && d.ID == id) {
			continue
		}
		r, err := decodeResource(g.raw)
		if err != nil {
			return nil, err
		}
		r.Version++
		if !now.IsZero() {
			r.Modified = now
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("memstore: re-version group %q: encode: %w", id, err)
		}
		out[id] = &memResource{raw: raw, version: r.Version, keys: g.keys}
	}
	return out, nil
}

func (db *memDB) addKeys(kind store.Kind, id string, keys []store.IndexKey) {
	if db.index[kind] == nil {
		db.index[kind] = map[store.IndexKey]string{}
		db.holders[kind] = map[store.IndexKey]map[string]bool{}
	}
	for _, k := range keys {
		if store.Unique(k.Name) {
			db.index[kind][k] = id
			continue
		}
		if db.holders[kind][k] == nil {
			db.holders[kind][k] = map[string]bool{}
		}
		db.holders[kind][k][id] = true
	}
}

func (db *memDB) dropKeys(kind store.Kind, id string, keys []store.IndexKey) {
	for _, k := range keys {
		if store.Unique(k.Name) {
			delete(db.index[kind], k)
			continue
		}
		delete(db.holders[kind][k], id)
		if len(db.holders[kind][k]) == 0 {
			delete(db.holders[kind], k)
		}
	}
}

func (db *memDB) addMember(group, member string) {
	if db.members[group] == nil {
		db.members[group] = map[string]bool{}
	}
	if db.groupsOf[member] == nil {
		db.groupsOf[member] = map[string]bool{}
	}
	db.members[group][member] = true
	db.groupsOf[member][group] = true
}

func (db *memDB) removeMember(group, member string) {
	delete(db.members[group], member)
	if len(db.members[group]) == 0 {
		delete(db.members, group)
	}
	delete(db.groupsOf[member], group)
	if len(db.groupsOf[member]) == 0 {
		delete(db.groupsOf, member)
	}
}

func setKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}

func (m *memStore) Members(ctx context.Context, groupID string) ([]string, error) {
	if err := m.lock(ctx, "members"); err != nil {
		return nil, err
	}
	defer m.unlock()
	return setKeys(m.db.members[groupID]), nil
}

func (m *memStore) IsMember(ctx context.Context, groupID, memberID string) (bool, error) {
	if err := m.lock(ctx, "is member"); err != nil {
		return false, err
	}
	defer m.unlock()
	return m.db.members[groupID][memberID], nil
}

func (m *memStore) MemberCount(ctx context.Context, groupID string) (int, error) {
	if err := m.lock(ctx, "member count"); err != nil {
		return 0, err
	}
	defer m.unlock()
	return len(m.db.members[groupID]), nil
}

func (m *memStore) GroupsOf(ctx context.Context, memberID string) ([]string, error) {
	if err := m.lock(ctx, "groups of"); err != nil {
		return nil, err
	}
	defer m.unlock()
	return setKeys(m.db.groupsOf[memberID]), nil
}

func (m *memStore) GroupsOfMany(ctx context.Context, memberIDs []string) (map[string][]string, error) {
	if err := m.lock(ctx, "groups of many"); err != nil {
		return nil, err
	}
	defer m.unlock()
	out := map[string][]string{}
	for _, id := range memberIDs {
		if ids := setKeys(m.db.groupsOf[id]); len(ids) > 0 {
			out[id] = ids
		}
	}
	return out, nil
}

func decodeLink(raw []byte) (*store.Link, error) {
	var l store.Link
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("memstore: decode link: %w", err)
	}
	return &l, nil
}

func (m *memStore) PutLink(ctx context.Context, l store.Link) error {
	if err := m.lock(ctx, "put link"); err != nil {
		return err
	}
	defer m.unlock()
	raw, err := json.Marshal(&l)
	if err != nil {
		return fmt.Errorf("memstore: put link: encode: %w", err)
	}
	k := linkKey{l.App, l.Kind, l.HubID}
	if oldRaw, ok := m.db.links[k]; ok {
		old, err := decodeLink(oldRaw)
		if err != nil {
			return err
		}
		rk := linkKey{l.App, l.Kind, old.RemoteID}
		if old.RemoteID != l.RemoteID && m.db.remotes[rk] == l.HubID {
			delete(m.db.remotes, rk)
		}
	}
	m.db.links[k] = raw
	m.db.remotes[linkKey{l.App, l.Kind, l.RemoteID}] = l.HubID
	return nil
}

func (m *memStore) GetLink(ctx context.Context, app string, kind store.Kind, hubID string) (*store.Link, error) {
	if err := m.lock(ctx, "get link"); err != nil {
		return nil, err
	}
	defer m.unlock()
	raw, ok := m.db.links[linkKey{app, kind, hubID}]
	if !ok {
		return nil, fmt.Errorf("memstore: get link %s %s %q: %w", app, kind, hubID, store.ErrNotFound)
	}
	return decodeLink(raw)
}

func (m *memStore) LinkByRemote(ctx context.Context, app string, kind store.Kind, remoteID string) (*store.Link, error) {
	if err := m.lock(ctx, "link by remote"); err != nil {
		return nil, err
	}
	defer m.unlock()
	hub, ok := m.db.remotes[linkKey{app, kind, remoteID}]
	if !ok {
		return nil, fmt.Errorf("memstore: link by remote %s %s %q: %w", app, kind, remoteID, store.ErrNotFound)
	}
	return decodeLink(m.db.links[linkKey{app, kind, hub}])
}

func (m *memStore) DeleteLink(ctx context.Context, app string, kind store.Kind, hubID string) error {
	if err := m.lock(ctx, "delete link"); err != nil {
		return err
	}
	defer m.unlock()
	k := linkKey{app, kind, hubID}
	raw, ok := m.db.links[k]
	if !ok {
		return fmt.Errorf("memstore: delete link %s %s %q: %w", app, kind, hubID, store.ErrNotFound)
	}
	l, err := decodeLink(raw)
	if err != nil {
		return err
	}
	delete(m.db.links, k)
	if rk := (linkKey{app, kind, l.RemoteID}); m.db.remotes[rk] == hubID {
		delete(m.db.remotes, rk)
	}
	return nil
}

func (m *memStore) Links(ctx context.Context, app string, kind store.Kind, after string, count int) ([]store.Link, error) {
	if err := m.lock(ctx, "links"); err != nil {
		return nil, err
	}
	defer m.unlock()
	var hubs []string
	for k := range m.db.links {
		if k.app == app && k.kind == kind && k.id > after {
			hubs = append(hubs, k.id)
		}
	}
	slices.Sort(hubs)
	hubs = hubs[:min(len(hubs), max(count, 0))]
	out := make([]store.Link, 0, len(hubs))
	for _, h := range hubs {
		l, err := decodeLink(m.db.links[linkKey{app, kind, h}])
		if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	return out, nil
}

// mark queues a Mark: a new key is due at m.Due; a queued key keeps the
// earlier due; a leased key remembers the earliest mark for its release.
func (db *memDB) mark(mk store.Mark) {
	q := db.queues[mk.App]
	if q == nil {
		q = map[string]*memQueueEntry{}
		db.queues[mk.App] = q
	}
	e := q[mk.Key]
	switch {
	case e == nil:
		q[mk.Key] = &memQueueEntry{due: mk.Due}
	case e.token != "":
		if !e.marked || mk.Due.Before(e.markDue) {
			e.marked, e.markDue = true, mk.Due
		}
	case mk.Due.Before(e.due):
		e.due = mk.Due
	}
}

func (m *memStore) Enqueue(ctx context.Context, marks ...store.Mark) error {
	if err := m.lock(ctx, "enqueue"); err != nil {
		return err
	}
	defer m.unlock()
	for _, mk := range marks {
		if err := mk.Validate(); err != nil {
			return fmt.Errorf("memstore: enqueue: %w", err)
		}
	}
	for _, mk := range marks {
		m.db.mark(mk)
	}
	return nil
}

func (m *memStore) Claim(ctx context.Context, app string, now time.Time, lease time.Duration, maxKeys int) ([]store.Claim, error) {
	if err := m.lock(ctx, "claim"); err != nil {
		return nil, err
	}
	defer m.unlock()
	type ready struct {
		key string
		due time.Time
	}
	var rs []ready
	for key, e := range m.db.queues[app] {
		switch {
		case e.token == "" && !now.Before(e.due):
			rs = append(rs, ready{key, e.due})
		case e.token != "" && !now.Before(e.leaseEnd):
			rs = append(rs, ready{key, e.leaseEnd})
		}
	}
	slices.SortFunc(rs, func(a, b ready) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	out := []store.Claim{}
	for _, r := range rs[:min(len(rs), max(maxKeys, 0))] {
		e := m.db.queues[app][r.key]
		m.db.tokenSeq++
		e.token = strconv.FormatInt(m.db.tokenSeq, 10)
		e.leaseEnd = now.Add(lease)
		out = append(out, store.Claim{App: app, Key: r.key, Token: e.token, Attempt: e.attempt, LeaseEnd: e.leaseEnd})
	}
	return out, nil
}

// held returns the queue entry c holds, or ErrLeaseLost.
func (db *memDB) held(c store.Claim) (*memQueueEntry, error) {
	e := db.queues[c.App][c.Key]
	if e == nil || e.token == "" || e.token != c.Token {
		return nil, fmt.Errorf("memstore: key %q of %q: %w", c.Key, c.App, store.ErrLeaseLost)
	}
	return e, nil
}

func (m *memStore) Ack(ctx context.Context, c store.Claim) error {
	if err := m.lock(ctx, "ack"); err != nil {
		return err
	}
	defer m.unlock()
	e, err := m.db.held(c)
	if err != nil {
		return fmt.Errorf("memstore: ack: %w", err)
	}
	if !e.marked {
		delete(m.db.queues[c.App], c.Key)
		return nil
	}
	*e = memQueueEntry{due: e.markDue}
	return nil
}

func (m *memStore) Requeue(ctx context.Context, c store.Claim, due time.Time) error {
	return m.putBack(ctx, "requeue", c, due, 1)
}

func (m *memStore) Release(ctx context.Context, c store.Claim, due time.Time) error {
	return m.putBack(ctx, "release", c, due, 0)
}

func (m *memStore) putBack(ctx context.Context, what string, c store.Claim, due time.Time, step int) error {
	if err := m.lock(ctx, what); err != nil {
		return err
	}
	defer m.unlock()
	e, err := m.db.held(c)
	if err != nil {
		return fmt.Errorf("memstore: %s: %w", what, err)
	}
	if e.marked && e.markDue.Before(due) {
		due = e.markDue
	}
	*e = memQueueEntry{due: due, attempt: e.attempt + step}
	return nil
}

func (m *memStore) QueueLen(ctx context.Context, app string) (int, error) {
	if err := m.lock(ctx, "queue length"); err != nil {
		return 0, err
	}
	defer m.unlock()
	return len(m.db.queues[app]), nil
}

func (m *memStore) PutIdempotency(ctx context.Context, key string, rec []byte, now time.Time, ttl time.Duration) ([]byte, bool, error) {
	if err := m.lock(ctx, "put idempotency"); err != nil {
		return nil, false, err
	}
	defer m.unlock()
	if cur, ok := m.db.idem[key]; ok && now.Before(cur.expires) {
		return slices.Clone(cur.rec), false, nil
	}
	m.db.idem[key] = memIdem{rec: slices.Clone(rec), expires: now.Add(ttl)}
	return slices.Clone(rec), true, nil
}

func (m *memStore) GetIdempotency(ctx context.Context, key string, now time.Time) ([]byte, error) {
	if err := m.lock(ctx, "get idempotency"); err != nil {
		return nil, err
	}
	defer m.unlock()
	cur, ok := m.db.idem[key]
	if !ok || !now.Before(cur.expires) {
		return nil, fmt.Errorf("memstore: idempotency record %q: %w", key, store.ErrNotFound)
	}
	return slices.Clone(cur.rec), nil
}

func (m *memStore) AcquireLock(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (store.Lock, error) {
	if err := m.lock(ctx, "acquire lock"); err != nil {
		return store.Lock{}, err
	}
	defer m.unlock()
	cur, held := m.db.locks[name]
	if held && now.Before(cur.Expires) {
		if cur.Owner != owner {
			return store.Lock{}, fmt.Errorf("memstore: lock %q held by %q: %w", name, cur.Owner, store.ErrLocked)
		}
		cur.Expires = now.Add(ttl)
		m.db.locks[name] = cur
		return cur, nil
	}
	m.db.lockSeq[name]++
	l := store.Lock{Name: name, Owner: owner, Token: m.db.lockSeq[name], Expires: now.Add(ttl)}
	m.db.locks[name] = l
	return l, nil
}

func (m *memStore) ReleaseLock(ctx context.Context, l store.Lock) error {
	if err := m.lock(ctx, "release lock"); err != nil {
		return err
	}
	defer m.unlock()
	cur, held := m.db.locks[l.Name]
	switch {
	case !held:
		return fmt.Errorf("memstore: release lock %q: %w", l.Name, store.ErrNotFound)
	case cur.Owner != l.Owner || cur.Token != l.Token:
		return fmt.Errorf("memstore: release lock %q: held by %q with token %d: %w", l.Name, cur.Owner, cur.Token, store.ErrLocked)
	}
	delete(m.db.locks, l.Name)
	return nil
}

func (m *memStore) TakeToken(ctx context.Context, name string, rate float64, burst int, now time.Time) (time.Duration, error) {
	if err := m.lock(ctx, "take token"); err != nil {
		return 0, err
	}
	defer m.unlock()
	if rate <= 0 || burst <= 0 {
		return 0, fmt.Errorf("memstore: take token %q: rate %v and burst %d must be positive", name, rate, burst)
	}
	b := m.db.buckets[name]
	if b == nil {
		b = &memBucket{tokens: float64(burst), last: now}
		m.db.buckets[name] = b
	}
	if now.After(b.last) {
		b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, nil
	}
	return time.Duration(math.Ceil((1 - b.tokens) / rate * float64(time.Second))), nil
}

func (m *memStore) PutState(ctx context.Context, key string, value []byte) error {
	if err := m.lock(ctx, "put state"); err != nil {
		return err
	}
	defer m.unlock()
	m.db.state[key] = append([]byte{}, value...)
	return nil
}

func (m *memStore) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := m.lock(ctx, "get state"); err != nil {
		return nil, err
	}
	defer m.unlock()
	v, ok := m.db.state[key]
	if !ok {
		return nil, fmt.Errorf("memstore: state %q: %w", key, store.ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// reportBefore orders report records by time, then append sequence.
func reportBefore(a, b *memReport) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// reportID encodes a record's position; it sorts like the records.
func reportID(r *memReport) string {
	return fmt.Sprintf("%020d-%012d", r.at.UnixNano(), r.seq)
}

func (m *memStore) AppendReport(ctx context.Context, entries ...store.ReportEntry) error {
	if err := m.lock(ctx, "append report"); err != nil {
		return err
	}
	defer m.unlock()
	recs, err := m.db.encodeReports(entries)
	if err != nil {
		return err
	}
	m.db.insertReports(recs)
	return nil
}

// encodeReports builds the records of entries with the sequence numbers
// that follow the log's; it changes nothing (see insertReports).
func (db *memDB) encodeReports(entries []store.ReportEntry) ([]*memReport, error) {
	recs := make([]*memReport, 0, len(entries))
	seq := db.reportSeq
	for _, e := range entries {
		seq++
		r := &memReport{at: e.Time, seq: seq, user: strings.ToLower(e.User), app: strings.ToLower(e.App), op: e.Operation, status: e.Status}
		e.ID = reportID(r)
		raw, err := json.Marshal(&e)
		if err != nil {
			return nil, fmt.Errorf("memstore: append report: encode: %w", err)
		}
		r.raw = raw
		recs = append(recs, r)
	}
	return recs, nil
}

// insertReports adds records from encodeReports to the log.
func (db *memDB) insertReports(recs []*memReport) {
	for _, r := range recs {
		db.reportSeq = max(db.reportSeq, r.seq)
		i, _ := slices.BinarySearchFunc(db.reports, r, func(a, b *memReport) int {
			if reportBefore(a, b) {
				return -1
			}
			return 1
		})
		db.reports = slices.Insert(db.reports, i, r)
	}
}

func (m *memStore) QueryReports(ctx context.Context, q store.ReportQuery) ([]store.ReportEntry, string, error) {
	if err := m.lock(ctx, "query reports"); err != nil {
		return nil, "", err
	}
	defer m.unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	user, app := strings.ToLower(q.User), strings.ToLower(q.App)
	var out []store.ReportEntry
	next := ""
	for i := len(m.db.reports) - 1; i >= 0; i-- {
		r := m.db.reports[i]
		if q.Cursor != "" && reportID(r) >= q.Cursor {
			continue
		}
		switch {
		case user != "" && r.user != user,
			app != "" && r.app != app,
			q.Operation != "" && r.op != q.Operation,
			q.Status != "" && r.status != q.Status,
			!q.From.IsZero() && r.at.Before(q.From),
			!q.To.IsZero() && !r.at.Before(q.To):
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		var e store.ReportEntry
		if err := json.Unmarshal(r.raw, &e); err != nil {
			return nil, "", fmt.Errorf("memstore: query reports: decode: %w", err)
		}
		out = append(out, e)
	}
	return out, next, nil
}

func (m *memStore) PruneReports(ctx context.Context, before time.Time, maxCount int) (int, error) {
	if err := m.lock(ctx, "prune reports"); err != nil {
		return 0, err
	}
	defer m.unlock()
	n := len(m.db.reports)
	if !before.IsZero() {
		m.db.reports = slices.DeleteFunc(m.db.reports, func(r *memReport) bool { return r.at.Before(before) })
	}
	if maxCount > 0 && len(m.db.reports) > maxCount {
		m.db.reports = slices.Delete(m.db.reports, 0, len(m.db.reports)-maxCount)
	}
	return n - len(m.db.reports), nil
}
