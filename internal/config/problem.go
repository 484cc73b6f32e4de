package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
//
// Messages never contain a configured value, only the key path: a value may
// have come from an environment variable holding a secret. The one exception
// is text quoted from the file itself, which its reader has already seen.
type Problem struct {
	// Path is the key path, e.g. "auth.idp.oidc[1].issuer"; empty for the
	// document as a whole.
	Path string
	// Line is the 1-based line in the file; 0 when the problem is not about
	// one line (validation problems are about values, not lines).
	Line int
	// Msg says what is wrong and, where it helps, what is accepted.
	Msg string
}

// String renders the problem as "line 3: server.listen: message", leaving
// out the parts that are unset.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ParseError is returned when the file cannot be decoded into a Config:
// YAML syntax, unknown keys, values of the wrong type, malformed variable
// references. It lists every such problem found.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	return problemList("cannot parse configuration", e.Problems)
}

// ValidationError is returned by Validate; it lists every problem found, one
// per line.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	return problemList("invalid configuration", e.Problems)
}

func problemList(head string, ps []Problem) string {
	var b strings.Builder
	b.WriteString(head)
	if len(ps) == 1 {
		b.WriteString(" (1 problem):")
	} else {
		fmt.Fprintf(&b, " (%d problems):", len(ps))
	}
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// fieldPath appends a struct key to a path.
func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath appends a list index to a path.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// keyPath appends a user-chosen map key to a path, quoting it when it is not
// a plain word (claim names may be URLs).
func keyPath(parent, key string) string {
	if key != "" && strings.TrimLeft(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return fieldPath(parent, key)
	}
	return parent + "[" + strconv.Quote(key) + "]"
}
