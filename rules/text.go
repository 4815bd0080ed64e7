package rules

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/parleyhq/parley/flows"
)

// dotlessI reads the Turkish capital I with a dot (İ, U+0130) and small
// dotless i (ı, U+0131) as "i", which simple case folding does not: Turkish
// keyboards capitalise "iptal" as "İptal" and "hayır" as "HAYIR", so that
// both are read as they are meant whatever the rule's case, and an English
// "I" still matches "i".
func dotlessI(r rune) rune {
	if r == '\u0130' || r == '\u0131' {
		return 'i'
	}
	return r
}

func testHasText(_ *Set, _ *rule, _ flows.Run, in string) (string, map[string]string, bool) {
	t := strings.TrimSpace(in)
	return t, nil, t != ""
}

// testHasOnlyText is an exact, case-sensitive comparison, as in goflow: it is
// meant for comparing values the flow produced itself (a category, a status).
func testHasOnlyText(_ *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	if in == rl.renderNFC(r, 0) {
		return in, nil, true
	}
	return "", nil, false
}

// testHasBeginning compares the trimmed input's start with the trimmed
// argument, rune by rune without regard to case, and saves that prefix as the
// input wrote it.
func testHasBeginning(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	hay := strings.TrimSpace(in)
	pin := strings.TrimSpace(rl.renderNFC(r, 0))
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
	// A match ends between two grapheme clusters, never between a letter
	// and the marks that belong to it: "Jose" is not the beginning of
	// "Jose\u0301" (José with a combining accent, which NFC leaves alone
	// when no composed letter exists), nor "क" of "कि".
	if i < len(hay) && hay[i] >= utf8.RuneSelf && !clusterBoundary(hay, i) {
		return "", nil, false
	}
	return hay[:i], nil, true
}

// clusterBoundary reports whether byte i of s is between two grapheme
// clusters.
func clusterBoundary(s string, i int) bool {
	pos, state, rest := 0, -1, s
	for pos < i && rest != "" {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		pos += len(c)
	}
	return pos == i
}

// sameRune reports whether two runes are equal under Unicode simple case
// folding, with the Turkish İ and ı the same as i (dotlessI).
func sameRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a >= utf8.RuneSelf || b >= utf8.RuneSelf {
		if a, b = dotlessI(a), dotlessI(b); a == b {
			return true
		}
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
	return regexp.Compile("(?mi)" + nfc(strings.TrimSpace(src)))
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
