package sim_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestScriptAbsolutePaths: a script's flow and webhooks file given as
// absolute paths are read where they are, not under the script's folder.
func TestScriptAbsolutePaths(t *testing.T) {
	flowDir, scriptDir := t.TempDir(), t.TempDir()
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flowPath := filepath.Join(flowDir, "flow.json")
	hooksPath := filepath.Join(flowDir, "webhooks.json")
	write(flowPath, `{"id": "abs", "widgets": [
	  {"id": "call", "type": "webhook", "webhook": "crm", "exits": {"Success": "ok", "Failure": "ko"}},
	  {"id": "ok", "type": "send_message", "text": "Hello @extra.name"},
	  {"id": "ko", "type": "send_message", "text": "failed"}]}`)
	write(hooksPath, `{"webhooks": [{"name": "crm", "url": "https://crm.example.com/contacts/@contact.tel", "method": "GET"}]}`)
	script := filepath.Join(scriptDir, "abs.test.json")
	write(script, `{"flow": `+quote(flowPath)+`, "webhooks": `+quote(hooksPath)+`,
	  "mocks": {"https://crm.example.com/contacts/*": [{"status": 200, "body": {"name": "Ben"}}]},
	  "conversation": [{"expect": ["Hello Ben"]}], "final_status": "completed"}`)
	rep, err := sim.RunScript(context.Background(), widgets.Registered(), script)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("failures: %v", rep.Failures)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestFlowGivenAsScript: a flow file run as a script is named as a flow,
// not reported field by field as an unknown script field.
func TestFlowGivenAsScript(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.json")
	if err := os.WriteFile(path, []byte(`{"id": "f", "widgets": [{"id": "a", "type": "send_message", "text": "hi"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sim.RunScript(context.Background(), widgets.Registered(), path)
	want := path + ` is a flow, not a test script (a *.test.json with "flow" and "conversation"): give its scripts, or try it with parley simulate ` + path
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
