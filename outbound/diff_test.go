package outbound

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/canon"
	"github.com/scimgate/scim-gateway/outbound/scimclient"
)

func TestHashSurvivesJSONRoundTrip(t *testing.T) {
	m := person("h1", "a<b>&@example.com", "Ä Ö").Attributes
	m["n"], m["f"] = 3, 2.5
	var back map[string]any
	if err := canon.Decode(canon.JSON(m), &back); err != nil {
		t.Fatal(err)
	}
	if canon.Hash(m) != canon.Hash(back) {
		t.Error("hash changed through JSON")
	}
	back["title"] = "other"
	if canon.Hash(m) == canon.Hash(back) {
		t.Error("hash ignores a change")
	}
}

func TestProjectMatchesNamesCaseInsensitively(t *testing.T) {
	remote := map[string]any{"UserName": "u", "displayName": "d", "meta": 1}
	got := project(remote, map[string]any{"userName": "x", "displayName": "y", "title": "z"})
	if fmt.Sprint(got) != fmt.Sprint(map[string]any{"userName": "u", "displayName": "d"}) {
		t.Errorf("project = %v", got)
	}
}

func TestBackoff(t *testing.T) {
	base, maxD := time.Second, 5*time.Minute
	for _, tc := range []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{0, 0.5, 500 * time.Millisecond},
		{1, 0.5, time.Second},
		{3, 0.999, 7992 * time.Millisecond},
		{8, 0.5, 128 * time.Second},
		{9, 0.5, 150 * time.Second}, // 512 s capped at 300 s
		{200, 1 - 1e-9, maxD - 300*time.Nanosecond},
		{5, 0, 0},
	} {
		if got := backoff(tc.attempt, base, maxD, tc.rnd); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.attempt, tc.rnd, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	re := func(s int) error { return fmt.Errorf("wrapped: %w", &scimclient.RemoteError{Status: s}) }
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want class
	}{
		{live, re(429), classRetry},
		{live, re(500), classRetry},
		{live, re(503), classRetry},
		{live, re(408), classRetry},
		{live, re(401), classAuth},
		{live, re(403), classAuth},
		{live, re(400), classPark},
		{live, re(404), classPark},
		{live, re(409), classPark},
		{live, &conflictError{detail: "x"}, classPark},
		{live, &invalidDesiredError{detail: "x"}, classPark},
		{live, fmt.Errorf("x: %w", &leaseError{}), classLease},
		{live, errors.New("connection reset"), classRetry},
		{live, context.DeadlineExceeded, classRetry},
		{stopped, re(500), classAbandon},
		{stopped, context.Canceled, classAbandon},
	} {
		if got := classify(tc.ctx, tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
