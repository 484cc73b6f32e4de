package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimgate/scim-gateway/inbound"
	"github.com/scimgate/scim-gateway/internal/app"
	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store/backend"
	"github.com/scimgate/scim-gateway/mapping"
)

// cmdImport imports one app's accounts now, under the app's import lock:
//
//	scim-gateway import --app NAME [--config FILE] [--store URL] [--dry-run] [--force]
//
// It prints progress on stderr and the result table on stdout, and exits
// 0 on success, 1 on failure (another import of the app running
// included), 2 on a usage error, and 3 when the safeguard stopped the run
// (or, with --dry-run, would stop it).
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	appName := fs.String("app", "", "the app to import (required)")
	path := fs.String("config", "", "configuration file (default: built-in defaults, token from SCIM_GATEWAY_TOKEN)")
	storeURL := fs.String("store", "", "store URL (default: the configuration's store.url)")
	dryRun := fs.Bool("dry-run", false, "report what the import would do, changing nothing")
	force := fs.Bool("force", false, "go on even when the import exceeds the app's safeguard")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *appName == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "import: --app NAME is required, and takes no arguments")
		fs.Usage()
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	var pols *mapping.Policies
	if err == nil {
		pols, err = app.CompilePolicies(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	var a *config.App
	for i := range cfg.Apps {
		if cfg.Apps[i].Name == *appName {
			a = &cfg.Apps[i]
		}
	}
	switch {
	case a == nil:
		fmt.Fprintf(stderr, "import: no app %q in the configuration (apps: %s)\n", *appName, strings.Join(pols.Apps(), ", "))
		return 1
	case a.Paused():
		fmt.Fprintf(stderr, "import: app %q has no token configured\n", a.Name)
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
	res, err := app.Import(ctx, st, app.ImportJob{
		App:      *a,
		Policies: pols,
		Options:  inbound.Options{DryRun: *dryRun, Force: *force},
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnProgress: func(p inbound.Progress) {
			fmt.Fprintf(stderr, "%s %s: %d accounts in %v (%.1f/s)\n", p.App, p.Phase, p.Seen, p.Elapsed.Round(time.Millisecond), p.Rate)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	printImportResult(stdout, res, a.Safeguard)
	if res.Stopped {
		return 3
	}
	return 0
}

// printImportResult prints a run's result as a table.
func printImportResult(w io.Writer, r inbound.Result, sg config.Safeguard) {
	mode := ""
	switch {
	case r.DryRun:
		mode = " (dry run: nothing was changed)"
	case r.Forced:
		mode = " (forced)"
	}
	fmt.Fprintf(w, "import %s, run %s%s\n", r.App, r.RunID, mode)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range []struct {
		name string
		n    int
	}{
		{"seen", r.Seen}, {"unchanged", r.Unchanged}, {"drifted", r.Drifted}, {"linked", r.Linked},
		{"imported", r.Imported}, {"missing", r.Missing}, {"conflicts", r.Conflicts}, {"failed", r.Failed},
		{"requeued", r.Requeued},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	fmt.Fprintf(tw, "  deprovisions\t%d of %d (safeguard: %g%% of at least %d)\n", r.Deprovisions, r.Population,
		sg.MaxDeprovisionPercent, sg.MinPopulation)
	fmt.Fprintf(tw, "  duration\t%v\n", r.Duration.Round(time.Millisecond))
	_ = tw.Flush()
	if r.Stopped {
		if r.DryRun {
			fmt.Fprintln(w, "a real run would be STOPPED by the safeguard; see the safeguard report entry")
		} else {
			fmt.Fprintln(w, "STOPPED by the safeguard before changing anything; check the app, then run again with --force")
		}
	}
}
