package engine

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// RapidPro's legacy date parts and date differences (YEAR, MONTH, DAY,
// WEEKDAY, HOUR, MINUTE, SECOND, DATE, DATEDIF, DAYS) and MOD, which flows
// imported from RapidPro call. Dates are read as legacy_add reads them: a
// time, or text in the flow's date format (environment.date_format).
func init() {
	for name, fn := range map[string]func(params ...any) (any, error){
		// legacy_date_part(date, part): one part of a date or time as a
		// number: "year", "month" (1 to 12), "day" (1 to 31), "weekday" (1
		// for Sunday to 7 for Saturday, as RapidPro's WEEKDAY), "hour" (0 to
		// 23), "minute" or "second"; a date without a time of day is at
		// midnight.
		"legacy_date_part": func(p ...any) (any, error) {
			dr, p, err := turnDates("legacy_date_part", p)
			if err != nil {
				return nil, err
			}
			t, err := argDate(dr, "legacy_date_part", 1, "date", p[0])
			if err != nil {
				return nil, err
			}
			switch part := strings.ToLower(toText(p[1])); part {
			case "year":
				return t.Year(), nil
			case "month":
				return int(t.Month()), nil
			case "day":
				return t.Day(), nil
			case "weekday":
				return int(t.Weekday()) + 1, nil
			case "hour":
				return t.Hour(), nil
			case "minute":
				return t.Minute(), nil
			case "second":
				return t.Second(), nil
			default:
				return nil, argError("legacy_date_part", 2, "part", fmt.Sprintf("is %q, not year, month, day, weekday, hour, minute or second", part))
			}
		},
		// legacy_date(year, month, day): that date as text YYYY-MM-DD, as
		// RapidPro's DATE; a month or day the calendar does not have fails.
		"legacy_date": func(p ...any) (any, error) {
			var n [3]int
			for i, what := range []string{"year", "month", "day"} {
				v, err := argWhole("legacy_date", i+1, what, p[i])
				if err != nil {
					return nil, err
				}
				n[i] = v
			}
			if n[0] < 1 || n[0] > 9999 || n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 {
				return nil, fmt.Errorf("legacy_date: %d-%d-%d is not a date", n[0], n[1], n[2])
			}
			t := time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
			if t.Day() != n[2] {
				return nil, fmt.Errorf("legacy_date: %d-%d-%d is not a date: month %d has %d days", n[0], n[1], n[2], n[1], t.AddDate(0, 0, -n[2]).Day())
			}
			return t.Format("2006-01-02"), nil
		},
		// legacy_datedif(start, end, unit): RapidPro's DATEDIF, between the
		// two dates (their times of day ignored): "y" whole years, "m"
		// whole months, "d" days, "md" the days, "ym" the months left
		// over after whole years and months; "yd" the days from start's
		// day and month in end's year. start after end fails.
		"legacy_datedif": func(p ...any) (any, error) {
			dr, p, err := turnDates("legacy_datedif", p)
			if err != nil {
				return nil, err
			}
			start, err := argDate(dr, "legacy_datedif", 1, "start", p[0])
			if err != nil {
				return nil, err
			}
			end, err := argDate(dr, "legacy_datedif", 2, "end", p[1])
			if err != nil {
				return nil, err
			}
			start, end = midnight(start), midnight(end)
			if start.After(end) {
				return nil, fmt.Errorf("legacy_datedif: the start %s is after the end %s", start.Format("2006-01-02"), end.Format("2006-01-02"))
			}
			months, rest := monthsBetween(start, end)
			switch unit := strings.ToLower(strings.TrimSpace(toText(p[2]))); unit {
			case "y":
				return months / 12, nil
			case "m":
				return months, nil
			case "d":
				return days(start, end), nil
			case "md":
				return rest, nil
			case "ym":
				return months % 12, nil
			case "yd":
				same := time.Date(end.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
				if same.Day() != start.Day() {
					return nil, fmt.Errorf("legacy_datedif: %s has no day in %d", start.Format("January 2"), end.Year())
				}
				return days(same, end), nil
			default:
				return nil, argError("legacy_datedif", 3, "unit", fmt.Sprintf("is %q, not y, m, d, md, ym or yd", unit))
			}
		},
		// legacy_mod(number, divisor): the remainder of number divided by
		// divisor, with the divisor's sign (legacy_mod(-7, 3) is 2), as
		// RapidPro's MOD, in decimal (legacy_mod(0.3, 0.1) is 0).
		"legacy_mod": func(p ...any) (any, error) {
			x, err := argDecimal("legacy_mod", 1, "number", p[0])
			if err != nil {
				return nil, err
			}
			d, err := argDecimal("legacy_mod", 2, "divisor", p[1])
			if err != nil {
				return nil, err
			}
			if d.Sign() == 0 {
				return nil, argError("legacy_mod", 2, "divisor", "is 0")
			}
			q := new(big.Rat).Quo(x, d)
			// The quotient rounded down (toward minus infinity).
			fl := new(big.Int).Div(q.Num(), q.Denom())
			r := new(big.Rat).Sub(x, new(big.Rat).Mul(d, new(big.Rat).SetInt(fl)))
			f, _ := r.Float64()
			return f, nil
		},
	} {
		if _, dup := Functions[name]; dup {
			panic("engine: expression function " + name + " defined twice")
		}
		Functions[name] = withArity(name, fn)
	}
}

// argDate reads argument i of the function name as a date (legacyDate).
func argDate(dr dateReader, name string, i int, what string, v any) (time.Time, error) {
	if v == nil {
		return time.Time{}, argError(name, i, what, "is not set")
	}
	t, _, ok := dr.legacyDate(v)
	if !ok {
		return time.Time{}, argError(name, i, what, "is "+argText(v)+", not a date")
	}
	return t, nil
}

// argDecimal reads argument i as the decimal number it is written as.
func argDecimal(name string, i int, what string, v any) (*big.Rat, error) {
	x, err := argNumber(name, i, what, v)
	if err != nil {
		return nil, err
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		return nil, argError(name, i, what, "is "+argText(v)+", not a number")
	}
	return r, nil
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// days is the number of days from a to b, both at midnight UTC.
func days(a, b time.Time) int {
	return int(b.Sub(a).Hours() / 24)
}

// addMonths is t that many months later, on the same day or the month's
// last, as edate moves a date.
func addMonths(t time.Time, n int) time.Time {
	first := time.Date(t.Year(), t.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 0, min(t.Day(), first.AddDate(0, 1, -1).Day())-1)
}

// monthsBetween is how many whole months from start to end (start not
// after end) and the days left over, counted as Python's relativedelta,
// which RapidPro's DATEDIF used, counts them: 2024-01-31 to 2024-02-29 is
// one month.
func monthsBetween(start, end time.Time) (months, rest int) {
	months = (end.Year()-start.Year())*12 + int(end.Month()) - int(start.Month())
	for months > 0 && addMonths(start, months).After(end) {
		months--
	}
	return months, days(addMonths(start, months), end)
}
