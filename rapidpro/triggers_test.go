package rapidpro

import (
	"os"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestTriggersAndCampaignsReported: what started a flow in RapidPro (its
// triggers, its campaign events) is not carried over, and the report says
// so for each, under the flow's name, with what to configure in Parley.
func TestTriggersAndCampaignsReported(t *testing.T) {
	export, err := os.ReadFile("testdata/triggers.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Flows) != 1 || res.Flows[0].Failed {
		t.Fatalf("flows %+v, report:\n%s", res.Flows, res.Report)
	}
	id := res.Flows[0].ID
	want := []struct{ flow, where, has string }{
		{"Join", "triggers[0]", `add {"keyword":"join","flow":"` + id + `"} to the channel's "triggers" (PUT /v1/channels/CHANNEL)`},
		{"Join", "triggers[1]", `RapidPro matched only a message of the keyword alone`},
		{"Join", "triggers[1]", `RapidPro started it only for contacts in "Members": a Parley trigger starts it for everyone, so route on has_group`},
		{"Join", "triggers[2]", `set the channel's "default_flow" to "` + id + `"`},
		{"Join", "triggers[3]", `missed call trigger: Parley has no missed call trigger`},
		{"Other", "triggers[4]", `flow 22222222-2222-4222-8222-222222222222 "Other" is not in this export`},
		{"Join", "campaigns[0].events[0]", `campaign "Reminders": RapidPro started this flow for each contact of group "Mothers" at 09:00, 2 days before the date in their field "edd"; Parley has no campaigns`},
		{"Reminders", "campaigns[0].events[1]", `RapidPro sent the message "Hello" to each contact of group "Mothers" 1 week after`},
	}
	for _, w := range want {
		found := false
		for _, l := range res.Report.Lines {
			if l.Flow == w.flow && l.Where == w.where && l.Level == levelWarning && strings.Contains(l.Message, w.has) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning for %q at %s saying %q in:\n%s", w.flow, w.where, w.has, res.Report)
		}
	}

	// A trigger of a flow that did not import says so.
	broken := strings.Replace(string(export), `"type": "reply"`, `"type": "no_such_action"`, 1)
	res, err = Convert([]byte(broken), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Flows[0].Failed || !strings.Contains(res.Report.String(), `triggers[0]: keyword trigger "join"`) || !strings.Contains(res.Report.String(), `(flow "Join" did not import: import it first)`) {
		t.Errorf("report:\n%s", res.Report)
	}
}

// TestUnsupportedSaysWhatToDo: what cannot be carried over fails its flow
// with a line naming the action or ruleset and saying what to write
// instead.
func TestUnsupportedSaysWhatToDo(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"@(TIME(1, 2, 3))", "function TIME has no Parley equivalent: Parley has no time-of-day values"},
		{"@(FORMAT_DATE(date.now))", `function FORMAT_DATE has no Parley equivalent: Parley writes dates YYYY-MM-DD: in RapidPro, write the date itself, or its parts joined as wanted (@(DAY(x)`},
		{"@(REGEX_GROUP(step.value, \"a\", 0))", "route with a regex rule (has_pattern)"},
		{"@(FOO(1))", "FOO has no Parley equivalent: it is not one of the functions this importer translates"},
		{"@step.time", "use the time of the result saved at that input, @flow.NAME.time"},
		{"@step.attachments", "use @step.attachments.0, @step.attachments.1 ..., or @flow.NAME of a media wait"},
	} {
		res, err := Convert(oneReply(tc.text), Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep := res.Report.String()
		if !res.Flows[0].Failed || !strings.Contains(rep, "action_set a1 actions[0] msg: ") || !strings.Contains(rep, tc.want) {
			t.Errorf("%s: report\n%s\nwant a failed flow, the action named and %q", tc.text, rep, tc.want)
		}
	}
	for _, tc := range []struct{ test, want string }{
		{`{"type": "or", "tests": []}`, `ruleset r1 rules[0].test.tests: an or test without tests: give the rule a test, or remove it, before exporting`},
		{`{"type": "and", "tests": [{"type": "number"}, {"type": "lt", "test": "10"}]}`, `ruleset r1 rules[0].test: and test: a rule of several tests that must all match: test them in rulesets one after another before exporting`},
		{`{"type": "or", "tests": [{"type": "number"}, {"type": "contains"}]}`, `ruleset r1 rules[0].test.tests[1].test: missing test text`},
		{`{"type": "or", "tests": [{"type": "number"}, {"type": "or", "tests": [{"type": "timeout", "minutes": 5}]}]}`, `ruleset r1 rules[0].test.tests[1].test.tests[0].type: a timeout test inside an or test is not supported: give it a rule of its own before exporting`},
		{`{"type": "or", "tests": [{"type": "number"}, {"type": "and", "tests": []}]}`, `ruleset r1 rules[0].test.tests[1].test: and test: a rule of several tests that must all match`},
		{`{"type": "district", "test": "Kigali"}`, `test the names with a contains_any rule (has_any_word) instead`},
		{`{"type": "made_up"}`, `ruleset r1 rules[0].test: test type "made_up" is not supported: replace it with one of the tests docs/rapidpro.md (Rules) lists`},
	} {
		export := `{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "F"}, "entry": "r1",
		 "action_sets": [], "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "X", "operand": "@step.value",
		  "rules": [{"uuid": "x1", "category": {"eng": "A"}, "destination": null, "test": ` + tc.test + `},
		   {"uuid": "x2", "category": {"eng": "Other"}, "destination": null, "test": {"type": "true"}}]}]}]}`
		res, err := Convert([]byte(export), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep := res.Report.String(); !res.Flows[0].Failed || !strings.Contains(rep, tc.want) {
			t.Errorf("%s: report\n%s\nwant a failed flow and %q", tc.test, rep, tc.want)
		}
	}
}

// TestFalseRuleDropped: a rule whose test is false never matched in
// RapidPro, so it is dropped with an info line and the flow imports and
// routes as RapidPro did.
func TestFalseRuleDropped(t *testing.T) {
	export := []byte(`{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "F"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "never"}}]},
	   {"uuid": "a2", "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "got @flow.x.category"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "X", "operand": "@step.value",
	  "rules": [{"uuid": "x1", "category": {"eng": "Never"}, "destination": "a1", "test": {"type": "false"}},
	   {"uuid": "x2", "category": {"eng": "Other"}, "destination": "a2", "test": {"type": "true"}}]}]}]}`)
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Report.String(), `info     "F" ruleset r1 rules[0]: rule (category "Never") with a false test never matches in RapidPro either: dropped`) {
		t.Errorf("report:\n%s", res.Report)
	}
	results, said := runInputs(t, export, flows.Contact{URN: "tel:+12065551212"}, "anything")
	if strings.Join(said, "|") != "got Other" || !strings.HasSuffix(results["X"], "/Other") {
		t.Errorf("sent %q, result %q; want got Other", said, results["X"])
	}
}
