package widgets_test

import (
	"context"
	"errors"
	"testing"

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
// to exactly the most still run.
func TestRandomWeightLimits(t *testing.T) {
	const head = `{"id": "f", "widgets": [{"id": "r", "type": "random", "buckets": ["A", "B", "C"], "weights": `
	const tail = `, "exits": {"A": "a", "B": "a", "C": "a"}}, {"id": "a", "type": "send_message", "text": "A"}]}`
	tests := []struct {
		name, weights string
		want          []string
	}{
		{"the largest int", `[9223372036854775807, 1, 1]`, []string{
			`widget "r": widgets[0].weights[0]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
		}},
		{"two that wrap to a small sum", `[9223372036854775807, 9223372036854775807, 2]`, []string{
			`widget "r": widgets[0].weights[0]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
			`widget "r": widgets[0].weights[1]: weight 9223372036854775807 is over 1000000000, the most a weight may be`,
		}},
		{"one over the most", `[1000000001, 0, 0]`, []string{
			`widget "r": widgets[0].weights[0]: weight 1000000001 is over 1000000000, the most a weight may be`,
		}},
		{"a sum over the most", `[1000000000, 1, 0]`, []string{
			`widget "r": widgets[0].weights: weights add up to more than 1000000000, the most they may add up to`,
		}},
		{"all zero", `[0, 0, 0]`, []string{
			`widget "r": widgets[0].weights: weights add up to zero`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantLoadErrors(t, head+tc.weights+tail, tc.want) })
	}

	eng := engine.New(widgets.Registered())
	f, err := eng.Load([]byte(head + `[999999999, 1, 0]` + tail))
	if err != nil {
		t.Fatalf("weights adding up to the most: %v", err)
	}
	if _, _, err := eng.Start(context.Background(), f, engine.StartParams{}); err != nil {
		t.Fatal(err)
	}
}
