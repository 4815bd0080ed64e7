package rules

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// testHasText matches an input with anything visible in it: spaces and
// invisible format characters (a zero width space, a word joiner, a
// byte-order mark) alone are no text. It saves the input without them at its
// ends (trimBlank).
func testHasText(_ *Set, _ *rule, _ flows.Run, in string) (string, map[string]string, bool) {
	t := trimBlank(in)
	return t, nil, t != ""
}

// isBlank reports whether r shows nothing by itself: a space or a format
// character (Unicode category Cf: U+200B zero width space, U+2060 word
// joiner, U+FEFF byte-order mark, the bidirectional marks...).
func isBlank(r rune) bool {
	return unicode.IsSpace(r) || r >= utf8.RuneSelf && unicode.Is(unicode.Cf, r)
}

// attaches reports whether the format character r belongs to the character
// before it: a zero width joiner or non-joiner (👨‍👩‍👧, می‌خواهم) or an emoji
// tag (the flag of England ends with U+E007F).
func attaches(r rune) bool {
	return r == '\u200C' || r == '\u200D' || r >= '\U000E0020' && r <= '\U000E007F'
}

// trimBlank returns s without the spaces and format characters at its ends
// (isBlank), keeping at its end a format character that belongs to the
// character before it (attaches). An input of only spaces and format
// characters trims to "".
func trimBlank(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return strings.TrimSpace(s)
	}
	s = strings.TrimLeftFunc(s, isBlank)
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		if !isBlank(r) || attaches(r) {
			break
		}
		s = s[:len(s)-size]
	}
	return s
}

// testHasOnlyText is an exact, case-sensitive comparison, as in goflow: it is
// meant for comparing values the flow produced itself (a category, a status).
func testHasOnlyText(_ *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	if in == rl.render(r, 0) {
		return in, nil, true
	}
	return "", nil, false
}

// testHasBeginning compares the trimmed input's start with the trimmed
// argument (trimBlank: a zero width space or a byte-order mark before "yes"
// is trimmed as a space is), rune by rune without regard to case, and saves
// that prefix as the input wrote it.
func testHasBeginning(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	hay := trimBlank(in)
	pin := trimBlank(rl.render(r, 0))
	if hay == "" || pin == "" {
		return "", nil, false
	}
	i := 0
	for _, pr := range pin {
		if i >= len(hay) {
			return "", nil, false
		}
		hr, size := utf8.DecodeRuneInString(hay[i:])
		if !sameRune(hr, pr) {
			return "", nil, false
		}
		i += size
	}
	return hay[:i], nil, true
}

// sameRune reports whether two runes are equal under Unicode simple case folding.
func sameRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && a+'a'-'A' == b || 'A' <= b && b <= 'Z' && b+'a'-'A' == a
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// compilePattern compiles a has_pattern argument: trimmed, RE2, case-insensitive
// and multi-line, as goflow does.
func compilePattern(src string) (*regexp.Regexp, error) {
	return regexp.Compile("(?mi)" + strings.TrimSpace(src))
}

func testHasPattern(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	re := rl.re
	if re == nil {
		src := rl.render(r, 0)
		var err error
		if re, err = s.regexes.get(src); err != nil {
			s.warn(r, rl, flows.EventError, "invalid regular expression %q: %v", src, err)
			return "", nil, false
		}
	}
	loc := re.FindStringSubmatchIndex(in)
	if loc == nil {
		return "", nil, false
	}
	names := re.SubexpNames()
	extra := make(map[string]string, len(names))
	for g := range len(loc) / 2 {
		var v string
		if loc[2*g] >= 0 {
			v = in[loc[2*g]:loc[2*g+1]]
		}
		extra[strconv.Itoa(g)] = v
		if g < len(names) && names[g] != "" {
			extra[names[g]] = v
		}
	}
	return in[loc[0]:loc[1]], extra, true
}

// emailPattern finds an address: a local part and a domain of at least two
// labels, starting with a letter or digit. It accepts unicode letters, as
// people type them, and stops before trailing punctuation.
var emailPattern = regexp.MustCompile(`[\pL\pN][-_+$~.\pL\pN]*@[\pL\pN][-_\pL\pN]*(?:\.[\pL\pN][-_\pL\pN]*)+`)

func testHasEmail(_ *Set, _ *rule, _ flows.Run, in string) (string, map[string]string, bool) {
	if strings.IndexByte(in, '@') < 0 {
		return "", nil, false
	}
	m := emailPattern.FindString(in)
	return m, nil, m != ""
}
