package flows

import "strings"

// Nearest is the name among known that name was most likely meant to be,
// or "" when none is close enough to suggest: one spelled the same but for
// case, '_' and '-' (numDigits → num_digits), else the closest by edit
// distance, at most one edit away, or two for names longer than four
// letters (has_any_words → has_any_word, timout → timeout), or its plural
// or singular (quick_reply → quick_replies), else the one
// known name that starts with name (wait → wait_for_response). Ties go to
// the first in known.
func Nearest(name string, known []string) string {
	if name == "" {
		return ""
	}
	norm := normalName(name)
	for _, k := range known {
		if k != name && normalName(k) == norm {
			return k
		}
	}
	// A plural written as its singular, or the other way round, that is
	// more than an edit or two away: quick_reply for quick_replies.
	for _, k := range known {
		if nk := normalName(k); k != name && (plural(norm) == nk || plural(nk) == norm) {
			return k
		}
	}
	best, bestDist := "", 2
	if len(name) > 4 {
		bestDist = 3
	}
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); k != name && d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" || len(norm) < 3 {
		return best
	}
	for _, k := range known {
		if strings.HasPrefix(normalName(k), norm) {
			if best != "" {
				return "" // several: no one to suggest
			}
			best = k
		}
	}
	return best
}

// didYouMean is Nearest as the end of an error message: ` (did you mean
// "x"?)`, or "".
func didYouMean(name string, known []string) string {
	if n := Nearest(name, known); n != "" {
		return ` (did you mean "` + n + `"?)`
	}
	return ""
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
