package rapidpro

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/rapidprodata"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// TestExports converts every real export: each flow either converts and loads,
// or fails with error lines that name where and why.
func TestExports(t *testing.T) {
	dir := testdataDir(t)
	// Flows that cannot run as they did in RapidPro, and the construct that
	// says why: none of the shared exports since recordings, media waits and
	// resthooks import.
	wantFail := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no exports in %s", dir)
	}
	e := engine.New(widgets.Registered())
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !IsExport(data) {
				t.Fatalf("IsExport is false")
			}
			res, err := Convert(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var errs []ReportLine
			for _, l := range res.Report.Lines {
				if l.Level == levelError {
					errs = append(errs, l)
					if l.Where == "" || l.Flow == "" {
						t.Errorf("error line without location: %s", l)
					}
				}
			}
			failed := 0
			for _, f := range res.Flows {
				if f.Failed {
					failed++
					continue
				}
				if _, err := e.Load(f.JSON); err != nil {
					t.Errorf("flow %q does not load: %v", f.Name, err)
				}
			}
			want := wantFail[name]
			if len(want) == 0 {
				if failed > 0 || len(errs) > 0 {
					t.Errorf("unexpected failure:\n%s", res.Report)
				}
				return
			}
			if failed == 0 {
				t.Fatalf("expected the import to fail on %v", want)
			}
			for _, w := range want {
				found := false
				for _, l := range errs {
					found = found || strings.Contains(l.Message, w)
				}
				if !found {
					t.Errorf("no error line mentions %s:\n%s", w, res.Report)
				}
			}
		})
	}
}

// legacyFlow builds a one-flow export: a reply with text, then the given
// rulesets (the reply leads to the first).
func oneReply(text string) []byte {
	msg, _ := json.Marshal(map[string]string{"base": text})
	return []byte(fmt.Sprintf(`{"version": 8, "flows": [{"version": 8, "base_language": "base", "flow_type": "F",
	 "metadata": {"uuid": "11111111-1111-4111-8111-111111111111", "name": "T"},
	 "entry": "a1", "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": %s}]}], "rule_sets": []}]}`, msg))
}

// render converts a one-reply flow and returns what it sends, with the report.
func render(t *testing.T, text string) (string, Report) {
	t.Helper()
	return renderAs(t, text, "tel:+12065551212")
}

// renderAs is render for a contact of the URN urn.
func renderAs(t *testing.T, text, urn string) (string, Report) {
	t.Helper()
	res, err := Convert(oneReply(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		return "", res.Report
	}
	e := engine.New(widgets.Registered())
	f, err := e.Load(res.Flows[0].JSON)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Flows[0].JSON)
	}
	_, evs, err := e.Start(context.Background(), f, engine.StartParams{
		Contact:   flows.Contact{Name: "Ben Haggerty", URN: urn, Fields: map[string]string{"age": "30"}, Groups: []string{"Testers"}},
		Variables: map[string]string{"color": "orange"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			out = append(out, ev.Text)
		}
	}
	return strings.Join(out, "|"), res.Report
}

// TestContactTel: @contact.tel and @contact.tel_e164 are the number of the
// contact's tel: URN in a template and in an expression alike, and nothing
// for a contact of another scheme, as RapidPro has them.
func TestContactTel(t *testing.T) {
	const text = `t=[@contact.tel] e=[@contact.tel_e164] x=[@(contact.tel_e164)] y=[@(CONCATENATE(contact.tel, ""))]`
	for _, c := range []struct{ urn, want string }{
		{"tel:+12065551212", "t=[(206) 555-1212] e=[+12065551212] x=[+12065551212] y=[(206) 555-1212]"},
		{"whatsapp:+12065551212", "t=[] e=[] x=[] y=[]"},
		{"telegram:12345", "t=[] e=[] x=[] y=[]"},
	} {
		if got, _ := renderAs(t, text, c.urn); got != c.want {
			t.Errorf("%s: %q, want %q", c.urn, got, c.want)
		}
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct{ legacy, want string }{
		{"Hi @contact.first_name!", "Hi Ben!"},
		{"Hi @contact.", "Hi Ben Haggerty."},
		{"You are @contact.tel", "You are (206) 555-1212"},
		{"E164 @contact.tel_e164", "E164 +12065551212"},
		{"me@example.com @input @@ok", "me@example.com @input @ok"},
		{"@(UPPER(contact.name))", "BEN HAGGERTY"},
		{"@(word(contact.name, 2))", "Haggerty"},
		{`@(WORD("a.b c", 1)) @(WORD("a.b c", 1, TRUE)) @(WORD("a.b c", 2, FALSE))`, "a a.b b"},
		{"@(LEN(contact.name) + 1)", "13"},
		{"@(contact.age + 5)", "35"},
		{`@(IF(contact.age > 18, "adult", "minor"))`, "adult"},
		{`@(CONCATENATE(contact.first_name, "-", "x")) @(contact.age & "!")`, "Ben-x 30!"},
		{`@(contact.name = "BEN HAGGERTY")`, "true"},
		{"@flow.color|upper_case and @flow.color.", "ORANGE and orange."},
		{"age @contact.age-5", "age 30-5"},
		{"costs $call.cli", "costs $call.cli"},
		{`@(REMOVE_FIRST_WORD("a b c")) @(FIRST_WORD("a b c"))`, "b c a"},
		{"in @contact.groups", "in Testers"},
		{`@(PROPER("hello world")) @(LOWER("ABC")) @(WORD_COUNT("a b, c"))`, "Hello World abc 3"},
		{`@(LEFT("abcdef", 2))@(RIGHT("abcdef", 2))@(MID("abcdef", 2, 3))`, "abefbcd"},
		{`@(SUBSTITUTE("a-b-c", "-", "+")) @(REPT("ab", 2)) @(FIELD("a,b,c", 2, ","))`, "a+b+c abab b"},
		{`@(AND(contact.age > 1, NOT(contact.age < 1))) @(OR(FALSE, 1 = 2))`, "true false"},
		{`@(2 ^ 3) @(-contact.age) @(ABS(-2)) @(MAX(1, contact.age))`, "8 -30 2 30"},
		{`@(IS_ERROR(extra.missing))`, "true"},
	}
	for _, tc := range tests {
		t.Run(tc.legacy, func(t *testing.T) {
			got, rep := render(t, tc.legacy)
			if got != tc.want {
				t.Errorf("got %q, want %q\n%s", got, tc.want, rep)
			}
		})
	}
}

// TestReport checks that constructs Parley cannot run fail the flow (or warn)
// with a line that says where.
func TestReport(t *testing.T) {
	rs := func(rulesetJSON string) []byte {
		return []byte(`{"version": "11.7", "flows": [{"version": "11.7", "base_language": "eng", "flow_type": "M",
		 "metadata": {"uuid": "22222222-2222-4222-8222-222222222222", "name": "R"},
		 "entry": "r1", "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "uuid": "act1", "msg": {"eng": "hi"}}]}],
		 "rule_sets": [` + rulesetJSON + `]}]}`)
	}
	tests := []struct {
		name, export string
		level, where string
		message      string
		failed       bool
	}{
		{"unknown function", string(oneReply("@(FOO(1))")), levelError, "action_set a1 actions[0] msg", "FOO has no Parley equivalent", true},
		{"location rule", string(rs(`{"uuid": "r1", "ruleset_type": "wait_message", "label": "Where", "operand": "@step.value",
			"rules": [{"uuid": "x", "category": {"eng": "Kigali"}, "destination": "a1", "test": {"type": "district", "test": "Kigali"}}]}`)),
			levelError, "ruleset r1 rules[0].test", "administrative boundaries", true},
		{"airtime", string(rs(`{"uuid": "r1", "ruleset_type": "airtime", "label": "A", "rules": []}`)), levelError, "ruleset r1", "airtime", true},
		{"category leads two ways", string(rs(`{"uuid": "r1", "ruleset_type": "wait_message", "label": "Q", "operand": "@step.value",
			"rules": [{"uuid": "x", "category": {"eng": "Yes"}, "destination": "a1", "test": {"type": "contains_any", "test": {"eng": "yes"}}},
			          {"uuid": "y", "category": {"eng": "Yes"}, "destination": null, "test": {"type": "contains_any", "test": {"eng": "y"}}}]}`)),
			levelError, "ruleset r1 rules[1]", `category "Yes"`, true},
		{"translated test arguments", string(rs(`{"uuid": "r1", "ruleset_type": "wait_message", "label": "Q", "operand": "@step.value",
			"rules": [{"uuid": "x", "category": {"eng": "Yes"}, "destination": "a1", "test": {"type": "contains_any", "test": {"eng": "yes", "fra": "oui"}}}]}`)),
			levelWarning, "ruleset r1 rules[0].test", "translations", false},
		{"translated categories", string(rs(`{"uuid": "r1", "ruleset_type": "wait_message", "label": "Q", "operand": "@step.value",
			"rules": [{"uuid": "x", "category": {"eng": "Yes", "fre": "Oui"}, "destination": "a1", "test": {"type": "contains_any", "test": {"eng": "yes"}}},
			          {"uuid": "y", "category": {"eng": "Other", "fre": "Autre"}, "destination": null, "test": {"type": "true"}}]}`)),
			levelWarning, "categories", `translations dropped: "Yes" (fra "Oui"), "Other" (fra "Autre"); results and @flow.NAME.category give every contact the base-language name`, false},
		{"old version", `{"version": 6, "flows": [{"version": 6, "action_sets": [], "rule_sets": [], "metadata": {"name": "Old"}}]}`,
			levelError, "version", "not supported", true},
		{"email", `{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"name": "E"}, "entry": "a1",
			"action_sets": [{"uuid": "a1", "actions": [{"type": "email", "uuid": "em1", "emails": ["a@b.c"], "subject": "S", "msg": "Hi @contact.name"}]}], "rule_sets": []}]}`,
			levelWarning, "action em1 (email)", "not delivered", false},
		{"unknown action", `{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"name": "U"}, "entry": "a1",
			"action_sets": [{"uuid": "a1", "actions": [{"type": "teleport", "uuid": "t1"}]}], "rule_sets": []}]}`,
			levelError, "action t1 (teleport)", `"teleport" is not supported`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert([]byte(tc.export), Options{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, l := range res.Report.Lines {
				if l.Level == tc.level && l.Where == tc.where && strings.Contains(l.Message, tc.message) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s line at %q mentioning %q:\n%s", tc.level, tc.where, tc.message, res.Report)
			}
			if res.Flows[0].Failed != tc.failed {
				t.Errorf("failed = %v, want %v", res.Flows[0].Failed, tc.failed)
			}
		})
	}
}

// TestRefusedActionsOnly: a flow whose only action is refused has that one
// error, not another saying it has no actions; a flow with none has that.
func TestRefusedActionsOnly(t *testing.T) {
	for _, tc := range []struct{ name, actionSets, want string }{
		{"refused", `[{"uuid": "a1", "actions": [{"type": "teleport", "uuid": "t1"}]}]`, `action t1 (teleport): action type "teleport" is not supported: replace it with one of the actions docs/rapidpro.md (Actions) lists before exporting`},
		{"empty", `[{"uuid": "a1", "actions": []}]`, `the flow has nothing to run (no actions or rulesets)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert([]byte(`{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"name": "U"}, "entry": "a1",
			  "action_sets": `+tc.actionSets+`, "rule_sets": []}]}`), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, l := range res.Report.Lines {
				if l.Level == levelError {
					errs = append(errs, strings.TrimSpace(l.Where+": "+l.Message))
				}
			}
			if len(errs) != 1 || !strings.HasSuffix(errs[0], tc.want) || !res.Flows[0].Failed {
				t.Errorf("errors %q (failed %v), want the one %q", errs, res.Flows[0].Failed, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	dir := testdataDir(t)
	t.Run("lang", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "quick_replies.json"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(data, Options{Lang: "por"})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Language string `json:"language"`
			Widgets  []struct {
				Text         string                    `json:"text"`
				QuickReplies []string                  `json:"quick_replies"`
				Translations map[string]map[string]any `json:"translations"`
			} `json:"widgets"`
		}
		if err := json.Unmarshal(res.Flows[0].JSON, &doc); err != nil {
			t.Fatal(err)
		}
		w := doc.Widgets[0]
		if doc.Language != "por" || w.Text != "Você gosta de jogar futebol?" || w.Translations["eng"]["text"] != "Do you like to play football?" {
			t.Errorf("language %q, text %q, translations %v", doc.Language, w.Text, w.Translations)
		}
	})
	t.Run("rewrite-url", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "migrate_to_11_8.json"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(data, Options{RewriteURLs: map[string]string{
			"https://textit.in/":             "http://127.0.0.1:1/",
			"https://textit.in/demo/status/": "http://127.0.0.1:8080/demo/order-status",
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.Flows[0].JSON), `"url": "http://127.0.0.1:8080/demo/order-status"`) {
			t.Errorf("longest prefix not applied:\n%s", res.Flows[0].JSON)
		}
		if !strings.Contains(res.Report.String(), "rewritten to http://127.0.0.1:8080/demo/order-status") {
			t.Errorf("rewrite not reported:\n%s", res.Report)
		}
	})
	t.Run("not an export", func(t *testing.T) {
		for _, doc := range []string{`{"name":"x","widgets":[]}`, `[]`, `nope`, `{"flows":[{"nodes":[]}]}`} {
			if IsExport([]byte(doc)) {
				t.Errorf("IsExport(%s) = true", doc)
			}
		}
		for _, doc := range []string{`{"name":"x","widgets":[]}`, `[]`, `nope`} {
			if _, err := Convert([]byte(doc), Options{}); err == nil {
				t.Errorf("Convert(%s) gave no error", doc)
			}
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		_, err := Convert([]byte("{\"version\": \"11.12\",\n \"flows\": [\n  {\"name\": \"x\",}\n]}"), Options{})
		if err == nil || !strings.Contains(err.Error(), "not valid JSON: line 3, column 16: invalid character '}'") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("new format", func(t *testing.T) {
		for _, doc := range []string{
			`{"version": "13", "flows": [{"name": "Reg", "uuid": "u1", "spec_version": "13.1.0", "nodes": []}]}`,
			`{"name": "Reg", "uuid": "u1", "spec_version": "13.1.0", "nodes": []}`,
		} {
			if !IsNewFormat([]byte(doc)) {
				t.Errorf("IsNewFormat(%s) = false", doc)
			}
			res, err := Convert([]byte(doc), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := `error    "Reg" flows[0]: new-format flow (spec version 13.1.0, with "nodes") is not supported: this importer reads legacy exports`
			if len(res.Flows) != 1 || !res.Flows[0].Failed || res.Flows[0].ID != "u1" || !strings.HasPrefix(res.Report.String(), want) {
				t.Errorf("%s: flows %+v, report %s", doc, res.Flows, res.Report)
			}
		}
		if IsNewFormat([]byte(`{"id": "f", "widgets": [], "nodes": []}`)) {
			t.Errorf("a Parley flow is not a new-format export")
		}
	})
}

func FuzzConvert(f *testing.F) {
	if dir := rapidprodata.Dir(); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add(oneReply("@(IF(contact.age > 1, UPPER(flow.x), \"a\" & 1))"))
	f.Add(oneReply("@flow.a|lower_case @contact.tel @step @(\"unterminated"))
	f.Add([]byte(`{"version": 10, "flows": [{"version": 10, "base_language": "eng", "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "F"}, "entry": "r1",
	 "action_sets": [], "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "X", "operand": "@step.value",
	  "rules": [{"uuid": "x1", "category": {"eng": "A"}, "destination": null, "test": {"type": "or", "tests": [{"type": "number"}, {"type": "or", "tests": [{"type": "true"}, {"type": "false"}]}]}},
	   {"uuid": "x2", "category": {"eng": "Other"}, "destination": null, "test": {"type": "true"}}]}]}]}`))
	e := engine.New(widgets.Registered())
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert(data, Options{})
		if err != nil {
			return
		}
		for _, fl := range res.Flows {
			if fl.Failed {
				if res.Report.Count(levelError) == 0 {
					t.Fatalf("flow %q failed without an error line", fl.Name)
				}
				continue
			}
			if _, err := e.Load(fl.JSON); err != nil {
				t.Fatalf("flow %q converted but does not load: %v", fl.Name, err)
			}
		}
	})
}

// TestLangReport: --lang names a language a flow lacks, or lacks in some
// texts; each case has its report lines, and the flow is in the language its
// texts are in.
func TestLangReport(t *testing.T) {
	export := []byte(`{"version": 10, "flows": [{"version": 10, "flow_type": "V", "base_language": "fre",
	 "metadata": {"uuid": "33333333-3333-4333-8333-333333333333", "name": "Santé"}, "entry": "a1",
	 "action_sets": [{"uuid": "a1", "destination": null, "actions": [
	   {"type": "say", "uuid": "s1", "msg": {"fre": "Bonjour", "eng": "Hello"}},
	   {"type": "say", "uuid": "s2", "msg": {"fre": "Au revoir"}}]}],
	 "rule_sets": []}]}`)
	type say struct {
		Text     string `json:"text"`
		Language string `json:"language"`
	}
	convert := func(lang string) (Result, string, []say) {
		t.Helper()
		res, err := Convert(export, Options{Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		if res.Flows[0].Failed {
			t.Fatalf("--lang %s: the flow failed:\n%s", lang, res.Report)
		}
		var doc struct {
			Language string `json:"language"`
			Widgets  []say  `json:"widgets"`
		}
		if err := json.Unmarshal(res.Flows[0].JSON, &doc); err != nil {
			t.Fatal(err)
		}
		return *res, doc.Language, doc.Widgets
	}
	has := func(rep Report, level, where, msg string) bool {
		for _, l := range rep.Lines {
			if l.Level == level && l.Where == where && l.Message == msg {
				return true
			}
		}
		return false
	}

	// A language no text is in: one line, and the flow stays in the base language.
	res, lang, ws := convert("xyz")
	if want := `--lang "xyz": the flow has no text in that language (its texts are in "eng", "fre"): they are taken from the base language "fra"`; !has(res.Report, levelWarning, "language", want) {
		t.Errorf("no line %q:\n%s", want, res.Report)
	}
	if lang != "fra" || ws[0] != (say{"Bonjour", "fra"}) || ws[1] != (say{"Au revoir", "fra"}) {
		t.Errorf("--lang xyz: language %q, widgets %+v", lang, ws)
	}

	// English, in some texts only: the others say they are French.
	res, lang, ws = convert("en")
	if want := `no "eng" translation: the base language "fra" is used, as RapidPro used it for contacts of that language`; !has(res.Report, levelInfo, "action s2 (say) msg", want) {
		t.Errorf("no line %q:\n%s", want, res.Report)
	}
	if strings.Contains(res.Report.String(), "action s1 (say) msg: no") {
		t.Errorf("a line for a text in English:\n%s", res.Report)
	}
	if lang != "eng" || ws[0] != (say{"Hello", "eng"}) || ws[1] != (say{"Au revoir", "fra"}) {
		t.Errorf("--lang en: language %q, widgets %+v", lang, ws)
	}
}

// TestDuplicateFlowUUID: a flow whose uuid an earlier flow of the export has
// is imported under the uuid with a suffix, with a warning naming both flows,
// the uuid and the id given; two flows without a uuid and with the same name
// likewise. Subflows naming the uuid start the first.
func TestDuplicateFlowUUID(t *testing.T) {
	flow := func(uuid, name, text string) string {
		return fmt.Sprintf(`{"version": "11.12", "flow_type": "M", "base_language": "eng", "entry": "a1",
		 "action_sets": [{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": %q}}]}],
		 "rule_sets": [], "metadata": {"uuid": %q, "name": %q}}`, text, uuid, name)
	}
	const uuid = "33333333-3333-4333-8333-333333333333"
	export := `{"version": "11.12", "flows": [` + flow(uuid, "Dup 0", "Q") + "," + flow(uuid, "Dup 1", "Other flow") + "," +
		flow(uuid, "Dup 2", "Third") + "," + flow("", "Same", "a") + "," + flow("", "Same", "b") + `]}`
	res, err := Convert([]byte(export), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range res.Flows {
		if f.Failed {
			t.Fatalf("%s failed:\n%s", f.Name, res.Report)
		}
		ids = append(ids, f.ID)
	}
	want := []string{uuid, uuid + "-2", uuid + "-3", "same", "same-2"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("ids %v, want %v", ids, want)
	}
	for _, w := range []struct{ where, msg string }{
		{"flows[1].metadata.uuid", `flow "Dup 0" (flows[0]) has the same uuid ` + uuid + `: this flow is imported with id ` + uuid + `-2, and a subflow that names ` + uuid + ` starts "Dup 0"`},
		{"flows[2].metadata.uuid", `this flow is imported with id ` + uuid + `-3`},
		{"flows[4].metadata.name", `flow "Same" (flows[3]), without a uuid too, has the same id same from its name: this flow is imported with id same-2`},
	} {
		if !hasLine(res.Report, levelWarning, w.where, w.msg) {
			t.Errorf("no warning at %s: %s\n%s", w.where, w.msg, res.Report)
		}
	}
}

// A flow that starts a subflow of the export that did not import is told
// so: the subflow is not there to start until it is imported.
func TestSubflowThatDidNotImport(t *testing.T) {
	const good, bad = "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	export := `{"version": 10, "flows": [
	 {"version": 10, "base_language": "eng", "metadata": {"uuid": "` + good + `", "name": "Good"}, "entry": "a1",
	  "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "msg": {"eng": "Hi"}}, {"type": "flow", "flow": {"uuid": "` + bad + `", "name": "Bad"}}]}], "rule_sets": []},
	 {"version": 10, "base_language": "eng", "metadata": {"uuid": "` + bad + `", "name": "Bad"}, "entry": "a1",
	  "action_sets": [{"uuid": "a1", "actions": [{"type": "teleport", "uuid": "t1"}]}], "rule_sets": []}]}`
	res, err := Convert([]byte(export), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Flows) != 2 || res.Flows[0].Failed || !res.Flows[1].Failed {
		t.Fatalf("flows %+v, want Good imported and Bad not", res.Flows)
	}
	if !hasLine(res.Report, levelWarning, "action_set a1 actions[1] flow", `flow `+bad+` ("Bad") did not import: the subflow does not run until it is imported with id `+bad) {
		t.Errorf("no warning that Good's subflow did not import:\n%s", res.Report)
	}
}
