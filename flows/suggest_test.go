package flows_test

import (
	"slices"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// Names as likely as each other are all suggested, or none when there are
// more than three; Nearest gives a name only when one is likelier than the
// others.
func TestSuggestionsTies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		known   []string
		want    []string
		nearest string
	}{
		{"ask_3", []string{"ask_1", "ask_2", "done"}, []string{"ask_1", "ask_2"}, ""},
		{"ask_3", []string{"ask_1", "ask_33", "done"}, []string{"ask_1", "ask_33"}, ""},
		{"ask_3", []string{"ask_1", "ask_2", "ask_4", "ask_5"}, nil, ""},
		{"no_input", []string{"num_digits", "no_input_prompt", "max_no_input"}, []string{"no_input_prompt", "max_no_input"}, ""},
		{"timout", []string{"timeout", "text"}, []string{"timeout"}, "timeout"},
		{"agee", []string{"age", "ages"}, []string{"age", "ages"}, ""},
		{"thanks", []string{"Thanks", "thank"}, []string{"Thanks"}, "Thanks"},
		{"wait", []string{"wait_for_response", "send_message"}, []string{"wait_for_response"}, "wait_for_response"},
	} {
		if got := flows.Suggestions(tc.name, tc.known); !slices.Equal(got, tc.want) {
			t.Errorf("Suggestions(%q, %q) = %q, want %q", tc.name, tc.known, got, tc.want)
		}
		if got := flows.Nearest(tc.name, tc.known); got != tc.nearest {
			t.Errorf("Nearest(%q, %q) = %q, want %q", tc.name, tc.known, got, tc.nearest)
		}
	}
	if got, want := flows.DidYouMean([]string{"a", "b", "c"}), ` (did you mean "a", "b" or "c"?)`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
}

// An exit to a widget that does not exist, as close to two widgets, names
// both rather than the first.
func TestUnknownTargetNamesEachAsClose(t *testing.T) {
	_, err := load(`{"id": "f", "widgets": [
	  {"id": "ask_1", "type": "send_message", "text": "a", "exits": {"Next": "ask_2"}},
	  {"id": "ask_2", "type": "send_message", "text": "b", "exits": {"Next": "ask_3"}}]}`)
	var got []string
	for _, e := range validationErrors(t, err) {
		got = append(got, e.Path+": "+e.Message)
	}
	want := `widgets[1].exits.Next: exit "Next" points to unknown widget "ask_3" (did you mean "ask_1" or "ask_2"?)`
	if !slices.Contains(got, want) {
		t.Errorf("errors %q, want one %q", got, want)
	}
}
