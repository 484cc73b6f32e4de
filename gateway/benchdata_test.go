package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// This file holds what the gateway benchmarks (bench_test.go) send and
// seed: IdP-shaped request bodies, store populations written exactly as the
// gateway would write them, and the load driver.

// benchTime is the created/modified time of seeded resources.
var benchTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// benchUserName is the userName (and work email) of user i of a population
// tagged tag: "<tag>.user0000042@example.com".
func benchUserName(tag string, i int) string {
	return string(appendBenchUserName(nil, tag, i))
}

func appendBenchUserName(b []byte, tag string, i int) []byte {
	b = append(b, tag...)
	b = append(b, ".user"...)
	b = appendPadded(b, i)
	return append(b, "@example.com"...)
}

// appendPadded appends i as at least 7 decimal digits.
func appendPadded(b []byte, i int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(i), 10)
	for n := len(s); n < 7; n++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// benchUserBody is what Okta POSTs to /Users when user i of a population is
// assigned to the app (reference/idp-clients.md §1.4: password and
// "groups": [] included), with the profile attributes a typical app
// mapping adds (title, enterprise employeeNumber and department): about
// 600 bytes.
// userName, email and externalId are unique per (tag, i).
func benchUserBody(tag string, i int) []byte {
	b := make([]byte, 0, 640)
	b = append(b, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"`...)
	b = appendBenchUserName(b, tag, i)
	b = append(b, `","name":{"givenName":"Avery","familyName":"Lindqvist`...)
	b = appendPadded(b, i)
	b = append(b, `"},"emails":[{"primary":true,"value":"`...)
	b = appendBenchUserName(b, tag, i)
	b = append(b, `","type":"work"}],"displayName":"Avery Lindqvist`...)
	b = appendPadded(b, i)
	b = append(b, `","locale":"en-US","externalId":"00u`...)
	b = append(b, tag...)
	b = appendPadded(b, i)
	b = append(b, `h7","groups":[],"password":"1mz050nq","active":true,"title":"Senior Software Engineer",`+
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"`...)
	b = appendPadded(b, i)
	b = append(b, `","department":"Platform Engineering"}}`...)
	return b
}

// benchPatchBody is an Entra ID attribute update: path-based Replace
// operations with capitalised op names (reference/idp-clients.md), here of
// two attributes whose values change with i, so that every PATCH writes.
func benchPatchBody(i int) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
		`{"op":"Replace","path":"title","value":"Staff Engineer `...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `"},{"op":"Replace","path":"name.familyName","value":"Lindqvist-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, `"}]}`...)
}

// benchAddMemberBody is Okta's group-push membership PATCH adding one
// member (reference/idp-clients.md §1.8).
func benchAddMemberBody(memberID, display string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
		`{"op":"add","path":"members","value":[{"value":"` + memberID + `","display":"` + display + `"}]}]}`)
}

// benchSeed is one seeded resource.
type benchSeed struct {
	ID       string
	UserName string // users only
}

// benchUserWrite is the store write the gateway's POST /Users makes for
// body, with a new id: the same decoding, stored data and index keys.
func benchUserWrite(body []byte) (store.Write, error) {
	doc, err := scim.Decode(bytes.NewReader(body), userKind.rt)
	if err != nil {
		return store.Write{}, fmt.Errorf("decode seed user: %w", err)
	}
	data, err := storedData(doc)
	if err != nil {
		return store.Write{}, err
	}
	r := &store.Resource{Kind: store.KindUser, ID: newID(), Created: benchTime, Modified: benchTime, Origin: "idp",
		Indexes: userKind.indexKeys(doc), Data: data}
	return store.Write{Put: r}, nil
}

// benchSeedUsers stores users 0..n-1 of population tag directly through
// the store, as the gateway would have stored them after POST /Users, from
// workers goroutines.
func benchSeedUsers(ctx context.Context, st Store, workers int, tag string, n int) ([]benchSeed, error) {
	out := make([]benchSeed, n)
	err := benchFanOut(ctx, workers, n, func(ctx context.Context, i int) error {
		w, err := benchUserWrite(benchUserBody(tag, i))
		if err != nil {
			return err
		}
		if _, err := st.Apply(ctx, w); err != nil {
			return fmt.Errorf("seed user %d: %w", i, err)
		}
		out[i] = benchSeed{ID: w.Put.ID, UserName: benchUserName(tag, i)}
		return nil
	})
	return out, err
}

// benchSeedGroup stores a group named name, as POST /Groups would without
// members, then gives it n members in writes of 1000 (AddMembers), from
// workers goroutines. Member ids are fresh ids that name no stored user:
// the store does not check members, and only the size of the member set
// matters to a membership change.
func benchSeedGroup(ctx context.Context, st Store, workers int, name string, n int) (benchSeed, error) {
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[]}`
	doc, err := scim.Decode(bytes.NewReader([]byte(body)), groupKind.rt)
	if err != nil {
		return benchSeed{}, fmt.Errorf("decode seed group: %w", err)
	}
	data, err := storedData(doc)
	if err != nil {
		return benchSeed{}, err
	}
	g := &store.Resource{Kind: store.KindGroup, ID: newID(), Created: benchTime, Modified: benchTime, Origin: "idp",
		Indexes: groupKind.indexKeys(doc), Data: data}
	if _, err := st.Apply(ctx, store.Write{Put: g}); err != nil {
		return benchSeed{}, fmt.Errorf("seed group %q: %w", name, err)
	}
	const chunk = 1000
	err = benchFanOut(ctx, workers, (n+chunk-1)/chunk, func(ctx context.Context, j int) error {
		ids := make([]string, 0, chunk)
		for i := j * chunk; i < min(n, (j+1)*chunk); i++ {
			ids = append(ids, newID())
		}
		if _, err := st.Apply(ctx, store.Write{Group: g.ID, AddMembers: ids}); err != nil {
			return fmt.Errorf("seed members of %q: %w", name, err)
		}
		return nil
	})
	return benchSeed{ID: g.ID}, err
}

// benchSeedWorkers is how many goroutines seed a store of a backend.
// bolt commits concurrent writers in groups, so more writers seed faster.
// A Redis store's client keeps every connection it opened, with its
// buffers, in the live heap: seeding with more goroutines than the
// benchmarks' clients would grow the heap, and so flatter the benchmarks
// after it (the collector runs less often).
func benchSeedWorkers(backend string) int {
	if backend == "bolt" {
		return 32
	}
	return 8
}

// benchFanOut runs fn(i) for i in [0, n) on up to workers goroutines and
// returns the first error; the others stop at their next item.
func benchFanOut(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(1, workers), max(1, n)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx) // nil unless fn failed or the parent ended
}

// benchLoad describes how a benchmark's b.N requests are sent.
type benchLoad struct {
	// clients is how many requests are in flight at once, each client
	// sending its next request when the previous one is answered.
	clients int
	// round, when > 0, splits the b.N requests into rounds of that many;
	// after each round, with every client idle and the timer stopped,
	// between runs (to undo what the round did).
	round   int
	between func(ctx context.Context) error
	// perOp is how many HTTP requests one op makes (compare; 0 means 1):
	// req/s and cpu-µs/op count requests.
	perOp int
	// unit, when set, names compare's ratio metric and makes it op time
	// over base time (a cost ratio, as ListFlat's x-1k); unset, the
	// metric is x-baseline, base time over op time (a throughput ratio).
	unit string
	// cpu, when set, is read around each round, and the CPU time spent
	// in rounds is reported as cpu-µs/op, which depends less than ns/op
	// on what else the machine runs.
	cpu benchCPU
	// storeCPU, when set, is the store server's part of cpu (Redis),
	// reported as store-cpu-µs/op: what the store's scripts cost, apart
	// from the process's own work.
	storeCPU benchCPU
}

// benchCPU reads a CPU-time counter: run reports the time it advanced
// by while requests were in flight as cpu-µs/op.
type benchCPU func(ctx context.Context) (time.Duration, error)

// benchProcessCPU is the CPU time (user and system) this process has used,
// from /proc (Linux; elsewhere it fails and no cpu-µs/op is reported).
func benchProcessCPU(context.Context) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, fmt.Errorf("process cpu: %w", err)
	}
	return parseProcStatCPU(string(raw))
}

// parseProcStatCPU reads utime and stime (proc(5) fields 14 and 15, in
// clock ticks of 1/100 s: USER_HZ, fixed in Linux's ABI) from a
// /proc/<pid>/stat line. The command name, field 2, is in parentheses and
// may hold spaces and parentheses: fields are counted after its last ')'.
func parseProcStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	fields := strings.Fields(stat[end+1:]) // fields[0] is field 3, state
	if end < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("process cpu: malformed stat line %q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process cpu: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// benchRedisCPU is the CPU time (user and system) a Redis server has
// used, from INFO cpu.
func benchRedisCPU(c *redis.Client) benchCPU {
	return func(ctx context.Context) (time.Duration, error) {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return 0, fmt.Errorf("redis cpu: %w", err)
		}
		return parseRedisCPU(info)
	}
}

// parseRedisCPU adds used_cpu_sys and used_cpu_user (seconds) of an INFO
// cpu reply.
func parseRedisCPU(info string) (time.Duration, error) {
	var total time.Duration
	found := 0
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k != "used_cpu_sys" && k != "used_cpu_user" {
			continue
		}
		sec, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("redis cpu: %s: %w", k, err)
		}
		total += time.Duration(sec * float64(time.Second))
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("redis cpu: INFO cpu without used_cpu_sys and used_cpu_user: %q", info)
	}
	return total, nil
}

// sumCPU adds counters.
func sumCPU(meters ...benchCPU) benchCPU {
	return func(ctx context.Context) (time.Duration, error) {
		var total time.Duration
		for _, m := range meters {
			d, err := m(ctx)
			if err != nil {
				return 0, err
			}
			total += d
		}
		return total, nil
	}
}

// run sends b.N requests, op(ctx, client, i) for i in [0, b.N), where
// client in [0, clients) names the sending client (one goroutine, so one
// request at a time per client), and reports req/s. The timer is reset on
// entry: call it after setup. op returns an error instead of failing b.
func (l benchLoad) run(b *testing.B, op func(ctx context.Context, client, i int) error) {
	b.Helper()
	ctx := b.Context()
	round := l.round
	if round <= 0 {
		round = b.N
	}
	cpu, storeCPU := newCPUMeter(l.cpu), newCPUMeter(l.storeCPU)
	b.ReportAllocs()
	b.ResetTimer()
	for start := 0; start < b.N; start += round {
		end := min(b.N, start+round)
		cpu.begin(ctx)
		storeCPU.begin(ctx)
		if err := benchRound(ctx, max(1, l.clients), start, end, op); err != nil {
			b.Fatal(err)
		}
		cpu.end(ctx)
		storeCPU.end(ctx)
		if end < b.N && l.between != nil {
			b.StopTimer()
			if err := l.between(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "req/s")
	}
	cpu.report(b, "cpu-µs/op", float64(b.N))
	storeCPU.report(b, "store-cpu-µs/op", float64(b.N))
}

// cpuMeter sums a CPU counter's growth over the rounds a benchmark
// measures; a counter that fails once is not reported.
type cpuMeter struct {
	read         benchCPU
	ok           bool
	total, start time.Duration
}

func newCPUMeter(read benchCPU) *cpuMeter { return &cpuMeter{read: read, ok: read != nil} }

func (m *cpuMeter) begin(ctx context.Context) {
	if m.ok {
		var err error
		m.start, err = m.read(ctx)
		m.ok = err == nil
	}
}

func (m *cpuMeter) end(ctx context.Context) {
	if m.ok {
		now, err := m.read(ctx)
		m.total += now - m.start
		m.ok = err == nil
	}
}

// report reports the CPU per op of n ops, in µs, as unit.
func (m *cpuMeter) report(b *testing.B, unit string, n float64) {
	if m.ok && n > 0 {
		b.ReportMetric(float64(m.total.Microseconds())/n, unit)
	}
}

// compare runs op and the baseline (base) in interleaved rounds of equal
// size, at least three of each, over the same clients: b.N requests of op
// and b.N of the baseline. ns/op, req/s and cpu-µs/op are op's; the
// x-baseline metric is op's throughput as a fraction of the baseline's
// measured in the same run (baseline time / op time; 1 = as fast, 0.5 =
// half as fast), which drifts far less than either on a shared machine.
// round, when > 0, caps a round's op requests, and between runs after
// every op round but the last with the timer stopped (a workload that
// must be reset). An op error, such as any non-2xx answer, fails b.
func (l benchLoad) compare(b *testing.B, base, op func(ctx context.Context, client, i int) error) {
	b.Helper()
	ctx := b.Context()
	chunk := max(1, (b.N+2)/3)
	if l.round > 0 {
		chunk = min(chunk, l.round)
	}
	var opTime, baseTime time.Duration
	cpu, storeCPU := newCPUMeter(l.cpu), newCPUMeter(l.storeCPU)
	b.ReportAllocs()
	b.ResetTimer()
	for start := 0; start < b.N; start += chunk {
		end := min(b.N, start+chunk)
		b.StopTimer()
		t0 := time.Now()
		if err := benchRound(ctx, max(1, l.clients), start, end, base); err != nil {
			b.Fatalf("baseline: %v", err)
		}
		baseTime += time.Since(t0)
		cpu.begin(ctx)
		storeCPU.begin(ctx)
		b.StartTimer()
		t1 := time.Now()
		if err := benchRound(ctx, max(1, l.clients), start, end, op); err != nil {
			b.Fatal(err)
		}
		opTime += time.Since(t1)
		b.StopTimer()
		cpu.end(ctx)
		storeCPU.end(ctx)
		if end < b.N && l.between != nil {
			if err := l.between(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	perOp := float64(max(1, l.perOp))
	if opTime > 0 {
		b.ReportMetric(perOp*float64(b.N)/opTime.Seconds(), "req/s")
		if l.unit == "" {
			b.ReportMetric(baseTime.Seconds()/opTime.Seconds(), "x-baseline")
		} else {
			b.ReportMetric(opTime.Seconds()/baseTime.Seconds(), l.unit)
		}
	}
	cpu.report(b, "cpu-µs/op", float64(b.N)*perOp)
	storeCPU.report(b, "store-cpu-µs/op", float64(b.N)*perOp)
}

// benchRound runs op for i in [start, end) on clients goroutines and
// returns the first error.
func benchRound(ctx context.Context, clients, start, end int, op func(ctx context.Context, client, i int) error) error {
	var next atomic.Int64
	next.Store(int64(start))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for client := range min(clients, end-start) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= end {
					return
				}
				if err := op(ctx, client, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(end)) // stop the other clients
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// newBenchClient is a keep-alive HTTP client with an idle connection kept
// for every concurrent client of every loopback server a benchmark uses.
func newBenchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}
}

// benchDo sends one request with the benchmark token and checks its
// status; check, when set, is given the response body. The body is always
// read to its end so the connection is reused.
func benchDo(ctx context.Context, c *http.Client, method, url string, body []byte, want int, check func([]byte) error) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", mediaSCIM)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want || check != nil {
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s %s: read response: %w", method, url, err)
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, raw)
		}
		if err := check(raw); err != nil {
			return fmt.Errorf("%s %s: %w: %s", method, url, err, raw)
		}
		return nil
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, url, err)
	}
	return nil
}
