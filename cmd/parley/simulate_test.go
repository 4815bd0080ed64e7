package main

import (
	"os"
	"path/filepath"
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

// A turn that panics in parley simulate is reported in one line naming the
// widget, exit 1, instead of a Go crash with its goroutine dump.
func TestSimulatePanicIsAnInternalError(t *testing.T) {
	registerPanicWidget.Do(func() {
		widgets.Registered().Register("test_panic", func() flows.Widget { return &panicWidget{} })
	})
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
