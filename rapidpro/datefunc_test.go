package rapidpro

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestDatePartsAndMath: RapidPro's YEAR, MONTH, DAY, WEEKDAY, HOUR, MINUTE,
// SECOND, DATE, DATEDIF, DAYS, MOD, TRUNC, AVERAGE and EXP import and give
// what RapidPro's legacy functions gave, dates read in the flow's format
// (day first by default).
func TestDatePartsAndMath(t *testing.T) {
	contact := flows.Contact{Name: "Ben", URN: "tel:+12065551212", Fields: map[string]string{"dob": "25/12/1990", "age": "30", "born": "1994"}}
	// Today is 2024-05-01, a Wednesday (runInputs' clock).
	for _, tc := range []struct{ text, want string }{
		{"@(YEAR(date.today)) @(MONTH(date.today)) @(DAY(date.today)) @(WEEKDAY(date.today))", "2024 5 1 4"},
		{"@(YEAR(contact.dob)) @(MONTH(contact.dob)) @(day(contact.dob)) @(WEEKDAY(contact.dob))", "1990 12 25 3"},
		{"@(YEAR(date.today) - contact.born)", "30"},
		{`@(HOUR(DATEVALUE("31/01/2024 10:30pm"))) @(MINUTE(DATEVALUE("31/01/2024 10:30:15"))) @(SECOND(DATEVALUE("31/01/2024 10:30:15"))) @(HOUR(date.today))`, "22 30 15 0"},
		{`@(DATE(2024, 2, 29)) @(DATE(2024, 12, contact.age))`, "2024-02-29 2024-12-30"},
		{`@(DATEDIF(contact.dob, date.today, "y")) @(DATEDIF(contact.dob, date.today, "M")) @(DATEDIF(contact.dob, date.today, "md")) @(DATEDIF(contact.dob, date.today, "ym"))`, "33 400 6 4"},
		{`@(DATEDIF("2024-01-31", "2024-02-29", "m")) @(DATEDIF("2024-01-31", "2024-02-28", "m")) @(DATEDIF("2024-01-31", "2024-02-29", "d"))`, "1 0 29"},
		{`@(DATEDIF("01/03/2020", date.today, "yd")) @(DAYS(date.today, "01/01/2024")) @(DAYS(date.today, date.today))`, "61 121 0"},
		{"@(MOD(-7, 3)) @(MOD(7, -3)) @(MOD(10.5, 3)) @(MOD(0.3, 0.1)) @(MOD(contact.age, 7))", "2 -2 1.5 0 2"},
		{"@(TRUNC(-2.7)) @(TRUNC(2.7)) @(TRUNC(contact.age / 7))", "-2 2 4"},
		{"@(AVERAGE(1, 2, contact.age)) @(AVERAGE(5)) @(EXP(0)) @(ROUND(EXP(1), 5))", "11 5 1 2.71828"},
	} {
		_, said := runInputs(t, oneReply(tc.text), contact)
		if len(said) != 1 || said[0] != tc.want {
			t.Errorf("%s: sent %q, want %q", tc.text, said, tc.want)
		}
	}

	// Calls RapidPro refused fail the import, naming the function.
	for _, tc := range []struct{ text, want string }{
		{"@(YEAR())", "YEAR takes 1 argument, got 0"},
		{"@(DATE(2024, 1))", "DATE takes 3 arguments, got 2"},
		{`@(DATEDIF(contact.dob, date.today))`, "DATEDIF takes 3 arguments, got 2"},
		{"@(MOD(1))", "MOD takes 2 arguments, got 1"},
	} {
		res, err := Convert(oneReply(tc.text), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Flows[0].Failed || !strings.Contains(res.Report.String(), tc.want) {
			t.Errorf("%s: report\n%s\nwant a failed flow and %q", tc.text, res.Report, tc.want)
		}
	}

	// An age from a birth date, routed by a numeric rule on it, as an
	// export computing it would: the split saves the age as its value.
	export := []byte(fmt.Sprintf(`{"version": 10, "flows": [{"version": 10, "base_language": "eng",
	 "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "Age"}, "entry": "r0",
	 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "adult, born in @(YEAR(flow.birth))"}}]},
	   {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "minor: @flow.age"}}]}],
	 "rule_sets": [{"uuid": "r0", "ruleset_type": "wait_message", "label": "Birth", "operand": "@step.value", "destination": "r1",
	  "rules": [{"uuid": "y0", "category": {"eng": "All Responses"}, "destination": "r1", "test": {"type": "true"}}]},
	  {"uuid": "r1", "ruleset_type": "expression", "label": "Age", "operand": %q,
	  "rules": [{"uuid": "y1", "category": {"eng": "Adult"}, "destination": "a1", "test": {"type": "gte", "test": "18"}},
	   {"uuid": "y2", "category": {"eng": "Other"}, "destination": "a2", "test": {"type": "true"}}]}]}]}`,
		`@(DATEDIF(flow.birth, date.today, "y"))`))
	for _, c := range []struct{ input, said, result string }{
		{"30/04/2006", "adult, born in 2006", "18/Adult"},
		{"born 1/5/2006", "adult, born in 2006", "18/Adult"},
		{"02/05/2006", "minor: 17", "17/Other"},
	} {
		results, said := runInputs(t, export, contact, c.input)
		if strings.Join(said, "|") != c.said || !strings.HasSuffix(results["Age"], c.result) {
			t.Errorf("input %s: sent %q, result %q; want %q and %s", c.input, said, results["Age"], c.said, c.result)
		}
	}
}

// TestDateTomorrowYesterdayCreatedOn: @date.tomorrow and @date.yesterday
// are the dates RapidPro gave; @contact.created_on, which RapidPro filled
// and Parley has no value for, is a warning rather than a silent empty
// contact field.
func TestDateTomorrowYesterdayCreatedOn(t *testing.T) {
	contact := flows.Contact{Name: "Ben", URN: "tel:+12065551212"}
	// Today is 2024-05-01 (runInputs' clock).
	_, said := runInputs(t, oneReply("@date.tomorrow @date.yesterday @(date.tomorrow - 2)"), contact)
	if want := "2024-05-02 2024-04-30 2024-04-30"; len(said) != 1 || said[0] != want {
		t.Errorf("sent %q, want %q", said, want)
	}
	res, err := Convert(oneReply("Joined @contact.created_on"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed || !strings.Contains(res.Report.String(), "warning") || !strings.Contains(res.Report.String(), "@contact.created_on: Parley keeps no time a contact was created") {
		t.Errorf("report:\n%s\nwant a warning about @contact.created_on", res.Report)
	}
}
