package rules

import (
	"testing"
	"unicode/utf8"
)

// The signs of word processors and full-width keyboards are read alike in
// a number (signLen) and a phone number (phoneText); the other dashes only
// in a phone number; the ASCII signs each reads itself.
func TestWideSign(t *testing.T) {
	tests := []struct {
		r      rune
		sign   byte // wideSign's
		number int  // 0: signLen reads no sign; 1 a minus; 2 a plus
		phone  string
	}{
		{'\u2212', '-', 1, "-"}, // minus sign
		{'\uFF0D', '-', 1, "-"}, // full-width hyphen-minus
		{'\uFF0B', '+', 2, "+"}, // full-width plus sign
		{'\u2013', 0, 0, "-"},   // en dash: a range between numbers
		{'\u2011', 0, 0, "-"},   // non-breaking hyphen
		{'\uFE63', 0, 0, "-"},   // small hyphen-minus
		{'\u00A0', 0, 0, " "},   // no-break space
		{'\uFF08', 0, 0, "("},
		{'\u00B1', 0, 0, "\u00B1"}, // plus-minus: neither
		{'\u2795', 0, 0, "\u2795"}, // heavy plus sign: neither
		{'-', 0, 0, "-"},
		{'+', 0, 0, "+"},
	}
	for _, tt := range tests {
		if got := wideSign(tt.r); got != tt.sign {
			t.Errorf("wideSign(%U) = %q, want %q", tt.r, got, tt.sign)
		}
		s := string(tt.r)
		n, minus := signLen(s, 0)
		number := 0
		if n > 0 {
			number = 2
			if minus {
				number = 1
			}
			if n != len(s) {
				t.Errorf("signLen(%U) = %d, want its length %d", tt.r, n, len(s))
			}
		}
		if number != tt.number {
			t.Errorf("signLen(%U) read %d, want %d (1 a minus, 2 a plus)", tt.r, number, tt.number)
		}
		if got := phoneText(s); got != tt.phone {
			t.Errorf("phoneText(%U) = %q, want %q", tt.r, got, tt.phone)
		}
	}
	// No other rune is a wide sign.
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if wideSign(r) != 0 && r != '\u2212' && r != '\uFF0D' && r != '\uFF0B' {
			t.Errorf("wideSign(%U) = %q, want 0", r, wideSign(r))
		}
	}
}
