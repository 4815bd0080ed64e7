package rapidpro

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// runInputs converts a one-flow export, starts it (on a call for a voice
// flow) at 2024-05-01 12:00 UTC and sends each input ("/timeout" fires the
// wait's timeout). It
// returns the session's results as name → "value/category" and the
// messages said or sent.
func runInputs(t *testing.T, export []byte, contact flows.Contact, inputs ...string) (map[string]string, []string) {
	t.Helper()
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		t.Fatalf("the flow failed:\n%s", res.Report)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	e := engine.New(widgets.Registered(), engine.WithClock(func() time.Time { return now }))
	f, err := e.Load(res.Flows[0].JSON)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Flows[0].JSON)
	}
	p := engine.StartParams{Contact: contact}
	if f.Kind == flows.KindVoice {
		p.Call = &flows.Call{ID: "CA1", CLI: "+12065551212", State: "in-progress"}
	}
	ctx := context.Background()
	s, evs, err := e.Start(ctx, f, p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	collect := func(evs []flows.Event) {
		for _, ev := range evs {
			if ev.Type == flows.EventMessageOut || ev.Type == flows.EventSay {
				out = append(out, ev.Text)
			}
		}
	}
	collect(evs)
	for _, in := range inputs {
		input := flows.Text(in)
		if in == "/timeout" {
			input = flows.Timeout()
		}
		evs, err := e.Resume(ctx, f, s, input)
		if err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		collect(evs)
	}
	results := map[string]string{}
	for _, r := range s.Frames[0].Results {
		results[r.Name] = r.Value + "/" + r.Category
	}
	return results, out
}

// digitsMenu is a voice flow: a digits wait ("Button") whose rule "1" says
// One and whose catch-all (category other, in the base language eng) says
// Else.
func digitsMenu(ruleset, other string) []byte {
	return []byte(fmt.Sprintf(`{"version": 10, "flows": [{"version": 10, "flow_type": "V", "base_language": "eng",
	 "metadata": {"uuid": "44444444-4444-4444-8444-444444444444", "name": "Menu"}, "entry": "a0",
	 "action_sets": [
	  {"uuid": "a0", "destination": "r1", "actions": [{"type": "say", "uuid": "s0", "msg": {"eng": "Press 1"}}]},
	  {"uuid": "a1", "destination": null, "actions": [{"type": "say", "uuid": "s1", "msg": {"eng": "One"}}]},
	  {"uuid": "a2", "destination": null, "actions": [{"type": "say", "uuid": "s2", "msg": {"eng": "Else"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": %q, "label": "Button", "operand": "@step.value", "finished_key": "#",
	  "rules": [
	   {"uuid": "x1", "category": {"eng": "1"}, "destination": "a1", "test": {"type": "eq", "test": "1"}},
	   {"uuid": "x2", "category": %s, "destination": "a2", "test": {"type": "true"}}]}]}]}`, ruleset, other))
}

// TestDigitsCatchAll: digits no rule matches, and a call's timeout, are saved
// with the export's catch-all category, as RapidPro saved them (it read a
// timeout as empty digits), and follow the catch-all's route.
func TestDigitsCatchAll(t *testing.T) {
	for _, tc := range []struct {
		name, ruleset, other, cat string
	}{
		{"Other", "wait_digits", `{"eng": "Other", "base": "All Responses"}`, "Other"},
		{"named catch-all", "wait_digit", `{"eng": "Anything Else"}`, "Anything Else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			export := digitsMenu(tc.ruleset, tc.other)
			for _, c := range []struct {
				input, result, said string
			}{
				{"1", "1/1", "One"},
				{"5", "5/" + tc.cat, "Else"},
				{"/timeout", "/" + tc.cat, "Else"},
				{"", "/" + tc.cat, "Else"},
			} {
				results, said := runInputs(t, export, flows.Contact{Name: "Ben", URN: "tel:+12065551212"}, c.input)
				if results["Button"] != c.result || len(said) != 2 || said[1] != c.said {
					t.Errorf("input %q: Button = %q, said %q; want %q and %q", c.input, results["Button"], said, c.result, c.said)
				}
			}
		})
	}
}

// TestDigitsRuleNamedOther: a digits rule named Other, besides the
// catch-all, still converts; the catch-all keeps its category.
func TestDigitsRuleNamedOther(t *testing.T) {
	export := []byte(strings.Replace(string(digitsMenu("wait_digit", `{"eng": "Else"}`)), `"category": {"eng": "1"}`, `"category": {"eng": "Other"}`, 1))
	results, said := runInputs(t, export, flows.Contact{Name: "Ben", URN: "tel:+12065551212"}, "5")
	if results["Button"] != "5/Else" || len(said) != 2 || said[1] != "Else" {
		t.Errorf("Button = %q, said %q; want 5/Else and Else", results["Button"], said)
	}
}

// TestSubflowCategories: a subflow ruleset's result keeps the export's
// category names, as RapidPro saved them, for both outcomes; with only the
// catch-all Other, both are saved as Other (such a ruleset once made a split
// without rules, and its flow did not import).
func TestSubflowCategories(t *testing.T) {
	for _, c := range []struct {
		name, rules string
		cases       []subflowOutcome
	}{
		{"Completed and Timed Out", `[{"uuid": "x1", "category": {"eng": "Completed"}, "destination": "a1", "test": {"type": "subflow", "exit_type": "completed"}},
	    {"uuid": "x2", "category": {"eng": "Timed Out"}, "destination": "a2", "test": {"type": "subflow", "exit_type": "expired"}}]`,
			[]subflowOutcome{
				{false, "done Completed", "completed/Completed"},
				{true, "late Timed Out", "expired/Timed Out"},
			}},
		{"the catch-all Other", `[{"uuid": "x1", "category": {"eng": "Other"}, "destination": "a1", "test": {"type": "true"}}]`,
			[]subflowOutcome{
				{false, "done Other", "completed/Other"},
				{true, "done Other", "expired/Other"},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			testSubflowCategories(t, c.rules, c.cases)
		})
	}
}

// subflowOutcome is how a subflow ends (expire: it expires, else it
// completes), what the parent then says, and its result as value/category.
type subflowOutcome struct {
	expire     bool
	said, want string
}

func testSubflowCategories(t *testing.T, rules string, cases []subflowOutcome) {
	t.Helper()
	export := []byte(`{"version": 10, "flows": [
	 {"version": 10, "base_language": "eng", "metadata": {"uuid": "77777777-7777-4777-8777-777777777777", "name": "Parent"}, "entry": "r1",
	  "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "done @flow.sub.category"}}]},
	    {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "late @flow.sub.category"}}]}],
	  "rule_sets": [{"uuid": "r1", "ruleset_type": "subflow", "label": "Sub", "operand": "@step.value",
	   "config": {"flow": {"uuid": "88888888-8888-4888-8888-888888888888", "name": "Child"}},
	   "rules": ` + rules + `}]},
	 {"version": 10, "base_language": "eng", "metadata": {"uuid": "88888888-8888-4888-8888-888888888888", "name": "Child"}, "entry": "r2",
	  "action_sets": [],
	  "rule_sets": [{"uuid": "r2", "ruleset_type": "wait_message", "label": "Age", "operand": "@step.value",
	   "rules": [{"uuid": "x3", "category": {"eng": "All Responses"}, "destination": null, "test": {"type": "true"}}]}]}]}`)
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	set := flowSet{}
	e := engine.New(widgets.Registered(), engine.WithFlows(set))
	for _, f := range res.Flows {
		if f.Failed {
			t.Fatalf("%s failed:\n%s", f.Name, res.Report)
		}
		lf, err := e.Load(f.JSON)
		if err != nil {
			t.Fatal(err)
		}
		set[lf.ID] = lf
	}
	parent := set["77777777-7777-4777-8777-777777777777"]
	ctx := context.Background()
	for _, tc := range cases {
		s, _, err := e.Start(ctx, parent, engine.StartParams{Contact: flows.Contact{Name: "Ben", URN: "tel:+12065551212"}})
		if err != nil {
			t.Fatal(err)
		}
		var evs []flows.Event
		if tc.expire {
			evs = e.Expire(ctx, parent, s)
		} else if evs, err = e.Resume(ctx, parent, s, flows.Text("42")); err != nil {
			t.Fatal(err)
		}
		var said []string
		for _, ev := range evs {
			if ev.Type == flows.EventMessageOut {
				said = append(said, ev.Text)
			}
		}
		got := ""
		for _, r := range s.Frames[0].Results {
			if r.Name == "Sub" {
				got = r.Value + "/" + r.Category
			}
		}
		if got != tc.want || len(said) != 1 || said[0] != tc.said {
			t.Errorf("expire %v: result %q, sent %q; want %q and %q", tc.expire, got, said, tc.want, tc.said)
		}
	}
}

// TestRandomSplit: a legacy random ruleset tests a random number from 0 to 1
// against each bucket's range, as RapidPro's legacy engine did: the result's
// value is that number, its category the bucket whose range holds it, and a
// bucket is as likely as its range is wide.
func TestRandomSplit(t *testing.T) {
	export := []byte(`{"version": "11.4", "flows": [{"version": "11.4", "base_language": "eng",
	 "metadata": {"uuid": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "name": "Split"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "A"}}]},
	   {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "B"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "random", "label": "Group", "operand": "@(RAND())",
	  "rules": [{"uuid": "x1", "category": {"eng": "Small"}, "destination": "a1", "test": {"type": "between", "min": "0", "max": "0.2"}},
	   {"uuid": "x2", "category": {"eng": "Large"}, "destination": "a2", "test": {"type": "between", "min": "0.2", "max": "1"}}]}]}]}`)
	res, err := Convert(export, Options{})
	if err != nil || res.Flows[0].Failed {
		t.Fatalf("%v\n%s", err, res.Report)
	}
	small := 0
	for seed := range uint64(200) {
		e := engine.New(widgets.Registered(), engine.WithSeed(seed))
		f, err := e.Load(res.Flows[0].JSON)
		if err != nil {
			t.Fatal(err)
		}
		s, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "Ben", URN: "tel:+12065551212"}})
		if err != nil {
			t.Fatal(err)
		}
		r := s.Frames[0].Results["group"]
		v, err := strconv.ParseFloat(r.Value, 64)
		want := "Large"
		if v <= 0.2 {
			want, small = "Small", small+1
		}
		if err != nil || v < 0 || v >= 1 || r.Category != want || r.Name != "Group" {
			t.Fatalf("seed %d: result %+v, want a number from 0 to 1 and its bucket", seed, r)
		}
		if said := texts(evs); len(said) != 1 || said[0] != map[string]string{"Small": "A", "Large": "B"}[want] {
			t.Fatalf("seed %d: sent %q for bucket %s", seed, said, want)
		}
	}
	// 200 draws with a one-in-five bucket: about 40.
	if small < 20 || small > 60 {
		t.Errorf("the 0-0.2 bucket was picked %d times in 200", small)
	}
}

func texts(evs []flows.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			out = append(out, ev.Text)
		}
	}
	return out
}

// TestWaitWithOnlyTheCatchAll: a wait whose one rule is the catch-all,
// named Other or not named, saves its result with the category Other, as
// RapidPro did, and goes where the catch-all went (it once became a wait
// without rules, which saved no category). Without a label, which saves no
// result, it is a wait without rules whose Next exit goes there.
func TestWaitWithOnlyTheCatchAll(t *testing.T) {
	for _, label := range []string{"Answer", ""} {
		for _, cat := range []string{`{"eng": "Other"}`, `{"eng": ""}`} {
			export := []byte(`{"version": 10, "flows": [{"version": 10, "base_language": "eng",
		 "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "Any"}, "entry": "a0",
		 "action_sets": [
		  {"uuid": "a0", "destination": "r1", "actions": [{"type": "reply", "uuid": "s0", "msg": {"eng": "Say anything"}}]},
		  {"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "s1", "msg": {"eng": "You said @step.value (@flow.answer.category)"}}]}],
		 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "` + label + `", "operand": "@step.value",
		  "rules": [{"uuid": "x1", "category": ` + cat + `, "destination": "a1", "test": {"type": "true"}}]}]}]}`)
			results, said := runInputs(t, export, flows.Contact{Name: "Ben", URN: "tel:+12065551212"}, "blue")
			want, wantSaid := "blue/Other", "You said blue (Other)"
			if label == "" {
				want, wantSaid = "", "You said blue ()"
			}
			if results["Answer"] != want || len(said) != 2 || said[1] != wantSaid {
				t.Errorf("label %q, category %s: Answer = %q, said %q; want %q and %q", label, cat, results["Answer"], said, want, wantSaid)
			}
			res, err := Convert(export, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep := res.Report.String(); strings.Contains(rep, "without a category") || res.Flows[0].Failed {
				t.Errorf("label %q, category %s: the import failed or says the result has no category:\n%s", label, cat, rep)
			}
		}
	}
}

// TestWaitWithOnlyTheCatchAllShared: RapidPro's color export with its wait
// cut down to the catch-all Other, leading to the reply that says the
// result's category: the imported flow says Other, as RapidPro did.
func TestWaitWithOnlyTheCatchAllShared(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdataDir(t), "color.json"))
	if err != nil {
		t.Fatal(err)
	}
	var export map[string]any
	if err := json.Unmarshal(data, &export); err != nil {
		t.Fatal(err)
	}
	flow := export["flows"].([]any)[0].(map[string]any)
	rs := flow["rule_sets"].([]any)[0].(map[string]any)
	var catchAll map[string]any
	for _, r := range rs["rules"].([]any) {
		r := r.(map[string]any)
		if r["category"].(map[string]any)["base"] == "Other" {
			catchAll = r
		}
	}
	// The reply that says the category: "I love orange too! ... which is
	// category: @flow.color.category ...".
	catchAll["destination"] = "7d40faea-723b-473d-8999-59fb7d3c3ca2"
	rs["rules"] = []any{catchAll}
	data, err = json.Marshal(export)
	if err != nil {
		t.Fatal(err)
	}
	results, said := runInputs(t, data, flows.Contact{Name: "Ben Haggerty", URN: "tel:+12065551212"}, "green")
	if results["color"] != "green/Other" || len(said) != 2 || !strings.Contains(said[1], "You said: green which is category: Other ") {
		t.Errorf("color = %q, said %q; want green/Other and the reply saying category: Other", results["color"], said)
	}
}

// TestOrTest: a rule whose test is "or" routes to its category when any of
// its tests matches (nested "or" tests and "false" ones included), the
// first that matches giving the value, as RapidPro's legacy engine did.
func TestOrTest(t *testing.T) {
	export := []byte(`{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "F"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "agreed @flow.x.category"}}]},
	   {"uuid": "a2", "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "got @flow.x.category"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "X", "operand": "@step.value",
	  "rules": [{"uuid": "x1", "category": {"eng": "Yes"}, "destination": "a1", "test": {"type": "or", "tests": [
	      {"type": "contains_any", "test": {"eng": "yes yep"}},
	      {"type": "false"},
	      {"type": "or", "tests": [{"type": "starts", "test": {"eng": "ok"}}]},
	      {"type": "number"}]}},
	   {"uuid": "x2", "category": {"eng": "Other"}, "destination": "a2", "test": {"type": "true"}}]}]}]}`)
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep := res.Report.String(); strings.Contains(rep, "error") || strings.Contains(rep, "warning") {
		t.Errorf("report:\n%s", rep)
	}
	for _, tc := range []struct{ in, said, result string }{
		{"yep", "agreed Yes", "yep/Yes"},
		{"Ok then", "agreed Yes", "Ok/Yes"},
		{"about 42", "agreed Yes", "42/Yes"},
		{"no", "got Other", "no/Other"},
	} {
		results, said := runInputs(t, export, flows.Contact{URN: "tel:+12065551212"}, tc.in)
		if strings.Join(said, "|") != tc.said || results["X"] != tc.result {
			t.Errorf("%q: sent %q, result %q; want %q, %q", tc.in, said, results["X"], tc.said, tc.result)
		}
	}
}
