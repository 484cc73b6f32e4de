// Command scim-gateway runs the SCIM 2.0 gateway and its admin tools.
//
//	scim-gateway serve    [--config FILE] [--listen ADDR] [--store URL]
//	scim-gateway validate [--config FILE] [--print]
//	scim-gateway plan     --config FILE [--store URL] [-v]
//	scim-gateway import   --app NAME [--config FILE] [--store URL] [--dry-run] [--force]
//	scim-gateway report   [--user U] [--app A] [--operation O] [--status S] [--since 24h] [--csv]
//
// main only turns signals into a context; every subcommand is a function
// of (ctx, args, stdout, stderr, env) so tests drive it directly.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

type env func(string) (string, bool)

const usage = `usage: scim-gateway <command> [flags]

commands:
  serve     run the gateway (SCIM server, admin API, health, metrics)
  validate  check a configuration file and print every problem
  plan      show what a new configuration would do in each app, changing nothing
  import    import an app's accounts: link, adopt, report drift (--dry-run, --force)
  report    print report log entries by user, app, operation, status and time

run "scim-gateway <command> -h" for a command's flags.
`

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr, getenv)
	case "plan":
		return cmdPlan(ctx, args[1:], stdout, stderr, getenv)
	case "import":
		return cmdImport(ctx, args[1:], stdout, stderr, getenv)
	case "report":
		return cmdReport(ctx, args[1:], stdout, stderr, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "scim-gateway: unknown command %q\n\n%s", args[0], usage)
	return 2
}
