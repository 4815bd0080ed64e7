package main

import (
	"math"
	"runtime/metrics"
	"testing"
)

// A quantile is read from what the run added to the histogram, not from
// what it held before the run.
func TestHistQuantile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.002, 0.004, math.Inf(1)}
	before := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 0, 0, 1000}}
	after := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{90, 9, 1, 1000}}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.001}, {0.9, 0.002}, {0.99, 0.004}} {
		if got := histQuantile(before, after, c.q); got != c.want {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
	// Only the unbounded bucket grew: its lower bound.
	grown := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 0, 0, 1005}}
	if got := histQuantile(before, grown, 0.99); got != 0.004 {
		t.Errorf("unbounded bucket: %v, want its lower bound 0.004", got)
	}
	if got := histQuantile(before, before, 0.99); got != 0 {
		t.Errorf("nothing added: %v, want 0", got)
	}
}
