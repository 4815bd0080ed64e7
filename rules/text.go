package rules

import (
	"regexp"
	"regexp/syntax"
	"slices"
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
	if in == rl.renderNFC(r, 0) {
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
	pin := trimBlank(rl.renderNFC(r, 0))
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
// and multi-line, as goflow does. A letter i written in the pattern where
// case is ignored also matches the Turkish İ and ı, as the other text rules
// read them (dotlessI): "istanbul" matches "İSTANBUL" and "hayır" "HAYIR".
func compilePattern(src string) (*regexp.Regexp, error) {
	expr := "(?mi)" + nfc(strings.TrimSpace(src))
	re, err := regexp.Compile(expr)
	if err != nil || !strings.ContainsAny(src, "iIİı\\") {
		// Without an i (or an escape, which may write one) there is
		// nothing to fold.
		return re, err
	}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || !foldDotlessI(tree) {
		return re, nil
	}
	folded, err := regexp.Compile(tree.String())
	if err != nil {
		return re, nil // not expected: the tree is the one re was compiled from
	}
	return folded, nil
}

// turkishI is every case of the letter i: I, i, İ and ı.
var turkishI = []rune{'I', 'I', 'i', 'i', '\u0130', '\u0131'}

// foldDotlessI replaces, in the case-insensitive literals of re, each
// letter i (I, i, İ or ı) with the class of the four, and reports whether
// it replaced any. Classes ([a-z], \w) are left as they are: what they
// hold is what they say.
func foldDotlessI(re *syntax.Regexp) bool {
	changed := false
	for _, sub := range re.Sub {
		changed = foldDotlessI(sub) || changed
	}
	if re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase == 0 || !slices.ContainsFunc(re.Rune, isTurkishI) {
		return changed
	}
	var parts []*syntax.Regexp
	start := 0
	for i, r := range re.Rune {
		if !isTurkishI(r) {
			continue
		}
		if i > start {
			parts = append(parts, &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: slices.Clone(re.Rune[start:i])})
		}
		parts = append(parts, &syntax.Regexp{Op: syntax.OpCharClass, Flags: re.Flags, Rune: slices.Clone(turkishI)})
		start = i + 1
	}
	if start < len(re.Rune) {
		parts = append(parts, &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: slices.Clone(re.Rune[start:])})
	}
	if len(parts) == 1 {
		*re = *parts[0]
	} else {
		*re = syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: parts}
	}
	return true
}

func isTurkishI(r rune) bool { return r == 'i' || r == 'I' || r == '\u0130' || r == '\u0131' }

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

// emailPattern finds what may be an address: a local part and a domain of at
// least two labels, starting with a letter or digit. It accepts the letters of
// any script with their marks (the vowel signs of Devanagari or Thai), as
// people type them, and stops before trailing punctuation. emailAt then cuts
// it where the script changes.
var emailPattern = regexp.MustCompile(`[\pL\pN][-_+$~.\pL\pM\pN]*@[\pL\pN][-_\pL\pM\pN]*(?:\.[\pL\pN][-_\pL\pM\pN]*)+`)

// testHasEmail saves the first address in the input, without the words of
// another script written against it: in "我的邮箱是abc@qq.com谢谢" it is
// abc@qq.com (emailAt).
func testHasEmail(_ *Set, _ *rule, _ flows.Run, in string) (string, map[string]string, bool) {
	if strings.IndexByte(in, '@') < 0 {
		return "", nil, false
	}
	// The pattern has no anchors: searching the rest of the input after a
	// match that is no address finds what FindAll would.
	for rest := in; ; {
		loc := emailPattern.FindStringIndex(rest)
		if loc == nil {
			return "", nil, false
		}
		if m, ok := emailAt(rest[loc[0]:loc[1]]); ok {
			return m, nil, true
		}
		rest = rest[loc[1]:]
	}
}

// Script classes of emailAt: a character of neither (a digit, a mark, "-")
// joins the run it is in.
const (
	noScript = iota
	latinScript
	otherScript
)

func scriptOf(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return latinScript
		}
		return noScript
	case !unicode.IsLetter(r):
		return noScript
	case unicode.Is(unicode.Latin, r):
		return latinScript
	}
	return otherScript
}

// emailAt cuts a match of emailPattern where its letters change between
// Latin and another script within the local part or within a label of the
// domain: a label mixing them is not a valid domain label (IDNA), and people
// writing Chinese, Japanese or Arabic often write the address against the
// words around it, without a space. The local part keeps the run of letters
// before "@", the domain ends with the label where its script changes, cut
// there. An address wholly in one script (用户@例子.中国), or with a local part,
// a label or a top-level domain in another script than the rest
// (用户@example.com, 例子.jp), is kept whole. ok is false when what is left is
// no address (a domain of one label).
func emailAt(m string) (string, bool) {
	at := strings.IndexByte(m, '@')
	local, domain := m[:at], m[at+1:]
	// The local part, from "@" back to a letter of the other script.
	start, script := len(local), noScript
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(local[:start])
		if c := scriptOf(r); c != noScript {
			if script != noScript && c != script {
				break
			}
			script = c
		}
		start -= size
	}
	local = strings.TrimLeftFunc(local[start:], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	if local == "" {
		return "", false
	}
	start = at - len(local)
	// The domain, label by label.
	end, labels := 0, 0
	for end < len(domain) {
		from := end
		if labels > 0 {
			from++ // the "."
		}
		i, script, cut := from, noScript, false
		for i < len(domain) && domain[i] != '.' {
			r, size := utf8.DecodeRuneInString(domain[i:])
			if c := scriptOf(r); c != noScript {
				if script != noScript && c != script {
					cut = true
					break
				}
				script = c
			}
			i += size
		}
		if cut {
			label := strings.TrimRight(domain[from:i], "-_")
			if label == "" {
				break
			}
			end, labels = from+len(label), labels+1
			break
		}
		end, labels = i, labels+1
	}
	if labels < 2 {
		return "", false
	}
	return m[start : at+1+end], true
}
