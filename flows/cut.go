package flows

import (
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// CutText is s cut to at most max bytes at the end of the last grapheme
// cluster that fits, so a character, or a letter with its accent, a flag or
// an emoji with its skin tone, is never cut in two and what is kept is
// valid UTF-8 wherever s is; a single cluster longer than max is cut at the
// last whole code point that fits. s is returned as it is when it has no
// more than max bytes. It cuts a webhook's answer kept as text, and the
// bodies of answers and requests held to a size cap in events and traces.
func CutText[T string | []byte](s T, max int) T {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return s[:0]
	}
	start := clusterRestart(s, max)
	end, state := start, -1
	for rest := s[start:]; len(rest) > 0; {
		var n int
		n, state = firstCluster(rest, state)
		if end+n > max {
			break
		}
		end += n
		rest = rest[n:]
	}
	if end == 0 {
		end = max
		for end > 0 && !utf8.RuneStart(s[end]) {
			end--
		}
	}
	return s[:end]
}

// cutLookBack bounds how far before the cut CutText starts reading
// grapheme clusters: reading them is slow (a few MB/s), and answers are cut
// at up to 16 MiB.
const cutLookBack = 4096

// clusterRestart is where CutText starts reading s's clusters to cut it at
// max: the last position at or before max that starts a cluster whatever
// comes before it, found in the cutLookBack bytes before max; else, in a
// long run of text with no such position, the first code point of that
// run, where a cluster of more than cutLookBack bytes, which no text has,
// would be read from its middle.
func clusterRestart[T string | []byte](s T, max int) int {
	lo := max - cutLookBack
	if lo <= 0 {
		return 0
	}
	for p := max; p > lo; p-- {
		if clusterBreak(s[p-1], s[p]) {
			return p
		}
	}
	for lo > 0 && !utf8.RuneStart(s[lo]) {
		lo--
	}
	return lo
}

// clusterBreak reports whether a grapheme cluster always starts between
// the bytes a and b, whatever comes before a: after a line feed (UAX #29
// GB4), and between two ASCII characters but CR LF, since every rule that
// joins characters (GB9 to GB13: marks, ZWJ, prepended letters, flags,
// Hangul) has a character past ASCII on one side.
func clusterBreak(a, b byte) bool {
	if a == '\n' {
		return true
	}
	return a < utf8.RuneSelf && b < utf8.RuneSelf && (a != '\r' || b != '\n')
}

// firstCluster is the length in bytes of s's first grapheme cluster, and
// uniseg's state after it.
func firstCluster[T string | []byte](s T, state int) (int, int) {
	switch v := any(s).(type) {
	case string:
		c, _, _, st := uniseg.FirstGraphemeClusterInString(v, state)
		return len(c), st
	case []byte:
		c, _, _, st := uniseg.FirstGraphemeCluster(v, state)
		return len(c), st
	}
	panic("unreachable")
}
