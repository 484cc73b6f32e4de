package redis

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
)

// t0 is the tests' clock origin, far from the wall clock.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

// testStore is a store on a fresh prefix, built with New on a client whose
// commands are counted, and a plain client for inspecting keys.
type testStore struct {
	*Store
	raw    *goredis.Client
	log    *commandLog
	prefix string
}

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	raw := newClient(t, url)
	t.Cleanup(func() { dropPrefix(t, raw, prefix) })
	c := newClient(t, url)
	log := &commandLog{}
	c.AddHook(log)
	s, err := New(c, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{Store: s, raw: raw, log: log, prefix: prefix}
}

// keys returns the sorted names of every key of the store. Test-only scan.
func (ts *testStore) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	iter := ts.raw.Scan(t.Context(), 0, "*"+ts.prefix+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// snapshot returns every key of the store with its serialized value.
func (ts *testStore) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range ts.keys(t) {
		out[k] = ts.content(t, k)
	}
	return out
}

// content renders a key's type, value and TTL canonically. (DUMP would
// not do: a hash's serialized field order changes when a read performs a
// step of an incremental rehash.)
func (ts *testStore) content(t *testing.T, k string) string {
	t.Helper()
	ctx := t.Context()
	typ, err := ts.raw.Type(ctx, k).Result()
	if err != nil {
		t.Fatalf("type %s: %v", k, err)
	}
	var v any
	switch typ {
	case "string":
		v, err = ts.raw.Get(ctx, k).Result()
	case "hash":
		v, err = ts.raw.HGetAll(ctx, k).Result() // a map: printed with sorted keys
	case "set":
		var m []string
		m, err = ts.raw.SMembers(ctx, k).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = ts.raw.ZRangeWithScores(ctx, k, 0, -1).Result()
	default:
		t.Fatalf("key %s has type %s", k, typ)
	}
	if err != nil {
		t.Fatalf("read %s: %v", k, err)
	}
	ttl, err := ts.raw.PTTL(ctx, k).Result()
	if err != nil {
		t.Fatalf("pttl %s: %v", k, err)
	}
	return fmt.Sprintf("%s %v ttl=%v", typ, v, ttl > 0)
}

func user(id, userName string, emails ...string) *store.Resource {
	keys := []store.IndexKey{{Name: store.IndexUserName, Value: userName}}
	for _, e := range emails {
		keys = append(keys, store.IndexKey{Name: store.IndexEmail, Value: e})
	}
	return &store.Resource{Kind: store.KindUser, ID: id, Created: t0, Modified: t0, Origin: "idp",
		Indexes: keys, Data: []byte(fmt.Sprintf(`{"userName":%q}`, userName))}
}

func group(id, name string) *store.Resource {
	return &store.Resource{Kind: store.KindGroup, ID: id, Created: t0, Modified: t0,
		Indexes: []store.IndexKey{{Name: store.IndexDisplayName, Value: name}}, Data: []byte(`{}`)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, s *testStore, w store.Write) *store.Resource {
	t.Helper()
	r, err := s.Apply(t.Context(), w)
	must(t, err)
	return r
}

func TestNewValidatesOptions(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s, err := New(c, Options{})
	must(t, err)
	if s.k.base != "{scimgw}:" {
		t.Errorf("default key base = %q, want {scimgw}:", s.k.base)
	}
	for _, p := range []string{"a{b", "a}b"} {
		if _, err := New(c, Options{Prefix: p}); err == nil {
			t.Errorf("New accepted prefix %q, which would break the hash tag", p)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New accepted a nil client")
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	if _, err := Open(ctx, "http://localhost", Options{}); err == nil {
		t.Error("Open accepted an http URL")
	}
	// Nothing listens on port 1: Open pings and fails.
	if _, err := Open(ctx, "redis://127.0.0.1:1/0?max_retries=-1", Options{}); err == nil {
		t.Error("Open succeeded without a server")
	}
	s, err := Open(ctx, redistest.URL(t), Options{Prefix: redistest.Prefix(t)})
	must(t, err)
	if !s.c.(*goredis.Client).Options().ContextTimeoutEnabled {
		t.Error("Open did not enable context timeouts")
	}
	must(t, s.Close())
	if err := s.Ping(ctx); err == nil {
		t.Error("ping after Close succeeded: Close did not close the client Open made")
	}
}

func TestCloseLeavesCallersClient(t *testing.T) {
	c := newClient(t, redistest.URL(t))
	s, err := New(c, Options{Prefix: redistest.Prefix(t)})
	must(t, err)
	must(t, s.Close())
	must(t, c.Ping(t.Context()).Err())
}

func TestScriptErrorsMapToSentinels(t *testing.T) {
	cases := []struct {
		reply string
		want  []error
	}{
		{"CONFLICT userName", []error{store.ErrConflict}},
		{"VERSION 3", []error{store.ErrVersionMismatch}},
		{"NOTFOUND group", []error{store.ErrNotFound}},
		{"LEASELOST token does not hold the key", []error{store.ErrLeaseLost}},
		{"LOCKED held by a", []error{store.ErrLocked}},
		{"GONE lock is not held", []error{store.ErrLocked, store.ErrNotFound}},
	}
	for _, c := range cases {
		err := scriptError(redisError(c.reply))
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%q maps to %v, want errors.Is %v", c.reply, err, w)
			}
		}
		_, detail, _ := strings.Cut(c.reply, " ")
		if !strings.Contains(err.Error(), detail) {
			t.Errorf("%q maps to %q, which drops the detail", c.reply, err)
		}
	}
	other := redisError("ERR something else")
	if got := scriptError(other); got != other {
		t.Errorf("an unknown error reply became %v", got)
	}
	plain := errors.New("i/o timeout")
	if got := scriptError(plain); got != plain {
		t.Errorf("a non-Redis error became %v", got)
	}
}

// redisError is an error reply as go-redis returns it.
type redisError string

func (e redisError) Error() string { return string(e) }
func (e redisError) RedisError()   {}

// TestScriptErrorRepliesKeepTheirCode checks that the server hands a
// script's error reply to the client with its code first, as scriptError
// expects.
func TestScriptErrorRepliesKeepTheirCode(t *testing.T) {
	s := newTestStore(t)
	err := goredis.NewScript(`return redis.error_reply('CONFLICT userName')`).Run(t.Context(), s.raw, []string{s.k.state("x")}).Err()
	var rerr goredis.Error
	if !errors.As(err, &rerr) || rerr.Error() != "CONFLICT userName" {
		t.Fatalf("script error reply = %v, want CONFLICT userName", err)
	}
}

var scanCall = regexp.MustCompile(`(?i)redis\.p?call\(\s*'(keys|scan|sscan|hscan|zscan)'`)

func TestScriptsNeverScan(t *testing.T) {
	if len(scripts) < 15 {
		t.Fatalf("only %d scripts registered", len(scripts))
	}
	for _, sc := range scripts {
		if m := scanCall.FindString(sc.src); m != "" {
			t.Errorf("a script calls %s:\n%s", m, sc.src)
		}
	}
}

// TestOneRoundTripPerOperation: once the scripts are cached, each logical
// operation, reads included, is one command.
func TestOneRoundTripPerOperation(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, sc := range scripts {
		must(t, sc.script.Load(ctx, s.raw).Err())
	}
	must(t, s.Ping(ctx)) // the connection's handshake is not the operation's
	mark := store.Mark{App: "jira", Key: "User/u1", Due: t0}
	var claim store.Claim
	var lock store.Lock
	ops := []struct {
		name string
		fn   func() error
	}{
		{"create group with members and marks", func() error {
			_, err := s.Apply(ctx, store.Write{Put: group("g1", "Admins"), Group: "g1", AddMembers: []string{"u1", "u2"},
				Marks: []store.Mark{mark, {App: "bitbucket", Key: "Group/g1", Due: t0}}})
			return err
		}},
		{"create user", func() error { _, err := s.Apply(ctx, store.Write{Put: user("u1", "alice")}); return err }},
		{"replace user", func() error {
			_, err := s.Apply(ctx, store.Write{Put: user("u1", "alice", "a@x.org"), ExpectVersion: 1})
			return err
		}},
		{"add member", func() error {
			_, err := s.Apply(ctx, store.Write{Group: "g1", AddMembers: []string{"u3"}, Marks: []store.Mark{mark}})
			return err
		}},
		{"get", func() error { _, err := s.Get(ctx, store.KindUser, "u1"); return err }},
		{"lookup", func() error { _, err := s.Lookup(ctx, store.KindUser, store.IndexEmail, "A@X.org"); return err }},
		{"lookup all", func() error {
			_, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "A@X.org", 0)
			return err
		}},
		{"list", func() error { _, err := s.List(ctx, store.KindUser, 0, 10); return err }},
		{"delete user", func() error {
			_, err := s.Apply(ctx, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u1"}})
			return err
		}},
		{"enqueue", func() error { return s.Enqueue(ctx, mark, store.Mark{App: "bitbucket", Key: "x", Due: t0}) }},
		{"claim", func() error {
			cs, err := s.Claim(ctx, "jira", t0, time.Minute, 10)
			if err == nil && len(cs) > 0 {
				claim = cs[0]
			}
			return err
		}},
		{"requeue", func() error { return s.Requeue(ctx, claim, t0) }},
		{"claim again", func() error {
			cs, err := s.Claim(ctx, "jira", t0, time.Minute, 10)
			if err == nil && len(cs) > 0 {
				claim = cs[0]
			}
			return err
		}},
		{"ack", func() error { return s.Ack(ctx, claim) }},
		{"append reports", func() error {
			return s.AppendReport(ctx, store.ReportEntry{Time: t0, User: "alice", App: "jira", Operation: "create", Status: "success"},
				store.ReportEntry{Time: t0, User: "bob", Operation: "create", Status: "success"})
		}},
		{"query reports", func() error {
			_, _, err := s.QueryReports(ctx, store.ReportQuery{User: "Alice"})
			return err
		}},
		{"prune reports", func() error { _, err := s.PruneReports(ctx, t0.Add(time.Second), 0); return err }},
		{"put link", func() error {
			return s.PutLink(ctx, store.Link{App: "jira", Kind: store.KindUser, HubID: "u1", RemoteID: "r1"})
		}},
		{"link by remote", func() error { _, err := s.LinkByRemote(ctx, "jira", store.KindUser, "r1"); return err }},
		{"links", func() error { _, err := s.Links(ctx, "jira", store.KindUser, "", 10); return err }},
		{"delete link", func() error { return s.DeleteLink(ctx, "jira", store.KindUser, "u1") }},
		{"acquire lock", func() error {
			var err error
			lock, err = s.AcquireLock(ctx, "import", "me", t0, time.Minute)
			return err
		}},
		{"release lock", func() error { return s.ReleaseLock(ctx, lock) }},
		{"take token", func() error { _, err := s.TakeToken(ctx, "jira", 10, 100, t0); return err }},
		{"put idempotency", func() error {
			_, _, err := s.PutIdempotency(ctx, "k", []byte("r"), t0, time.Minute)
			return err
		}},
	}
	for _, op := range ops {
		s.log.reset()
		if err := op.fn(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if n := s.log.total(); n != 1 {
			t.Errorf("%s sent %d commands, want 1", op.name, n)
		}
	}
}

// TestKeysShareOneHashTag: every key a store writes starts with its hash
// tag, so a store lives in one Cluster slot.
func TestKeysShareOneHashTag(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	apply(t, s, store.Write{Put: group("g1", "Admins"), Group: "g1", AddMembers: []string{"u1"},
		Marks: []store.Mark{{App: "jira", Key: "Group/g1", Due: t0}}})
	apply(t, s, store.Write{Put: user("u1", "alice", "a@x.org")})
	must(t, s.PutLink(ctx, store.Link{App: "jira", Kind: store.KindUser, HubID: "u1", RemoteID: "r1"}))
	_, err := s.Claim(ctx, "jira", t0, time.Minute, 1)
	must(t, err)
	_, _, err = s.PutIdempotency(ctx, "k", []byte("r"), t0, time.Minute)
	must(t, err)
	_, err = s.AcquireLock(ctx, "import", "me", t0, time.Minute)
	must(t, err)
	_, err = s.TakeToken(ctx, "jira", 1, 1, t0)
	must(t, err)
	must(t, s.PutState(ctx, "st", []byte("v")))
	must(t, s.AppendReport(ctx, store.ReportEntry{Time: t0, User: "alice", App: "jira"}))

	keys := s.keys(t)
	if len(keys) < 20 {
		t.Fatalf("only %d keys: %q", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{"+s.prefix+"}:") {
			t.Errorf("key %q is outside the store's hash tag", k)
		}
	}
}

// TestKeyComponentsAreEscaped: an app name holding ':' cannot make two
// link tables share a key.
func TestKeyComponentsAreEscaped(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	// Unescaped, both would be ld:x:Group:y.
	must(t, s.PutLink(ctx, store.Link{App: "x", Kind: "Group:y", HubID: "h", RemoteID: "r1"}))
	must(t, s.PutLink(ctx, store.Link{App: "x:Group", Kind: "y", HubID: "h", RemoteID: "r2"}))
	for _, c := range []struct {
		app  string
		kind store.Kind
		want string
	}{{"x", "Group:y", "r1"}, {"x:Group", "y", "r2"}} {
		l, err := s.GetLink(ctx, c.app, c.kind, "h")
		must(t, err)
		if l.RemoteID != c.want {
			t.Errorf("link %s/%s = %q, want %q", c.app, c.kind, l.RemoteID, c.want)
		}
	}
	if got := esc("a%3A:b"); got != "a%253A%3Ab" {
		t.Errorf("esc = %q", got)
	}
}

// TestFailedApplyChangesNothing: every failed precondition leaves every
// key byte for byte as it was, even when the write also carried membership
// changes and marks.
func TestFailedApplyChangesNothing(t *testing.T) {
	s := newTestStore(t)
	apply(t, s, store.Write{Put: group("g1", "Admins"), Group: "g1", AddMembers: []string{"u1"}})
	apply(t, s, store.Write{Put: user("u1", "alice", "a@x.org")})
	apply(t, s, store.Write{Put: user("u2", "bob", "b@x.org")})
	side := func(w store.Write) store.Write {
		w.Group, w.AddMembers, w.RemoveMembers = "g1", []string{"u9"}, []string{"u1"}
		w.Marks = []store.Mark{{App: "jira", Key: "User/u2", Due: t0}}
		return w
	}
	cases := []struct {
		name string
		w    store.Write
		want error
	}{
		{"create existing id", side(store.Write{Put: user("u2", "carol")}), store.ErrConflict},
		// The userName conflicts; the new email and the one shared with u1
		// must not reach their value sets.
		{"index held by another", side(store.Write{Put: user("u2", "ALICE", "b2@x.org", "A@X.ORG"), ExpectVersion: 1}), store.ErrConflict},
		{"stale version", side(store.Write{Put: user("u2", "bob2"), ExpectVersion: 7}), store.ErrVersionMismatch},
		{"replace missing", side(store.Write{Put: user("u3", "dan"), ExpectVersion: 1}), store.ErrNotFound},
		{"delete missing", side(store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u3"}}), store.ErrNotFound},
		{"delete stale", side(store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}, DeleteVersion: 2}), store.ErrVersionMismatch},
		{"missing group", store.Write{Put: user("u4", "eve"), Group: "g2", AddMembers: []string{"u4"}}, store.ErrNotFound},
	}
	for _, c := range cases {
		before := s.snapshot(t)
		_, err := s.Apply(t.Context(), c.w)
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		if after := s.snapshot(t); !mapsEqual(before, after) {
			t.Errorf("%s changed keys:\nbefore %q\nafter  %q", c.name, keysOf(before), keysOf(after))
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s: %s\nwas %s\nnow %s", c.name, k, v, after[k])
				}
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestApplyKeepsDataBytes: data comes back byte for byte, not re-encoded.
func TestApplyKeepsDataBytes(t *testing.T) {
	s := newTestStore(t)
	u := user("u1", "alice")
	u.Data = []byte("{\n  \"userName\": \"alice\",\n  \"html\": \"<b>&</b>\"\n}")
	apply(t, s, store.Write{Put: u})
	got, err := s.Get(t.Context(), store.KindUser, "u1")
	must(t, err)
	if string(got.Data) != string(u.Data) {
		t.Errorf("data = %s, want %s byte for byte", got.Data, u.Data)
	}
	l := store.Link{App: "jira", Kind: store.KindUser, HubID: "u1", RemoteID: "r", State: []byte("{ \"a\": \"<x>\" }")}
	must(t, s.PutLink(t.Context(), l))
	gl, err := s.GetLink(t.Context(), "jira", store.KindUser, "u1")
	must(t, err)
	if string(gl.State) != string(l.State) {
		t.Errorf("link state = %s, want %s byte for byte", gl.State, l.State)
	}
}

// TestLeaseNeverEndsEarly: queue times are milliseconds, and a lease end
// that falls within a millisecond is rounded up, not down.
func TestLeaseNeverEndsEarly(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	now := t0.Add(500 * time.Microsecond)
	cs, err := s.Claim(ctx, "a", now, time.Second, 1)
	must(t, err)
	if len(cs) != 1 || !cs[0].LeaseEnd.Equal(now.Add(time.Second)) {
		t.Fatalf("claim = %+v, want one key leased until %v", cs, now.Add(time.Second))
	}
	// 0.1 ms before the lease ends, in the same millisecond.
	cs, err = s.Claim(ctx, "a", now.Add(time.Second-100*time.Microsecond), time.Second, 1)
	must(t, err)
	if len(cs) != 0 {
		t.Fatalf("claimed %+v before the lease ended", cs)
	}
	cs, err = s.Claim(ctx, "a", t0.Add(time.Second+time.Millisecond), time.Second, 1)
	must(t, err)
	if len(cs) != 1 {
		t.Fatal("key not claimable after its lease ended")
	}
}

// TestTakeTokenLaggingClock: a replica whose clock lags refills nothing
// and does not move the bucket's clock back.
func TestTakeTokenLaggingClock(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	take := func(at time.Duration) time.Duration {
		t.Helper()
		w, err := s.TakeToken(ctx, "b", 1, 5, t0.Add(at))
		must(t, err)
		return w
	}
	for range 5 {
		if w := take(10 * time.Second); w != 0 {
			t.Fatalf("full bucket: wait %v", w)
		}
	}
	if w := take(0); w != time.Second {
		t.Fatalf("lagging take: wait %v, want 1s", w)
	}
	if w := take(10 * time.Second); w != time.Second {
		t.Fatalf("take after a lagging one: wait %v, want 1s (no time passed for the bucket)", w)
	}
	if w := take(11 * time.Second); w != 0 {
		t.Fatalf("take a second later: wait %v, want 0", w)
	}
}

func TestTakeTokenRejectsBadParameters(t *testing.T) {
	s := newTestStore(t)
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		if _, err := s.TakeToken(t.Context(), "b", c.rate, c.burst, t0); err == nil {
			t.Errorf("rate %g burst %d accepted", c.rate, c.burst)
		}
	}
}

// TestRedisExpiryCollectsGarbage: records, locks and buckets carry a Redis
// expiry past their logical life, and only as garbage collection.
func TestRedisExpiryCollectsGarbage(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	_, _, err := s.PutIdempotency(ctx, "k", []byte("r"), t0, time.Minute)
	must(t, err)
	_, err = s.AcquireLock(ctx, "l", "me", t0, 2*time.Minute)
	must(t, err)
	_, err = s.TakeToken(ctx, "b", 2, 10, t0) // full again after 5s
	must(t, err)
	for key, life := range map[string]time.Duration{
		s.k.idempotency("k"): time.Minute,
		s.k.lock("l"):        2 * time.Minute,
		s.k.bucket("b"):      5 * time.Second,
	} {
		ttl, err := s.raw.PTTL(ctx, key).Result()
		must(t, err)
		if ttl <= life || ttl > life+gcMargin {
			t.Errorf("%s: expiry %v, want in (%v, %v]", key, ttl, life, life+gcMargin)
		}
	}
	// The fencing counter outlives the lock: it has no expiry.
	if ttl, err := s.raw.PTTL(ctx, s.k.lockSeq("l")).Result(); err != nil || ttl != -1 {
		t.Errorf("fencing counter expiry = %v, %v; want none", ttl, err)
	}
}

func TestReportInputErrors(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	if err := s.AppendReport(ctx, store.ReportEntry{Time: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("an entry before 1970 was accepted")
	}
	if err := s.AppendReport(ctx, store.ReportEntry{}); err == nil {
		t.Error("an entry without a time was accepted")
	}
	for _, c := range []string{"garbage", "r1.!!", encodeCursor("123-4")} {
		if _, _, err := s.QueryReports(ctx, store.ReportQuery{Cursor: c}); err == nil {
			t.Errorf("cursor %q accepted", c)
		}
	}
}

// TestReportQueryResumesPastBudget: a query whose matches are sparse walks
// the log over several script calls, each within its budget.
func TestReportQueryResumesPastBudget(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	const n = 3*queryBudget + 10
	es := make([]store.ReportEntry, n)
	for i := range es {
		es[i] = store.ReportEntry{Time: t0.Add(time.Duration(i) * time.Millisecond), User: "u", Operation: "update", Status: "success"}
	}
	es[0].Operation, es[5].Operation = "rare", "rare"
	must(t, s.AppendReport(ctx, es...))
	s.log.reset()
	got, next, err := s.QueryReports(ctx, store.ReportQuery{Operation: "rare", Limit: 1})
	must(t, err)
	if len(got) != 1 || !got[0].Time.Equal(es[5].Time) || next == "" {
		t.Fatalf("first page = %+v, cursor %q; want the newer rare entry and a cursor", got, next)
	}
	if calls := s.log.count("evalsha"); calls < 3 {
		t.Errorf("walked %d entries in %d script calls; want calls of at most %d", n, calls, queryBudget)
	}
	got, next, err = s.QueryReports(ctx, store.ReportQuery{Operation: "rare", Limit: 1, Cursor: next})
	must(t, err)
	if len(got) != 1 || !got[0].Time.Equal(es[0].Time) || next != "" {
		t.Fatalf("second page = %+v, cursor %q; want the older rare entry, no cursor", got, next)
	}
}

// TestPruneReportsInChunks: pruning more than a chunk keeps the log and
// its indexes in step.
func TestPruneReportsInChunks(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	const n = 2*pruneChunk + 100
	es := make([]store.ReportEntry, n)
	for i := range es {
		es[i] = store.ReportEntry{Time: t0.Add(time.Duration(i) * time.Second), User: []string{"u1", "u2"}[i%2],
			App: "jira", Operation: "update", Status: "success"}
	}
	must(t, s.AppendReport(ctx, es...))
	removed, err := s.PruneReports(ctx, t0.Add(100*time.Second), 50)
	must(t, err)
	if removed != n-50 {
		t.Fatalf("removed %d, want %d", removed, n-50)
	}
	for key, want := range map[string]int64{
		s.k.reportLog(): 50, s.k.reportRecords(): 50,
		s.k.reportByUser("u1"): 25, s.k.reportByUser("u2"): 25, s.k.reportByApp("jira"): 50,
	} {
		var got int64
		if key == s.k.reportRecords() {
			got, err = s.raw.HLen(ctx, key).Result()
		} else {
			got, err = s.raw.ZCard(ctx, key).Result()
		}
		must(t, err)
		if got != want {
			t.Errorf("%s holds %d, want %d", key, got, want)
		}
	}
}

// TestWriteWithoutTarget: a write of only memberships or marks touches no
// resource hash, whatever other keys already exist.
func TestWriteWithoutTarget(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	apply(t, s, store.Write{Put: group("g1", "Admins")})
	must(t, s.Enqueue(ctx, store.Mark{App: "a", Key: "k", Due: t0}))
	_, err := s.Claim(ctx, "a", t0, time.Minute, 1) // creates the token counter
	must(t, err)
	apply(t, s, store.Write{Group: "g1", AddMembers: []string{"u1"}})
	apply(t, s, store.Write{Marks: []store.Mark{{App: "b", Key: "k", Due: t0}}})
	if ok, err := s.IsMember(ctx, "g1", "u1"); err != nil || !ok {
		t.Errorf("is member = %v, %v", ok, err)
	}
}

// TestValueSetLayout: a non-unique index keeps one sorted set per folded
// value, holding the ids scored 0; the unique index hash of that name is
// never written; a set that empties is gone.
func TestValueSetLayout(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	apply(t, s, store.Write{Put: user("u2", "bob", "Shared@X.org")})
	apply(t, s, store.Write{Put: user("u1", "alice", "shared@x.org", "a@x.org")})
	set := s.k.valueSet("User", store.IndexEmail, "shared@x.org")
	members := func() []goredis.Z {
		t.Helper()
		zs, err := s.raw.ZRangeWithScores(ctx, set, 0, -1).Result()
		must(t, err)
		return zs
	}
	if got := members(); len(got) != 2 || got[0] != (goredis.Z{Member: "u1"}) || got[1] != (goredis.Z{Member: "u2"}) {
		t.Fatalf("%s = %v, want u1 and u2 scored 0", set, got)
	}
	if n, err := s.raw.Exists(ctx, s.k.index("User", store.IndexEmail)).Result(); err != nil || n != 0 {
		t.Errorf("unique hash of %s exists (%d, %v); emails belong in value sets", store.IndexEmail, n, err)
	}
	ix, err := s.raw.HGet(ctx, s.k.resource("User", "u1"), "ix").Result()
	must(t, err)
	if want := `["emails.value","shared@x.org","emails.value:shared@x.org"]`; !strings.Contains(ix, want) {
		t.Errorf("ix of u1 = %s, want it to hold %s", ix, want)
	}

	apply(t, s, store.Write{Put: user("u1", "alice", "a@x.org"), ExpectVersion: 1})
	if got := members(); len(got) != 1 || got[0].Member != "u2" {
		t.Fatalf("after u1 dropped the email, %s = %v, want u2", set, got)
	}
	apply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	if n, err := s.raw.Exists(ctx, set).Result(); err != nil || n != 0 {
		t.Errorf("%s still exists after its last holder left (%d, %v)", set, n, err)
	}
}

// TestEntriesOfTheOldLayoutMove: a resource written when emails were a
// unique index has its email in the index hash, and its ix field says so.
// Its next replace moves the email to the value set, and a delete removes
// it from where it is.
func TestEntriesOfTheOldLayoutMove(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	// Write u1 and u2 as the old layout had them.
	for _, u := range []struct{ id, name, email string }{{"u1", "alice", "a@x.org"}, {"u2", "bob", "b@x.org"}} {
		apply(t, s, store.Write{Put: user(u.id, u.name, u.email)})
		res := s.k.resource("User", u.id)
		must(t, s.raw.ZRem(ctx, s.k.valueSet("User", store.IndexEmail, u.email), u.id).Err())
		must(t, s.raw.HSet(ctx, s.k.index("User", store.IndexEmail), u.email, u.id).Err())
		ix := fmt.Sprintf(`[["userName",%q],["emails.value",%q]]`, u.name, u.email)
		must(t, s.raw.HSet(ctx, res, "ix", ix).Err())
	}
	hash := s.k.index("User", store.IndexEmail)

	apply(t, s, store.Write{Put: user("u1", "alice", "A@x.org"), ExpectVersion: 1})
	if held, err := s.raw.HExists(ctx, hash, "a@x.org").Result(); err != nil || held {
		t.Errorf("the old hash entry of u1 survived its replace (%v, %v)", held, err)
	}
	rs, err := s.LookupAll(ctx, store.KindUser, store.IndexEmail, "a@x.org", 0)
	must(t, err)
	if len(rs) != 1 || rs[0].ID != "u1" {
		t.Errorf("lookup all after the replace = %v, want u1", rs)
	}

	apply(t, s, store.Write{Delete: &store.Ref{Kind: store.KindUser, ID: "u2"}})
	if n, err := s.raw.Exists(ctx, hash).Result(); err != nil || n != 0 {
		t.Errorf("the old email hash still exists after its last entry's owner was deleted (%d, %v)", n, err)
	}
}

// TestTimeKey checks report time keys are 19 digits of Unix nanoseconds,
// ordered as the times are, with times before 1970 as 1970.
func TestTimeKey(t *testing.T) {
	times := []time.Time{time.Unix(-5, 0), time.Unix(0, 0), time.Unix(0, 1), time.Unix(1795804351, 123456789), maxReportTime}
	want := []string{"0000000000000000000", "0000000000000000000", "0000000000000000001", "1795804351123456789", fmt.Sprintf("%019d", maxReportTime.UnixNano())}
	for i, tm := range times {
		if got := timeKey(tm); got != want[i] {
			t.Errorf("timeKey(%s) = %s, want %s", tm, got, want[i])
		}
	}
}
