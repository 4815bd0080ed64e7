package sim_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// expect_quick_replies checks the quick replies of a turn's last message,
// exactly and in order; [] expects none, and a turn without it checks none.
func TestScriptExpectQuickReplies(t *testing.T) {
	dir := t.TempDir()
	flow := `{"id": "f", "widgets": [
	  {"id": "ask", "type": "send_message", "text": "Pick one", "quick_replies": ["Red", "Blue"], "exits": {"Next": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "result": "c", "exits": {"Next": "bye"}},
	  {"id": "bye", "type": "send_message", "text": "Bye"}]}`
	writeAll(t, dir, map[string]string{
		"f.json": flow,
		"ok.test.json": `{"flow": "f.json", "conversation": [
		  {"expect": ["Pick one"], "expect_quick_replies": ["Red", "Blue"]},
		  {"send": "Red", "expect": ["Bye"], "expect_quick_replies": []}]}`,
		"unchecked.test.json": `{"flow": "f.json", "conversation": [
		  {"expect": ["Pick one"]},
		  {"send": "Red", "expect": ["Bye"]}]}`,
		"bad.test.json": `{"flow": "f.json", "conversation": [
		  {"expect": ["Pick one"], "expect_quick_replies": ["Blue", "Red"]},
		  {"send": "Red", "expect": ["Bye"], "expect_quick_replies": ["Again"]}]}`,
	})
	for _, c := range []struct {
		script string
		want   []string
	}{
		{"ok.test.json", nil},
		{"unchecked.test.json", nil},
		{"bad.test.json", []string{
			`turn 1: expected quick replies ["Blue", "Red"], got ["Red", "Blue"]`,
			`turn 2 (send "Red"): expected quick replies ["Again"], got nothing`,
		}},
	} {
		rep, err := sim.RunScript(context.Background(), widgets.Registered(), filepath.Join(dir, c.script))
		if err != nil {
			t.Fatalf("%s: %v", c.script, err)
		}
		if !slices.Equal(rep.Failures, c.want) {
			t.Errorf("%s: failures %q, want %q", c.script, rep.Failures, c.want)
		}
	}
}
