package rapidpro

import (
	"fmt"
	"strings"
)

// waitRecording converts a wait_recording ruleset ("wait for a recording"
// in an IVR flow) into a record_voice widget. goflow migrates it to a wait
// for audio whose router tests @input, the recording's URL: its catch-all
// rule (All Responses) is the category every answer is saved with, a
// recording or nothing recorded, and where both go. The widget saves the
// URL as the result's value with that category (its categories) and takes
// the catch-all's way from either exit.
func (c *flowConv) waitRecording(rs ruleSet, where string) map[string]any {
	if c.f.FlowType != "V" {
		c.add(levelError, where, "wait_recording: waiting for a recording needs a call: the flow is not a voice flow (flow_type V)")
		return nil
	}
	out := c.rules(rs, where, true)
	// The catch-all named other than Other comes as a rule that always
	// matches: it is the widget's categories, not a rule.
	tests := 0
	for _, rc := range out.cases {
		if rc.Type == "expression" && len(rc.Args) == 1 && rc.Args[0] == "true" && rc.Category == out.otherCat {
			continue
		}
		tests++
		c.add(levelError, where, fmt.Sprintf("rule category %q tests the recording's URL, which Parley does not support here: route with a split after it", rc.Category))
	}
	if tests > 0 {
		return nil
	}
	w := c.newWidget(rs.UUID, "record_voice")
	c.result(w, rs)
	w["exits"] = map[string]string{}
	if out.hasOther {
		c.setExit(w, "Recording", out.other)
		c.setExit(w, "No Input", out.other)
		if cat := strings.TrimSpace(out.otherCat); cat != "" {
			cats := map[string]string{}
			for _, exit := range []string{"Recording", "No Input"} {
				if cat != exit {
					cats[exit] = cat
				}
			}
			if len(cats) > 0 {
				w["categories"] = cats
			}
		}
	}
	if out.hasTimeout {
		// A call's wait that times out has heard nothing: No Input.
		c.setExit(w, "No Input", out.timeoutDest)
		c.add(levelInfo, where, fmt.Sprintf("the timeout (category %q) is nothing recorded, the No Input exit: a recording's wait lasts as long as the recording may", out.timeoutCat))
	}
	return w
}
