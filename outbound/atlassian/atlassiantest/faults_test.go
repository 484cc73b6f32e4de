package atlassiantest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var traceRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkAuthFailure asserts Atlassian's non-SCIM "Not authorized" answer.
func checkAuthFailure(t *testing.T, r result, status int, target string) {
	t.Helper()
	r.expect(t, status)
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if len(body) != 2 || body["error"] != "Not authorized to access : "+target || !traceRE.MatchString(body["traceId"]) {
		t.Fatalf("auth failure body %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestAuthFailures(t *testing.T) {
	h := start(t, Options{DirectoryID: "dir-1"})
	cases := []struct {
		name string
		auth string
		path string
	}{
		{"missing header", "", "/Users"},
		{"wrong token", "Bearer nope", "/Users"},
		{"no scheme", "secret", "/Users"},
		{"basic", "Basic secret", "/Groups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.doWith("GET", c.path, nil, func(r *request) {
				if c.auth != "" {
					r.Header.Set("Authorization", c.auth)
				}
			})
			checkAuthFailure(t, r, 401, "scim/directory/dir-1"+c.path)
		})
	}
	r := h.doWith("GET", strings.Replace(h.s.URL(), "dir-1", "dir-2", 1)+"/Users", nil, func(r *request) {
		r.Header.Set("Authorization", "Bearer secret")
	})
	checkAuthFailure(t, r, 401, "scim/directory/dir-2/Users")
	h.doWith("GET", "/Users", nil, func(r *request) { r.Header.Set("Authorization", "bearer secret") }).expect(t, 200)
	if n, _ := h.s.Counts(); n != 0 {
		t.Fatal("unauthenticated requests changed state")
	}
	// An unauthenticated write does nothing.
	h.doWith("POST", "/Users", user("a@example.com"), func(r *request) {}).expect(t, 401)
	if n, _ := h.s.Counts(); n != 0 {
		t.Fatal("unauthenticated POST created a user")
	}
}

func TestExpireTokenAndRotate(t *testing.T) {
	h := start(t, Options{})
	h.do("GET", "/Users", nil).expect(t, 200)
	h.s.ExpireToken()
	checkAuthFailure(t, h.do("GET", "/Users", nil), 401, "scim/directory/test-directory/Users")
	checkAuthFailure(t, h.do("PATCH", "/Users/x", patch(op("replace", "title", "x"))), 401, "scim/directory/test-directory/Users")
	h.s.SetToken("rotated")
	checkAuthFailure(t, h.do("GET", "/Users", nil), 401, "scim/directory/test-directory/Users")
	h.token = "rotated"
	h.do("GET", "/Users", nil).expect(t, 200)
}

func TestAuthFailureStatus403(t *testing.T) {
	h := start(t, Options{AuthFailureStatus: http.StatusForbidden})
	h.s.ExpireToken()
	checkAuthFailure(t, h.do("GET", "/Groups", nil), 403, "scim/directory/test-directory/Groups")
	if _, err := New(Options{AuthFailureStatus: 500}); err == nil {
		t.Error("AuthFailureStatus 500 accepted")
	}
}

func TestTokenExpiresAt(t *testing.T) {
	clock := newClock()
	h := start(t, Options{Now: clock.Now, TokenExpiresAt: clock.Now().Add(time.Hour)})
	h.do("GET", "/Users", nil).expect(t, 200)
	clock.Add(time.Hour)
	checkAuthFailure(t, h.do("GET", "/Users", nil), 401, "scim/directory/test-directory/Users")
}

func TestRateLimitRetryAfter(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	h.s.RateLimit(10, 3)
	for range 3 {
		h.do("GET", "/Users", nil).expect(t, 200)
	}
	r := h.do("GET", "/Users", nil)
	r.scimErr(t, 429, "")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if r.header.Get("X-RateLimit-Limit") != "" {
		t.Error("X-RateLimit headers are off by default")
	}
	h.do("POST", "/Users", user("a@example.com")).expect(t, 429)
	if n, _ := h.s.Counts(); n != 0 {
		t.Fatal("a rate-limited POST created a user")
	}
	h.clock.Add(100 * time.Millisecond) // one token
	h.do("GET", "/Users", nil).expect(t, 200)
	h.do("GET", "/Users", nil).expect(t, 429)
	log := h.s.CallLog()
	if last := log[len(log)-1]; last.Fault != FaultRateLimit || last.Status != 429 {
		t.Errorf("last call %+v", last)
	}
	// A slow rate gives a longer Retry-After.
	h.s.RateLimit(0.25, 1)
	h.do("GET", "/Users", nil).expect(t, 200)
	if got := h.do("GET", "/Users", nil).header.Get("Retry-After"); got != "4" {
		t.Errorf("Retry-After %q, want 4", got)
	}
	h.s.RateLimit(0, 0)
	for range 10 {
		h.do("GET", "/Users", nil).expect(t, 200)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	h := start(t, Options{})
	h.s.RateLimit(2, 2)
	h.s.RateLimitHeaders(false, true)
	r := h.do("GET", "/Users", nil).expect(t, 200)
	if r.header.Get("X-RateLimit-Limit") != "2" || r.header.Get("X-RateLimit-Remaining") != "1" {
		t.Errorf("headers %v", r.header)
	}
	now := h.clock.Now()
	if reset, err := time.Parse(time.RFC3339, r.header.Get("X-RateLimit-Reset")); err != nil || reset.Before(now.Truncate(time.Second)) || reset.After(now.Add(time.Second)) {
		t.Errorf("X-RateLimit-Reset %q: %v", r.header.Get("X-RateLimit-Reset"), err)
	}
	h.do("GET", "/Users", nil).expect(t, 200)
	r = h.do("GET", "/Users", nil).expect(t, 429)
	if _, ok := r.header["Retry-After"]; ok {
		t.Error("Retry-After sent although switched off")
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("remaining %q", r.header.Get("X-RateLimit-Remaining"))
	}
}

// TestRateLimitAccuracy drives the bucket on the fake clock: one request
// every millisecond for a simulated second admits burst + rps requests.
func TestRateLimitAccuracy(t *testing.T) {
	h := start(t, Options{})
	h.s.RateLimit(50, 5)
	ok := 0
	for range 1000 {
		h.clock.Add(time.Millisecond)
		if h.do("GET", "/ServiceProviderConfig", nil).status == 200 {
			ok++
		}
	}
	if ok < 54 || ok > 56 {
		t.Errorf("admitted %d requests in one simulated second, want 55 (5 burst + 50/s)", ok)
	}
}

// TestRateLimitAccuracyWallClock checks the limiter on the real clock, which
// two gateway replicas would share; it takes about 250ms by nature.
func TestRateLimitAccuracyWallClock(t *testing.T) {
	h := start(t, Options{Now: time.Now})
	h.s.RateLimit(100, 1)
	ok := 0
	begin := time.Now()
	for time.Since(begin) < 250*time.Millisecond {
		if h.do("GET", "/ServiceProviderConfig", nil).status == 200 {
			ok++
		}
	}
	want := 1 + 100*time.Since(begin).Seconds()
	if float64(ok) < want*0.7 || float64(ok) > want*1.1+1 {
		t.Errorf("admitted %d, want about %.0f", ok, want)
	}
}

func TestFailNext(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	h.s.FailNext(2, 503, 1500*time.Millisecond)
	for range 2 {
		r := h.do("POST", "/Users", user("a@example.com"))
		r.scimErr(t, 503, "")
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After %q, want 2", got)
		}
	}
	if n, _ := h.s.Counts(); n != 0 {
		t.Fatal("an injected failure created a user")
	}
	h.do("POST", "/Users", user("a@example.com")).expect(t, 201)
	h.s.FailNext(1, 429, 0)
	r := h.do("GET", "/Users", nil)
	r.scimErr(t, 429, "")
	if _, ok := r.header["Retry-After"]; ok {
		t.Error("Retry-After sent for retryAfter 0")
	}
	h.s.FailNext(1, 502, 0)
	r = h.do("GET", "/Users", nil).expect(t, 502)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "502 Bad Gateway") {
		t.Errorf("502 body %q (%s)", r.body, r.header.Get("Content-Type"))
	}
	var faults []Fault
	for _, c := range h.s.CallLog() {
		faults = append(faults, c.Fault)
	}
	want := []Fault{FaultInjected, FaultInjected, FaultNone, FaultInjected, FaultInjected}
	if !slices.Equal(faults, want) {
		t.Errorf("faults %v, want %v", faults, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("FailNext with status 200 did not panic")
		}
	}()
	h.s.FailNext(1, 200, 0)
}

func TestFailRateDeterministic(t *testing.T) {
	run := func(seed uint64) []int {
		h := start(t, Options{Seed: seed})
		h.s.FailRate(0.3, []int{500, 503})
		var statuses []int
		for range 200 {
			statuses = append(statuses, h.do("GET", "/ServiceProviderConfig", nil).status)
		}
		return statuses
	}
	a, b, c := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different failures")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds, same failures")
	}
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	if failed := count[500] + count[503]; failed < 40 || failed > 80 || count[500] == 0 || count[503] == 0 || count[200]+failed != 200 {
		t.Errorf("statuses %v", count)
	}
}

func TestLatency(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	h.s.Latency(40 * time.Millisecond)
	begin := time.Now()
	h.do("GET", "/Users", nil).expect(t, 200)
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("request took %v, want >= 40ms", d)
	}
	// A client that gives up is not served; the call is logged as canceled.
	h.s.Latency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.s.URL()+"/Users", nil)
	req.Header.Set("Authorization", "Bearer secret")
	if resp, err := h.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request with a 20ms deadline succeeded despite 1 minute latency")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := h.s.WaitCalls(wctx, "GET", KindUsers, 2); err != nil {
		t.Fatal(err)
	}
	if last := h.s.CallLog()[1]; last.Fault != FaultCanceled || last.Status != 0 {
		t.Errorf("canceled call %+v", last)
	}
	// Close does not wait for the latency: the waiting request is aborted.
	errc := make(chan error, 1)
	go func() {
		r := h.do("GET", "/Users", nil)
		if r.err == nil {
			errc <- fmt.Errorf("aborted request got a response: %d", r.status)
			return
		}
		errc <- nil
	}()
	if err := h.s.WaitInFlight(wctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := h.s.InFlight(); n != 1 {
		t.Fatalf("InFlight = %d", n)
	}
	closed := make(chan struct{})
	go func() { h.s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a request in Latency")
	}
	if err := <-errc; err != nil {
		t.Error(err)
	}
}

func TestDropAfterCommit(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	h.s.DropAfterCommit(1)
	r := h.do("POST", "/Users", user("drop@example.com"))
	if r.err == nil {
		t.Fatalf("dropped POST got a response: %d %s", r.status, r.body)
	}
	u, ok := h.s.UserByUserName("drop@example.com")
	if !ok {
		t.Fatal("the dropped POST was not committed")
	}
	// The client retries: the retry must not create a duplicate.
	h.do("POST", "/Users", user("drop@example.com")).scimErr(t, 409, "uniqueness")
	m := h.do("GET", listQuery(`userName eq "drop@example.com"`), nil).expect(t, 200).obj(t)
	if m["totalResults"] != 1.0 || get(m, "Resources", 0, "id") != u.ID {
		t.Fatalf("lookup after drop: %v", m)
	}
	log := h.s.CallLog()
	if log[0].Fault != FaultDropped || log[0].Status != 201 || log[0].Method != "POST" {
		t.Errorf("dropped call %+v", log[0])
	}
	// PATCH and DELETE commit too.
	h.s.DropAfterCommit(2)
	if r := h.do("PATCH", "/Users/"+u.ID, patch(op("replace", "title", "Dropped"))); r.err == nil {
		t.Fatal("dropped PATCH got a response")
	}
	if got, _ := h.s.User(u.ID); got.Title != "Dropped" {
		t.Error("dropped PATCH not committed")
	}
	if r := h.do("DELETE", "/Users/"+u.ID, nil); r.err == nil {
		t.Fatal("dropped DELETE got a response")
	}
	if _, ok := h.s.User(u.ID); ok {
		t.Error("dropped DELETE not committed")
	}
	h.do("POST", "/Users", user("after@example.com")).expect(t, 201)
}

func TestDropOnlySuccessfulWrites(t *testing.T) {
	h := start(t, Options{})
	h.createUser("a@example.com")
	h.s.DropAfterCommitRate(1)
	h.do("POST", "/Users", user("a@example.com")).scimErr(t, 409, "uniqueness")
	h.do("GET", "/Users", nil).expect(t, 200)
	h.do("PATCH", "/Users/nope", patch(op("replace", "title", "x"))).expect(t, 404)
	if r := h.do("POST", "/Users", user("b@example.com")); r.err == nil {
		t.Fatal("write not dropped at rate 1")
	}
	h.s.DropAfterCommitRate(0)
	h.do("POST", "/Users", user("c@example.com")).expect(t, 201)
}

func TestClearFaultsAndReset(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	h.createUser("a@example.com")
	h.createGroup("g")
	seeded := h.s.SeedAccount("acct@example.com")
	h.s.RateLimit(1, 1)
	h.s.FailRate(1, nil)
	h.s.Latency(time.Hour)
	h.s.DropAfterCommit(5)
	h.s.ClearFaults()
	for range 3 {
		h.do("GET", "/Users", nil).expect(t, 200)
	}
	h.createUser("b@example.com")
	h.s.SetToken("other")
	h.s.Reset()
	if u, g := h.s.Counts(); u != 0 || g != 0 || len(h.s.Calls()) != 0 || len(h.s.CallLog()) != 0 {
		t.Fatalf("after Reset: %d users, %d groups, calls %v", u, g, h.s.Calls())
	}
	h.do("GET", "/Users", nil).expect(t, 200) // the Options token is valid again
	m := h.do("POST", "/Users", user("acct@example.com")).expect(t, 201).obj(t)
	if get(m, AtlassianSchema, "atlassianAccountId") == seeded {
		t.Error("Reset kept the org accounts")
	}
}
