package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// CountryDefaulter is implemented by a Run whose environment has a default
// country (ISO 3166-1 alpha-2), used by has_phone when the rule names none.
type CountryDefaulter interface {
	DefaultCountry() string
}

// phoneCandidate is a run that could be a phone number: an optional "+", then
// at least five digits, spaces, dots, dashes or parentheses (after phoneText).
var phoneCandidate = regexp.MustCompile(`\+?[\d .\-()]{5,}`)

// phoneText returns s with what people type between the digits of a phone
// number written as phoneCandidate reads it: digits of any script as ASCII
// digits (latinDigits), any space (a no-break space U+00A0, a narrow no-break
// space U+202F, an ideographic space...) as " ", any dash (a non-breaking
// hyphen U+2011, a figure dash, an en dash, a minus sign U+2212, a full-width
// hyphen...) as "-", and the full-width plus sign and parentheses as "+", "("
// and ")". Phone keyboards and word processors put them there, and
// libphonenumber reads them as the ASCII ones.
func phoneText(s string) string {
	s = latinDigits(s)
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r < utf8.RuneSelf:
			return r
		case unicode.Is(unicode.Zs, r):
			return ' '
		case wideSign(r) != 0:
			return rune(wideSign(r))
		case unicode.Is(unicode.Pd, r):
			return '-'
		case r == '\uFF08':
			return '('
		case r == '\uFF09':
			return ')'
		}
		return r
	}, s)
}

func validCountry(s string) bool {
	return flows.KnownCountry(strings.ToUpper(strings.TrimSpace(s)))
}

// testHasPhone finds the first candidate that libphonenumber accepts as a
// possible number (by length, as goflow does) for the country, and saves it in
// E.164. Without a country only numbers written with "+" and a country code
// match. Digits of any script count (Arabic-Indic, Devanagari...), and so do
// the spaces and dashes of other keyboards (phoneText).
func testHasPhone(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	in = phoneText(in) // ٩٧١ is 971, as has_number reads it; "206\u00a0779" is "206 779"
	if !hasDigits(in, 5) {
		return "", nil, false
	}
	country := ""
	if len(rl.args) > 0 {
		country = strings.ToUpper(strings.TrimSpace(rl.render(r, 0)))
	}
	if country == "" {
		if d, ok := r.(CountryDefaulter); ok {
			country = strings.ToUpper(strings.TrimSpace(d.DefaultCountry()))
		}
	}
	if country != "" && !validCountry(country) {
		s.warn(r, rl, flows.EventWarning, "unknown country code %q", country)
		country = ""
	}
	for _, c := range phoneCandidate.FindAllString(in, -1) {
		c = strings.TrimSpace(c)
		if !hasDigits(c, 5) {
			continue
		}
		if e164, ok := flows.E164(c, country); ok {
			return e164, nil, true
		}
	}
	return "", nil, false
}

// testHasGroup matches when the contact is in a group named by any argument
// (flows imported from RapidPro carry [uuid, name]; contacts here carry names).
// Names compare without regard to case; the value is the group as the contact has it.
func testHasGroup(_ *Set, rl *rule, r flows.Run, _ string) (string, map[string]string, bool) {
	sess := r.Session()
	if sess == nil {
		return "", nil, false
	}
	for j := range rl.args {
		want := strings.TrimSpace(rl.render(r, j))
		if want == "" {
			continue
		}
		for _, g := range sess.Contact.Groups {
			if strings.EqualFold(strings.TrimSpace(g), want) {
				return g, nil, true
			}
		}
	}
	return "", nil, false
}

// testHasCategory matches when an earlier result of the running flow has one
// of the categories (compared without regard to case); the operand is not used.
func testHasCategory(_ *Set, rl *rule, r flows.Run, _ string) (string, map[string]string, bool) {
	sess := r.Session()
	if sess == nil {
		return "", nil, false
	}
	key := rl.key
	if !rl.args[0].static {
		key = flows.Key(rl.render(r, 0))
	}
	res, _ := flows.LookupResult(sess.Results(), key)
	if res == nil || res.Category == "" {
		return "", nil, false
	}
	for j := 1; j < len(rl.args); j++ {
		if strings.EqualFold(strings.TrimSpace(rl.render(r, j)), res.Category) {
			return res.Category, nil, true
		}
	}
	return "", nil, false
}

// testExpression evaluates an expr-lang expression; only a boolean true
// matches. The value saved is the operand, as the expression extracts nothing.
func testExpression(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	v, err := r.Eval(rl.expr)
	if err != nil {
		s.warn(r, rl, flows.EventError, "%v", err)
		return "", nil, false
	}
	b, ok := v.(bool)
	if !ok {
		s.warn(r, rl, flows.EventWarning, "expression %q gave %s, not true or false", rl.expr.Source(), valueKind(v))
		return "", nil, false
	}
	if !b {
		return "", nil, false
	}
	return in, nil, true
}

// valueKind names what an expression gave, as a flow author knows it.
func valueKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "no value (a variable not set)"
	case string:
		return fmt.Sprintf("the text %q", x)
	case int, int64:
		return fmt.Sprintf("the number %d", x)
	case float64:
		return "the number " + strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	case time.Time:
		return "a time"
	}
	return fmt.Sprintf("a value of type %T", v)
}
