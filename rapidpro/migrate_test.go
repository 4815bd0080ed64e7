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

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
)

// conversation is what running an export's first flow gave: the messages of
// each turn (the start, then one per input), the results of the flow the
// session started in, the contact and the webhook calls made.
type conversation struct {
	turns   [][]string
	results map[string]string // name -> "value/category"
	contact flows.Contact
	calls   []string
	report  Report
}

// converse converts an export and runs its first flow with the inputs; mocks
// answer webhooks by URL (a call without one gets a 500).
func converse(t *testing.T, export []byte, mocks map[string][]mockAnswer, inputs ...string) conversation {
	t.Helper()
	e, hooks, first, report := loadExport(t, export, mocks)
	ctx := context.Background()
	s, evs, err := e.Start(ctx, first, engine.StartParams{Contact: flows.Contact{Name: "Ben Haggerty", URN: "tel:+12065551212"}})
	if err != nil {
		t.Fatal(err)
	}
	c := conversation{report: report, results: map[string]string{}}
	texts := func(evs []flows.Event) []string {
		var out []string
		for _, ev := range evs {
			if ev.Type == flows.EventMessageOut {
				out = append(out, ev.Text)
			}
		}
		return out
	}
	c.turns = append(c.turns, texts(evs))
	for _, in := range inputs {
		if s.Status.Ended() {
			t.Fatalf("session ended (%s) before input %q", s.Status, in)
		}
		evs, err := e.Resume(ctx, first, s, flows.Text(in))
		if err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		c.turns = append(c.turns, texts(evs))
	}
	for _, r := range s.Frames[0].Results {
		c.results[r.Name] = r.Value + "/" + r.Category
	}
	c.contact = s.Contact
	c.calls = hooks.calls
	return c
}

// hasLine reports whether the report has a line of level at where whose
// message contains msg.
func hasLine(rep Report, level, where, msg string) bool {
	for _, l := range rep.Lines {
		if l.Level == level && l.Where == where && strings.Contains(l.Message, msg) {
			return true
		}
	}
	return false
}

// exportOf builds a one-flow export of the given version from action sets
// and rule sets (JSON lists); the flow starts at entry.
func exportOf(version, entry, actionSets, ruleSets string) []byte {
	return []byte(fmt.Sprintf(`{"version": %q, "flows": [{"version": %q, "base_language": "eng", "flow_type": "M",
	 "metadata": {"uuid": "44444444-4444-4444-8444-444444444444", "name": "Migrated"},
	 "entry": %q, "action_sets": %s, "rule_sets": %s}]}`, version, version, entry, actionSets, ruleSets))
}

// TestMigrate11_4: before 11.4, @flow.X.text of a split, webhook or random
// result is the last input, as RapidPro migrates it; a wait's keeps its text.
func TestMigrate11_4(t *testing.T) {
	const msg = `@flow.answer.text|@flow.split.text|@(CONCATENATE(flow.split.text, \"!\"))|@flow.split`
	rulesets := `[
	  {"uuid": "r1", "ruleset_type": "wait_message", "label": "Answer", "operand": "@step.value",
	   "rules": [{"uuid": "u1", "category": {"eng": "All Responses"}, "destination": "r2", "test": {"type": "true"}}]},
	  {"uuid": "r2", "ruleset_type": "expression", "label": "Split", "operand": "@(UPPER(contact.name))",
	   "rules": [{"uuid": "u2", "category": {"eng": "All Responses"}, "destination": "a2", "test": {"type": "true"}}]}]`
	actions := `[{"uuid": "a1", "destination": "r1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "Hi"}}]},
	  {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "` + msg + `"}}]}]`
	for _, tc := range []struct{ version, want string }{
		{"11.3", "hello there|hello there|hello there!|BEN HAGGERTY"},
		// From 11.4 on, .text is the split's input, as written.
		{"11.4", "hello there|BEN HAGGERTY|BEN HAGGERTY!|BEN HAGGERTY"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			c := converse(t, exportOf(tc.version, "a1", actions, rulesets), nil, "hello there")
			if got := strings.Join(c.turns[1], "\n"); got != tc.want {
				t.Errorf("sent %q, want %q\n%s", got, tc.want, c.report)
			}
			migrated := hasLine(c.report, levelInfo, "action m2 (reply) msg.eng", `"flow.split.text" is read as "step.value"`)
			if migrated != (tc.version == "11.3") {
				t.Errorf("11.4 migration line: %v\n%s", migrated, c.report)
			}
		})
	}
	// RapidPro migrates by the export's version, and by the flow's own only
	// when the export is at 11.12 already.
	for _, tc := range []struct{ export, flow, want string }{
		{"11.3", "11.12", "hello there|hello there|hello there!|BEN HAGGERTY"},
		{"11.12", "11.3", "hello there|hello there|hello there!|BEN HAGGERTY"},
		{"11.4", "11.3", "hello there|BEN HAGGERTY|BEN HAGGERTY!|BEN HAGGERTY"},
		{"", "11.3", "hello there|hello there|hello there!|BEN HAGGERTY"},
	} {
		t.Run("export "+tc.export+" flow "+tc.flow, func(t *testing.T) {
			export := exportOf(tc.flow, "a1", actions, rulesets)
			export = []byte(strings.Replace(string(export), `"version": "`+tc.flow+`", "flows"`, `"version": "`+tc.export+`", "flows"`, 1))
			if tc.export == "" {
				export = []byte(strings.Replace(string(export), `"version": "", "flows"`, `"flows"`, 1))
			}
			c := converse(t, export, nil, "hello there")
			if got := strings.Join(c.turns[1], "\n"); got != tc.want {
				t.Errorf("sent %q, want %q\n%s", got, tc.want, c.report)
			}
		})
	}
	t.Run("real export", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(testdataDir(t), "migrate_to_11_4.json"))
		if err != nil {
			t.Fatal(err)
		}
		c := converse(t, data, nil, "hello there")
		// RapidPro's own test of this export expects the reply
		// "@flow.response_1.text\n@step.value\n@step.value\n@flow.response_3\n@(CONCATENATE(step.value, "blerg"))".
		lines := strings.Split(strings.Join(c.turns[1], "\x00"), "\n")
		// @flow.response_3 is a random split's value: the random number.
		if len(lines) == 5 {
			if f, err := strconv.ParseFloat(lines[3], 64); err == nil && f >= 0 && f < 1 {
				lines[3] = "(random number)"
			}
		}
		want := []string{"hello there", "hello there", "hello there", "(random number)", "hello thereblerg"}
		if fmt.Sprint(lines) != fmt.Sprint(want) {
			t.Errorf("sent %q, want %q", lines, want)
		}
	})
}

// TestMigrate11_5: before 11.5, @flow.X and @flow.X.value of a webhook result
// are the JSON it answered (RapidPro migrates them to @extra.X), not the
// status; .category stays, and so does a result a split saves too.
func TestMigrate11_5(t *testing.T) {
	const msg = `@flow.lookup|@flow.lookup.value|@flow.lookup.category|@(UPPER(flow.lookup))|@flow.lookup.time.`
	rulesets := `[
	  {"uuid": "r1", "ruleset_type": "webhook", "label": "Lookup", "operand": "@step.value",
	   "config": {"webhook": "http://example.com/lookup", "webhook_action": "GET"},
	   "rules": [{"uuid": "u1", "category": {"eng": "Success"}, "destination": "a2", "test": {"type": "webhook_status", "status": "success"}},
	             {"uuid": "u2", "category": {"eng": "Failure"}, "destination": "a2", "test": {"type": "webhook_status", "status": "failure"}}]}]`
	actions := `[{"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "` + msg + `"}}]}]`
	mocks := map[string][]mockAnswer{"http://example.com/lookup": {{Status: 200, Body: json.RawMessage(`{"name":"Ben"}`)}}}
	for _, tc := range []struct{ version, want string }{
		{"11.4", `{"name":"Ben"}|{"name":"Ben"}|Success|{"NAME":"BEN"}|2024-05-01T12:00:00Z.`},
		{"11.5", `200|200|Success|200|2024-05-01T12:00:00Z.`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			c := converse(t, exportOf(tc.version, "r1", actions, rulesets), mocks)
			if got := strings.Join(c.turns[0], "\n"); got != tc.want {
				t.Errorf("sent %q, want %q\n%s", got, tc.want, c.report)
			}
			migrated := hasLine(c.report, levelInfo, "action m2 (reply) msg.eng", `"flow.lookup.value" is read as "extra.lookup"`)
			if migrated != (tc.version == "11.4") {
				t.Errorf("11.5 migration line: %v\n%s", migrated, c.report)
			}
		})
	}
	// A longer name that starts with the webhook's is rewritten too, as
	// RapidPro's pattern does, and the report names it whole.
	t.Run("longer name", func(t *testing.T) {
		actions := `[{"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "[@flow.lookup_code]"}}]}]`
		c := converse(t, exportOf("11.4", "r1", actions, rulesets), mocks)
		if !hasLine(c.report, levelInfo, "action m2 (reply) msg.eng", `"flow.lookup_code" is read as "extra.lookup_code" (a longer name that starts with the webhook's "lookup"`) {
			t.Errorf("no line naming the longer name:\n%s", c.report)
		}
	})
	// An answer that is not JSON (a failed call) leaves @extra.X empty, as
	// in RapidPro, not the status followed by ".json".
	t.Run("no JSON answer", func(t *testing.T) {
		failing := map[string][]mockAnswer{"http://example.com/lookup": {{Status: 500, Body: json.RawMessage(`oops`)}}}
		c := converse(t, exportOf("11.4", "r1", actions, rulesets), failing)
		if got, want := strings.Join(c.turns[0], "\n"), `||Failure||2024-05-01T12:00:00Z.`; got != want {
			t.Errorf("sent %q, want %q\n%s", got, want, c.report)
		}
	})
	t.Run("real export", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(testdataDir(t), "migrate_to_11_5.json"))
		if err != nil {
			t.Fatal(err)
		}
		// Parley refuses resthooks: the copy calls a webhook instead.
		data = []byte(strings.Replace(string(data), `"ruleset_type": "resthook"`, `"ruleset_type": "webhook"`, 1))
		data = []byte(strings.Replace(string(data), `"resthook": "test-resthook-event"`, `"webhook": "http://example.com/webhook3", "webhook_action": "GET"`, 1))
		mocks := map[string][]mockAnswer{
			"http://example.com/webhook1": {{Status: 200, Body: json.RawMessage(`{"one":1}`)}},
			"http://example.com/webhook2": {{Status: 200, Body: json.RawMessage(`{"two":2}`)}},
			"http://example.com/webhook3": {{Status: 200, Body: json.RawMessage(`{"three":3}`)}},
		}
		c := converse(t, data, mocks)
		// RapidPro's test of this export expects the reply migrated to
		// @extra.response_1 and @extra.response_3 (not response_2, which a
		// split saves too), .category unchanged.
		want := strings.Join([]string{`{"one":1}`, `{"one":1}`, "Success", `{"ONE":1}`, "SUCCESS", "",
			"", "", "All Responses", "", "ALL RESPONSES", "",
			`{"three":3}`, `{"three":3}`, "Success", `{"THREE":3}`, "SUCCESS"}, "\n")
		if got := strings.Join(c.turns[0], "\x00"); got != want {
			t.Errorf("sent %q, want %q", got, want)
		}
		// The webhook URLs, of a ruleset and of an action, and the saved name.
		wantCalls := []string{"GET http://example.com/webhook1", "GET http://example.com/webhook2", "GET http://example.com/webhook3",
			"GET http://example.com/?thing=%7B%22one%22%3A1%7D", "GET http://example.com/?thing=%7B%22one%22%3A1%7D&foo=bar"}
		if fmt.Sprint(c.calls) != fmt.Sprint(wantCalls) {
			t.Errorf("calls %q, want %q", c.calls, wantCalls)
		}
		if c.contact.Name != `{"three":3}` {
			t.Errorf("contact name %q", c.contact.Name)
		}
		// The operand of the split by flow field and its rule's test.
		if r := c.results["Response 5"]; r != `{"one":1}{"three":3}/All Responses` {
			t.Errorf("Response 5 %q", r)
		}
		if r := c.results["Response 6"]; !strings.HasSuffix(r, "/Matching") {
			t.Errorf("Response 6 %q", r)
		}
	})
}

// TestMigrate9: before version 9 a subflow read its parent's results as
// @extra.flow.X and the parent's contact as @extra.contact.X; RapidPro
// migrates them to @parent.X and @parent.contact.X.
func TestMigrate9(t *testing.T) {
	export := func(version string) []byte {
		return []byte(fmt.Sprintf(`{"version": %[1]q, "flows": [
		  {"version": %[1]q, "base_language": "eng", "flow_type": "F",
		   "metadata": {"uuid": "55555555-5555-4555-8555-555555555555", "name": "Parent"}, "entry": "a1",
		   "action_sets": [{"uuid": "a1", "destination": "r1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "What kind?"}}]},
		                   {"uuid": "a2", "destination": null, "actions": [{"type": "flow", "uuid": "f1", "flow": {"uuid": "66666666-6666-4666-8666-666666666666", "name": "Child"}}]}],
		   "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_message", "label": "Kind", "operand": "@step.value",
		     "rules": [{"uuid": "u1", "category": {"eng": "All Responses"}, "destination": "a2", "test": {"type": "true"}}]}]},
		  {"version": %[1]q, "base_language": "eng", "flow_type": "F",
		   "metadata": {"uuid": "66666666-6666-4666-8666-666666666666", "name": "Child"}, "entry": "c1",
		   "action_sets": [{"uuid": "c1", "destination": null, "actions": [{"type": "reply", "uuid": "m2",
		     "msg": {"eng": "Kind @extra.flow.kind for @extra.contact.name, @(UPPER(extra.flow.kind))"}}]}],
		   "rule_sets": []}]}`, version))
	}
	for _, tc := range []struct{ version, want string }{
		{"8", "Kind cat for Ben Haggerty, CAT"},
		// From version 9 on, @extra is a webhook's answer, as written.
		{"9", "Kind  for , "},
	} {
		t.Run(tc.version, func(t *testing.T) {
			c := converse(t, export(tc.version), nil, "cat")
			if got := strings.Join(c.turns[1], "|"); got != tc.want {
				t.Errorf("sent %q, want %q\n%s", got, tc.want, c.report)
			}
			migrated := hasLine(c.report, levelInfo, "action m2 (reply) msg.eng", `is read as "Kind @parent.kind for @parent.contact.name, @(UPPER(parent.kind))"`)
			if migrated != (tc.version == "8") {
				t.Errorf("version 9 migration line: %v\n%s", migrated, c.report)
			}
		})
	}
}

// TestMigrate8: version 7 templates wrote expressions with = and variables
// with |filters; RapidPro migrates them to @(...) expressions.
func TestMigrate8(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"equals", `Hi =contact.name =UPPER(contact.name) =(1 + 2)`, "Hi Ben Haggerty BEN HAGGERTY 3"},
		{"not a variable", `a=b x = 1 =foo.bar =`, "a=b x = 1 =foo.bar ="},
		{"embedded variable", `=CONCATENATE(\"@contact.first_name|upper_case\", \"!\") =LEN(@contact.name)`, "BEN! 12"},
		{"filters", `@contact.name|upper_case @contact.first_name|lower_case|capitalize @contact|title_case.`, "BEN HAGGERTY Ben Ben Haggerty."},
		// A filter RapidPro did not know was dropped.
		{"unknown filter", `@contact.name|shout!`, "Ben Haggerty!"},
		// An expression still open at the end was dropped too.
		{"unterminated", `Total: =SUM(1, 2`, "Total: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, version := range []string{"7", "8"} {
				actions := `[{"uuid": "a1", "destination": null, "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "` + tc.msg + `"}}]}]`
				res, err := Convert(exportOf(version, "a1", actions, "[]"), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if version == "8" {
					// From version 8 on the text is sent as written.
					if strings.Contains(res.Report.String(), "older than version 8") {
						t.Errorf("version 8: migrated\n%s", res.Report)
					}
					continue
				}
				c := converse(t, exportOf(version, "a1", actions, "[]"), nil)
				if got := strings.Join(c.turns[0], "|"); got != tc.want {
					t.Errorf("sent %q, want %q\n%s", got, tc.want, c.report)
				}
				if tc.msg != tc.want && !hasLine(c.report, levelInfo, "action m1 (reply) msg.eng", "older than version 8") {
					t.Errorf("no migration line\n%s", c.report)
				}
			}
		})
	}
	t.Run("rules and operands", func(t *testing.T) {
		rulesets := `[{"uuid": "r1", "ruleset_type": "expression", "label": "Size", "operand": "=LEN(contact.name)",
		  "rules": [{"uuid": "u1", "category": {"eng": "Long"}, "destination": "a2", "test": {"type": "gt", "test": "=(5 + 5)"}},
		            {"uuid": "u2", "category": {"eng": "Other"}, "destination": null, "test": {"type": "true"}}]}]`
		actions := `[{"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "long: @flow.size"}}]}]`
		c := converse(t, exportOf("7", "r1", actions, rulesets), nil)
		if got := strings.Join(c.turns[0], "|"); got != "long: 12" {
			t.Errorf("sent %q\n%s", got, c.report)
		}
	})
}

// TestMigrate11_7: before 11.7 a webhook action saved no result in RapidPro;
// its 11.7 migration made each a webhook ruleset labelled "Migrated Webhook
// N", numbered through the action sets and, within one, from the last up.
func TestMigrate11_7(t *testing.T) {
	api := func(uuid, url string) string {
		return `{"type": "api", "uuid": "` + uuid + `", "webhook": "` + url + `", "action": "GET"}`
	}
	actions := `[{"uuid": "a1", "destination": "a2", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "Hi"}}, ` +
		api("w1", "http://example.com/one") + `, ` + api("w2", "http://example.com/two") + `]},
	  {"uuid": "a2", "destination": null, "actions": [` + api("w3", "http://example.com/three") + `,
	    {"type": "reply", "uuid": "m2", "msg": {"eng": "@flow"}}]}]`
	mocks := map[string][]mockAnswer{
		"http://example.com/one": {{Status: 200, Body: json.RawMessage(`{}`)}},
		"http://example.com/two": {{Status: 201, Body: json.RawMessage(`{}`)}},
	}
	for _, tc := range []struct{ version, want string }{
		{"11.6", "[Migrated Webhook 1=201/Success Migrated Webhook 2=200/Success Migrated Webhook 3=500/Failure]"},
		// From 11.7 on an export has no webhook actions; one that does saves "webhook".
		{"11.7", "[webhook=500/Failure]"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			c := converse(t, exportOf(tc.version, "a1", actions, "[]"), mocks)
			if got := fmt.Sprint(sortedMap(c.results)); got != tc.want {
				t.Errorf("results %s, want %s\n%s", got, tc.want, c.report)
			}
			migrated := hasLine(c.report, levelInfo, "action w1 (api)", `its result is saved as "Migrated Webhook 2"`)
			if migrated != (tc.version == "11.6") {
				t.Errorf("11.7 migration line: %v\n%s", migrated, c.report)
			}
		})
	}
	// Two webhook actions with one uuid (an edited export) are numbered
	// as any two.
	t.Run("repeated uuid", func(t *testing.T) {
		actions := `[{"uuid": "a1", "destination": "a2", "actions": [` + api("w1", "http://example.com/one") + `]},
		  {"uuid": "a2", "destination": null, "actions": [` + api("w1", "http://example.com/two") + `]}]`
		c := converse(t, exportOf("11.6", "a1", actions, "[]"), mocks)
		if got := fmt.Sprint(sortedMap(c.results)); got != "[Migrated Webhook 1=200/Success Migrated Webhook 2=201/Success]" {
			t.Errorf("results %s\n%s", got, c.report)
		}
	})
	t.Run("real export", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(testdataDir(t), "migrate_to_11_3.json"))
		if err != nil {
			t.Fatal(err)
		}
		c := converse(t, data, map[string][]mockAnswer{"http://example.com/?thing=&foo=bar": {{Status: 200, Body: json.RawMessage(`{"ok":true}`)}}})
		if got := fmt.Sprint(sortedMap(c.results)); got != "[Migrated Webhook 1=200/Success]" {
			t.Errorf("results %s, calls %q\n%s", got, c.calls, c.report)
		}
	})
}

// TestMigrate10: before version 10 a webhook ruleset's rules did not test its
// outcome; RapidPro's version 10 gives it Success and Failure, both leading
// where the first rule led.
func TestMigrate10(t *testing.T) {
	rulesets := `[{"uuid": "r1", "ruleset_type": "webhook", "label": "Hook", "operand": "@step.value",
	  "webhook": "http://example.com/hook", "webhook_action": "GET",
	  "rules": [{"uuid": "u1", "category": {"eng": "Ok"}, "destination": "a2", "test": {"type": "contains_any", "test": {"eng": "ok"}}},
	            {"uuid": "u2", "category": {"eng": "Other"}, "destination": "a3", "test": {"type": "true"}}]}]`
	actions := `[{"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "first @flow.hook.category"}}]},
	  {"uuid": "a3", "destination": null, "actions": [{"type": "reply", "uuid": "m3", "msg": {"eng": "other"}}]}]`
	for _, status := range []int{200, 500} {
		mocks := map[string][]mockAnswer{"http://example.com/hook": {{Status: status, Body: json.RawMessage(`{"a":"b"}`)}}}
		c := converse(t, exportOf("9", "r1", actions, rulesets), mocks)
		want := map[int]string{200: "first Success", 500: "first Failure"}[status]
		if got := strings.Join(c.turns[0], "|"); got != want {
			t.Errorf("status %d: sent %q, want %q\n%s", status, got, want, c.report)
		}
		if !hasLine(c.report, levelInfo, "ruleset r1 rules", "rules[0] (contains_any), rules[1] (true)") {
			t.Errorf("no migration line\n%s", c.report)
		}
	}
	// From version 10 on, such a ruleset does not convert.
	res, err := Convert(exportOf("10", "r1", actions, rulesets), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Flows[0].Failed {
		t.Errorf("version 10 converted\n%s", res.Report)
	}
}

// TestMigrate11_10: before 11.10 a messaging flow could start a voice flow of
// the export (and the other way round); RapidPro's 11.10 migration makes
// that a trigger-flow action, which Parley records without starting it, and
// the flow goes on.
func TestMigrate11_10(t *testing.T) {
	export := func(version string) []byte {
		return []byte(fmt.Sprintf(`{"version": %[1]q, "flows": [
		  {"version": %[1]q, "base_language": "eng", "flow_type": "M",
		   "metadata": {"uuid": "77777777-7777-4777-8777-777777777777", "name": "Texts"}, "entry": "a1",
		   "action_sets": [{"uuid": "a1", "destination": "r1", "actions": [
		       {"type": "flow", "uuid": "f1", "flow": {"uuid": "88888888-8888-4888-8888-888888888888", "name": "Call"}},
		       {"type": "reply", "uuid": "m1", "msg": {"eng": "after the action"}}]},
		     {"uuid": "a2", "destination": null, "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "after the ruleset"}}]}],
		   "rule_sets": [{"uuid": "r1", "ruleset_type": "subflow", "label": "Call", "config": {"flow": {"uuid": "88888888-8888-4888-8888-888888888888", "name": "Call"}},
		     "rules": [{"uuid": "u1", "category": {"eng": "Completed"}, "destination": "a2", "test": {"type": "subflow", "exit_type": "completed"}},
		               {"uuid": "u2", "category": {"eng": "Expired"}, "destination": null, "test": {"type": "subflow", "exit_type": "expired"}}]}]},
		  {"version": %[1]q, "base_language": "eng", "flow_type": "V",
		   "metadata": {"uuid": "88888888-8888-4888-8888-888888888888", "name": "Call"}, "entry": "c1",
		   "action_sets": [{"uuid": "c1", "destination": null, "actions": [{"type": "say", "uuid": "s1", "msg": {"eng": "Hello"}}]}],
		   "rule_sets": []}]}`, version))
	}
	c := converse(t, export("11.9"), nil)
	if got := strings.Join(c.turns[0], "|"); got != "after the action|after the ruleset" {
		t.Errorf("sent %q\n%s", got, c.report)
	}
	for _, where := range []string{"action f1 (flow)", "ruleset r1"} {
		if !hasLine(c.report, levelInfo, where, `flow "Call" is a voice flow and this one a messaging flow, so starting it is a trigger-flow action`) {
			t.Errorf("no migration line at %s\n%s", where, c.report)
		}
	}
	if !hasLine(c.report, levelWarning, "action f1 (trigger-flow)", `not started: starting flow "Call" for the contact in a session of its own is not supported`) {
		t.Errorf("no warning that the flow is not started\n%s", c.report)
	}
	// From 11.10 on the export is as written: starting the voice flow ends this one.
	res, err := Convert(export("11.10"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Report.String(), "trigger-flow") {
		t.Errorf("11.10 migrated\n%s", res.Report)
	}
}
