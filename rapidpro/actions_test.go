package rapidpro

import (
	"fmt"
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
