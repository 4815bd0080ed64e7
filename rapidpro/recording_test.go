package rapidpro

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// ivr.json's "wait for a recording" imports as a record_voice step: the
// flow validates, and on a call the recording's URL is saved as Happy
// with the category All Responses, as RapidPro saved it, and played back
// by the step after it; nothing recorded goes the same way, saved empty.
func TestImportIVRRecording(t *testing.T) {
	res := importShared(t, "ivr.json")
	for _, l := range res.Report.Lines {
		if l.Level == levelError || l.Level == levelWarning {
			t.Errorf("report line %s", l)
		}
	}
	e := engine.New(widgets.Registered())
	f, err := e.Load(res.Flows[0].JSON)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Flows[0].JSON)
	}
	for _, c := range []struct {
		record, value string
		said          []string
	}{
		{"/record https://api.twilio.com/rec/RE1 6", "https://api.twilio.com/rec/RE1",
			[]string{"You said", "[play https://api.twilio.com/rec/RE1]", "I hope hearing that makes you feel better. Good day and good bye."}},
		{"/record", "", []string{"You said", "I hope hearing that makes you feel better. Good day and good bye."}},
	} {
		s := sim.New(e, f, sim.Options{Contact: flows.Contact{URN: "tel:+12065551212"}})
		ctx := context.Background()
		if _, err := s.Start(ctx, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		var last []flows.Event
		for _, line := range []string{"1", "42#", c.record} {
			if last, err = s.Input(ctx, line); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
		if got := sim.Outputs(last); strings.Join(got, "|") != strings.Join(c.said, "|") {
			t.Errorf("%s: said %q, want %q", c.record, got, c.said)
		}
		r := s.Session().Frames[0].Results["happy"]
		if s.Session().Status != flows.StatusCompleted || r == nil || r.Value != c.value || r.Category != "All Responses" {
			t.Errorf("%s: status %s, result %+v", c.record, s.Session().Status, r)
		}
	}
}

// A wait_recording the importer cannot keep as it ran is refused, the
// line naming the ruleset and why: one in a flow that is not a voice flow,
// one whose rules test the recording.
func TestImportRecordingRefused(t *testing.T) {
	export := func(flowType, rules string) []byte {
		return []byte(`{"version": 10, "flows": [
		 {"version": 10, "base_language": "eng", "flow_type": "` + flowType + `", "metadata": {"uuid": "77777777-7777-4777-8777-777777777777", "name": "Rec"}, "entry": "r1",
		  "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "say", "uuid": "m1", "msg": {"eng": "Thanks"}}]}],
		  "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_recording", "label": "Message", "operand": "@step.value", "rules": ` + rules + `}]}]}`)
	}
	const all = `[{"uuid": "x1", "category": {"eng": "All Responses"}, "destination": "a1", "test": {"type": "true"}}]`
	for _, c := range []struct{ name, flowType, rules, want string }{
		{"messaging flow", "M", all, `ruleset r1: wait_recording: waiting for a recording needs a call: the flow is not a voice flow (flow_type V)`},
		{"rule on the recording", "V", `[{"uuid": "x0", "category": {"eng": "Long"}, "destination": "a1", "test": {"type": "contains_any", "test": {"eng": "mp3"}}}, {"uuid": "x1", "category": {"eng": "All Responses"}, "destination": "a1", "test": {"type": "true"}}]`,
			`ruleset r1: rule category "Long" tests the recording's URL, which Parley does not support here: route with a split after it`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Convert(export(c.flowType, c.rules), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Flows[0].Failed || !strings.Contains(res.Report.String(), c.want) {
				t.Errorf("report:\n%s\nwant a failure with %s", res.Report, c.want)
			}
		})
	}
}
