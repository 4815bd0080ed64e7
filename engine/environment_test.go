package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// environmentFlow waits for an answer and saves its phone number and date;
// env is the flow's "environment" member ("" for none).
func environmentFlow(id, env string) string {
	if env != "" {
		env = `"environment": ` + env + `,`
	}
	return `{"id": "` + id + `", ` + env + ` "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Phone",
	   "rules": [{"type": "has_phone", "category": "Phone"}], "exits": {"Phone": "when", "Other": "when"}},
	  {"id": "when", "type": "split", "operand": "@input", "result": "When",
	   "rules": [{"type": "has_date", "category": "Date"}], "exits": {"Date": "", "Other": ""}}]}`
}

// TestEnvironment: the flow's environment sets the country of has_phone
// without an argument and the order the date rules read; a subflow without
// one uses its caller's; the engine's default applies last.
func TestEnvironment(t *testing.T) {
	const input = "call 2067799294 on 03/04/2026"
	cases := []struct {
		name, env   string
		opts        []engine.Option
		phone, date string
	}{
		{"none: international numbers only, day first", "", nil, "", "2026-04-03"},
		{"US, month first", `{"default_country": "US", "date_format": "MM-DD-YYYY"}`, nil, "+12067799294", "2026-03-04"},
		{"lower-case country", `{"default_country": "us"}`, nil, "+12067799294", "2026-04-03"},
		{"engine default", "", []engine.Option{engine.WithEnvironment(flows.Environment{DefaultCountry: "US", DateFormat: flows.DateFormatMonthDayYear})}, "+12067799294", "2026-03-04"},
		{"the flow's over the engine's", `{"date_format": "DD-MM-YYYY"}`, []engine.Option{engine.WithEnvironment(flows.Environment{DefaultCountry: "US", DateFormat: flows.DateFormatMonthDayYear})}, "+12067799294", "2026-04-03"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, nil, c.opts...)
			f := fx.load(t, environmentFlow("env", c.env))
			s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fx.e.Resume(context.Background(), f, s, flows.Text(input)); err != nil {
				t.Fatal(err)
			}
			res := s.Frames[0].Results
			if got := res["phone"]; (c.phone == "" && got.Category != "Other") || (c.phone != "" && got.Value != c.phone) {
				t.Errorf("phone: %+v, want %q", got, c.phone)
			}
			if got := res["when"]; got.Value != c.date {
				t.Errorf("date: %+v, want %q", got, c.date)
			}
		})
	}

	t.Run("a subflow uses its caller's", func(t *testing.T) {
		fx := newFixture(t, nil)
		fx.load(t, environmentFlow("child", ""))
		parent := fx.load(t, `{"id": "parent", "environment": {"default_country": "US", "date_format": "MM-DD-YYYY"}, "widgets": [
		  {"id": "sub", "type": "subflow", "flow": "child", "exits": {"Complete": "", "Expired": ""}}]}`)
		s, _, err := fx.e.Start(context.Background(), parent, engine.StartParams{})
		if err != nil {
			t.Fatal(err)
		}
		child := s.Frames[len(s.Frames)-1]
		if _, err := fx.e.Resume(context.Background(), parent, s, flows.Text(input)); err != nil {
			t.Fatal(err)
		}
		if got := child.Results["phone"].Value + " " + child.Results["when"].Value; got != "+12067799294 2026-03-04" {
			t.Errorf("child saved %q", got)
		}
	})
}

// TestEnvironmentErrors: an unknown country or date format is a validation
// error at its JSON path.
func TestEnvironmentErrors(t *testing.T) {
	fx := newFixture(t, nil)
	for env, want := range map[string]string{
		`{"default_country": "XX"}`:                           `environment.default_country: unknown country "XX"`,
		`{"default_country": "USA"}`:                          `environment.default_country: unknown country "USA"`,
		`{"date_format": "MM/DD/YYYY"}`:                       `environment.date_format: unknown date format "MM/DD/YYYY" (DD-MM-YYYY, MM-DD-YYYY or YYYY-MM-DD)`,
		`{"country": "US"}`:                                   `unknown field "country"`,
		`{"date_format": "YYYY-MM-DD", "default_country": 1}`: `environment.default_country`,
	} {
		_, err := fx.e.Load([]byte(environmentFlow("bad", env)))
		var ve *flows.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
}

// TestDateArgumentsFollowTheDateFormat: a fixed date argument written in
// another order than the flow's date format would never be read when the
// rule runs, so the flow does not load; ISO and relative dates always do.
func TestDateArgumentsFollowTheDateFormat(t *testing.T) {
	flow := func(env, arg string) string {
		if env != "" {
			env = `"environment": {"date_format": "` + env + `"},`
		}
		return `{"id": "d", ` + env + ` "widgets": [{"id": "s", "type": "split", "operand": "@input",
		  "rules": [{"type": "has_text", "category": "T"}, {"type": "has_date_lt", "args": ["` + arg + `"], "category": "Before"}],
		  "exits": {"T": "", "Before": "", "Other": ""}}]}`
	}
	tests := []struct {
		name, engineFormat, env, arg, want string
	}{
		{"month first in a day-first flow", "", "", "01/15/2017",
			`widget "s": widgets[0].rules[1].args[0]: "01/15/2017" is not a date in the flow's date format DD-MM-YYYY (it reads as MM-DD-YYYY): write it as 2017-01-15`},
		{"day first in a month-first flow", "", "MM-DD-YYYY", "15/01/2017",
			`"15/01/2017" is not a date in the flow's date format MM-DD-YYYY (it reads as DD-MM-YYYY): write it as 2017-01-15`},
		{"day first under a month-first engine", flows.DateFormatMonthDayYear, "", "15/01/2017",
			`is not a date in the flow's date format MM-DD-YYYY`},
		{"an impossible day in the flow's order", "", "", "29/02/23", `widget "s": widgets[0].rules[1].args[0]: "29/02/23" is not a date: 2023 has no 29 February`},
		{"not a date", "", "", "soon", `expected a date (YYYY-MM-DD, a date in the flow's date format DD-MM-YYYY, today, tomorrow or yesterday), got "soon"`},
		{"day first in a day-first flow", "", "DD-MM-YYYY", "15/01/2017", ""},
		{"month first in a month-first flow", "", "MM-DD-YYYY", "01/15/2017", ""},
		{"ISO in a month-first flow", "", "MM-DD-YYYY", "2017-01-15", ""},
		{"today", "", "YYYY-MM-DD", "today", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newFixture(t, nil, engine.WithEnvironment(flows.Environment{DateFormat: tc.engineFormat})).e
			_, err := e.Load([]byte(flow(tc.env, tc.arg)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("did not load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			// A flow stored before the check still loads, as it ran then.
			if _, err := e.LoadStored([]byte(flow(tc.env, tc.arg))); err != nil && !strings.Contains(tc.want, "expected a date") {
				t.Errorf("stored flow: %v", err)
			}
		})
	}
}

// TestTwoDigitYearArgument: a two-digit year in a fixed date argument is
// read at load as the running rule reads it, the latest such year not after
// the engine's clock's: the suggestion for one in another order is that
// date, and one in the flow's order loads with advice to write the date
// the rule compares with in four digits, which is the date it runs with.
func TestTwoDigitYearArgument(t *testing.T) {
	flow := func(arg string) string {
		return `{"id": "d", "widgets": [
		  {"id": "ask", "type": "wait_for_response", "result": "D",
		   "rules": [{"type": "has_date_lt", "args": ["` + arg + `"], "category": "Before"}], "exits": {"Before": "yes", "Other": "no"}},
		  {"id": "yes", "type": "send_message", "text": "before"},
		  {"id": "no", "type": "send_message", "text": "not before"}]}`
	}
	fx := newFixture(t, nil) // in 2026
	if _, err := fx.e.Load([]byte(flow("12/31/30"))); err == nil || !strings.Contains(err.Error(), `"12/31/30" is not a date in the flow's date format DD-MM-YYYY (it reads as MM-DD-YYYY): write it as 1930-12-31`) {
		t.Errorf("month first in a day-first flow: %v, want the date written as the rule reads 30, 1930", err)
	}
	f, err := fx.e.Load([]byte(flow("31/12/30")))
	if err != nil {
		t.Fatalf("a two-digit year in the flow's format: %v", err)
	}
	want := `widget "ask": widgets[0].rules[0].args[0]: "31/12/30" has a two-digit year, which a date rule reads as the latest such year not after the current one (1930-12-31 until 2029, 2030-12-31 from 2030): write it as 1930-12-31 to keep the date it reads in 2026`
	if len(f.Warnings) != 1 || f.Warnings[0].Error() != want {
		t.Errorf("warnings %v, want %q", f.Warnings, want)
	}
	// The rule runs with the date the advice names.
	for input, said := range map[string]string{"15/06/1930": "before", "15/06/2029": "not before"} {
		s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := fx.e.Resume(context.Background(), f, s, flows.Text(input))
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(evs); len(got) != 1 || got[0] != said {
			t.Errorf("%s against 31/12/30: %v, want %s", input, got, said)
		}
	}
	// A year the rule reads in this century, and four digits.
	for arg, want := range map[string]string{
		"31/12/20":   `"31/12/20" has a two-digit year, which a date rule reads as the latest such year not after the current one (2020-12-31 now): write it as 2020-12-31 to keep the date it reads in 2026`,
		"31/12/2030": "",
		"2030-12-31": "",
	} {
		f, err := fx.e.Load([]byte(flow(arg)))
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if want == "" && len(f.Warnings) > 0 || want != "" && (len(f.Warnings) != 1 || !strings.HasSuffix(f.Warnings[0].Error(), want)) {
			t.Errorf("%s: warnings %v, want %q", arg, f.Warnings, want)
		}
	}
}

// TestDateFunctionsFollowTheDateFormat: datevalue(), edate() and RapidPro's
// date + days read a date as the flow's date rules do, month first in a
// month-first flow.
func TestDateFunctionsFollowTheDateFormat(t *testing.T) {
	const tmpl = "@flow.d|@(datevalue(input))|@(edate(input, 1))|@(legacy_add(input, 1))|@(legacy_sub(input, 1))"
	tests := []struct{ env, input, want string }{
		{"MM-DD-YYYY", "01/02/2024", "2024-01-02|2024-01-02T00:00:00Z|2024-02-02|2024-01-03|2024-01-01"},
		{"MM-DD-YYYY", "12/25/2024", "2024-12-25|2024-12-25T00:00:00Z|2025-01-25|2024-12-26|2024-12-24"},
		{"MM-DD-YYYY", "12-25-2024 10:30", "2024-12-25|2024-12-25T10:30:00Z|2025-01-25T10:30:00Z|2024-12-26T10:30:00Z|2024-12-24T10:30:00Z"},
		{"", "01/02/2024", "2024-02-01|2024-02-01T00:00:00Z|2024-03-01|2024-02-02|2024-01-31"},
		{"YYYY-MM-DD", "2024/01/02", "2024-01-02|2024-01-02T00:00:00Z|2024-02-02|2024-01-03|2024-01-01"},
		{"", "on 3.4.24", "2024-04-03|2024-04-03T00:00:00Z|2024-05-03|2024-04-04|2024-04-02"},
	}
	for _, tc := range tests {
		t.Run(tc.env+" "+tc.input, func(t *testing.T) {
			env := ""
			if tc.env != "" {
				env = `"environment": {"date_format": "` + tc.env + `"},`
			}
			fx := newFixture(t, nil)
			f := fx.load(t, `{"id": "d", `+env+` "widgets": [
			  {"id": "ask", "type": "wait_for_response", "result": "D",
			   "rules": [{"type": "has_date", "category": "Date"}], "exits": {"Date": "say", "Other": "say"}},
			  {"id": "say", "type": "send_message", "text": "`+tmpl+`"}]}`)
			s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := fx.e.Resume(context.Background(), f, s, flows.Text(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != tc.want {
				t.Errorf("sent %q, want %q (%+v)", got, tc.want, eventsOf(evs, flows.EventError))
			}
		})
	}
}

// A flow that gives date_format twice is checked, as it runs, with the last.
func TestDateFormatGivenTwice(t *testing.T) {
	fx := newFixture(t, nil)
	flow := func(env string) string {
		return `{"id": "d2", "name": "d2", "environment": ` + env + `, "widgets": [
		  {"id": "w", "type": "wait_for_response", "rules": [{"type": "has_date_lt", "args": ["01/15/2017"], "category": "Before"}], "exits": {"Before": "m", "Other": "m"}},
		  {"id": "m", "type": "send_message", "text": "@flow.w.category"}]}`
	}
	if _, err := fx.e.Load([]byte(flow(`{"date_format": "DD-MM-YYYY", "date_format": "MM-DD-YYYY"}`))); err != nil {
		t.Errorf("checked with the first date_format: %v", err)
	}
	if _, err := fx.e.Load([]byte(flow(`{"date_format": "MM-DD-YYYY", "date_format": "DD-MM-YYYY"}`))); err == nil || !strings.Contains(err.Error(), "DD-MM-YYYY") {
		t.Errorf("the last date_format, DD-MM-YYYY, refuses 01/15/2017: %v", err)
	}
}
