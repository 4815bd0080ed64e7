package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/cputime"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// openTest opens a fresh store in a temporary directory and closes it at the
// end of the test. Tests skip fsync: durability is bbolt's, not ours.
func openTest(t testing.TB) (*Bolt, *clock) {
	t.Helper()
	c := &clock{now: t0}
	path := filepath.Join(t.TempDir(), "parley.db")
	b, err := Open(path, Options{Now: c.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, c
}

// session builds a minimal session.
func session(id string, status flows.Status, urn string) *flows.Session {
	return &flows.Session{
		ID: id, FlowID: "flow-1", Status: status,
		Contact:   flows.Contact{URN: urn},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func tp(t time.Time) *time.Time { return &t }

func mustSave(t testing.TB, b *Bolt, turn *Turn) {
	t.Helper()
	if err := b.SaveTurn(context.Background(), turn); err != nil {
		t.Fatalf("SaveTurn %s: %v", turn.Session.ID, err)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func stats(t testing.TB, b *Bolt) Stats {
	t.Helper()
	st, err := b.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// cpuMeter reports the process's CPU time per operation as cpu-ns/op: on a
// shared machine, where ns/op also counts the time spent waiting for a
// core, the steadier figure. Start it just before the measured loop.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{cputime.Process()} }

func (m cpuMeter) report(b *testing.B, ops int) {
	if used := cputime.Process() - m.start; used > 0 && ops > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(ops), "cpu-ns/op")
	}
}

// inParallel runs fn(0) to fn(n-1) on n goroutines and fails t with the
// first error any returns.
func inParallel(t testing.TB, n int, fn func(w int) error) {
	t.Helper()
	errs := make(chan error, n)
	for w := range n {
		go func() { errs <- fn(w) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
