package flows

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestKeyCutOnRune: a long result name's key is cut at 64 bytes without
// splitting a character.
func TestKeyCutOnRune(t *testing.T) {
	k := Key(strings.Repeat("a", 63) + "é")
	if !utf8.ValidString(k) || k != strings.Repeat("a", 63) {
		t.Errorf("Key = %q", k)
	}
	if k := Key(strings.Repeat("é", 40)); !utf8.ValidString(k) || len(k) != 64 {
		t.Errorf("Key = %q (%d bytes)", k, len(k))
	}
}
