package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestScriptAttachments: a script sends a photo with /attach and a
// location with /location, which the flow routes and saves as a channel's
// message with those attachments.
func TestScriptAttachments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flow.json", `{"id": "meter", "name": "Meter", "widgets": [
	  {"id": "w", "type": "wait_for_response", "result": "Reading",
	   "rules": [{"type": "has_image", "category": "Photo"}, {"type": "has_location", "category": "Place"}],
	   "exits": {"Photo": "w2", "Place": "w2", "Other": "w2"}},
	  {"id": "w2", "type": "wait_for_response", "result": "Where",
	   "rules": [{"type": "has_location", "category": "Place"}], "exits": {"Place": "m", "Other": "m"}},
	  {"id": "m", "type": "send_message", "text": "@flow.reading.category @flow.reading, @flow.where.category @flow.where (@input.text)"}]}`)
	write("meter.test.json", `{"flow": "flow.json", "conversation": [
	  {"send": "/attach image/jpeg:https://example.com/meter.jpg", "expect": []},
	  {"send": "/location -1.2921,36.8219 at home", "expect": ["Photo https://example.com/meter.jpg, Place -1.2921,36.8219 (at home)"]}],
	 "final_status": "completed",
	 "results": {"Reading": {"value": "https://example.com/meter.jpg", "category": "Photo"}, "Where": {"value": "-1.2921,36.8219"}}}`)
	rep, err := sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, "meter.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("failures: %v", rep.Failures)
	}
}
