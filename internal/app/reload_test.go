package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/gateway"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/outbound"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

func TestLeaseFollowsTimeouts(t *testing.T) {
	apps := []outbound.AppConfig{{Client: scimclient.Options{Timeout: 5 * time.Second}}, {Client: scimclient.Options{Timeout: 20 * time.Second}}}
	if got := leaseFor(apps); got != 80*time.Second {
		t.Errorf("lease %v, want 4 × the slowest timeout", got)
	}
	if got := leaseFor(nil); got < 30*time.Second || got >= outbound.DefaultLease {
		t.Errorf("default lease %v", got)
	}
}

// reloadConfig is a configuration with the bitbucket app (safeguard: 10%
// of at least one account) and, when jira is set, the jira app; policies
// are appended as they are.
func reloadConfig(jira bool, policies string) string {
	apps := `
  - name: bitbucket
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/b
    token: ` + testAppToken + `
    actions: {groups: true}
    safeguard:
      max_deprovision_percent: 10
      min_population: 1
`
	if jira {
		apps += `
  - name: jira
    type: atlassian
    base_url: https://api.atlassian.com/scim/directory/j
    token: ` + testAppToken + `
`
	}
	return `
auth:
  idp:
    tokens: [{name: idp, token: ` + testIdPToken + `}]
apps:` + apps + `
policies:` + policies
}

const (
	engineersPolicy = `
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
`
	engineersPushPolicy = `
  - name: engineers
    app: bitbucket
    groups: ["Engineering"]
    push_groups:
      - {group: Engineering}
`
	staffPolicy = `
  - name: staff
    app: jira
    groups: ["Engineering"]
`
)

// reloadRig is a reloader over a bolt hub of three engineers and one
// other user, whose bitbucket accounts exist, recording its restarts.
type reloadRig struct {
	t            *testing.T
	st           store.Store
	rl           *reloader
	next         string // the configuration load returns
	loadErr      error
	restarts     [][]string // app names of every restart
	restartErr   error
	reconfigured int
}

func newReloadRig(t *testing.T, initial string) *reloadRig {
	t.Helper()
	ctx := context.Background()
	cfg, p := compile(t, initial)
	st := openStore(t)
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("u%d", i)
		putUser(t, st, id, fmt.Sprintf("eng%d@example.com", i), true)
		ids = append(ids, id)
		if err := st.PutLink(ctx, store.Link{App: "bitbucket", Kind: store.KindUser, HubID: id, RemoteID: "r" + id, Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	putUser(t, st, "u-other", "other@example.com", true)
	putGroup(t, st, "g-eng", "Engineering", ids...)
	rig := &reloadRig{t: t, st: st, next: initial}
	log := slog.New(slog.DiscardHandler)
	rig.rl = &reloader{
		load: func() (*config.Config, error) {
			if rig.loadErr != nil {
				return nil, rig.loadErr
			}
			c, err := config.Parse([]byte(rig.next), nil)
			if err == nil {
				err = c.Validate()
			}
			return c, err
		},
		st:     st,
		engine: NewEngine(st, p),
		log:    log,
		now:    func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) },
		apps:   appConfigs(cfg, log),
		restart: func(apps []outbound.AppConfig) error {
			var names []string
			for _, a := range apps {
				names = append(names, a.Name)
			}
			rig.restarts = append(rig.restarts, names)
			return rig.restartErr
		},
		reconfigured: func(*config.Config) error { rig.reconfigured++; return nil },
	}
	return rig
}

// queued returns app's queued keys, sorted, and empties its queue.
func (r *reloadRig) queued(app string) []string {
	r.t.Helper()
	ctx := context.Background()
	claims, err := r.st.Claim(ctx, app, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	var keys []string
	for _, c := range claims {
		keys = append(keys, c.Key)
		if err := r.st.Ack(ctx, c); err != nil {
			r.t.Fatal(err)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestReloaderRefusesInvalid: a configuration that does not load or does
// not compile is refused as invalid, and nothing changes.
func TestReloaderRefusesInvalid(t *testing.T) {
	rig := newReloadRig(t, reloadConfig(false, engineersPolicy))
	before := rig.rl.engine.Policies()
	rig.loadErr = errors.New("gw.yaml: apps[0].name: want a string")
	if _, err := rig.rl.reload(context.Background(), true); !errors.Is(err, gateway.ErrInvalidConfig) || !strings.Contains(err.Error(), "apps[0].name") {
		t.Fatalf("unloadable: %v, want ErrInvalidConfig naming the problem", err)
	}
	rig.loadErr = nil
	rig.next = reloadConfig(false, `
  - name: nowhere
    app: jira
    groups: ["Engineering"]
`)
	if _, err := rig.rl.reload(context.Background(), true); !errors.Is(err, gateway.ErrInvalidConfig) {
		t.Fatalf("policy for an unknown app: %v, want ErrInvalidConfig", err)
	}
	if rig.rl.engine.Policies() != before || len(rig.restarts) != 0 || rig.reconfigured != 0 {
		t.Errorf("a refused reload changed something: %d restarts, %d reconfigurations", len(rig.restarts), rig.reconfigured)
	}
	if q := rig.queued("bitbucket"); len(q) != 0 {
		t.Errorf("queued %v", q)
	}
	if p, err := LoadRunning(context.Background(), rig.st); err != nil || p != nil {
		t.Errorf("running configuration recorded by a refused reload: %v %v", p, err)
	}
}

// TestReloaderApplies: a new app and policy swap the policies, record the
// running configuration, queue exactly the users whose desired state
// changed, in the app it changed in, and restart the reconcilers; the
// same configuration again restarts nothing and queues nothing; the
// importer is told every applied configuration.
func TestReloaderApplies(t *testing.T) {
	ctx := context.Background()
	rig := newReloadRig(t, reloadConfig(false, engineersPolicy))
	rig.next = reloadConfig(true, engineersPolicy+staffPolicy)
	summary, err := rig.rl.reload(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "bitbucket: create 0, reactivate 0, update 0, deactivate 0, delete 0 of 3\njira: create 3,"; !strings.HasPrefix(summary, want) {
		t.Errorf("summary %q, want it to start %q", summary, want)
	}
	if got := rig.rl.engine.Policies().Apps(); !slices.Equal(got, []string{"bitbucket", "jira"}) {
		t.Errorf("policies for %v", got)
	}
	if q := rig.queued("jira"); !slices.Equal(q, []string{"user:u0", "user:u1", "user:u2"}) {
		t.Errorf("jira queued %v", q)
	}
	if q := rig.queued("bitbucket"); len(q) != 0 {
		t.Errorf("bitbucket queued %v", q)
	}
	if !slices.EqualFunc(rig.restarts, [][]string{{"bitbucket", "jira"}}, slices.Equal) || rig.reconfigured != 1 {
		t.Errorf("restarts %v, reconfigured %d", rig.restarts, rig.reconfigured)
	}
	if names := rig.rl.appNames(); !slices.Equal(names, []string{"bitbucket", "jira"}) {
		t.Errorf("app names %v", names)
	}
	running, err := LoadRunning(ctx, rig.st)
	if err != nil || running == nil || !slices.Equal(running.Apps(), []string{"bitbucket", "jira"}) {
		t.Fatalf("running configuration: %v %v", running, err)
	}

	// The reconcilers create the jira accounts; then the same
	// configuration again changes nothing.
	for i := range 3 {
		if err := rig.st.PutLink(ctx, store.Link{App: "jira", Kind: store.KindUser, HubID: fmt.Sprintf("u%d", i),
			RemoteID: fmt.Sprintf("j%d", i), Status: "active"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rig.rl.reload(ctx, false); err != nil {
		t.Fatal(err)
	}
	if len(rig.restarts) != 1 || rig.reconfigured != 2 {
		t.Errorf("unchanged apps: %d restarts, %d reconfigurations; want 1, 2", len(rig.restarts), rig.reconfigured)
	}
	if q := append(rig.queued("jira"), rig.queued("bitbucket")...); len(q) != 0 {
		t.Errorf("unchanged configuration queued %v", q)
	}
}

// TestReloaderSafeguard: a change that would deprovision more than an
// app's safeguard allows is refused, leaving everything as it was, unless
// forced.
func TestReloaderSafeguard(t *testing.T) {
	ctx := context.Background()
	rig := newReloadRig(t, reloadConfig(false, engineersPolicy))
	before := rig.rl.engine.Policies()
	rig.next = reloadConfig(false, " []")
	summary, err := rig.rl.reload(ctx, false)
	if !errors.Is(err, gateway.ErrReloadRefused) || !strings.Contains(summary, "deactivate 3") || !strings.Contains(summary, "REFUSED unless forced") {
		t.Fatalf("mass deprovision: %q %v", summary, err)
	}
	if rig.rl.engine.Policies() != before || rig.reconfigured != 0 {
		t.Error("a refused reload swapped the policies")
	}
	if q := rig.queued("bitbucket"); len(q) != 0 {
		t.Errorf("a refused reload queued %v", q)
	}
	if _, err := rig.rl.reload(ctx, true); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if rig.rl.engine.Policies() == before || rig.reconfigured != 1 || len(rig.restarts) != 0 {
		t.Errorf("forced reload: policies swapped %v, %d reconfigurations, %d restarts", rig.rl.engine.Policies() != before,
			rig.reconfigured, len(rig.restarts))
	}
	if q := rig.queued("bitbucket"); !slices.Equal(q, []string{"user:u0", "user:u1", "user:u2"}) {
		t.Errorf("forced reload queued %v", q)
	}
}

// TestReloaderGroups: a reload that starts pushing a group queues the
// group, and one that stops pushing it queues it again (to delete it).
func TestReloaderGroups(t *testing.T) {
	rig := newReloadRig(t, reloadConfig(false, engineersPolicy))
	rig.next = reloadConfig(false, engineersPushPolicy)
	if _, err := rig.rl.reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if q := rig.queued("bitbucket"); !slices.Contains(q, "group:g-eng") {
		t.Errorf("pushing the group queued %v", q)
	}
	rig.next = reloadConfig(false, engineersPolicy)
	if _, err := rig.rl.reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if q := rig.queued("bitbucket"); !slices.Contains(q, "group:g-eng") {
		t.Errorf("dropping the push queued %v", q)
	}
}

// TestReloaderRestartFails: when the reconcilers cannot be restarted the
// reload says so, and the next reload tries again.
func TestReloaderRestartFails(t *testing.T) {
	rig := newReloadRig(t, reloadConfig(false, engineersPolicy))
	rig.next = reloadConfig(true, engineersPolicy)
	rig.restartErr = errors.New("no room for another runner")
	if _, err := rig.rl.reload(context.Background(), false); err == nil || !strings.Contains(err.Error(), "restart reconcilers: no room") {
		t.Fatalf("reload: %v", err)
	}
	rig.restartErr = nil
	if _, err := rig.rl.reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if len(rig.restarts) != 2 || !slices.Equal(rig.rl.appNames(), []string{"bitbucket", "jira"}) {
		t.Errorf("restarts %v, apps %v", rig.restarts, rig.rl.appNames())
	}
}

// TestLoadConfig: the built-in default takes its token from the
// environment; a file is read and validated; problems name the file.
func TestLoadConfig(t *testing.T) {
	if _, err := LoadConfig("", nil); err == nil || !strings.Contains(err.Error(), "built-in default configuration") {
		t.Errorf("default without a token: %v", err)
	}
	env := func(k string) (string, bool) {
		if k == "SCIM_GATEWAY_TOKEN" {
			return testIdPToken, true
		}
		return "", false
	}
	cfg, err := LoadConfig("", env)
	if err != nil || len(cfg.Auth.IdP.Tokens) != 1 || cfg.Auth.IdP.Tokens[0].Token.Reveal() != testIdPToken {
		t.Fatalf("default: %+v %v", cfg, err)
	}
	path := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(path, []byte(reloadConfig(false, engineersPolicy)), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := LoadConfig(path, nil); err != nil || len(cfg.Apps) != 1 {
		t.Fatalf("file: %+v %v", cfg, err)
	}
	if err := os.WriteFile(path, []byte("scim:\n  max_results: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path, nil); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "scim.max_results") {
		t.Errorf("invalid file: %v", err)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("a missing file loaded")
	}
}
