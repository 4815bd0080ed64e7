package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

var samples = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rret\bback\fform",
	"\x00\x01\x1f\x7f", "<b>&amp;</b>", "caf\u00e9 \u4e16\u754c \U0001F600",
	"line\u2028para\u2029end", "bad \xff\xfe utf8 \xc3", "\xe2\x80", strings.Repeat("a<", 100),
}

// Each mode matches the encoder it stands for, byte for byte.
func TestAppendMatchesEncoders(t *testing.T) {
	encoders := []struct {
		name    string
		mode    Mode
		marshal func(any) ([]byte, error)
	}{
		{"encoding/json", EncodingJSON, json.Marshal},
		{"jsonv1", HTML | RawReplacement, jsonv1.Marshal},
	}
	for _, e := range encoders {
		for _, s := range samples {
			want, err := e.marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := Append(nil, s, e.mode); string(got) != string(want) {
				t.Errorf("%s %q: got %s, want %s", e.name, s, got, want)
			}
		}
	}
}

// Without HTML the characters <, > and & stay as they are.
func TestAppendWithoutHTML(t *testing.T) {
	if got := string(Append([]byte("x="), "a<b>&\xff", 0)); got != `x="a<b>&\ufffd"` {
		t.Errorf("got %s", got)
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := Append(nil, s, EncodingJSON); string(got) != string(want) {
			t.Errorf("encoding/json %q: got %s, want %s", s, got, want)
		}
		want, _ = jsonv1.Marshal(s)
		if got := Append(nil, s, HTML|RawReplacement); string(got) != string(want) {
			t.Errorf("jsonv1 %q: got %s, want %s", s, got, want)
		}
	})
}
