package flows

import (
	"math"
	"testing"
	"time"
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

// TestExactText: text for other programs keeps every digit of a number, and
// in both kinds of text a list or map writes its numbers, times, durations
// and time zones as they are written alone.
func TestExactText(t *testing.T) {
	b, c := 0.1, 0.2
	at := time.Date(2026, 1, 2, 3, 4, 5, 227983224, time.UTC)
	for _, tc := range []struct {
		v           any
		text, exact string
	}{
		{b + c, "0.3", "0.30000000000000004"},
		{0.12345678901234567, "0.123456789012346", "0.12345678901234566"},
		{123456789012.3456789, "123456789012.346", "123456789012.34567"},
		{1e-20, "0.00000000000000000001", "0.00000000000000000001"},
		{[]any{1e-20, b + c}, "[0.00000000000000000001,0.3]", "[0.00000000000000000001,0.30000000000000004]"},
		{1e21, "1000000000000000000000", "1000000000000000000000"},
		{[]any{1e21}, "[1000000000000000000000]", "[1000000000000000000000]"},
		{at, "2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"},
		{[]any{at}, `["2026-01-02T03:04:05Z"]`, `["2026-01-02T03:04:05Z"]`},
		{90 * time.Second, "1m30s", "1m30s"},
		{[]any{90 * time.Second, time.UTC}, `["1m30s","UTC"]`, `["1m30s","UTC"]`},
		{map[string]any{"h": 0.12345678901234567, "at": at, "l": []any{"<a>", true, nil, 2}},
			`{"at":"2026-01-02T03:04:05Z","h":0.123456789012346,"l":["\u003ca\u003e",true,null,2]}`,
			`{"at":"2026-01-02T03:04:05Z","h":0.12345678901234566,"l":["\u003ca\u003e",true,null,2]}`},
	} {
		if got := ValueText(tc.v); got != tc.text {
			t.Errorf("ValueText(%v) = %q, want %q", tc.v, got, tc.text)
		}
		if got := ExactText(tc.v); got != tc.exact {
			t.Errorf("ExactText(%v) = %q, want %q", tc.v, got, tc.exact)
		}
	}
}

// TestValueTextNeverGoText: a map whose keys are not text is a JSON object
// with its keys as text, and a Go function (a method named without its call)
// shows as nothing alone and null in a list: Go's own text of a value never
// reaches a contact.
func TestValueTextNeverGoText(t *testing.T) {
	year := time.Time{}.Year
	for _, tc := range []struct {
		v    any
		want string
	}{
		{map[any][]any{0: {2}, 1: {1, 3}}, `{"0":[2],"1":[1,3]}`},
		{map[any]any{true: 0.1 + 0.2, "a": nil}, `{"a":null,"true":0.3}`},
		{[]any{map[int]string{2: "b", 10: "a"}}, `[{"10":"a","2":"b"}]`},
		{[]int{1, 2}, `[1,2]`},
		{year, ""},
		{[]any{year, 1}, `[null,1]`},
		{map[string]any{"f": year}, `{"f":null}`},
	} {
		if got := ValueText(tc.v); got != tc.want {
			t.Errorf("ValueText(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
