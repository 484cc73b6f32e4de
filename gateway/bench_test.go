package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"

	"github.com/scimgate/scim-gateway/internal/store"
	redisstore "github.com/scimgate/scim-gateway/internal/store/redis"
	"github.com/scimgate/scim-gateway/internal/store/redistest"
)

// benchClients is how many requests BenchmarkGateway keeps in flight.
var benchClients = flag.Int("gateway.bench.clients", 16,
	"concurrent clients of BenchmarkGateway (16 as IdPs push; 1 measures latency)")

// BenchmarkGateway measures the SCIM server over real loopback HTTP, per
// store backend, each workload against the baseline in the same run:
//
//	Baseline                      what any server must do for POST /Users: an echo
//	                              handler decoding the body and making one write
//	                              (Redis: one MULTI pipeline of HSET+HSET+ZADD; bolt:
//	                              one Update with two Puts)
//	PostUser                      POST /Users, Okta's ~600-byte create body, unique
//	                              userName, email and externalId each time
//	GetByUserName/users={1000,100000}
//	                              GET /Users?filter=userName eq "…" (Okta's pre-create
//	                              lookup) against that many stored users
//	PatchUser                     PATCH /Users/{id}, Entra's Replace of two attributes
//	GroupAdd/members={100,50000}  PATCH /Groups/{id} adding one member (Okta group
//	                              push), every client on ONE group of that size
//	ListPage/users={1000,100000}  GET /Users?startIndex=…&count=100 at random pages
//	                              of that population (Okta's import sweep)
//	ListFlat                      the 100,000-user page against the 1,000-user page
//	MixedOkta                     Okta provisioning a new user: the userName lookup
//	                              (no match), POST /Users, the group push adding it
//	                              to one shared group, GET /Users/{id}
//
// Each workload runs in at least three rounds interleaved with as many
// baseline requests (benchLoad.compare); its x-baseline metric is its
// throughput as a fraction of the baseline's (ListFlat: the 100,000-user
// page's time over the 1,000-user page's, as x-1k; ≤ 1.2 is flat). Any
// answer but the expected 2xx fails the benchmark: GroupAdd counts no 503.
//
// Every server provisions one app (benchMarker), so each write also queues
// its fan-out marks, atomically, as in production.
//
// Load: -gateway.bench.clients (default 16) clients send requests
// concurrently over one keep-alive http.Client, as an IdP's provisioning
// engine does; ns/op is wall time per request of the workload.
// cpu-µs/op is the CPU time this process (client, server, store client)
// and, for redis, the Redis server spent per request. allocs/op counts
// the whole process, baseline rounds included.
//
// Stores are seeded directly through the store API with the data the
// gateway itself writes (benchUserWrite), once per backend and test binary:
// -count and the benchmark framework's repeated runs reuse them. Nothing is
// set up unless a benchmark runs, and the 100,000-user population is
// skipped in -short mode.
func BenchmarkGateway(b *testing.B) {
	for _, backend := range []string{"bolt", "redis"} {
		b.Run(backend, func(b *testing.B) {
			env := newBenchEnv(b, backend)
			sizes := func(name string, ns []int, f func(b *testing.B, n int)) {
				b.Run(name, func(b *testing.B) {
					for _, n := range ns {
						b.Run(fmt.Sprintf("%s=%d", map[bool]string{true: "members", false: "users"}[name == "GroupAdd"], n),
							func(b *testing.B) { f(b, n) })
					}
				})
			}
			b.Run("Baseline", env.benchBaseline)
			b.Run("PostUser", env.benchPostUser)
			sizes("GetByUserName", []int{1000, 100000}, env.benchGetByUserName)
			b.Run("PatchUser", env.benchPatchUser)
			sizes("GroupAdd", []int{100, 50000}, env.benchGroupAdd)
			sizes("ListPage", []int{1000, 100000}, env.benchListPage)
			b.Run("ListFlat", env.benchListFlat)
			b.Run("MixedOkta", env.benchMixedOkta)
		})
	}
}

// benchMarker is the fan-out of a gateway provisioning one app, the first
// one DESIGN names: Bitbucket, which gets users (every user change marks
// the user, every membership change its members) and no groups. Each
// write the benchmarks make thus queues its marks in the same atomic store
// write, as in production.
type benchMarker struct{}

const benchApp = "bitbucket"

func (benchMarker) UserChanged(userID string, due time.Time) []store.Mark {
	return []store.Mark{{App: benchApp, Key: store.UserKey(userID), Due: due}}
}

func (benchMarker) MembershipChanged(_, _ string, members []string, due time.Time) []store.Mark {
	marks := make([]store.Mark, len(members))
	for i, m := range members {
		marks[i] = store.Mark{App: benchApp, Key: store.UserKey(m), Due: due}
	}
	return marks
}

func (benchMarker) GroupChanged(string, string, time.Time) []store.Mark { return nil }

// benchPoolSize is how many users PatchUser updates in turn and AddMember
// adds and removes: enough that concurrent clients never touch the same
// user, and at least one AddMember round.
const benchPoolSize = 1000

// benchMemberRound is how many members AddMember adds before it removes
// them again with the timer stopped, so that the group stays at its size.
const benchMemberRound = 500

// benchEnv is one backend's servers and stores. It lives as long as the
// backend's benchmark (once per test binary, whatever -count says); its
// stores are opened empty and seeded on first use.
type benchEnv struct {
	backend string
	client  *http.Client
	clients int
	seq     atomic.Int64 // numbers PostUser's users and PatchUser's values across runs

	write      *testServer // PostUser, PatchUser, AddMember
	writeStore store.Store
	pool       benchOnce[[]benchSeed]        // benchPoolSize users in writeStore
	groups     map[int]*benchOnce[benchSeed] // GroupAdd's one group, by size
	mixedGroup benchOnce[benchSeed]          // MixedOkta's group

	lookups map[int]*benchLookup // GetByUserName, by population size

	cpu      benchCPU // this process, plus the Redis server for the redis backend
	storeCPU benchCPU // the Redis server alone (redis backend only)

	baselineURL string
}

// benchLookup is a server whose store holds a population of users, and
// the userNames GetByUserName asks for.
type benchLookup struct {
	srv   *testServer
	names benchOnce[[]string]
}

// benchOnce computes a value on first use and keeps it, or its error.
type benchOnce[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (o *benchOnce[T]) get(f func() (T, error)) (T, error) {
	o.once.Do(func() { o.v, o.err = f() })
	return o.v, o.err
}

func newBenchEnv(b *testing.B, backend string) *benchEnv {
	b.Helper()
	env := &benchEnv{
		backend: backend,
		client:  newBenchClient(),
		clients: max(1, *benchClients),
		groups:  map[int]*benchOnce[benchSeed]{100: {}, 50000: {}},
		lookups: map[int]*benchLookup{},
	}
	b.Cleanup(env.client.CloseIdleConnections)
	withApp := func(o *Options) { o.Marker = benchMarker{} }
	env.writeStore = benchOpenStore(b, backend)
	env.write = startServer(b, env.writeStore, withApp)
	for _, n := range []int{1000, 100000} {
		env.lookups[n] = &benchLookup{srv: startServer(b, benchOpenStore(b, backend), withApp)}
	}
	env.cpu = benchProcessCPU
	switch backend {
	case "redis":
		u := redistest.URL(b)
		opts, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(opts)
		b.Cleanup(func() { _ = c.Close() })
		env.storeCPU = benchRedisCPU(c)
		env.cpu = sumCPU(benchProcessCPU, env.storeCPU)
		env.baselineURL = startRedisBaseline(b, u, c)
	case "bolt":
		env.baselineURL = startBoltBaseline(b)
	default:
		b.Fatalf("no baseline for backend %q", backend)
	}
	if err := env.warmUp(b.Context()); err != nil {
		b.Fatal(err)
	}
	return env
}

// warmUp opens, before anything is measured, the connections that the
// benchmarks keep open: HTTP keep-alive connections to every server, the
// store clients' pooled connections (GET /readyz pings the store) and the
// baseline's, at the concurrency of the benchmarks. Opened later, in
// whichever benchmark happens to run first, their buffers (go-redis keeps
// 64 KiB per connection, 256 KiB per pipeline connection) would grow the
// live heap between two benchmarks, and with it the collector's target:
// the later benchmark would be collected less often, which matters when a
// request allocates 40-130 KB and the live heap is a few MB.
func (env *benchEnv) warmUp(ctx context.Context) error {
	servers := []*testServer{env.write}
	for _, lk := range env.lookups {
		servers = append(servers, lk.srv)
	}
	return benchRound(ctx, env.clients, 0, 4*env.clients, func(ctx context.Context, _, i int) error {
		for _, ts := range servers {
			if err := benchDo(ctx, env.client, http.MethodGet, ts.Root+"/readyz", nil, http.StatusOK, nil); err != nil {
				return err
			}
		}
		body := benchUserBody("warm", i)
		return benchDo(ctx, env.client, http.MethodPost, env.baselineURL, body, http.StatusCreated, nil)
	})
}

// benchOpenStore opens an empty store of backend for the life of tb. A
// Redis store gets its own prefix; when the server is a shared one
// ($REDIS_URL), its keys are deleted at cleanup, since the populations
// are large.
func benchOpenStore(tb testing.TB, backend string) store.Store {
	tb.Helper()
	if backend != "redis" {
		return backends[backend](tb)
	}
	u, prefix := redistest.URL(tb), redistest.Prefix(tb)
	st, err := redisstore.Open(context.Background(), u, redisstore.Options{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Error(err)
		}
		if os.Getenv("REDIS_URL") != "" {
			if err := benchDropKeys(u, "{"+prefix+"}:*"); err != nil {
				tb.Error(err)
			}
		}
	})
	return st
}

// benchDropKeys deletes the keys matching pattern.
func benchDropKeys(u, pattern string) error {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return fmt.Errorf("drop bench keys: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	it := c.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	for it.Next(ctx) {
		if batch = append(batch, it.Val()); len(batch) == cap(batch) {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("drop bench keys: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("drop bench keys: %w", err)
	}
	if len(batch) > 0 {
		if err := c.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("drop bench keys: %w", err)
		}
	}
	return nil
}

func (env *benchEnv) load() benchLoad {
	return benchLoad{clients: env.clients, cpu: env.cpu, storeCPU: env.storeCPU}
}

// seeded runs seed once per env and logs how long it took.
func seeded[T any](b *testing.B, o *benchOnce[T], what string, seed func(ctx context.Context) (T, error)) T {
	b.Helper()
	v, err := o.get(func() (T, error) {
		start := time.Now()
		v, err := seed(context.Background())
		if err == nil {
			b.Logf("seeded %s in %v", what, time.Since(start).Round(time.Millisecond))
		}
		return v, err
	})
	if err != nil {
		b.Fatalf("seed %s: %v", what, err)
	}
	return v
}

func (env *benchEnv) userPool(b *testing.B) []benchSeed {
	return seeded(b, &env.pool, fmt.Sprintf("%d pool users", benchPoolSize), func(ctx context.Context) ([]benchSeed, error) {
		return benchSeedUsers(ctx, env.writeStore, benchSeedWorkers(env.backend), "pool", benchPoolSize)
	})
}

// baseline is one request to the baseline server.
func (env *benchEnv) baseline(ctx context.Context, _, _ int) error {
	body := benchUserBody("base", int(env.seq.Add(1)))
	return benchDo(ctx, env.client, http.MethodPost, env.baselineURL, body, http.StatusCreated, nil)
}

func (env *benchEnv) benchBaseline(b *testing.B) { env.load().run(b, env.baseline) }

func (env *benchEnv) benchPostUser(b *testing.B) {
	u := env.write.URL + "/Users"
	env.load().compare(b, env.baseline, func(ctx context.Context, _, _ int) error {
		body := benchUserBody("post", int(env.seq.Add(1)))
		return benchDo(ctx, env.client, http.MethodPost, u, body, http.StatusCreated, nil)
	})
}

// population seeds lookups[n] with n users once and returns the
// userNames the lookups ask for.
func (env *benchEnv) population(b *testing.B, n int) (*benchLookup, []string) {
	if n > 10000 && testing.Short() {
		b.Skipf("-short: not seeding %d users", n)
	}
	lk := env.lookups[n]
	// Only the names asked for are kept, not the population: a larger
	// live heap makes the collector run less often, which would flatter
	// the larger population and every benchmark after it.
	names := seeded(b, &lk.names, fmt.Sprintf("%d users", n), func(ctx context.Context) ([]string, error) {
		users, err := benchSeedUsers(ctx, lk.srv.store, benchSeedWorkers(env.backend), "look", n)
		if err != nil {
			return nil, err
		}
		// A fixed random sample, so both sizes ask alike.
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		names := make([]string, 1024)
		for i := range names {
			names[i] = users[rng.IntN(len(users))].UserName
		}
		return names, nil
	})
	return lk, names
}

func (env *benchEnv) benchGetByUserName(b *testing.B, n int) {
	lk, names := env.population(b, n)
	type probe struct {
		url  string
		want []byte
	}
	probes := make([]probe, len(names))
	for i, name := range names {
		// As Okta spells it: spaces as %20, then startIndex and count.
		f := strings.ReplaceAll(url.QueryEscape(`userName eq "`+name+`"`), "+", "%20")
		probes[i] = probe{lk.srv.URL + "/Users?filter=" + f + "&startIndex=1&count=100", []byte(`"userName":"` + name + `"`)}
	}
	env.load().compare(b, env.baseline, func(ctx context.Context, _, i int) error {
		p := probes[i%len(probes)]
		return benchDo(ctx, env.client, http.MethodGet, p.url, nil, http.StatusOK, func(raw []byte) error {
			if !bytes.Contains(raw, []byte(`"totalResults":1`)) || !bytes.Contains(raw, p.want) {
				return errors.New("want exactly the one user asked for")
			}
			return nil
		})
	})
}

func (env *benchEnv) benchPatchUser(b *testing.B) {
	pool := env.userPool(b)
	env.load().compare(b, env.baseline, func(ctx context.Context, _, _ int) error {
		// Consecutive numbers go to different users: no two clients
		// update one user at once, and each PATCH changes the values.
		k := int(env.seq.Add(1))
		u := env.write.URL + "/Users/" + pool[k%len(pool)].ID
		return benchDo(ctx, env.client, http.MethodPatch, u, benchPatchBody(k), http.StatusOK, nil)
	})
}

// benchGroupAdd sends every client's PATCHes to ONE group of n members,
// as several IdP workers push one big group: each adds one member. Rounds
// of benchMemberRound adds are taken out again between rounds, with the
// timer stopped, so that the group stays at its size. Any answer but 204
// (a 503 of a write that lost a race) fails the benchmark.
func (env *benchEnv) benchGroupAdd(b *testing.B, n int) {
	pool := env.userPool(b)
	g := seeded(b, env.groups[n], fmt.Sprintf("a group of %d members", n), func(ctx context.Context) (benchSeed, error) {
		return benchSeedGroup(ctx, env.writeStore, benchSeedWorkers(env.backend), fmt.Sprintf("Bench %d", n), n)
	})
	added := make([]string, benchMemberRound)
	bodies := make([][]byte, benchMemberRound)
	for i := range added {
		added[i] = pool[i].ID
		bodies[i] = benchAddMemberBody(pool[i].ID, pool[i].UserName)
	}
	remove := func(ctx context.Context) error {
		if _, err := env.writeStore.Apply(ctx, store.Write{Group: g.ID, RemoveMembers: added}); err != nil {
			return fmt.Errorf("remove the added members: %w", err)
		}
		return nil
	}
	// A previous run's last round is still in the group.
	if err := remove(b.Context()); err != nil {
		b.Fatal(err)
	}
	if got, err := env.writeStore.MemberCount(b.Context(), g.ID); err != nil || got != n {
		b.Fatalf("group has %d members (%v), want %d", got, err, n)
	}
	u := env.write.URL + "/Groups/" + g.ID
	load := env.load()
	load.round, load.between = benchMemberRound, remove
	load.compare(b, env.baseline, func(ctx context.Context, _, i int) error {
		return benchDo(ctx, env.client, http.MethodPatch, u, bodies[i%benchMemberRound], http.StatusNoContent, nil)
	})
	b.StopTimer()
	// Every member of the last round is in: no PATCH was lost.
	last := (b.N - 1) % benchMemberRound
	for _, id := range added[:last+1] {
		if in, err := env.writeStore.IsMember(b.Context(), g.ID, id); err != nil || !in {
			b.Fatalf("member %s of the last round is missing (%v)", id, err)
		}
	}
}

// listPageProbes are GET /Users pages of 100 at random start indexes of a
// population of n users.
func listPageProbes(base string, n int) []string {
	rng := rand.New(rand.NewPCG(uint64(n), 11))
	out := make([]string, 256)
	for i := range out {
		out[i] = base + "/Users?startIndex=" + strconv.Itoa(1+rng.IntN(n-100)) + "&count=100"
	}
	return out
}

func benchListDo(ctx context.Context, c *http.Client, url string) error {
	return benchDo(ctx, c, http.MethodGet, url, nil, http.StatusOK, func(raw []byte) error {
		if !bytes.Contains(raw, []byte(`"itemsPerPage":100`)) {
			return errors.New("want a full page of 100")
		}
		return nil
	})
}

func (env *benchEnv) benchListPage(b *testing.B, n int) {
	lk, _ := env.population(b, n)
	probes := listPageProbes(lk.srv.URL, n)
	env.load().compare(b, env.baseline, func(ctx context.Context, _, i int) error {
		return benchListDo(ctx, env.client, probes[i%len(probes)])
	})
}

// benchListFlat compares list pages of the 100,000-user population with
// those of the 1,000-user one in the same run: x-1k is the large one's
// time per page over the small one's (1 = flat).
func (env *benchEnv) benchListFlat(b *testing.B) {
	small, _ := env.population(b, 1000)
	large, _ := env.population(b, 100000)
	sp, lp := listPageProbes(small.srv.URL, 1000), listPageProbes(large.srv.URL, 100000)
	load := env.load()
	load.unit = "x-1k"
	load.compare(b, func(ctx context.Context, _, i int) error {
		return benchListDo(ctx, env.client, sp[i%len(sp)])
	}, func(ctx context.Context, _, i int) error {
		return benchListDo(ctx, env.client, lp[i%len(lp)])
	})
}

// benchMixedOkta is Okta provisioning a new user, four requests: the
// userName lookup that finds nothing, POST /Users, the group push adding
// the user to one shared group, GET /Users/{id}. The baseline sends four
// requests per flow too, so x-baseline compares request with request.
func (env *benchEnv) benchMixedOkta(b *testing.B) {
	g := seeded(b, &env.mixedGroup, "the mixed flow's group", func(ctx context.Context) (benchSeed, error) {
		return benchSeedGroup(ctx, env.writeStore, 1, "Bench mixed", 0)
	})
	base := env.write.URL
	load := env.load()
	load.perOp = 4
	load.compare(b, func(ctx context.Context, c, i int) error {
		for range 4 {
			if err := env.baseline(ctx, c, i); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, _, _ int) error {
		k := int(env.seq.Add(1))
		name := benchUserName("mixed", k)
		f := strings.ReplaceAll(url.QueryEscape(`userName eq "`+name+`"`), "+", "%20")
		err := benchDo(ctx, env.client, http.MethodGet, base+"/Users?filter="+f+"&startIndex=1&count=100", nil, http.StatusOK, func(raw []byte) error {
			if !bytes.Contains(raw, []byte(`"totalResults":0`)) {
				return errors.New("want no user yet")
			}
			return nil
		})
		if err != nil {
			return err
		}
		var id string
		err = benchDo(ctx, env.client, http.MethodPost, base+"/Users", benchUserBody("mixed", k), http.StatusCreated, func(raw []byte) error {
			var v struct{ ID string }
			if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
				return fmt.Errorf("no id in the created user (%v)", err)
			}
			id = v.ID
			return nil
		})
		if err != nil {
			return err
		}
		if err := benchDo(ctx, env.client, http.MethodPatch, base+"/Groups/"+g.ID, benchAddMemberBody(id, name), http.StatusNoContent, nil); err != nil {
			return err
		}
		return benchDo(ctx, env.client, http.MethodGet, base+"/Users/"+id, nil, http.StatusOK, nil)
	})
}

// benchBaselineCreate is the baseline's POST /Users: decode the body as
// the gateway does (a JSON object, numbers as json.Number), require a
// userName, store it with one write, and echo it back with 201.
func benchBaselineCreate(write func(ctx context.Context, id, userName string, body []byte) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
		if err != nil {
			return err
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		userName, _ := doc["userName"].(string)
		if userName == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "userName is required")
		}
		id := newID()
		if err := write(c.Request().Context(), id, strings.ToLower(userName), body); err != nil {
			return err
		}
		c.Response().Header().Set("Location", "/scim/v2/Users/"+id)
		return c.Blob(http.StatusCreated, mediaSCIM, body)
	}
}

// startBaseline serves h at POST /scim/v2/Users on loopback for the life
// of tb and returns that URL.
func startBaseline(tb testing.TB, h echo.HandlerFunc) string {
	tb.Helper()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/scim/v2/Users", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			tb.Errorf("baseline shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("baseline serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/scim/v2/Users"
}

// startRedisBaseline stores each user with one MULTI/EXEC pipeline on c,
// a client of the server at u: the document in a hash, the userName index
// entry, and the id in the id set.
func startRedisBaseline(tb testing.TB, u string, c *redis.Client) string {
	tb.Helper()
	base := "{" + redistest.Prefix(tb) + "}:"
	tb.Cleanup(func() {
		if os.Getenv("REDIS_URL") != "" {
			if err := benchDropKeys(u, base+"*"); err != nil {
				tb.Error(err)
			}
		}
	})
	return startBaseline(tb, benchBaselineCreate(func(ctx context.Context, id, userName string, body []byte) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, base+"r:User:"+id, "d", body)
			p.HSet(ctx, base+"ix:User:userName", userName, id)
			p.ZAdd(ctx, base+"ids:User", redis.Z{Member: id})
			return nil
		})
		if err != nil {
			return fmt.Errorf("baseline redis write: %w", err)
		}
		return nil
	}))
}

// startBoltBaseline stores each user with one bolt Update of two Puts:
// the document by id and the userName index entry. Like the bolt store
// of the harness, it does not fsync.
func startBoltBaseline(tb testing.TB) string {
	tb.Helper()
	db, err := bbolt.Open(filepath.Join(tb.TempDir(), "baseline.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	users, byName := []byte("users"), []byte("userName")
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{users, byName} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return startBaseline(tb, benchBaselineCreate(func(ctx context.Context, id, userName string, body []byte) error {
		err := db.Update(func(tx *bbolt.Tx) error {
			if err := tx.Bucket(users).Put([]byte(id), body); err != nil {
				return err
			}
			return tx.Bucket(byName).Put([]byte(userName), []byte(id))
		})
		if err != nil {
			return fmt.Errorf("baseline bolt write: %w", err)
		}
		return nil
	}))
}

// TestBenchSeedMatchesGateway checks that what the benchmarks seed
// directly into the store is what POST /Users itself stores for the same
// body, so seeded lookups measure the gateway's real data.
func TestBenchSeedMatchesGateway(t *testing.T) {
	st := backends["bolt"](t)
	ts := startServer(t, st)
	body := benchUserBody("check", 42)
	if n := len(body); n < 550 || n > 650 {
		t.Errorf("user body is %d bytes, want about 600", n)
	}
	created := ts.do(http.MethodPost, "/Users", body).must(t, http.StatusCreated)
	viaHTTP, err := st.Get(t.Context(), store.KindUser, str(created.Body["id"]))
	if err != nil {
		t.Fatal(err)
	}
	w, err := benchUserWrite(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Put.Data, viaHTTP.Data) {
		t.Errorf("seeded data differs from the gateway's:\nseed:    %s\ngateway: %s", w.Put.Data, viaHTTP.Data)
	}
	if fmt.Sprint(w.Put.Indexes) != fmt.Sprint(viaHTTP.Indexes) || len(w.Put.Indexes) != 3 {
		t.Errorf("seeded index keys %v, gateway's %v; want userName, externalId and one email", w.Put.Indexes, viaHTTP.Indexes)
	}
	if w.Put.Origin != viaHTTP.Origin {
		t.Errorf("seeded origin %q, gateway's %q", w.Put.Origin, viaHTTP.Origin)
	}
	// Seeding that user again collides on every unique index: a seeded
	// population is indexed like the gateway's.
	if _, err := st.Apply(t.Context(), w); !errors.Is(err, store.ErrConflict) {
		t.Errorf("seeding over a user the gateway created: %v, want a conflict", err)
	}
	found := ts.do(http.MethodGet, "/Users"+"?filter="+url.QueryEscape(`userName eq "`+benchUserName("check", 42)+`"`), nil).must(t, http.StatusOK)
	if found.Body["totalResults"] != json.Number("1") {
		t.Errorf("filter by the seeded userName found %v users", found.Body["totalResults"])
	}
}

func TestBenchCPUParsers(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 250 and stime
	// 50 ticks.
	stat := "4242 (gw (test) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 100 0 0"
	if got, err := parseProcStatCPU(stat); err != nil || got != 3*time.Second {
		t.Errorf("parseProcStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseProcStatCPU("4242 (gw) S 1 2"); err == nil {
		t.Error("parseProcStatCPU accepted a short line")
	}
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.000000\r\n"
	if got, err := parseRedisCPU(info); err != nil || got != 3750*time.Millisecond {
		t.Errorf("parseRedisCPU = %v, %v; want 3.75s", got, err)
	}
	if _, err := parseRedisCPU("# CPU\r\nused_cpu_sys:1.0\r\n"); err == nil {
		t.Error("parseRedisCPU accepted a reply without used_cpu_user")
	}
}
