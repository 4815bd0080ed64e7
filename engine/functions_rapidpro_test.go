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
		{"<@(edate('2024-01-31', 1))> <@(edate('2024-03-31', -1))> <@(edate(today(), 12))> <@(edate('31-12-2023', '2'))>", "<2024-02-29> <2024-02-29> <2027-05-04> <2024-02-29>", ""},
		{"<@(edate(now, -5))>", "<2025-12-04T10:00:00Z>", ""},
		{"<@(edate('soon', 1))>", "<>", `edate: "soon" is not a date`},
	})
}

// TestFixedAndRound: fixed() writes commas between thousands unless told not
// to, and rounds half away from zero in decimal, as RapidPro's FIXED; the
// legacy ROUND, ROUNDUP and ROUNDDOWN take negative places.
func TestFixedAndRound(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(fixed(1234.5678, 2))> <@(fixed(1234567.891, 0))> <@(fixed(1234.5678, 2, true))>", "<1,234.57> <1,234,568> <1234.57>", ""},
		{"<@(fixed(1234.5678))> <@(fixed('-1234567.5', 1, false))> <@(fixed(999.999, 2))>", "<1,234.57> <-1,234,567.5> <1,000.00>", ""},
		{"<@(fixed(1.005, 2))> <@(fixed(2.5, 0))> <@(fixed(-2.5, 0))> <@(fixed(1234, -2))> <@(fixed(12, 3, 'TRUE'))>", "<1.01> <3> <-3> <1,200> <12.000>", ""},
		{"<@(legacy_round(1234, -2))> <@(legacy_round(1250, -2))> <@(legacy_round(1.005, 2))> <@(legacy_round(-2.5))>", "<1200> <1300> <1.01> <-3>", ""},
		{"<@(legacy_roundup(1201, -2))> <@(legacy_roundup(-1.21, 1))> <@(legacy_roundup(3, 0))>", "<1300> <-1.3> <3>", ""},
		{"<@(legacy_rounddown(1299, -2))> <@(legacy_rounddown(-1.29, 1))> <@(legacy_rounddown(3.99))>", "<1200> <-1.2> <3>", ""},
		{"<@(fixed('x', 2))>", "<>", `fixed: "x" is not a number`},
		{"<@(legacy_round(1, 'a'))>", "<>", `legacy_round: places "a" is not a whole number`},
	})
}
