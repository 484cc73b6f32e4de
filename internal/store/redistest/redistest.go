package redistest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// URL returns the URL of a Redis server for tb: $REDIS_URL when set;
// otherwise a private redis-server started on a free 127.0.0.1 port, shared
// by every test of the binary; otherwise it skips tb, or fails it when the
// environment variable CI is set.
func URL(tb testing.TB) string {
	tb.Helper()
	return resolve(tb, "REDIS_URL", host{getenv: os.Getenv, lookPath: exec.LookPath, start: standalone.get})
}

// ClusterAddrs returns the addresses of a Redis Cluster for tb:
// $REDIS_CLUSTER_ADDRS (comma-separated host:port seeds) when set;
// otherwise a private single-node cluster holding all 16384 slots, started
// like URL's server; otherwise it skips tb, or fails it when CI is set. A
// single node is enough to run a Cluster client and check that its
// commands keep to one slot: the node still rejects a command, or a script
// declared with flags, whose keys span slots. (Redis 7 lets a script
// without flags reach undeclared keys of other local slots.)
func ClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	h := host{getenv: os.Getenv, lookPath: exec.LookPath, start: cluster.get}
	addrs := resolve(tb, "REDIS_CLUSTER_ADDRS", h)
	if addrs == "" {
		return nil
	}
	return strings.Split(addrs, ",")
}

// host is what resolve needs from the machine, replaceable in tests.
type host struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	start    func(bin string) (string, error)
}

// resolve returns $env when set, else what h.start returns for the
// redis-server found on PATH, else skips or fails tb.
func resolve(tb testing.TB, env string, h host) string {
	tb.Helper()
	if u := h.getenv(env); u != "" {
		return u
	}
	bin, err := h.lookPath("redis-server")
	if err != nil {
		msg := "redistest: no Redis server: set " + env + " or put redis-server on PATH"
		if h.getenv("CI") != "" {
			tb.Fatal(msg + " (CI is set, so this is a failure, not a skip)")
			return ""
		}
		tb.Skip(msg)
		return ""
	}
	u, err := h.start(bin)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
		return ""
	}
	return u
}

// server is a private redis-server shared by the test binary, started on
// first use.
type server struct {
	cluster bool
	once    sync.Once
	addr    string // the URL, or the host:port of a cluster node
	err     error
}

var (
	standalone = &server{}
	cluster    = &server{cluster: true}

	// watchdogs are the write ends of the server wrappers' stdins. They
	// are never written or closed: when the process exits, however it
	// exits, the kernel closes them and each wrapper kills its server.
	watchdogs   []io.WriteCloser
	watchdogsMu sync.Mutex
)

func (s *server) get(bin string) (string, error) {
	s.once.Do(func() {
		addr, err := start(bin, s.cluster)
		if err == nil && !s.cluster {
			addr = "redis://" + addr + "/0"
		}
		s.addr, s.err = addr, err
	})
	return s.addr, s.err
}

// wrapper runs redis-server ($1) with the remaining arguments and removes
// its directory ($2) when it stops, after copying the server's log to
// stderr if it failed. A background reader waits on the
// wrapper's stdin (fd 3 here, since an asynchronous list's stdin is
// /dev/null) and kills the server at end of file, which comes when the
// test binary exits.
const wrapper = `
bin=$1; dir=$2; shift 2
exec 3<&0
"$bin" "$@" &
pid=$!
{ read -r _ <&3; kill "$pid" 2>/dev/null; } &
wait "$pid"
status=$?
[ "$status" -eq 0 ] || cat "$dir/redis.log" >&2
rm -rf "$dir"
exit $status
`

// start runs a private server and returns its host:port, trying a few
// free ports in case one is taken between choosing it and the server
// binding it. A cluster server is given every slot and is ready when the
// cluster state is ok.
func start(bin string, cluster bool) (string, error) {
	var errs []error
	for range 3 {
		addr, err := startOnce(bin, cluster)
		if err == nil {
			return addr, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("start %s: %w", bin, errors.Join(errs...))
}

func startOnce(bin string, cluster bool) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", err
	}
	args := []string{"-c", wrapper, "redistest", bin, dir,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	}
	cmd := exec.Command("sh", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // read only after Wait returned
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ready := func() bool { return ping(addr) == nil }
	if cluster {
		ready = func() bool { return clusterReady(addr) }
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ready() {
		select {
		case err := <-exited:
			return "", fmt.Errorf("redis-server on port %d exited (%v): %s", port, err, strings.TrimSpace(stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = stdin.Close() // the wrapper kills the server and removes dir
			return "", fmt.Errorf("redis-server on port %d was not ready within 10s", port)
		}
	}
	watchdogsMu.Lock()
	watchdogs = append(watchdogs, stdin)
	watchdogsMu.Unlock()
	return addr, nil
}

// clusterReady gives a fresh cluster node every slot and reports whether
// its cluster state is ok.
func clusterReady(addr string) bool {
	info, err := command(addr, "CLUSTER INFO")
	if err != nil {
		return false
	}
	if strings.Contains(info, "cluster_state:ok") {
		return true
	}
	if strings.Contains(info, "cluster_slots_assigned:0\r") {
		_, _ = command(addr, "CLUSTER ADDSLOTSRANGE 0 16383")
	}
	return false
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping checks that addr answers PING.
func ping(addr string) error {
	reply, err := command(addr, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}

// command sends one inline command and returns its simple or bulk string
// reply.
func command(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("%s: malformed reply %q", cmd, line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("%s: reply %q", cmd, line)
	}
}

var prefixSeq atomic.Uint64

// processTag tells apart test binaries sharing one $REDIS_URL server.
var processTag = func() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.Itoa(os.Getpid())
	}
	return hex.EncodeToString(b[:])
}()

// Prefix returns a key prefix unique to this call, made of the test's name
// (cut short, with characters outside [A-Za-z0-9_.-] replaced), a tag of
// the test binary and a counter. It holds no '{', '}', ':' or glob
// characters, so it can be a hash tag and a SCAN pattern.
func Prefix(tb testing.TB) string {
	tb.Helper()
	name := []byte(tb.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			name[i] = '_'
		}
	}
	return fmt.Sprintf("t.%s.%s.%d", name, processTag, prefixSeq.Add(1))
}
