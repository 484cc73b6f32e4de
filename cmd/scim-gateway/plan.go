package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/scimgate/scim-gateway/internal/app"
	"github.com/scimgate/scim-gateway/internal/store/backend"
	"github.com/scimgate/scim-gateway/mapping"
)

// cmdPlan prints what applying a configuration would do in each app,
// compared with the configuration the gateway is running (as recorded in
// the store) and the accounts it has linked, without changing anything.
// It exits 3 when an app's change exceeds its safeguard.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the new configuration file")
	storeURL := fs.String("store", "", "store URL (default: the new configuration's store.url)")
	verbose := fs.Bool("v", false, "list the userNames of every change")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	after, err := app.CompilePolicies(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	url := cfg.Store.URL
	if *storeURL != "" {
		url = *storeURL
	}
	st, err := backend.Open(ctx, url, backend.Options{RedisPrefix: cfg.Store.RedisPrefix})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	defer st.Close()
	before, err := app.LoadRunning(ctx, st)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	plans, err := app.Plan(ctx, st, before, after)
	if err != nil {
		fmt.Fprintf(stderr, "plan: %v\n", err)
		return 1
	}
	return printPlans(stdout, plans, *verbose)
}

func printPlans(w io.Writer, plans map[string]*mapping.AppPlan, verbose bool) int {
	names := make([]string, 0, len(plans))
	for n := range plans {
		names = append(names, n)
	}
	sort.Strings(names)
	code := 0
	for _, n := range names {
		p := plans[n]
		fmt.Fprintln(w, p.String())
		if verbose {
			for _, l := range []struct {
				what  string
				names []string
			}{{"create", p.Create}, {"reactivate", p.Reactivate}, {"update", p.Update},
				{"deactivate", p.Deactivate}, {"delete", p.Delete}, {"protected", p.Protected}} {
				for _, u := range l.names {
					fmt.Fprintf(w, "  %-10s %s\n", l.what, u)
				}
			}
		}
		if p.ExceedsSafeguard {
			code = 3
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(w, "no apps configured")
	}
	return code
}
