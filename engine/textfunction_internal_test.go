package engine

import (
	"strings"
	"testing"
)

// A function of one text argument (title, first_word, format_tel ...)
// takes exactly one argument, read as text, and returns f's text.
func TestTextFunction(t *testing.T) {
	upper := textFunction("shout", strings.ToUpper)
	tests := []struct {
		args    []any
		want    any
		wantErr string
	}{
		{args: []any{"hi there"}, want: "HI THERE"},
		{args: []any{""}, want: ""},
		{args: []any{42}, want: "42"},
		{args: []any{nil}, want: ""},
		{args: nil, wantErr: "shout takes 1 argument, got 0"},
		{args: []any{"a", "b"}, wantErr: "shout takes 1 argument, got 2"},
	}
	for _, tt := range tests {
		got, err := upper(tt.args...)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || got != nil {
				t.Errorf("shout(%v) = %v, %v; want the error %q", tt.args, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("shout(%v) = %#v, %v; want %#v", tt.args, got, err, tt.want)
		}
	}
	// The functions written with it name themselves in their errors (those
	// of RapidPro's with their arguments: format_tel(urn)).
	for _, name := range []string{"title", "first_word", "remove_first_word", "format_tel", "read_digits", "legacy_first_word", "legacy_proper"} {
		if _, err := Functions[name](); err == nil || !strings.HasPrefix(err.Error(), name) || !strings.HasSuffix(err.Error(), " takes 1 argument, got 0") {
			t.Errorf("%s(): %v, want %q", name, err, name+" takes 1 argument, got 0")
		}
	}
}
