package flows

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// TestCutText: a text over the bound is cut at the end of the last whole
// grapheme cluster that fits, never inside a character, as []byte and as
// a string; one within it is kept as it is.
func TestCutText(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 10, "abc"},
		{"abc", 0, ""},
		{"café", 4, "caf"},       // é is two bytes: left out, not halved
		{"cafe\u0301", 5, "caf"}, // e and its combining accent are kept together
		{"ok 👍🏽", 7, "ok "},      // an emoji with its skin tone is one character
		{"🇫🇷🇩🇪", 9, "🇫🇷"},        // a flag is two regional indicators
		{"a\r\nb", 2, "a"},       // CR LF is one cluster
		{"👍🏽👍🏽", 3, ""},          // one cluster longer than the bound: cut at a code point
		{"e\u0301\u0301\u0301", 4, "e\u0301"},
		// Far past the first bytes, where the cut reads only the end.
		{long + "é", 5001, long},
		{long + "ab" + "e\u0301" + "z", 5004, long + "ab"},
		{long + "\n" + strings.Repeat("é", 3000), 5002, long + "\n"},
		{long + "\n" + strings.Repeat("é", 3000), 5003, long + "\né"},
		{long + "\n" + strings.Repeat("é", 3000), 11000, long + "\n" + strings.Repeat("é", 2999)},
		{long + "🇫🇷🇩🇪", 5009, long + "🇫🇷"},
	} {
		if got := CutText(c.s, c.max); got != c.want {
			t.Errorf("CutText(%.20q...%q, %d) = ...%q; want ...%q", c.s, tail(c.s), c.max, tail(got), tail(c.want))
		}
		if got := string(CutText([]byte(c.s), c.max)); got != c.want {
			t.Errorf("CutText([]byte(...%q), %d) = ...%q; want ...%q", tail(c.s), c.max, tail(got), tail(c.want))
		}
	}
}

func tail(s string) string { return s[max(0, len(s)-12):] }

// TestCutTextAsReadFromTheStart: the cut, which reads clusters only near
// its end, is where reading every cluster from the start puts it, for
// texts of many scripts, marks, flags and line breaks, and is valid UTF-8.
func TestCutTextAsReadFromTheStart(t *testing.T) {
	pieces := []string{"a", "b", " ", ",", "\"", "\n", "\r", "\r\n", "é", "e\u0301", "\u0301", "न", "म", "\u094d", "\u093f",
		"🇫", "🇷", "👍", "🏽", "\u200d", "❤", "\ufe0f", "한", "\u1100", "\u1161", "\u11a8", "\u0600", "中"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		var b strings.Builder
		ascii := r.IntN(2) == 0
		for b.Len() < 6000+r.IntN(4000) {
			p := pieces[r.IntN(len(pieces))]
			if ascii && r.IntN(3) > 0 {
				p = "x"
			}
			b.WriteString(p)
		}
		s := b.String()
		for _, max := range []int{1, 7, 100, 4095, 4096, 4097, 5000 + r.IntN(1000), len(s) - 1 - r.IntN(50)} {
			got, want := CutText(s, max), cutFromStart(s, max)
			if got != want {
				t.Fatalf("text %d cut at %d: %d bytes (...%q); read from the start, %d (...%q)", i, max, len(got), tail(got), len(want), tail(want))
			}
			if !utf8.ValidString(got) {
				t.Fatalf("text %d cut at %d: not valid UTF-8: ...%q", i, max, tail(got))
			}
		}
	}
}

// cutFromStart is CutText reading every cluster from the start of s.
func cutFromStart(s string, max int) string {
	if len(s) <= max {
		return s
	}
	end, state := 0, -1
	for rest := s; len(rest) > 0; {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if end+len(c) > max {
			break
		}
		end += len(c)
	}
	if end == 0 {
		end = max
		for end > 0 && !utf8.RuneStart(s[end]) {
			end--
		}
	}
	return s[:end]
}

// BenchmarkCutText cuts a 16 MiB answer, the largest cap, at its cap.
func BenchmarkCutText(b *testing.B) {
	body := []byte(strings.Repeat(`{"name":"café 👍🏽","n":12345},`, 600000))
	for b.Loop() {
		CutText(body, 16<<20)
	}
}
