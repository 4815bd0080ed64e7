package cputime

import (
	"testing"
	"time"
)

// Spinning shows up as CPU time. The loop spins until 10 ms of CPU time
// are counted, giving up after 5 s of wall time: on a loaded machine the
// process may get only a small share of a core.
func TestProcessCounts(t *testing.T) {
	start := Process()
	if start == 0 {
		t.Skip("CPU time not reported here")
	}
	x := 0
	began := time.Now()
	for time.Since(began) < 5*time.Second {
		for range 100000 {
			x++
		}
		if Process()-start >= 10*time.Millisecond {
			return
		}
	}
	t.Errorf("5 s of spinning (%d rounds) used %v of CPU, want at least 10ms", x, Process()-start)
}
