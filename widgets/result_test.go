package widgets_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestResultNameNeedsAKey: a result name without letters or digits would make
// an empty key, and the result would never be saved; every widget with a
// result refuses it.
func TestResultNameNeedsAKey(t *testing.T) {
	tests := []struct{ name, widget, want string }{
		{"wait_for_response", `{"id": "w", "type": "wait_for_response", "result": "!!!"}`,
			`widget "w": widgets[0].result: "!!!" has no letters or digits to make a result key`},
		{"wait_for_response named by its id", `{"id": "--", "type": "wait_for_response"}`,
			`widget "--": widgets[0].result: the widget id "--" has no letters or digits to make a result key: give the result a name`},
		{"split", `{"id": "s", "type": "split", "result": "!!!", "rules": [{"type": "has_text", "category": "T"}]}`,
			`widget "s": widgets[0].result: "!!!" has no letters or digits`},
		{"gather_digits", `{"id": "g", "type": "gather_digits", "result": "?"}`,
			`widget "g": widgets[0].result: "?" has no letters or digits`},
		{"random", `{"id": "r", "type": "random", "buckets": ["A", "B"], "result": "..."}`,
			`widget "r": widgets[0].result: "..." has no letters or digits`},
		{"subflow", `{"id": "c", "type": "subflow", "flow": "other", "result": "#"}`,
			`widget "c": widgets[0].result: "#" has no letters or digits`},
		{"webhook", `{"id": "h", "type": "webhook", "url": "https://example.com", "result": "***"}`,
			`widget "h": widgets[0].result: "***" has no letters or digits`},
	}
	e := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Load([]byte(`{"name": "f", "widgets": [` + tc.widget + `]}`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := e.Load([]byte(`{"name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "result": "Age 2"}]}`)); err != nil {
		t.Errorf("a result name with letters: %v", err)
	}
}

// TestPatternGroupsSavedWithResult: has_pattern's groups are the result's
// extra, by number and by name, in templates, expressions and result_saved.
func TestPatternGroupsSavedWithResult(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"name": "p", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Order",
	   "rules": [{"type": "has_pattern", "args": ["buy (?P<item>\\w+)( now)?"], "category": "Buy"}], "exits": {"Buy": "say", "Other": ""}},
	  {"id": "say", "type": "send_message", "text": "@flow.order.extra.0|@flow.order.extra.1|@flow.order.extra.item|@(upper(flow.order.extra.item))|@flow.order.extra.2|@flow.order"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.Resume(context.Background(), f, s, flows.Text("Buy cheese please"))
	if err != nil {
		t.Fatal(err)
	}
	var text, data string
	for _, ev := range evs {
		switch ev.Type {
		case flows.EventMessageOut:
			text = ev.Text
		case flows.EventResultSaved:
			data = string(ev.Data)
		case flows.EventWarning, flows.EventError:
			t.Errorf("%s: %s", ev.Type, ev.Message)
		}
	}
	if want := "Buy cheese|cheese|cheese|CHEESE||Buy cheese"; text != want {
		t.Errorf("sent %q, want %q", text, want)
	}
	if want := `{"0":"Buy cheese","1":"cheese","2":"","item":"cheese"}`; data != want {
		t.Errorf("result_saved data %s, want %s", data, want)
	}
}

// TestResultsNameTheirWidget: every result names the widget that saved it,
// a set_variable's as a wait's, as its result_saved event does and as
// flow.completed's variables say.
func TestResultsNameTheirWidget(t *testing.T) {
	e := engine.New(widgets.Registered())
	f, err := e.Load([]byte(`{"name": "p", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Points", "exits": {"Next": "setvar"}},
	  {"id": "setvar", "type": "set_variable", "name": "Points Doubled", "expression": "int(flow.points.value) * 2", "exits": {"Next": "again"}},
	  {"id": "again", "type": "wait_for_response"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.Resume(context.Background(), f, s, flows.Text("21"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == flows.EventResultSaved && ev.Name == "Points Doubled" && ev.Widget != "setvar" {
			t.Errorf("result_saved of Points Doubled names widget %q, want setvar", ev.Widget)
		}
	}
	for key, want := range map[string]string{"points": "ask", "points_doubled": "setvar"} {
		r := s.Results()[key]
		if r == nil {
			t.Fatalf("result %s not saved", key)
		}
		if r.Widget != want {
			t.Errorf("result %s names widget %q, want %q", key, r.Widget, want)
		}
	}
}
