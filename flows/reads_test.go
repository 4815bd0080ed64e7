package flows_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// A template or expression that reads a result no widget of the flow saves
// (a typo in its name, most often) is warned of at the field that reads it,
// naming the result likely meant; the flow is valid, since the session may
// start with that variable.
func TestUnsetResultWarned(t *testing.T) {
	const unset = `: no widget of this flow saves a result "%s", so it is empty unless the session starts with that variable`
	msg := func(ref, name, hint string) string {
		return ref + strings.Replace(unset, "%s", name, 1) + hint
	}
	ask := `{"id": "ask", "type": "wait_for_response", "result": "Age", "exits": {"Next": "m"}}`
	for _, tc := range []struct {
		name    string
		widgets string
		want    []string // "widget path: message"
	}{
		{"misspelt in a message", ask + `,
			{"id": "m", "type": "send_message", "text": "You are @flow.agee"}`,
			[]string{`m widgets[1].text: ` + msg("@flow.agee", "agee", ` (did you mean "age"?)`)}},
		{"$ notation, each name once per field", ask + `,
			{"id": "m", "type": "send_message", "text": "$flow.key.agee or @flow.agee.category", "quick_replies": ["@flow.age", "@flow.agee"]}`,
			[]string{
				`m widgets[1].text: ` + msg("$flow.key.agee", "agee", ` (did you mean "age"?)`),
				`m widgets[1].quick_replies[1]: ` + msg("@flow.agee", "agee", ` (did you mean "age"?)`),
			}},
		{"in an expression and a rule", ask + `,
			{"id": "m", "type": "set_variable", "name": "Total", "expression": "number(flow.totl.value) + 1", "exits": {"Next": "s"}},
			{"id": "s", "type": "split", "operand": "@(upper(results.agge.value))", "rules": [
				{"type": "has_phrase", "args": ["@flow.tottal"], "category": "Same"},
				{"type": "expression", "args": ["flow.ag.category == 'x'"], "category": "X"}]}`,
			[]string{
				`m widgets[1].expression: ` + msg("flow.totl", "totl", ` (did you mean "total"?)`),
				`s widgets[2].rules[0].args[0]: ` + msg("@flow.tottal", "tottal", ` (did you mean "total"?)`),
				`s widgets[2].rules[1].args[0]: ` + msg("flow.ag", "ag", ` (did you mean "age"?)`),
				`s widgets[2].operand: ` + msg("results.agge", "agge", ` (did you mean "age"?)`),
			}},
		{"as close to two results: both named", `
			{"id": "a1", "type": "wait_for_response", "result": "ask_1", "exits": {"Next": "a2"}},
			{"id": "a2", "type": "wait_for_response", "result": "ask_2", "exits": {"Next": "m"}},
			{"id": "m", "type": "send_message", "text": "@flow.ask_3"}`,
			[]string{`m widgets[2].text: ` + msg("@flow.ask_3", "ask_3", ` (did you mean "ask_1" or "ask_2"?)`)}},
		{"a webhook's answer under a misspelt mapping", `
			{"id": "lookup", "type": "webhook", "url": "https://example.com/orders", "mappings": {"order": "order.id"}, "exits": {"Success": "m"}},
			{"id": "m", "type": "send_message", "text": "Order @flow.ordr (@flow.lookup.json.status)"}`,
			[]string{`m widgets[1].text: ` + msg("@flow.ordr", "ordr", ` (did you mean "order"?)`)}},
		{"nothing close: where a subflow's results are", `
			{"id": "go", "type": "subflow", "flow": "rating", "exits": {"Complete": "m"}},
			{"id": "m", "type": "send_message", "text": "You gave @flow.score"}`,
			[]string{`m widgets[1].text: ` + msg("@flow.score", "score", ` (a subflow's results are @child.score)`)}},
		{"nothing close: where a calling flow's results are", `
			{"id": "m", "type": "send_message", "text": "Hello @(flow.x.value)"}`,
			[]string{`m widgets[0].text: ` + msg("flow.x", "x", ` (in a subflow, the calling flow's results are parent.x)`)}},
		{"a split's, a random's and a subflow's id, which save no result without a name", `
			{"id": "route", "type": "split", "rules": [{"type": "has_text", "category": "T"}], "exits": {"T": "coin", "Other": "coin"}},
			{"id": "coin", "type": "random", "buckets": ["H", "T"], "exits": {"H": "go", "T": "go"}},
			{"id": "go", "type": "subflow", "flow": "rating", "exits": {"Complete": "m"}},
			{"id": "m", "type": "send_message", "text": "@flow.route.category @flow.coin @(flow.go.value)"}`,
			[]string{`m widgets[3].text: ` + msg("@flow.route", "route", ` (widget "route" saves a result only when it has a "result", the result's name)`),
				`m widgets[3].text: ` + msg("@flow.coin", "coin", ` (widget "coin" saves a result only when it has a "result", the result's name)`),
				`m widgets[3].text: ` + msg("flow.go", "go", ` (widget "go" saves a result only when it has a "result", the result's name)`)}},

		// What is saved, or read otherwise, is no warning.
		{"results of waits, splits and webhooks, by name or key", `
			{"id": "ask", "type": "wait_for_response", "exits": {"Next": "name"}},
			{"id": "name", "type": "wait_for_response", "result": "Lookup Response", "exits": {"Next": "hook"}},
			{"id": "hook", "type": "webhook", "webhook": "orders", "result": "Order", "mappings": {"Ship Date": "date"}, "exits": {"Success": "hook2"}},
			{"id": "hook2", "type": "webhook", "url": "https://example.com/@flow.order/@flow.hook2", "exits": {"Success": "sp"}},
			{"id": "sp", "type": "split", "operand": "@input", "result": "Choice", "rules": [{"type": "has_text", "category": "Any"}], "exits": {"Any": "r"}},
			{"id": "r", "type": "random", "buckets": ["A", "B"], "result": "Bucket", "exits": {"A": "sub", "B": "sub"}},
			{"id": "sub", "type": "subflow", "flow": "other", "result": "Sub", "exits": {"Complete": "set"}},
			{"id": "set", "type": "set_variable", "name": "Attempts", "expression": "int(default(flow.attempts.value, 0)) + 1", "exits": {"Next": "m"}},
			{"id": "m", "type": "send_message", "text": "@flow.ask @flow.lookup_response.category @flow.Lookup_Response @flow.order.json.id @flow.ship_date @results.choice @flow.bucket @flow.sub.category $flow.key.attempts @(flow.hook2.extra) @flow"}`,
			nil},
		{"fallbacks, other variables, an expression's own flow", `
			{"id": "m", "type": "send_message", "text": "@(default(flow.visits.value, 0)) @(flow.source?.value ?? 'web') @(flow.tier == nil ? 'none' : flow.tier.value) @child.score @parent.name @extra.order.id @contact.fields.tier $user.key.tier @input @(let flow = {'a': 1}; flow.a)"}`,
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(`{"id": "f", "widgets": [` + tc.widgets + `]}`)
			if err != nil {
				t.Fatalf("the flow does not load: %v", err)
			}
			var got []string
			for _, w := range f.Warnings {
				if !errors.Is(w, flows.ErrAdvice) {
					continue
				}
				got = append(got, w.Widget+" "+w.Path+": "+w.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// A voice flow's gather_digits saves its result under its id, and a stored
// flow is told of an unset result as a flow being written is.
func TestUnsetResultWarnedVoiceAndStored(t *testing.T) {
	doc := `{"id": "ivr", "kind": "voice", "widgets": [
		{"id": "menu", "type": "gather_digits", "prompt": "Press a key", "exits": {"Next": "say"}},
		{"id": "say", "type": "say", "text": "You pressed @flow.menu, not @flow.manu"}]}`
	e := engine.New(widgets.Registered())
	want := `widget "say": widgets[1].text: @flow.manu: no widget of this flow saves a result "manu", so it is empty unless the session starts with that variable (did you mean "menu"?)`
	for name, ld := range map[string]func([]byte) (*flows.Flow, error){"Load": e.Load, "LoadStored": e.LoadStored} {
		f, err := ld([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(f.Warnings) != 1 || f.Warnings[0].Error() != want || !errors.Is(f.Warnings[0], flows.ErrAdvice) {
			t.Errorf("%s: warnings %v, want %q", name, f.Warnings, want)
		}
	}
}

// A large flow of many reads that no widget saves is told of each of them;
// the name meant is looked for within a budget, so the first have it and
// the last do not.
func TestUnsetResultsOfLargeFlow(t *testing.T) {
	f, err := load(flowOfReads(5000, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 5000 {
		t.Fatalf("%d warnings, want 5000", len(f.Warnings))
	}
	first, last := f.Warnings[0].Error(), f.Warnings[4999].Error()
	if want := `widget "m0": widgets[1].text: @flow.answr_0: no widget of this flow saves a result "answr_0", so it is empty unless the session starts with that variable (did you mean "answer_0"?)`; first != want {
		t.Errorf("first warning %q, want %q", first, want)
	}
	if !strings.HasPrefix(last, `widget "m4999": widgets[9999].text: @flow.answr_4999: `) || strings.Contains(last, "did you mean") {
		t.Errorf("last warning %q", last)
	}
}
