package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/scimgate/scim-gateway/internal/app"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store/backend"
)

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: built-in defaults, token from SCIM_GATEWAY_TOKEN)")
	listen := fs.String("listen", "", "listen address host:port (overrides server.listen)")
	storeURL := fs.String("store", "", "store URL: bolt:///path/file.db, bolt://relative/file.db or redis://host:port/db (overrides store.url)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	if err == nil {
		_, err = app.CompilePolicies(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scim-gateway: refusing to start on an invalid configuration:\n%v\n", err)
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *storeURL != "" {
		cfg.Store.URL = *storeURL
	}
	log := newLogger(cfg.Log, stderr)
	if err := serve(ctx, cfg, *path, getenv, log, nil); err != nil {
		log.Error("gateway stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// serve opens the store and runs the gateway until ctx ends, reloading
// the configuration at path on SIGHUP. ready, when not nil, receives the
// listening address once the server accepts connections.
func serve(ctx context.Context, cfg *config.Config, path string, getenv env, log *slog.Logger, ready chan<- net.Addr) error {
	st, err := backend.Open(ctx, cfg.Store.URL, backend.Options{RedisPrefix: cfg.Store.RedisPrefix})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("close store", "err", err)
		}
	}()
	log.Info("store open", "url", backend.Redact(cfg.Store.URL))
	a, err := app.New(cfg, st, app.Options{Logger: log, ConfigPath: path, Getenv: getenv})
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The signal goroutine ends before the store closes, a reload it
	// runs included.
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{})
	defer close(done)
	wg.Go(func() {
		listening := a.Ready()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-listening:
				listening = nil
				if ready != nil {
					select {
					case ready <- a.Addr():
					case <-done:
						return
					}
				}
			case <-hup:
				if _, err := a.Reload(ctx, false); err != nil {
					log.Error("SIGHUP reload", "err", err)
				}
			}
		}
	})
	return a.Run(ctx)
}
