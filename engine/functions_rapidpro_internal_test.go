package engine

import (
	"reflect"
	"testing"
)

// TestRapidProResultTypesAreTheResults: each RapidPro function declared of
// one result kind gives a value of that kind, so the check at load refuses
// no use that would run.
func TestRapidProResultTypesAreTheResults(t *testing.T) {
	args := map[string][]any{
		"format_tel": {"tel:+12065551212"}, "word_slice": {"a b c", 2}, "field": {"a,b", 2, ","},
		"left": {"abc", 2}, "right": {"abc", 2}, "mid": {"abc", 2, 1}, "substitute": {"abc", "b", "x"},
		"clean": {"a\tb"}, "char": {65}, "unichar": {65}, "fixed": {1.5}, "legacy_fixed": {1234.5},
		"read_digits": {"1234"}, "word_count": {"a b"}, "code": {"A"}, "unicode": {"A"},
		"legacy_cmp": {1, 2}, "randbetween": {1, 3}, "power": {2, 3}, "legacy_round": {2.5},
		"legacy_roundup": {2.1}, "legacy_rounddown": {2.9}, "legacy_num": {"2"}, "rand": {},
		"legacy_eq": {"a", "A"}, "legacy_bool": {"true"}, "datevalue": {"2024-01-31"}, "today": {},
		"legacy_date": {2024, 2, 29}, "legacy_mod": {7, 3},
		"legacy_date_part": {"2024-01-31", "day"}, "legacy_datedif": {"2024-01-31", "2024-03-01", "m"},
	}
	for name, typ := range rapidproResultTypes {
		t.Run(name, func(t *testing.T) {
			a, ok := args[name]
			if !ok {
				t.Fatalf("no arguments to call %s with", name)
			}
			fn := Functions[name]
			if name == "datevalue" || name == "today" || name == "legacy_date_part" || name == "legacy_datedif" {
				// Given the turn's date format and time only in a turn
				// (clockCalls): TestRapidProResultTypesCheckedAtLoad runs them.
				return
			}
			got, err := fn(a...)
			if err != nil {
				t.Fatal(err)
			}
			want := reflect.TypeOf(typ).Elem().Out(0)
			if reflect.TypeOf(got) != want {
				t.Errorf("%s gives a %T, declared %s", name, got, want)
			}
		})
	}
}
