package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in Go syntax ("90s", "15m", "1h30m")
// or with a leading number of whole days ("7d", "1d12h").
type Duration time.Duration

const day = 24 * time.Hour

// ParseDuration parses Go duration syntax, optionally preceded by whole days
// ("30d", "1d12h").
func ParseDuration(s string) (Duration, error) {
	days, rest, hasDays := strings.Cut(s, "d")
	if !hasDays {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, durationError(s)
		}
		return Duration(d), nil
	}
	neg := strings.HasPrefix(days, "-")
	days = strings.TrimPrefix(strings.TrimPrefix(days, "-"), "+")
	if days == "" || strings.TrimLeft(days, "0123456789") != "" {
		return 0, durationError(s)
	}
	n, err := strconv.ParseInt(days, 10, 64)
	if err != nil || n > math.MaxInt64/int64(day) {
		return 0, durationError(s)
	}
	total := time.Duration(n) * day
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, durationError(s)
		}
		r, err := time.ParseDuration(rest)
		if err != nil || r > math.MaxInt64-total {
			return 0, durationError(s)
		}
		total += r
	}
	if neg {
		total = -total
	}
	return Duration(total), nil
}

func durationError(s string) error {
	return fmt.Errorf("invalid duration %q: use a number with a unit (ns, us, ms, s, m, h), e.g. 90s or 1h30m, or whole days, e.g. 7d", s)
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d in Go syntax without zero trailing units: "1h", "1h30m",
// "90s" is "1m30s". ParseDuration reads it back.
func (d Duration) String() string {
	s := time.Duration(d).String()
	s = trimZeroUnit(s, "m0s")
	return trimZeroUnit(s, "h0m")
}

// trimZeroUnit turns "1h0m0s" into "1h0m" (suffix "m0s") and "1h0m" into
// "1h" (suffix "h0m").
func trimZeroUnit(s, suffix string) string {
	if strings.HasSuffix(s, suffix) {
		return s[:len(s)-len(suffix)+1]
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("a duration must be a single value such as 90s or 7d")
	}
	return d.UnmarshalText([]byte(n.Value))
}
