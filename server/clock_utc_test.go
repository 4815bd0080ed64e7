package server

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The server's clock reads in UTC whatever the machine's time zone, as a
// flow's now does: a call's start ($call.start), on every entry point that
// starts a call, and a session's expiry in the API are UTC times, so a
// flow answers alike on any machine. The test clock gives New York's time.
func TestClockIsUTC(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.clock.mu.Lock()
	ts.clock.t = time.Date(2026, 12, 7, 3, 0, 57, 0, time.UTC).In(time.FixedZone("EST", -5*3600))
	ts.clock.mu.Unlock()
	ts.createFlow(`{"id":"when","name":"When","kind":"voice","widgets":[
 {"id":"hi","type":"say","text":"start @call.start hour @(call.start.Hour()) now @(now.Hour())","exits":{"Next":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"Press a key.","num_digits":1,"timeout":5,"exits":{"Next":"","No Input":"","No Match":""}}]}`)
	ts.createFlow(`{"id":"ask","name":"Ask","widgets":[{"id":"wait","type":"wait_for_response","result":"Answer"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"when","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()

	const want = "start 2026-12-07T03:00:57Z hour 3 now 3"
	for _, c := range []struct{ what, path, body string }{
		{"POST /v1/sessions", "/v1/sessions", `{"flow":"when","call":{"id":"c1","from":"+15550001"}}`},
		{"the calls endpoint", "/v1/channels/tw/calls", `{"call_id":"c2","from":"+15550002"}`},
		{"the simulator", "/v1/simulator/sessions", `{"flow":"when"}`},
	} {
		r := ts.do("POST", c.path, c.body)
		if r.Status/100 != 2 {
			t.Fatalf("%s: %d %s", c.what, r.Status, r.Body)
		}
		if got := texts(r.JSON(t)); !slices.Contains(got, want) {
			t.Errorf("%s: said %q, want %q", c.what, got, want)
		}
	}
	if _, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1")); !strings.Contains(body, want) {
		t.Errorf("Twilio's voice webhook: %s, want %q", body, want)
	}

	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"ask","contact":{"urn":"tel:+15550003"}}`)["id"].(string)
	s := ts.must(200, "GET", "/v1/sessions/"+id, nil)
	if s["expires"] != "2026-12-14T03:00:57Z" || s["created"] != "2026-12-07T03:00:57Z" {
		t.Errorf("created %v, expires %v, want both in UTC, 168h apart", s["created"], s["expires"])
	}
}
