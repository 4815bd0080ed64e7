package rapidpro

import (
	"os"
	"strings"
	"testing"
)

// TestTriggersAndCampaignsReported: what started a flow in RapidPro (its
// triggers, its campaign events) is not carried over, and the report says
// so for each, under the flow's name, with what to configure in Parley.
func TestTriggersAndCampaignsReported(t *testing.T) {
	export, err := os.ReadFile("testdata/triggers.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Flows) != 1 || res.Flows[0].Failed {
		t.Fatalf("flows %+v, report:\n%s", res.Flows, res.Report)
	}
	id := res.Flows[0].ID
	want := []struct{ flow, where, has string }{
		{"Join", "triggers[0]", `add {"keyword":"join","flow":"` + id + `"} to the channel's "triggers" (PUT /v1/channels/CHANNEL)`},
		{"Join", "triggers[1]", `RapidPro matched only a message of the keyword alone`},
		{"Join", "triggers[1]", `RapidPro started it only for contacts in "Members": a Parley trigger starts it for everyone, so route on has_group`},
		{"Join", "triggers[2]", `set the channel's "default_flow" to "` + id + `"`},
		{"Join", "triggers[3]", `missed call trigger: Parley has no missed call trigger`},
		{"Other", "triggers[4]", `flow 22222222-2222-4222-8222-222222222222 "Other" is not in this export`},
		{"Join", "campaigns[0].events[0]", `campaign "Reminders": RapidPro started this flow for each contact of group "Mothers" at 09:00, 2 days before the date in their field "edd"; Parley has no campaigns`},
		{"Reminders", "campaigns[0].events[1]", `RapidPro sent the message "Hello" to each contact of group "Mothers" 1 week after`},
	}
	for _, w := range want {
		found := false
		for _, l := range res.Report.Lines {
			if l.Flow == w.flow && l.Where == w.where && l.Level == levelWarning && strings.Contains(l.Message, w.has) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning for %q at %s saying %q in:\n%s", w.flow, w.where, w.has, res.Report)
		}
	}

	// A trigger of a flow that did not import says so.
	broken := strings.Replace(string(export), `"type": "reply"`, `"type": "no_such_action"`, 1)
	res, err = Convert([]byte(broken), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Flows[0].Failed || !strings.Contains(res.Report.String(), `triggers[0]: keyword trigger "join"`) || !strings.Contains(res.Report.String(), `(flow "Join" did not import: import it first)`) {
		t.Errorf("report:\n%s", res.Report)
	}
}
