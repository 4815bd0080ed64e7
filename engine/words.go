package engine

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// How the word functions split text into words. Parley's own (word,
// word_count, word_slice, first_word, remove_first_word, title and
// @contact.first_name) split as goflow, RapidPro's current engine, does;
// the legacy_ ones as RapidPro's legacy expressions did, for the flows
// imported from its exports (rapidpro/expression.go maps WORD, WORD_COUNT,
// WORD_SLICE, FIRST_WORD, REMOVE_FIRST_WORD and PROPER to them).

// wordToken is goflow's tokenizer (utils.TokenizeString): a run of letters,
// marks, digits, underscores and apostrophes is a word ("O'Grady", "can't"),
// and so is each symbol (an emoji, a currency or math sign); anything else
// separates words.
var wordToken = regexp.MustCompile(`[\pM\pL\pN_']+|\pS`)

// words splits s as goflow does, or, when delims is not empty, at any of its
// characters (goflow's TokenizeStringByChars).
func words(s, delims string) []string {
	if delims != "" {
		return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	}
	return wordToken.FindAllString(s, -1)
}

// firstWord is the first word of s as goflow splits it, "" when it has none:
// first_word() and @contact.first_name, which is goflow's contact.first_name.
func firstWord(s string) string {
	if loc := wordToken.FindStringIndex(s); loc != nil {
		return s[loc[0]:loc[1]]
	}
	return ""
}

// removeFirstWord is goflow's remove_first_word: the text from its second
// word on, as written ("Hi there. I'm a flow!" gives "there. I'm a flow!"),
// or "" when it has fewer than two words.
func removeFirstWord(s string) string {
	locs := wordToken.FindAllStringIndex(s, 2)
	if len(locs) < 2 {
		return ""
	}
	return s[locs[1][0]:]
}

// titleCase is goflow's title(), strings.Title of the text in lower case:
// the first letter of each word in title case, a word starting after white
// space or any ASCII character but a letter, a digit or _ ("mary-jane
// o'brien" gives "Mary-Jane O'Brien", "don't" "Don'T"; other punctuation,
// such as "’", starts none). strings.Title itself is deprecated.
func titleCase(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if titleSeparator(prev) {
			return unicode.ToTitle(r)
		}
		return r
	}, strings.ToLower(s))
}

// titleSeparator is what strings.Title starts a word after.
func titleSeparator(r rune) bool {
	if r <= unicode.MaxASCII {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_')
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	return unicode.IsSpace(r)
}

// legacyWordRune is a character of a word in RapidPro's legacy expressions:
// \w of the regex module they ran on, in Unicode (letters and other
// alphabetic characters, marks, decimal digits, connector punctuation such
// as _, and the joiners U+200C and U+200D). Python's own re differs: it
// leaves out marks, so it would cut "नमस्ते" in pieces.
func legacyWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Other_Alphabetic, r) || unicode.Is(unicode.Join_Control, r)
}

// legacySymbol is a character RapidPro's legacy tokenizer took as a word of
// its own: currency signs, miscellaneous symbols and dingbats, and emoji.
func legacySymbol(r rune) bool {
	return 0x20A0 <= r && r <= 0x20CF || 0x2600 <= r && r <= 0x27BF || 0x1F300 <= r && r <= 0x1F64F || 0x1F680 <= r && r <= 0x1F6FF || 0x1F900 <= r && r <= 0x1F9FF
}

// legacyWords splits text into words as RapidPro's legacy word functions
// did: runs of word characters, and each symbol (legacySymbol) alone; all
// else separates ("01-02-2014" is three words, "o'brien" two). bySpaces
// splits at white space only, as their by_spaces argument did.
func legacyWords(s string, bySpaces bool) []string {
	if bySpaces {
		return strings.FieldsFunc(s, unicode.IsSpace)
	}
	var out []string
	start := -1
	for i, r := range s {
		if legacyWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
		if legacySymbol(r) {
			out = append(out, string(r))
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// legacyWordSlice is RapidPro's WORD_SLICE: words start up to, not
// including, stop, counting from 1, from the end when negative; stop 0 is
// the end. Start 0 is an error, as it was.
func legacyWordSlice(name, text string, start, stop int, bySpaces bool) (string, error) {
	if start == 0 {
		return "", fmt.Errorf("%s: words are counted from 1 (-1 for the last), not 0", name)
	}
	w := legacyWords(text, bySpaces)
	n := len(w)
	// Python's slice w[start-1:stop-1], stop 0 being the end.
	from, to := start, n
	if from > 0 {
		from--
	}
	if stop > 0 {
		to = stop - 1
	} else if stop < 0 {
		to = stop
	}
	from, to = pyIndex(from, n), pyIndex(to, n)
	if from >= to {
		return "", nil
	}
	return strings.Join(w[from:to], " "), nil
}

// pyIndex is a Python slice bound i of a sequence of n: from the end when
// negative, and clamped to 0..n.
func pyIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// legacyProper is RapidPro's PROPER, Python's str.title(): each letter that
// follows a cased letter in lower case, every other one in title case
// ("yes, mary-jane o'brien" gives "Yes, Mary-Jane O'Brien", "2nd" "2Nd").
// Letters Python writes as two in title or lower case stay one letter
// here: a word's first "ß" or "ﬁ" ("Ss", "Fi" in Python), "İ", and a
// final "Σ", which Python lowers to "ς".
func legacyProper(s string) string {
	prevCased := false
	return strings.Map(func(r rune) rune {
		defer func() { prevCased = cased(r) }()
		if prevCased {
			return unicode.ToLower(r)
		}
		return unicode.ToTitle(r)
	}, s)
}

// cased is Unicode's Cased property, which Python's title() reads.
func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// pySpace is Python's str.isspace(), which the legacy functions trim with:
// Go's white space and the separators U+001C to U+001F.
func pySpace(r rune) bool { return unicode.IsSpace(r) || 0x1C <= r && r <= 0x1F }

// legacyInt is RapidPro's whole number of an argument: a number rounded half
// away from zero, or text that is a whole number.
func legacyInt(v any) (int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float64:
		if math.IsNaN(x) || math.Abs(x) > 1e15 {
			return 0, false
		}
		return int(math.Round(x)), true
	case int, int64:
		return toInt(x)
	}
	n, err := strconv.Atoi(strings.TrimSpace(toText(v)))
	return n, err == nil
}

// legacyBySpaces reads the by_spaces argument as RapidPro did: true or false,
// a number (not 0 is true), or the text TRUE or FALSE in any case.
func legacyBySpaces(name string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("%s: by_spaces %q is not TRUE or FALSE", name, x)
	}
	if f, err := toFloat(v); err == nil {
		return f != 0, nil
	}
	return false, fmt.Errorf("%s: by_spaces %q is not TRUE or FALSE", name, toText(v))
}

// legacyWordArgs reads the arguments of legacy_word, legacy_word_count and
// legacy_word_slice: the text, then the numbers named in nums (those past
// len(p)-1 keep their default), then by_spaces when given.
func legacyWordArgs(name, usage string, p []any, need int, nums []string, defaults ...int) (string, []int, bool, error) {
	if len(p) < need || len(p) > 2+len(nums) {
		return "", nil, false, fmt.Errorf("%s takes %d to %d arguments, got %d", usage, need, 2+len(nums), len(p))
	}
	out := append([]int(nil), defaults...)
	for i := range nums {
		if i+1 >= len(p) {
			break
		}
		n, ok := legacyInt(p[i+1])
		if !ok {
			return "", nil, false, fmt.Errorf("%s: %s %q is not a whole number", name, nums[i], toText(p[i+1]))
		}
		out[i] = n
	}
	bySpaces := false
	if len(p) == 2+len(nums) {
		var err error
		if bySpaces, err = legacyBySpaces(name, p[len(p)-1]); err != nil {
			return "", nil, false, err
		}
	}
	return toText(p[0]), out, bySpaces, nil
}

// legacyFirstWord is RapidPro's FIRST_WORD: WORD(text, 1).
func legacyFirstWord(s string) string {
	if w := legacyWords(s, false); len(w) > 0 {
		return w[0]
	}
	return ""
}

// The legacy word functions, RapidPro's WORD, WORD_COUNT, WORD_SLICE,
// FIRST_WORD, REMOVE_FIRST_WORD and PROPER, which an imported flow calls.
func init() {
	for name, fn := range map[string]func(p ...any) (any, error){
		// legacy_word(text, n[, by_spaces]): the nth word, counting from
		// 1 (from the end when negative): "" past the last.
		"legacy_word": func(p ...any) (any, error) {
			s, n, bySpaces, err := legacyWordArgs("legacy_word", "legacy_word(text, number[, by_spaces])", p, 2, []string{"number"}, 0)
			if err != nil {
				return nil, err
			}
			return legacyWordSlice("legacy_word", s, n[0], n[0]+1, bySpaces)
		},
		// legacy_word_count(text[, by_spaces]): the number of words.
		"legacy_word_count": func(p ...any) (any, error) {
			s, _, bySpaces, err := legacyWordArgs("legacy_word_count", "legacy_word_count(text[, by_spaces])", p, 1, nil)
			if err != nil {
				return nil, err
			}
			return len(legacyWords(s, bySpaces)), nil
		},
		// legacy_word_slice(text, start[, stop[, by_spaces]]): words start
		// up to, not including, stop, joined by spaces.
		"legacy_word_slice": func(p ...any) (any, error) {
			s, n, bySpaces, err := legacyWordArgs("legacy_word_slice", "legacy_word_slice(text, start[, stop[, by_spaces]])", p, 2, []string{"start", "stop"}, 0, 0)
			if err != nil {
				return nil, err
			}
			return legacyWordSlice("legacy_word_slice", s, n[0], n[1], bySpaces)
		},
		// legacy_first_word(text): the first word.
		"legacy_first_word": textFunction("legacy_first_word", legacyFirstWord),
		// legacy_remove_first_word(text): the text, trimmed at its start,
		// less as many characters as its first word has, trimmed again, as
		// RapidPro cut it ("yes, no" gives ", no").
		"legacy_remove_first_word": func(p ...any) (any, error) {
			s, err := oneString("legacy_remove_first_word", p)
			if err != nil {
				return nil, err
			}
			s = strings.TrimLeftFunc(s, pySpace)
			first := legacyFirstWord(s)
			if first == "" {
				return "", nil
			}
			r := []rune(s)
			return strings.TrimLeftFunc(string(r[min(utf8.RuneCountInString(first), len(r)):]), pySpace), nil
		},
		// legacy_proper(text): Python's title(), which RapidPro's PROPER was.
		"legacy_proper": textFunction("legacy_proper", legacyProper),
	} {
		if _, dup := Functions[name]; dup {
			panic("engine: expression function " + name + " defined twice")
		}
		Functions[name] = fn
	}
}
