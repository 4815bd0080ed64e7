package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/rapidprodata"
)

// parley runs the command line in-process and returns its exit status and output.
func parley(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const examples = "../../examples"

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSimulate(t *testing.T) {
	dir := t.TempDir()
	greet := writeFile(t, dir, "greet.json", `{"id": "greet", "name": "Greet", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Hi @flow.name from @flow.city, @contact.name", "exits": {"Next": "echo"}},
	  {"id": "echo", "type": "wait_for_response", "exits": {"Next": "said"}},
	  {"id": "said", "type": "send_message", "text": "You said [@input]", "exits": {"Next": ""}}]}`)
	menu := writeFile(t, dir, "menu.json", `{"id": "menu", "widgets": [
	  {"id": "m", "type": "send_message", "text": "Menu:\n1. Orders\r\n\n2. Help", "exits": {"Next": "r"}},
	  {"id": "r", "type": "send_message", "text": "Reply with a number", "exits": {"Next": ""}}]}`)
	orderStatus := filepath.Join(examples, "order-status", "flow.json")
	mocks := filepath.Join(examples, "order-status", "mocks.json")
	tests := []struct {
		name   string
		args   []string
		stdin  string
		stdout []string
		status string
	}{
		{"order status with mocks", []string{"simulate", orderStatus, "--mocks", mocks}, "CU001\nPlease knock\n", []string{
			"Thanks for contacting the ThriftShop order status system. Please send your order # and we'll help you in a jiffy!",
			"Great news Ben Haggerty! We shipped your order for Vogue White Wall x 4 on October 9th and we expect it will be delivered on April 3rd. If you have any questions, just reply and our customer service department will be notified.",
			"Thanks Ben Haggerty, we'll be in touch ASAP about order # CU001.",
		}, "completed"},
		{"order status times out", []string{"simulate", "--mocks", mocks, orderStatus}, "/timeout\n", []string{
			"Thanks for contacting the ThriftShop order status system. Please send your order # and we'll help you in a jiffy!",
			"We didn't hear back from you. Send us a message any time to check an order.",
		}, "completed"},
		{"variables and contact", []string{"simulate", "--var", "name=Bo", "--var", "city=Porto", "--contact-name", "Ana", greet}, "", []string{
			"Hi Bo from Porto, Ana",
		}, "waiting"},
		{"double slash sends a slash", []string{"simulate", greet}, "//x\n", []string{
			"Hi  from , ", "You said [/x]",
		}, "completed"},
		{"IVR call with a caller number", []string{"simulate", "--call", "--cli", "+442071234567", filepath.Join(examples, "ivr-menu", "flow.json")}, "2\n", []string{
			"Hello, caller from +442071234567. Welcome to Parley Telecom.",
			"Press 1 for sales, 2 for support, 3 to leave a message.",
			"Connecting you to support.",
		}, "completed"},
		// A message of several lines is one entry: its further lines are
		// indented under the first.
		{"multi-line message", []string{"simulate", menu}, "", []string{
			"Menu:", "  1. Orders", "  ", "  2. Help", "Reply with a number",
		}, "completed"},
		{"IVR hang-up", []string{"simulate", "--call", filepath.Join(examples, "ivr-menu", "flow.json")}, "/hangup\n", []string{
			"Hello, caller from +15555550100. Welcome to Parley Telecom.",
			"Press 1 for sales, 2 for support, 3 to leave a message.",
		}, "interrupted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := parley(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if want := strings.Join(tc.stdout, "\n") + "\n"; stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
			}
			if !strings.HasSuffix(stderr, "session "+tc.status+"\n") {
				t.Errorf("stderr %q should end with the final status %q", stderr, tc.status)
			}
		})
	}
}

// TestSimulateReportsProblems: warnings and errors go to stderr, not to what
// the contact sees.
func TestSimulateReportsProblems(t *testing.T) {
	flow := writeFile(t, t.TempDir(), "p.json", `{"id": "p", "name": "p", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Hi [@flow.nobody]", "exits": {"Next": "calc"}},
	  {"id": "calc", "type": "set_variable", "name": "n", "expression": "number(\"x\")", "exits": {"Failure": ""}}]}`)
	code, stdout, stderr := parley(t, "", "simulate", flow)
	if code != 0 || stdout != "Hi []\n" {
		t.Errorf("exit %d stdout %q", code, stdout)
	}
	want := "warning at hi: unknown variable @flow.nobody\nerror at calc: expression \"number(\\\"x\\\")\": number: argument 1 is \"x\", not a number"
	if !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "session completed\n") {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", stderr, want)
	}
}

func TestSimulateJSON(t *testing.T) {
	dir := filepath.Join(examples, "order-status")
	code, stdout, stderr := parley(t, "CU001\n", "simulate", "--json", "--mocks", filepath.Join(dir, "mocks.json"), filepath.Join(dir, "flow.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var types []string
	var webhook *flows.Event
	for i, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var ev flows.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not an event: %v\n%s", i+1, err, line)
		}
		if ev.Time.IsZero() {
			t.Errorf("line %d has no time", i+1)
		}
		types = append(types, ev.Type)
		if ev.Type == flows.EventWebhookCalled {
			webhook = &ev
		}
	}
	want := "message_out session_waiting message_in result_saved webhook_called result_saved result_saved rule_matched message_out session_waiting"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event types:\n%s\nwant:\n%s", got, want)
	}
	if webhook == nil || webhook.Status != 200 || webhook.Outcome != flows.OutcomeSuccess || webhook.URL != "http://127.0.0.1:8080/demo/order-status" {
		t.Errorf("webhook event %+v", webhook)
	}
	if stderr != "session waiting\n" {
		t.Errorf("stderr %q", stderr)
	}
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no flow", []string{"simulate"}, 2, "Usage: parley simulate"},
		{"missing file", []string{"simulate", filepath.Join(dir, "nope.json")}, 2, "nope.json"},
		{"bad mocks", []string{"simulate", "--mocks", writeFile(t, dir, "m.json", `{"http://x": [{"status": 42}]}`), filepath.Join(examples, "ivr-menu", "flow.json")}, 2, "status 42 is not an HTTP status"},
		{"bad variable", []string{"simulate", "--var", "novalue", filepath.Join(examples, "ivr-menu", "flow.json")}, 2, `"novalue" is not name=value`},
		{"unknown command", []string{"simulat"}, 2, `unknown command "simulat"`},
		{"two flows", []string{"simulate", filepath.Join(examples, "ivr-menu", "flow.json"), "child.json"}, 2,
			`parley simulate: unexpected argument "child.json": give one flow file; the flows next to it are loaded for its subflows`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := parley(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d stderr %q, want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"id": "bad", "name": "Bad", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Hi", "exits": {"Next": "calc"}},
	  {"id": "calc", "type": "set_variable", "name": "n", "expression": "1 +", "exits": {"Next": "nowhere"}},
	  {"id": "beam", "type": "teleport", "exits": {}}]}`)
	warn := writeFile(t, dir, "warn.json", `{"id": "warn", "name": "Warn", "widgets": [
	  {"id": "a", "type": "end"}, {"id": "orphan", "type": "end"}]}`)
	unnamed := writeFile(t, dir, "unnamed.json", `{"id": "no-name", "widgets": [{"id": "a", "type": "end"}]}`)

	code, stdout, stderr := parley(t, "", "validate", bad)
	if code != 2 {
		t.Errorf("exit %d for a bad flow, want 2", code)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	want := []string{
		bad + `: widget "calc": widgets[1].expression: bad expression "1 +"`,
		bad + `: widget "beam": widgets[2].type: unknown widget type "teleport"`,
		bad + `: widget "calc": widgets[1].exits.Next: exit "Next" points to unknown widget "nowhere"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n%s\nwant it to start with\n%s", i+1, lines[i], want[i])
		}
	}

	code, stdout, stderr = parley(t, "", "validate", warn, filepath.Join(examples, "order-status", "flow.json"), unnamed)
	if code != 0 {
		t.Errorf("exit %d for valid flows, want 0: %s", code, stderr)
	}
	if !strings.Contains(stdout, "warn.json: ok (Warn, 2 widgets)") || !strings.Contains(stdout, "order-status/flow.json: ok (Order Status Checker, 13 widgets)") ||
		!strings.Contains(stdout, "unnamed.json: ok (no-name, 1 widget)") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, `warn.json: warning: widget "orphan": widgets[1]: widget is unreachable from the start`) {
		t.Errorf("stderr %q should carry the warning", stderr)
	}
}

func TestTestCommand(t *testing.T) {
	code, stdout, stderr := parley(t, "", "test", examples)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if !strings.HasSuffix(stdout, " passed, 0 failed\n") || strings.Contains(stdout, "FAIL") {
		t.Errorf("stdout:\n%s", stdout)
	}

	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "hello", "name": "Hello", "widgets": [
	  {"id": "ask", "type": "send_message", "text": "Name?", "exits": {"Next": "name"}},
	  {"id": "name", "type": "wait_for_response", "result": "Name", "exits": {"Next": "hi"}},
	  {"id": "hi", "type": "send_message", "text": "Hello @flow.name", "exits": {"Next": ""}}]}`)
	writeFile(t, dir, "tests/pass.test.json", `{"flow": "../flow.json", "conversation": [
	  {"expect": ["Name?"]}, {"send": "Ana", "expect": ["Hello Ana"]}], "final_status": "completed"}`)
	failing := writeFile(t, dir, "tests/fail.test.json", `{"flow": "../flow.json", "conversation": [
	  {"expect": ["Name?"]}, {"send": "Ana", "expect": ["Hi Ana"]}],
	  "final_status": "completed", "results": {"Name": {"value": "Bob"}}}`)

	code, stdout, _ = parley(t, "", "test", dir)
	if code != 1 {
		t.Errorf("exit %d with a failing script, want 1", code)
	}
	for _, want := range []string{
		"FAIL " + failing + "\n",
		`    turn 2 (send "Ana"): expected ["Hi Ana"], got ["Hello Ana"]` + "\n",
		`    result "Name": value "Ana", expected "Bob"` + "\n",
		"ok   " + filepath.Join(dir, "tests", "pass.test.json") + "\n",
		"1 passed, 1 failed\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	code, _, stderr = parley(t, "", "test", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "no *.test.json files found") {
		t.Errorf("empty folder: exit %d stderr %q", code, stderr)
	}
}

func TestServerProcs(t *testing.T) {
	for _, c := range []struct {
		env       string
		cur, ncpu int
		want      int
	}{
		{"", 2, 2, 3},  // Go's default, all CPUs: one P more
		{"", 8, 8, 9},  // the same on a larger machine
		{"2", 2, 2, 2}, // GOMAXPROCS set: as the operator chose
		{"4", 4, 2, 4}, // even above the CPU count
		{"", 2, 8, 2},  // below the CPU count: a container's quota, left alone
		{"", 1, 1, 2},  // one CPU
	} {
		if got := serverProcs(c.env, c.cur, c.ncpu); got != c.want {
			t.Errorf("serverProcs(%q, %d, %d) = %d, want %d", c.env, c.cur, c.ncpu, got, c.want)
		}
	}
}

// --help (and -h) print a command's usage on stdout and exit 0, as parley
// --help does; a flag the command does not have is still a usage error,
// exit 2, its usage on stderr.
func TestHelpExitStatus(t *testing.T) {
	for _, cmd := range [][]string{
		{"serve"}, {"simulate"}, {"sim"}, {"validate"}, {"test"}, {"compact"}, {"backup"}, {"bench"},
		{"import", "rapidpro"}, {"import"}, {"webhook", "test"}, {"webhook"},
	} {
		name := strings.Join(cmd, " ")
		for _, help := range []string{"--help", "-h"} {
			code, stdout, stderr := parley(t, "", append(slices.Clone(cmd), help)...)
			if code != 0 || !strings.Contains(stdout, "parley "+name) || stderr != "" {
				t.Errorf("parley %s %s: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", name, help, code, stdout, stderr)
			}
		}
		if code, stdout, stderr := parley(t, "", append(slices.Clone(cmd), "--no-such-flag")...); code != 2 || stdout != "" || stderr == "" {
			t.Errorf("parley %s --no-such-flag: exit %d, stdout %q; want 2 and the error on stderr", name, code, stdout)
		}
	}
	// A usage error beside -h, and a -h that is a flag's value, stay on stderr.
	for _, args := range [][]string{{"validate", "--nope", "-h"}, {"validate", "--flow", "-h", "missing.json"}} {
		if code, stdout, stderr := parley(t, "", args...); code != 2 || stdout != "" || stderr == "" {
			t.Errorf("parley %s: exit %d, stdout %q, stderr %q; want 2 and the error on stderr", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// A -h that is a flag's value in a command that runs: what it says on
	// stderr stays there.
	flow := writeFile(t, t.TempDir(), "hi.json", `{"id": "hi", "name": "Hi", "widgets": [{"id": "m", "type": "send_message", "text": "Hi @contact.name"}]}`)
	if code, stdout, stderr := parley(t, "", "simulate", "--contact-name", "-h", flow); code != 0 || stdout != "Hi -h\n" || !strings.Contains(stderr, "completed") {
		t.Errorf("parley simulate --contact-name -h: exit %d, stdout %q, stderr %q; want the flow run, its status on stderr", code, stdout, stderr)
	}
	if code, stdout, _ := parley(t, "", "--help"); code != 0 || !strings.Contains(stdout, "Usage:") {
		t.Errorf("parley --help: exit %d, stdout %q", code, stdout)
	}
}

// An input line longer than parley simulate reads is an error naming the
// line and the limit, exit 1, not the silent end of the input; a line of a
// few MiB is read.
func TestSimulateLongLine(t *testing.T) {
	flow := writeFile(t, t.TempDir(), "echo.json", `{"id": "echo", "name": "Echo", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "exits": {"Next": "said"}},
	  {"id": "said", "type": "send_message", "text": "You said @(len(input))", "exits": {"Next": "ask"}}]}`)
	long := strings.Repeat("x", 3<<20)
	code, stdout, stderr := parley(t, "first\n"+long+"\nthird\n", "simulate", flow)
	if code != 0 || !strings.Contains(stdout, "You said 5\nYou said 3145728\nYou said 5\n") {
		t.Fatalf("a 3 MiB line: exit %d\nstdout %.300q\nstderr %.300q", code, stdout, stderr)
	}
	tooLong := strings.Repeat("x", simMaxLine+1)
	code, stdout, stderr = parley(t, "first\n"+tooLong+"\nthird\n", "simulate", flow)
	if code != 1 || !strings.Contains(stderr, "input line 2: longer than 16 MiB") || strings.Count(stdout, "You said") != 1 {
		t.Errorf("a line over the limit: exit %d\nstdout %.300q\nstderr %.300q", code, stdout, stderr)
	}
}

// A message that starts or ends with a line break prints as one message:
// its first line is never blank, and a blank first or last line shows as ⏎.
func TestSimulateBlankLines(t *testing.T) {
	flow := writeFile(t, t.TempDir(), "nl.json", `{"id": "nl", "name": "NL", "widgets": [
	  {"id": "a", "type": "send_message", "text": "\nHello", "exits": {"Next": "b"}},
	  {"id": "b", "type": "send_message", "text": "Menu:\n\n1. Orders\n", "exits": {"Next": "c"}},
	  {"id": "c", "type": "send_message", "text": "Bye"}]}`)
	code, stdout, stderr := parley(t, "", "simulate", flow)
	want := "⏎\n  Hello\nMenu:\n  \n  1. Orders\n  ⏎\nBye\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stdout %q, want %q (stderr %q)", code, stdout, want, stderr)
	}
	// --json keeps the texts as they are.
	_, stdout, _ = parley(t, "", "simulate", "--json", flow)
	if !strings.Contains(stdout, `"text":"\nHello"`) || !strings.Contains(stdout, `"text":"Menu:\n\n1. Orders\n"`) {
		t.Errorf("--json: %s", stdout)
	}
}

// A word a command does not take is named in its usage error, exit 2.
func TestUsageErrorsNameTheArgument(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "parley import: the format is missing: rapidpro"},
		{[]string{"import", "textit", "x.json"}, `parley import: unknown format "textit"`},
		{[]string{"import", "rapidpro"}, "parley import rapidpro: the EXPORT.json file is missing"},
		{[]string{"import", "rapidpro", "a.json", "b.json"}, `one EXPORT.json file expected, got 2 ("a.json" "b.json")`},
		{[]string{"webhook"}, "parley webhook: the subcommand is missing: test"},
		// A command run without the file it reads says so before its usage.
		{[]string{"validate"}, "parley validate: the FLOW.json file is missing: give one or more flow files"},
		{[]string{"validate", "--lang", "fra"}, "parley validate: the FLOW.json file is missing"},
		{[]string{"simulate"}, "parley simulate: the FLOW.json file is missing: give the flow file to talk to"},
		{[]string{"simulate", "--call"}, "parley simulate: the FLOW.json file is missing"},
		{[]string{"test"}, "parley test: the PATH is missing: give one or more *.test.json files or folders holding them"},
		{[]string{"webhook", "bogus"}, `parley webhook: unknown subcommand "bogus"`},
		// A flag before the format or subcommand is not taken for one.
		{[]string{"import", "--url", "http://x", "rapidpro"}, "parley import: the format comes first, then its flags: parley import rapidpro EXPORT.json [flags]"},
		{[]string{"import", "-o", "out", "rapidpro", "x.json"}, "parley import: the format comes first"},
		{[]string{"webhook", "--url", "x", "test"}, "parley webhook: the subcommand comes first, then its flags: parley webhook test NAME --webhooks FILE.json [flags]"},
		{[]string{"webhook", "--webhooks=w.json", "test", "n"}, "parley webhook: the subcommand comes first"},
	} {
		code, stdout, stderr := parley(t, "", c.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("parley %s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}

// A subflow widget that enters no flow beside the file (which simulate and
// test would load) is warned of, naming the flow likely meant; the flow
// is valid.
func TestValidateMissingSubflow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rating.json", `{"id": "rating", "name": "Rating", "widgets": [{"id": "a", "type": "end"}]}`)
	main := writeFile(t, dir, "main.json", `{"id": "main", "name": "Main", "widgets": [
	  {"id": "r1", "type": "subflow", "flow": "rating", "exits": {"Complete": "r2"}},
	  {"id": "r2", "type": "subflow", "flow": "ratng"}]}`)
	code, stdout, stderr := parley(t, "", "validate", main)
	want := main + `: warning: widget "r2": widgets[1].flow: subflow "ratng": no flow has that id, so a session fails here until one does (did you mean "rating"?)` + "\n"
	if code != 0 || stderr != want || !strings.Contains(stdout, "main.json: ok (Main, 2 widgets)") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
	}
}

// A subflow named like a file beside the flow whose id is another is
// warned of with that file and its id: the file is not the flow entered.
func TestValidateSubflowNamedLikeAFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ratingz.json", `{"id": "rating", "name": "Rating", "widgets": [{"id": "a", "type": "end"}]}`)
	main := writeFile(t, dir, "main.json", `{"id": "main", "name": "Main", "widgets": [
	  {"id": "r", "type": "subflow", "flow": "ratingz"}]}`)
	code, stdout, stderr := parley(t, "", "validate", main)
	want := main + `: warning: widget "r": widgets[0].flow: subflow "ratingz": no flow has that id, so a session fails here until one does (did you mean "rating"?); ratingz.json beside it has the id "rating": a subflow names a flow by its id, not its file name` + "\n"
	if code != 0 || stderr != want || !strings.Contains(stdout, "main.json: ok (Main, 1 widget)") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
	}
}

// A mocks or webhooks file with several problems is told of them one a
// line, each line naming the command and the file, as parley test does:
// not only the first.
func TestFileProblemsNameTheFileOnEachLine(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "flow.json", `{"id": "f", "name": "F", "widgets": [{"id": "a", "type": "end"}]}`)
	mocks := writeFile(t, dir, "mocks.json", `{"http://x/": [{"status": 200, "bdy": {}}], "http://y/": {"status": 200}}`)
	hooks := writeFile(t, dir, "hooks.json", `{"webhooks": [{"name": "a", "url": "https://e.com", "timeout": "5"}, {"name": "b"}]}`)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"simulate", "--mocks", mocks, flow}, []string{
			"parley simulate: " + mocks + `: mocks: ["http://x/"][0].bdy: unknown field "bdy" (did you mean "body"?)`,
			"parley simulate: " + mocks + `: mocks: ["http://y/"]: expected an array of JSON objects, got JSON object`,
		}},
		{[]string{"simulate", "--webhooks", hooks, flow}, []string{
			"parley simulate: webhooks file " + hooks + `: webhooks[0].timeout: expected a number, got JSON string`,
		}},
		{[]string{"webhook", "test", "a", "--webhooks", hooks}, []string{
			"parley webhook test: webhooks file " + hooks + `: webhooks[0].timeout: expected a number, got JSON string`,
		}},
	} {
		code, _, stderr := parley(t, "", c.args...)
		if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); code != 2 || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant 2 and:\n%s", c.args, code, stderr, strings.Join(c.want, "\n"))
		}
	}
	// Problems found once the file is read: every entry's, each named.
	checked := writeFile(t, dir, "checked.json", `[{"name": "a", "url": "ftp://e.com"}, {"name": "b"}]`)
	code, _, stderr := parley(t, "", "simulate", "--webhooks", checked, flow)
	want := "parley simulate: webhooks file " + checked + `: webhooks[0] "a": url: "ftp://e.com" must start with http:// or https://` + "\n" +
		"parley simulate: webhooks file " + checked + `: webhooks[1] "b": url: required` + "\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant 2 and:\n%s", code, stderr, want)
	}
}

// A flow that reads a variable no widget of it saves is warned of, naming
// the widget, the field and the result likely meant; the flow is valid. The
// example flows and the RapidPro exports, which read only what they save (or
// the contact's fields, or a subflow's results as @child), get no such
// warning.
func TestValidateUnsetVariable(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "survey.json", `{"id": "survey", "name": "Survey", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Age", "exits": {"Next": "m"}},
	  {"id": "m", "type": "send_message", "text": "Next year you will be @(number(flow.agee.value) + 1)"}]}`)
	code, stdout, stderr := parley(t, "", "validate", p)
	want := p + `: warning: widget "m": widgets[1].text: flow.agee: no widget of this flow saves a result "agee", so it is empty unless the session starts with that variable (did you mean "age"?)` + "\n"
	if code != 0 || stderr != want || !strings.Contains(stdout, "survey.json: ok (Survey, 2 widgets)") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
	}

	files, _ := filepath.Glob(filepath.Join(examples, "*", "flow.json"))
	if d := rapidprodata.Dir(); d != "" {
		exports, _ := filepath.Glob(filepath.Join(d, "*.json"))
		files = append(files, exports...)
	}
	if len(files) < 3 {
		t.Fatalf("found %d flow files", len(files))
	}
	for _, f := range files {
		_, _, stderr := parley(t, "", "validate", f)
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "no widget of this flow saves") {
				t.Errorf("%s", line)
			}
		}
	}
}
