package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestScriptClock: a script runs at 2026-01-01 12:00 UTC whatever the day,
// for now, now() and today() alike, so its expectations hold tomorrow too.
func TestScriptClock(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flow.json", `{"id": "clock", "name": "Clock", "widgets": [
	  {"id": "m", "type": "send_message", "text": "@(today()) @(now().Hour()) @(now.Year())"}]}`)
	write("clock.test.json", `{"flow": "flow.json", "conversation": [{"expect": ["2026-01-01 12 2026"]}]}`)
	rep, err := sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, "clock.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("failures: %v", rep.Failures)
	}
}
