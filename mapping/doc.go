// Package mapping owns the policies: who belongs in which downstream app,
// with which attributes, and what a change of policies would do. It turns
// the apps and policies of the configuration into compiled form once
// (filters, attribute paths and templates checked against the SCIM User
// schema at load, never at evaluation) and answers, for a hub user or
// group seen as a UserView or GroupView, the desired state in an app:
// whether the user should have an account there, whether it should be
// active, the exact target representation, and which pushed groups the
// user should be in. It also names the queue keys that a hub change marks
// dirty, plans a configuration change against the safeguard, and hashes
// representations canonically so that unchanged state is never pushed
// again. It does no I/O: the gateway, the outbound reconcilers and the
// importer load what it evaluates, so that all three decide from one
// definition of "desired".
package mapping
