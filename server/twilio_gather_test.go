package server

import (
	"net/url"
	"strings"
	"testing"
)

// The prompts inside <Gather> are the gathering widget's own, found by
// where they are, not by the widget's id alone: a parent flow's widget with
// the id of a subflow's gather is said in its place, before the subflow's
// prompts.
func TestTwilioGatherPromptsKeepTheirOrder(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"pchild","name":"Child","kind":"voice","widgets":[
 {"id":"intro","type":"say","text":"Second: billing menu.","exits":{"Next":"ask"}},
 {"id":"ask","type":"gather_digits","prompt":"Third: press 1.","num_digits":1,"exits":{"Next":"","No Input":"","No Match":""}}]}`)
	ts.createFlow(`{"id":"pdirect","name":"Direct","kind":"voice","widgets":[
 {"id":"ask","type":"gather_digits","prompt":"Second: press 1.","num_digits":1,"exits":{"Next":"","No Input":"","No Match":""}}]}`)
	ts.createFlow(`{"id":"pparent","name":"Parent","kind":"voice","widgets":[
 {"id":"ask","type":"say","text":"First: welcome.","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"pchild","exits":{"Complete":"","Expired":""}}]}`)
	ts.createFlow(`{"id":"pnext","name":"Next","kind":"voice","widgets":[
 {"id":"ask","type":"say","text":"First: welcome.","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"pdirect","exits":{"Complete":"","Expired":""}}]}`)
	for _, c := range []struct{ flow, want string }{
		{"pparent", `<Response><Say>First: welcome.</Say><Say>Second: billing menu.</Say>GATHER<Say>Third: press 1.</Say></Gather>`},
		// The subflow's gather comes right after the parent's widget of
		// the same id: the parent's prompt is still said before it.
		{"pnext", `<Response><Say>First: welcome.</Say>GATHER<Say>Second: press 1.</Say></Gather>`},
	} {
		gather := `<Gather action="/twilio/` + c.flow + `/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#">`
		c.want = strings.ReplaceAll(c.want, "GATHER", gather)
		ts.must(201, "POST", "/v1/channels", `{"id":"`+c.flow+`","type":"twilio","voice_flow":"`+c.flow+`"}`)
		r := twilioForm(ts, "/twilio/"+c.flow+"/voice", url.Values{"CallSid": {"CA-" + c.flow}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "")
		if body := string(r.Body); r.Status != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s answered %d %s\nwant %s", c.flow, r.Status, body, c.want)
		}
	}
}
