package config

import (
	"fmt"
	"io"
	"log/slog"
)

// Redaction is what a Secret renders as wherever it is printed, logged or
// marshalled.
const Redaction = "<secret>"

// Secret is a string that is never shown: fmt verbs, JSON, YAML, text
// marshalling and slog all render it as "<secret>" (YAML renders an empty
// one as ""). Reveal returns the value for the one place that needs it
// (comparing a presented credential).
//
// Keep Secret fields exported: fmt prints unexported fields by reflection,
// without calling their methods. Never key a map by Secret: encoding/json
// writes keys of a string kind as they are.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (Secret) String() string { return Redaction }

// Format implements fmt.Formatter, so that every verb, even one meant for
// numbers (%d, whose error output would otherwise print the raw string),
// renders "<secret>".
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redaction) }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redaction }

// MarshalYAML implements yaml.Marshaler. An empty Secret is written as ""
// (there is nothing to hide), so that Redacted output keeps an unset token
// unset: an empty token disables a credential and pauses an app.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return Redaction, nil
}

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redaction + `"`), nil }

// MarshalText implements encoding.TextMarshaler (map keys, slog's text
// handler, and any encoder that prefers text).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redaction), nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redaction) }
