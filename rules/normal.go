package rules

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nfc is s in Unicode's composed form (NFC), so that an accent typed as a
// letter and a combining mark ("e" and U+0301) is the same as the accented
// letter ("é"), whichever a phone sent. Text with no byte beyond ASCII, and
// text of stable characters only (stableRune), the most of what is written in
// any script, is returned as it is after one pass over its bytes; other text
// already in NFC is returned as it is too, without allocating.
func nfc(s string) string {
	i := 0
	// Eight bytes at a time while they are ASCII.
	for ; i+8 <= len(s); i += 8 {
		if (uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56)&0x8080808080808080 != 0 {
			break
		}
	}
	for i < len(s) {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !stableRune(r) {
			return norm.NFC.String(s)
		}
		i += size
	}
	return s
}

// stable is a bit for each character of the Basic Multilingual Plane beyond
// ASCII that is its own NFC and combines with nothing before it (a starter
// that is no composition's second part): a text of such characters and
// ASCII is in NFC, whatever their order. Made on first use.
var (
	stableOnce sync.Once
	stable     [0x10000 / 64]uint64
)

// stableRune reports whether r leaves a text in NFC wherever it is (stable);
// outside the Basic Multilingual Plane, the emoji and symbol planes' U+1F000
// to U+1FFFF are, as are invalid bytes (utf8.RuneError is in the table).
func stableRune(r rune) bool {
	if r > 0xFFFF {
		return r >= 0x1F000 && r <= 0x1FFFF
	}
	stableOnce.Do(func() {
		var buf [utf8.UTFMax]byte
		for c := rune(utf8.RuneSelf); c <= 0xFFFF; c++ {
			if c >= 0xD800 && c <= 0xDFFF {
				continue // surrogates: not characters, decoded as U+FFFD
			}
			b := buf[:utf8.EncodeRune(buf[:], c)]
			if norm.NFC.Properties(b).BoundaryBefore() && norm.NFC.IsNormal(b) {
				stable[c/64] |= 1 << (c % 64)
			}
		}
	})
	return stable[r/64]&(1<<(r%64)) != 0
}
