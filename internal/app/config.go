package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/scimgate/scim-gateway/internal/config"
	"github.com/scimgate/scim-gateway/internal/store"
	"github.com/scimgate/scim-gateway/mapping"
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

// LoadConfig reads and validates the configuration at path ("" for the
// built-in default, which takes the IdP token from SCIM_GATEWAY_TOKEN),
// expanding ${VAR} with getenv (nil: no variables). The error lists every
// problem with its key path.
func LoadConfig(path string, getenv func(string) (string, bool)) (*config.Config, error) {
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

// CompilePolicies compiles a validated configuration's apps and policies.
func CompilePolicies(cfg *config.Config) (*mapping.Policies, error) {
	p, err := mapping.Compile(cfg.Apps, cfg.Policies)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	return p, nil
}

// StateStore is the slice of store.Store that records the running
// configuration.
type StateStore interface {
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
}

// SaveRunning records cfg as the running configuration (secrets masked).
func SaveRunning(ctx context.Context, st StateStore, cfg *config.Config) error {
	b, err := cfg.Redacted()
	if err != nil {
		return err
	}
	if err := st.PutState(ctx, store.RunningConfigKey, b); err != nil {
		return fmt.Errorf("save running configuration: %w", err)
	}
	return nil
}

// LoadRunning compiles the configuration recorded as running, or returns
// nil policies when none was recorded.
func LoadRunning(ctx context.Context, st StateStore) (*mapping.Policies, error) {
	b, err := st.GetState(ctx, store.RunningConfigKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read running configuration: %w", err)
	}
	cfg, err := config.Parse(b, nil)
	if err != nil {
		return nil, fmt.Errorf("running configuration: %w", err)
	}
	return CompilePolicies(cfg)
}

// Plan compares the policies before and after over every hub user, with
// each user's accounts read from the links.
func Plan(ctx context.Context, st mapping.HubReader, before, after *mapping.Policies) (map[string]*mapping.AppPlan, error) {
	var iterErr error
	plans := mapping.Plan(before, after, mapping.Users(ctx, st, &iterErr, after.Apps()...))
	if iterErr != nil {
		return nil, iterErr
	}
	return plans, nil
}
