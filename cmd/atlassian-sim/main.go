// Command atlassian-sim runs the Atlassian SCIM simulator
// (outbound/atlassian/atlassiantest) on a local port for manual trials of the
// gateway's outbound side:
//
//	ATLASSIAN_SIM_TOKEN=dev-key atlassian-sim --listen 127.0.0.1:9090 --directory local-dir
//
// It prints the base URL to configure as the Atlassian app's endpoint
// (http://127.0.0.1:9090/scim/directory/local-dir), logs every request as
// JSON on stderr, and shuts down gracefully on SIGINT or SIGTERM. State is
// in memory only. main only turns signals into a context; run does the rest
// so tests drive it directly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scimgate/scim-gateway/outbound/atlassian/atlassiantest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

const tokenEnv = "ATLASSIAN_SIM_TOKEN"

type settings struct {
	listen, directory, token string
	rate                     float64
	burst                    int
	latency                  time.Duration
	failRate                 float64
	failStatuses             []int
	seed                     uint64
}

// run returns the exit code: 0 after a clean shutdown, 1 on a runtime
// failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	cfg, err := parseFlags(args, stderr, getenv)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "atlassian-sim: %v\n", err)
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if err := serve(ctx, cfg, log, stdout, nil); err != nil {
		log.Error("atlassian-sim stopped", "err", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) (string, bool)) (settings, error) {
	var cfg settings
	fs := flag.NewFlagSet("atlassian-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:9090", "listen address host:port")
	fs.StringVar(&cfg.directory, "directory", "local-dir", "directory id served under /scim/directory/{id}")
	fs.StringVar(&cfg.token, "token", "", "API key clients must send as a bearer token (default $"+tokenEnv+"; required)")
	fs.Float64Var(&cfg.rate, "rate", 0, "rate limit in requests per second, answered with 429 beyond it (0 = unlimited)")
	fs.IntVar(&cfg.burst, "burst", 0, "rate limit burst (default: the rate rounded up, at least 1)")
	fs.DurationVar(&cfg.latency, "latency", 0, "delay added to every request")
	fs.Float64Var(&cfg.failRate, "fail-rate", 0, "fraction of requests (0..1) failed on purpose")
	statuses := fs.String("fail-status", "500,503", "comma-separated statuses used by --fail-rate")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed for --fail-rate")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.token == "" {
		cfg.token, _ = getenv(tokenEnv)
	}
	if cfg.token == "" {
		return cfg, fmt.Errorf("a token is required: set $%s or pass --token", tokenEnv)
	}
	if cfg.rate < 0 || math.IsNaN(cfg.rate) || math.IsInf(cfg.rate, 0) {
		return cfg, fmt.Errorf("--rate %v: must be >= 0", cfg.rate)
	}
	if cfg.burst <= 0 {
		cfg.burst = max(1, int(math.Ceil(cfg.rate)))
	}
	if cfg.latency < 0 {
		return cfg, fmt.Errorf("--latency %v: must be >= 0", cfg.latency)
	}
	if !(cfg.failRate >= 0 && cfg.failRate <= 1) {
		return cfg, fmt.Errorf("--fail-rate %v: must be between 0 and 1", cfg.failRate)
	}
	// The simulator owns the rules for its options (e.g. the directory id
	// must be one path segment): check them before listening.
	if _, err := atlassiantest.New(atlassiantest.Options{DirectoryID: cfg.directory, Token: cfg.token}); err != nil {
		return cfg, err
	}
	for _, f := range strings.Split(*statuses, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 400 || n > 599 {
			return cfg, fmt.Errorf("--fail-status %q: want comma-separated statuses in 400..599", *statuses)
		}
		cfg.failStatuses = append(cfg.failStatuses, n)
	}
	return cfg, nil
}

// serve runs the simulator until ctx ends, then aborts requests waiting in
// --latency and drains the others for up to 10 seconds. ready, when not
// nil, gets the simulator once it is serving (tests inspect it).
func serve(ctx context.Context, cfg settings, log *slog.Logger, stdout io.Writer, ready func(*atlassiantest.Server)) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	sim, err := atlassiantest.New(atlassiantest.Options{
		DirectoryID: cfg.directory,
		Token:       cfg.token,
		Origin:      "http://" + ln.Addr().String(),
		Seed:        cfg.seed,
		Logger:      log,
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("configure simulator: %w", err)
	}
	sim.RateLimit(cfg.rate, cfg.burst)
	sim.Latency(cfg.latency)
	sim.FailRate(cfg.failRate, cfg.failStatuses)

	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(sim)
	}
	fmt.Fprintln(stdout, sim.URL())
	log.Info("atlassian-sim listening", "url", sim.URL(), "directory", cfg.directory,
		"rate", cfg.rate, "burst", cfg.burst, "latency", cfg.latency, "fail_rate", cfg.failRate)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("atlassian-sim shutting down")
	sim.Close() // requests still waiting in --latency are aborted, the rest drain
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
