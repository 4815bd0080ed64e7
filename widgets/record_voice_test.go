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

// TestRecordVoiceValidation: each bad setting of a record_voice widget is
// an error naming the widget and the field, and only that error.
func TestRecordVoiceValidation(t *testing.T) {
	flow := func(fields string) string {
		return `{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "voicemail", "type": "record_voice"` + fields + `}]}`
	}
	tests := []struct{ name, flow, want string }{
		{"max_length 0", flow(`, "max_length": 0`),
			`widget "voicemail": widgets[0].max_length: max_length is 0: the longest recording is 2 to 3600 seconds, or leave it out for 60`},
		{"max_length over an hour", flow(`, "max_length": 3601`),
			`widget "voicemail": widgets[0].max_length: max_length is 3601: the longest recording is 2 to 3600 seconds, or leave it out for 60`},
		{"max_length 1, which Twilio refuses", flow(`, "max_length": 1`),
			`widget "voicemail": widgets[0].max_length: max_length is 1: the longest recording is 2 to 3600 seconds, or leave it out for 60 (Twilio's <Record> takes a maxLength greater than 1)`},
		{"no finish key, which Twilio refuses", flow(`, "finish_key": ""`),
			`widget "voicemail": widgets[0].finish_key: finish_key "" names no key: Twilio's <Record> takes one or more of 0-9, * and # (an empty finishOnKey is refused); give the keys that end the recording, or leave it out for "#"`},
		{"negative timeout", flow(`, "timeout": -2`),
			`widget "voicemail": widgets[0].timeout: timeout is -2: the seconds of silence that end the recording are 1 to 600, or leave it out for 5`},
		{"finish key not a key", flow(`, "finish_key": "#A"`),
			`widget "voicemail": widgets[0].finish_key: finish_key "#A": 'A' is not a phone key (0-9, * or #); give the keys that end the recording, or leave it out for "#"`},
		{"finish key twice", flow(`, "finish_key": "*#*"`),
			`widget "voicemail": widgets[0].finish_key: finish_key "*#*" names the key '*' twice`},
		{"category of an unknown exit", flow(`, "categories": {"Done": "All Responses"}`),
			`widget "voicemail": widgets[0].categories.Done: categories names the category of the exits "Recording" and "No Input", not of "Done"`},
		{"blank category", flow(`, "categories": {"No Input": " "}`),
			`widget "voicemail": widgets[0].categories["No Input"]: empty category name: leave "No Input" out for the category "No Input"`},
		{"result without a key", flow(`, "result": "!!"`),
			`widget "voicemail": widgets[0].result: "!!" has no letters or digits to make a result key`},
		{"in a messaging flow", `{"id": "f", "name": "f", "widgets": [{"id": "voicemail", "type": "record_voice"}]}`,
			`widget "voicemail": widgets[0].type: record_voice is a voice widget, and this flow's kind is "messaging" (the default when "kind" is not set): over SMS or chat it would do nothing. Set the flow's "kind" to "voice", or use wait_for_response, whose has_audio rule takes a voice note (an audio attachment)`},
		{"unknown exit", flow(`, "exits": {"Recorded": "voicemail"}`),
			`widget "voicemail": widgets[0].exits.Recorded: unknown exit "Recorded" (this widget has "Recording", "No Input")`},
	}
	eng := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eng.Load([]byte(tc.flow))
			var ve *flows.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Error() != tc.want {
				t.Fatalf("Load: %v\nwant the one error %s", err, tc.want)
			}
		})
	}
	for _, src := range []string{
		flow(``),
		flow(`, "max_length": 3600, "timeout": 600, "finish_key": "#", "play_beep": false`),
		flow(`, "max_length": 2, "timeout": 1, "finish_key": "0123456789*#", "categories": {"Recording": "All Responses", "No Input": "All Responses"}`),
	} {
		if _, err := eng.Load([]byte(src)); err != nil {
			t.Errorf("Load(%s): %v", src, err)
		}
	}
}

// A flow stored before Parley checked what Twilio's <Record> takes (a
// max_length of 1, a finish_key of "") still loads, with the problem as a
// warning, and records with settings Twilio takes: 2 seconds, the key #.
func TestRecordVoiceStoredBeforeTwilioChecks(t *testing.T) {
	eng := engine.New(widgets.Registered())
	doc := `{"id": "f", "name": "f", "kind": "voice", "widgets": [{"id": "voicemail", "type": "record_voice", "max_length": 1, "finish_key": ""}]}`
	f, err := eng.LoadStored([]byte(doc))
	if err != nil {
		t.Fatalf("LoadStored: %v", err)
	}
	var warned []string
	for _, w := range f.Warnings {
		warned = append(warned, w.Error())
	}
	if len(warned) != 2 || !strings.Contains(warned[0]+warned[1], "widgets[0].max_length: max_length is 1") || !strings.Contains(warned[0]+warned[1], `widgets[0].finish_key: finish_key "" names no key`) {
		t.Errorf("warnings %q, want max_length and finish_key", warned)
	}
	_, events, err := eng.Start(context.Background(), f, engine.StartParams{Call: &flows.Call{ID: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == flows.EventRecord && (ev.MaxLength != 2 || ev.FinishKey != "#") {
			t.Errorf("record prompt max_length %d, finish_key %q; want 2 and #", ev.MaxLength, ev.FinishKey)
		}
	}
}
