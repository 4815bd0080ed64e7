package engine

import (
	"testing"

	"github.com/parleyhq/parley/widgets"
)

// BenchmarkLoop evaluates an expression whose loop calls no function, so
// that what each round costs the budgets and the deadline shows.
func BenchmarkLoop(b *testing.B) {
	e := New(widgets.Registered())
	x, err := e.compileExpr(`count(1..10000, # % 3 == 0)`)
	if err != nil {
		b.Fatal(err)
	}
	t := &turn{e: e, ctx: b.Context(), sess: benchSession(), now: e.now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.evalExpr(x); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoopRoundsAllocateNothing: a round of a loop that calls no function
// costs no allocation of its own, however many rounds there are.
func TestLoopRoundsAllocateNothing(t *testing.T) {
	e := New(widgets.Registered())
	tr := &turn{e: e, ctx: t.Context(), sess: benchSession(), now: e.now()}
	allocs := func(src string) float64 {
		x, err := e.compileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(20, func() {
			if _, err := tr.evalExpr(x); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Numbers up to 255 are boxed without an allocation.
	few, many := allocs(`count(1..10, # % 3 == 0)`), allocs(`count(map(1..200, # % 100), # % 3 == 0)`)
	if many > few+5 {
		t.Errorf("200 rounds allocate %v times, 10 rounds %v times: want as many", many, few)
	}
}
