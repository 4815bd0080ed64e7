package engine_test

import "testing"

// TestLegacyAdd: RapidPro's + and - (legacy_add, legacy_sub) add numbers,
// or days to a date, and fail naming both sides otherwise.
func TestLegacyAdd(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(legacy_add(1, '2.5'))> <@(legacy_sub('10', 4))>", "<3.5> <6>", ""},
		{"<@(legacy_add(today(), 30))> <@(legacy_add(2, '2026-02-27'))>", "<2026-06-03> <2026-03-01>", ""},
		{"<@(legacy_sub('04-05-2026', 4))>", "<2026-04-30>", ""},
		{"<@(legacy_add(now, 1))>", "<2026-05-05T10:00:00Z>", ""},
		{"<@(legacy_add('abc', 1))>", "<>", `"abc" + "1": RapidPro's + takes two numbers, or a date and a number of days`},
		{"<@(legacy_sub(1, today()))>", "<>", `"1" - "2026-05-04": RapidPro's - takes two numbers, or a date and a number of days`},
		{"<@(legacy_add(today(), today()))>", "<>", `RapidPro's + takes two numbers, or a date and a number of days`},
	})
}
