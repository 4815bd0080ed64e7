package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// panicWidget panics when a session reaches it, as a bug in a widget would.
type panicWidget struct{ flows.WidgetBase }

func (w *panicWidget) Validate(flows.Compiler) error   { return nil }
func (w *panicWidget) ExitNames() []string             { return nil }
func (w *panicWidget) Execute(flows.Run) flows.Outcome { panic("boom") }

var registerPanicWidget sync.Once

// usePanicWidget registers panicWidget as the type test_panic, once for
// every test of the binary: the commands use the registry of every widget.
func usePanicWidget() {
	registerPanicWidget.Do(func() {
		widgets.Registered().Register("test_panic", func() flows.Widget { return &panicWidget{} })
	})
}

// A turn that panics in parley simulate is reported in one line naming the
// widget, exit 1, instead of a Go crash with its goroutine dump.
func TestSimulatePanicIsAnInternalError(t *testing.T) {
	usePanicWidget()
	path := filepath.Join(t.TempDir(), "flow.json")
	flow := `{"id": "f", "widgets": [
	  {"id": "ask", "type": "send_message", "text": "Say something", "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": "b"}},
	  {"id": "b", "type": "test_panic"}]}`
	if err := os.WriteFile(path, []byte(flow), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "hi\nmore\n", "simulate", path)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if stdout != "Say something\n" {
		t.Errorf("stdout %q", stdout)
	}
	if want := "parley simulate: internal error in widget \"b\": boom\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

// A turn that panics in parley test fails its file with the panic in a
// line; the other files still run.
func TestTestCommandPanicFailsTheFile(t *testing.T) {
	usePanicWidget()
	dir := t.TempDir()
	writeFile(t, dir, "boom.json", `{"id": "boom", "widgets": [{"id": "b", "type": "test_panic"}]}`)
	writeFile(t, dir, "hi.json", `{"id": "hi", "widgets": [{"id": "a", "type": "send_message", "text": "hi"}]}`)
	boom := writeFile(t, dir, "a.test.json", `{"flow": "boom.json", "conversation": [{"expect": []}]}`)
	hi := writeFile(t, dir, "b.test.json", `{"flow": "hi.json", "conversation": [{"expect": ["hi"]}], "final_status": "completed"}`)
	code, stdout, _ := parley(t, "", "test", boom, hi)
	if want := "FAIL " + boom + "\n    internal error: boom\nok   " + hi + "\n1 passed, 1 failed\n"; code != 1 || stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 1 and:\n%s", code, stdout, want)
	}
}

// TestSimulateContactLanguage: --contact-language is read as the web
// simulator reads its test contact's language: fr is fra; one no
// translation could match is a usage error with the simulator's message,
// not a run in the base language.
func TestSimulateContactLanguage(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "hello.json", `{"id": "hello", "language": "eng", "widgets": [
	  {"id": "m", "type": "send_message", "text": "Hello", "translations": {"fra": {"text": "Bonjour"}}}]}`)
	for _, tc := range []struct {
		lang, stdout, stderr string
		code                 int
	}{
		{"fr", "Bonjour\n", "", 0},
		{" FRA ", "Bonjour\n", "", 0},
		{"", "Hello\n", "", 0},
		{"fr-FR", "", `parley simulate: --contact-language: contact language "fr-FR" is not an ISO 639-3 code (three lower-case letters): did you mean "fra"?` + "\n", 2},
		{"French", "", `parley simulate: --contact-language: contact language "French" is not an ISO 639-3 code (three lower-case letters, such as "eng" or "fra")` + "\n", 2},
	} {
		code, stdout, stderr := parley(t, "", "simulate", "--contact-language", tc.lang, flow)
		if code != tc.code || stdout != tc.stdout || (tc.code != 0 && stderr != tc.stderr) {
			t.Errorf("--contact-language %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q", tc.lang, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
}

// A byte-order mark at the start of parley simulate's input, as an editor or
// a Windows shell writes one, is no part of the first message: "oui" routes
// as "oui", and the message is saved without it. A mark later in the input
// is the contact's, kept. A parley test script that starts with one reads
// as a flow file does.
func TestSimulateSkipsByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	flow := writeFile(t, dir, "ask.json", `{"id": "ask", "widgets": [
	  {"id": "w", "type": "wait_for_response", "result": "answer",
	   "rules": [{"type": "has_only_text", "args": ["oui"], "category": "Oui"}], "exits": {"Oui": "yes", "Other": "no"}},
	  {"id": "yes", "type": "send_message", "text": "yes <@flow.answer.value>"},
	  {"id": "no", "type": "send_message", "text": "no <@flow.answer.value>", "exits": {"Next": "w"}}]}`)
	code, stdout, stderr := runCmd(t, "\ufeffoui\n", "simulate", flow)
	if code != 0 || stdout != "yes <oui>\n" {
		t.Errorf("input starting with a byte-order mark: exit %d, stdout %q (stderr %q), want 0 and %q", code, stdout, stderr, "yes <oui>\n")
	}
	code, stdout, _ = runCmd(t, "non\n\ufeffoui\n", "simulate", flow)
	if want := "no <non>\nno <\ufeffoui>\n"; code != 0 || stdout != want {
		t.Errorf("a mark on the second line: exit %d, stdout %q, want 0 and %q", code, stdout, want)
	}

	script := writeFile(t, dir, "ask.test.json", "\ufeff"+`{"flow": "ask.json", "conversation": [{"send": "oui", "expect": ["yes <oui>"]}], "final_status": "completed"}`)
	if code, stdout, stderr := parley(t, "", "test", script); code != 0 || stdout != "ok   "+script+"\n1 passed, 0 failed\n" {
		t.Errorf("a script starting with a byte-order mark: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// /expire in parley simulate expires the session as the server does when
// its expiry passes: the subflow's Expired exit, then the session itself.
func TestSimulateExpire(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"parent.json": `{"id": "parent", "widgets": [
		  {"id": "sub", "type": "subflow", "flow": "rating", "exits": {"Complete": "thanks", "Expired": "late"}},
		  {"id": "thanks", "type": "send_message", "text": "Thanks"},
		  {"id": "late", "type": "send_message", "text": "You went quiet", "exits": {"Next": "again"}},
		  {"id": "again", "type": "wait_for_response"}]}`,
		"rating.json": `{"id": "rating", "widgets": [
		  {"id": "ask", "type": "send_message", "text": "Rate us", "exits": {"Next": "wait"}},
		  {"id": "wait", "type": "wait_for_response"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCmd(t, "/expire\n/expire\n", "simulate", filepath.Join(dir, "parent.json"))
	if code != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if stdout != "Rate us\nYou went quiet\n" {
		t.Errorf("stdout %q", stdout)
	}
	if want := "session expired\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr %q, want it to end with %q", stderr, want)
	}
}
