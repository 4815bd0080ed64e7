package flows

import "strings"

// Nearest is the name among known that name was most likely meant to be,
// or "" when none is close enough to suggest, or when several are as
// likely (Suggestions): one spelled the same but for case, '_' and '-'
// (numDigits → num_digits), else the closest by edit distance, at most one
// edit away, or two for names longer than four letters (has_any_words →
// has_any_word, timout → timeout), or its plural or singular (quick_reply
// → quick_replies), else the one known name that holds name (wait →
// wait_for_response).
func Nearest(name string, known []string) string {
	if s := Suggestions(name, known); len(s) == 1 {
		return s[0]
	}
	return ""
}

// maxSuggestions is the most names Suggestions gives: more are as likely
// as none, and a list of them would not help.
const maxSuggestions = 3

// Suggestions are the names among known that name was most likely meant to
// be, as Nearest finds them, each as likely as the others, in the order of
// known: "ask_3" gives "ask_1" and "ask_2", both one edit away, and
// "no_input" both "no_input_prompt" and "max_no_input", which hold it. None
// when more than three are as likely.
func Suggestions(name string, known []string) []string {
	if name == "" {
		return nil
	}
	var out []string
	done := func() []string {
		if len(out) > maxSuggestions {
			return nil
		}
		return out
	}
	norm := normalName(name)
	for _, k := range known {
		if k != name && normalName(k) == norm {
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return done()
	}
	// A plural written as its singular, or the other way round, that is
	// more than an edit or two away: quick_reply for quick_replies.
	for _, k := range known {
		if nk := normalName(k); k != name && (plural(norm) == nk || plural(nk) == norm) {
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return done()
	}
	bestDist := 2
	if len(name) > 4 {
		bestDist = 3
	}
	for _, k := range known {
		if k == name {
			continue
		}
		switch d := editDistance(strings.ToLower(name), strings.ToLower(k)); {
		case d < bestDist:
			out, bestDist = append(out[:0], k), d
		case d == bestDist && len(out) > 0:
			out = append(out, k)
		}
	}
	if len(out) > 0 || len(norm) < 3 {
		return done()
	}
	// A name written without a part of it: wait for wait_for_response,
	// no_input for max_no_input.
	for _, k := range known {
		if k != name && strings.Contains(normalName(k), norm) {
			out = append(out, k)
		}
	}
	return done()
}

// didYouMean is Suggestions as the end of an error message: ` (did you
// mean "x"?)`, ` (did you mean "x" or "y"?)`, or "".
func didYouMean(name string, known []string) string {
	return DidYouMean(Suggestions(name, known))
}

// DidYouMean is names, suggestions, as the end of an error message: ` (did
// you mean "x"?)`, ` (did you mean "x", "y" or "z"?)`, or "" for none.
func DidYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (did you mean " + OrList(Quoted(names)) + "?)"
}

// OrList is names as a list to choose from: "x", "x or y", "x, y or z"; ""
// for none.
func OrList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Quoted is names, each between double quotes.
func Quoted(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return q
}

// plural is the English plural of a name ending in a consonant and y
// (reply → replies), the only plural more than two edits from its
// singular among the names of a flow; "" for any other name.
func plural(name string) string {
	if len(name) < 2 || !strings.HasSuffix(name, "y") || strings.ContainsRune("aeiou", rune(name[len(name)-2])) {
		return ""
	}
	return name[:len(name)-1] + "ies"
}

// normalName is name in lower case without '_' and '-'.
func normalName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
