package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// TestExpressionsReadTheTurnClock: now, now() and today() are the time of the
// turn (the engine's clock), not the machine's, so a flow run under a fixed
// clock (parley test) says the same thing every day; now is a time that
// expressions can use as one.
func TestExpressionsReadTheTurnClock(t *testing.T) {
	at := time.Date(2019, 12, 31, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ tmpl, want, warning string }{
		{"<@(today())>", "<2019-12-31>", ""},
		{"<@(now().Year())>", "<2019>", ""},
		{"<@(now.Year())>", "<2019>", ""},
		{"<@(now().Format('2006-01-02 15:04'))>", "<2019-12-31 23:30>", ""},
		{"<@(now(timezone('UTC')).Minute())>", "<30>", ""},
		{"<@(now > date('2019-12-31') && now < date('2020-01-01'))>", "<true>", ""},
		{"<@(now() == now)>", "<true>", ""},
		{"<@(string(now - date('2019-12-31')))>", "<23h30m0s>", ""},
		{"<@((now + duration('1h')).Year())>", "<2020>", ""},
		{"<@(now(1))>", "<>", `now(zone): 1 is not a time zone: write now(timezone("Europe/Paris"))`},
		// An expression's own now does not hide the turn's time from them.
		{"<@(let now = 1; today() + ' ' + string(datevalue('31/12/2019').Year()) + ' ' + string(now))>", "<2019-12-31 2019 1>", ""},
	} {
		t.Run(tc.tmpl, func(t *testing.T) {
			fx := newFixture(t, nil)
			fx.now = at
			q, _ := json.Marshal(tc.tmpl)
			f := fx.load(t, `{"id": "c", "name": "c", "widgets": [{"id": "m", "type": "send_message", "text": `+string(q)+`}]}`)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != tc.want {
				t.Errorf("sent %q, want %s (%+v)", got, tc.want, eventsOf(evs, flows.EventError))
			}
			var msgs []string
			for _, ev := range append(eventsOf(evs, flows.EventError), eventsOf(evs, flows.EventWarning)...) {
				msgs = append(msgs, ev.Message)
			}
			if got := strings.Join(msgs, "; "); tc.warning == "" && got != "" || !strings.Contains(got, tc.warning) {
				t.Errorf("events %q, want %q", got, tc.warning)
			}
		})
	}
}

// TestRulesAndVariablesReadTheTurnClock: the expression rule and set_variable
// see the same time as templates.
func TestRulesAndVariablesReadTheTurnClock(t *testing.T) {
	fx := newFixture(t, nil)
	fx.now = time.Date(2019, 12, 31, 23, 30, 0, 0, time.UTC)
	f := fx.load(t, `{"id": "c", "name": "c", "widgets": [
	  {"id": "v", "type": "set_variable", "name": "day", "expression": "today()", "exits": {"Next": "s"}},
	  {"id": "s", "type": "split", "operand": "@flow.day",
	   "rules": [{"type": "expression", "args": ["now.Year() == 2019 && flow.day.value == '2019-12-31'"], "category": "Old"}],
	   "exits": {"Old": "m", "Other": ""}},
	  {"id": "m", "type": "send_message", "text": "@flow.day"}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "2019-12-31" {
		t.Errorf("sent %q, want 2019-12-31 (%+v)", got, eventsOf(evs, flows.EventError))
	}
}

// TestTurnClockIsUTC: the turn's time is in UTC whatever the zone of the
// engine's clock (the machine's TZ for the default one), so now renders the
// same on every server and agrees with today() and the date rules.
func TestTurnClockIsUTC(t *testing.T) {
	fx := newFixture(t, nil)
	// 2019-12-31 23:30 UTC, already 2020-01-01 in Tokyo.
	fx.now = time.Date(2020, 1, 1, 8, 30, 0, 0, time.FixedZone("JST", 9*3600))
	f := fx.load(t, `{"id": "c", "name": "c", "widgets": [
	  {"id": "m", "type": "send_message", "text": "@(now) @(now.Hour()) @(today()) @(now.Format('2006-01-02'))", "exits": {"Next": "s"}},
	  {"id": "s", "type": "split", "operand": "@(today())",
	   "rules": [{"type": "has_date_eq", "args": ["today"], "category": "Today"}],
	   "exits": {"Today": "y", "Other": "n"}},
	  {"id": "y", "type": "send_message", "text": "today"},
	  {"id": "n", "type": "send_message", "text": "not today"}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2019-12-31T23:30:00Z 23 2019-12-31 2019-12-31", "today"}
	if got := texts(evs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q (%+v)", got, want, eventsOf(evs, flows.EventError))
	}
}

// TestClockFunctionArguments: a call of now() or today() with more arguments
// than it takes does not load, the error naming the function and where.
func TestClockFunctionArguments(t *testing.T) {
	fx := newFixture(t, nil)
	for src, want := range map[string]string{
		"@(today(1))":          `widgets[0].text: bad expression "today(1)": today() takes no arguments, got 1 (1:1)`,
		"@(now(1, 2))":         `widgets[0].text: bad expression "now(1, 2)": now() takes no argument or a time zone (now(timezone("Europe/Paris"))), got 2 (1:1)`,
		"@(upper(today('x')))": `today() takes no arguments, got 1 (1:7)`,
	} {
		q, _ := json.Marshal(src)
		_, err := fx.e.Load([]byte(`{"id": "c", "name": "c", "widgets": [{"id": "m", "type": "send_message", "text": ` + string(q) + `}]}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %s", src, err, want)
		}
	}
}

// TestFunctionArguments: a call of one of Parley's functions with a number of
// arguments it does not take does not load, the error naming the function,
// its signature and where; a flow stored before loads and the call fails
// when it runs, with the same words.
func TestFunctionArguments(t *testing.T) {
	fx := newFixture(t, nil)
	for src, want := range map[string]string{
		`@(title("a","b"))`:                  `widgets[0].text: bad expression "title(\"a\",\"b\")": title(text) takes 1 argument, got 2 (1:1)`,
		`@(fixed())`:                         `fixed(number[, decimals[, no_commas]]) takes 1 to 3 arguments, got 0 (1:1)`,
		`@(edate("2024-01-01"))`:             `edate(date, months) takes 2 arguments, got 1 (1:1)`,
		`@(string(datevalue()))`:             `datevalue(text) takes 1 argument, got 0 (1:8)`,
		`@(rand(1) + legacy_round(1, 2, 3))`: `rand() takes no arguments, got 1 (1:1); legacy_round(number[, places]) takes 1 or 2 arguments, got 3 (1:11)`,
		`@(randbetween(1))`:                  `randbetween(low, high) takes 2 arguments, got 1 (1:1)`,
		`@(default(1))`:                      `default(value, fallback) takes 2 arguments, got 1 (1:1)`,
	} {
		q, _ := json.Marshal(src)
		_, err := fx.e.Load([]byte(`{"id": "c", "name": "c", "widgets": [{"id": "m", "type": "send_message", "text": ` + string(q) + `}]}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %s", src, err, want)
		}
	}
	_, err := fx.e.Load([]byte(`{"id": "r", "widgets": [{"id": "s", "type": "split", "operand": "@input",
	  "rules": [{"type": "expression", "args": ["legacy_eq(input)"], "category": "Yes"}], "exits": {"Yes": "", "Other": ""}}]}`))
	if want := `widgets[0].rules[0].args[0]`; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "legacy_eq(a, b) takes 2 arguments, got 1") {
		t.Errorf("expression rule: error %v, want one at %s", err, want)
	}

	f, err := fx.e.LoadStored([]byte(`{"id": "old", "widgets": [{"id": "m", "type": "send_message", "text": "<@(edate('2024-01-01'))>"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	errs := eventsOf(evs, flows.EventError)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "edate(date, months) takes 2 arguments, got 1") {
		t.Errorf("stored flow's run: %+v", errs)
	}
}
