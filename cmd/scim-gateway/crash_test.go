package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

// The crash proof: the real binary, killed with SIGKILL while it is
// reconciling thousands of changes against a simulator that loses
// responses after committing (and, in the second case, fails 30% of
// calls), restarted, converges to each desired account exactly once.

// buildGateway builds the scim-gateway binary into dir, without -race
// even when the tests run with it: a race-built gateway pushes and
// reconciles about five times slower, and the in-process tests (the
// scale-out one among them) already run serve under the race detector.
func buildGateway(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the gateway")
	}
	bin := filepath.Join(dir, "scim-gateway")
	start := time.Now()
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// gatewayProc is the gateway running as a child process.
type gatewayProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	base string
}

// startProc runs `scim-gateway serve --config cfgPath` and waits until it
// listens (its "gateway listening" log line names the address).
func startProc(t *testing.T, bin, cfgPath string) *gatewayProc {
	t.Helper()
	p := &gatewayProc{t: t, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	deadline := time.Now().Add(30 * time.Second)
	for p.base == "" {
		select {
		case <-p.done:
			t.Fatalf("gateway exited at start (%v):\n%s", p.cmd.ProcessState, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not listen within 30s:\n%s", p.logs.String())
		}
		sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "gateway listening" && line.Addr != "" {
				p.base = "http://" + line.Addr
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *gatewayProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term asks for a graceful stop (SIGTERM) and waits for a clean exit.
func (p *gatewayProc) term() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("gateway exited %d after SIGTERM:\n%s", code, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("gateway did not stop within 30s of SIGTERM:\n%s", p.logs.String())
	}
	if strings.Contains(p.logs.String(), e2eAppToken) || strings.Contains(p.logs.String(), e2eIdPToken) {
		p.t.Error("a token appears in the gateway's log")
	}
}

// fastForward hands every queued key of the app back due now, as if
// outbound.DefaultLease (5 minutes) and every backoff had run out, and
// returns how many keys were queued and how many of those were held:
// not claimable 30 seconds from now (under a dead process's lease, or a
// backoff longer than that). The gateway takes the lease from
// outbound's default, with no configuration key, so a key the killed
// process held stays invisible for five minutes: this stands in for
// that wait. It must only run while no gateway is running.
func fastForward(t *testing.T, st store.Store) (queued, held int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	queued, err := st.QueueLen(ctx, fanoutApp)
	if err != nil {
		t.Fatal(err)
	}
	// Claimable soon (leases of 1ms, never acked: they lapse at once).
	soon, err := st.Claim(ctx, fanoutApp, now.Add(30*time.Second), time.Millisecond, queued+1)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.Claim(ctx, fanoutApp, now.Add(outbound.DefaultLease+outbound.DefaultBackoffMax+time.Minute), time.Minute, queued+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != queued {
		t.Fatalf("fast-forward claimed %d of %d queued keys", len(all), queued)
	}
	for _, c := range all {
		if err := st.Requeue(ctx, c, now); err != nil {
			t.Fatal(err)
		}
	}
	return queued, queued - len(soon)
}

type crashCase struct {
	users    int
	drop     float64 // share of committed writes whose response is lost
	failRate float64 // share of calls failing with 429 or 5xx
}

// TestCrashRecovery builds the gateway and runs it as a child process on
// Redis: 2,000 users into the policy group, 500 updates before the kill
// and 600 after the restart, each case in about 15 to 30 s on 2 cores.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the gateway: not in -short")
	}
	bin := buildGateway(t, t.TempDir())
	t.Run("dropped responses", func(t *testing.T) {
		runCrash(t, bin, crashCase{users: 2000, drop: 0.1})
	})
	t.Run("dropped responses and 30% failures", func(t *testing.T) {
		runCrash(t, bin, crashCase{users: 2000, drop: 0.1, failRate: 0.3})
	})
}

func runCrash(t *testing.T, bin string, cc crashCase) {
	redisURL, prefix := redisTarget(t)
	sim := atlassiantest.NewServer(atlassiantest.Options{Token: e2eAppToken, RecordCalls: true, Seed: 7})
	defer sim.Close()
	// A little latency keeps calls in flight, so the kill interrupts some.
	sim.Latency(2 * time.Millisecond)
	faults := func() {
		sim.Latency(2 * time.Millisecond)
		sim.DropAfterCommitRate(cc.drop)
		if cc.failRate > 0 {
			sim.FailRate(cc.failRate, []int{429, 500, 502, 503})
		}
	}
	faults()
	// The first process is held to 400 calls/s so that the kill lands
	// mid-way; the restarted ones may go faster.
	slow := writeFile(t, "slow.yaml", fanoutConfig(t, redisURL, prefix, sim.URL(),
		fanoutKnobs{rate: 400, burst: 40, concurrency: 8, timeout: 10 * time.Second}))
	fast := writeFile(t, "fast.yaml", fanoutConfig(t, redisURL, prefix, sim.URL(),
		fanoutKnobs{rate: 2000, burst: 200, concurrency: 8, timeout: 10 * time.Second}))
	st := openStore(t, redisURL, prefix)
	start := time.Now()

	// Process A takes every push: users, then the policy group's
	// members in pages of 100, then a title change for a quarter of them.
	a := startProc(t, bin, slow)
	ca := newIdP(a.base)
	grp, err := ca.expect("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineering"}, 201)
	if err != nil {
		t.Fatal(err)
	}
	gid := grp["id"].(string)
	ids := make([]string, cc.users)
	name := func(i int) string { return fmt.Sprintf("crash%04d@example.com", i) }
	if err := parallel(cc.users, 8, func(i int) error {
		u, err := ca.expect("POST", "/Users", staff(name(i), fmt.Sprintf("Given%04d", i), "Engineer"), 201)
		if err == nil {
			ids[i] = u["id"].(string)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < cc.users; lo += 100 {
		var members []any
		for _, id := range ids[lo:min(lo+100, cc.users)] {
			members = append(members, map[string]any{"value": id})
		}
		code, body, err := ca.send("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": members}))
		if err != nil || (code != 200 && code != 204) {
			t.Fatalf("add members %d..: %d %v %v", lo, code, body, err)
		}
	}
	if err := parallel(cc.users, 8, func(i int) error {
		if i%4 != 0 {
			return nil
		}
		_, err := ca.expect("PATCH", "/Users/"+ids[i], patchOp(map[string]any{"op": "replace", "path": "title",
			"value": fmt.Sprintf("T1-%04d", i)}), 200)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pushed := time.Since(start)

	// SIGKILL mid-way, with calls in flight.
	waitFor(t, 60*time.Second, "a third of the accounts created", func() (bool, string) {
		n := sim.CallCount("POST", atlassiantest.KindUsers)
		return n >= cc.users/3, fmt.Sprintf("%d POST /Users", n)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = sim.WaitInFlight(ctx, 1)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	inflight := sim.InFlight()
	a.kill()
	posted := sim.CallCount("POST", atlassiantest.KindUsers)
	queued, held := fastForward(t, st)
	t.Logf("pushed %d users, %d memberships, %d updates in %v; SIGKILL after %d POST /Users with %d calls in flight: %d keys queued, %d held (leased by the dead process, or backing off)",
		cc.users, cc.users, cc.users/4, pushed.Round(time.Millisecond), posted, inflight, queued, held)
	if queued == 0 {
		t.Fatal("the queue was empty at the kill: nothing was in flight; lower the rate or raise the users")
	}

	// Process B takes the rest: a rename for another quarter, and an
	// Okta deactivation for one in twenty.
	b := startProc(t, bin, fast)
	cb := newIdP(b.base)
	if err := parallel(cc.users, 8, func(i int) error {
		var op map[string]any
		switch {
		case i%4 == 1:
			op = map[string]any{"op": "replace", "path": "name.givenName", "value": fmt.Sprintf("G2-%04d", i)}
		case i%20 == 3:
			op = map[string]any{"op": "replace", "value": map[string]any{"active": false}}
		default:
			return nil
		}
		_, err := cb.expect("PATCH", "/Users/"+ids[i], patchOp(op), 200)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if cc.failRate > 0 {
		// With every second reconcile failing, keys back off for up to
		// minutes (1s doubling, full jitter, no configuration key). Once
		// most accounts exist the failures stop; B is stopped gracefully
		// mid-call and the backoffs are fast-forwarded for process C.
		waitFor(t, 60*time.Second, "80% of the accounts under failures", func() (bool, string) {
			n, _ := sim.Counts()
			return n >= cc.users*8/10, fmt.Sprintf("%d accounts", n)
		})
		sim.ClearFaults()
		sim.Latency(2 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = sim.WaitInFlight(ctx, 1) // the queue may be waiting on backoffs only
		cancel()
		b.term()
		queued, held := fastForward(t, st)
		t.Logf("SIGTERM of the second process after %d accounts: %d keys queued, %d held (leased by the stopped process, or backing off)",
			len(sim.Users()), queued, held)
		b = startProc(t, bin, fast)
	}
	waitFor(t, 60*time.Second, "the queue to drain after the restart", func() (bool, string) { return drained(st) })
	b.term()

	want := make([]account, cc.users)
	for i := range cc.users {
		w := account{hubID: ids[i], userName: name(i), givenName: fmt.Sprintf("Given%04d", i), title: "Engineer", active: true}
		if i%4 == 0 {
			w.title = fmt.Sprintf("T1-%04d", i)
		}
		if i%4 == 1 {
			w.givenName = fmt.Sprintf("G2-%04d", i)
		}
		if i%20 == 3 {
			w.active, w.mayBeAbsent = false, true
		}
		want[i] = w
	}
	assertConverged(t, sim, st, want)

	calls := sim.CallLog()
	created, conflicts, dropped, failed := 0, 0, 0, 0
	for _, c := range calls {
		switch {
		case c.Method == "POST" && c.Kind == atlassiantest.KindUsers && c.Status == 201:
			created++
		case c.Status == 409:
			conflicts++
		}
		switch c.Fault {
		case atlassiantest.FaultDropped:
			dropped++
		case atlassiantest.FaultInjected:
			failed++
		}
	}
	if n := len(sim.Users()); created != n {
		t.Errorf("%d accounts created (201 to POST /Users) for %d accounts: a create was repeated", created, n)
	}
	if conflicts != 0 {
		t.Errorf("%d calls answered 409: a create was attempted twice", conflicts)
	}
	t.Logf("%d calls (%d responses dropped after commit, %d failed on purpose), %d accounts, in %v",
		len(calls), dropped, failed, len(sim.Users()), time.Since(start).Round(time.Millisecond))
}
