package rapidpro

import (
	"strings"
	"testing"
)

// TestWronglyTypedFields: a field of another JSON type than RapidPro wrote
// fails the flow with a line naming its JSON path, the action or ruleset and
// what was expected, every such field reported; a position that is not a
// number is only a warning.
func TestWronglyTypedFields(t *testing.T) {
	flow := func(metadata, actions, ruleSetX string) string {
		return `{"version": "11.7", "flows": [{"version": "11.7", "base_language": "eng", "flow_type": "M",
		 "metadata": ` + metadata + `, "entry": "a0",
		 "action_sets": [{"uuid": "a0", "x": 10.5, "y": 0, "destination": "a1", "actions": [{"type": "reply", "uuid": "m0", "msg": {"eng": "hi"}}]},
		   {"uuid": "a1", "x": 0, "y": 100, "destination": "r1", "actions": ` + actions + `}],
		 "rule_sets": [{"uuid": "r1", "x": ` + ruleSetX + `, "y": 200, "ruleset_type": "wait_message", "label": "Q", "operand": "@step.value",
		   "rules": [{"uuid": "x1", "category": {"eng": "Other"}, "destination": null, "test": {"type": "true"}}]}]}]}`
	}
	good := `{"uuid": "99999999-9999-4999-8999-999999999999", "name": "Typed"}`
	reply := `[{"type": "reply", "uuid": "m1", "msg": {"eng": "bye"}}]`
	for _, tc := range []struct {
		name, export string
		failed       bool
		lines        []string
	}{
		{"metadata", flow(`"x"`, reply, "0"), true,
			[]string{`error    "flow 1" flows[0].metadata: expected a JSON object, got JSON string`}},
		{"groups", flow(good, `[{"type": "add_group", "uuid": "g1", "groups": "Testers"}, {"type": "reply", "msg": {"eng": 5}, "send_all": "yes"}]`, "0"), true,
			[]string{`error    "Typed" flows[0].action_sets[1].actions[0].groups: action g1 (add_group): expected a JSON array, got JSON string`,
				`error    "Typed" flows[0].action_sets[1].actions[1].send_all: action_set a1: expected true or false, got JSON string`}},
		{"rule and config", strings.Replace(flow(good, reply, "0"), `"test": {"type": "true"}`, `"test": {"type": "timeout", "minutes": "5"}`, 1), true,
			[]string{`error    "Typed" flows[0].rule_sets[0].rules[0].test.minutes: ruleset r1: expected an integer, got JSON string`}},
		{"null flow", strings.Replace(flow(good, reply, "0"), `"flows": [{`, `"flows": [null, {`, 1), true,
			[]string{`error    "flow 1" flows[0]: expected a flow, a JSON object, got JSON null`}},
		{"position", flow(good, reply, `"10"`), false,
			[]string{`warning  "Typed" flows[0].rule_sets[0].x: ruleset r1: the position is ignored: expected a number, got JSON string`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert([]byte(tc.export), Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report.String()
			for _, l := range tc.lines {
				if !strings.Contains(rep, l+"\n") {
					t.Errorf("no line %q in\n%s", l, rep)
				}
			}
			if strings.Contains(rep, "Go struct") || strings.Contains(rep, "cannot read the flow") {
				t.Errorf("a Go type in the report:\n%s", rep)
			}
			if res.Flows[0].Failed != tc.failed {
				t.Errorf("failed = %v, want %v\n%s", res.Flows[0].Failed, tc.failed, rep)
			}
			if !tc.failed && !strings.Contains(string(res.Flows[0].JSON), `"x": 11`) {
				t.Errorf("position 10.5 not read as 11:\n%s", res.Flows[0].JSON)
			}
		})
	}
}
