package outbound

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A Runner rebuilt on reload registers its metrics again on the same
// registry: it must share the existing collectors, not fail.
func TestMetricsReRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	if a.calls != b.calls || a.failing != b.failing || a.reconciles != b.reconciles {
		t.Error("the second Runner's metrics are not the first's")
	}
}
