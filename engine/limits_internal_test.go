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
