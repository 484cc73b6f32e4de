// Package app is the gateway's application core: it wires the SCIM server
// (gateway), the reconcilers (outbound), the scheduled imports (inbound)
// and the policies (mapping) around one store, and owns their lifecycle.
//
// New builds an App from a validated configuration; Run serves HTTP and
// runs every background loop until its context ends, then stops them in
// order: the HTTP server first (requests in flight finish within the
// shutdown timeout), then the reconcilers, the importer and report
// retention. The loops run under one supervisor, which replaces a loop
// when a reload rebuilds it and never lets two of one kind run at once.
// Reload applies a new configuration's apps and policies (validate, plan,
// refuse a mass deprovision unless forced, swap, enqueue what changed);
// the Engine answers both the gateway (which queue keys a change marks)
// and the reconcilers and importer (what an app should hold) from the
// same atomically swapped policies.
//
// The package knows nothing of flags, signals or terminals: the command
// turns those into a context and calls into it, so tests run the whole
// gateway in-process.
package app
