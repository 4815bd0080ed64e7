package server

import (
	"fmt"
	"testing"
	"time"
)

// A call's start shows in the session (GET /v1/sessions/{id}, which the
// simulator's variables read) as the flow sees it, to the second: not a
// time with a fraction that $call.start never renders.
func TestCallStartAsTheFlowSeesIt(t *testing.T) {
	at := time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC)
	ts := newTestServer(t, func(c *Config) { c.Now = func() time.Time { return at } })
	ts.must(201, "POST", "/v1/flows", `{"id":"cs","name":"Start","kind":"voice","widgets":[
		{"id":"s","type":"say","text":"@call.start"},
		{"id":"g","type":"gather_digits","prompt":"Press a key"}]}`)
	for _, c := range []struct{ path, body string }{
		{"/v1/sessions", `{"flow":"cs","call":{"id":"CA1","from":"+15551234567","to":"+18005550100"}}`},
		{"/v1/simulator/sessions", `{"flow":"cs","call":{"from":"+15551234567"}}`},
	} {
		started := ts.must(201, "POST", c.path, c.body)
		said := started["messages"].([]any)[0].(map[string]any)["text"]
		sess := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", started["id"]), nil)
		shown := sess["variables"].(map[string]any)["call"].(map[string]any)["start"]
		if said != "2026-05-04T10:00:00Z" || shown != said {
			t.Errorf("%s: the flow said %v, the session shows $call.start %v; want both 2026-05-04T10:00:00Z", c.path, said, shown)
		}
	}
}
