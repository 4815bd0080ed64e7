package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

// sandboxWhoFlow says who its contact is, saves a field and waits; its answer
// says who it is again.
const sandboxWhoFlow = `{"id":"who","name":"Who","widgets":[
 {"id":"say","type":"send_message","text":"urn=@contact.urn name=@contact.name plan=@contact.fields.plan","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"user","name":"plan","value":"@flow.next","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":"bye"}},
 {"id":"bye","type":"send_message","text":"got @input name=@contact.name plan=@contact.fields.plan","exits":{"Next":""}}]}`

// TestAPISandboxSessionKeepsItsContactApart: a session started through
// POST /v1/sessions with environment sandbox has a test contact, as the
// simulator's sessions do: it does not read or change the live contact
// with its URN, does not interrupt that contact's waiting session on the
// channel, and the contact's messages on the channel go on resuming the
// live session, never the sandbox one. A second sandbox session of the
// URN on the channel interrupts the first; sessions are listed by URN
// apart.
func TestAPISandboxSessionKeepsItsContactApart(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(sandboxWhoFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"who"}`)
	ctx := context.Background()
	const urn = "tel:+12065553434"

	live := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "who", "channel": "web",
		"contact": map[string]any{"urn": urn, "name": "Ada", "fields": map[string]any{"plan": "gold"}}, "variables": map[string]any{"next": "gold"}})
	liveID := live["id"].(string)

	sb := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "who", "channel": "web", "environment": "sandbox",
		"contact": map[string]any{"urn": urn, "name": "Tester", "fields": map[string]any{"plan": "silver"}}, "variables": map[string]any{"next": "bronze"}})
	sbID := sb["id"].(string)
	if got := strings.Join(texts(sb), "|"); got != "urn=tel:+12065553434 name=Tester plan=silver" {
		t.Errorf("sandbox session said %q, want its own contact with the URN as given", got)
	}
	// A sandbox start without a name or fields does not see the live ones.
	sb2 := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "who", "channel": "web", "environment": "sandbox",
		"contact": map[string]any{"urn": urn}, "variables": map[string]any{"next": "copper"}})
	if got := strings.Join(texts(sb2), "|"); got != "urn=tel:+12065553434 name=Tester plan=bronze" {
		t.Errorf("second sandbox session said %q, want the test contact as the first one left it", got)
	}
	// ... and it took the first sandbox session's place on the channel,
	// not the live session's.
	for id, want := range map[string]flows.Status{liveID: flows.StatusWaiting, sbID: flows.StatusInterrupted, sb2["id"].(string): flows.StatusWaiting} {
		if sess, err := ts.srv.store.LoadSession(ctx, id); err != nil || sess.Status != want {
			t.Errorf("session %s: %v (err %v), want %s", id, sess, err, want)
		}
	}

	c, err := ts.srv.store.Contact(ctx, urn)
	if err != nil || c.Name != "Ada" || c.Fields["plan"] != "gold" {
		t.Errorf("live contact %+v (err %v), want Ada with plan gold as the live session left it", c, err)
	}
	tc, err := ts.srv.store.Contact(ctx, flows.SandboxContactPrefix+urn)
	if err != nil || tc.Name != "Tester" || tc.Fields["plan"] != "copper" {
		t.Errorf("test contact %+v (err %v), want Tester with plan copper under sim:", tc, err)
	}

	// The contact's message on the channel resumes the live session.
	r := ts.must(200, "POST", "/v1/channels/web/messages", map[string]any{"from": urn, "text": "hi", "id": "m1"})
	if r["id"] != liveID || r["status"] != "completed" || strings.Join(texts(r), "|") != "got hi name=Ada plan=gold" {
		t.Errorf("channel message from the live contact: %v, want the live session %s completed with its contact", r, liveID)
	}
	// The sandbox session is resumed by its id, with its test contact.
	r = ts.must(200, "POST", "/v1/sessions/"+sb2["id"].(string)+"/resume", map[string]any{"text": "yo"})
	if r["status"] != "completed" || strings.Join(texts(r), "|") != "got yo name=Tester plan=copper" {
		t.Errorf("sandbox session resumed: %v, want it completed with its test contact", r)
	}

	for _, tc := range []struct {
		contact string
		want    []string
	}{{urn, []string{liveID}}, {flows.SandboxContactPrefix + urn, []string{sbID, sb2["id"].(string)}}} {
		list := ts.must(200, "GET", "/v1/sessions?contact="+strings.ReplaceAll(tc.contact, "+", "%2B"), nil)["sessions"].([]any)
		var got []string
		for _, s := range list {
			got = append(got, s.(map[string]any)["id"].(string))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("?contact=%s lists %v, want %v", tc.contact, got, tc.want)
		}
	}
}

// A sandbox session on a call is found by its call's id, as a live one
// is, and is its test contact's: its turns take that contact's lock, so
// they wait for the test contact's other turns (not the live caller's); a
// retried request about the call (the same I-Twilio-Idempotency-Token) is
// answered again from what the first one recorded, without a second turn;
// and the live caller's contact is not the call's.
func TestAPISandboxCallRetriedRequest(t *testing.T) {
	ts, base := twilioCallServer(t, "ivr-menu", "")
	r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ivr-menu", "channel": "tw", "environment": "sandbox",
		"call": map[string]any{"id": "CA7", "from": "+15550001"}})
	id := callSessionID("tw", "CA7")
	if r["id"] != id {
		t.Fatalf("sandbox call's session %v, want %s", r["id"], id)
	}
	// The test contact is in another turn: the call's request waits for it.
	testKey := flows.SandboxContactPrefix + "tel:+15550001"
	held := ts.srv.svc.locks.lock(testKey, "")
	done := make(chan string, 1)
	go func() {
		_, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA7", "Digits", "9"), TwilioIdempotencyHeader, "tok-1")
		done <- body
	}()
	for ts.lockUsers(testKey) < 2 {
		select {
		case body := <-done:
			held.Unlock()
			t.Fatalf("the sandbox call's request was answered while its test contact's lock was held: %s", body)
		case <-time.After(time.Millisecond):
		}
	}
	held.Unlock()
	first := <-done
	if !strings.Contains(first, "<Say>Sorry, that is not an option.</Say>") {
		t.Fatalf("a wrong key answered %s", first)
	}
	if status, again := twilioPost(t, base, "/twilio/tw/voice", callForm("CA7", "Digits", "9"), TwilioIdempotencyHeader, "tok-1"); status != 200 || again != first {
		t.Errorf("a retry of the wrong key answered %d %s\nwant %s", status, again, first)
	}
	if n := ts.sessionInputs(t, id); n != 1 {
		t.Errorf("after one wrong key and its retry the session took %d inputs, want 1", n)
	}
	sess, err := ts.srv.store.LoadSession(context.Background(), id)
	if err != nil || !sess.SandboxContact || sess.Contact.URN != "tel:+15550001" {
		t.Errorf("sandbox call's session %+v (err %v), want the test contact tel:+15550001", sess, err)
	}
	if _, err := ts.srv.store.Contact(context.Background(), "tel:+15550001"); err == nil {
		t.Errorf("the live contact tel:+15550001 was stored by a sandbox call")
	}
}
