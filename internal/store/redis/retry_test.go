package redis

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
)

// lossyProxy relays TCP between clients and a Redis server. When armed, it
// lets the next EVALSHA through to the server, then closes the client's
// connection instead of relaying the reply: the script ran, and the client
// saw the connection drop, as when a network path fails mid-command.
type lossyProxy struct {
	ln      net.Listener
	target  string
	armed   atomic.Bool
	dropped atomic.Int32
	wg      sync.WaitGroup
}

func startLossyProxy(t *testing.T, target string) *lossyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *lossyProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.relay(c) })
	}
}

func (p *lossyProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var sawEval atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) {
					sawEval.Store(true)
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = server.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if sawEval.Swap(false) && p.armed.CompareAndSwap(true, false) {
				p.dropped.Add(1)
				_ = client.Close()
				break
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = client.Close()
	<-done
}

// TestApplyRetriedAfterLostReply: go-redis sends a command again when the
// connection drops before the reply. A put that committed the first time
// must not then fail as a conflict with itself, nor be applied twice.
func TestApplyRetriedAfterLostReply(t *testing.T) {
	url := redistest.URL(t)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startLossyProxy(t, opts.Addr)
	opts.Addr = proxy.ln.Addr().String()
	opts.MaxRetries = 3
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	prefix := redistest.Prefix(t)
	t.Cleanup(func() { dropPrefix(t, newClient(t, url), prefix) })
	s, err := New(c, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Apply(ctx, store.Write{Put: user("u0", "warm")}); err != nil { // loads the script: later calls are EVALSHA
		t.Fatal(err)
	}

	report := []store.ReportEntry{{Time: t0, User: "alice", Operation: "create", Status: "success"}}
	proxy.armed.Store(true)
	r, err := s.Apply(ctx, store.Write{Put: user("u1", "alice"), Reports: report})
	if err != nil {
		t.Fatalf("create retried after its reply was lost: %v", err)
	}
	if r.Version != 1 {
		t.Errorf("create: version %d, want 1", r.Version)
	}

	proxy.armed.Store(true)
	r, err = s.Apply(ctx, store.Write{Put: user("u1", "alice2"), ExpectVersion: 1})
	if err != nil {
		t.Fatalf("update retried after its reply was lost: %v", err)
	}
	if r.Version != 2 {
		t.Errorf("update: version %d, want 2", r.Version)
	}

	// A retried put that reads its resource's groups answers with them.
	if _, err := s.Apply(ctx, store.Write{Put: group("g1", "Eng"), Group: "g1", AddMembers: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	proxy.armed.Store(true)
	r, err = s.Apply(ctx, store.Write{Put: user("u1", "alice3"), ExpectVersion: 2, ReadGroups: true})
	if err != nil {
		t.Fatalf("update with ReadGroups retried after its reply was lost: %v", err)
	}
	if r.Version != 3 || !slices.Equal(r.MemberOf, []string{"g1"}) {
		t.Errorf("update with ReadGroups: version %d, MemberOf %q; want 3, [g1]", r.Version, r.MemberOf)
	}
	if n := proxy.dropped.Load(); n != 3 {
		t.Fatalf("the proxy dropped %d replies, want 3: the test did not exercise a retry", n)
	}

	got, err := s.Get(ctx, store.KindUser, "u1")
	if err != nil || got.Version != 3 {
		t.Fatalf("stored: %+v, %v; want version 3", got, err)
	}
	entries, _, err := s.QueryReports(ctx, store.ReportQuery{User: "alice", Limit: 10})
	if err != nil || len(entries) != 1 {
		t.Errorf("report entries %+v, %v; want the create's one entry", entries, err)
	}
	// Another writer's stale write still fails.
	if _, err := s.Apply(ctx, store.Write{Put: user("u1", "mallory"), ExpectVersion: 2}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("a stale update: %v, want ErrVersionMismatch", err)
	}
	if _, err := s.Apply(ctx, store.Write{Put: user("u1", "mallory")}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a create of an existing id: %v, want ErrConflict", err)
	}
}
