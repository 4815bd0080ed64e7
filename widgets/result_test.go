package widgets_test

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/widgets"
)

// TestResultNameNeedsAKey: a result name without letters or digits would make
// an empty key, and the result would never be saved; every widget with a
// result refuses it.
func TestResultNameNeedsAKey(t *testing.T) {
	tests := []struct{ name, widget, want string }{
		{"wait_for_response", `{"id": "w", "type": "wait_for_response", "result": "!!!"}`,
			`widget "w": widgets[0].result: "!!!" has no letters or digits to make a result key`},
		{"wait_for_response named by its id", `{"id": "--", "type": "wait_for_response"}`,
			`widget "--": widgets[0].result: the widget id "--" has no letters or digits to make a result key: give the result a name`},
		{"split", `{"id": "s", "type": "split", "result": "!!!", "rules": [{"type": "has_text", "category": "T"}]}`,
			`widget "s": widgets[0].result: "!!!" has no letters or digits`},
		{"gather_digits", `{"id": "g", "type": "gather_digits", "result": "?"}`,
			`widget "g": widgets[0].result: "?" has no letters or digits`},
		{"random", `{"id": "r", "type": "random", "buckets": ["A", "B"], "result": "..."}`,
			`widget "r": widgets[0].result: "..." has no letters or digits`},
		{"subflow", `{"id": "c", "type": "subflow", "flow": "other", "result": "#"}`,
			`widget "c": widgets[0].result: "#" has no letters or digits`},
		{"webhook", `{"id": "h", "type": "webhook", "url": "https://example.com", "result": "***"}`,
			`widget "h": widgets[0].result: "***" has no letters or digits`},
	}
	e := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Load([]byte(`{"name": "f", "widgets": [` + tc.widget + `]}`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "result": "Age 2"}]}`)); err != nil {
		t.Errorf("a result name with letters: %v", err)
	}
}
