package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/flows"
)

// Date formats a flow's environment may use to read dates people type, as in
// RapidPro. Day first is the default.
const (
	DateFormatDayMonthYear = flows.DateFormatDayMonthYear
	DateFormatMonthDayYear = flows.DateFormatMonthDayYear
	DateFormatYearMonthDay = flows.DateFormatYearMonthDay
)

// DateFormatter is implemented by a Run whose environment says how people write
// dates (one of the DateFormat constants). A Run without it reads day first.
// A flows.Compiler that implements it has fixed date arguments checked
// against that format when the flow is loaded.
type DateFormatter interface {
	DateFormat() string
}

// date is a calendar date without time or zone.
type date struct{ y, m, d int }

func (a date) cmp(b date) int {
	switch {
	case a.y != b.y:
		return cmpInt(a.y, b.y)
	case a.m != b.m:
		return cmpInt(a.m, b.m)
	}
	return cmpInt(a.d, b.d)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (a date) String() string { return fmt.Sprintf("%04d-%02d-%02d", a.y, a.m, a.d) }

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, int(m), d}
}

// Separators between the parts of a written date: 15-01-2017, 15/01/2017,
// 15.01.2017, 15 01 2017, 15_01_2017, 15\01\2017.
const sep = `[-.\\/_ ]`

var (
	// isoDate is a year-first date with dashes, also the start of an ISO datetime.
	isoDate      = regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})(?:T|\b)`)
	dayOrMonth   = regexp.MustCompile(`\b(\d{1,2})` + sep + `(\d{1,2})` + sep + `(\d{4}|\d{2})\b`)
	yearFirst    = regexp.MustCompile(`\b(\d{4}|\d{2})` + sep + `(\d{1,2})` + sep + `(\d{1,2})\b`)
	wholeISODate = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
)

// findDate returns the first believable date in s: an ISO date (2017-01-15)
// or a date written in the given format, whichever comes first. Two-digit years
// are taken as the most recent such year up to pivot (the current year's last
// two digits) or the century before.
func findDate(s, format string, pivot int) (date, bool) {
	s = latinDigits(s) // ١٥/٠١/٢٠١٧ is 15/01/2017, as has_number reads digits
	if !hasDigits(s, 3) {
		return date{}, false
	}
	pat, yi, mi, di := datePattern(format)
	iso, isoAt, isoOK := firstDate(isoDate, s, 1, 2, 3, pivot)
	loc, locAt, locOK := firstDate(pat, s, yi, mi, di, pivot)
	switch {
	case isoOK && (!locOK || isoAt <= locAt):
		return iso, true
	case locOK:
		return loc, true
	}
	return date{}, false
}

// datePattern is how a date is written in format: its pattern and the
// submatches of its year, month and day.
func datePattern(format string) (pat *regexp.Regexp, yi, mi, di int) {
	switch format {
	case DateFormatMonthDayYear:
		return dayOrMonth, 3, 1, 2
	case DateFormatYearMonthDay:
		return yearFirst, 1, 2, 3
	}
	return dayOrMonth, 3, 2, 1
}

// impossibleDay finds in s a date written as YYYY-MM-DD or in format whose
// day is one of some month but not of its own, in its year: 29/02/23
// (2023 has no 29 February), 31/04/2026. Its year is read as findDate
// reads it.
func impossibleDay(s, format string, pivot int) (date, bool) {
	s = latinDigits(s)
	pat, yi, mi, di := datePattern(format)
	for _, p := range []struct {
		re         *regexp.Regexp
		yi, mi, di int
	}{{isoDate, 1, 2, 3}, {pat, yi, mi, di}} {
		for _, m := range p.re.FindAllStringSubmatchIndex(s, -1) {
			y := readYear(s[m[2*p.yi]:m[2*p.yi+1]], pivot)
			mo, _ := strconv.Atoi(s[m[2*p.mi]:m[2*p.mi+1]])
			d, _ := strconv.Atoi(s[m[2*p.di]:m[2*p.di+1]])
			if y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && !validDate(y, mo, d) {
				return date{y, mo, d}, true
			}
		}
	}
	return date{}, false
}

// readYear reads a written year: one of two digits as the latest such year
// up to pivot (the current year's last two digits) or the century before.
func readYear(ys string, pivot int) int {
	y, _ := strconv.Atoi(ys)
	if len(ys) == 2 {
		if y > pivot {
			y += 1900
		} else {
			y += 2000
		}
	}
	return y
}

func hasDigits(s string, n int) bool {
	for i := 0; i < len(s) && n > 0; i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n--
		}
	}
	return n == 0
}

func firstDate(re *regexp.Regexp, s string, yi, mi, di, pivot int) (date, int, bool) {
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		y := readYear(s[m[2*yi]:m[2*yi+1]], pivot)
		mo, _ := strconv.Atoi(s[m[2*mi]:m[2*mi+1]])
		d, _ := strconv.Atoi(s[m[2*di]:m[2*di+1]])
		if validDate(y, mo, d) {
			return date{y, mo, d}, m[0], true
		}
	}
	return date{}, 0, false
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1 {
		return false
	}
	// The day after the last of the month normalises into the next month.
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseISODate parses an argument that is exactly YYYY-MM-DD.
func parseISODate(s string) (date, bool) {
	m := wholeISODate.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return date{}, false
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	return date{y, mo, d}, validDate(y, mo, d)
}

func isRelativeDate(s string) bool {
	_, ok := relativeDays(s)
	return ok
}

func relativeDays(s string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "today":
		return 0, true
	case "tomorrow":
		return 1, true
	case "yesterday":
		return -1, true
	}
	return 0, false
}

// Clock is implemented by a flows.Compiler that has the clock the flow's
// rules run by (the engine's): the check of a fixed date argument reads a
// two-digit year in that clock's year, as the running rule reads it.
// Without it, the machine's clock, in UTC.
type Clock interface {
	Now() time.Time
}

func clockOf(c any) time.Time {
	if cl, ok := c.(Clock); ok {
		return cl.Now().UTC()
	}
	return time.Now().UTC()
}

// checkDateArg checks a fixed date argument against the flow's date format:
// one written in another order would never be read as a date when the rule
// runs. An ISO date or a relative one is always good. A two-digit year is
// read as the running rule reads it in now's year (dateTest), and one the
// rule reads is advice: its century follows the current year. A date whose
// day its month does not have in its year, in the flow's order, is said to
// be no date, not suggested in another order: 29/02/23 meant 29 February
// 2023, not 1929-02-23.
func checkDateArg(s, format string, now time.Time) *flows.FieldError {
	pivot := now.Year() % 100
	if d, ok := findDate(s, format, pivot); ok {
		return twoDigitYear(s, format, d, now)
	}
	if d, ok := impossibleDay(s, format, pivot); ok {
		return &flows.FieldError{Err: flows.ErrNewRule, Message: fmt.Sprintf(
			"%q is not a date: %d has no %d %s", s, d.y, d.d, time.Month(d.m))}
	}
	for _, f := range []string{DateFormatDayMonthYear, DateFormatMonthDayYear, DateFormatYearMonthDay} {
		if d, ok := findDate(s, f, pivot); ok {
			return &flows.FieldError{Err: flows.ErrNewRule, Message: fmt.Sprintf(
				"%q is not a date in the flow's date format %s (it reads as %s): write it as %s", s, format, f, d)}
		}
	}
	return &flows.FieldError{Message: fmt.Sprintf("expected a date (YYYY-MM-DD, a date in the flow's date format %s, today, tomorrow or yesterday), got %q", format, s)}
}

// twoDigitYear advises on a date argument s, read in format as d in now's
// year, when its year has two digits: a date rule reads it as the latest
// such year not after the current one, so the date it compares with moves
// a century on in time (31/12/30 is 1930-12-31 until 2029, 2030-12-31 from
// 2030). nil when the year has four digits: the date reads alike in any
// century.
func twoDigitYear(s, format string, d date, now time.Time) *flows.FieldError {
	early, ok1 := findDate(s, format, -1) // every two-digit year in the 1900s
	late, ok2 := findDate(s, format, 99)  // and in the 2000s
	if ok1 && ok2 && early == late {
		return nil
	}
	read := fmt.Sprintf("%s now", d)
	if d.y < 2000 {
		read = fmt.Sprintf("%s until %d, %04d-%02d-%02d from %d", d, d.y+99, d.y+100, d.m, d.d, d.y+100)
	}
	return &flows.FieldError{Err: flows.ErrAdvice, Message: fmt.Sprintf(
		"%q has a two-digit year, which a date rule reads as the latest such year not after the current one (%s): write it as %s to keep the date it reads in %d",
		s, read, d, now.Year())}
}

func dateFormatOf(r any) string {
	if f, ok := r.(DateFormatter); ok {
		switch v := f.DateFormat(); v {
		case DateFormatDayMonthYear, DateFormatMonthDayYear, DateFormatYearMonthDay:
			return v
		}
	}
	return DateFormatDayMonthYear
}

// dateTest makes the test of a date rule. Dates compare by calendar day in the
// run's time zone (the location of r.Now(), UTC under the engine).
func dateTest(pass func(v, arg date) bool) func(*Set, *rule, flows.Run, string) (string, map[string]string, bool) {
	return func(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
		now := r.Now()
		format := dateFormatOf(r)
		pivot := now.Year() % 100
		var bound date
		if len(rl.args) > 0 {
			switch {
			case rl.dated:
				bound = rl.date
			default:
				txt := rl.render(r, 0)
				if n, ok := relativeDays(txt); ok {
					bound = dateOf(now.AddDate(0, 0, n))
				} else if d, ok := findDate(txt, format, pivot); ok {
					bound = d
				} else {
					s.warn(r, rl, flows.EventWarning, "argument is %q, not a date", txt)
					return "", nil, false
				}
			}
		}
		v, ok := findDate(in, format, pivot)
		if !ok || !pass(v, bound) {
			return "", nil, false
		}
		return v.String(), nil, true
	}
}

// FindDate returns the first date in s as the date rules read it: an ISO date
// or one written in format (a DateFormat constant; day first when it is none
// of them), a two-digit year being the most recent such year up to now's. The
// date is at midnight UTC.
func FindDate(s, format string, now time.Time) (time.Time, bool) {
	switch format {
	case DateFormatDayMonthYear, DateFormatMonthDayYear, DateFormatYearMonthDay:
	default:
		format = DateFormatDayMonthYear
	}
	d, ok := findDate(s, format, now.Year()%100)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(d.y, time.Month(d.m), d.d, 0, 0, 0, 0, time.UTC), true
}
