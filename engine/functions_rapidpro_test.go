package engine_test

import (
	"testing"
)

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

// TestFixedAndRound: legacy_fixed() writes commas between thousands unless
// told not to, and rounds half away from zero in decimal, as RapidPro's
// FIXED; the legacy ROUND, ROUNDUP and ROUNDDOWN take negative places.
// fixed() writes the number as it always has: no commas, so that flows
// that put it in a webhook's body keep sending a number.
func TestFixedAndRound(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(fixed(1234.5, 2))> <@(fixed(2.5, 0))> <@(fixed(12.345, -1))> <@(fixed(1234567.891))> <@(fixed(1.5, 1, true))>", "<1234.50> <2> <12> <1234567.89> <1.5>", ""},
		{"<@(legacy_fixed(1234.5678, 2))> <@(legacy_fixed(1234567.891, 0))> <@(legacy_fixed(1234.5678, 2, true))>", "<1,234.57> <1,234,568> <1234.57>", ""},
		{"<@(legacy_fixed(1234.5678))> <@(legacy_fixed('-1234567.5', 1, false))> <@(legacy_fixed(999.999, 2))>", "<1,234.57> <-1,234,567.5> <1,000.00>", ""},
		{"<@(legacy_fixed(1.005, 2))> <@(legacy_fixed(2.5, 0))> <@(legacy_fixed(-2.5, 0))> <@(legacy_fixed(1234, -2))> <@(legacy_fixed(12, 3, 'TRUE'))>", "<1.01> <3> <-3> <1,200> <12.000>", ""},
		{"<@(legacy_round(1234, -2))> <@(legacy_round(1250, -2))> <@(legacy_round(1.005, 2))> <@(legacy_round(-2.5))>", "<1200> <1300> <1.01> <-3>", ""},
		{"<@(legacy_roundup(1201, -2))> <@(legacy_roundup(-1.21, 1))> <@(legacy_roundup(3, 0))>", "<1300> <-1.3> <3>", ""},
		{"<@(legacy_rounddown(1299, -2))> <@(legacy_rounddown(-1.29, 1))> <@(legacy_rounddown(3.99))>", "<1200> <-1.2> <3>", ""},
		{"<@(legacy_fixed('x', 2))>", "<>", `legacy_fixed: argument 1 (number) is "x", not a number`},
		{"<@(legacy_round(1, 'a'))>", "<>", `legacy_round: argument 2 (places) is "a", not a number`},
	})
}

// TestWholeNumberArguments: a number too large for a whole number is refused
// naming the function and the argument, never wrapped around; an argument
// not set or not a number is reported one way by every function, numbers
// written plain.
func TestWholeNumberArguments(t *testing.T) {
	const big = "1000000000000000000000000000000000000000…"
	checkRendersWarning(t, []renderCase{
		{"<@(int(1e300))>", "<>", "int: argument 1 is " + big + ", too large for a whole number"},
		{"<@(int(-1e19))>", "<>", "int: argument 1 is -10000000000000000000, too large for a whole number"},
		{"<@(int(9.2e18))>", "<9200000000000000000>", ""},
		{"<@(randbetween(1e300, 1e300))>", "<>", "randbetween: argument 1 (low) is " + big + ", too large for a whole number"},
		{"<@(fixed(1, 1e300))>", "<>", "fixed: argument 2 (decimals) is " + big + ", too large for a whole number"},
		{"<@(left('abc', 1e19))>", "<>", "left: argument 2 (count) is 10000000000000000000, too large for a whole number"},
		{"<@(randbetween(0, 9223372036854775807))>", "<>", "randbetween: the interval from 0 to 9223372036854775807 is too wide"},
		{"<@(randbetween(-1, 9223372036854775806))>", "<>", "randbetween: the interval from -1 to 9223372036854775806 is too wide"},
		{"<@(randbetween(5, 5))>", "<5>", ""},
		{"<@(randbetween(5, 4))>", "<>", "randbetween: high 4 is less than low 5"},
		{"<@(fixed(flow.nope.value))>", "<>", "fixed: argument 1 (number) is not set"},
		{"<@(fixed(1, flow.nope.value))>", "<>", "fixed: argument 2 (decimals) is not set"},
		{"<@(legacy_round(flow.nope.value))>", "<>", "legacy_round: argument 1 (number) is not set"},
		{"<@(left('abc', flow.nope.value))>", "<>", "left: argument 2 (count) is not set"},
		{"<@(power(2, flow.nope.value))>", "<>", "power: argument 2 (y) is not set"},
		{"<@(randbetween(flow.nope.value, 2))>", "<>", "randbetween: argument 1 (low) is not set"},
		{"<@(legacy_num(flow.nope.value))>", "<>", "legacy_num: argument 1 is not set"},
		{"<@(datevalue(flow.nope.value))>", "<>", "datevalue: argument 1 (text) is not set"},
		{"<@(edate(flow.nope.value, 1))>", "<>", "edate: argument 1 (date) is not set"},
		{"<@(char(flow.nope.value))>", "<>", "char: argument 1 (code) is not set"},
		{"<@(power('a', 1))>", "<>", `power: argument 1 (x) is "a", not a number`},
		{"<@(mid('abc', 0, 1))>", "<>", "mid: argument 2 (start) is 0: characters count from 1"},
		{"<@(field('a,b', 0, ','))>", "<>", "field: argument 2 (index) is 0: fields count from 1"},
		{"<@(unicode(''))>", "<>", "unicode: argument 1 (text) is empty: it has no first character"},
		{"<@(code(flow.nope.value))>", "<>", "code: argument 1 (text) is not set"},
		{"<@(unichar(-1))>", "<>", "unichar: argument 1 (code) is -1, not a character code (0 to 1114111)"},
		{"<@(edate('2024-01-01', 1000001))>", "<>", "edate: argument 2 (months) is 1000001, more than 100000 months"},
		{"<@(int('1.5'))>", "<>", `int: argument 1 is "1.5", not a whole number`},
		{"<@(float('x'))> <@(float('inf'))>", "<> <>", `float: argument 1 is "x", not a number`},
		{"<@(abs(step.value))>", "<>", `abs: argument 1 is "hello there", not a number`},
		// A number written as text (a result, a contact field) is text.
		{`<@(abs(fromJSON('"-5"')))> <@(abs(number('-5')))>`, "<> <5>", `abs: argument 1 is text ("-5"), not a number: read it with number() first (abs(number(...)))`},
	})
}

// TestRapidProCounts: RapidPro's functions round a count with a fraction
// half away from zero, as its to_integer did; READ_DIGITS groups digits as
// RapidPro's did; FIELD does not count empty fields.
func TestRapidProCounts(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(edate('2024-01-31', 1.5))> <@(edate('2024-03-31', -1.5))> <@(edate('2024-01-31', 1.4))>", "<2024-03-31> <2024-01-31> <2024-02-29>", ""},
		{"<@(legacy_fixed(1000, 2.5))> <@(legacy_fixed(1000, '1.5'))> <@(legacy_fixed(1234.5, -0.5))>", "<1,000.000> <1,000.00> <1,230>", ""},
		{"<@(legacy_add(datevalue('2024-01-01'), 1.5))> <@(legacy_add('2024-01-01', 1.5))> <@(legacy_sub('2024-01-10', 1.5))> <@(legacy_add('2024-01-01', 1.4))>", "<2024-01-03T00:00:00Z> <2024-01-03> <2024-01-08> <2024-01-02>", ""},
		{"<@(legacy_round(2.345, 1.5))> <@(legacy_roundup(2.341, 1.5))> <@(legacy_rounddown(2.349, 2.5))>", "<2.35> <2.35> <2.349>", ""},
		// A time of day written after the date is kept, in any date form.
		{"<@(datevalue('2024-01-31 10:30'))> <@(datevalue('31/01/2024 10:30'))> <@(datevalue('2024-01-31 10:30:15'))> <@(legacy_add('31-01-2024 10:30', 1))> <@(datevalue('31/01/2024 25:30'))>", "<2024-01-31T10:30:00Z> <2024-01-31T10:30:00Z> <2024-01-31T10:30:15Z> <2024-02-01T10:30:00Z> <2024-01-31T00:00:00Z>", ""},
		// An am or pm after the time, in either case, with a space or
		// not: 12am is midnight, 12pm noon.
		{"<@(datevalue('31/01/2024 12:00am'))> <@(datevalue('31/01/2024 12:30am'))> <@(datevalue('31/01/2024 12:30 AM'))> <@(datevalue('31/01/2024 10:30am'))>", "<2024-01-31T00:00:00Z> <2024-01-31T00:30:00Z> <2024-01-31T00:30:00Z> <2024-01-31T10:30:00Z>", ""},
		{"<@(datevalue('31/01/2024 12:00pm'))> <@(datevalue('31/01/2024 12:00 PM'))> <@(datevalue('31/01/2024 1:05pm'))> <@(datevalue('31/01/2024 1:05 Pm'))>", "<2024-01-31T12:00:00Z> <2024-01-31T12:00:00Z> <2024-01-31T13:05:00Z> <2024-01-31T13:05:00Z>", ""},
		{"<@(datevalue('31/01/2024 11:59pm'))> <@(datevalue('31/01/2024 11:59:30 PM'))> <@(datevalue('31/01/2024 10:30pm'))> <@(datevalue('2024-01-31 11:59 pm'))>", "<2024-01-31T23:59:00Z> <2024-01-31T23:59:30Z> <2024-01-31T22:30:00Z> <2024-01-31T23:59:00Z>", ""},
		{"<@(legacy_add('31-01-2024 10:30pm', 1))> <@(legacy_sub('31-01-2024 12:15am', 1))> <@(datevalue('31/01/2024 10:30 pmx'))> <@(datevalue('31/01/2024 13:00 pm'))>", "<2024-02-01T22:30:00Z> <2024-01-30T00:15:00Z> <2024-01-31T10:30:00Z> <2024-01-31T13:00:00Z>", ""},
		{"<@(randbetween(1.5, 2.5))> <@(randbetween(-2.5, -2.5))>", "<2> <-3>", ""},
		{"<@(left('abcd', 1.5))> <@(right('abcd', 2.5))> <@(mid('abcd', 1.5, 1))> <@(char(65.5))>", "<ab> <bcd> <b> <B>", ""},
		{"<@(read_digits('123456'))>", "<1 2 3 , 4 5 6>", ""},
		{"<@(read_digits('+254712345678'))> <@(read_digits('+1 206-555-1212'))>", "<2 5 4 , 7 1 2 , 3 4 5 , 6 7 8> <1,2,0,6,5,5,5,1,2,1,2>", ""},
		{"<@(read_digits('123456789'))>", "<1 2 3 , 4 5 , 6 7 8 9>", ""},
		{"<@(read_digits('12345678'))> <@(read_digits('1234'))>", "<1 2 3 4 , 5 6 7 8> <1 2 3 4>", ""},
		{"<@(read_digits('12345'))> <@(read_digits('123'))> <@(read_digits('no digits'))>", "<1,2,3,4,5> <1,2,3> <>", ""},
		{"<@(field('a,,b', 2, ','))> <@(field('a, ,b,', 3, ','))> <@(field(' a  b ', 2, ' '))> <@(field('a,b', 1, ','))>", "<b> <> <b> <a>", ""},
		{"<@(substitute('a-b-c', '-', '+', 2))> <@(substitute('a-b-c', '-', '+', 1))> <@(substitute('a-b-c', '-', '+', 3))> <@(substitute('a-b-c', '-', '+', 0))> <@(substitute('a-b-c', '-', '+', -1))>", "<a-b+c> <a+b-c> <a-b-c> <a-b-c> <a+b+c>", ""},
		{"<@(substitute('abab', 'ab', 'x', 2))>", "<abx>", ""},
		{"<@(substitute('abc', '', '+', 1))>", "<>", "substitute: argument 2 (old) is empty: there is no instance of it to replace"},
		{"<@(substitute('abc', '', '+', 0))>", "<>", "substitute: argument 2 (old) is empty: there is no instance of it to replace"},
		{"<@(substitute('abc', '', '+'))> <@(substitute('abc', '', '+', -1))>", "<+a+b+c+> <+a+b+c+>", ""},
		{"<@(substitute('abc', 'b', '+', 'x'))>", "<>", `substitute: argument 4 (instance) is "x", not a number`},
	})
}

// TestRapidProResultTypesCheckedAtLoad: the RapidPro functions whose
// result is always of one kind are checked as such when a flow loads, as
// number's and title's are, so a use of their result that fails on every
// run does not load, naming the widget's field; a flow stored before this
// check loads with it as a warning. Right uses still load.
func TestRapidProResultTypesCheckedAtLoad(t *testing.T) {
	for _, tc := range []struct{ expr, load string }{
		{`word_count("a b") + "x"`, "mismatched types int and string"},
		{`upper(power(2, 3))`, "cannot use float64 as argument (type string) to call upper"},
		{`left("ab", 1) * 2`, "mismatched types string and int"},
		{`legacy_eq(1, 1) + 1`, "mismatched types bool and int"},
		{`!legacy_cmp(1, 2)`, "mismatched type int"},
		{`datevalue("2024-01-01") + 1`, "mismatched types time.Time and int"},
		{`legacy_num("2").Year()`, "type float64 has no method Year"},
		{`legacy_date_part("2024-01-01", "year") + "x"`, "mismatched types int and string"},
		{`legacy_date(2024, 1, 1) * 2`, "mismatched types string and int"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			refusedAtLoad(t, tc.expr, tc.load)
		})
	}
	checkRendersWarning(t, []renderCase{
		{`<@(word_count("a b") + 1) @(left("ab", 1) + "!") @(power(2, 3) > 7) @(legacy_eq("A", "a") && true) @(legacy_cmp(1, 2) < 0)>`, "<3 a! true true true>", ""},
		{`<@(datevalue("2024-01-31").Month()) @(code("A") + 1) @(legacy_round(2.5) + legacy_num("1")) @(upper(fixed(1.5))) @(today() + "!")>`, "<January 66 4 1.50 2026-05-04!>", ""},
		{`<@(legacy_date_part(today(), "year") + 1) @(legacy_datedif("2024-01-31", today(), "y") * 2) @(legacy_date(2024, 1, 2) + "!") @(legacy_mod(7, 4) + 0.5)>`, "<2027 4 2024-01-02! 3.5>", ""},
	})
}
