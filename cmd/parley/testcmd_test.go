package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestCommandMocks: a script's mocks are checked as a --mocks file is,
// and the error names the script and the mock.
func TestTestCommandMocks(t *testing.T) {
	const flow = `{"id": "f", "widgets": [{"id": "h", "type": "webhook", "url": "http://example.test/x",
	  "exits": {"Success": "", "Failure": ""}}]}`
	for _, c := range []struct{ name, mocks, want string }{
		{"empty", `[]`, `mocks: "http://example.test/x" has no responses`},
		{"nostatus", `[{"body": {"v": 1}}]`, `mocks: "http://example.test/x"[0]: "status" is missing`},
		{"badstatus", `[{"status": 42}]`, `mocks: "http://example.test/x"[0]: status 42 is not an HTTP status`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "flow.json", flow)
			script := writeFile(t, dir, "b.test.json", `{"flow": "flow.json", "conversation": [{"expect": []}],
			  "mocks": {"http://example.test/x": `+c.mocks+`}}`)
			code, stdout, _ := parley(t, "", "test", script)
			if code != 1 || !strings.Contains(stdout, "FAIL "+script) || !strings.Contains(stdout, script+": script: "+c.want) {
				t.Errorf("exit %d, stdout:\n%s", code, stdout)
			}
		})
	}
	// A mock with a status and a timeout mock both run.
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", flow)
	script := writeFile(t, dir, "b.test.json", `{"flow": "flow.json", "conversation": [{"expect": []}],
	  "mocks": {"http://example.test/x": [{"timeout": true}]}, "final_status": "completed"}`)
	if code, stdout, _ := parley(t, "", "test", filepath.Dir(script)); code != 0 {
		t.Errorf("timeout mock: exit %d:\n%s", code, stdout)
	}
}

// TestTestCommandStartErrors: an error event raised before the first message
// the script sends fails the script, as any error event does.
func TestTestCommandStartErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "hi @(number(\"abc\"))", "exits": {"Next": "w"}},
	  {"id": "w", "type": "wait_for_response", "exits": {"Next": ""}}]}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "conversation": [{"send": "x", "expect": []}]}`)
	code, stdout, _ := parley(t, "", "test", script)
	if code != 1 || !strings.Contains(stdout, "    start (before turn 1): error event: ") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

// TestSubflowInSiblingFile: parley test and parley simulate load the flows
// beside the flow file for subflows, and a sibling that does not load is
// reported with its own errors when it is entered.
func TestSubflowInSiblingFile(t *testing.T) {
	dir := t.TempDir()
	parent := writeFile(t, dir, "parent.json", `{"id": "parent", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "parent", "exits": {"Next": "sub"}},
	  {"id": "sub", "type": "subflow", "flow": "child", "exits": {"Complete": "", "Expired": ""}}]}`)
	writeFile(t, dir, "child.json", `{"id": "child", "widgets": [
	  {"id": "c", "type": "send_message", "text": "child", "exits": {"Next": ""}}]}`)
	writeFile(t, dir, "mocks.json", `{}`)
	writeFile(t, dir, "export.json", `{"version": "11.12", "flows": []}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "parent.json", "conversation": [{"expect": ["parent", "child"]}], "final_status": "completed"}`)

	if code, stdout, _ := parley(t, "", "test", script); code != 0 {
		t.Errorf("test: exit %d:\n%s", code, stdout)
	}
	code, stdout, stderr := parley(t, "", "simulate", parent)
	if code != 0 || stdout != "parent\nchild\n" || strings.Contains(stderr, "error") {
		t.Errorf("simulate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// The child breaks: its errors, not "not loaded".
	child := writeFile(t, dir, "child.json", `{"id": "child", "widgets": [
	  {"id": "c", "type": "send_message", "exits": {"Next": ""}}]}`)
	code, stdout, _ = parley(t, "", "test", script)
	if code != 1 || !strings.Contains(stdout, `error event: subflow "child": flow "child" did not load: `+child+`: invalid flow: widget "c"`) {
		t.Errorf("test with a broken child: exit %d:\n%s", code, stdout)
	}
	_, _, stderr = parley(t, "", "simulate", parent)
	if !strings.Contains(stderr, `flow "child" did not load: `+child+`: invalid flow: widget "c"`) {
		t.Errorf("simulate with a broken child: stderr %q", stderr)
	}
}

// TestTestCommandEveryProblem: each problem of a script is a line of its
// own naming the script.
func TestTestCommandEveryProblem(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "c.test.json", `{"flow": 5, "conversation": [{"expect": []}],
	  "mocks": {"http://example.test/x": [{"status": 42}], "http://example.test/y": []}}`)
	code, stdout, _ := parley(t, "", "test", script)
	want := "FAIL " + script + "\n" +
		"    " + script + ": script: flow: expected a string, got JSON number\n" +
		"    " + script + `: script: mocks: "http://example.test/x"[0]: status 42 is not an HTTP status` + "\n" +
		"    " + script + `: script: mocks: "http://example.test/y" has no responses` + "\n" +
		"0 passed, 1 failed\n"
	if code != 1 || stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, stdout, want)
	}
}

// TestWebhookOutcomesShown: why a webhook call failed (no mock answers it,
// the address guard refused it), which a flow's Failure path alone does not
// say, is printed by parley simulate on stderr and by parley test with the
// failures of a script.
func TestWebhookOutcomesShown(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "lookup", "type": "webhook", "url": "http://127.0.0.1:9/order", "exits": {"Success": "ok", "Failure": "down"}},
	  {"id": "ok", "type": "send_message", "text": "found"},
	  {"id": "down", "type": "send_message", "text": "Sorry, the service is down."}]}`)
	code, stdout, stderr := parley(t, "", "simulate", flow)
	want := "[webhook lookup: POST http://127.0.0.1:9/order blocked — "
	if code != 0 || stdout != "Sorry, the service is down.\n" || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "destination refused by the address guard") || !strings.Contains(stderr, "; it can be allowed with --allow-cidr (or PARLEY_ALLOW_CIDRS)]\n") || strings.Count(stderr, "--allow-cidr") != 1 {
		t.Errorf("simulate: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["found"]}]}`)
	code, stdout, _ = parley(t, "", "test", script)
	if want := "    [turn 1: webhook lookup: POST http://127.0.0.1:9/order failure — no mock answers POST http://127.0.0.1:9/order]\n"; code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("test: exit %d, stdout:\n%s\nwant a line %q", code, stdout, want)
	}
}

// TestUnmockedCallInScript: a call no mock answers is not sent: the flow
// takes Failure, not the Timeout exit a connection error would take, and
// the line that says so shows the URL's secrets redacted.
func TestUnmockedCallInScript(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "lookup", "type": "webhook", "url": "http://user:hunter2@127.0.0.1:18801/x?token=abc", "exits": {"Success": "ok", "Failure": "down", "Timeout": "slow"}},
	  {"id": "ok", "type": "send_message", "text": "found"},
	  {"id": "slow", "type": "send_message", "text": "timed out"},
	  {"id": "down", "type": "send_message", "text": "failed"}]}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["found"]}]}`)
	code, stdout, _ := parley(t, "", "test", script)
	want := "    turn 1: expected [\"found\"], got [\"failed\"]\n" +
		"    [turn 1: webhook lookup: POST http://user:[redacted]@127.0.0.1:18801/x?token=[redacted] failure — no mock answers POST http://user:[redacted]@127.0.0.1:18801/x?token=[redacted]]\n"
	if code != 1 || !strings.Contains(stdout, want) || strings.Contains(stdout, "hunter2") || strings.Contains(stdout, "abc") {
		t.Errorf("exit %d, stdout:\n%s\nwant the lines:\n%s", code, stdout, want)
	}
}

// TestScriptExpectsErrors: a flow's deliberate Failure path can be tested:
// the error events a script lists under "errors" (by a part of their
// message) are expected and must be raised; any other still fails it.
func TestScriptExpectsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "Age", "exits": {"Next": "calc"}},
	  {"id": "calc", "type": "set_variable", "name": "Years", "expression": "int(flow.age.value) + 1", "exits": {"Next": "ok", "Failure": "bad"}},
	  {"id": "ok", "type": "send_message", "text": "Next year: @flow.years"},
	  {"id": "bad", "type": "send_message", "text": "That is not a number."}]}`)
	const conv = `"conversation": [{"send": "abc", "expect": ["That is not a number."]}], "final_status": "completed"`
	for _, c := range []struct {
		name, errors string
		code         int
		want         []string
	}{
		{"expected", `["not a whole number"]`, 0, []string{"ok   "}},
		{"not listed", `[]`, 1, []string{`turn 1 (send "abc"): error event: `, "not a whole number"}},
		{"listed but not raised", `["not a whole number", "division by zero"]`, 1, []string{`errors[1]: no error event contains "division by zero"`}},
		{"empty", `[""]`, 1, []string{`script: errors[0]: an empty text would match any error`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", `+conv+`, "errors": `+c.errors+`}`)
			code, stdout, _ := parley(t, "", "test", script)
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestDefaultCaller: a test script run as a call without a "cli" or a
// contact URN has the caller parley simulate --call has, +15555550100.
func TestDefaultCaller(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "flow.json", `{"id": "f", "kind": "voice", "widgets": [
	  {"id": "hi", "type": "say", "text": "Caller $call.cli, contact @contact.urn"}]}`)
	const want = "Caller +15555550100, contact tel:+15555550100"
	if code, stdout, stderr := parley(t, "", "simulate", "--call", flow); code != 0 || stdout != want+"\n" {
		t.Errorf("simulate --call: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "call": true, "conversation": [{"expect": ["`+want+`"]}]}`)
	if code, stdout, _ := parley(t, "", "test", script); code != 0 {
		t.Errorf("test: exit %d:\n%s", code, stdout)
	}
}

// TestTurnLimitFlags: parley simulate and parley test take the turn limits
// parley serve takes, so a flow can be tried under a server's settings, and
// check them as serve does.
func TestTurnLimitFlags(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "v", "type": "set_variable", "name": "v", "value": "twenty bytes of text", "exits": {"Next": "say", "Failure": "no"}},
	  {"id": "say", "type": "send_message", "text": "ok"},
	  {"id": "no", "type": "send_message", "text": "too long"}]}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["ok"]}],
	  "errors": []}`)
	if code, stdout, _ := parley(t, "", "test", script); code != 0 {
		t.Errorf("default limits: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ := parley(t, "", "test", "--max-value", "10", script)
	if code != 1 || !strings.Contains(stdout, `over the 10-byte limit of a value (--max-value)`) {
		t.Errorf("--max-value 10: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = parley(t, "", "simulate", "--max-value", "10", flow)
	if code != 0 || !strings.Contains(stdout, "too long") {
		t.Errorf("simulate --max-value 10: exit %d:\n%s", code, stdout)
	}
	listFlow := writeFile(t, dir, "list.json", `{"id": "l", "widgets": [
	  {"id": "v", "type": "set_variable", "name": "v", "expression": "len(map(1..50, upper('abcd')))", "exits": {"Next": "say", "Failure": "no"}},
	  {"id": "say", "type": "send_message", "text": "ok"},
	  {"id": "no", "type": "send_message", "text": "too much"}]}`)
	for _, args := range [][]string{{"--max-expr-bytes", "100"}, {"--max-expr-items", "60"}} {
		code, stdout, _ = parley(t, "", append(append([]string{"simulate"}, args...), listFlow)...)
		if code != 0 || !strings.Contains(stdout, "too much") {
			t.Errorf("simulate %v: exit %d:\n%s", args, code, stdout)
		}
	}
	if code, stdout, _ := parley(t, "", "simulate", listFlow); code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("simulate with the default budgets: exit %d:\n%s", code, stdout)
	}
	if code, stdout, _ := parley(t, "", "test", "--max-path", "1", script); code != 0 {
		t.Errorf("test --max-path 1: exit %d:\n%s", code, stdout)
	}
	for _, args := range [][]string{{"simulate", "--max-steps", "0", flow}, {"test", "--turn-timeout", "0s", script}, {"test", "--max-value", "-1", script},
		{"simulate", "--max-path", "0", flow}, {"test", "--max-path", "-3", script}, {"simulate", "--max-expr-bytes", "0", flow},
		{"test", "--max-expr-items", "-1", script}} {
		code, _, stderr := parley(t, "", args...)
		if code != 2 || !strings.Contains(stderr, args[1]+": ") {
			t.Errorf("%v: exit %d, stderr %s", args, code, stderr)
		}
	}
}

// parley simulate --max-path keeps a session's path as short as parley serve
// would: a webhook sending RapidPro's body, which carries the path, gets the
// latest steps only.
func TestSimulateMaxPath(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Path []map[string]any }
		_ = json.NewDecoder(r.Body).Decode(&body)
		got = body.Path
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	flow := writeFile(t, t.TempDir(), "flow.json", `{"id": "f", "widgets": [
	  {"id": "hello", "type": "send_message", "text": "again?", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "rules": [{"type": "has_any_word", "args": ["stop"], "category": "Stop"}],
	   "exits": {"Stop": "hook", "Other": "hello"}},
	  {"id": "hook", "type": "webhook", "url": "`+srv.URL+`", "body_mode": "rapidpro", "exits": {"Success": "", "Failure": ""}}]}`)
	run := func(args ...string) []map[string]any {
		t.Helper()
		got = nil
		args = append([]string{"simulate", "--allow-cidr", "127.0.0.0/8"}, append(args, flow)...)
		if code, stdout, stderr := parley(t, "x\nx\nstop\n", args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return got
	}
	// hello and wait at the start and after each x, then hook: 7 steps.
	whole := run()
	if len(whole) != 7 {
		t.Fatalf("default --max-path: the webhook got %d steps, want 7", len(whole))
	}
	// The 3 steps kept at the end of the last turn before, and hook's own:
	// a path is cut when a turn ends.
	cut := run("--max-path", "3")
	if len(cut) != 4 {
		t.Fatalf("--max-path 3: the webhook got %d steps, want 4", len(cut))
	}
	for i, st := range cut {
		if w := whole[3+i]; st["node_uuid"] != w["node_uuid"] || st["exit_uuid"] != w["exit_uuid"] {
			t.Errorf("--max-path 3: step %d is %v, want %v", i, st, w)
		}
	}
}

// TestTestCommandConfiguredWebhooks: a flow whose webhook widget names a
// configured webhook is tested with the script's "webhooks" file or
// --webhooks (which adds to it and replaces a webhook of the same name); the
// mocks answer by the configured URL, and a file that does not load names
// itself and the entry at fault.
func TestTestCommandConfiguredWebhooks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flows/flow.json", `{"id": "f", "widgets": [
	  {"id": "lookup", "type": "webhook", "webhook": "crm", "exits": {"Success": "ok", "Failure": "bad"}},
	  {"id": "ok", "type": "send_message", "text": "Hello @extra.name", "exits": {"Next": ""}},
	  {"id": "bad", "type": "send_message", "text": "Lookup failed", "exits": {"Next": ""}}]}`)
	writeFile(t, dir, "webhooks.json", `{"webhooks": [{"name": "crm", "url": "https://crm.example.test/lookup",
	  "auth": {"type": "bearer", "token": "s3cret"}}]}`)
	other := writeFile(t, dir, "other.json", `[{"name": "crm", "url": "https://staging.example.test/lookup"}]`)
	bad := writeFile(t, dir, "bad.json", `{"webhooks": [{"name": "crm"}, {"name": "x", "url": "ftp://x"}]}`)
	const conv = `"conversation": [{"expect": ["Hello Ben"]}], "final_status": "completed"`
	const mocks = `"mocks": {"https://crm.example.test/lookup": [{"status": 200, "body": {"name": "Ben"}}],
	  "https://staging.example.test/lookup": [{"status": 500}]}`
	withFile := writeFile(t, dir, "flows/tests/file.test.json", `{"flow": "../flow.json", "webhooks": "../../webhooks.json", `+mocks+`, `+conv+`}`)
	without := writeFile(t, dir, "flows/tests/flag.test.json", `{"flow": "../flow.json", `+mocks+`, `+conv+`}`)
	badRef := writeFile(t, dir, "flows/tests/bad.test.json", `{"flow": "../flow.json", "webhooks": "../../bad.json", `+conv+`}`)

	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"not configured", []string{without}, 1, []string{`error event: webhook "crm" is not configured`}},
		{"script file", []string{withFile}, 0, []string{"ok   " + withFile}},
		{"flag", []string{"--webhooks", filepath.Join(dir, "webhooks.json"), without}, 0, []string{"ok   " + without}},
		// The flag's crm replaces the script's: its URL's mock answers 500.
		{"flag replaces", []string{"--webhooks", other, withFile}, 1, []string{
			`expected ["Hello Ben"], got ["Lookup failed"]`,
			"webhook lookup: POST https://staging.example.test/lookup → 500 failure"}},
		{"bad script file", []string{badRef}, 1, []string{
			badRef + ": webhooks file ../../bad.json (read from " + bad + `): webhooks[0] "crm": url: required`,
			badRef + ": webhooks file ../../bad.json (read from " + bad + `): webhooks[1] "x": url: "ftp://x" must start with http:// or https://`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, _ := parley(t, "", append([]string{"test"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, stdout)
				}
			}
		})
	}
	// A --webhooks file that does not load is a usage error naming the flag,
	// the file and each entry at fault.
	code, _, stderr := parley(t, "", "test", "--webhooks", bad, without)
	for _, w := range []string{
		"parley test: --webhooks: webhooks file " + bad + `: webhooks[0] "crm": url: required` + "\n",
		"parley test: --webhooks: webhooks file " + bad + `: webhooks[1] "x": url: "ftp://x" must start with http:// or https://` + "\n",
	} {
		if code != 2 || !strings.Contains(stderr, w) {
			t.Errorf("bad --webhooks: exit %d, stderr does not say %q:\n%s", code, w, stderr)
		}
	}
}

// TestEntry: the further lines of a multi-line failure or message are
// indented under its first, at any depth.
func TestEntry(t *testing.T) {
	for _, c := range []struct{ indent, text, want string }{
		{"", "one line", "one line"},
		{"", "Menu:\n1. Orders", "Menu:\n  1. Orders"},
		{"    ", "turn 1: error event: a\r\nb", "    turn 1: error event: a\n      b"},
		// A blank first or last line shows as ⏎, so that a message that
		// starts with a line break does not look like an empty message
		// before it, nor one that ends with one like nothing; a blank line
		// between two is left as it is.
		{"", "\nHello", "⏎\n  Hello"},
		{"", "Menu:\n\n1. Orders\n", "Menu:\n  \n  1. Orders\n  ⏎"},
		{"", "", "⏎"},
		{"", "\n", "⏎\n  ⏎"},
		{"    ", " \t\r\nb", "    ⏎\n      b"},
	} {
		if got := entry(c.indent, c.text); got != c.want {
			t.Errorf("entry(%q, %q) = %q, want %q", c.indent, c.text, got, c.want)
		}
	}
}

// TestTestCommandWebhooksFilePath: a script's webhooks file that does not
// load is named as the script writes it and, when that is not where it was
// read, by the path it was read from, exactly as docs/testing.md shows.
func TestTestCommandWebhooksFilePath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [{"id": "lookup", "type": "webhook", "webhook": "crm"}]}`)
	writeFile(t, dir, "webhooks.json", `{"webhooks": [{"name": "crm"}]}`)
	writeFile(t, dir, "tests/b.test.json", `{"flow": "../flow.json", "webhooks": "../webhooks.json", "conversation": [{"expect": []}]}`)
	writeFile(t, dir, "c.test.json", `{"flow": "flow.json", "webhooks": "webhooks.json", "conversation": [{"expect": []}]}`)
	t.Chdir(dir)
	for _, c := range []struct{ script, want string }{
		{"tests/b.test.json", "FAIL tests/b.test.json\n" +
			`    tests/b.test.json: webhooks file ../webhooks.json (read from webhooks.json): webhooks[0] "crm": url: required` + "\n" +
			"0 passed, 1 failed\n"},
		{"c.test.json", "FAIL c.test.json\n" +
			`    c.test.json: webhooks file webhooks.json: webhooks[0] "crm": url: required` + "\n" +
			"0 passed, 1 failed\n"},
	} {
		code, stdout, _ := parley(t, "", "test", c.script)
		if code != 1 || stdout != c.want {
			t.Errorf("parley test %s: exit %d, stdout\n%s\nwant\n%s", c.script, code, stdout, c.want)
		}
	}
}

// TestScriptResultsInOrder: the results a script gets wrong are listed by
// name, the same on every run.
func TestScriptResultsInOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "flow.json", `{"id": "f", "widgets": [
	  {"id": "a", "type": "set_variable", "name": "Alpha", "value": "1", "exits": {"Next": "b"}},
	  {"id": "b", "type": "set_variable", "name": "Bravo", "value": "2", "exits": {"Next": "c"}},
	  {"id": "c", "type": "set_variable", "name": "Charlie", "value": "3", "exits": {"Next": "d"}},
	  {"id": "d", "type": "set_variable", "name": "Delta", "value": "4", "exits": {"Next": "hi"}},
	  {"id": "hi", "type": "send_message", "text": "hi"}]}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["hi"]}],
	  "results": {"Delta": {"value": "x"}, "Bravo": {"value": "x"}, "Echo": {"value": "x"}, "Alpha": {"value": "x"}, "Charlie": {"value": "x"}}}`)
	want := "FAIL " + script + "\n" +
		`    result "Alpha": value "1", expected "x"` + "\n" +
		`    result "Bravo": value "2", expected "x"` + "\n" +
		`    result "Charlie": value "3", expected "x"` + "\n" +
		`    result "Delta": value "4", expected "x"` + "\n" +
		`    result "Echo": not saved` + "\n" +
		"0 passed, 1 failed\n"
	for run := 0; run < 10; run++ {
		code, stdout, _ := parley(t, "", "test", script)
		if code != 1 || stdout != want {
			t.Fatalf("run %d: exit %d, stdout:\n%s\nwant:\n%s", run, code, stdout, want)
		}
	}
}

// TestScriptResultOfSubflow: a script's results are the started flow's; a
// result only a subflow saved is said to be the subflow's, not missing.
func TestScriptResultOfSubflow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "child.json", `{"id": "child", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "C", "exits": {"Next": ""}}]}`)
	writeFile(t, dir, "parent.json", `{"id": "parent", "widgets": [
	  {"id": "sub", "type": "subflow", "flow": "child", "exits": {"Complete": "say", "Expired": ""}},
	  {"id": "say", "type": "send_message", "text": "child said @child.c.value", "exits": {"Next": "keep"}},
	  {"id": "keep", "type": "set_variable", "name": "Kept", "value": "@child.c.value"}]}`)
	script := writeFile(t, dir, "a.test.json", `{"flow": "parent.json", "conversation": [{"expect": []}, {"send": "hi", "expect": ["child said hi"]}],
	  "final_status": "completed", "results": {"C": {"value": "hi"}, "Kept": {"value": "hi"}, "Nope": {"value": "x"}}}`)
	code, stdout, _ := parley(t, "", "test", script)
	want := "FAIL " + script + "\n" +
		`    result "C": not saved by the started flow (a subflow saved it: the started flow reads it as @child.c)` + "\n" +
		`    result "Nope": not saved` + "\n" +
		"0 passed, 1 failed\n"
	if code != 1 || stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, stdout, want)
	}
}

// TestCallRefusesWaitWithoutTimeout: a messaging flow run as a call is a
// voice flow to the caller, and is refused as POST /v1/sessions refuses it
// when a wait_for_response of it has no timeout: by parley simulate --call
// (exit 2, as an invalid flow) and by a test script with "call": true.
func TestCallRefusesWaitWithoutTimeout(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "flow.json", `{"id": "chat", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Say something", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": ""}}]}`)
	const want = `flow "chat" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`
	code, stdout, stderr := parley(t, "1\n", "simulate", "--call", flow)
	if code != 2 || stdout != "" || !strings.Contains(stderr, flow+": "+want) {
		t.Errorf("simulate --call: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	// Without --call it runs.
	if code, stdout, stderr := parley(t, "hi\n", "simulate", flow); code != 0 || stdout != "Say something\n" {
		t.Errorf("simulate: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	script := writeFile(t, dir, "a.test.json", `{"flow": "flow.json", "call": true, "conversation": [{"expect": ["Say something"]}]}`)
	if code, stdout, _ := parley(t, "", "test", script); code == 0 || !strings.Contains(stdout, want) {
		t.Errorf("test with a call: exit %d:\n%s", code, stdout)
	}
	script = writeFile(t, dir, "b.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["Say something"]}]}`)
	if code, stdout, _ := parley(t, "", "test", script); code != 0 {
		t.Errorf("test without a call: exit %d:\n%s", code, stdout)
	}
}

// TestCallRefusesSubflowWaitWithoutTimeout: a flow run as a call that can
// enter a subflow beside it (a sibling file) whose wait_for_response has no
// timeout is refused, naming the subflow, the widget entering it and the
// subflow's widget and field: by parley simulate --call, by parley
// simulate of a voice flow, and by a test script of either.
func TestCallRefusesSubflowWaitWithoutTimeout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "chat.json", `{"id": "chat", "widgets": [
	  {"id": "hi", "type": "send_message", "text": "Say something", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": ""}}]}`)
	main := writeFile(t, dir, "main.json", `{"id": "main", "widgets": [{"id": "go", "type": "subflow", "flow": "chat", "exits": {"Complete": "", "Expired": ""}}]}`)
	ivr := writeFile(t, dir, "ivr.json", `{"id": "ivr", "kind": "voice", "widgets": [{"id": "go", "type": "subflow", "flow": "chat", "exits": {"Complete": "", "Expired": ""}}]}`)
	const tail = ` enters subflow "chat" (widget "go"): flow "chat" is a messaging flow, which a call runs as a voice flow: widget "wait": widgets[1].timeout: in a voice flow wait_for_response needs a timeout`
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{main, []string{"simulate", "--call", main}, `flow "main"` + tail},
		{ivr, []string{"simulate", ivr}, `flow "ivr"` + tail},
	} {
		if code, stdout, stderr := parley(t, "1\n", c.args...); code != 2 || stdout != "" || !strings.Contains(stderr, c.file+": "+c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %s", c.args, code, stdout, stderr)
		}
	}
	script := writeFile(t, dir, "a.test.json", `{"flow": "main.json", "call": true, "conversation": [{"expect": ["Say something"]}]}`)
	if code, stdout, _ := parley(t, "", "test", script); code == 0 || !strings.Contains(stdout, `flow "main"`+tail) {
		t.Errorf("test with a call: exit %d:\n%s", code, stdout)
	}
	// Without a call the messaging flow runs its subflow.
	if code, stdout, stderr := parley(t, "hi\n", "simulate", main); code != 0 || stdout != "Say something\n" {
		t.Errorf("simulate: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}
