package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// TestLength: length counts a list's or a map's items and the characters of
// text, never the characters of a list's JSON form.
func TestLength(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"@(length(split('a,b,c', ',')))", "3"},
		{"@(length(['x', 'y']))", "2"},
		{"@(length({'a': 1}))", "1"},
		{"@(length([]))", "0"},
		{"@(length('héllo'))", "5"},
		{"@(length(input))", "11"},
		{"@(length(42))", "2"},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, warnings := renderTemplate(t, tc.tmpl, "hello there")
			if got != tc.want || len(warnings) > 0 {
				t.Errorf("rendered %q (warnings %s), want %q", got, strings.Join(warnings, "; "), tc.want)
			}
		})
	}
}

// TestExpressionRuleExample: the expression rule of docs/rules.md, as
// written there: contact fields are text, number() compares them as numbers.
func TestExpressionRuleExample(t *testing.T) {
	for _, tc := range []struct{ age, want string }{{"20", "Adult"}, {"9", "Other"}, {"", "Other"}} {
		fx := newFixture(t, nil)
		f := fx.load(t, `{"id": "x", "widgets": [{"id": "s", "type": "split", "operand": "@contact.fields.age",
		  "rules": [{"type": "expression", "args": ["number(contact.fields.age) >= 18"], "category": "Adult"}],
		  "exits": {"Adult": "", "Other": ""}}]}`)
		s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Fields: map[string]string{"age": tc.age}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Path[0].Exit; got != tc.want {
			t.Errorf("age %q: exit %q, want %q", tc.age, got, tc.want)
		}
	}
}

// TestFunctionsOfAValueNotSet: a function given a value not set yet (nil)
// reads it as empty text, or fails in a sentence naming the function, never
// in Go's own words.
func TestFunctionsOfAValueNotSet(t *testing.T) {
	tests := []renderCase{
		{"<@(upper(flow.nope.value))>", "<>", ""},
		{"<@(lower(flow.nope.value))>", "<>", ""},
		{"<@(trim(flow.nope.value))>", "<>", ""},
		{"<@(replace(flow.nope.value, 'a', 'b'))>", "<>", ""},
		{"<@(hasPrefix(flow.nope.value, 'a'))>", "<false>", ""},
		{"<@(length(split(flow.nope.value, ',')))>", "<1>", ""},
		{"<@(int(flow.nope.value))>", "<>", "int: argument 1 is not set"},
		{"<@(float(flow.nope.value))>", "<>", "float: argument 1 is not set"},
		{"<@(round(flow.nope.value))>", "<>", "round: argument 1 is not set"},
		{"<@(number(flow.nope.value))>", "<>", "number: argument 1 is not set"},
		// Values that are set work as before.
		{"<@(upper(input))>", "<HELLO THERE>", ""},
		{"<@(int('42') + 1)>", "<43>", ""},
		{"<@(float(contact.fields.age) / 2)>", "<16.5>", ""},
		{"<@(trim('xxhixx', 'x'))>", "<hi>", ""},
		{"<@(split('a,b,c', ',', 2))>", `<["a","b,c"]>`, ""},
	}
	checkRendersWarning(t, tests)
}

// TestFunctionsOfAValueOfAnotherKind: date() takes a time as well as text,
// and a builtin given a value of a kind it does not take (known only when
// the flow runs) fails in a sentence naming the function, the argument and
// its kind, never in Go's own words.
func TestFunctionsOfAValueOfAnotherKind(t *testing.T) {
	tests := []renderCase{
		{"<@(date(now))>", "<2026-05-04T10:00:00Z>", ""},
		{"<@(date(now) == now)>", "<true>", ""},
		{"<@(date(timezone('UTC'), now).Hour())>", "<10>", ""},
		{"<@(date(now).Format('2006-01-02'))>", "<2026-05-04>", ""},
		{"<@(date('2026-05-04') < now)>", "<true>", ""},
		{"<@(date(now, '2006'))>", "<>", "date: argument 1 is already a time: a layout reads text (date('2026-05-04', '2006-01-02'))"},
		{"<@(date(flow.nope.value))>", "<>", "date: argument 1 is not set"},
		{"<@(date(contact.fields))>", "<>", "date: argument 1 is a map, not text"},
		{"<@(date('2026', now))>", "<>", "date: argument 2 is a time, not text"},
		// [now, 0][0] is a time whose kind is known only when it runs: now
		// alone is known to be a time when the flow loads, and refused then
		// (TestTypeOfNowCheckedAtLoad).
		{"<@(duration([now, 0][0]))>", "<>", "duration: argument 1 is a time, not text"},
		{"<@(timezone([now, 0][0]))>", "<>", "timezone: argument 1 is a time, not text"},
		{"<@(upper([now, 0][0]))>", "<>", "upper: argument 1 is a time, not text"},
		{"<@(split([now, 0][0], '-'))>", "<>", "split: argument 1 is a time, not text"},
	}
	checkRendersWarning(t, tests)
}

// TestKeysInOrder: keys() and values() of a map list it in the order of its
// keys, so a flow says the same every time.
func TestKeysInOrder(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "x", "widgets": [{"id": "m", "type": "send_message",
	  "text": "@(keys(contact.fields)) @(values(contact.fields)) @(keys({'b': 1, 'a': 2}))"}]}`)
	for range 10 {
		_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{
			Fields: map[string]string{"d": "4", "a": "1", "c": "3", "b": "2", "e": "5", "f": "6"}}})
		if err != nil {
			t.Fatal(err)
		}
		want := `["a","b","c","d","e","f"] ["1","2","3","4","5","6"] ["a","b"]`
		if got := texts(evs); len(got) != 1 || got[0] != want {
			t.Fatalf("sent %q, want %q", got, want)
		}
	}
}

// TestFloatsRenderRounded: a number with a fraction shows rounded to 15
// significant digits, without float noise (1.1*1.1 is 1.21, as RapidPro's
// decimal arithmetic says), in templates and in what set_variable saves;
// comparisons and arithmetic keep the exact float.
func TestFloatsRenderRounded(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"@(1.1 * 1.1)", "1.21"},
		{"@(0.1 + 0.2)", "0.3"},
		{"@(number('0.1') + number('0.2'))", "0.3"},
		{"@(10 / 4)", "2.5"},
		{"@(1 / 3)", "0.333333333333333"},
		{"@(10 / 2)", "5"},
		{"@(2 ** 60)", "1152921504606847000"},
		{"@([0.1 + 0.2, 'x'])", `[0.3,"x"]`},
		{"@(1.1 * 1.1 == 1.21)", "false"},
		{"@(1.1 * 1.1 - 1.21 > 0)", "true"},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, warnings := renderTemplate(t, tc.tmpl, "hello")
			if got != tc.want || len(warnings) > 0 {
				t.Errorf("rendered %q (warnings %s), want %q", got, strings.Join(warnings, "; "), tc.want)
			}
		})
	}
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "x", "widgets": [
	  {"id": "v", "type": "set_variable", "name": "total", "expression": "3 * 0.1", "exits": {"Next": "m"}},
	  {"id": "m", "type": "send_message", "text": "@flow.total"}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "0.3" {
		t.Errorf("set_variable saved %q, want 0.3", got)
	}
}

// renderCase is a template, what it renders to with the input "hello
// there", and a warning the render must give ("" for none).
type renderCase struct{ tmpl, want, warning string }

// checkRendersWarning renders each case, checks its text and warning, and
// that no warning speaks of Go's internals.
func checkRendersWarning(t *testing.T, tests []renderCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.tmpl, func(t *testing.T) {
			got, warnings := renderTemplate(t, tc.tmpl, "hello there")
			if got != tc.want {
				t.Errorf("rendered %q, want %q", got, tc.want)
			}
			all := strings.Join(warnings, "; ")
			if tc.warning == "" && all != "" || !strings.Contains(all, tc.warning) {
				t.Errorf("warnings %q, want %q", all, tc.warning)
			}
			if strings.Contains(all, "reflect") || strings.Contains(all, "interface") {
				t.Errorf("Go internals in %q", all)
			}
		})
	}
}

// TestNoLocalTimeZone: the server's time zone is not a flow's to read, so a
// flow says the same on every server: .Local() does not load, and "Local"
// as a zone name fails naming the function.
func TestNoLocalTimeZone(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(now(timezone('Local')))>", "<>", `timezone: "Local" is the server's time zone, which flows do not see`},
		{"<@(date(timezone('UTC'), now).Hour())>", "<10>", ""},
		{"<@(now.In(timezone('Asia/Tokyo')).Hour())>", "<19>", ""},
	})
	fx := newFixture(t, nil)
	_, err := fx.e.Load([]byte(`{"id": "x", "widgets": [{"id": "m", "type": "send_message", "text": "@(now.Local().Hour())"}]}`))
	if err == nil || !strings.Contains(err.Error(), "Local() is the server's time zone") {
		t.Errorf("a flow calling .Local(): %v", err)
	}
}

// TestNumberReadsAsTheRules: number() reads a text that is one number as the
// number rules read it (digits of any script, commas between thousands) and
// refuses Go's other forms; the legacy arithmetic refuses inf and NaN.
func TestNumberReadsAsTheRules(t *testing.T) {
	cases := []renderCase{
		{"<@(number('1,000'))> <@(number(' -42.50 '))> <@(number('٣'))> <@(number('.5'))> <@(number('+3'))> <@(number('1,234,567.5'))>", "<1000> <-42.5> <3> <0.5> <3> <1234567.5>", ""},
		// The separators of Arabic and full-width keyboards, as "," and ".".
		{"<@(number('١٬٥٠٠'))> <@(number('٢٫٥'))> <@(number('１，０００'))> <@(number('３．５'))> <@(number('١٬٢٣٤٫٥'))>", "<1500> <2.5> <1000> <3.5> <1234.5>", ""},
		{"<@(number('\u22125'))> <@(number('\uFF0D３．５'))> <@(number('\uFF0B7'))>", "<-5> <-3.5> <7>", ""},
	}
	for _, bad := range []string{"inf", "Infinity", "+Inf", "0x1p4", "1_000", "1,2,3", ",5", "NaN", "12 kg", "1e3", "5.", "12,34", "١٬٥", "３．"} {
		cases = append(cases, renderCase{"<@(number('" + bad + "'))>", "<>", `number: argument 1 is "` + bad + `", not a number`})
	}
	for _, bad := range []string{"inf", "NaN", "0x1p4", "-Infinity"} {
		cases = append(cases, renderCase{"<@(legacy_num('" + bad + "'))>", "<>", `legacy_num: argument 1 is "` + bad + `", not a number`})
		cases = append(cases, renderCase{"<@(legacy_add('" + bad + "', 1))>", "<>", `RapidPro's + takes two numbers`})
	}
	checkRendersWarning(t, cases)
}

// TestBuiltinsOfAValueNotSet: expr-lang's builtins given a value not set, or
// text they cannot read, fail in a sentence naming the function and the
// argument, never in Go's words; string() of nil is empty text, as a
// template renders nil.
func TestBuiltinsOfAValueNotSet(t *testing.T) {
	var tests []renderCase
	for _, name := range []string{"count", "sum", "filter", "map", "all", "any", "one", "none", "find", "findIndex", "findLast", "groupBy", "sortBy"} {
		call := name + "(flow.nope.value, # > 1)"
		if name == "sum" || name == "count" {
			call = name + "(flow.nope.value)"
		}
		tests = append(tests, renderCase{"<@(" + call + ")>", "<>", name + ": argument 1 is not set"})
	}
	for _, name := range []string{"len", "max", "min", "mean", "median", "fromPairs", "toPairs", "reverse", "uniq", "fromJSON", "fromBase64", "keys", "values", "flatten", "concat"} {
		tests = append(tests, renderCase{"<@(" + name + "(flow.nope.value))>", "<>", name + ": argument 1 is not set"})
	}
	tests = append(tests,
		renderCase{"<@(reduce(flow.nope.value, #acc + #))>", "<>", "reduce: argument 1 is not set"},
		renderCase{"<@(count(input, # > 1))>", "<>", "count: argument 1 is text, not a list"},
		renderCase{"<@(count(split(input, ' '), # != ''))> <@(filter([1, 2, 3], # > 1))> <@(sum(map(split('1 2', ' '), int(#))))>", "<2> <[2,3]> <3>", ""},
		renderCase{"<@(join(flow.nope.value, ','))>", "<>", "join: argument 1 is not set"},
		renderCase{"<@(take(flow.nope.value, 1))>", "<>", "take: argument 1 is not set"},
		renderCase{"<@(fromJSON(contact.fields))>", "<>", "fromJSON: argument 1 is a map, not text"},
		renderCase{"<@(fromJSON('{'))>", "<>", "fromJSON: argument 1 is not JSON: unexpected end of JSON input"},
		renderCase{"<@(fromBase64([now, 0][0]))>", "<>", "fromBase64: argument 1 is a time, not text"},
		renderCase{"<@(fromBase64('@@@'))>", "<>", "fromBase64: argument 1 is not base64: the character at byte 0 is none of it"},
		renderCase{"<@(duration('1d'))>", "<>", `duration: argument 1 is "1d", not a duration (numbers each with a unit, ns, us, ms, s, m or h: "1h30m")`},
		renderCase{"<@(int('1.5'))>", "<>", `int: argument 1 is "1.5", not a whole number`},
		renderCase{"<@(int(contact.fields))>", "<>", "int: argument 1 is a map, not a number"},
		renderCase{"<@(toBase64(flow.nope.value))>", "<>", "toBase64: argument 1 is not set"},
		renderCase{"<@(string(flow.nope.value))> <@('a' + string(flow.nope.value))>", "<> <a>", ""},
	)
	checkRendersWarning(t, tests)
}

// TestExpressionRuleOfNoValue: an expression rule whose expression gives no
// value, or one that is not true or false, says so in a flow author's words.
func TestExpressionRuleOfNoValue(t *testing.T) {
	for expr, want := range map[string]string{
		"flow.nope.value": `expression "flow.nope.value" gave no value (a variable not set), not true or false`,
		"input":           `expression "input" gave the text "hi", not true or false`,
		"1000000.5 * 2":   `expression "1000000.5 * 2" gave the number 2000001, not true or false`,
	} {
		fx := newFixture(t, nil)
		f := fx.load(t, `{"id": "r", "widgets": [{"id": "s", "type": "split", "operand": "@input",
		  "rules": [{"type": "expression", "args": ["`+expr+`"], "category": "Yes"}], "exits": {"Yes": "", "Other": ""}}]}`)
		in := flows.Text("hi")
		_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Input: &in})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, ev := range eventsOf(evs, flows.EventWarning) {
			msgs = append(msgs, ev.Message)
		}
		if got := strings.Join(msgs, "; "); !strings.Contains(got, want) {
			t.Errorf("%s: warnings %q, want %q", expr, got, want)
		}
	}
}

// TestTypeOfNowCheckedAtLoad: now is a time in every turn, so a method it
// does not have, a wrong count of arguments, a method named without its call
// and a function that does not take a time are refused when the flow loads,
// naming the widget and the field. A flow stored before this check still
// loads, with the problem as a warning, and the expression fails when it
// runs, in words, never as Go's text of a function.
func TestTypeOfNowCheckedAtLoad(t *testing.T) {
	for _, tc := range []struct{ expr, load, run string }{
		{`now.Fromat("2006-01-02")`, "a time has no method Fromat (did you mean Format?)", "Fromat"},
		{`now.Yeer()`, "a time has no method Yeer (did you mean Year?)", "Yeer"},
		{`now.Format()`, "not enough arguments to call Format() (1:5)", "Format() takes 1 argument, got 0"},
		{`now.In(1)`, "cannot use int as argument (type *time.Location) to call In() (1:8)", "In(): an argument is a number, not a time zone"},
		{`now.Year`, "now.Year is a method: call it as now.Year()", "now.Year is a method: call it as now.Year()"},
		{`[now.Month]`, "now.Month is a method: call it as now.Month()", "now.Month is a method: call it as now.Month()"},
		{`duration("1h").Round`, `duration("1h").Round is a method: call it as duration("1h").Round()`, `duration("1h").Round is a method: call it as duration("1h").Round()`},
		{`toJSON(now.Year)`, "now.Year is a method: call it as now.Year()", "now.Year is a method: call it as now.Year()"},
		// A time whose kind is known only when it runs.
		{`fromPairs([["t", now]]).t.Year`, "", "Year is a method of a time: call it as Year()"},
		{`upper(now)`, "cannot use time.Time as argument", "upper: argument 1 is a time, not text"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			q, _ := json.Marshal("<@(" + tc.expr + ")>")
			doc := `{"id": "x", "widgets": [{"id": "m", "type": "send_message", "text": ` + string(q) + `}]}`
			_, err := fx.e.Load([]byte(doc))
			if tc.load == "" {
				f, err := fx.e.Load([]byte(doc))
				if err != nil {
					t.Fatal(err)
				}
				_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
				if errs := eventsOf(evs, flows.EventError); err != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, tc.run) {
					t.Errorf("run: %v, errors %+v, want one saying %q", err, errs, tc.run)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), `widget "m": widgets[0].text: bad expression`) || !strings.Contains(err.Error(), tc.load) {
				t.Fatalf("load: %v, want an error at widget m's text saying %q", err, tc.load)
			}
			f, err := fx.e.LoadStored([]byte(doc))
			if err != nil {
				t.Fatalf("stored flow: %v", err)
			}
			if len(f.Warnings) != 1 || !errors.Is(f.Warnings[0], flows.ErrNewRule) || !strings.Contains(f.Warnings[0].Error(), tc.load) {
				t.Errorf("stored flow's warnings %v, want one saying %q", f.Warnings, tc.load)
			}
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			errs := eventsOf(evs, flows.EventError)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, tc.run) {
				t.Errorf("stored flow's run: errors %+v, want one saying %q", errs, tc.run)
			}
			if got := texts(evs); len(got) != 1 || got[0] != "<>" {
				t.Errorf("stored flow's run sent %q, want <>", got)
			}
		})
	}
}

// A stored expression with a method named without its call that meets a
// limit on the way fails saying the limit, not the method.
func TestStoredMethodValueOverLimit(t *testing.T) {
	fx := newFixture(t, nil)
	doc := `{"id": "x", "widgets": [{"id": "m", "type": "send_message", "text": "<@([now.Year, repeat('x', 5000000)])>"}]}`
	f, err := fx.e.LoadStored([]byte(doc))
	if err != nil {
		t.Fatalf("stored flow: %v", err)
	}
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := eventsOf(evs, flows.EventError); len(errs) != 1 || !strings.Contains(errs[0].Message, "over the 65536-byte limit of a value (--max-value)") {
		t.Errorf("errors %+v, want one saying the limit", errs)
	}
}

// TestGroupsRenderAsJSON: a map whose keys are not text (groupBy's) renders
// as a JSON object with its keys as text, as any other map does.
func TestGroupsRenderAsJSON(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(groupBy([1, 2, 3], # % 2))>", `<{"0":[2],"1":[1,3]}>`, ""},
		{"<@(groupBy(['a', 'bb', 'c'], len(#)))>", `<{"1":["a","c"],"2":["bb"]}>`, ""},
		{"<@([groupBy([true, false], #)])>", `<[{"false":[false],"true":[true]}]>`, ""},
		// string() and toJSON() of one write JSON too, never Go's text
		// (map[0:[2] 1:[1 3]], json: unsupported type).
		{"<@(string(groupBy([1, 2, 3], # % 2)))>", `<{"0":[2],"1":[1,3]}>`, ""},
		{"<@(string([1, 'a', 0.5])) @(string({'a': [1]}))>", `<[1,"a",0.5] {"a":[1]}>`, ""},
		{"<@(toJSON(groupBy([1, 3], # % 2)))>", "<{\n  \"1\": [\n    1,\n    3\n  ]\n}>", ""},
		// string() of a time writes it as a template does, in RFC 3339,
		// not as Go's "2026-05-04 10:00:00 +0000 UTC".
		{`<@(string(now) == now.Format("2006-01-02T15:04:05Z07:00"))>`, "<true>", ""},
	})
}

// TestOperatorErrorsInWords: an operator given a value it does not take
// fails in a sentence saying what it needs and what it got, never in Go's
// words (interface conversion, <nil>, cannot call nil).
func TestOperatorErrorsInWords(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{"<@(!flow.vip.value)>", "<>", "@(!flow.vip.value): ! needs true or false, got nothing (a value not set) (1:1)"},
		{"<@(not contact.fields.vip)>", "<>", "@(not contact.fields.vip): not needs true or false, got nothing (a value not set) (1:1)"},
		{"<@(!step.value)>", "<>", "@(!step.value): ! needs true or false, got text (1:1)"},
		{"<@(step.value ? 1 : 2)>", "<>", "the condition before ? needs true or false, got text"},
		{"<@(if flow.x.value { 1 } else { 2 })>", "<>", "if needs true or false, got nothing (a value not set)"},
		{"<@(filter([1, 2], step.value))>", "<>", "filter's condition needs true or false, got text"},
		{"<@(!(input == 'hello there'))>", "<false>", ""},
		{"<@(-step.value)>", "<>", "- needs a number, got text"},
		{"<@(flow.x.value + 1)>", "<>", "+ cannot take nothing (a value not set) and a number"},
		{"<@(step.value > 1)>", "<>", "> cannot take text and a number: read text as a number with number() first"},
		{"<@(1..step.value)>", "<>", "a range or an index needs a whole number, got text"},
		{"<@(step.value ** 2)>", "<>", "** needs numbers, got text"},
		{`<@(nwo.Format("2006"))>`, "<>", "nwo is not a variable"},
		{"<@(flow.x.value.y())>", "<>", "flow.x.value is not set: it has no method to call"},
	})
}

// TestRemainderOfNumbers: % takes numbers with a fraction as well as whole
// ones, so number(text) % 2 (number gives a number with a fraction) tells
// even from odd; what % cannot take fails naming it.
func TestRemainderOfNumbers(t *testing.T) {
	checkRendersWarning(t, []renderCase{
		{`<@(number("4") % 2 == 0 ? "even" : "odd") @(number("7") % 2 == 0 ? "even" : "odd")>`, "<even odd>", ""},
		{"<@(7.0 % 2) @(7.5 % 2) @(10 % 4.0) @(-7 % 2) @(7 % 3)>", "<1 1.5 2 -1 1>", ""},
		{"<@(7.5 % 0)>", "<>", "% by zero"},
		{"<@(input % 2)>", "<>", "% needs numbers, got text: read text as a number with number() first"},
		{"<@(flow.x.value % 2)>", "<>", "% needs numbers, got nothing (a value not set)"},
	})
}

// TestResultTypesCheckedAtLoad: a function whose result is always of one
// kind (number's a number, title's text) is checked as such when the flow
// loads, so an operation that fails on every run does not load; a flow
// stored before this check loads with it as a warning.
func TestResultTypesCheckedAtLoad(t *testing.T) {
	for _, tc := range []struct{ expr, load string }{
		{`number("7") + "a"`, "mismatched types float64 and string"},
		{`upper(number("4"))`, "cannot use float64 as argument (type string) to call upper"},
		{`title("ab") + 1`, "mismatched types string and int"},
		{`length("ab") + "x"`, "mismatched types int and string"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			refusedAtLoad(t, tc.expr, tc.load)
		})
	}
}

// TestTypeOfInputCheckedAtLoad: input is text in every turn, so what fails
// on text whatever it says (!input, a member of it, arithmetic) does not
// load, naming the widget's field; a flow stored before this check loads
// with it as a warning and fails there when it runs, as it did. What text
// takes still loads and runs.
func TestTypeOfInputCheckedAtLoad(t *testing.T) {
	for _, tc := range []struct{ expr, load, run string }{
		{`!input`, "invalid operation: ! (mismatched type string) (1:1)", "! needs true or false, got text"},
		{`input.Foo`, "text has no member Foo", "text has no member Foo"},
		{`input.upper()`, "text has no member upper", "a range or an index needs a whole number, got text"},
		{`input > 1`, "mismatched types string and int", "> cannot take text and a number"},
		{`input + 1`, "mismatched types string and int", "+ cannot take text and a number"},
		{`input ? "a" : "b"`, "non-bool expression (type string) used as condition", "the condition before ? needs true or false, got text"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx, f := refusedAtLoad(t, tc.expr, tc.load)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Input: &flows.Input{Kind: flows.InputText, Text: "yes"}})
			if err != nil {
				t.Fatal(err)
			}
			if errs := eventsOf(evs, flows.EventError); len(errs) != 1 || !strings.Contains(errs[0].Message, tc.run) {
				t.Errorf("stored flow's run: errors %+v, want one saying %q", errs, tc.run)
			}
		})
	}
	for _, tc := range []struct{ expr, want string }{
		{`input == "yes"`, "true"}, {`lower(input)`, "yes"}, {`len(input)`, "3"}, {`upper(input) + "!"`, "YES!"},
		{`input in ["yes", "y"]`, "true"}, {`input matches "^y"`, "true"}, {`input[0:1]`, "y"}, {`input ?? "none"`, "yes"},
		{`number("2") + length(input)`, "5"}, {`input != nil && input != ""`, "true"}, {`title(input)`, "Yes"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			q, _ := json.Marshal("<@(" + tc.expr + ")>")
			f := fx.load(t, `{"id": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(q)+`}]}`)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Input: &flows.Input{Kind: flows.InputText, Text: "yes"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != "<"+tc.want+">" || len(eventsOf(evs, flows.EventError)) > 0 {
				t.Errorf("sent %q, errors %v, want <%s>", got, eventsOf(evs, flows.EventError), tc.want)
			}
		})
	}
}

// refusedAtLoad checks that a message widget showing the expression expr
// does not load, the error naming the widget's text and saying load, and
// that a flow stored with it loads with one warning saying so; it returns
// the stored flow and the fixture that loaded it.
func refusedAtLoad(t *testing.T, expr, load string) (*fixture, *flows.Flow) {
	t.Helper()
	fx := newFixture(t, nil)
	q, _ := json.Marshal("<@(" + expr + ")>")
	doc := `{"id": "x", "widgets": [{"id": "m", "type": "send_message", "text": ` + string(q) + `}]}`
	_, err := fx.e.Load([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), `widget "m": widgets[0].text: bad expression`) || !strings.Contains(err.Error(), load) {
		t.Fatalf("load: %v, want an error at widget m's text saying %q", err, load)
	}
	f, err := fx.e.LoadStored([]byte(doc))
	if err != nil {
		t.Fatalf("stored flow: %v", err)
	}
	if len(f.Warnings) != 1 || !errors.Is(f.Warnings[0], flows.ErrNewRule) || !strings.Contains(f.Warnings[0].Error(), load) {
		t.Errorf("stored flow's warnings %v, want one saying %q", f.Warnings, load)
	}
	return fx, f
}

// TestExpressionWithAt: an expression written with a template's @ (in a
// set_variable's expression, an expression rule, or inside @(...)) does not
// load, and the error says how an expression names a variable, at the
// widget's field.
func TestExpressionWithAt(t *testing.T) {
	for _, tc := range []struct{ widget, path string }{
		{`{"id": "a", "type": "set_variable", "name": "x", "expression": "@flow.y", "exits": {"Next": ""}}`, "widgets[0].expression"},
		{`{"id": "a", "type": "split", "rules": [{"type": "expression", "args": ["@(flow.y == 1)"], "category": "Y"}], "exits": {"Y": "", "Other": ""}}`, "widgets[0].rules[0].args[0]"},
		{`{"id": "a", "type": "send_message", "text": "@(@flow.y + 1)"}`, "widgets[0].text"},
	} {
		fx := newFixture(t, nil)
		_, err := fx.e.Load([]byte(`{"id": "x", "widgets": [` + tc.widget + `]}`))
		want := `widget "a": ` + tc.path + `: bad expression`
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "an expression names variables without @ (flow.age.value where a template writes @flow.age)") {
			t.Errorf("%s: %v, want an error at %s saying how an expression names a variable", tc.widget, err, tc.path)
		}
	}
}
