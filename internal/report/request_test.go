package report

import (
	"net/url"
	"testing"
	"time"
)

// t0 is the clock of the tests: "now" for relative times.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	now := t0
	r, err := Parse(url.Values{"user": {" Alice "}, "operation": {"Create"}, "status": {"SKIPPED"},
		"from": {"1d12h"}, "to": {"2026-11-27"}, "limit": {"20"}, "cursor": {"abc"}, "filter": {`detail co "x"`}}, now)
	if err != nil {
		t.Fatal(err)
	}
	q := r.Query
	if q.User != "Alice" || q.Operation != "create" || q.Status != "skipped" || q.Limit != 20 || q.Cursor != "abc" ||
		!q.From.Equal(now.Add(-36*time.Hour)) || !q.To.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) || r.Filter == nil {
		t.Errorf("parsed %+v", r)
	}
	r, err = Parse(url.Values{}, now)
	if err != nil || r.Query.Limit != DefaultLimit || r.Filter != nil || !r.Query.From.IsZero() {
		t.Errorf("defaults %+v, %v", r, err)
	}
}
