package atlassiantest

import (
	"crypto/subtle"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// faults holds the token state and every fault knob. All knobs are safe to
// change while requests are being served.
type faults struct {
	mu   sync.Mutex
	seed uint64
	rng  *rand.Rand

	token          string
	tokenExpired   bool
	tokenExpiresAt time.Time

	rps, burst, tokens float64 // token bucket; rps 0 = unlimited
	last               time.Time
	retryAfter         bool // send Retry-After on 429 (default true)
	rateHeaders        bool // send X-RateLimit-* (default false)

	failNext       int
	failStatus     int
	failRetryAfter time.Duration
	failRate       float64
	failStatuses   []int

	dropNext int
	dropRate float64

	latency time.Duration
}

type header struct{ name, value string }

func newFaults(o Options) *faults {
	f := &faults{seed: o.Seed, token: o.Token, tokenExpiresAt: o.TokenExpiresAt}
	f.clear()
	return f
}

// clear resets every fault knob (not the token) and re-seeds the RNG.
func (f *faults) clear() {
	f.rng = rand.New(rand.NewPCG(f.seed, f.seed^0x9e3779b97f4a7c15))
	f.rps, f.burst, f.tokens, f.last = 0, 0, 0, time.Time{}
	f.retryAfter, f.rateHeaders = true, false
	f.failNext, f.failStatus, f.failRetryAfter = 0, 0, 0
	f.failRate, f.failStatuses = 0, nil
	f.dropNext, f.dropRate = 0, 0
	f.latency = 0
}

func (f *faults) authorized(token string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenExpired || (!f.tokenExpiresAt.IsZero() && !now.Before(f.tokenExpiresAt)) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(f.token)) == 1
}

// admit takes a token from the bucket. It returns false when the request
// is over the limit, and the headers to send either way.
func (f *faults) admit(now time.Time) (bool, []header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rps <= 0 {
		return true, nil
	}
	if d := now.Sub(f.last); d > 0 {
		f.tokens = math.Min(f.burst, f.tokens+d.Seconds()*f.rps)
		f.last = now
	}
	ok := f.tokens >= 1
	if ok {
		f.tokens--
	}
	var hs []header
	if f.rateHeaders {
		full := time.Duration((f.burst - f.tokens) / f.rps * float64(time.Second))
		hs = append(hs,
			header{"X-RateLimit-Limit", strconv.Itoa(int(f.burst))},
			header{"X-RateLimit-Remaining", strconv.Itoa(int(math.Floor(f.tokens)))},
			header{"X-RateLimit-Reset", now.Add(full).UTC().Format(time.RFC3339)})
	}
	if !ok && f.retryAfter {
		wait := time.Duration((1 - f.tokens) / f.rps * float64(time.Second))
		hs = append(hs, header{"Retry-After", retryAfterSeconds(wait)})
	}
	return ok, hs
}

// retryAfterSeconds renders d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

// inject decides whether this request fails on purpose: first the FailNext
// budget, then the FailRate dice. retryAfter 0 means no Retry-After header.
func (f *faults) inject() (status int, retryAfter time.Duration, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return f.failStatus, f.failRetryAfter, true
	}
	if f.failRate > 0 && f.rng.Float64() < f.failRate {
		return f.failStatuses[f.rng.IntN(len(f.failStatuses))], 0, true
	}
	return 0, 0, false
}

// dropNow decides whether a committed write loses its response.
func (f *faults) dropNow() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dropNext > 0 {
		f.dropNext--
		return true
	}
	return f.dropRate > 0 && f.rng.Float64() < f.dropRate
}

func (f *faults) getLatency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	return min(x, 1)
}

func checkStatus(status int) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("atlassiantest: injected status %d: want 400..599", status))
	}
}

// ---- public knobs ----

// RateLimit limits the directory to rps requests per second with bursts of
// up to burst (at least 1), as one token bucket shared by every client, on
// the Options.Now clock. Requests over the limit get 429 with a SCIM error
// body and, unless RateLimitHeaders turned it off, a Retry-After header in
// whole seconds. rps <= 0 removes the limit. The bucket starts full.
func (s *Server) RateLimit(rps float64, burst int) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if rps <= 0 || math.IsNaN(rps) {
		f.rps, f.burst, f.tokens = 0, 0, 0
		return
	}
	f.rps, f.burst = rps, float64(max(1, burst))
	f.tokens, f.last = f.burst, s.now()
}

// RateLimitHeaders chooses the headers sent with rate limiting: Retry-After
// on 429 (default on) and X-RateLimit-Limit/-Remaining/-Reset (ISO 8601) on
// every limited response (default off); Atlassian's real choice is unknown.
func (s *Server) RateLimitHeaders(retryAfter, xRateLimit bool) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retryAfter, f.rateHeaders = retryAfter, xRateLimit
}

// FailNext makes the next n authenticated, admitted requests fail with
// status (400..599) before touching any state. A positive retryAfter adds a
// Retry-After header (whole seconds, rounded up). Bodies are SCIM errors,
// except 502 and 504, which get an HTML page like an edge proxy's.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	checkStatus(status)
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext, f.failStatus, f.failRetryAfter = max(0, n), status, max(0, retryAfter)
}

// FailRate makes each authenticated, admitted request fail with the given
// probability, with a status picked from statuses (default 500 and 503),
// using the Options.Seed random source: a given sequence of requests sees
// the same failures on every run.
func (s *Server) FailRate(fraction float64, statuses []int) {
	if len(statuses) == 0 {
		statuses = []int{500, 503}
	}
	for _, st := range statuses {
		checkStatus(st)
	}
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failRate, f.failStatuses = clamp01(fraction), slices.Clone(statuses)
}

// Latency delays every request by d before anything else happens (auth
// included). The wait ends early if the client goes away.
func (s *Server) Latency(d time.Duration) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = max(0, d)
}

// DropAfterCommit makes the next n successful writes (POST, PUT, PATCH,
// DELETE answered 2xx) commit and then close the connection without any
// response: the client sees a transport error although the change happened.
func (s *Server) DropAfterCommit(n int) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropNext = max(0, n)
}

// DropAfterCommitRate drops the response of each successful write with the
// given probability (Options.Seed random source), after committing it.
func (s *Server) DropAfterCommitRate(fraction float64) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropRate = clamp01(fraction)
}

// ExpireToken makes the current token invalid: every request then fails
// with Options.AuthFailureStatus and Atlassian's non-SCIM body
// {"error":"Not authorized to access : scim/directory/{id}/...","traceId":"..."}.
// SetToken installs a valid token again.
func (s *Server) ExpireToken() {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenExpired = true
}

// SetToken replaces the accepted token, as regenerating the key in
// admin.atlassian.com does (the old one stops working at once), and clears
// ExpireToken and Options.TokenExpiresAt.
func (s *Server) SetToken(token string) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.tokenExpired, f.tokenExpiresAt = token, false, time.Time{}
}

// ClearFaults removes every fault knob (rate limit and its header choice,
// failures, drops, latency) and re-seeds the random source. Token state is
// kept: see SetToken.
func (s *Server) ClearFaults() {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clear()
}
