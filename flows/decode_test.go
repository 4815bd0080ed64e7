package flows_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

func load(src string) (*flows.Flow, error) {
	return engine.New(widgets.Registered()).Load([]byte(src))
}

// flowWith is a flow of the one widget given, a voice flow when the widget
// is a voice one.
func flowWith(widget string) string {
	kind := ""
	for _, t := range []string{"say", "play", "gather_digits", "hangup"} {
		if strings.Contains(widget, `"type": "`+t+`"`) {
			kind = `"kind": "voice", `
		}
	}
	return `{"id": "f", ` + kind + `"widgets": [` + widget + `]}`
}

func validationErrors(t *testing.T, err error) []*flows.FieldError {
	t.Helper()
	var ve *flows.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *flows.ValidationError", err, err)
	}
	if !errors.Is(err, flows.ErrInvalidFlow) {
		t.Error("errors.Is(err, ErrInvalidFlow) is false")
	}
	return ve.Errors
}

// TestThreeProblems: each problem is reported once, naming the widget and the
// JSON path, and nothing else is reported.
func TestThreeProblems(t *testing.T) {
	_, err := load(`{"id": "f", "name": "f", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Hi", "exits": {"Next": "calc"}},
	  {"id": "calc", "type": "set_variable", "name": "n", "expression": "1 +", "exits": {"Next": "nowhere"}},
	  {"id": "beam", "type": "teleport", "exits": {}}]}`)
	errs := validationErrors(t, err)
	want := []struct {
		prefix   string
		sentinel error
	}{
		{`widget "calc": widgets[1].expression: bad expression "1 +"`, flows.ErrBadExpression},
		{`widget "beam": widgets[2].type: unknown widget type "teleport"`, flows.ErrUnknownType},
		{`widget "calc": widgets[1].exits.Next: exit "Next" points to unknown widget "nowhere"`, flows.ErrDanglingExit},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w.prefix) {
			t.Errorf("error %d is %q, want it to start with %q", i, errs[i], w.prefix)
		}
		if !errors.Is(errs[i], w.sentinel) || !errors.Is(err, w.sentinel) {
			t.Errorf("error %d: errors.Is(%v) is false", i, w.sentinel)
		}
	}
	if errors.Is(err, flows.ErrDuplicateID) {
		t.Error("errors.Is matches a sentinel none of the errors wraps")
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name, src string
		// want is the one error expected, in full or as a prefix.
		want     string
		sentinel error
	}{
		{"unknown top-level field", `{"id": "f", "name": "f", "colour": "red", "widgets": [{"id": "a", "type": "end"}]}`,
			`colour: unknown field "colour"`, flows.ErrUnknownField},
		{"unknown widget field", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "txt": "y", "exits": {}}]}`,
			`widget "a": widgets[0].txt: unknown field "txt"`, flows.ErrUnknownField},
		{"unknown rule field", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "has_text", "category": "X", "arg": "y"}], "exits": {}}]}`,
			`widget "a": widgets[0].rules[0].arg: unknown field "arg"`, flows.ErrUnknownField},
		{"unknown translation field", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "translations": {"spa": {"txt": "y"}}, "exits": {}}]}`,
			`widget "a": widgets[0].translations.spa.txt: unknown field "txt"`, flows.ErrUnknownField},
		{"unknown rule field named like a widget field", `{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "result": "A", "timeout": 30,
		   "rules": [{"type": "has_text", "args": [], "category": "A", "timeout": 5}], "exits": {}}]}`,
			`widget "w": widgets[0].rules[0].timeout: unknown field "timeout"`, flows.ErrUnknownField},
		{"unknown translation field named like a widget field", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "note": "fine",
		   "translations": {"fra": {"text": "y", "note": "not here"}}, "exits": {}}]}`,
			`widget "a": widgets[0].translations.fra.note: unknown field "note"`, flows.ErrUnknownField},
		{"wrong JSON type in a list", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "end"}, {"id": "s", "type": "split", "rules": [{"type": "has_text", "args": [5], "category": "A"}]}]}`,
			`widget "s": widgets[1].rules[0].args[0]: expected a string, got JSON number`, nil},
		{"wrong JSON type under a key of digits", `{"id": "f", "name": "f", "widgets": [{"id": "r", "type": "random", "buckets": ["1", "2"], "exits": {"1": 5}}]}`,
			`widget "r": widgets[0].exits["1"]: expected a string, got JSON number`, nil},
		{"null exit", `{"id": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "exits": {"Next": null}}]}`,
			`widget "a": widgets[0].exits.Next: expected a string, got JSON null: an exit is the id of the next widget, or "" to end the flow there`, nil},
		{"integer with a decimal point", `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 30.0}]}`,
			`widget "w": widgets[0].timeout: expected an integer, got JSON number 30.0: write a whole number without a decimal point or exponent`, nil},
		{"integer with an exponent", `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 3e1}]}`,
			`widget "w": widgets[0].timeout: expected an integer, got JSON number 3e1: write a whole number`, nil},
		{"integer out of range", `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 99999999999999999999999}]}`,
			`widget "w": widgets[0].timeout: 99999999999999999999999 is out of range: the field holds a whole number of at most 9223372036854775807`, nil},
		{"negative integer out of range", `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": -99999999999999999999999}]}`,
			`widget "w": widgets[0].timeout: -99999999999999999999999 is out of range: the field holds a whole number of at least -9223372036854775808`, nil},
		{"wrong JSON type for a number", `{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": "30"}]}`,
			`widget "w": widgets[0].timeout: expected an integer, got JSON string`, nil},
		{"top-level field in another case", `{"ID": "f", "widgets": [{"id": "a", "type": "end"}]}`,
			`ID: unknown field "ID" (did you mean "id"? field names are case-sensitive)`, flows.ErrUnknownField},
		{"widget field in another case", `{"id": "f", "widgets": [{"id": "a", "type": "send_message", "Text": "hi"}]}`,
			`widget "a": widgets[0].Text: unknown field "Text" (did you mean "text"? field names are case-sensitive)`, flows.ErrUnknownField},
		{"rule field in another case", `{"id": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"Type": "has_text", "category": "A"}]}]}`,
			`widget "a": widgets[0].rules[0].Type: unknown field "Type" (did you mean "type"?`, flows.ErrUnknownField},
		{"widget id in another case", `{"id": "f", "widgets": [{"Id": "a", "type": "end"}]}`,
			`widgets[0].id: missing widget id ("Id" is not "id": field names are case-sensitive)`, nil},
		{"widget type in another case", `{"id": "f", "widgets": [{"id": "a", "Type": "end"}]}`,
			`widget "a": widgets[0].type: missing widget type ("Type" is not "type": field names are case-sensitive)`, flows.ErrUnknownType},
		{"negative expire_minutes", `{"id": "f", "expire_minutes": -3, "widgets": [{"id": "a", "type": "end"}]}`,
			`expire_minutes: expire_minutes is -3; it must be 0 (the server default) or more`, nil},
		{"split without rules", `{"id": "f", "widgets": [{"id": "s", "type": "split", "rules": [], "exits": {"Other": "e"}}, {"id": "e", "type": "end"}]}`,
			`widget "s": widgets[0].rules: split needs at least one rule`, nil},
		{"rule category named like the Timeout exit", `{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response", "timeout": 60,
		   "rules": [{"type": "has_text", "category": "Timeout"}], "exits": {"Timeout": ""}}]}`,
			`widget "w": widgets[0].rules[0].category: category "Timeout" is the name of this widget's own exit "Timeout", taken when the wait times out: give the category a name of its own, the name of the exit its answers should take`, nil},
		{"rule category named like the Other exit", `{"id": "f", "widgets": [{"id": "s", "type": "split", "rules": [{"type": "has_text", "category": "Other"}]}]}`,
			`widget "s": widgets[0].rules[0].category: category "Other" is the name of this widget's own exit "Other", taken when no rule matches: give the category a name of its own`, nil},
		{"rule category named like the No Input exit", `{"id": "f", "kind": "voice", "widgets": [{"id": "g", "type": "gather_digits", "rules": [{"type": "has_text", "category": "No Input"}]}]}`,
			`widget "g": widgets[0].rules[0].category: category "No Input" is the name of this widget's own exit "No Input", taken when the caller presses no key: give the category a name of its own`, nil},
		{"duplicate ids", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]}`,
			`widget "a": widgets[1].id: duplicate widget id: widgets[0] has it too`, flows.ErrDuplicateID},
		{"missing start", `{"id": "f", "name": "f", "start": "begin", "widgets": [{"id": "a", "type": "end"}]}`,
			`start: start widget "begin" does not exist`, flows.ErrMissingStart},
		{"no widgets", `{"id": "f", "name": "f", "widgets": []}`,
			`widgets: a flow needs at least one widget`, flows.ErrMissingStart},
		{"bad regex in a rule", `{"id": "f", "name": "f", "widgets": [{"id": "pat", "type": "split",
		   "rules": [{"type": "has_pattern", "args": ["(["], "category": "X"}], "exits": {"X": "", "Other": ""}}]}`,
			`widget "pat": widgets[0].rules[0].args[0]: invalid regular expression`, flows.ErrBadRegex},
		{"unknown exit name", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "exits": {"Nxt": ""}}]}`,
			`widget "a": widgets[0].exits.Nxt: unknown exit "Nxt" (this widget has "Next")`, flows.ErrUnknownExit},
		{"timeout exit without a timeout", `{"id": "f", "name": "f", "widgets": [{"id": "w", "type": "wait_for_response", "exits": {"Timeout": ""}}]}`,
			`widget "w": widgets[0].exits.Timeout: unknown exit "Timeout" (this widget has "Next"): a wait takes its Timeout exit only when it has a "timeout": give it one (seconds), or remove the exit`, flows.ErrUnknownExit},
		{"kind in another case", `{"id": "f", "kind": "Voice", "widgets": [{"id": "a", "type": "end"}]}`,
			`kind: unknown kind "Voice" (messaging or voice) (did you mean "voice"?)`, nil},
		{"field written as its singular", `{"id": "f", "widgets": [{"id": "a", "type": "send_message", "text": "hi", "quick_reply": ["a"]}]}`,
			`widget "a": widgets[0].quick_reply: unknown field "quick_reply" (did you mean "quick_replies"?)`, flows.ErrUnknownField},
		{"scope misspelt", `{"id": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": "users", "name": "x", "value": "1"}]}`,
			`widget "a": widgets[0].scope: unknown scope "users" (flow, user, call or contact) (did you mean "user"?)`, nil},
		{"bad template", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "Hi @(upper(", "exits": {}}]}`,
			`widget "a": widgets[0].text: bad template: unclosed @( expression`, flows.ErrBadTemplate},
		{"bad template in a list", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "quick_replies": ["ok", "@(1 +)"], "exits": {}}]}`,
			`widget "a": widgets[0].quick_replies[1]: bad expression`, flows.ErrBadExpression},
		{"bad expression in a rule", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "split", "rules": [{"type": "expression", "args": ["input =="], "category": "X"}], "exits": {}}]}`,
			`widget "a": widgets[0].rules[0].args[0]: bad expression`, flows.ErrBadExpression},
		{"unknown function in an expression", `{"id": "f", "name": "f", "widgets": [{"id": "s", "type": "set_variable", "name": "x", "expression": "uper(input)", "exits": {"Next": "", "Failure": ""}}]}`,
			`widget "s": widgets[0].expression: bad expression "uper(input)": unknown function uper (did you mean upper?) (1:1)`, flows.ErrBadExpression},
		{"unknown function in a template", `{"id": "f", "name": "f", "widgets": [{"id": "m", "type": "send_message", "text": "@(nosuchfn(1))"}]}`,
			`widget "m": widgets[0].text: bad expression "nosuchfn(1)": unknown function nosuchfn (1:1)`, flows.ErrBadExpression},
		{"contact variable that cannot be set", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": "contact", "name": "age", "value": "3"}]}`,
			`widget "a": widgets[0].name: contact.age cannot be set: the contact scope sets name or language (a contact field is set with scope user)`, nil},
		{"call variable that cannot be set", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": "call", "name": "foo", "value": "3"}]}`,
			`widget "a": widgets[0].name: $call.foo cannot be set: the call scope sets state or digits`, nil},
		{"result name without a key", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "set_variable", "name": "!!!", "value": "x"}]}`,
			`widget "a": widgets[0].name: "!!!" has no letters or digits`, nil},
		{"wrong JSON type", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "send_message", "text": 5}]}`,
			`widget "a": widgets[0].text: expected a string, got JSON number`, nil},
		{"not an object", `[1, 2]`, `$: expected a JSON object, got JSON array`, nil},
		{"null", ` null `, `$: expected a JSON object, got JSON null`, nil},
		{"malformed JSON", "{\"id\": \"f\",\n \"widgets\": [{\"id\": \"a\", \"type\": \"end\",}]}",
			`$: malformed JSON at line 2, column 40 (in widgets[0]): invalid character '}'`, nil},
		{"malformed JSON after a multi-byte character", "{\"name\": \"Café\" \"id\": \"f\"}",
			`$: malformed JSON at line 1, column 17: invalid character '"' after object value`, nil},
		{"truncated JSON", "{\"id\": \"f\",\n \"widgets\": [{\"id\": \"a\", \"text\": \"Hel",
			`$: flow JSON ends early at line 2, column 38 (in widgets[0].text)`, nil},
		{"empty document", "", `$: empty flow document`, nil},
		{"blank document", " \n\t ", `$: empty flow document`, nil},
		{"text after the flow", "{\"id\": \"f\", \"name\": \"f\", \"widgets\": [{\"id\": \"a\", \"type\": \"end\"}]}\n  \n  oops",
			`$: text after the flow's JSON at line 3, column 3: a flow document is one JSON object`, nil},
		{"a second document after the flow", `{"id": "f", "name": "f", "widgets": [{"id": "a", "type": "end"}]}{"id": "g"}`,
			`$: text after the flow's JSON at line 1, column 66`, nil},
		{"unknown version", `{"id": "f", "name": "f", "version": "9.0", "widgets": [{"id": "a", "type": "end"}]}`,
			`version: unsupported format version "9.0"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(tc.src)
			if err == nil {
				t.Fatalf("loaded a flow with %d widgets", len(f.Widgets))
			}
			errs := validationErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), err)
			}
			if !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", errs[0], tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(err, %v) is false for %v", tc.sentinel, err)
			}
		})
	}
}

// TestUnreachableIsAWarning: a flow with an unreachable widget loads and
// reports it as a warning.
func TestUnreachableIsAWarning(t *testing.T) {
	f, err := load(`{"id": "f", "name": "f", "widgets": [
	  {"id": "a", "type": "send_message", "text": "x", "exits": {"Next": "b"}},
	  {"id": "b", "type": "end"},
	  {"id": "orphan", "type": "send_message", "text": "never", "exits": {"Next": "b"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Error() != `widget "orphan": widgets[2]: widget is unreachable from the start` {
		t.Errorf("warnings %v, want one for orphan", f.Warnings)
	}
}

// TestValidFlowDefaults: what a minimal valid flow gets by default.
func TestValidFlowDefaults(t *testing.T) {
	f, err := load(`{"name": "Minimal", "widgets": [{"id": "first", "type": "end"}, {"id": "second", "type": "end"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != flows.FormatVersion || f.Kind != flows.KindMessaging || f.StartWidget() != "first" {
		t.Errorf("version %q kind %q start %q", f.Version, f.Kind, f.StartWidget())
	}
	if f.Widget("second") == nil || f.Widget("third") != nil {
		t.Error("Widget lookup by id is wrong")
	}
}

func TestKey(t *testing.T) {
	tests := map[string]string{
		"Lookup Response": "lookup_response",
		"  Order #  ":     "order",
		"Età":             "età",
		"a--b":            "a_b",
		"2nd Try":         "2nd_try",
		"!!!":             "",
		// Names that are their own key, and names that are nearly so.
		"tier":   "tier",
		"a_b_2":  "a_b_2",
		"a__b":   "a_b",
		"_a":     "a",
		"a_":     "a",
		"_":      "",
		"Tier":   "tier",
		"a b":    "a_b",
		"a\x00b": "a_b",
	}
	long := strings.Repeat("x", 70)
	tests[long] = long[:64]
	tests[long[:64]] = long[:64]
	// Marks stay with their letter (Indic vowel signs and viramas, accents),
	// read in NFC; a mark after no letter separates.
	tests["उम्र"] = "उम्र"
	tests["நாடு"] = "நாடு"
	tests["A\u0302ge du Client"] = "âge_du_client"
	tests["Âge du Client"] = "âge_du_client"
	tests["मेरा नाम"] = "मेरा_नाम"
	tests["\u0301a \u0301b"] = "a_b"
	// Cut at 64 bytes before a letter, never between a letter and its marks:
	// 21 times "कि" (6 bytes each) is 126 bytes; 10 of them make 60.
	tests[strings.Repeat("कि", 21)] = strings.Repeat("कि", 10)
	tests[strings.Repeat("x", 63)+"é"] = strings.Repeat("x", 63)
	for in, want := range tests {
		if got := flows.Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOldKeys: results and contact fields saved by earlier versions, under
// the key they gave a name with marks (उम_र for उम्र), are found by the
// name's key, and by the old key that flows written then use.
func TestOldKeys(t *testing.T) {
	for name, want := range map[string]string{"उम्र": "उम_र", "நாடு": "ந_ட", "A\u0302ge du Client": "a_ge_du_client",
		"Âge du Client": "", "Lookup Response": "", "tier": "", "名前": ""} {
		if got := flows.OldKey(name); got != want {
			t.Errorf("OldKey(%q) = %q, want %q", name, got, want)
		}
	}
	s := &flows.Session{Frames: []*flows.Frame{{FlowID: "f", Results: map[string]*flows.Result{
		"उम_र":           {Name: "उम्र", Value: "41"},
		"a_ge_du_client": {Name: "A\u0302ge du Client", Value: "x"},
		"lookup":         {Name: "Lookup", Value: "ok"},
	}}}}
	results := s.Results()
	for _, name := range []string{"उम्र", "उम_र"} {
		if r, ok := flows.LookupResult(results, name); !ok || r.Value != "41" {
			t.Errorf("LookupResult(%q) before rekeying = %+v, %v; want the result 41", name, r, ok)
		}
	}
	s.RekeyResults()
	var keys []string
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got, want := strings.Join(keys, " "), "lookup âge_du_client उम्र"; got != want {
		t.Errorf("keys after RekeyResults: %s, want %s", got, want)
	}
	for name, want := range map[string]string{"उम्र": "41", "उम_र": "41", "âge_du_client": "x", "Âge du Client": "x", "a_ge_du_client": "x", "lookup": "ok"} {
		if r, ok := flows.LookupResult(results, name); !ok || r.Value != want {
			t.Errorf("LookupResult(%q) = %+v, %v; want %s", name, r, ok, want)
		}
	}
	if r, ok := flows.LookupResult(results, "उम"); ok {
		t.Errorf("LookupResult(उम) = %+v, want none", r)
	}
}

// TestErrorOrderIsStable: errors from maps (translations, headers) come out
// in the same order every time.
func TestErrorOrderIsStable(t *testing.T) {
	src := `{"id": "f", "name": "f", "widgets": [
	  {"id": "m", "type": "send_message", "text": "x", "translations": {
	    "spa": {"text": "@(1 +)"}, "fra": {"text": "@(2 +)"}, "deu": {"text": "@(3 +)"}, "por": {"text": "@(4 +)"}}},
	  {"id": "h", "type": "webhook", "url": "http://127.0.0.1/x", "headers": {"B": "@(1 +)", "A": "@(2 +)", "C": "@(3 +)"}}]}`
	want := []string{
		"widgets[0].translations.deu.text", "widgets[0].translations.fra.text", "widgets[0].translations.por.text", "widgets[0].translations.spa.text",
		`widgets[1].headers.A`, `widgets[1].headers.B`, `widgets[1].headers.C`,
	}
	for range 10 {
		_, err := load(src)
		errs := validationErrors(t, err)
		var got []string
		for _, e := range errs {
			got = append(got, e.Path)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("error paths %q, want %q", got, want)
		}
	}
}

// TestEveryProblemOfAWidget: a widget with several problems reports each of
// them in one validation, in field order.
func TestEveryProblemOfAWidget(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"gather_digits", `{"id": "g", "type": "gather_digits", "num_digits": -1, "finish_key": "ab", "timeout": -5, "max_no_input": -1, "max_no_match": -2, "prompt": "@(1 +)"}`,
			[]string{"num_digits", "finish_key", "timeout", "max_no_input", "max_no_match", "prompt"}},
		{"record", `{"id": "g", "type": "record", "action": "", "fields": {"b": "@(", "a": "@(1 +)"}}`,
			[]string{"action", "fields.a", "fields.b"}},
		{"set_variable", `{"id": "g", "type": "set_variable", "scope": "planet", "name": "", "value": "@(", "expression": "1 +"}`,
			[]string{"scope", "name", "expression", "expression", "value"}},
		{"random", `{"id": "g", "type": "random", "buckets": ["", "A", "A"], "weights": [1, -1]}`,
			[]string{"buckets[0]", "buckets[2]", "weights", "weights[1]"}},
		{"update_groups", `{"id": "g", "type": "update_groups", "remove_all": true, "remove": ["@("], "add": ["@(1 +)"]}`,
			[]string{"remove", "add[0]", "remove[0]"}},
		{"send_message", `{"id": "g", "type": "send_message", "quick_replies": ["@("], "translations": {"fra": {"text": "@("}}}`,
			[]string{"text", "quick_replies[0]", "translations.fra.text"}},
		{"split", `{"id": "g", "type": "split", "operand": "@("}`,
			[]string{"rules", "operand"}},
		{"wait_for_response", `{"id": "g", "type": "wait_for_response", "timeout": -1, "rules": [{"type": "has_text", "category": ""}]}`,
			[]string{"timeout", "rules[0].category"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(flowWith(tc.widget))
			var got []string
			for _, e := range validationErrors(t, err) {
				if e.Widget != "g" {
					t.Errorf("error %v does not name the widget", e)
				}
				got = append(got, strings.TrimPrefix(e.Path, "widgets[0]."))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("error paths %q, want %q: %v", got, tc.want, err)
			}
		})
	}
}

// TestSetVariableNames: the names each scope can set validate.
func TestSetVariableNames(t *testing.T) {
	for _, sn := range [][2]string{{"", "any name"}, {"flow", "x"}, {"user", "age"}, {"call", "state"}, {"call", "digits"}, {"contact", "name"}, {"contact", "language"}} {
		src := fmt.Sprintf(`{"id": "f", "widgets": [{"id": "a", "type": "set_variable", "scope": %q, "name": %q, "value": "x"}]}`, sn[0], sn[1])
		if _, err := load(src); err != nil {
			t.Errorf("scope %q name %q: %v", sn[0], sn[1], err)
		}
	}
}

// TestEveryProblem: a field of the wrong kind or an unknown one does not hide
// the others, nor the widget and graph checks; a syntax error is reported
// alone, since nothing after it can be read.
func TestEveryProblem(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"flow fields and widgets", `{"id": "f5", "expire_minutes": "5", "colour": 1, "widgets": [
		  {"id": "a", "type": "nope"},
		  {"id": "b", "type": "send_message", "text": "hi", "exits": {"Next": "zz"}}]}`, []string{
			`expire_minutes: expected an integer, got JSON string`,
			`colour: unknown field "colour"`,
			`widget "a": widgets[0].type: unknown widget type "nope"`,
			`widget "b": widgets[1].exits.Next: exit "Next" points to unknown widget "zz"`,
		}},
		{"fields in another case and a dangling exit", `{"id": "f", "widgets": [
		  {"id": "a", "type": "send_message", "Text": "hi", "Quick_replies": ["x"], "exits": {"Next": "zz"}}]}`, []string{
			`widget "a": widgets[0].Text: unknown field "Text" (did you mean "text"?`,
			`widget "a": widgets[0].Quick_replies: unknown field "Quick_replies" (did you mean "quick_replies"?`,
			`widget "a": widgets[0].exits.Next: exit "Next" points to unknown widget "zz"`,
		}},
		{"fields of the wrong kind in a widget", `{"id": "f", "widgets": [
		  {"id": "a", "type": "send_message", "text": 5, "quick_replies": [1, "ok"], "bogus": true}]}`, []string{
			`widget "a": widgets[0].text: expected a string, got JSON number`,
			`widget "a": widgets[0].quick_replies[0]: expected a string, got JSON number`,
			`widget "a": widgets[0].bogus: unknown field "bogus"`,
		}},
		{"the exits of a widget of an unknown type", `{"id": "f", "widgets": [
		  {"id": "c", "type": "nope", "exits": {"Next": "q", "Other": "a", "Done": ""}},
		  {"id": "a", "type": "end"},
		  {"id": "d", "type": "nope2", "exits": {"Next": "c"}}]}`, []string{
			`widget "c": widgets[0].type: unknown widget type "nope"`,
			`widget "d": widgets[2].type: unknown widget type "nope2"`,
			`widget "c": widgets[0].exits.Next: exit "Next" points to unknown widget "q"`,
		}},
		{"the other problems of a widget without an id", `{"id": "t", "widgets": [
		  {"type": "send_message", "text": 5, "colour": 1, "exits": {"Next": "zz"}}]}`, []string{
			`widgets[0].id: missing widget id`,
			`widgets[0].text: expected a string, got JSON number`,
			`widgets[0].colour: unknown field "colour"`,
			`widgets[0].exits.Next: exit "Next" points to unknown widget "zz"`,
		}},
		{"the other problems of a widget with an id in another case", `{"id": "t", "widgets": [
		  {"Id": "a", "type": "send_message", "text": "@(1 +)", "exits": {"Nxt": ""}}]}`, []string{
			`widgets[0].id: missing widget id ("Id" is not "id": field names are case-sensitive)`,
			`widgets[0].text: bad expression "1 +"`,
			`widgets[0].exits.Nxt: unknown exit "Nxt" (this widget has "Next")`,
		}},
		{"the other problems of a widget with a duplicate id", `{"id": "t", "widgets": [
		  {"id": "a", "type": "end"},
		  {"id": "a", "type": "nope", "exits": {"Next": "zz"}},
		  {"id": "a", "type": "send_message", "text": "hi", "exits": {"Next": "yy"}}]}`, []string{
			`widget "a": widgets[1].id: duplicate widget id: widgets[0] has it too`,
			`widget "a": widgets[1].type: unknown widget type "nope"`,
			`widget "a": widgets[2].id: duplicate widget id: widgets[0] has it too`,
			`widget "a": widgets[1].exits.Next: exit "Next" points to unknown widget "zz"`,
			`widget "a": widgets[2].exits.Next: exit "Next" points to unknown widget "yy"`,
		}},
		{"the other problems of a widget with an id or type of the wrong kind", `{"id": "t", "widgets": [
		  {"id": 5, "type": "send_message", "text": 6, "exits": {"Next": "zz"}},
		  {"id": "b", "type": 7, "exits": {"Next": "yy"}}]}`, []string{
			`widgets[0].id: expected a string, got JSON number`,
			`widgets[0].text: expected a string, got JSON number`,
			`widget "b": widgets[1].type: expected a string, got JSON number`,
			`widgets[0].exits.Next: exit "Next" points to unknown widget "zz"`,
			`widget "b": widgets[1].exits.Next: exit "Next" points to unknown widget "yy"`,
		}},
		{"a syntax error hides the rest", `{"id": "x", "colour": "red", "widgets": [{"id": "a", "type": "send_message", "text": "hi",}]}`, []string{
			`$: malformed JSON at line 1, column 91 (in widgets[0]): invalid character '}'`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.src)
			errs := validationErrors(t, err)
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d is %q, want it to start with %q", i, errs[i], w)
				}
			}
		})
	}
}

// TestStoredFlowsLoad: a flow stored before a rule was added loads with
// DecodeStored, each such problem a warning, and still fails Decode.
func TestStoredFlowsLoad(t *testing.T) {
	src := `{"id": "old", "expire_minutes": -1, "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "answer", "rules": [{"type": "has_text", "args": [], "category": "Other"}], "exits": {"Other": "say"}},
	  {"id": "say", "Type": "send_message", "Text": "You said @(uper(input))", "exits": {"Next": "set"}},
	  {"id": "set", "type": "set_variable", "scope": "contact", "name": "age", "value": "3", "exits": {"Next": null}}]}`
	eng := engine.New(widgets.Registered())
	_, err := eng.Load([]byte(src))
	if n := len(validationErrors(t, err)); n != 5 {
		t.Fatalf("Load: %d errors, want 5: %v", n, err)
	}
	f, err := eng.LoadStored([]byte(src))
	if err != nil {
		t.Fatalf("LoadStored: %v", err)
	}
	want := []string{
		`expire_minutes: expire_minutes is -1`,
		`widget "ask": widgets[0].rules[0].category: category "Other" is the name of this widget's own exit "Other", taken when no rule matches`,
		`widget "say": widgets[1].Type: unknown field "Type" (did you mean "type"?`,
		`widget "say": widgets[1].Text: unknown field "Text" (did you mean "text"?`,
		`widget "say": widgets[1].text: bad expression "uper(input)": unknown function uper`,
		`widget "set": widgets[2].name: contact.age cannot be set`,
		`widget "set": widgets[2].exits.Next: expected a string, got JSON null`,
	}
	if len(f.Warnings) != len(want) {
		t.Fatalf("%d warnings, want %d: %v", len(f.Warnings), len(want), f.Warnings)
	}
	for i, w := range want {
		if !strings.HasPrefix(f.Warnings[i].Error(), w) || !errors.Is(f.Warnings[i], flows.ErrNewRule) {
			t.Errorf("warning %d is %q, want it to start with %q and wrap ErrNewRule", i, f.Warnings[i], w)
		}
	}
	if f.ExpireMinutes != 0 {
		t.Errorf("ExpireMinutes = %d, want 0 (the server default)", f.ExpireMinutes)
	}
	if w := f.Widget("say"); w == nil || w.Base().Type != "send_message" {
		t.Fatalf("widget say = %#v, want the send_message read from \"Type\"", w)
	}
	// A problem no stored flow could have had is still an error.
	if _, err := eng.LoadStored([]byte(`{"id": "f", "widgets": [{"id": "a", "type": "end", "exits": {"Next": "zz"}}]}`)); err == nil {
		t.Error("LoadStored accepted an unknown exit")
	}
}

// TestNulls: a JSON null where the schema takes none is an error at its
// path in a flow being written, saying what was expected, and a warning in a
// flow stored by an earlier version, which loads as it loaded then (the
// null read as the field's zero value). A widget's position takes any JSON.
func TestNulls(t *testing.T) {
	src := `{"id": "old", "description": null, "environment": null, "widgets": [
	  {"id": "hi", "type": "send_message", "text": "hi", "quick_replies": [null, "b"], "translations": {"fra": null}, "note": null, "position": null, "exits": {"Next": "ask"}},
	  {"id": "ask", "type": "wait_for_response", "timeout": null, "rules": [{"type": "has_text", "args": null, "category": "A"}], "exits": {"A": "call", "Other": ""}},
	  {"id": "call", "type": "webhook", "url": "https://example.com", "headers": {"X-Api-Key": null}, "exits": {"Success": "", "Failure": null}}]}`
	want := []string{
		`description: expected a string, got JSON null`,
		`environment: expected a JSON object, got JSON null`,
		`widget "hi": widgets[0].quick_replies[0]: expected a string, got JSON null`,
		`widget "hi": widgets[0].translations.fra: expected a JSON object, got JSON null`,
		`widget "hi": widgets[0].note: expected a string, got JSON null`,
		`widget "ask": widgets[1].timeout: expected an integer, got JSON null`,
		`widget "ask": widgets[1].rules[0].args: expected an array of strings, got JSON null`,
		`widget "call": widgets[2].headers.X-Api-Key: expected a string, got JSON null`,
		`widget "call": widgets[2].exits.Failure: expected a string, got JSON null`,
	}
	eng := engine.New(widgets.Registered())
	_, err := eng.Load([]byte(src))
	errs := validationErrors(t, err)
	if len(errs) != len(want) {
		t.Fatalf("Load: %d errors, want %d: %v", len(errs), len(want), err)
	}
	f, err := eng.LoadStored([]byte(src))
	if err != nil {
		t.Fatalf("LoadStored: %v", err)
	}
	if len(f.Warnings) != len(want) {
		t.Fatalf("LoadStored: %d warnings, want %d: %v", len(f.Warnings), len(want), f.Warnings)
	}
	for i, w := range want {
		if errs[i].Error() != w && !strings.HasPrefix(errs[i].Error(), w+":") {
			t.Errorf("error %d is %q, want %q", i, errs[i], w)
		}
		if !strings.HasPrefix(f.Warnings[i].Error(), w) || !errors.Is(f.Warnings[i], flows.ErrNewRule) {
			t.Errorf("warning %d is %q, want it to start with %q and wrap ErrNewRule", i, f.Warnings[i], w)
		}
	}
	if qr := f.Widget("hi").(*widgets.SendMessage).QuickReplies; len(qr) != 2 || qr[0] != "" || qr[1] != "b" {
		t.Errorf("stored quick_replies read as %q, want the null as \"\" as before", qr)
	}
	// Null where no version took one is an error in a stored flow too,
	// reported once: the widget, its id, its type.
	for doc, want := range map[string]string{
		`{"id": "f", "widgets": [{"id": "a", "type": "end"}, null]}`:                      `widgets[1]: expected a JSON object, got JSON null`,
		`{"id": "f", "widgets": [{"id": null, "type": "end"}]}`:                           `widgets[0].id: expected a string, got JSON null`,
		`{"id": "f", "widgets": [{"id": "a", "type": "end"}, {"id": "b", "type": null}]}`: `widget "b": widgets[1].type: expected a string, got JSON null`,
	} {
		_, err := eng.LoadStored([]byte(doc))
		if errs := validationErrors(t, err); len(errs) != 1 || errs[0].Error() != want {
			t.Errorf("%s: %v, want only %q", doc, err, want)
		}
	}
}

// TestNullsOfRepeatedNames: a name given twice in an object has the value
// the decoder keeps, the last one's, so only a null that value holds is
// reported: one a later value replaces is not, and a later null is, as is
// one inside an earlier object that a later object of the same name is
// merged with and does not replace.
func TestNullsOfRepeatedNames(t *testing.T) {
	eng := engine.New(widgets.Registered())
	ok := `{"id": "f", "description": null, "description": "d", "environment": null, "environment": {"date_format": "YYYY-MM-DD"}, "widgets": [
	  {"id": "hi", "type": "send_message", "text": null, "text": "hi", "quick_replies": [null], "quick_replies": ["a"], "exits": {"Next": null, "Next": ""}},
	  {"id": "call", "type": "webhook", "url": "https://example.com", "headers": {"A": null}, "headers": {"A": "x"}, "exits": {"Success": "", "Failure": ""}}]}`
	f, err := eng.Load([]byte(ok))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := f.Widget("hi").(*widgets.SendMessage).Text; got != "hi" {
		t.Errorf("text read as %q, want the last value, \"hi\"", got)
	}
	bad := `{"id": "f", "description": "d", "description": null, "widgets": [
	  {"id": "hi", "type": "send_message", "text": "hi", "text": null, "exits": {"Next": "call"}},
	  {"id": "call", "type": "webhook", "url": "https://example.com", "headers": {"A": null}, "headers": {"B": "x"}, "exits": {"Success": "", "Failure": ""}}]}`
	want := []string{
		`description: expected a string, got JSON null`,
		`widget "hi": widgets[0].text: expected a string, got JSON null`,
		`widget "call": widgets[1].headers.A: expected a string, got JSON null`,
	}
	_, err = eng.Load([]byte(bad))
	errs := validationErrors(t, err)
	var got []string
	for _, e := range errs {
		if !strings.Contains(e.Error(), "text is required") {
			got = append(got, e.Error())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Load: %q, want %q", got, want)
	}
}

// TestNegativeRevision: a document's revision is 0 or more, as the schema
// has it; a flow stored with a negative one loads with it as a warning.
func TestNegativeRevision(t *testing.T) {
	const src = `{"id": "f", "revision": -1, "widgets": [{"id": "a", "type": "end"}]}`
	const want = "revision: revision is -1; it must be 0 or more"
	eng := engine.New(widgets.Registered())
	_, err := eng.Load([]byte(src))
	if errs := validationErrors(t, err); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("Load: %v, want %q", err, want)
	}
	f, err := eng.LoadStored([]byte(src))
	if err != nil || len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0].Error(), want) || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
		t.Errorf("LoadStored: %v, warnings %v", err, f)
	}
	if _, err := eng.Load([]byte(`{"id": "f", "revision": 0, "widgets": [{"id": "a", "type": "end"}]}`)); err != nil {
		t.Errorf("revision 0: %v", err)
	}
}

func TestByteOrderMark(t *testing.T) {
	f, err := load("\ufeff" + `{"id": "f", "widgets": [{"id": "a", "type": "end"}]}`)
	if err != nil {
		t.Fatalf("a flow with a byte-order mark: %v", err)
	}
	if f.ID != "f" {
		t.Errorf("id %q", f.ID)
	}
}

// TestWrongKindKeepsOtherChecks: a field of the wrong kind is reported and
// the widget's other checks still run on the fields that were read, while
// the field left out reports nothing more (not missing, not out of range).
func TestWrongKindKeepsOtherChecks(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"webhook", `{"id": "g", "type": "webhook", "url": "http://x/", "retries": -1, "follow_redirects": "yes"}`, []string{
			`widgets[0].follow_redirects: expected true or false, got JSON string`,
			`widgets[0].retries: -1 is out of range`,
		}},
		{"wait_for_response", `{"id": "g", "type": "wait_for_response", "timeout": -5, "result": 5}`, []string{
			`widgets[0].result: expected a string, got JSON number`,
			`widgets[0].timeout: timeout must be a positive number of seconds`,
		}},
		{"a webhook name of the wrong kind does not make the url required", `{"id": "g", "type": "webhook", "webhook": 5, "method": "FETCH"}`, []string{
			`widgets[0].webhook: expected a string, got JSON number`,
			`widgets[0].method: "FETCH" is not supported`,
		}},
		{"messages of the wrong kind are not missing", `{"id": "g", "type": "send_message", "messages": "hi", "quick_replies": ["@("]}`, []string{
			`widgets[0].messages: expected an array of strings, got JSON string`,
			`widgets[0].quick_replies[0]: bad template`,
		}},
		{"a text of the wrong kind is not missing", `{"id": "g", "type": "say", "text": 5}`, []string{
			`widgets[0].text: expected a string, got JSON number`,
		}},
		{"groups to remove of the wrong kind", `{"id": "g", "type": "update_groups", "remove": "x"}`, []string{
			`widgets[0].remove: expected an array of strings, got JSON string`,
		}},
		{"a scope of the wrong kind", `{"id": "g", "type": "set_variable", "scope": 5, "name": "!!", "value": "@("}`, []string{
			`widgets[0].scope: expected a string, got JSON number`,
			`widgets[0].value: bad template`,
		}},
		{"buckets of the wrong kind", `{"id": "g", "type": "random", "buckets": "A B", "weights": [1, -2]}`, []string{
			`widgets[0].buckets: expected an array of strings, got JSON string`,
			`widgets[0].weights[1]: weight -2 is negative`,
		}},
		{"a weight of the wrong kind", `{"id": "g", "type": "random", "buckets": ["A", "A"], "weights": ["1", 0]}`, []string{
			`widgets[0].weights[0]: expected an integer, got JSON string`,
			`widgets[0].buckets[1]: bucket "A" appears twice`,
		}},
		{"a rule argument of the wrong kind", `{"id": "g", "type": "split", "operand": "@(", "rules": [{"type": "has_number_gt", "args": [5], "category": "Big"}]}`, []string{
			`widgets[0].rules[0].args[0]: expected a string, got JSON number`,
			`widgets[0].operand: bad template`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantWidgetErrors(t, tc.widget, tc.want) })
	}
}

// TestExitsOfRulesNotRead: when the rules' categories, the buckets or a
// wait's timeout could not be read, the widget's exits are not reported as
// unknown (which exits it has is not known), but where they lead still is;
// a rule argument of the wrong kind leaves the categories known.
func TestExitsOfRulesNotRead(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"an argument of the wrong kind", `{"id": "g", "type": "wait_for_response", "rules": [{"type": "has_number_gt", "args": [5], "category": "X"}], "exits": {"X": "", "Other": "", "Typo": ""}}`, []string{
			`widgets[0].rules[0].args[0]: expected a string, got JSON number`,
			`widgets[0].exits.Typo: unknown exit "Typo" (this widget has "X", "Other")`,
		}},
		{"a category of the wrong kind", `{"id": "g", "type": "split", "rules": [{"type": "has_text", "category": 7}, {"type": "has_number", "category": "N"}], "exits": {"Text": "", "N": "zz", "Other": ""}}`, []string{
			`widgets[0].rules[0].category: expected a string, got JSON number`,
			`widgets[0].exits.N: exit "N" points to unknown widget "zz"`,
		}},
		{"rules of the wrong kind", `{"id": "g", "type": "gather_digits", "rules": {"type": "has_text"}, "exits": {"Yes": ""}}`, []string{
			`widgets[0].rules: expected an array of JSON objects, got JSON object`,
		}},
		{"a rule of the wrong kind", `{"id": "g", "type": "wait_for_response", "rules": ["has_text"], "exits": {"Yes": ""}}`, []string{
			`widgets[0].rules[0]: expected a JSON object, got JSON string`,
		}},
		{"a timeout of the wrong kind", `{"id": "g", "type": "wait_for_response", "timeout": "60", "exits": {"Next": "", "Timeout": ""}}`, []string{
			`widgets[0].timeout: expected an integer, got JSON string`,
		}},
		{"buckets of the wrong kind", `{"id": "g", "type": "random", "buckets": "A B", "exits": {"A": "", "B": "zz"}}`, []string{
			`widgets[0].buckets: expected an array of strings, got JSON string`,
			`widgets[0].exits.B: exit "B" points to unknown widget "zz"`,
		}},
		{"a wait's only rule without a category", `{"id": "g", "type": "wait_for_response", "rules": [{"type": "has_text"}], "exits": {"Other": ""}}`, []string{
			`widgets[0].rules[0].category: missing category`,
		}},
		{"a rule without a category beside one with", `{"id": "g", "type": "split", "rules": [{"type": "has_text", "category": "A"}, {"type": "has_number", "category": ""}], "exits": {"A": "", "N": "zz", "Other": ""}}`, []string{
			`widgets[0].rules[1].category: missing category`,
			`widgets[0].exits.N: exit "N" points to unknown widget "zz"`,
		}},
		{"a blank category", `{"id": "g", "type": "gather_digits", "rules": [{"type": "has_text", "category": " "}], "exits": {"Yes": ""}}`, []string{
			`widgets[0].rules[0].category: missing category`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantWidgetErrors(t, tc.widget, tc.want) })
	}
}

// TestEveryTemplateProblem: a send_message's text and messages are each
// reported at their own path, and every expression of a template that does
// not compile is reported, as is every unknown function of an expression.
func TestEveryTemplateProblem(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"text and messages", `{"id": "g", "type": "send_message", "text": "@(uper(input))", "messages": ["@(lenn(input)) and @(1 +)", "fine", "@(foo(1)) @(bar(2))"]}`, []string{
			`widgets[0].text: bad expression "uper(input)": unknown function uper (did you mean upper?)`,
			`widgets[0].messages[0]: bad expression "lenn(input)": unknown function lenn (did you mean len?)`,
			`widgets[0].messages[0]: bad expression "1 +"`,
			`widgets[0].messages[2]: bad expression "foo(1)": unknown function foo`,
			`widgets[0].messages[2]: bad expression "bar(2)": unknown function bar`,
		}},
		{"one message", `{"id": "g", "type": "send_message", "messages": ["@(1 +)"], "translations": {"fra": {"text": "@(x(1))", "messages": ["@(y(2))"]}}}`, []string{
			`widgets[0].messages[0]: bad expression "1 +"`,
			`widgets[0].translations.fra.text: bad expression "x(1)": unknown function x`,
			`widgets[0].translations.fra.messages[0]: bad expression "y(2)": unknown function y`,
		}},
		{"two unknown functions in one expression", `{"id": "g", "type": "set_variable", "name": "n", "expression": "foo(1) + bar(lenn(2))"}`, []string{
			`widgets[0].expression: bad expression "foo(1) + bar(lenn(2))": unknown function foo (1:1); unknown function bar (1:10); unknown function lenn (did you mean len?) (1:14)`,
		}},
		{"a rule argument", `{"id": "g", "type": "split", "rules": [{"type": "has_phrase", "args": ["@(aa(1)) @(bb(2))"], "category": "A"}]}`, []string{
			`widgets[0].rules[0].args[0]: bad expression "aa(1)": unknown function aa`,
			`widgets[0].rules[0].args[0]: bad expression "bb(2)": unknown function bb`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(`{"id": "f", "widgets": [` + tc.widget + `]}`)
			errs := validationErrors(t, err)
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if errs[i].Widget != "g" || !strings.HasPrefix(errs[i].Path+": "+errs[i].Message, w) {
					t.Errorf("error %d is %q, want it to start with %q", i, errs[i], w)
				}
				if !errors.Is(errs[i], flows.ErrBadExpression) {
					t.Errorf("error %d does not wrap ErrBadExpression", i)
				}
			}
		})
	}

	// A stored flow keeps each unknown function as a warning of its own,
	// and an expression that does not parse is still an error.
	eng := engine.New(widgets.Registered())
	f, err := eng.LoadStored([]byte(`{"id": "f", "widgets": [{"id": "g", "type": "send_message", "text": "@(uper(input)) @(lenn(input))"}]}`))
	if err != nil {
		t.Fatalf("LoadStored: %v", err)
	}
	if len(f.Warnings) != 2 || !strings.Contains(f.Warnings[0].Message, "uper") || !strings.Contains(f.Warnings[1].Message, "lenn") {
		t.Errorf("warnings %v, want one for uper and one for lenn", f.Warnings)
	}
	_, err = eng.LoadStored([]byte(`{"id": "f", "widgets": [{"id": "g", "type": "send_message", "text": "@(uper(input)) @(1 +)"}]}`))
	if errs := validationErrors(t, err); len(errs) != 1 || !strings.Contains(errs[0].Message, `"1 +"`) {
		t.Errorf("LoadStored: %v, want the one error of \"1 +\"", err)
	}
}

// TestNegativeWeight: the error gives the weight, not its position.
func TestNegativeWeight(t *testing.T) {
	_, err := load(`{"id": "f", "widgets": [{"id": "g", "type": "random", "buckets": ["A", "B", "C"], "weights": [3, -1, -7]}]}`)
	errs := validationErrors(t, err)
	want := []string{`widgets[0].weights[1]: weight -1 is negative`, `widgets[0].weights[2]: weight -7 is negative`}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), err)
	}
	for i, w := range want {
		if got := errs[i].Path + ": " + errs[i].Message; got != w {
			t.Errorf("error %d is %q, want %q", i, got, w)
		}
	}
}

// wantWidgetErrors loads a flow of the one widget (id "g") and checks its
// validation errors, in order: each must start with its want.
func wantWidgetErrors(t *testing.T, widget string, want []string) {
	t.Helper()
	_, err := load(flowWith(widget))
	errs := validationErrors(t, err)
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), err)
	}
	for i, w := range want {
		if errs[i].Widget != "g" || !strings.HasPrefix(errs[i].Path+": "+errs[i].Message, w) {
			t.Errorf("error %d is %q, want it to start with %q", i, errs[i], w)
		}
	}
}

// TestWidgetsOfTheFlowKind: a voice widget in a messaging flow, whose words
// would reach no one, and a voice flow's wait without a timeout, which would
// wait in silence forever, fail validation naming the widget, its type and
// the kind; a flow stored before the check loads with them as warnings.
func TestWidgetsOfTheFlowKind(t *testing.T) {
	tests := []struct{ name, flow, want string }{
		{"say in a flow of no kind", `{"id": "f", "widgets": [{"id": "hello", "type": "say", "text": "Hi"}]}`,
			`widget "hello": widgets[0].type: say is a voice widget, and this flow's kind is "messaging" (the default when "kind" is not set): over SMS or chat it would do nothing. Set the flow's "kind" to "voice", or use send_message`},
		{"gather_digits in a messaging flow", `{"id": "f", "kind": "messaging", "widgets": [{"id": "m", "type": "send_message", "text": "Hi", "exits": {"Next": "g"}}, {"id": "g", "type": "gather_digits"}]}`,
			`widget "g": widgets[1].type: gather_digits is a voice widget, and this flow's kind is "messaging": over SMS or chat it would do nothing. Set the flow's "kind" to "voice", or use wait_for_response`},
		{"play", `{"id": "f", "widgets": [{"id": "p", "type": "play", "url": "https://x.test/a.mp3"}]}`,
			`widget "p": widgets[0].type: play is a voice widget`},
		{"hangup", `{"id": "f", "widgets": [{"id": "h", "type": "hangup"}]}`,
			`widget "h": widgets[0].type: hangup is a voice widget`},
		{"a voice flow's wait without a timeout", `{"id": "f", "kind": "voice", "widgets": [{"id": "w", "type": "wait_for_response"}]}`,
			`widget "w": widgets[0].timeout: in a voice flow wait_for_response needs a timeout (seconds)`},
	}
	eng := engine.New(widgets.Registered())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eng.Load([]byte(tc.flow))
			errs := validationErrors(t, err)
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) || !errors.Is(errs[0], flows.ErrWrongKind) {
				t.Fatalf("Load: %v, want one error starting with %q wrapping ErrWrongKind", err, tc.want)
			}
			f, err := eng.LoadStored([]byte(tc.flow))
			if err != nil {
				t.Fatalf("LoadStored: %v", err)
			}
			if len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0].Error(), tc.want) {
				t.Errorf("LoadStored warnings %v, want one starting with %q", f.Warnings, tc.want)
			}
		})
	}
	// Where they belong, they validate.
	for _, src := range []string{
		`{"id": "f", "kind": "voice", "widgets": [{"id": "s", "type": "say", "text": "Hi", "exits": {"Next": "w"}}, {"id": "w", "type": "wait_for_response", "timeout": 10, "exits": {"Next": "g"}},
		  {"id": "g", "type": "gather_digits", "exits": {"Next": "p"}}, {"id": "p", "type": "play", "url": "https://x.test/a.mp3", "exits": {"Next": "h"}}, {"id": "h", "type": "hangup"}]}`,
		`{"id": "f", "widgets": [{"id": "w", "type": "wait_for_response"}]}`,
	} {
		if _, err := eng.Load([]byte(src)); err != nil {
			t.Errorf("Load(%s): %v", src, err)
		}
	}
}

// TestDidYouMean: an unknown widget type, rule type or field that is close
// to a known one names it: the same but for case, '_' and '-', a small
// typing slip, or the start of the one known name.
func TestDidYouMean(t *testing.T) {
	tests := []struct{ name, widget, want string }{
		{"widget type by its start", `{"id": "g", "type": "wait"}`,
			`widgets[0].type: unknown widget type "wait" (did you mean "wait_for_response"?)`},
		{"widget type misspelt", `{"id": "g", "type": "send_mesage", "text": "x"}`,
			`widgets[0].type: unknown widget type "send_mesage" (did you mean "send_message"?)`},
		{"rule type", `{"id": "g", "type": "split", "rules": [{"type": "has_any_words", "args": ["x"], "category": "X"}]}`,
			`widgets[0].rules[0].type: unknown rule type "has_any_words" (did you mean "has_any_word"?)`},
		{"field plural", `{"id": "g", "type": "webhook", "url": "https://example.com", "mapping": {"a": "b"}}`,
			`widgets[0].mapping: unknown field "mapping" (did you mean "mappings"?)`},
		{"field misspelt", `{"id": "g", "type": "wait_for_response", "timout": 5}`,
			`widgets[0].timout: unknown field "timout" (did you mean "timeout"?)`},
		{"field in camel case", `{"id": "g", "type": "gather_digits", "numDigits": 1}`,
			`widgets[0].numDigits: unknown field "numDigits" (did you mean "num_digits"?)`},
		{"rule field", `{"id": "g", "type": "split", "rules": [{"type": "has_text", "categroy": "X"}]}`,
			`widgets[0].rules[0].categroy: unknown field "categroy" (did you mean "category"?)`},
		{"field held by several", `{"id": "g", "type": "gather_digits", "no_input": 2}`,
			`widgets[0].no_input: unknown field "no_input" (did you mean "max_no_input" or "no_input_prompt"?)`},
		{"nothing close", `{"id": "g", "type": "send_message", "text": "x", "colour": "red"}`,
			`widgets[0].colour: unknown field "colour"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(flowWith(tc.widget))
			var got []string
			for _, e := range validationErrors(t, err) {
				got = append(got, e.Path+": "+e.Message)
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("errors %q, want one %q", got, tc.want)
			}
		})
	}
}

// TestUnknownExitListsEachExitOnce: a rule category named like the
// widget's own exit is an error, and the exits an unknown exit is told
// from list that name once.
func TestUnknownExitListsEachExitOnce(t *testing.T) {
	for _, tc := range []struct{ widget, want string }{
		{`{"id": "g", "type": "split", "rules": [{"type": "has_text", "category": "Other"}, {"type": "has_text", "category": "B"}], "exits": {"Zz": ""}}`,
			`unknown exit "Zz" (this widget has "Other", "B")`},
		{`{"id": "g", "type": "wait_for_response", "timeout": 5, "rules": [{"type": "has_text", "category": "Timeout"}, {"type": "has_text", "category": "Other"}], "exits": {"Zz": ""}}`,
			`unknown exit "Zz" (this widget has "Timeout", "Other")`},
		{`{"id": "g", "type": "gather_digits", "rules": [{"type": "has_text", "category": "No Match"}], "exits": {"Zz": ""}}`,
			`unknown exit "Zz" (this widget has "No Match", "No Input")`},
	} {
		_, err := load(flowWith(tc.widget))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

// TestCategoryNamedLikeOwnExit: a rule category named like one of the
// widget's own exits (Other, Timeout, No Input, No Match) is told what it is
// and what to call the category instead: the exit given for it under
// another name when that can be told, which is then not reported again as
// an unknown exit. When it cannot be told (another category misses its
// exit, the widget's own exit is not given, two exits are unknown), the
// unknown exits are reported as before. A stored flow keeps them as errors.
func TestCategoryNamedLikeOwnExit(t *testing.T) {
	const end = `, {"id": "ok", "type": "end"}, {"id": "again", "type": "end"}`
	for _, tc := range []struct {
		name, widget string
		want         []string
	}{
		{"split", `{"id": "s", "type": "split", "operand": "@input", "rules": [{"type": "has_number", "category": "Other"}], "exits": {"Valid": "ok", "Other": "again"}}`,
			[]string{`widget "s": widgets[0].rules[0].category: category "Other" is the name of this widget's own exit "Other", taken when no rule matches: give the category a name of its own, such as "Valid", the exit given for it`}},
		{"wait, Timeout", `{"id": "w", "type": "wait_for_response", "timeout": 60, "rules": [{"type": "has_text", "category": "Answered"}, {"type": "has_number", "category": "Timeout"}], "exits": {"Answered": "ok", "Number": "ok", "Timeout": "again", "Other": ""}}`,
			[]string{`widget "w": widgets[0].rules[1].category: category "Timeout" is the name of this widget's own exit "Timeout", taken when the wait times out: give the category a name of its own, such as "Number", the exit given for it`}},
		{"gather_digits, No Match", `{"id": "g", "type": "gather_digits", "rules": [{"type": "has_number_eq", "args": ["1"], "category": "No Match"}], "exits": {"One": "ok", "No Match": "again"}}`,
			[]string{`widget "g": widgets[0].rules[0].category: category "No Match" is the name of this widget's own exit "No Match", taken when the digits match no rule: give the category a name of its own, such as "One", the exit given for it`}},
		{"two exits unknown", `{"id": "s", "type": "split", "operand": "@input", "rules": [{"type": "has_number", "category": "Other"}], "exits": {"Valid": "ok", "Vlid": "ok", "Other": "again"}}`,
			[]string{`widget "s": widgets[0].rules[0].category: category "Other" is the name of this widget's own exit "Other", taken when no rule matches: give the category a name of its own, the name of the exit its answers should take`,
				`widget "s": widgets[0].exits.Valid: unknown exit "Valid" (this widget has "Other")`,
				`widget "s": widgets[0].exits.Vlid: unknown exit "Vlid" (this widget has "Other")`}},
		{"another category without its exit", `{"id": "s", "type": "split", "operand": "@input", "rules": [{"type": "has_number", "category": "Other"}, {"type": "has_text", "category": "Text"}], "exits": {"Txt": "ok", "Other": "again"}}`,
			[]string{`widget "s": widgets[0].rules[0].category: category "Other" is the name of this widget's own exit "Other", taken when no rule matches: give the category a name of its own, the name of the exit its answers should take`,
				`widget "s": widgets[0].exits.Txt: unknown exit "Txt" (this widget has "Other", "Text")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"id": "f", "kind": "voice", "widgets": [` + tc.widget + end + `]}`
			if !strings.Contains(tc.widget, "gather_digits") {
				doc = `{"id": "f", "widgets": [` + tc.widget + end + `]}`
			}
			_, err := load(doc)
			var got []string
			for _, fe := range validationErrors(t, err) {
				got = append(got, fe.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// Stored, the category's name is a warning and the unknown
			// exit the error it always was.
			_, err = engine.New(widgets.Registered()).LoadStored([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), "unknown exit") {
				t.Errorf("stored: %v, want the unknown exit reported", err)
			}
		})
	}
}

// TestPathsQuoteOnlyKeysThatNeedIt: every problem under an object's key is
// at the same path, however it was found (a value of the wrong kind, an
// exit that leads nowhere, a template that does not compile): a plain name
// after a dot, any other key quoted in brackets.
func TestPathsQuoteOnlyKeysThatNeedIt(t *testing.T) {
	tests := []struct {
		name, widget string
		want         []string
	}{
		{"an exit of the wrong kind", `{"id": "a", "type": "send_message", "text": "x", "exits": {"Next": 5}}`,
			[]string{`widgets[0].exits.Next: expected a string, got JSON number`}},
		{"an exit to no widget", `{"id": "a", "type": "send_message", "text": "x", "exits": {"Next": "zz"}}`,
			[]string{`widgets[0].exits.Next: exit "Next" points to unknown widget "zz"`}},
		{"an exit not a plain name of the wrong kind", `{"id": "a", "type": "gather_digits", "exits": {"No Input": 5}}`,
			[]string{`widgets[0].exits["No Input"]: expected a string, got JSON number`}},
		{"an exit not a plain name to no widget", `{"id": "a", "type": "gather_digits", "exits": {"No Input": "zz"}}`,
			[]string{`widgets[0].exits["No Input"]: exit "No Input" points to unknown widget "zz"`}},
		{"record fields", `{"id": "a", "type": "record", "action": "x", "fields": {"a b": 1, "c d": "@(", "e": "@("}}`,
			[]string{`widgets[0].fields["a b"]: expected a string, got JSON number`, `widgets[0].fields["c d"]: bad template`, `widgets[0].fields.e: bad template`}},
		{"webhook headers and mappings", `{"id": "a", "type": "webhook", "url": "https://example.com", "headers": {"X-Key": "@("}, "mappings": {"a": "", "b c": ""}}`,
			[]string{`widgets[0].headers.X-Key: bad template`, `widgets[0].mappings.a: empty JSON path`, `widgets[0].mappings["b c"]: empty JSON path`}},
		{"translations", `{"id": "a", "type": "send_message", "text": "x", "translations": {"pt br": {"text": "@("}, "xyz": {"text": 1}}}`,
			[]string{`widgets[0].translations.xyz.text: expected a string, got JSON number`, `widgets[0].translations["pt br"]: translation key "pt br" is not an ISO 639-3 code`, `widgets[0].translations["pt br"].text: bad template`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(flowWith(tc.widget))
			errs := validationErrors(t, err)
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if got := strings.TrimPrefix(errs[i].Error(), `widget "a": `); !strings.HasPrefix(got, w) {
					t.Errorf("error %d is %q, want it to start with %q", i, got, w)
				}
			}
		})
	}
}

// TestExpireMinutesLimit: an expire_minutes over flows.MaxExpireMinutes
// (365 days) is an error at expire_minutes, instead of an expiry time that
// wraps around; a flow stored with one loads with it as a warning, held to
// the most. 365 days exactly is an expiry like any other.
func TestExpireMinutesLimit(t *testing.T) {
	const want = `expire_minutes: expire_minutes is 9223372036854775807, over 525600 (365 days), the most it may be`
	src := `{"id": "f", "expire_minutes": 9223372036854775807, "widgets": [{"id": "a", "type": "end"}]}`
	_, err := load(src)
	errs := validationErrors(t, err)
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("errors %v, want the one %s", errs, want)
	}
	f, err := engine.New(widgets.Registered()).LoadStored([]byte(src))
	if err != nil {
		t.Fatalf("LoadStored: %v", err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Error() != want || !errors.Is(f.Warnings[0], flows.ErrNewRule) {
		t.Errorf("LoadStored warnings %v, want the one %s", f.Warnings, want)
	}
	if f.ExpireMinutes != flows.MaxExpireMinutes {
		t.Errorf("a stored flow's expire_minutes is %d, want %d", f.ExpireMinutes, flows.MaxExpireMinutes)
	}
	if f, err := load(`{"id": "f", "expire_minutes": 525600, "widgets": [{"id": "a", "type": "end"}]}`); err != nil || f.ExpireMinutes != 525600 {
		t.Errorf("expire_minutes of 365 days: %v", err)
	}
}

// TestLargeFlowProblemsOnABudget: a large flow being written with many
// problems, in its own fields or in a widget's, is not decoded once per
// problem: the listing stops after a few decodings and ends saying there
// may be more, as a request body's does. A small one lists them all, and a
// stored flow is read whole, its problems being warnings.
func TestLargeFlowProblemsOnABudget(t *testing.T) {
	for _, top := range []bool{true, false} {
		_, err := load(largeFlowWithProblems(1<<20, 60, top))
		errs := validationErrors(t, err)
		last := errs[len(errs)-1]
		want := fmt.Sprintf("and perhaps more: the flow is too large to list every problem of it at once; these are the first %d", len(errs)-1)
		if len(errs) > 10 || last.Path != "$" || last.Message != want {
			t.Errorf("top=%v: %d problems ending with %v, want a few ending with %q", top, len(errs), last, want)
		}
		if !strings.Contains(errs[0].Error(), `unknown field "x0"`) {
			t.Errorf("top=%v: first problem %v, want the first unknown field", top, errs[0])
		}
	}
	_, err := load(largeFlowWithProblems(1000, 40, false))
	if errs := validationErrors(t, err); len(errs) != 40 || errs[39].Path != "widgets[0].x39" {
		t.Errorf("a small flow: %d problems, want the 40 unknown fields: %v", len(errs), errs)
	}
	// Past 50 problems in a widget, or in the flow's own fields, the list
	// ends saying there may be more, and no problem of what was not read
	// (no widgets) follows.
	for top, want := range map[bool]string{
		false: `and more: at most 50 problems of one widget are listed at once, and widget "hi" has more; these are the first 50`,
		true:  `and more: at most 50 problems of the flow's own fields are listed at once; these are the first 50`,
	} {
		_, err := load(largeFlowWithProblems(1000, 60, top))
		errs := validationErrors(t, err)
		if last := errs[len(errs)-1]; len(errs) != 51 || last.Path != "$" || last.Message != want || !errors.Is(last, flows.ErrMoreProblems) {
			t.Errorf("top=%v, 60 problems: %d listed, the last %v; want 50 and %q", top, len(errs), last, want)
		}
	}
	// Exactly 50 problems are listed whole: the decoding after the 50th
	// finds no other, so no entry says there may be more; a 51st is what
	// makes the list end saying so.
	for _, top := range []bool{true, false} {
		_, err := load(largeFlowWithProblems(1000, 50, top))
		errs := validationErrors(t, err)
		if last := errs[len(errs)-1]; len(errs) != 50 || errors.Is(last, flows.ErrMoreProblems) {
			t.Errorf("top=%v, 50 problems: %d listed, the last %v; want the 50 and no more", top, len(errs), last)
		}
		_, err = load(largeFlowWithProblems(1000, 51, top))
		errs = validationErrors(t, err)
		if last := errs[len(errs)-1]; len(errs) != 51 || !errors.Is(last, flows.ErrMoreProblems) || errs[49].Path == "$" {
			t.Errorf("top=%v, 51 problems: %d listed, the last %v; want 50 and the entry saying there are more", top, len(errs), last)
		}
	}
	// A stored flow with fields named in another case (each a decoding
	// more) loads whole.
	var fields strings.Builder
	for _, n := range []string{"ID", "Name", "Kind", "Language", "Start", "Description"} {
		fmt.Fprintf(&fields, `"%s": "", `, n)
	}
	big := `{` + strings.Replace(fields.String(), `"Description": ""`, `"Description": "`+strings.Repeat("a", 1<<20)+`"`, 1) +
		`"id": "big", "widgets": [{"id": "hi", "type": "send_message", "Text": "Hi", "exits": {"Next": ""}}]}`
	f, err := engine.New(widgets.Registered()).LoadStored([]byte(big))
	if err != nil || f.Widget("hi") == nil || len(f.Warnings) != 7 {
		t.Errorf("a large stored flow: %v, %v, want it loaded with 7 warnings", f, err)
	}
}

// A document other than a flow (a webhooks file, a mocks file, a test
// script) with more problems than are listed at once ends its list saying
// there may be more, as a flow's does.
func TestDocumentProblemsCutShort(t *testing.T) {
	var v struct {
		Items []struct {
			N int `json:"n"`
		} `json:"items"`
	}
	probs := flows.DecodeDocument([]byte(`{"items": [`+strings.TrimSuffix(strings.Repeat(`{"n": "1"}, `, 60), ", ")+`]}`), &v)
	if len(probs) != 51 {
		t.Fatalf("%d problems, want 50 and the last entry: %v", len(probs), probs)
	}
	last := probs[50]
	if last.Path != "$" || last.Message != "and more: at most 50 problems are listed at once; these are the first 50" || !errors.Is(last, flows.ErrMoreProblems) {
		t.Errorf("the last entry is %v", last)
	}
	// 50 problems are all listed, with no such entry; 51 end with it.
	for n, want := range map[int]int{50: 50, 51: 51} {
		probs := flows.DecodeDocument([]byte(`{"items": [`+strings.TrimSuffix(strings.Repeat(`{"n": "1"}, `, n), ", ")+`]}`), &v)
		more := len(probs) > 0 && errors.Is(probs[len(probs)-1], flows.ErrMoreProblems)
		if len(probs) != want || more != (n > flows.MaxProblems) {
			t.Errorf("%d problems: %d listed, ending with more=%v: %v", n, len(probs), more, probs[len(probs)-1])
		}
	}
}

// An exit or the start that names a widget the flow does not have, by a
// slip of the keyboard, is told which widget it likely means.
func TestUnknownWidgetIDSuggested(t *testing.T) {
	_, err := load(`{"id": "s", "start": "ask_ag", "widgets": [
		{"id": "ask_age", "type": "send_message", "text": "How old are you?", "exits": {"Next": "age"}},
		{"id": "age", "type": "wait_for_response", "exits": {"Next": "thanks"}},
		{"id": "retry", "type": "send_message", "text": "Again?", "exits": {"Next": "agee"}},
		{"id": "Thanks", "type": "send_message", "text": "Thanks", "exits": {"Next": "elsewhere"}}]}`)
	want := []string{
		`widget "age": widgets[1].exits.Next: exit "Next" points to unknown widget "thanks" (did you mean "Thanks"?)`,
		`widget "retry": widgets[2].exits.Next: exit "Next" points to unknown widget "agee" (did you mean "age"?)`,
		`widget "Thanks": widgets[3].exits.Next: exit "Next" points to unknown widget "elsewhere"`,
		`start: start widget "ask_ag" does not exist (did you mean "ask_age"?)`,
	}
	errs := validationErrors(t, err)
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("error %d is %q, want %q", i, errs[i], w)
		}
	}
}
