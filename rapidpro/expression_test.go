package rapidpro

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestDateArithmetic: RapidPro's + and - add a number of days to a date,
// in a text and in a rule's argument, and still add numbers.
func TestDateArithmetic(t *testing.T) {
	contact := flows.Contact{Name: "Ben", URN: "tel:+12065551212", Fields: map[string]string{"due": "2024-05-10", "age": "30"}}
	// Today is 2024-05-01 (runInputs' clock).
	for _, tc := range []struct{ text, want string }{
		{"@(date.today + 7)", "2024-05-08"},
		{"@(7 + date.today)", "2024-05-08"},
		{"@(date.today - 1)", "2024-04-30"},
		{"@(contact.due + contact.age)", "2024-06-09"},
		{"@(contact.due - 10)", "2024-04-30"},
		{`@(DATEVALUE("2024-05-01") + 1)`, "2024-05-02T00:00:00Z"},
		{"@(contact.age + 5) @(contact.age - 5) @(1 + 2 - contact.age)", "35 25 -27"},
		{"@(date.today + 7 = \"2024-05-08\")", "true"},
		{"@(EDATE(date.today, 1)) @(EDATE(contact.due, -3))", "2024-06-01 2024-02-10"},
	} {
		_, said := runInputs(t, oneReply(tc.text), contact)
		if len(said) != 1 || said[0] != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.text, said, tc.want)
		}
	}

	// A date rule whose argument adds days to today.
	export := []byte(fmt.Sprintf(`{"version": 10, "flows": [{"version": 10, "base_language": "eng",
	 "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "Due"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "soon"}}]},
	   {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "later"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "Due", "operand": "@step.value",
	  "rules": [{"uuid": "x1", "category": {"eng": "Soon"}, "destination": "a1", "test": {"type": "date_before", "test": %q}},
	   {"uuid": "x2", "category": {"eng": "Other"}, "destination": "a2", "test": {"type": "true"}}]}]}]}`, "@(date.today + 7)"))
	for _, c := range []struct{ input, said, result string }{
		{"2024-05-05", "soon", "Soon"},
		{"2024-05-20", "later", "Other"},
	} {
		results, said := runInputs(t, export, contact, c.input)
		if strings.Join(said, "|") != c.said || !strings.HasSuffix(results["Due"], "/"+c.result) {
			t.Errorf("input %s: sent %q, result %q; want %q and category %s", c.input, said, results["Due"], c.said, c.result)
		}
	}
}

// TestFixedAndRound: FIXED writes commas between thousands unless its third
// argument is true; ROUND, ROUNDUP and ROUNDDOWN take negative places.
func TestFixedAndRound(t *testing.T) {
	for _, tc := range []struct{ legacy, want string }{
		{"@(FIXED(1234.5678, 2)) @(FIXED(1234567.891, 0)) @(FIXED(1234.5678, 2, TRUE))", "1,234.57 1,234,568 1234.57"},
		{"@(FIXED(contact.age * 1000)) @(FIXED(1234.5, 1, FALSE))", "30,000.00 1,234.5"},
		{"@(ROUND(1234, -2)) @(ROUND(2.5, 0)) @(ROUND(1.005, 2)) @(ROUND(contact.age / 7, 1))", "1200 3 1.01 4.3"},
		{"@(ROUNDUP(1201, -2)) @(ROUNDUP(1.21, 1)) @(ROUNDDOWN(1299, -2)) @(ROUNDDOWN(-1.29, 1))", "1300 1.3 1200 -1.2"},
	} {
		got, rep := render(t, tc.legacy)
		if got != tc.want {
			t.Errorf("%s: got %q, want %q\n%s", tc.legacy, got, tc.want, rep)
		}
	}
}

// TestFunctionArguments: a function takes the arguments RapidPro's did, its
// optional ones included (FIELD's delimiter, SUBSTITUTE's instance, IF's
// values), and a call with a count RapidPro refused fails the import with a
// line naming the function and the count it takes.
func TestFunctionArguments(t *testing.T) {
	for _, tc := range []struct{ legacy, want string }{
		{`@(FIELD("a b  c", 3)) @(FIELD("a,b", 2, ","))`, "c b"},
		{`@(SUBSTITUTE("a-b-c", "-", "+", 2)) @(SUBSTITUTE("a-b-c", "-", "+"))`, "a-b+c a+b+c"},
		{`@(TRUE()) @(FALSE()) @(IF(TRUE(), "y", "n")) @(IF(FALSE(), "y")) @(IF(1 = 1))`, "true false y false 0"},
		{`@(AND()) @(OR()) @(FIXED(2)) @(LEFT("abc", 2))@(RIGHT("abc", 1))`, "true false 2.00 abc"},
	} {
		got, rep := render(t, tc.legacy)
		if got != tc.want {
			t.Errorf("%s: got %q, want %q\n%s", tc.legacy, got, tc.want, rep)
		}
	}
	for _, tc := range []struct{ legacy, msg string }{
		{`@(FIELD("a b"))`, "FIELD takes 2 to 3 arguments, got 1"},
		{`@(SUBSTITUTE("a", "b", "c", 1, 2))`, "SUBSTITUTE takes 3 to 4 arguments, got 5"},
		{`@(TRUE(1))`, "TRUE takes 0 arguments, got 1"},
		{`@(ROUND(2.5))`, "ROUND takes 2 arguments, got 1"},
		{`@(ROUNDUP(2.5))`, "ROUNDUP takes 2 arguments, got 1"},
		{`@(LEFT("abc"))`, "LEFT takes 2 arguments, got 1"},
		{`@(RIGHT("abc"))`, "RIGHT takes 2 arguments, got 1"},
		{`@(MID("abc", 1))`, "MID takes 3 arguments, got 2"},
		{`@(CHAR())`, "CHAR takes 1 argument, got 0"},
		{`@(RANDBETWEEN(1))`, "RANDBETWEEN takes 2 arguments, got 1"},
		{`@(FIXED(1, 2, TRUE, 4))`, "FIXED takes 1 to 3 arguments, got 4"},
		{`@(IF())`, "IF takes 1 to 3 arguments, got 0"},
		{`@(MAX())`, "MAX takes at least 1 argument, got 0"},
	} {
		got, rep := render(t, tc.legacy)
		if got != "" || !hasLine(rep, levelError, "action_set a1 actions[0] msg", tc.msg) {
			t.Errorf("%s: sent %q, want the error %q\n%s", tc.legacy, got, tc.msg, rep)
		}
	}
}

// TestWordFunctions: WORD, WORD_COUNT, WORD_SLICE, FIRST_WORD,
// REMOVE_FIRST_WORD and PROPER, the filters that became them and
// @contact.first_name split and capitalise words as RapidPro's legacy
// engine did: at punctuation and spaces, or at spaces only with by_spaces.
func TestWordFunctions(t *testing.T) {
	contact := flows.Contact{Name: "mary-jane o'brien", URN: "tel:+12065551212", Fields: map[string]string{"day": "01-02-2014", "n": "2"}}
	for _, tc := range []struct{ text, want string }{
		{"@(WORD(contact.day, 2)) @(WORD_COUNT(contact.day)) @(FIRST_WORD(contact.day)) @(WORD(contact.day, contact.n))", "02 3 01 02"},
		{`@(FIRST_WORD("yes, mary-jane o'brien")) @(WORD_COUNT("yes, mary-jane o'brien")) @(PROPER("yes, mary-jane o'brien"))`, "yes 5 Yes, Mary-Jane O'Brien"},
		{`@(WORD_SLICE("a.b c", 1, 2, TRUE)) @(WORD_SLICE("a.b c", 1, 2)) @(WORD_COUNT("a.b c", TRUE)) @(WORD("a.b c", 1, TRUE)) @(WORD("a.b c", -1))`, "a.b a 2 a.b c"},
		{`@(WORD_SLICE(" abc  def ghi-jkl ", 2, -1)) @(REMOVE_FIRST_WORD(" abc def-ghi"))`, "def ghi def-ghi"},
		{"@contact.name|title_case @contact.name|capitalize @contact.name|first_word @contact.name|remove_first_word", "Mary-Jane O'Brien Mary-Jane O'Brien mary -jane o'brien"},
		{"@contact.first_name @(PROPER(contact.first_name))", "mary-jane Mary-Jane"},
	} {
		_, said := runInputs(t, oneReply(tc.text), contact)
		if len(said) != 1 || said[0] != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.text, said, tc.want)
		}
	}
}
