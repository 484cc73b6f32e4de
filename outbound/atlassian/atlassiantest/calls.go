package atlassiantest

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Kind classifies a request path.
type Kind string

// Request kinds.
const (
	KindUsers                 Kind = "Users"      // /Users
	KindUser                  Kind = "Users/{id}" // /Users/{id}
	KindGroups                Kind = "Groups"     // /Groups
	KindGroup                 Kind = "Groups/{id}"
	KindServiceProviderConfig Kind = "ServiceProviderConfig"
	KindResourceTypes         Kind = "ResourceTypes" // and /ResourceTypes/{name}
	KindSchemas               Kind = "Schemas"       // and /Schemas/{urn}
	KindOther                 Kind = "Other"         // anything else
)

// Fault says why a request did not get normal treatment.
type Fault string

// Faults recorded on calls.
const (
	FaultNone      Fault = ""
	FaultAuth      Fault = "auth"       // wrong, missing or expired token, or wrong directory
	FaultRateLimit Fault = "rate-limit" // 429 from RateLimit
	FaultInjected  Fault = "injected"   // FailNext or FailRate
	FaultDropped   Fault = "dropped"    // committed, then the connection was closed
	FaultCanceled  Fault = "canceled"   // the client went away (or Close was called) during Latency
)

// CallKey identifies a counter: an HTTP method and a request kind.
type CallKey struct {
	Method string
	Kind   Kind
}

// Call is one served request, as recorded with Options.RecordCalls.
type Call struct {
	Method string
	Path   string // URL path as received
	Query  string // raw query
	Kind   Kind
	Status int // the status sent, or that would have been sent when Fault is FaultDropped; 0 when canceled
	Fault  Fault
}

// callStats counts and (optionally) records completed requests, and wakes
// waiters after each one.
type callStats struct {
	mu       sync.Mutex
	record   bool
	counts   map[CallKey]int
	log      []Call
	inflight int
	changed  chan struct{} // closed and replaced on every arrival and completion
}

func newCallStats(record bool) *callStats {
	return &callStats{record: record, counts: map[CallKey]int{}, changed: make(chan struct{})}
}

// arrive marks a request as being served.
func (c *callStats) arrive() {
	c.mu.Lock()
	c.inflight++
	c.broadcastLocked()
	c.mu.Unlock()
}

// add counts a completed request (one that arrived).
func (c *callStats) add(call Call) {
	c.mu.Lock()
	c.inflight--
	c.counts[CallKey{call.Method, call.Kind}]++
	if c.record {
		c.log = append(c.log, call)
	}
	c.broadcastLocked()
	c.mu.Unlock()
}

func (c *callStats) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait blocks until cond (called with mu held) is true or ctx ends.
func (c *callStats) wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok := cond()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *callStats) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[CallKey]int{}
	c.log = nil
	c.broadcastLocked()
}

// countLocked sums counters matching method and kind ("" matches any).
func (c *callStats) countLocked(method string, kind Kind) int {
	n := 0
	for k, v := range c.counts {
		if (method == "" || k.Method == method) && (kind == "" || k.Kind == kind) {
			n += v
		}
	}
	return n
}

// Calls returns a copy of the per (method, kind) request counters. Every
// completed request is counted, whatever its status or fault.
func (s *Server) Calls() map[CallKey]int {
	c := s.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[CallKey]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// CallCount returns the number of completed requests with the given method
// and kind; an empty method or kind matches any.
func (s *Server) CallCount(method string, kind Kind) int {
	c := s.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.countLocked(method, kind)
}

// CallLog returns the recorded requests in completion order; it is empty
// unless Options.RecordCalls is set.
func (s *Server) CallLog() []Call {
	c := s.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// WaitCalls blocks until at least n requests matching method and kind (""
// matches any) have completed, or ctx ends. It polls nothing: it wakes on
// each request.
func (s *Server) WaitCalls(ctx context.Context, method string, kind Kind, n int) error {
	c := s.calls
	got := 0
	err := c.wait(ctx, func() bool {
		got = c.countLocked(method, kind)
		return got >= n
	})
	if err != nil {
		return fmt.Errorf("atlassiantest: waiting for %d %q %q calls, have %d: %w", n, method, kind, got, err)
	}
	return nil
}

// InFlight returns the number of requests being served right now (arrived,
// not yet answered), for example waiting in Latency.
func (s *Server) InFlight() int {
	c := s.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight
}

// WaitInFlight blocks until at least n requests are being served at once,
// or ctx ends. With Latency it lets a test act (kill a client, expire the
// token, ...) while a request is provably in flight.
func (s *Server) WaitInFlight(ctx context.Context, n int) error {
	c := s.calls
	if err := c.wait(ctx, func() bool { return c.inflight >= n }); err != nil {
		return fmt.Errorf("atlassiantest: waiting for %d requests in flight: %w", n, err)
	}
	return nil
}
