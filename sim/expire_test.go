package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// writeAll writes files (name: content) into dir.
func writeAll(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// /expire in a script expires the session as the server does when its
// expiry passes: inside a subflow, the subflow expires and the flow that
// entered it runs on from its Expired exit; at the top, the session ends as
// expired.
func TestScriptExpire(t *testing.T) {
	dir := t.TempDir()
	writeAll(t, dir, map[string]string{
		"parent.json": `{"id": "parent", "widgets": [
		  {"id": "sub", "type": "subflow", "flow": "rating", "exits": {"Complete": "thanks", "Expired": "late"}},
		  {"id": "thanks", "type": "send_message", "text": "Thanks"},
		  {"id": "late", "type": "send_message", "text": "You went quiet", "exits": {"Next": "again"}},
		  {"id": "again", "type": "wait_for_response", "result": "again"}]}`,
		"rating.json": `{"id": "rating", "expire_minutes": 30, "widgets": [
		  {"id": "ask", "type": "send_message", "text": "Rate us 1-5", "exits": {"Next": "wait"}},
		  {"id": "wait", "type": "wait_for_response", "result": "rating"}]}`,
		"expire.test.json": `{"flow": "parent.json", "conversation": [
		  {"expect": ["Rate us 1-5"]},
		  {"send": "/expire", "expect": ["You went quiet"]},
		  {"send": "/expire", "expect": []}
		], "final_status": "expired"}`,
		"bad.test.json": `{"flow": "parent.json", "conversation": [
		  {"expect": ["Rate us 1-5"]},
		  {"send": "/expire now", "expect": []}
		]}`,
	})
	rep, err := sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, "expire.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("failures: %q", rep.Failures)
	}
	rep, err = sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, "bad.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "/expire takes nothing after it") {
		t.Errorf("failures: %q, want /expire's argument refused", rep.Failures)
	}
}

// "//expire" is the text "/expire", not the command.
func TestExpireEscaped(t *testing.T) {
	dir := t.TempDir()
	writeAll(t, dir, map[string]string{
		"f.json": `{"id": "f", "widgets": [
		  {"id": "wait", "type": "wait_for_response", "result": "r", "exits": {"Next": "echo"}},
		  {"id": "echo", "type": "send_message", "text": "got @results.r"}]}`,
		"f.test.json": `{"flow": "f.json", "conversation": [
		  {"expect": []},
		  {"send": "//expire", "expect": ["got /expire"]}
		], "final_status": "completed"}`,
	})
	rep, err := sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, "f.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("failures: %q", rep.Failures)
	}
}
