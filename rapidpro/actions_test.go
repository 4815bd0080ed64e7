package rapidpro

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestSaveName: saving to name or first_name sets the contact's name
// trimmed, as RapidPro did; first_name keeps the family name, and a name
// without one gets no trailing space.
func TestSaveName(t *testing.T) {
	export := func(field, value string) []byte {
		return []byte(fmt.Sprintf(`{"version": 10, "flows": [{"version": 10, "base_language": "eng",
		 "metadata": {"uuid": "66666666-6666-4666-8666-666666666666", "name": "Name"}, "entry": "r1",
		 "action_sets": [{"uuid": "a1", "destination": null, "actions": [
		   {"type": "save", "uuid": "s1", "field": %q, "label": "Name", "value": %q},
		   {"type": "reply", "uuid": "m1", "msg": {"eng": "<@contact.name>"}}]}],
		 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "Answer", "operand": "@step.value",
		  "rules": [{"uuid": "x1", "category": {"eng": "All Responses"}, "destination": "a1", "test": {"type": "true"}}]}]}]}`, field, value))
	}
	for _, tc := range []struct{ field, value, name, input, want string }{
		{"first_name", "John", "Ben", "x", "<John>"},
		{"first_name", "John", "Ben Haggerty", "x", "<John Haggerty>"},
		{"first_name", "John", "J.R. Mary-Jane  Smith", "x", "<John Mary-Jane Smith>"}, // words split at white space
		{"first_name", "@step.value", "Ben Haggerty", "  Mary ", "<Mary Haggerty>"},
		{"first_name", "@step.value", "", "Mary", "<Mary>"},
		{"first_name", "@(UPPER(step.value)) @@x", "Ben", "mary", "<MARY @x>"},
		{"name", " @step.value ", "Ben", " Mary Jane  ", "<Mary Jane>"},
		{"name", "Dr. @contact.name", "Ben Haggerty", "x", "<Dr. Ben Haggerty>"},
	} {
		_, said := runInputs(t, export(tc.field, tc.value), flows.Contact{Name: tc.name, URN: "tel:+12065551212"}, tc.input)
		if len(said) != 1 || said[0] != tc.want {
			t.Errorf("save %s %q with name %q, input %q: sent %q, want %q", tc.field, tc.value, tc.name, tc.input, said, tc.want)
		}
	}
}

// TestSaveField: a value saved to a contact field is trimmed, as goflow's
// set_contact_field trims it, whether it is the input, an expression or a
// template with spaces around it.
func TestSaveField(t *testing.T) {
	export := func(value string) []byte {
		return []byte(fmt.Sprintf(`{"version": "11.12", "flows": [{"version": "11.12", "base_language": "eng",
		 "metadata": {"uuid": "66666666-6666-4666-8666-666666666666", "name": "Field"}, "entry": "r1",
		 "action_sets": [{"uuid": "a1", "destination": null, "actions": [
		   {"type": "save", "uuid": "s1", "field": "favorite_color", "label": "Favorite Color", "value": %q},
		   {"type": "reply", "uuid": "m1", "msg": {"eng": "<@contact.favorite_color>"}}]}],
		 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "Answer", "operand": "@step.value",
		  "rules": [{"uuid": "x1", "category": {"eng": "All Responses"}, "destination": "a1", "test": {"type": "true"}}]}]}]}`, value))
	}
	for _, tc := range []struct{ value, input, want string }{
		{"@step.value", "  blue \n", "<blue>"},
		{"@(UPPER(step.value))", " blue ", "<BLUE>"},
		{" dark @step.value ", "blue  ", "<dark blue>"},
		{"@flow", "blue", "<answer: blue>"}, // no expression form: the template
	} {
		_, said := runInputs(t, export(tc.value), flows.Contact{Name: "Ben", URN: "tel:+12065551212"}, tc.input)
		if len(said) != 1 || said[0] != tc.want {
			t.Errorf("save %q, input %q: sent %q, want %q", tc.value, tc.input, said, tc.want)
		}
	}
}

// TestActionWidgetIDs: the widgets of an action set after its first take the
// uuids of the actions they were made from, also when an action before them
// was dropped (an empty message).
func TestActionWidgetIDs(t *testing.T) {
	export := []byte(`{"version": "11.12", "flows": [{"version": "11.12", "flow_type": "M", "base_language": "eng",
	 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Test"}, "entry": "as1",
	 "action_sets": [{"uuid": "as1", "destination": null, "actions": [
	   {"type": "reply", "uuid": "a1", "msg": {"eng": ""}},
	   {"type": "reply", "uuid": "a2", "msg": {"eng": "second"}},
	   {"type": "reply", "uuid": "a3", "msg": {"eng": ""}},
	   {"type": "reply", "uuid": "a4", "msg": {"eng": "fourth"}},
	   {"type": "reply", "uuid": "a5", "msg": {"eng": "fifth"}}]}],
	 "rule_sets": []}]}`)
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		t.Fatalf("the flow failed:\n%s", res.Report)
	}
	var doc struct {
		Widgets []struct{ ID, Text string }
	}
	if err := json.Unmarshal(res.Flows[0].JSON, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range doc.Widgets {
		got = append(got, w.Text+"="+w.ID)
	}
	// The first widget is the action set's, so rules and the entry can point at it.
	if want := "second=as1 fourth=a4 fifth=a5"; strings.Join(got, " ") != want {
		t.Errorf("widgets %s, want %s", strings.Join(got, " "), want)
	}
}
