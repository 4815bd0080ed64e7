package widgets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// wantLoadErrors loads flow as written and as stored: each must refuse it
// with exactly the errors want, in order (a value that cannot run is no
// warning a stored flow may keep).
func wantLoadErrors(t *testing.T, flow string, want []string) {
	t.Helper()
	eng := engine.New(widgets.Registered())
	for _, load := range []struct {
		name string
		fn   func([]byte) (*flows.Flow, error)
	}{{"Load", eng.Load}, {"LoadStored", eng.LoadStored}} {
		_, err := load.fn([]byte(flow))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: %v, want the errors %q", load.name, err, want)
			continue
		}
		var got []string
		for _, e := range ve.Errors {
			got = append(got, e.Error())
		}
		if len(got) != len(want) {
			t.Errorf("%s: errors %q, want %q", load.name, got, want)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: error %d is %q, want %q", load.name, i, got[i], want[i])
			}
		}
	}
}

// TestRandomWeightLimits: a weight over MaxRandomWeight, or weights adding up
// to more, are refused naming the weight or the weights, instead of
// wrapping around to a total that makes the pick panic; weights that add up
// to exactly the most still run. A flow stored with such weights loads with
// them as warnings and picks in their proportions, halved until their sum
// fits in an int when it does not.
func TestRandomWeightLimits(t *testing.T) {
	const head = `{"id": "f", "widgets": [{"id": "r", "type": "random", "result": "pick", "buckets": ["A", "B", "C"], "weights": `
	const tail = `, "exits": {"A": "a", "B": "a", "C": "a"}}, {"id": "a", "type": "send_message", "text": "A"}]}`
	tests := []struct {
		name, weights string
		want          []string
		picks         string // the buckets a stored flow picks
	}{
		{"the largest int", `[9223372036854775807, 1, 1]`, []string{
			`widget "r": widgets[0].weights[0]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
		}, "A"},
		{"two that wrap to a small sum", `[9223372036854775807, 9223372036854775807, 2]`, []string{
			`widget "r": widgets[0].weights[0]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
			`widget "r": widgets[0].weights[1]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
		}, "AB"},
		{"one over the most", `[1000000001, 0, 0]`, []string{
			`widget "r": widgets[0].weights[0]: weight 1000000001 is over 1000000000, the most a weight may be`,
		}, "A"},
		{"a sum over the most", `[600000000, 600000000, 0]`, []string{
			`widget "r": widgets[0].weights: weights add up to more than 1000000000, the most they may add up to`,
		}, "AB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := engine.New(widgets.Registered())
			flow := []byte(head + tc.weights + tail)
			_, err := eng.Load(flow)
			var ve *flows.ValidationError
			if !errors.As(err, &ve) || fmt.Sprint(ve.Errors) != fmt.Sprint(tc.want) {
				t.Errorf("Load: %v, want the errors %q", err, tc.want)
			}
			picked := map[string]int{}
			for seed := range uint64(200) {
				eng := engine.New(widgets.Registered(), engine.WithSeed(seed))
				f, err := eng.LoadStored(flow)
				if err != nil {
					t.Fatalf("LoadStored: %v", err)
				}
				if seed == 0 && fmt.Sprint(f.Warnings) != fmt.Sprint(tc.want) {
					t.Errorf("LoadStored warnings %v, want %q", f.Warnings, tc.want)
				}
				s, _, err := eng.Start(context.Background(), f, engine.StartParams{})
				if err != nil {
					t.Fatal(err)
				}
				picked[s.Results()["pick"].Value]++
			}
			for _, b := range []string{"A", "B", "C"} {
				if want := strings.Contains(tc.picks, b); (picked[b] > 0) != want {
					t.Errorf("picks %v over 200 seeds, want only %s", picked, tc.picks)
					break
				}
			}
		})
	}
	wantLoadErrors(t, head+`[0, 0, 0]`+tail, []string{`widget "r": widgets[0].weights: weights add up to zero`})

	eng := engine.New(widgets.Registered())
	f, err := eng.Load([]byte(head + `[999999999, 1, 0]` + tail))
	if err != nil {
		t.Fatalf("weights adding up to the most: %v", err)
	}
	if _, _, err := eng.Start(context.Background(), f, engine.StartParams{}); err != nil {
		t.Fatal(err)
	}
}

// TestTimeoutLimits: a wait's timeout over flows.MaxTimeoutSeconds (365 days)
// is an error at its timeout, instead of a time that wraps around (the
// largest int fired at once, 10^10 seconds gave a time in 1759); a flow
// stored with one loads with the error as a warning and waits 365 days.
// 365 days exactly is a timeout like any other.
func TestTimeoutLimits(t *testing.T) {
	const (
		wait   = `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": %s, "exits": {"Next": "", "Timeout": ""}}]}`
		gather = `{"id": "f", "kind": "voice", "widgets": [{"id": "w", "type": "gather_digits", "timeout": %s}]}`
	)
	tests := []struct {
		name, flow, timeout, want string
	}{
		{"wait, the largest int", wait, "9223372036854775807",
			`widget "w": widgets[0].timeout: timeout is 9223372036854775807 seconds, over 31536000 (365 days), the most a timeout may be`},
		{"wait, 10^10 seconds", wait, "10000000000",
			`widget "w": widgets[0].timeout: timeout is 10000000000 seconds, over 31536000 (365 days), the most a timeout may be`},
		{"wait, a second over", wait, "31536001",
			`widget "w": widgets[0].timeout: timeout is 31536001 seconds, over 31536000 (365 days), the most a timeout may be`},
		{"gather_digits", gather, "9223372036854775807",
			`widget "w": widgets[0].timeout: timeout is 9223372036854775807 seconds, over 31536000 (365 days), the most a timeout may be`},
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	eng := engine.New(widgets.Registered(), engine.WithClock(func() time.Time { return now }))
	start := func(t *testing.T, f *flows.Flow) *flows.Wait {
		t.Helper()
		params := engine.StartParams{}
		if f.IsVoice() {
			params.Call = &flows.Call{ID: "CA1"}
		}
		s, _, err := eng.Start(context.Background(), f, params)
		if err != nil {
			t.Fatal(err)
		}
		if s.Wait == nil || s.Wait.TimeoutAt == nil {
			t.Fatalf("wait %+v, want one with a timeout", s.Wait)
		}
		return s.Wait
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(fmt.Sprintf(tc.flow, tc.timeout))
			_, err := eng.Load(src)
			var ve *flows.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != tc.want {
				t.Fatalf("Load: %v\nwant the one error %s", err, tc.want)
			}
			f, err := eng.LoadStored(src)
			if err != nil {
				t.Fatalf("LoadStored: %v", err)
			}
			if len(f.Warnings) != 1 || f.Warnings[0].Error() != tc.want || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
				t.Fatalf("LoadStored warnings %v, want the one %s", f.Warnings, tc.want)
			}
			w := start(t, f)
			if want := now.Add(365 * 24 * time.Hour); w.Timeout != flows.MaxTimeoutSeconds || !w.TimeoutAt.Equal(want) {
				t.Errorf("a stored flow's wait: timeout %d at %v, want %d at %v", w.Timeout, w.TimeoutAt, flows.MaxTimeoutSeconds, want)
			}
		})
	}
	for _, flow := range []string{wait, gather} {
		f, err := eng.Load([]byte(fmt.Sprintf(flow, "31536000")))
		if err != nil {
			t.Fatalf("a timeout of 365 days: %v", err)
		}
		if w := start(t, f); w.Timeout != 31536000 {
			t.Errorf("a timeout of 365 days waits %d s", w.Timeout)
		}
	}
}

// TestWordListWithoutWords: has_any_word or has_all_words given only
// punctuation, which could never match, is refused naming the rule's
// argument; a flow stored with one loads with it as a warning. A template
// is checked when it runs, and has_phrase's empty phrase always matches.
func TestWordListWithoutWords(t *testing.T) {
	flow := func(typ, arg string) []byte {
		return []byte(`{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response",
		  "rules": [{"type": "has_text", "category": "Text"}, {"type": "` + typ + `", "args": ["` + arg + `"], "category": "Words"}]}]}`)
	}
	eng := engine.New(widgets.Registered())
	for _, tc := range []struct{ typ, arg, want string }{
		{"has_any_word", "...", `widget "w": widgets[0].rules[1].args[0]: has_any_word needs at least one word to look for, and "..." has none: punctuation only separates words`},
		{"has_all_words", " , ", `widget "w": widgets[0].rules[1].args[0]: has_all_words needs at least one word to look for, and " , " has none: punctuation only separates words`},
	} {
		_, err := eng.Load(flow(tc.typ, tc.arg))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != tc.want {
			t.Errorf("%s %q: %v\nwant the one error %s", tc.typ, tc.arg, err, tc.want)
			continue
		}
		f, err := eng.LoadStored(flow(tc.typ, tc.arg))
		if err != nil {
			t.Errorf("%s %q in a stored flow: %v", tc.typ, tc.arg, err)
			continue
		}
		if len(f.Warnings) != 1 || f.Warnings[0].Error() != tc.want || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
			t.Errorf("%s %q in a stored flow: warnings %v, want the one %s", tc.typ, tc.arg, f.Warnings, tc.want)
		}
	}
	for _, ok := range [][]byte{flow("has_any_word", "@contact.fields.words"), flow("has_phrase", "..."), flow("has_any_word", "$ ...")} {
		if _, err := eng.Load(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestStoredWordListWithoutWordsRuns: a stored flow whose word rule has
// only punctuation keeps its rules, as before the check: an answer takes
// Other, or another rule that matches, and the flow goes on, instead of
// ending at the wait without a category.
func TestStoredWordListWithoutWordsRuns(t *testing.T) {
	eng := engine.New(widgets.Registered())
	f, err := eng.LoadStored([]byte(`{"id": "f", "widgets": [
	  {"id": "w", "type": "wait_for_response", "result": "answer",
	   "rules": [{"type": "has_any_word", "args": ["..."], "category": "Dots"}, {"type": "has_text", "category": "Text"}],
	   "exits": {"Dots": "b", "Text": "b", "Other": "b"}},
	  {"id": "b", "type": "send_message", "text": "got @input, @flow.answer.category"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := eng.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := eng.Resume(context.Background(), f, s, flows.Text("hello"))
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			sent = append(sent, ev.Text)
		}
	}
	if len(sent) != 1 || sent[0] != "got hello, Text" {
		t.Errorf("sent %q, want the flow to go on with the Text rule: %v", sent, evs)
	}
}
