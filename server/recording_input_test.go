package server

import (
	"fmt"
	"net/netip"
	"testing"
)

// A recording is the call's last input: a photo sent earlier in the call
// (with the text of a wait_for_response, through the sessions API; a
// gather's keys take none) is no longer
// @input.attachments once the caller has recorded a message, so the
// webhook's default body after the recording carries the recording's URL
// as its text and no attachments, and the session shows none either.
func TestRecordingReplacesEarlierAttachments(t *testing.T) {
	hook := newMediaHook(t)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(`{"id":"vm","name":"Voicemail","kind":"voice","widgets":[
 {"id":"menu","type":"wait_for_response","timeout":60,"result":"Menu","exits":{"Next":"record","Timeout":""}},
 {"id":"record","type":"record_voice","prompt":"Leave your message after the beep.","result":"Message",
  "exits":{"Recording":"notify","No Input":""}},
 {"id":"notify","type":"webhook","method":"POST","url":"` + hook.URL + `/vm","exits":{"Success":"bye","Failure":"bye"}},
 {"id":"bye","type":"say","text":"Got @input [@input.attachments]","exits":{"Next":""}}]}`)
	base := ts.listen()

	st, r := postMessage(t, base+"/v1/sessions", `{"flow":"vm","contact":{"urn":"tel:+15550500"},"call":{"id":"CA-att"}}`)
	if st != 201 && st != 200 {
		t.Fatalf("start: %d %v", st, r)
	}
	id := r["id"].(string)
	resume := base + "/v1/sessions/" + id + "/resume"
	if st, r := postMessage(t, resume, `{"text":"1","attachments":["image/jpeg:https://media.example.com/p.jpg"]}`); st != 200 || r["status"] != "waiting" {
		t.Fatalf("text with a photo: %d %v", st, r)
	}
	const rec = "https://media.example.com/r1.wav"
	st, r = postMessage(t, resume, `{"recording_url":"`+rec+`","recording_duration":4}`)
	if st != 200 || fmt.Sprint(texts(r)) != "[Got "+rec+" []]" {
		t.Fatalf("recording: %d %v, want the recording as @input and no attachments", st, r)
	}
	calls := hook.received()
	if len(calls) != 1 {
		t.Fatalf("the webhook was called %d times, want once", len(calls))
	}
	if b := calls[0].Body; b["text"] != rec || b["attachments"] != nil {
		t.Errorf("webhook body text %v, attachments %v: want the recording's URL and no attachments", b["text"], b["attachments"])
	}
	vars := ts.must(200, "GET", "/v1/sessions/"+id, nil)["variables"].(map[string]any)
	if vars["input"] != rec || vars["attachments"] != nil {
		t.Errorf("session input %v, attachments %v: want the recording's URL and no attachments", vars["input"], vars["attachments"])
	}
}
