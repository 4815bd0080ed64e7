package cputime

import (
	"testing"
	"time"
)

// Spinning for a while shows up as CPU time.
func TestProcessCounts(t *testing.T) {
	start := Process()
	if start == 0 {
		t.Skip("CPU time not reported here")
	}
	x := 0
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
		x++
	}
	if used := Process() - start; used < 10*time.Millisecond {
		t.Errorf("50 ms of spinning (%d rounds) used %v of CPU", x, used)
	}
}
