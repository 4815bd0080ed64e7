package main

import (
	"math"
	"runtime/metrics"
)

// Go runtime figures of a run (runtime/metrics), read before and after the
// load: how long runnable goroutines waited for a P (the scheduler's
// latency, sampled by the runtime), how often the garbage collector ran and
// how long its stop-the-world pauses were, and the live heap at the end. At
// saturation a turn's latency is mostly such waits: they tell a tail that
// comes from queueing for the CPU from one that comes from the collector.
const (
	metricSchedLatency = "/sched/latencies:seconds"
	metricGCPauses     = "/sched/pauses/total/gc:seconds"
	metricGCCycles     = "/gc/cycles/total:gc-cycles"
	metricHeapLive     = "/gc/heap/live:bytes"
)

// runtimeSnap is a copy of the cumulative figures at one moment.
type runtimeSnap struct {
	sched, pauses *metrics.Float64Histogram
	gcCycles      uint64
	heapLive      uint64
}

func readRuntime() runtimeSnap {
	s := []metrics.Sample{{Name: metricSchedLatency}, {Name: metricGCPauses}, {Name: metricGCCycles}, {Name: metricHeapLive}}
	metrics.Read(s)
	var r runtimeSnap
	r.sched = copyHist(s[0].Value)
	r.pauses = copyHist(s[1].Value)
	if s[2].Value.Kind() == metrics.KindUint64 {
		r.gcCycles = s[2].Value.Uint64()
	}
	if s[3].Value.Kind() == metrics.KindUint64 {
		r.heapLive = s[3].Value.Uint64()
	}
	return r
}

// copyHist copies a histogram's counts: the runtime may reuse them.
func copyHist(v metrics.Value) *metrics.Float64Histogram {
	if v.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := v.Float64Histogram()
	return &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
}

// histQuantile is the upper bound of the bucket holding quantile q of the
// counts added between a and b, in seconds (0 when nothing was added). A
// bucket unbounded above gives its lower bound.
func histQuantile(a, b *metrics.Float64Histogram, q float64) float64 {
	if a == nil || b == nil || len(a.Counts) != len(b.Counts) {
		return 0
	}
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var seen uint64
	for i := range b.Counts {
		seen += b.Counts[i] - a.Counts[i]
		if seen > rank {
			hi := b.Buckets[i+1]
			if hi > 1e300 { // +Inf
				return b.Buckets[i]
			}
			return hi
		}
	}
	return b.Buckets[len(b.Buckets)-1]
}

// setRuntime fills the result's runtime figures from two snapshots.
func (r *BenchResult) setRuntime(a, b runtimeSnap, elapsedSec float64) {
	ms := func(s float64) float64 { return round3(s * 1e3) }
	p50, p99 := ms(histQuantile(a.sched, b.sched, 0.5)), ms(histQuantile(a.sched, b.sched, 0.99))
	r.SchedLatencyP50Ms, r.SchedLatencyP99Ms = &p50, &p99
	r.GCPauseP99Ms = ms(histQuantile(a.pauses, b.pauses, 0.99))
	if elapsedSec > 0 {
		r.GCCyclesPerSec = round1(float64(b.gcCycles-a.gcCycles) / elapsedSec)
	}
	r.HeapLiveMB = round1(float64(b.heapLive) / (1 << 20))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
