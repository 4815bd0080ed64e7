package engine_test

import (
	"strings"
	"testing"
)

// TestLength: length counts a list's or a map's items and the characters of
// text, never the characters of a list's JSON form.
func TestLength(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"@(length(split('a,b,c', ',')))", "3"},
		{"@(length(['x', 'y']))", "2"},
		{"@(length({'a': 1}))", "1"},
		{"@(length([]))", "0"},
		{"@(length('héllo'))", "5"},
		{"@(length(input))", "11"},
		{"@(length(42))", "2"},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, warnings := renderTemplate(t, tc.tmpl, "hello there")
			if got != tc.want || len(warnings) > 0 {
				t.Errorf("rendered %q (warnings %s), want %q", got, strings.Join(warnings, "; "), tc.want)
			}
		})
	}
}
