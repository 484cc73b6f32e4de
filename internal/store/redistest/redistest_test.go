package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// recorder is a testing.TB that records Skip and Fatal instead of
// stopping the test, so resolve's decisions can be checked.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)                 { r.failed = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func fakeHost(env map[string]string, onPath bool, start func(string) (string, error)) host {
	return host{
		getenv: func(k string) string { return env[k] },
		lookPath: func(name string) (string, error) {
			if !onPath {
				return "", exec.ErrNotFound
			}
			return "/opt/bin/" + name, nil
		},
		start: start,
	}
}

func noStart(t *testing.T) func(string) (string, error) {
	return func(string) (string, error) {
		t.Fatal("start must not be called")
		return "", nil
	}
}

func TestResolvePrefersREDIS_URL(t *testing.T) {
	r := &recorder{TB: t}
	got := resolve(r, "REDIS_URL", fakeHost(map[string]string{"REDIS_URL": "redis://db:6379/2", "CI": "1"}, true, noStart(t)))
	if got != "redis://db:6379/2" || r.skipped != "" || r.failed != "" {
		t.Fatalf("resolve = %q (skipped %q, failed %q), want the REDIS_URL", got, r.skipped, r.failed)
	}
}

func TestResolveStartsServerFromPath(t *testing.T) {
	r := &recorder{TB: t}
	var started string
	got := resolve(r, "REDIS_URL", fakeHost(nil, true, func(bin string) (string, error) {
		started = bin
		return "redis://127.0.0.1:1234/0", nil
	}))
	if got != "redis://127.0.0.1:1234/0" || started != "/opt/bin/redis-server" {
		t.Fatalf("resolve = %q after starting %q", got, started)
	}
}

func TestResolveSkipsWithoutServer(t *testing.T) {
	r := &recorder{TB: t}
	resolve(r, "REDIS_URL", fakeHost(nil, false, noStart(t)))
	if r.skipped == "" || r.failed != "" {
		t.Fatalf("skipped %q, failed %q: want a skip", r.skipped, r.failed)
	}
	if !strings.Contains(r.skipped, "REDIS_URL") || !strings.Contains(r.skipped, "redis-server") {
		t.Errorf("skip message %q should say how to provide a server", r.skipped)
	}
}

func TestResolveFailsWithoutServerOnCI(t *testing.T) {
	r := &recorder{TB: t}
	resolve(r, "REDIS_URL", fakeHost(map[string]string{"CI": "true"}, false, noStart(t)))
	if r.failed == "" || r.skipped != "" {
		t.Fatalf("skipped %q, failed %q: want a failure on CI", r.skipped, r.failed)
	}
}

func TestResolveFailsWhenServerDoesNotStart(t *testing.T) {
	r := &recorder{TB: t}
	resolve(r, "REDIS_URL", fakeHost(nil, true, func(string) (string, error) { return "", errors.New("port taken") }))
	if !strings.Contains(r.failed, "port taken") || r.skipped != "" {
		t.Fatalf("skipped %q, failed %q: want a failure naming the cause", r.skipped, r.failed)
	}
}

func TestURLStartsOnePrivateServer(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	if _, err := exec.LookPath("redis-server"); err != nil && os.Getenv("CI") == "" {
		t.Skip("redis-server not on PATH")
	}
	u := URL(t)
	if again := URL(t); again != u {
		t.Fatalf("second URL = %q, want the shared server %q", again, u)
	}
	if !strings.HasPrefix(u, "redis://127.0.0.1:") {
		t.Fatalf("URL = %q, want a loopback server", u)
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	cfg, err := c.ConfigGet(t.Context(), "*").Result()
	if err != nil {
		t.Fatalf("config get: %v", err)
	}
	if cfg["save"] != "" || cfg["appendonly"] != "no" {
		t.Errorf("save = %q, appendonly = %q: want no persistence", cfg["save"], cfg["appendonly"])
	}
}

// TestServerDiesWithTestBinary starts a server from a child test binary
// that then exits without any cleanup, and checks the server goes too.
func TestServerDiesWithTestBinary(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "1" {
		u, err := start("redis-server", false)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(u)
		os.Exit(0) // no cleanup: the server must still go away
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestServerDiesWithTestBinary$")
	cmd.Env = append(os.Environ(), "REDISTEST_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	addr, _, _ := strings.Cut(string(out), "\n")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("child printed %q, want host:port", out)
	}
	// Waiting on a real process is unavoidable here; it takes milliseconds.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for ping(addr) == nil {
		select {
		case <-ctx.Done():
			t.Fatalf("server at %s still answers after its test binary exited", addr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestPrefixIsUniqueAndSafe(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := Prefix(t)
		if seen[p] {
			t.Fatalf("Prefix returned %q twice", p)
		}
		seen[p] = true
		if strings.ContainsAny(p, "{}:*?[]\\ ") {
			t.Fatalf("Prefix %q holds a character that breaks hash tags or SCAN patterns", p)
		}
	}
	t.Run("odd name {x}: *?", func(t *testing.T) {
		p := Prefix(t)
		if strings.ContainsAny(p, "{}:*?[]\\ ") {
			t.Fatalf("Prefix %q holds a character that breaks hash tags or SCAN patterns", p)
		}
		if !strings.Contains(p, "odd_name") {
			t.Errorf("Prefix %q should carry the test name", p)
		}
	})
}

func TestClusterAddrsStartsOneNodeCluster(t *testing.T) {
	t.Setenv("REDIS_CLUSTER_ADDRS", "")
	if _, err := exec.LookPath("redis-server"); err != nil && os.Getenv("CI") == "" {
		t.Skip("redis-server not on PATH")
	}
	addrs := ClusterAddrs(t)
	if again := ClusterAddrs(t); !slices.Equal(again, addrs) {
		t.Fatalf("second ClusterAddrs = %q, want the shared node %q", again, addrs)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "{x}:a", "1", 0).Err(); err != nil {
		t.Fatalf("set through the cluster client: %v", err)
	}
	// The node itself enforces Cluster's rules: a script (with flags, so
	// Redis 7 checks it) that reaches a key of another slot than its
	// declared key fails.
	err := c.Eval(ctx, "#!lua\nredis.call('SET', KEYS[1], 1); return redis.call('SET', '{y}:b', 1)", []string{"{x}:a"}).Err()
	if err == nil {
		t.Fatal("a script over two slots succeeded; the node is not in cluster mode")
	}
	if err := c.Eval(ctx, "return redis.call('SET', KEYS[1], 1)", []string{"{x}:b"}).Err(); err != nil {
		t.Fatalf("a one-slot script failed: %v", err)
	}
}

func TestResolveUsesClusterEnv(t *testing.T) {
	t.Setenv("REDIS_CLUSTER_ADDRS", "10.0.0.1:7000,10.0.0.2:7000")
	if got := ClusterAddrs(t); !slices.Equal(got, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) {
		t.Fatalf("ClusterAddrs = %q, want the two seeds of REDIS_CLUSTER_ADDRS", got)
	}
}

func TestURLUsesEnv(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://db.internal:6380/3")
	if got := URL(t); got != "redis://db.internal:6380/3" {
		t.Fatalf("URL = %q, want $REDIS_URL", got)
	}
}
