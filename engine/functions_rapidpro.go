package engine

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// Functions that flows imported from RapidPro need: the spreadsheet-like
// functions of RapidPro's legacy expressions that expr-lang has no builtin for,
// and the helpers the importer uses to keep RapidPro's rendering (phone numbers
// in national format, case-insensitive comparisons). They are ordinary
// expression functions, available to every flow.
func init() {
	for name, fn := range map[string]func(params ...any) (any, error){
		// format_tel(urn): a tel: URN or phone number as RapidPro shows it, in
		// its country's national format ("(206) 555-1212" for tel:+12065551212).
		"format_tel": textFunction("format_tel", formatTel),
		// word_count(text[, delimiters]): the number of words, as word()
		// splits them.
		"word_count": func(p ...any) (any, error) {
			if len(p) != 1 && len(p) != 2 {
				return nil, fmt.Errorf("word_count(text[, delimiters]) takes 1 or 2 arguments, got %d", len(p))
			}
			return len(words(toText(p[0]), optText(p, 1))), nil
		},
		// word_slice(text, start[, stop[, delimiters]]): words start up to,
		// not including, stop, counting from 1 (stop 0 or left out: to the
		// last word; negative: counting from the end), joined by spaces.
		// It counts as it always has, from 1 like RapidPro's WORD_SLICE,
		// so flows written for it keep their words (goflow's counts from 0).
		"word_slice": func(p ...any) (any, error) {
			if len(p) < 2 || len(p) > 4 {
				return nil, fmt.Errorf("word_slice(text, start[, stop[, delimiters]]) takes 2 to 4 arguments, got %d", len(p))
			}
			start, err := argWhole("word_slice", 2, "start", p[1])
			if err != nil {
				return nil, err
			}
			if start < 1 {
				return nil, argError("word_slice", 2, "start", fmt.Sprintf("is %d: words are counted from 1", start))
			}
			stop := 0
			if len(p) > 2 {
				if stop, err = argWhole("word_slice", 3, "stop", p[2]); err != nil {
					return nil, err
				}
			}
			w := words(toText(p[0]), optText(p, 3))
			from, to := start-1, len(w)
			if stop > 0 && stop-1 < to {
				to = stop - 1
			} else if stop < 0 {
				to = len(w) + stop
			}
			if from >= to || from >= len(w) {
				return "", nil
			}
			return strings.Join(w[from:to], " "), nil
		},
		// field(text, index, delimiter): the index-th (from 1) field of text
		// split on delimiter, trimmed, fields with nothing but spaces not
		// counted, as RapidPro's FIELD ("a,,b" and 2 give "b").
		"field": func(p ...any) (any, error) {
			n, err := argWhole("field", 2, "index", p[1])
			if err != nil {
				return nil, err
			}
			if n < 1 {
				return nil, argError("field", 2, "index", fmt.Sprintf("is %d: fields count from 1", n))
			}
			delim := toText(p[2])
			var parts []string
			if delim == " " {
				parts = strings.Fields(toText(p[0]))
			} else {
				parts = slices.DeleteFunc(strings.Split(toText(p[0]), delim), func(f string) bool { return strings.TrimSpace(f) == "" })
			}
			if n > len(parts) {
				return "", nil
			}
			return strings.TrimSpace(parts[n-1]), nil
		},
		// left(text, n) and right(text, n): the first or last n characters.
		"left": func(p ...any) (any, error) {
			s, n, err := textAndCount("left", p)
			if err != nil {
				return nil, err
			}
			return string(s[:min(n, len(s))]), nil
		},
		"right": func(p ...any) (any, error) {
			s, n, err := textAndCount("right", p)
			if err != nil {
				return nil, err
			}
			return string(s[len(s)-min(n, len(s)):]), nil
		},
		// mid(text, start, n): n characters from start (counting from 1).
		"mid": func(p ...any) (any, error) {
			s := []rune(toText(p[0]))
			start, err := argWhole("mid", 2, "start", p[1])
			if err != nil {
				return nil, err
			}
			n, err := argWhole("mid", 3, "count", p[2])
			if err != nil {
				return nil, err
			}
			if start < 1 {
				return nil, argError("mid", 2, "start", fmt.Sprintf("is %d: characters count from 1", start))
			}
			if n < 0 {
				return nil, argError("mid", 3, "count", fmt.Sprintf("is %d, less than 0", n))
			}
			if start > len(s) {
				return "", nil
			}
			return string(s[start-1 : min(start-1+n, len(s))]), nil
		},
		// substitute(text, old, new[, instance]): every old replaced by new,
		// or only the instance-th (from 1), as RapidPro's SUBSTITUTE; an
		// instance past the last, or 0, replaces none, a negative one all.
		"substitute": func(p ...any) (any, error) {
			text, old, repl := toText(p[0]), toText(p[1]), toText(p[2])
			if len(p) < 4 {
				return strings.ReplaceAll(text, old, repl), nil
			}
			n, err := argWhole("substitute", 4, "instance", p[3])
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return strings.ReplaceAll(text, old, repl), nil
			}
			if old == "" {
				return nil, argError("substitute", 2, "old", "is empty: there is no instance of it to replace")
			}
			parts := strings.Split(text, old)
			if n == 0 || n >= len(parts) {
				return text, nil
			}
			return strings.Join(parts[:n], old) + repl + strings.Join(parts[n:], old), nil
		},
		// clean(text): text without control characters.
		"clean": func(p ...any) (any, error) {
			s, err := oneString("clean", p)
			if err != nil {
				return nil, err
			}
			return strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return -1
				}
				return r
			}, s), nil
		},
		// char(n) / unichar(n): the character with that code; code(text) /
		// unicode(text): the code of the first character.
		"char":    charOf("char"),
		"unichar": charOf("unichar"),
		"code":    codeOf("code"),
		"unicode": codeOf("unicode"),
		// power(x, y): x to the power y.
		"power": func(p ...any) (any, error) {
			x, err := argNumber("power", 1, "x", p[0])
			if err != nil {
				return nil, err
			}
			y, err := argNumber("power", 2, "y", p[1])
			if err != nil {
				return nil, err
			}
			return math.Pow(x, y), nil
		},
		// fixed(x[, decimals]): x written with that many decimals (2 by
		// default, none when negative), as it always has been: no commas,
		// so that it stays a number in a webhook's body. A third argument,
		// which earlier imports of RapidPro's FIXED passed, is ignored.
		"fixed": func(p ...any) (any, error) {
			x, err := argNumber("fixed", 1, "number", p[0])
			if err != nil {
				return nil, err
			}
			d := 2
			if len(p) > 1 {
				if d, err = argWhole("fixed", 2, "decimals", p[1]); err != nil {
					return nil, err
				}
			}
			return strconv.FormatFloat(x, 'f', max(d, 0), 64), nil
		},
		// legacy_fixed(x[, decimals[, no_commas]]): RapidPro's FIXED: x
		// rounded half away from zero at decimals (2 by default; negative:
		// left of the point) and written with that many decimals and with
		// commas between thousands unless no_commas: legacy_fixed(1234.567)
		// is "1,234.57".
		"legacy_fixed": func(p ...any) (any, error) {
			d := 2
			if len(p) > 1 {
				var err error
				if d, err = argWhole("legacy_fixed", 2, "decimals", p[1]); err != nil {
					return nil, err
				}
			}
			r, err := roundDecimal("legacy_fixed", p[0], d, roundHalf)
			if err != nil {
				return nil, err
			}
			text := r.FloatString(max(d, 0))
			if len(p) == 3 && legacyBool(p[2]) {
				return text, nil
			}
			return thousands(text), nil
		},
		// legacy_round(x, places), legacy_roundup(x, places) and
		// legacy_rounddown(x, places): RapidPro's ROUND (half away from
		// zero), ROUNDUP (away from zero) and ROUNDDOWN (toward zero), at
		// places decimals; negative places round left of the point
		// (legacy_round(1234, -2) is 1200).
		"legacy_round":     func(p ...any) (any, error) { return legacyRound("legacy_round", p, roundHalf) },
		"legacy_roundup":   func(p ...any) (any, error) { return legacyRound("legacy_roundup", p, roundUp) },
		"legacy_rounddown": func(p ...any) (any, error) { return legacyRound("legacy_rounddown", p, roundDown) },
		// datevalue(text): the date in text, as a time (midnight UTC), read
		// as the flow's date rules read it.
		"datevalue": func(p ...any) (any, error) {
			dr, p, err := turnDates("datevalue", p)
			if err != nil {
				return nil, err
			}
			s, err := oneString("datevalue", p)
			if err != nil {
				return nil, err
			}
			if p[0] == nil {
				return nil, argError("datevalue", 1, "text", "is not set")
			}
			if t, _, ok := dr.parse(s); ok {
				return t, nil
			}
			return nil, fmt.Errorf("datevalue: %q is not a date", s)
		},
		// legacy_add(a, b) and legacy_sub(a, b): RapidPro's + and -: numbers
		// are added; a date and a number of days give the date that many
		// days later (or earlier), as text YYYY-MM-DD for a date written so
		// (today()), otherwise as a time.
		"legacy_add": func(p ...any) (any, error) { return legacyAdd("+", p) },
		// edate(date, months): the date that many months later (earlier
		// when negative), on the same day or the month's last, as
		// RapidPro's EDATE (2024-01-31 and 1 give 2024-02-29); written as
		// legacy_add writes dates.
		"edate": func(p ...any) (any, error) {
			dr, p, err := turnDates("edate", p)
			if err != nil {
				return nil, err
			}
			if p[0] == nil {
				return nil, argError("edate", 1, "date", "is not set")
			}
			t, dateOnly, ok := dr.legacyDate(p[0])
			if !ok {
				return nil, fmt.Errorf("edate: %q is not a date", toText(p[0]))
			}
			n, err := argNumber("edate", 2, "months", p[1])
			if err != nil {
				return nil, err
			}
			if math.Abs(n) > 1e5 {
				return nil, argError("edate", 2, "months", "is "+argText(p[1])+", more than 100000 months")
			}
			y, m, d := t.Date()
			// Months rounded half away from zero, as RapidPro's.
			first := time.Date(y, m+time.Month(int(math.Round(n))), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
			t = first.AddDate(0, 0, min(d, first.AddDate(0, 1, -1).Day())-1)
			if dateOnly {
				return t.Format("2006-01-02"), nil
			}
			return t, nil
		},
		"legacy_sub": func(p ...any) (any, error) { return legacyAdd("-", p) },
		// today(): the date of the turn's time (UTC) as YYYY-MM-DD; clockCalls
		// gives it that time (clock.go).
		"today": clockToday,
		// read_digits(text): the digits of text spaced out for
		// text-to-speech, in groups as RapidPro's READ_DIGITS (readDigits).
		"read_digits": textFunction("read_digits", readDigits),
		// legacy_eq(a, b): RapidPro's "=": numeric when both are numbers,
		// otherwise case-insensitive text equality.
		"legacy_eq": func(p ...any) (any, error) {
			return legacyCompare(p[0], p[1]) == 0, nil
		},
		// legacy_cmp(a, b): -1, 0 or 1, comparing as RapidPro's <, <=, >, >= do.
		"legacy_cmp": func(p ...any) (any, error) {
			return legacyCompare(p[0], p[1]), nil
		},
		// legacy_num(x): x as a number for RapidPro's arithmetic (error when it is not one).
		"legacy_num": func(p ...any) (any, error) {
			return argNumber("legacy_num", 1, "", p[0])
		},
		// legacy_bool(x): RapidPro's truth: true, non-zero numbers and "true" text.
		"legacy_bool": func(p ...any) (any, error) {
			return legacyBool(p[0]), nil
		},
	} {
		if _, dup := Functions[name]; dup {
			panic("engine: expression function " + name + " defined twice")
		}
		Functions[name] = fn
	}
	for name, t := range rapidproResultTypes {
		resultTypes[name] = t
	}
	// Listed with the others; each engine calls its own (exprOptions).
	for name, fn := range randomFunctions(rand.Float64, rand.IntN) {
		Functions[name] = fn
	}
	for name, fn := range Functions {
		Functions[name] = withArity(name, fn)
	}
}

// rapidproResultTypes are resultTypes for the functions above whose result
// is always of one kind, so that a use that fails on every run does not
// load (word_count(x) + "a", upper(power(2, 3))). legacy_add, legacy_sub
// and edate give a number, text or a time by their arguments, so are left
// to be checked when they run.
var rapidproResultTypes = map[string]any{
	"format_tel": new(func(...any) string), "word_slice": new(func(...any) string), "field": new(func(...any) string),
	"left": new(func(...any) string), "right": new(func(...any) string), "mid": new(func(...any) string),
	"substitute": new(func(...any) string), "clean": new(func(...any) string), "char": new(func(...any) string),
	"unichar": new(func(...any) string), "fixed": new(func(...any) string), "legacy_fixed": new(func(...any) string),
	"today": new(func(...any) string), "read_digits": new(func(...any) string),
	"word_count": new(func(...any) int), "code": new(func(...any) int), "unicode": new(func(...any) int),
	"legacy_cmp": new(func(...any) int), "randbetween": new(func(...any) int),
	"power": new(func(...any) float64), "legacy_round": new(func(...any) float64), "legacy_roundup": new(func(...any) float64),
	"legacy_rounddown": new(func(...any) float64), "legacy_num": new(func(...any) float64), "rand": new(func(...any) float64),
	"legacy_eq": new(func(...any) bool), "legacy_bool": new(func(...any) bool),
	"datevalue":        new(func(...any) time.Time),
	"legacy_date_part": new(func(...any) int), "legacy_datedif": new(func(...any) int),
	"legacy_date": new(func(...any) string), "legacy_mod": new(func(...any) float64),
}

// parse reads s as RapidPro's DATEVALUE and date arithmetic do: a time in
// RFC 3339 or a date and hours:minutes (in the flow's date format, with
// dashes), else the first date as the flow's date rules read it
// (rules.FindDate), with the time of day written in s (10:30, 10:30:15,
// 10:30pm, 10:30 PM), if any; dateOnly says it has no time of day.
func (dr dateReader) parse(s string) (t time.Time, dateOnly, ok bool) {
	s = strings.TrimSpace(s)
	layout := "02-01-2006 15:04"
	switch dr.format {
	case flows.DateFormatMonthDayYear:
		layout = "01-02-2006 15:04"
	case flows.DateFormatYearMonthDay:
		layout = "2006-01-02 15:04"
	}
	for _, l := range []string{time.RFC3339, layout} {
		if t, err := time.Parse(l, s); err == nil {
			return t, false, true
		}
	}
	t, ok = rules.FindDate(s, dr.format, dr.now)
	if !ok {
		return t, true, false
	}
	if m := timeOfDay.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec, _ := strconv.Atoi(m[3]) // 0 when left out
		// An am or pm after the time, as goflow reads one: pm adds 12
		// hours but to 12pm (noon), and 12am is midnight.
		switch strings.ToLower(m[4]) {
		case "pm":
			if h < 12 {
				h += 12
			}
		case "am":
			if h == 12 {
				h = 0
			}
		}
		if h < 24 && mi < 60 && sec < 60 {
			y, mo, d := t.Date()
			return time.Date(y, mo, d, h, mi, sec, 0, t.Location()), false, true
		}
	}
	return t, true, true
}

// timeOfDay is a time written in a date's text: hours:minutes[:seconds],
// then maybe am or pm, in either case, after a space or not.
var timeOfDay = regexp.MustCompile(`(?:^|[^\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([aApP][mM])\b)?(?:$|[^\d:])`)

// legacyAdd is RapidPro's a + b or a - b (op): numbers first, then a date
// and a whole number of days (either side for +, the date first for -).
func legacyAdd(op string, p []any) (any, error) {
	name := "legacy_add"
	if op == "-" {
		name = "legacy_sub"
	}
	dr, p, err := turnDates(name, p)
	if err != nil {
		return nil, err
	}
	x, err1 := toFloat(p[0])
	y, err2 := toFloat(p[1])
	switch {
	case err1 == nil && err2 == nil && op == "+":
		return x + y, nil
	case err1 == nil && err2 == nil:
		return x - y, nil
	}
	date, days := p[0], p[1]
	if err1 == nil && op == "+" {
		date, days = p[1], p[0]
	}
	n, err := toFloat(days)
	t, dateOnly, ok := dr.legacyDate(date)
	if !ok || err != nil {
		return nil, fmt.Errorf("%q %s %q: RapidPro's %s takes two numbers, or a date and a number of days", toText(p[0]), op, toText(p[1]), op)
	}
	if op == "-" {
		n = -n
	}
	if math.Abs(n) > 1e6 {
		return nil, fmt.Errorf("%q %s %q: %s days is too far from the date", toText(p[0]), op, toText(p[1]), argText(n))
	}
	// Days rounded half away from zero, as RapidPro's.
	t = t.AddDate(0, 0, int(math.Round(n)))
	if dateOnly {
		return t.Format("2006-01-02"), nil
	}
	return t, nil
}

// legacyDate reads v as a date for RapidPro's arithmetic: a time, or text
// parse reads; dateOnly says it was text with a date and no time of day
// (today()'s YYYY-MM-DD, a contact field's date).
func (dr dateReader) legacyDate(v any) (t time.Time, dateOnly, ok bool) {
	if t, ok := v.(time.Time); ok {
		return t, false, true
	}
	if v == nil {
		return time.Time{}, false, false
	}
	return dr.parse(toText(v))
}

// legacyBool is RapidPro's truth: true, non-zero numbers and "true" text.
func legacyBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case nil:
		return false
	}
	if f, err := toFloat(v); err == nil {
		return f != 0
	}
	return strings.EqualFold(strings.TrimSpace(toText(v)), "true")
}

// Rounding modes of roundDecimal.
const (
	roundHalf = iota // half away from zero (ROUND, FIXED)
	roundUp          // away from zero (ROUNDUP)
	roundDown        // toward zero (ROUNDDOWN)
)

// maxPlaces bounds the places roundDecimal rounds at: a float64 has no digit
// further than 10^±330 from the point, so rounding there changes nothing (or,
// left of the point, gives 0).
const maxPlaces = 400

// roundDecimal rounds v, read as a number in decimal as it is written (1.005
// is 1.005, not the float just below it), at places decimals (negative: left
// of the point) in mode, and returns the exact result.
func roundDecimal(name string, v any, places, mode int) (*big.Rat, error) {
	x, err := argNumber(name, 1, "number", v)
	if err != nil {
		return nil, err
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		return nil, fmt.Errorf("%s: %v is not a number", name, x)
	}
	if places < -maxPlaces {
		return nil, fmt.Errorf("%s: %d places is more than %d left of the point", name, places, maxPlaces)
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(min(abs(places), maxPlaces))), nil))
	if places < 0 {
		scale.Inv(scale)
	}
	r.Mul(r, scale)
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		twice := new(big.Int).Lsh(new(big.Int).Abs(rem), 1)
		if mode == roundUp || mode == roundHalf && twice.Cmp(r.Denom()) >= 0 {
			q.Add(q, big.NewInt(int64(r.Sign())))
		}
	}
	return r.SetInt(q).Quo(r, scale), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// legacyRound is legacy_round, legacy_roundup and legacy_rounddown.
func legacyRound(name string, p []any, mode int) (any, error) {
	places := 0
	if len(p) == 2 {
		var err error
		if places, err = argWhole(name, 2, "places", p[1]); err != nil {
			return nil, err
		}
	}
	r, err := roundDecimal(name, p[0], places, mode)
	if err != nil {
		return nil, err
	}
	f, _ := r.Float64()
	return f, nil
}

// thousands writes commas between the thousands of a decimal number's
// integer part: "-1234567.5" is "-1,234,567.5".
func thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func textAndCount(name string, p []any) ([]rune, int, error) {
	n, err := argWhole(name, 2, "count", p[1])
	if err != nil {
		return nil, 0, err
	}
	if n < 0 {
		return nil, 0, argError(name, 2, "count", fmt.Sprintf("is %d, less than 0", n))
	}
	return []rune(toText(p[0])), n, nil
}

// charOf is char(code) and unichar(code), by name: the character with that
// code.
func charOf(name string) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		n, err := argWhole(name, 1, "code", p[0])
		if err != nil {
			return nil, err
		}
		if n < 0 || n > unicode.MaxRune {
			return nil, argError(name, 1, "code", fmt.Sprintf("is %d, not a character code (0 to %d)", n, unicode.MaxRune))
		}
		return string(rune(n)), nil
	}
}

// codeOf is code(text) and unicode(text), by name: the code of the first
// character.
func codeOf(name string) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		s, err := oneString(name, p)
		if err != nil {
			return nil, err
		}
		for _, r := range s {
			return int(r), nil
		}
		if p[0] == nil {
			return nil, argError(name, 1, "text", "is not set")
		}
		return nil, argError(name, 1, "text", "is empty: it has no first character")
	}
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("%v is not a number", x)
		}
		return x, nil
	case bool:
		return 0, fmt.Errorf("%v is not a number", x)
	}
	s := strings.TrimSpace(toText(v))
	// ParseFloat also reads Go's forms, which are no numbers to RapidPro:
	// inf, NaN, hexadecimal (0x1p4) and digits with underscores.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xX_") {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

func legacyCompare(a, b any) int {
	x, err1 := toFloat(a)
	y, err2 := toFloat(b)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(toText(a)), strings.ToLower(toText(b)))
}

// urnScheme is a URN's scheme, as RFC 3986 writes a URI's.
var urnScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// formatTel writes a phone number, or a tel: URN's, in its country's
// national format. Numbers that do not parse (short codes, national
// numbers) are returned without their scheme, and so is the address of a
// URN of another scheme (whatsapp:+15550100100 is +15550100100,
// telegram:12345 is 12345), whose scheme is read in any case.
func formatTel(urn string) string {
	s, tel := urn, true
	if scheme, path, ok := strings.Cut(urn, ":"); ok && urnScheme.MatchString(scheme) {
		s, tel = path, strings.EqualFold(scheme, "tel")
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	if !tel || !strings.HasPrefix(s, "+") {
		return s
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return s
	}
	return phonenumbers.Format(n, phonenumbers.NATIONAL)
}

// randomFunctions are rand(), a random number in [0, 1), and randbetween(a,
// b), an integer in [a, b], drawing from float and intn: the engine's source,
// which WithSeed makes repeat.
func randomFunctions(float func() float64, intn func(int) int) map[string]func(...any) (any, error) {
	return map[string]func(...any) (any, error){
		"rand": func(p ...any) (any, error) {
			return float(), nil
		},
		"randbetween": func(p ...any) (any, error) {
			lo, err := argWhole("randbetween", 1, "low", p[0])
			if err != nil {
				return nil, err
			}
			hi, err := argWhole("randbetween", 2, "high", p[1])
			if err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, fmt.Errorf("randbetween: high %d is less than low %d", hi, lo)
			}
			// hi-lo+1 numbers to draw from, more than an int counts when
			// the interval is most of int's range.
			if width := uint64(hi) - uint64(lo); width >= math.MaxInt64 {
				return nil, fmt.Errorf("randbetween: the interval from %d to %d is too wide (at most %d numbers)", lo, hi, int64(math.MaxInt64))
			}
			return lo + intn(hi-lo+1), nil
		},
	}
}

// argNumber reads argument i (from 1) of the function name, which the
// function calls what ("" for no name), as a number: the one message for
// an argument not set or not a number, in every function.
func argNumber(name string, i int, what string, v any) (float64, error) {
	if v == nil {
		return 0, argError(name, i, what, "is not set")
	}
	f, err := toFloat(v)
	if err != nil {
		return 0, argError(name, i, what, "is "+argText(v)+", not a number")
	}
	return f, nil
}

// argWhole is argNumber as a whole number, rounded half away from zero as
// RapidPro's functions round a count (2.5 is 3), refused when an int does
// not hold it.
func argWhole(name string, i int, what string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	}
	f, err := argNumber(name, i, what, v)
	if err != nil {
		return 0, err
	}
	f = math.Round(f)
	if !inIntRange(f) {
		return 0, argError(name, i, what, "is "+argText(v)+", too large for a whole number")
	}
	return int(f), nil
}

// argError says what is wrong with argument i of the function name.
func argError(name string, i int, what, wrong string) error {
	if what != "" {
		return fmt.Errorf("%s: argument %d (%s) %s", name, i, what, wrong)
	}
	return fmt.Errorf("%s: argument %d %s", name, i, wrong)
}

// argText writes an argument in a message: text quoted, a number in plain
// decimal (no exponent), other values by their kind.
func argText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(shorten(x, 40))
	case float64:
		return shorten(strconv.FormatFloat(x, 'f', -1, 64), 40)
	case int, int64, bool:
		return fmt.Sprint(x)
	}
	return kindName(reflect.TypeOf(v).String())
}

// digitGroups is how RapidPro's READ_DIGITS groups n digits: 9 (a social
// security number) as 3, 2 and 4; a multiple of 3 above 3 (most phone
// numbers) in threes; a multiple of 4 (a card number) in fours; sizes nil
// for any other count, read one by one.
func digitGroups(n int) []int {
	var size int
	switch {
	case n == 9:
		return []int{3, 2, 4}
	case n%3 == 0 && n > 3:
		size = 3
	case n%4 == 0 && n > 0:
		size = 4
	default:
		return nil
	}
	groups := make([]int, n/size)
	for i := range groups {
		groups[i] = size
	}
	return groups
}

// readDigits writes the digits of s as RapidPro's READ_DIGITS does, for a
// voice to read them: "123456" is "1 2 3 , 4 5 6", the digits of each
// group spaced and the groups between commas; digits in no group are
// between commas ("12345" is "1,2,3,4,5").
func readDigits(s string) string {
	var d []string
	for _, r := range s {
		if unicode.IsDigit(r) {
			d = append(d, string(r))
		}
	}
	groups := digitGroups(len(d))
	if groups == nil {
		return strings.Join(d, ",")
	}
	parts := make([]string, len(groups))
	for i, n := range groups {
		parts[i] = strings.Join(d[:n], " ")
		d = d[n:]
	}
	return strings.Join(parts, " , ")
}

// readDigitsSize is the size of readDigits(s), without making it.
func readDigitsSize(s string) int {
	n, size := 0, 0
	for _, r := range s {
		if unicode.IsDigit(r) {
			n++
			size += utf8.RuneLen(r)
		}
	}
	groups := digitGroups(n)
	if groups == nil {
		return size + max(n-1, 0)
	}
	for _, g := range groups {
		size += g - 1 // the spaces inside a group
	}
	return size + len(" , ")*(len(groups)-1)
}
