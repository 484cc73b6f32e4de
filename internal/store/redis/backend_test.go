package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
	"github.com/scimgate/scim-gateway/internal/store/storetest"
)

// factory opens stores with Open (the standalone production path) on a
// fresh key prefix of the test server, and removes the prefix's keys when
// the test ends.
func factory(tb testing.TB) func() (store.Store, error) {
	url := redistest.URL(tb)
	prefix := redistest.Prefix(tb)
	tb.Cleanup(func() { dropPrefix(tb, newClient(tb, url), prefix) })
	return func() (store.Store, error) {
		return Open(context.Background(), url, Options{Prefix: prefix})
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, factory) }

func BenchmarkStore(b *testing.B) { storetest.Bench(b, factory) }

// TestConformanceCluster runs the suite through a Cluster client on a
// one-node cluster, and checks that no request path sends KEYS or a SCAN.
func TestConformanceCluster(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	log := &commandLog{}
	storetest.Run(t, func(tb testing.TB) func() (store.Store, error) {
		prefix := redistest.Prefix(tb)
		admin := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
		tb.Cleanup(func() { dropPrefix(tb, admin, prefix); _ = admin.Close() })
		return func() (store.Store, error) {
			c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
			c.AddHook(log)
			tb.Cleanup(func() { _ = c.Close() })
			return New(c, Options{Prefix: prefix})
		}
	})
	for _, name := range []string{"keys", "scan", "sscan", "hscan", "zscan"} {
		if n := log.count(name); n > 0 {
			t.Errorf("the store sent %s %d times; request paths must not scan", strings.ToUpper(name), n)
		}
	}
	if log.count("evalsha") == 0 {
		t.Error("no EVALSHA seen: the command log did not record the suite's traffic")
	}
}

// BenchmarkBaselinePipelinedWrite is the reference for the store's write
// benchmarks: one pipelined round trip of HSET and ZADD of a ~1 KB JSON body,
// the least a write with an ordered listing can cost.
func BenchmarkBaselinePipelinedWrite(b *testing.B) {
	c := newClient(b, redistest.URL(b))
	prefix := redistest.Prefix(b)
	b.Cleanup(func() { dropPrefix(b, c, prefix) })
	k := newKeyspace(prefix)
	body, err := json.Marshal(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "User0000001@Example.com",
		"name":     map[string]string{"givenName": "Baseline", "familyName": "Benchmark", "formatted": "Baseline Benchmark"},
		"emails":   []map[string]any{{"value": "u0000001@example.com", "type": "work", "primary": true}},
		"active":   true,
		"title":    strings.Repeat("x", 640),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	i := 0
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		id := fmt.Sprintf("user-%07d", i)
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, k.resource("User", id), "d", body)
			p.ZAdd(ctx, k.ids("User"), goredis.Z{Member: id})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// newClient returns a plain client for url, closed when tb ends.
func newClient(tb testing.TB, url string) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatalf("parse %s: %v", url, err)
	}
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// dropPrefix deletes every key of a prefix. Test-only: it scans.
func dropPrefix(tb testing.TB, c goredis.UniversalClient, prefix string) {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	scan := func(ctx context.Context, node *goredis.Client) error {
		iter := node.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return iter.Err()
	}
	var err error
	switch c := c.(type) {
	case *goredis.ClusterClient:
		var mu sync.Mutex
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, node)
		})
	case *goredis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		tb.Errorf("drop prefix %s: scan: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("drop prefix %s: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}

// commandLog is a go-redis hook counting the commands a client sends.
type commandLog struct {
	mu    sync.Mutex
	names map[string]int
}

func (l *commandLog) record(cmds ...goredis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil {
		l.names = map[string]int{}
	}
	for _, c := range cmds {
		l.names[strings.ToLower(c.Name())]++
	}
}

func (l *commandLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names[name]
}

func (l *commandLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.names {
		n += c
	}
	return n
}

func (l *commandLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = nil
}

func (l *commandLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (l *commandLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		l.record(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		l.record(cmds...)
		return next(ctx, cmds)
	}
}
