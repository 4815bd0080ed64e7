package engine

import (
	"encoding/json"
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
	allocs := evalAllocs(t)
	// Numbers up to 255 are boxed without an allocation.
	few, many := allocs(`count(1..10, # % 3 == 0)`), allocs(`count(map(1..200, # % 100), # % 3 == 0)`)
	if many > few+5 {
		t.Errorf("200 rounds allocate %v times, 10 rounds %v times: want as many", many, few)
	}
}

// TestEnvReadOncePerEvaluation: $env, the variables without the engine's
// own, is made once per evaluation, so a loop reading it each round does
// not copy the variables each round.
func TestEnvReadOncePerEvaluation(t *testing.T) {
	allocs := evalAllocs(t)
	// Each round's call of env() has its arguments allocated, as any call
	// inside a loop; nothing more.
	env, flow := allocs(`count(map(1..200, # % 100), "flow" in $env)`), allocs(`count(map(1..200, # % 100), "name" in flow)`)
	if env > flow+200+5 {
		t.Errorf("200 rounds reading $env allocate %v times, reading flow %v times", env, flow)
	}
}

// TestRuntimePatternCompiledOnce: a pattern made while an expression runs
// is compiled and sized once, however many rounds of a loop match it.
func TestRuntimePatternCompiledOnce(t *testing.T) {
	allocs := evalAllocs(t)
	few, many := allocs(`count(1..10, "abc" matches ("[a-c]" + "+"))`), allocs(`count(map(1..200, # % 100), "abc" matches ("[a-c]" + "+"))`)
	// Each round makes its pattern with + and calls matches (4
	// allocations); compiling it again would add some twenty.
	if many > few+200*5 {
		t.Errorf("200 matches allocate %v times, 10 matches %v times", many, few)
	}
}

// evalAllocs returns a function giving the allocations of one evaluation of
// an expression, in a turn of a new engine.
func evalAllocs(t *testing.T) func(src string) float64 {
	e := New(widgets.Registered())
	tr := &turn{e: e, ctx: t.Context(), sess: benchSession(), now: e.now()}
	return func(src string) float64 {
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
}

// TestIndentedJSONSizeIsALowerBound: toJSON's measure never passes the
// size of what it writes, so a value under the limit is never refused.
func TestIndentedJSONSizeIsALowerBound(t *testing.T) {
	for _, v := range []any{
		"abc", 12.5, nil, true, []any{}, map[string]any{},
		[]any{"a", "b"}, []any{[]any{"a"}, []any{}, map[string]any{"k": []any{"x", "y"}}},
		map[string]any{"name": "Ana", "items": []any{map[string]any{"sku": "A-1"}, map[string]any{"sku": "B-2"}}},
	} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if n := indentedJSONSize([]any{v}, 1<<20); n > len(b) {
			t.Errorf("%s: measured %d bytes, written %d", b, n, len(b))
		}
	}
}
