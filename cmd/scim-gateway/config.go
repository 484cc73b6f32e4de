package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/scimgate/scim-gateway/internal/config"
)

// defaultConfig is what serve and validate use without --config: the
// defaults, with the IdP token read from SCIM_GATEWAY_TOKEN.
const defaultConfig = `
auth:
  idp:
    tokens:
      - name: idp
        token: ${SCIM_GATEWAY_TOKEN}
`

// loadConfig reads and validates the configuration at path ("" for the
// built-in default). The error lists every problem with its key path.
func loadConfig(path string, getenv env) (*config.Config, error) {
	data := []byte(defaultConfig)
	name := "built-in default configuration"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		data, name = b, path
	}
	cfg, err := config.Parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
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
		_, err = compilePolicies(cfg)
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
