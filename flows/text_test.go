package flows

import (
	"math"
	"testing"
)

// TestValueTextFloats: a number with a fraction shows rounded to 15
// significant digits, without the binary noise of float arithmetic, as
// decimal arithmetic would give it; whole and exact numbers as before.
func TestValueTextFloats(t *testing.T) {
	// Variables, not constants: Go computes constant expressions exactly.
	a, b, c, d := 1.1, 0.1, 0.2, 0.9
	for _, tc := range []struct {
		v    any
		want string
	}{
		{a * a, "1.21"},
		{b + c, "0.3"},
		{1 - d, "0.1"},
		{100 * a, "110"},
		{3 * b, "0.3"},
		{-(b + c), "-0.3"},
		{2.5, "2.5"},
		{0.125, "0.125"},
		{42.0, "42"},
		{1e20, "100000000000000000000"},
		{float64(1 << 60), "1152921504606847000"},
		{123456789.123, "123456789.123"},
		{b / 3 * 10, "0.333333333333333"},
		{2.0 / 3, "0.666666666666667"},
		{0.000001, "0.000001"},
		{math.Inf(1), "+Inf"},
		{[]any{a * a, "a", 2.0}, `[1.21,"a",2]`},
		{map[string]any{"total": b + c, "items": []any{a * a}}, `{"items":[1.21],"total":0.3}`},
		{[]any{1.5, "x"}, `[1.5,"x"]`},
	} {
		if got := ValueText(tc.v); got != tc.want {
			t.Errorf("ValueText(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	// The list given is not changed.
	l := []any{b + c}
	ValueText(l)
	if l[0] != b+c {
		t.Errorf("the list was changed: %v", l)
	}
}
