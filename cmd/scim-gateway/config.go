package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/scimgate/scim-gateway/internal/app"
	"github.com/scimgate/scim-gateway/internal/config"
)

// loadConfig reads and validates the configuration at path ("" for the
// built-in default). The error lists every problem with its key path.
func loadConfig(path string, getenv env) (*config.Config, error) {
	return app.LoadConfig(path, getenv)
}

func cmdValidate(args []string, stdout, stderr io.Writer, getenv env) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: built-in defaults, token from SCIM_GATEWAY_TOKEN)")
	print := fs.Bool("print", false, "print the effective configuration, secrets masked")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path, getenv)
	if err == nil {
		_, err = app.CompilePolicies(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if *print {
		b, err := cfg.Redacted()
		if err != nil {
			fmt.Fprintf(stderr, "print configuration: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(b)
	}
	fmt.Fprintln(stdout, "configuration is valid")
	return 0
}

var errUsage = errors.New("usage")
