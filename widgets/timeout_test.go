package widgets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestTimeoutZero: a timeout of 0 on wait_for_response or gather_digits is
// an error at timeout, the only one of the widget (not an unknown Timeout
// exit, nor a voice flow's wait "without" a timeout); a flow stored when 0
// meant none (the wait) or the default (gather_digits) loads with it as a
// warning and runs as it did.
func TestTimeoutZero(t *testing.T) {
	const wantWait = `widget "w": widgets[0].timeout: timeout must be a positive number of seconds (it is 0), or be left out for no timeout (in a messaging flow)`
	const wantGather = `widget "w": widgets[0].timeout: timeout must be a positive number of seconds (it is 0), or be left out for the default of 5 seconds`
	tests := []struct {
		name, flow, want string
		wait             int // the timeout of the stored flow's wait
	}{
		{"messaging wait with a Timeout exit", `{"id": "f", "name": "f", "widgets": [
		  {"id": "w", "type": "wait_for_response", "timeout": 0, "exits": {"Next": "a", "Timeout": "b"}},
		  {"id": "a", "type": "send_message", "text": "a"}, {"id": "b", "type": "send_message", "text": "b"}]}`, wantWait, 0},
		{"messaging wait", `{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 0}]}`, wantWait, 0},
		{"voice wait", `{"id": "f", "name": "f", "kind": "voice", "widgets": [
		  {"id": "w", "type": "wait_for_response", "timeout": 0, "exits": {"Next": "a"}}, {"id": "a", "type": "say", "text": "a"}]}`, wantWait, 0},
		{"gather_digits", `{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "w", "type": "gather_digits", "timeout": 0}]}`, wantGather, 5},
	}
	eng := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eng.Load([]byte(tc.flow))
			var ve *flows.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != tc.want {
				t.Fatalf("Load: %v\nwant the one error %s", err, tc.want)
			}
			f, err := eng.LoadStored([]byte(tc.flow))
			if err != nil {
				t.Fatalf("LoadStored: %v", err)
			}
			if len(f.Warnings) != 1 || f.Warnings[0].Error() != tc.want || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
				t.Fatalf("LoadStored warnings %v, want the one %s", f.Warnings, tc.want)
			}
			params := engine.StartParams{}
			if f.Kind == flows.KindVoice {
				params.Call = &flows.Call{ID: "CA1"}
			}
			s, _, err := eng.Start(context.Background(), f, params)
			if err != nil {
				t.Fatal(err)
			}
			if s.Wait == nil || s.Wait.Timeout != tc.wait || (tc.wait == 0) != (s.Wait.TimeoutAt == nil) {
				t.Errorf("wait %+v, want a timeout of %d", s.Wait, tc.wait)
			}
		})
	}
	// A negative timeout is an error for a stored flow too, as it always was.
	for _, typ := range []string{"wait_for_response", "gather_digits"} {
		_, err := eng.LoadStored([]byte(`{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "w", "type": "` + typ + `", "timeout": -1}]}`))
		if err == nil || !strings.Contains(err.Error(), "widgets[0].timeout: timeout must be a positive number of seconds (it is -1)") {
			t.Errorf("%s with timeout -1: %v", typ, err)
		}
	}
	// A positive timeout, or none, is fine.
	for _, src := range []string{
		`{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 30, "exits": {"Timeout": "w"}}]}`,
		`{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response"}]}`,
		`{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "w", "type": "gather_digits", "timeout": 1}]}`,
		`{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "w", "type": "gather_digits"}]}`,
	} {
		if _, err := eng.Load([]byte(src)); err != nil {
			t.Errorf("Load(%s): %v", src, err)
		}
	}
}
