package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scimgate/scim-gateway/internal/canon"
)

func TestDiffAttrs(t *testing.T) {
	old := map[string]any{
		"schemas": []any{"a"}, "userName": "u", "title": "T", "nickName": "n",
		"emails": []any{map[string]any{"value": "u@x", "primary": true}}, "count": json.Number("1"),
	}
	new := map[string]any{
		"schemas": []any{"b"}, "userName": "u", "title": "T2", "displayName": "D",
		"emails": []any{map[string]any{"primary": true, "value": "u@x"}}, "count": 1,
	}
	got := fmt.Sprint(diffAttrs(old, new))
	want := fmt.Sprint([]attrChange{
		{Attr: "displayName", New: "D"},
		{Attr: "nickName", Old: "n", Remove: true},
		{Attr: "title", Old: "T", New: "T2"},
	})
	if got != want {
		t.Errorf("diff = %s\nwant   %s", got, want)
	}
	ops := patchOps(diffAttrs(old, new))
	if fmt.Sprint(ops) != fmt.Sprint([]PatchOperation{{"replace", "displayName", "D"}, {"remove", "nickName", nil}, {"replace", "title", "T2"}}) {
		t.Errorf("ops = %v", ops)
	}
	if d := diffAttrs(nil, map[string]any{"id": "x", "meta": 1, "groups": 2}); len(d) != 0 {
		t.Errorf("read-only attributes diffed: %v", d)
	}
}

func TestHashSurvivesJSONRoundTrip(t *testing.T) {
	m := person("h1", "a<b>&@example.com", "Ä Ö").Attributes
	m["n"], m["f"] = 3, 2.5
	var back map[string]any
	if err := decodeJSON(canon.JSON(m), &back); err != nil {
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

func TestRemoteHashIgnoresVolatileAttributes(t *testing.T) {
	a := map[string]any{"id": "1", "userName": "u", "meta": map[string]any{"lastModified": "t1"}, "groups": []any{}}
	b := map[string]any{"id": "1", "userName": "u", "meta": map[string]any{"lastModified": "t2"}, "groups": []any{"g"}}
	if RemoteHash(a) != RemoteHash(b) {
		t.Error("meta or groups change the remote hash")
	}
	b["userName"] = "v"
	if RemoteHash(a) == RemoteHash(b) {
		t.Error("a userName change does not change the remote hash")
	}
	if RemoteHash(nil) != "" {
		t.Error("nil resource has a hash")
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
	re := func(s int) error { return fmt.Errorf("wrapped: %w", &RemoteError{Status: s}) }
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
