package engine

import (
	"strings"
	"testing"
)

// TestTitleCaseIsGoflows: title() is goflow's, strings.Title (deprecated,
// so not called) of the text in lower case.
func TestTitleCaseIsGoflows(t *testing.T) {
	for _, s := range []string{"", "foo", "RYAN LEWIS", "mary-jane o'brien", "don't", "2nd place", "ǆemal", "hello_world", "a.b,c;d", "x‘y’z x’y", "ÉCOLE été", "ßtraße", "αβγ δ", "😀smile", "a\u00a0b", "1st-2nd"} {
		//lint:ignore SA1019 the reference titleCase follows
		if want := strings.Title(strings.ToLower(s)); titleCase(s) != want {
			t.Errorf("titleCase(%q) = %q, want %q", s, titleCase(s), want)
		}
	}
}
