package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// decimal is an exact decimal number held as its canonical digits: intp has no
// leading zeros, frac no trailing zeros, and zero is never negative. Numbers are
// compared digit by digit, so any length is exact and nothing overflows.
type decimal struct {
	neg  bool
	intp string // ASCII digits, "" for zero
	frac string // ASCII digits after the point, "" for none
	// text is the number as the input wrote it, when that is already canonical,
	// so String need not build it again.
	text string
}

// canonical reports whether raw is exactly d's canonical form.
func (d decimal) canonical(raw string) bool {
	if d.neg {
		if raw == "" || raw[0] != '-' {
			return false
		}
		raw = raw[1:]
	}
	ip := d.intp
	if ip == "" {
		ip = "0"
	}
	if !strings.HasPrefix(raw, ip) {
		return false
	}
	raw = raw[len(ip):]
	if d.frac == "" {
		return raw == ""
	}
	return len(raw) == len(d.frac)+1 && raw[0] == '.' && raw[1:] == d.frac
}

func (d decimal) String() string {
	if d.text != "" {
		return d.text
	}
	ip := d.intp
	if ip == "" {
		ip = "0"
	}
	if !d.neg && d.frac == "" {
		return ip
	}
	var b strings.Builder
	b.Grow(len(ip) + len(d.frac) + 2)
	if d.neg {
		b.WriteByte('-')
	}
	b.WriteString(ip)
	if d.frac != "" {
		b.WriteByte('.')
		b.WriteString(d.frac)
	}
	return b.String()
}

func (d decimal) cmp(o decimal) int {
	if d.neg != o.neg {
		if d.neg {
			return -1
		}
		return 1
	}
	c := cmpMagnitude(d, o)
	if d.neg {
		return -c
	}
	return c
}

func cmpMagnitude(a, b decimal) int {
	if len(a.intp) != len(b.intp) {
		if len(a.intp) < len(b.intp) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.intp, b.intp); c != 0 {
		return c
	}
	// Without trailing zeros, fractions order like strings.
	return strings.Compare(a.frac, b.frac)
}

// makeDecimal builds a canonical decimal from an integer part (digits, possibly
// with grouping commas, in any script) and a fraction (digits). ok is false when
// there are no digits or a character is not a decimal digit (such as "½").
func makeDecimal(neg bool, intRun, fracRun string) (decimal, bool) {
	ip, ok1 := asciiDigits(intRun, true)
	fp, ok2 := asciiDigits(fracRun, false)
	if !ok1 || !ok2 || ip == "" && fp == "" {
		return decimal{}, false
	}
	ip = strings.TrimLeft(ip, "0")
	fp = strings.TrimRight(fp, "0")
	return decimal{neg: neg && (ip != "" || fp != ""), intp: ip, frac: fp}, true
}

// asciiDigits returns s as ASCII digits: a slice of s when it already is, a new
// string when it has commas (skipped if commas is set) or digits of other
// scripts (Arabic-Indic, Bengali, Devanagari...).
func asciiDigits(s string, commas bool) (string, bool) {
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if c == ',' && commas || c >= utf8.RuneSelf {
			plain = false
			continue
		}
		return "", false
	}
	if plain {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		case commas && (r == ',' || numSeparator(r) == ','):
		default:
			v, ok := digitValue(r)
			if !ok {
				return "", false
			}
			b = append(b, byte('0'+v))
		}
	}
	return string(b), true
}

// latinDigits returns s with the decimal digits of other scripts (٣, ३, ۳)
// written as ASCII digits, and the separators typed with them (numSeparator)
// as ASCII commas and points; s itself when it is ASCII.
func latinDigits(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf {
			if v, ok := digitValue(r); ok {
				return rune('0' + v)
			}
			if c := numSeparator(r); c != 0 {
				return rune(c)
			}
		}
		return r
	}, s)
}

// numSeparator returns the ASCII separator ("," or ".") that r stands for
// in numbers typed on other keyboards, 0 for any other rune: the Arabic
// thousands separator ٬ (U+066C) and decimal separator ٫ (U+066B), and the
// full-width comma ， (U+FF0C) and full stop ． (U+FF0E) of Chinese and
// Japanese keyboards.
func numSeparator(r rune) byte {
	switch r {
	case '\u066C', '\uFF0C':
		return ','
	case '\u066B', '\uFF0E':
		return '.'
	}
	return 0
}

// pointLen returns the length of the decimal point at s[i:] ("." or one of
// numSeparator's), 0 when there is none.
func pointLen(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	if s[i] == '.' {
		return 1
	}
	if s[i] < utf8.RuneSelf {
		return 0
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if numSeparator(r) == '.' {
		return size
	}
	return 0
}

// digitValue returns the value of a decimal digit of any script. Unicode keeps
// each script's digits 0-9 as a run of ten consecutive code points (and runs of
// runs, for the mathematical digits), so the value is the distance from the
// start of the run, modulo ten.
func digitValue(r rune) (int, bool) {
	if !unicode.IsDigit(r) {
		return 0, false
	}
	start := r
	for start > 0 && unicode.IsDigit(start-1) && r-start < 100 {
		start--
	}
	return int(r-start) % 10, true
}

// parseDecimal parses a whole argument: optional sign, digits, optional point
// and digits. Grouping commas and exponents are not accepted in arguments.
func parseDecimal(s string) (decimal, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		ip, fp = s[:i], s[i+1:]
		if fp == "" {
			return decimal{}, false
		}
	}
	if strings.IndexByte(ip, ',') >= 0 {
		return decimal{}, false
	}
	return makeDecimal(neg, ip, fp)
}

// isNumRune reports whether r may be part of a number's integer run: a digit of
// any script or other numeric character (\pN, as goflow), or a grouping comma,
// ASCII or Arabic or full-width (numSeparator).
func isNumRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9' || r == ','
	}
	return unicode.IsNumber(r) || numSeparator(r) == ','
}

// isComma reports whether r is a grouping comma, ASCII or another (numSeparator).
func isComma(r rune) bool {
	return r == ',' || r >= utf8.RuneSelf && numSeparator(r) == ','
}

func numRunEnd(s string, i int, commas bool) int {
	for i < len(s) {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !isNumRune(r) || !commas && isComma(r) || r == '\uFF0C' && !groupFollows(s, i+size) {
			break
		}
		i += size
	}
	return i
}

// groupFollows reports whether s[i:] starts with a group of exactly three
// digits. The full-width comma is Chinese and Japanese writing's everyday
// comma, written without a space after it ("选项1，2" is options 1 and 2),
// so it groups thousands only before three digits ("1，500" is 1500).
func groupFollows(s string, i int) bool {
	n := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsDigit(r) {
			break
		}
		n++
		i += size
	}
	return n == 3
}

func isASCIIWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// eachNumber calls f with every number-like run of s, left to right, until f
// returns true, as goflow finds numbers: an optional sign, digits with grouping
// commas ("1,000"), an optional fraction ("12.5"), or a bare fraction (".5") when
// it does not follow a word character. Runs that are not numbers ("½", ",") are
// skipped. Numbers inside words count: "I'm 35yo" has 35. The Arabic and
// full-width commas and points (numSeparator) are read as "," and ".":
// "١٬٥٠٠" is 1500, "３．５" is 3.5.
func eachNumber(s string, f func(decimal) bool) bool {
	for i := 0; i < len(s); {
		neg := false
		q := i
		if c := s[q]; c == '-' || c == '+' {
			neg = c == '-'
			q++
		} else if n, minus := signLen(s, q); n > 0 {
			neg = minus
			q += n
		}
		if q < len(s) {
			if end := numRunEnd(s, q, true); end > q {
				// Integer run, then an optional fraction.
				fracStart, fracEnd := end, end
				if p := pointLen(s, end); p > 0 {
					if fe := numRunEnd(s, end+p, false); fe > end+p {
						fracStart, fracEnd = end+p, fe
					}
				}
				if d, ok := makeDecimal(neg, s[q:end], s[fracStart:fracEnd]); ok {
					if raw := s[i:fracEnd]; d.canonical(raw) {
						d.text = raw
					}
					if f(d) {
						return true
					}
				}
				i = fracEnd
				continue
			}
			if p := pointLen(s, q); p > 0 && (q == 0 || q > i || !isASCIIWord(s[q-1])) {
				if fe := numRunEnd(s, q+p, false); fe > q+p {
					if d, ok := makeDecimal(neg, "", s[q+p:fe]); ok && f(d) {
						return true
					}
					i = fe
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}

// signLen returns the length of a sign at s[i:] written as word processors
// and full-width keyboards write it (wideSign), and whether it is a minus;
// 0 when there is none.
func signLen(s string, i int) (int, bool) {
	if s[i] < utf8.RuneSelf {
		return 0, false
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch wideSign(r) {
	case '-':
		return size, true
	case '+':
		return size, false
	}
	return 0, false
}

// wideSign is the ASCII sign r stands for when r is a sign as word
// processors and full-width keyboards write it: '-' for the minus sign
// (U+2212) and the full-width hyphen-minus (U+FF0D), '+' for the full-width
// plus sign (U+FF0B); 0 for any other rune. Numbers and phone numbers read
// these signs alike; a phone number reads any other dash as '-' too
// (phoneText), a number does not ("5–10" is two numbers).
func wideSign(r rune) byte {
	switch r {
	case '\u2212', '\uFF0D':
		return '-'
	case '\uFF0B':
		return '+'
	}
	return 0
}

// numberTest makes the test of a number rule: the first number in the input
// that passes pass wins, so "2 kids, 40 years" passes has_number_gt 30 with 40.
func numberTest(pass func(v, a, b decimal) bool) func(*Set, *rule, flows.Run, string) (string, map[string]string, bool) {
	return func(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
		var bounds [2]decimal
		for j := range rl.args {
			if rl.args[j].static {
				bounds[j] = rl.nums[j]
				continue
			}
			txt := rl.render(r, j)
			d, ok := parseDecimal(txt)
			if !ok {
				s.warn(r, rl, flows.EventWarning, "argument %d is %q, not a number", j, txt)
				return "", nil, false
			}
			bounds[j] = d
		}
		var found decimal
		if !eachNumber(in, func(d decimal) bool {
			if pass(d, bounds[0], bounds[1]) {
				found = d
				return true
			}
			return false
		}) {
			return "", nil, false
		}
		return found.String(), nil, true
	}
}

// ParseNumber reads s, spaces around it aside, as one number: an optional
// sign, digits of any script with commas only between groups of three
// ("1,000"), and an optional fraction (".5", "12.5"); the Arabic and
// full-width commas and points (numSeparator) count as "," and "."
// ("١٬٥٠٠" is 1500, "３．５" is 3.5). That is stricter than
// the number rules, which drop any comma among the digits ("1,5" is 15
// there, as goflow reads it). It returns the number in canonical form
// ("0042.50" is "42.5"); ok is false for anything else ("1e3", "inf",
// "1,2,3", "1,5", "12 kg").
func ParseNumber(s string) (string, bool) {
	s = latinDigits(strings.TrimSpace(s))
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	} else if s != "" {
		if n, minus := signLen(s, 0); n > 0 {
			neg = minus
			s = s[n:]
		}
	}
	ip, fp, point := strings.Cut(s, ".")
	if point && fp == "" || numRunEnd(ip, 0, true) != len(ip) || numRunEnd(fp, 0, false) != len(fp) {
		return "", false
	}
	if strings.IndexByte(ip, ',') >= 0 {
		groups := strings.Split(ip, ",")
		for i, g := range groups {
			n := utf8.RuneCountInString(g)
			if n == 0 || n > 3 || i > 0 && n != 3 {
				return "", false
			}
		}
	}
	d, ok := makeDecimal(neg, ip, fp)
	if !ok {
		return "", false
	}
	return d.String(), true
}
