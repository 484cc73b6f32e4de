package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted renders the configuration as YAML for `validate --print`: every
// Secret as "<secret>", passwords in URLs masked, and every $ written as $$,
// so that the output is itself a configuration that parses to the same
// values (secrets aside).
func (c *Config) Redacted() ([]byte, error) {
	r := *c
	r.loadProblems = nil
	r.Server.BaseURL = redactURL(c.Server.BaseURL)
	r.Store.URL = redactURL(c.Store.URL)
	r.Auth.IdP.OIDC = redactIssuers(c.Auth.IdP.OIDC)
	r.Auth.Admin.OIDC = redactIssuers(c.Auth.Admin.OIDC)
	r.Apps = slices.Clone(c.Apps)
	for i := range r.Apps {
		r.Apps[i].BaseURL = redactURL(r.Apps[i].BaseURL)
	}
	var doc yaml.Node
	if err := doc.Encode(&r); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	escapeDollars(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return out, nil
}

// redactIssuers returns a copy of list with passwords masked in its URLs.
func redactIssuers(list []OIDC) []OIDC {
	list = slices.Clone(list)
	for i := range list {
		list[i].Issuer = redactURL(list[i].Issuer)
		list[i].DiscoveryURL = redactURL(list[i].DiscoveryURL)
	}
	return list
}

// redactURL masks the password in a URL. A URL that does not parse but may
// hold user info is hidden entirely.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil && strings.Contains(raw, "@"):
		return "<unparsable URL hidden: it may contain a password>"
	case err != nil || u.User == nil:
		return raw
	}
	return u.Redacted()
}

// escapeDollars doubles every $ in the values (never the keys) of a node
// tree, so that parsing the output does not expand anything.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		n.Value = strings.ReplaceAll(n.Value, "$", "$$")
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	}
}
