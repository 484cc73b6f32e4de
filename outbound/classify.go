package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

// class is what a reconcile failure calls for, decided on the HTTP status
// like alertmanager's retry classifier.
type class int

const (
	// classRetry: 429, 5xx, 408, timeouts, transport and store errors:
	// requeue with backoff.
	classRetry class = iota
	// classAuth: 401 or 403: the app's credentials are rejected; mark the
	// app failing and retry slowly.
	classAuth
	// classPark: any other 4xx, or a conflict: the key waits for the hub
	// resource to change.
	classPark
	// classAbandon: the Runner is stopping; hand the key back unworked.
	classAbandon
	// classLease: the claim's lease would end before the next call could
	// finish; hand the key back.
	classLease
)

func (c class) String() string {
	switch c {
	case classRetry:
		return "retry"
	case classAuth:
		return "auth"
	case classPark:
		return "parked"
	case classAbandon:
		return "abandoned"
	case classLease:
		return "lease"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// conflictError is an account that exists but is not ours to adopt.
type conflictError struct {
	detail string
	remote *scimclient.RemoteError // the 409, when there was one
}

func (e *conflictError) Error() string { return "conflict: " + e.detail }

// leaseError says the key must be handed back, due after wait.
type leaseError struct{ wait time.Duration }

func (e *leaseError) Error() string {
	return fmt.Sprintf("lease too short for the next call (rate limit wait %v)", e.wait)
}

// invalidDesiredError is a desired state the reconciler cannot apply (a
// mapping bug); the key is parked.
type invalidDesiredError struct{ detail string }

func (e *invalidDesiredError) Error() string { return "invalid desired state: " + e.detail }

// classify decides what err calls for. parent is the Runner's context: a
// failure while it is done is an abandon, whatever the error says.
func classify(parent context.Context, err error) class {
	if parent.Err() != nil {
		return classAbandon
	}
	var le *leaseError
	if errors.As(err, &le) {
		return classLease
	}
	var ce *conflictError
	var ie *invalidDesiredError
	if errors.As(err, &ce) || errors.As(err, &ie) {
		return classPark
	}
	var re *scimclient.RemoteError
	if !errors.As(err, &re) {
		return classRetry // transport, timeout, decoding, store, source
	}
	switch s := re.Status; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return classAuth
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		return classRetry
	case s >= 400:
		return classPark
	}
	return classRetry // a 1xx or 3xx: odd, try again later
}

// backoff is exponential backoff with full jitter: a uniform draw (rnd in
// [0,1)) from [0, min(max, base·2^attempt)).
func backoff(attempt int, base, max time.Duration, rnd float64) time.Duration {
	d := max
	if attempt < 62 {
		if x := base << attempt; x > 0 && x>>attempt == base && x < max {
			d = x
		}
	}
	return time.Duration(rnd * float64(d))
}

// statusOf returns the HTTP status of err, 0 when it is not a remote
// answer.
func statusOf(err error) int {
	var re *scimclient.RemoteError
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

// retryAfterOf returns the Retry-After advice carried by err.
func retryAfterOf(err error) time.Duration {
	var re *scimclient.RemoteError
	if errors.As(err, &re) {
		return re.RetryAfter
	}
	return 0
}

// detailOf is the text reported for err: the remote detail when there is
// one (without our wrapping), else the error.
func detailOf(err error) string {
	var re *scimclient.RemoteError
	if errors.As(err, &re) {
		if re.ScimType != "" {
			return re.ScimType + ": " + re.Detail
		}
		return re.Detail
	}
	var ce *conflictError
	if errors.As(err, &ce) {
		return ce.detail
	}
	return err.Error()
}
