package flows_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestFlowID: an id against the rule is an error at path id, reported with
// the flow's other problems, whose message names the character at fault and
// states the rule.
func TestFlowID(t *testing.T) {
	cases := []struct{ id, want string }{
		{"a/b", `flow id "a/b" has '/' at character 2`},
		{".", `flow id "." has '.' at character 1`},
		{"appel-é", `flow id "appel-é" has 'é' at character 7`},
		{"-a", `flow id "-a" has '-' at character 1`},
		{strings.Repeat("a", 200), `is 200 characters long`},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			_, err := load(`{"id": "` + c.id + `", "name": "n", "widgets": [{"id": "a", "type": "nope"}]}`)
			errs := validationErrors(t, err)
			var got *flows.FieldError
			for _, fe := range errs {
				if fe.Path == "id" {
					got = fe
				}
			}
			if got == nil || len(errs) != 2 {
				t.Fatalf("errors %v, want the id's beside the widget type's", err)
			}
			if !strings.Contains(got.Message, c.want) || !strings.Contains(got.Message, flows.IDRule) {
				t.Errorf("message %q, want %q and the rule", got.Message, c.want)
			}
		})
	}
	for _, id := range []string{"a", "A.b_c-9", "9", strings.Repeat("x", 128), "sim.order-status"} {
		if _, err := load(`{"id": "` + id + `", "widgets": [{"id": "a", "type": "end"}]}`); err != nil {
			t.Errorf("id %q refused: %v", id, err)
		}
	}
}

// A stored flow whose id the rule refuses still loads, with a warning.
func TestFlowIDStored(t *testing.T) {
	f, err := engine.New(widgets.Registered()).LoadStored([]byte(`{"id": "a b", "widgets": [{"id": "a", "type": "end"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Path != "id" || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
		t.Errorf("warnings %v, want one at id", f.Warnings)
	}
}
