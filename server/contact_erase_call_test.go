package server

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"go.etcd.io/bbolt"
)

// TestErasedCallerMidCall: a caller erased while their call goes on is not
// called back into the flow by the call's next request. A request that
// only comes mid-call (keys pressed at a gather, the redirect reporting
// its timeout) about a call that has no session is answered with a
// hang-up and stores nothing, for an erased caller's call as for any
// other; the first request of a call still starts it.
func TestErasedCallerMidCall(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	h := httpClient{t: t, base: base}
	ctx := context.Background()
	const hangup = "<Response><Hangup/></Response>"

	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CAE2", "CallStatus", "ringing")); status != 200 || !strings.Contains(body, "<Gather") {
		t.Fatalf("the call's first request: %d %s", status, body)
	}
	id := callSessionID("tw", "CAE2")
	h.must(200, "GET", "/v1/sessions/"+id, "")
	h.must(204, "DELETE", "/v1/contacts/tel:%2B15550001", "")

	for _, req := range []struct {
		path string
		form url.Values
	}{
		{"/twilio/tw/voice", callForm("CAE2", "Digits", "2")},
		{"/twilio/tw/voice", callForm("CAE2", "Digits", "")},
		{"/twilio/tw/voice", callForm("CAE2", "SpeechResult", "support")},
		{"/twilio/tw/voice?timeout=1&wait=1772366400000000000", callForm("CAE2")},
		{"/twilio/tw/voice?timeout=1", callForm("CAE2")},
		{"/twilio/tw/voice", callForm("CA-never-seen", "Digits", "1")},
	} {
		status, body := twilioPost(t, base, req.path, req.form)
		if status != 200 || !strings.HasSuffix(body, hangup) {
			t.Errorf("POST %s %s after the erasure: %d %s, want ...%s", req.path, req.form.Encode(), status, body, hangup)
		}
	}
	if status, m := h.call("POST", "/v1/channels/tw/calls/CAE2", `{"digits":"2"}`); status != 404 {
		t.Errorf("the calls API's digits after the erasure: %d %v, want 404", status, m)
	}
	for _, path := range []string{"/v1/sessions/" + id, "/v1/contacts/tel:%2B15550001"} {
		if status, m := h.call("GET", path, ""); status != 404 {
			t.Errorf("GET %s after the mid-call requests: %d %v, want 404", path, status, m)
		}
	}
	st, err := ts.srv.store.Stats(ctx)
	if err != nil || st.Contacts != 0 || st.Events != 0 || st.Timers != 0 || st.Processed != 0 {
		t.Errorf("the store after the mid-call requests: %+v %v, want nothing stored", st, err)
	}
	for status, n := range st.Sessions {
		if n != 0 {
			t.Errorf("%d sessions %s stored by the mid-call requests", n, status)
		}
	}

	// A call's first request still starts it.
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CAE3", "CallStatus", "ringing")); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Errorf("a new call's first request: %d %s, want the welcome", status, body)
	}
}

// TestErasedCallerFirstRequestResent: a caller erased while on the line
// is not greeted again when Twilio sends the call's first request once
// more (the same CallSid, no keys pressed, as its fallback URL gets it):
// the request is answered with a hang-up and stores nothing, and the calls
// API refuses to start that call again, for as long as the call could
// last (a day). Another call of the same number starts as any call does.
func TestErasedCallerFirstRequestResent(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	h := httpClient{t: t, base: base}
	const hangup = "<Response><Hangup/></Response>"
	first := callForm("CAE4", "CallStatus", "ringing")

	if status, body := twilioPost(t, base, "/twilio/tw/voice", first); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Fatalf("the call's first request: %d %s", status, body)
	}
	h.must(204, "DELETE", "/v1/contacts/tel:%2B15550001", "")

	for _, form := range []url.Values{first, callForm("CAE4")} {
		if status, body := twilioPost(t, base, "/twilio/tw/voice", form); status != 200 || !strings.HasSuffix(body, hangup) {
			t.Errorf("the call's first request (%s) sent again after the erasure: %d %s, want ...%s", form.Encode(), status, body, hangup)
		}
	}
	if status, m := h.call("POST", "/v1/channels/tw/calls", `{"call_id":"CAE4","from":"+15550001"}`); status != 409 ||
		!strings.Contains(fmt.Sprint(m), "was ended when its contact was erased") {
		t.Errorf("the calls API's start of the erased call: %d %v, want 409 saying its contact was erased", status, m)
	}
	for _, path := range []string{"/v1/sessions/" + callSessionID("tw", "CAE4"), "/v1/contacts/tel:%2B15550001"} {
		if status, m := h.call("GET", path, ""); status != 404 {
			t.Errorf("GET %s after the first request came again: %d %v, want 404", path, status, m)
		}
	}

	// Another call of the number is a new call.
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CAE5", "CallStatus", "ringing")); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Errorf("a new call of the erased caller: %d %s, want the welcome", status, body)
	}
	// No call lasts a day: by then the erased call's id is forgotten.
	ts.clock.Advance(callLifetime)
	if status, body := twilioPost(t, base, "/twilio/tw/voice", first); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Errorf("the erased call's id a day later: %d %s, want it started as a new call", status, body)
	}
}

// TestErasedCallAfterRestart: a call ended by its caller's erasure stays
// ended after the server restarts on the same data directory: Twilio
// sending the call's first request again (as its fallback URL gets it) is
// answered with a hang-up and stores nothing, and the calls API refuses
// to start the call. Once the call could no longer be going on, the
// server's pruning forgets it, and the file holds nothing of it.
func TestErasedCallAfterRestart(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	start := func() (*testServer, string) {
		ts := newTestServer(t, func(c *Config) {
			c.Examples = nil
			c.DataDir, c.Now = dir, clk.Now
			c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		return ts, ts.listen()
	}
	const hangup = "<Response><Hangup/></Response>"
	first := callForm("CAE6", "CallStatus", "ringing")

	ts, base := start()
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"ivr-menu","auth_token":"`+twilioTestToken+`"}`)
	if status, body := twilioPost(t, base, "/twilio/tw/voice", first); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Fatalf("the call's first request: %d %s", status, body)
	}
	httpClient{t: t, base: base}.must(204, "DELETE", "/v1/contacts/tel:%2B15550001", "")
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	ts, base = start()
	h := httpClient{t: t, base: base}
	if status, body := twilioPost(t, base, "/twilio/tw/voice", first); status != 200 || !strings.HasSuffix(body, hangup) {
		t.Errorf("the erased call's first request sent again after a restart: %d %s, want ...%s", status, body, hangup)
	}
	if status, m := h.call("POST", "/v1/channels/tw/calls", `{"call_id":"CAE6","from":"+15550001"}`); status != 409 ||
		!strings.Contains(fmt.Sprint(m), "was ended when its contact was erased") {
		t.Errorf("the calls API's start of the erased call after a restart: %d %v, want 409 saying its contact was erased", status, m)
	}
	for _, path := range []string{"/v1/sessions/" + callSessionID("tw", "CAE6"), "/v1/contacts/tel:%2B15550001"} {
		if status, m := h.call("GET", path, ""); status != 404 {
			t.Errorf("GET %s after the first request came again: %d %v, want 404", path, status, m)
		}
	}

	// A day after the call began, pruning forgets it.
	clk.Advance(callLifetime - time.Hour)
	ts.srv.svc.prune(context.Background())
	kept := -1
	err := ts.srv.store.(*store.Bolt).DB().View(func(tx *bbolt.Tx) error {
		kept = tx.Bucket([]byte("erased_calls")).Stats().KeyN
		return nil
	})
	if err != nil || kept != 0 {
		t.Errorf("erased calls kept after a day and a prune: %d %v, want none", kept, err)
	}
	if status, body := twilioPost(t, base, "/twilio/tw/voice", first); status != 200 || !strings.Contains(body, "Welcome to Parley Telecom.") {
		t.Errorf("the erased call's id a day later: %d %s, want it started as a new call", status, body)
	}
}
