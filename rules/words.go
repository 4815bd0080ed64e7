package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/parleyhq/parley/flows"
)

// span is a token's byte range in the text it came from. Tokens are kept as
// ranges so the value a rule saves can be cut from the input in its own case.
type span struct{ start, end int }

// ASCII character classes for the tokeniser's fast path.
const (
	clsSep    = iota // punctuation and spaces: dropped
	clsWord          // letters, digits, underscore, apostrophe
	clsSymbol        // a token on its own
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		r := rune(c)
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '\'':
			t[c] = clsWord
		case unicode.IsSymbol(r): // $ + < = > ^ ` | ~
			t[c] = clsSymbol
		default:
			t[c] = clsSep
		}
	}
	return t
}()

func runeClass(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	switch {
	case r == emojiStyle || r == textStyle || r == keycap:
		return clsSep // on its own, not after the character it styles
	case r == '\u203C' || r == '\u2049' || r == '\u3030' || r == '\u303D':
		// ‼ ⁉ 〰 〽: punctuation with an emoji form, a word of their own
		// with or without U+FE0F, as the symbols are.
		return clsSymbol
	case unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r):
		return clsWord
	case unicode.IsSymbol(r):
		return clsSymbol
	}
	return clsSep
}

// apostrophe is the typographic apostrophe, U+2019, which phones type for "'".
const apostrophe = "\u2019"

// wordAt reports whether s has a word character at byte i.
func wordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c] == clsWord
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return runeClass(r) == clsWord && !(r == utf8.RuneError && size == 1)
}

// Emoji are grapheme clusters of several code points: a flag is two regional
// indicators, 👍🏽 a hand and a skin tone, 👨‍👩‍👧 people joined by U+200D, 1️⃣ a
// digit, U+FE0F and a keycap. The tokeniser asks uniseg for the cluster where
// one may start (a symbol, or a digit, "#", "*", ℹ, ‼ ... followed by one of
// the selectors below), so that an emoji is one word; elsewhere clusters do not matter, as
// letters and marks make one word anyway, and the scan goes rune by rune.
const (
	textStyle  = '\uFE0E' // variation selector 15: show as text
	emojiStyle = '\uFE0F' // variation selector 16: show as emoji (❤️, ℹ️, ‼️)
	keycap     = '\u20E3' // combining enclosing keycap (1️⃣, #️⃣)
	zwnj       = '\u200C' // zero-width non-joiner
	zwj        = '\u200D' // zero-width joiner (👨‍👩‍👧)
)

// selectorAt reports whether s has a variation selector or a keycap at byte i,
// which make a cluster with the character before them.
func selectorAt(s string, i int) bool {
	if i+3 > len(s) || (s[i] != 0xEF && s[i] != 0xE2) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r == emojiStyle || r == textStyle || r == keycap
}

// firstCluster is uniseg's, replaced by a test that counts the bytes it reads.
var firstCluster = uniseg.FirstGraphemeClusterInString

// clusterLen returns the length of the grapheme cluster at the start of s.
func clusterLen(s string) int {
	c, _, _, _ := firstCluster(s, -1)
	return len(c)
}

// emojiBase reports whether r is one of the characters with an emoji form
// (Unicode's Emoji property) that are not symbols: the keycap bases and a few
// letters and punctuation marks. Every other emoji is a symbol.
func emojiBase(r rune) bool {
	switch r {
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '#', '*',
		'\u203C', '\u2049', // ‼ ⁉
		'\u2139',           // ℹ
		'\u3030', '\u303D': // 〰 〽
		return true
	}
	return false
}

// tokenize appends to buf the tokens of s: runs of letters, marks, digits,
// underscores and apostrophes, and each symbol (an emoji, "$", "+") on its own,
// an emoji of several code points (👍🏽, 🇫🇷, 1️⃣) as one. Punctuation and spaces
// separate tokens and are dropped. Pass a stack buffer (buf[:0]) to tokenise
// short texts without allocating.
func tokenize(s string, buf []span) []span {
	toks := buf
	start := -1
	for i := 0; i < len(s); {
		// The fast path: an ASCII character before another (or at the end)
		// is a cluster of its own.
		if c := s[i]; c < utf8.RuneSelf && (i+1 == len(s) || s[i+1] < utf8.RuneSelf) {
			switch asciiClass[c] {
			case clsWord:
				if start < 0 {
					start = i
				}
			case clsSymbol:
				if start >= 0 {
					toks = append(toks, span{start, i})
					start = -1
				}
				toks = append(toks, span{i, i + 1})
			default:
				if start >= 0 {
					toks = append(toks, span{start, i})
					start = -1
				}
			}
			i++
			continue
		}
		var cls uint8
		var r rune
		size := 1
		if c := s[i]; c < utf8.RuneSelf {
			cls = asciiClass[c]
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			cls = runeClass(r)
			if r == utf8.RuneError && size == 1 {
				cls = clsSep // a stray byte of invalid UTF-8
			}
		}
		// A symbol and what follows it in its cluster (a skin tone, the
		// second half of a flag, U+FE0F, a joined emoji) are one token, and
		// so is one of the other characters with an emoji form with a
		// selector after it (1️⃣, ℹ️). A letter, a mark or a space with a
		// selector after it starts no emoji. Every cluster read here is
		// taken whole, so that no byte is segmented twice.
		if next := i + size; (size > 1 && cls == clsSymbol) ||
			((cls == clsSymbol || emojiBase(r)) && next < len(s) && s[next] >= 0xE2 && selectorAt(s, next)) {
			n := clusterLen(s[i:])
			if start >= 0 {
				toks = append(toks, span{start, i})
				start = -1
			}
			// A joiner or non-joiner at the end of the cluster joins
			// nothing: dropped, as at the end of a word.
			end := i + n
			for end-3 > i && (s[end-3:end] == "\u200D" || s[end-3:end] == "\u200C") {
				end -= 3
			}
			toks = append(toks, span{i, end})
			i += n
			continue
		}
		// A selector that styles nothing (the cluster test above did not
		// take it) is dropped between words and kept inside one, which it
		// does not cut (sameWord ignores U+FE0E and U+FE0F).
		if start >= 0 && (r == emojiStyle || r == textStyle || r == keycap) {
			cls = clsWord
		}
		// The zero-width joiner and non-joiner, which Persian, Urdu and the
		// Indic scripts write inside words ("می‌خواهم"), belong to the word
		// when a word character follows them, as in Unicode's word
		// segmentation; elsewhere they separate. A run of them is read once.
		if start >= 0 && (r == zwnj || r == zwj) {
			j := i + size
			for j+3 <= len(s) && (s[j:j+3] == "\u200C" || s[j:j+3] == "\u200D") {
				j += 3
			}
			if wordAt(s, j) {
				i = j
				continue
			}
		}
		if cls == clsWord {
			if start < 0 {
				start = i
			}
			i += size
			continue
		}
		// A typographic apostrophe between two word characters belongs to
		// the word, as "'" does ("I’m", "aujourd’hui"); elsewhere it is a
		// closing quote.
		if start >= 0 && strings.HasPrefix(s[i:], apostrophe) && wordAt(s, i+len(apostrophe)) {
			i += len(apostrophe)
			continue
		}
		if start >= 0 {
			toks = append(toks, span{start, i})
			start = -1
		}
		if cls == clsSymbol {
			toks = append(toks, span{i, i + size})
		}
		i += size
	}
	if start >= 0 {
		toks = append(toks, span{start, len(s)})
	}
	return toks
}

// tokenWords returns the tokens of s as strings (for arguments).
func tokenWords(s string) []string {
	var buf [16]span
	toks := tokenize(s, buf[:0])
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = s[t.start:t.end]
	}
	return out
}

// words returns the tokens of argument 0: pre-computed when it is static,
// tokenised from its rendering otherwise (into buf when it fits).
func (rl *rule) wordsFor(r flows.Run, buf []string) []string {
	if rl.args[0].static {
		return rl.words
	}
	s := rl.renderNFC(r, 0)
	var sbuf [16]span
	toks := tokenize(s, sbuf[:0])
	out := buf[:0]
	for _, t := range toks {
		out = append(out, s[t.start:t.end])
	}
	return out
}

// compareWords is sameWord, replaced by a test that counts comparisons.
var compareWords = sameWord

// sameWord compares two tokens without regard to case (Unicode simple folding),
// with "’" the same as "'" ("I’m" is "i'm"), and an emoji the same with or
// without its presentation selector and in any skin tone (❤ is ❤️, 👍 is 👍🏽).
func sameWord(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	// Rune by rune, skipping what does not count: words that differ stop
	// at their first difference, however long either is.
	seen := false
	for {
		ra, na := nextFolded(a)
		rb, nb := nextFolded(b)
		if na == 0 || nb == 0 {
			// A word of skin tones or selectors only (🏽) is no emoji: it
			// is the same as another only when equal, which it is not.
			return na == nb && seen
		}
		a, b = a[na:], b[nb:]
		if ra != rb {
			if ra|rb < utf8.RuneSelf {
				if ra|0x20 != rb|0x20 || ra|0x20 < 'a' || ra|0x20 > 'z' {
					return false // ASCII, and not the same letter in another case
				}
			} else if !foldsTo(ra, rb) {
				return false
			}
		}
		seen = true
	}
}

// nextFolded returns the first rune of s that counts in a comparison, with "’"
// and "ʼ" (U+02BC) read as "'" and the Turkish "İ" and "ı" as "i" (dotlessI),
// and the bytes up to its end (0 at the end of s).
func nextFolded(s string) (rune, int) {
	if len(s) > 0 && s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	for n := 0; n < len(s); {
		r, size := utf8.DecodeRuneInString(s[n:])
		n += size
		switch {
		case r == emojiStyle || r == textStyle || (r >= 0x1F3FB && r <= 0x1F3FF): // skin tones
			continue
		case r == '\u2019' || r == '\u02BC': // ’, and ʼ as Ukrainian writes it
			return '\'', n
		case r == '\u0130' || r == '\u0131': // İ, ı
			return 'i', n
		}
		return r, n
	}
	return 0, 0
}

// foldsTo reports whether a and b are the same under simple case folding, as
// strings.EqualFold compares them.
func foldsTo(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// manyWords is the number of words of an argument from which the rules look
// words up by wordKey, in time linear in the words of the input and the
// argument, rather than compare each word of the input with each of the
// argument, which is quicker for the few words an argument usually has.
const manyWords = 16

// wordKey is w in the form sameWord compares: each letter folded to one case
// (the smallest of its simple folding orbit), "’" as "'", without presentation
// selectors and skin tones; sameWord(a, b) is wordKey(a) == wordKey(b). A
// word of skin tones or selectors only is the same as itself only.
func wordKey(w string) string {
	var b strings.Builder
	for s := w; ; {
		r, n := nextFolded(s)
		if n == 0 {
			break
		}
		s = s[n:]
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			r = min(r, f)
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "\x00" + w
	}
	return b.String()
}

// wordKeys is the set of the keys of pins, with a number for each key.
func wordKeys(pins []string) map[string]int {
	keys := make(map[string]int, len(pins))
	for _, p := range pins {
		k := wordKey(p)
		if _, ok := keys[k]; !ok {
			keys[k] = len(keys)
		}
	}
	return keys
}

func containsWord(pins []string, w string) bool {
	for _, p := range pins {
		if compareWords(w, p) {
			return true
		}
	}
	return false
}

// joinTokens joins the tokens of in for which keep is true with single spaces.
// When the input already has them that way (one token, or neighbours separated
// by one space) the value is a slice of in, without allocating.
func joinTokens(in string, toks []span, keep func(i int) bool) string {
	n, size, first, last := 0, 0, -1, -1
	contiguous := true
	for i, t := range toks {
		if keep(i) {
			if first < 0 {
				first = i
			} else if last != i-1 || t.start != toks[last].end+1 || in[toks[last].end] != ' ' {
				contiguous = false
			}
			last = i
			n++
			size += t.end - t.start + 1
		}
	}
	switch {
	case n == 0:
		return ""
	case contiguous:
		return in[toks[first].start:toks[last].end]
	}
	var b strings.Builder
	b.Grow(size - 1)
	for i, t := range toks {
		if keep(i) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(in[t.start:t.end])
		}
	}
	return b.String()
}

// joinRange joins toks[from:to] of in with single spaces.
func joinRange(in string, toks []span, from, to int) string {
	return joinTokens(in, toks, func(i int) bool { return i >= from && i < to })
}

func testHasAllWords(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	var pbuf [16]string
	pins := rl.wordsFor(r, pbuf[:0])
	if len(pins) == 0 {
		s.warn(r, rl, flows.EventWarning, "no words to look for")
		return "", nil, false
	}
	var tbuf [64]span
	toks := tokenize(in, tbuf[:0])
	if len(pins) > manyWords {
		keys := wordKeys(pins)
		seen := make([]bool, len(keys))
		found := make([]bool, len(toks))
		missing := len(keys)
		for i, t := range toks {
			if j, ok := keys[wordKey(in[t.start:t.end])]; ok {
				found[i] = true
				if !seen[j] {
					seen[j] = true
					missing--
				}
			}
		}
		if missing > 0 {
			return "", nil, false
		}
		return joinTokens(in, toks, func(i int) bool { return found[i] }), nil, true
	}

	// Every pin must be seen at least once; a bit per pin for the usual short lists.
	var seen uint64
	var seenBig []bool
	if len(pins) > 64 {
		seenBig = make([]bool, len(pins))
	}
	missing := len(pins)
	for _, t := range toks {
		w := in[t.start:t.end]
		for j, p := range pins {
			if !compareWords(w, p) {
				continue
			}
			if seenBig != nil {
				if !seenBig[j] {
					seenBig[j] = true
					missing--
				}
			} else if seen&(1<<j) == 0 {
				seen |= 1 << j
				missing--
			}
		}
	}
	if missing > 0 {
		return "", nil, false
	}
	return joinTokens(in, toks, func(i int) bool { return containsWord(pins, in[toks[i].start:toks[i].end]) }), nil, true
}

func testHasAnyWord(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	var pbuf [16]string
	pins := rl.wordsFor(r, pbuf[:0])
	if len(pins) == 0 {
		s.warn(r, rl, flows.EventWarning, "no words to look for")
		return "", nil, false
	}
	var tbuf [64]span
	toks := tokenize(in, tbuf[:0])
	keep := func(i int) bool { return containsWord(pins, in[toks[i].start:toks[i].end]) }
	if len(pins) > manyWords {
		keys := wordKeys(pins)
		found := make([]bool, len(toks))
		for i, t := range toks {
			_, found[i] = keys[wordKey(in[t.start:t.end])]
		}
		keep = func(i int) bool { return found[i] }
	}
	for i := range toks {
		if keep(i) {
			return joinTokens(in, toks, keep), nil, true
		}
	}
	return "", nil, false
}

func testHasPhrase(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	var pbuf [16]string
	pins := rl.wordsFor(r, pbuf[:0])
	if len(pins) == 0 {
		return "", nil, true
	}
	var tbuf [64]span
	toks := tokenize(in, tbuf[:0])
	if len(pins) > manyWords {
		if i := findPhrase(in, toks, pins); i >= 0 {
			return joinRange(in, toks, i, i+len(pins)), nil, true
		}
		return "", nil, false
	}
	for i := 0; i+len(pins) <= len(toks); i++ {
		if phraseAt(in, toks[i:], pins) {
			return joinRange(in, toks, i, i+len(pins)), nil, true
		}
	}
	return "", nil, false
}

func testHasOnlyPhrase(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool) {
	var pbuf [16]string
	pins := rl.wordsFor(r, pbuf[:0])
	var tbuf [64]span
	toks := tokenize(in, tbuf[:0])
	if len(toks) != len(pins) || !phraseAt(in, toks, pins) {
		return "", nil, false
	}
	return joinRange(in, toks, 0, len(toks)), nil, true
}

// phraseAt reports whether toks starts with the words of pins.
func phraseAt(in string, toks []span, pins []string) bool {
	if len(toks) < len(pins) {
		return false
	}
	for k, p := range pins {
		if !compareWords(in[toks[k].start:toks[k].end], p) {
			return false
		}
	}
	return true
}

// findPhrase returns the index of the first token of toks where the words of
// pins start, or -1, in time linear in both (Knuth-Morris-Pratt over the words'
// keys): a long phrase of repeated words would otherwise be compared again
// from each token.
func findPhrase(in string, toks []span, pins []string) int {
	if len(toks) < len(pins) {
		return -1
	}
	p := make([]string, len(pins))
	for i, w := range pins {
		p[i] = wordKey(w)
	}
	// next[i] is the length of the longest proper prefix of p[:i+1] that is
	// also a suffix of it.
	next := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = next[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		next[i] = k
	}
	for i, k := 0, 0; i < len(toks); i++ {
		w := wordKey(in[toks[i].start:toks[i].end])
		for k > 0 && w != p[k] {
			k = next[k-1]
		}
		if w == p[k] {
			k++
		}
		if k == len(p) {
			return i - len(p) + 1
		}
	}
	return -1
}
