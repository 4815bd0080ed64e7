package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
)

// accountFlow greets the caller with the account number saved for the
// contact, asks for one and saves it as a contact field.
const accountFlow = `{"id":"account","name":"Account","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Caller $call.cli, account @contact.fields.account.","exits":{"Next":"ask"}},
 {"id":"ask","type":"gather_digits","prompt":"Enter your account.","num_digits":4,"result":"Entered","exits":{"Next":"save"}},
 {"id":"save","type":"set_variable","scope":"user","name":"account","value":"@flow.entered","exits":{"Next":"done"}},
 {"id":"done","type":"say","text":"Saved.","exits":{"Next":""}}]}`

// Callers whose number is withheld are each a contact of their own: one
// does not hear the account number another saved, whatever Twilio sends for
// the number, while the calls of a number not withheld share theirs.
func TestTwilioWithheldCallersShareNoContact(t *testing.T) {
	const token = "tw-auth-token"
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(accountFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"account","auth_token":"`+token+`"}`)

	call := func(sid, from, digits string) string {
		t.Helper()
		form := url.Values{"CallSid": {sid}, "From": {from}, "To": {"+15550000"}, "CallStatus": {"in-progress"}}
		if digits != "" {
			form.Set("Digits", digits)
		}
		r := twilioForm(ts, "/twilio/tw/voice", form, token)
		if r.Status != 200 {
			t.Fatalf("call %s from %q: %d %s", sid, from, r.Status, r.Body)
		}
		return string(r.Body)
	}
	for i, from := range []string{"Anonymous", "anonymous", "Restricted", "Unavailable", "Unknown", "+266696687", "+7378742833", "+2562533", "+8656696", "",
		"client:Anonymous", "CLIENT:anonymous", "sip:anonymous@anonymous.invalid", "SIP:Anonymous@Anonymous.Invalid",
		"sips:anonymous@anonymous.invalid;transport=tls", "sip:thisis@anonymous.invalid"} {
		// Two calls from each: the second must not hear what the first saved.
		for j := range 2 {
			sid := "CA-w" + string(rune('a'+i)) + string(rune('0'+j))
			greeting := call(sid, from, "")
			if want := "<Say>Caller " + from + ", account .</Say>"; !strings.Contains(greeting, want) {
				t.Errorf("call %d from %q answered %s, want %s: a withheld caller heard another's account", j+1, from, greeting, want)
			}
			if got := call(sid, from, fmt.Sprint(1200+i)); !strings.Contains(got, "<Say>Saved.</Say>") {
				t.Errorf("call %d from %q after its digits: %s", j+1, from, got)
			}
		}
	}

	// A number not withheld is one contact across its calls.
	call("CA-n1", "+15550001", "")
	call("CA-n1", "+15550001", "4321")
	if got := call("CA-n2", "+15550001", ""); !strings.Contains(got, "account 4321.") {
		t.Errorf("second call of +15550001: %s, want its saved account", got)
	}

	// The session of a withheld call is its own contact's, not tel:Anonymous.
	s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", "CA-wa0"), nil)
	contact, _ := s["contact"].(map[string]any)
	if urn, _ := contact["urn"].(string); urn != "withheld:"+callSessionID("tw", "CA-wa0") {
		t.Errorf("withheld call's contact %v, want withheld:<its session id>", contact)
	}
	// Its hang-up, with or without From, ends it.
	for _, sid := range []string{"CA-h1", "CA-h2"} {
		call(sid, "Anonymous", "")
		form := url.Values{"CallSid": {sid}, "CallStatus": {"completed"}}
		if sid == "CA-h1" {
			form.Set("From", "Anonymous")
		}
		if r := twilioForm(ts, "/twilio/tw/voice", form, token); r.Status != 200 {
			t.Fatalf("hang-up of %s: %d %s", sid, r.Status, r.Body)
		}
		if s := ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", sid), nil); s["status"] != "interrupted" {
			t.Errorf("withheld call %s after its hang-up: %v", sid, s["status"])
		}
	}
	if list := ts.must(200, "GET", "/v1/sessions?contact="+url.QueryEscape("tel:Anonymous"), nil); len(list["sessions"].([]any)) != 0 {
		t.Errorf("sessions of tel:Anonymous: %v, want none", list["sessions"])
	}
}

// The calls API and POST /v1/sessions make a withheld caller a contact of
// the call's own too, and no sender may take the scheme such contacts have.
func TestAPIWithheldCallersShareNoContact(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(accountFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"line","voice_flow":"account"}`)

	ts.must(201, "POST", "/v1/channels/line/calls", `{"call_id":"CA1","from":"Anonymous"}`)
	ts.must(200, "POST", "/v1/channels/line/calls/CA1", `{"digits":"1111"}`)
	r := ts.must(201, "POST", "/v1/channels/line/calls", `{"call_id":"CA2","from":"tel:Anonymous"}`)
	if got := texts(r); len(got) == 0 || got[0] != "Caller tel:Anonymous, account ." {
		t.Errorf("second withheld call through the calls API: %v", got)
	}
	r = ts.must(201, "POST", "/v1/sessions", `{"flow":"account","channel":"line","call":{"id":"CA3","from":"Anonymous"}}`)
	if got := texts(r); len(got) == 0 || got[0] != "Caller Anonymous, account ." {
		t.Errorf("withheld call through POST /v1/sessions: %v", got)
	}

	for _, req := range []struct{ path, body, field string }{
		{"/v1/channels/line/messages", `{"from":"withheld:` + callSessionID("line", "CA1") + `","text":"hi"}`, "from"},
		{"/v1/channels/line/calls", `{"call_id":"CA4","from":"Withheld:x"}`, "from"},
		{"/v1/sessions", `{"flow":"account","call":{"id":"CA5","from":"+1555"},"contact":{"urn":"withheld:x"}}`, "contact.urn"},
	} {
		resp := ts.do("POST", req.path, req.body)
		if resp.Status != 400 || resp.errorOf(t)["field"] != req.field || !strings.Contains(resp.errorOf(t)["message"].(string), "withheld") {
			t.Errorf("POST %s %s: %d %s, want 400 naming %s", req.path, req.body, resp.Status, resp.Body, req.field)
		}
	}
}

// The turns of two withheld callers do not wait for each other: a call
// whose turn is held up by a slow webhook leaves another withheld caller's
// call to be answered.
func TestTwilioWithheldCallersTakeNoCommonLock(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	defer close(release)
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(`{"id":"slow","name":"Slow","kind":"voice","widgets":[
 {"id":"hook","type":"webhook","url":"` + hook.URL + `","exits":{"Success":"hi","Failure":"hi"}},
 {"id":"hi","type":"say","text":"Hello.","exits":{"Next":""}}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"slow"}`)

	first := make(chan response, 1)
	go func() {
		first <- twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA-slow"}, "From": {"Anonymous"}, "CallStatus": {"ringing"}}, "")
	}()
	<-entered // the first call's turn is in its webhook, holding its locks
	second := make(chan response, 1)
	go func() {
		second <- twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA-next"}, "From": {"Anonymous"}, "CallStatus": {"ringing"}}, "")
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the second withheld call's turn did not start while the first one's ran: their turns share a lock")
	}
	release <- struct{}{}
	release <- struct{}{}
	for _, ch := range []chan response{first, second} {
		if r := <-ch; r.Status != 200 || !strings.Contains(string(r.Body), "<Say>Hello.</Say>") {
			t.Errorf("call answered %d %s", r.Status, r.Body)
		}
	}
}

// recallFlow saves the account a caller enters, asks again, and says the
// saved account on that later turn: the call's session carries it.
const recallFlow = `{"id":"recall","name":"Recall","kind":"voice","widgets":[
 {"id":"ask","type":"gather_digits","prompt":"Enter your account.","num_digits":4,"result":"Entered","exits":{"Next":"save"}},
 {"id":"save","type":"set_variable","scope":"user","name":"account","value":"@flow.entered","exits":{"Next":"again"}},
 {"id":"again","type":"gather_digits","prompt":"Press 1.","num_digits":1,"exits":{"Next":"tell"}},
 {"id":"tell","type":"say","text":"Account @contact.fields.account.","exits":{"Next":""}}]}`

// A withheld caller's contact is not stored: no request can name it again,
// so its row would stay forever. Its user keys last for the call, in the
// call's session, and once the sessions are pruned nothing of the callers
// is left.
func TestWithheldCallersStoreNoContact(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil; c.SessionRetention = time.Hour })
	ts.createFlow(recallFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"recall"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"line","voice_flow":"recall"}`)
	ctx := context.Background()
	call := func(sid, digits, status string) string {
		t.Helper()
		form := url.Values{"CallSid": {sid}, "From": {"Anonymous"}, "CallStatus": {status}}
		if digits != "" {
			form.Set("Digits", digits)
		}
		r := twilioForm(ts, "/twilio/tw/voice", form, "")
		if r.Status != 200 {
			t.Fatalf("call %s: %d %s", sid, r.Status, r.Body)
		}
		return string(r.Body)
	}
	var ids []string
	for i := range 5 {
		sid := fmt.Sprintf("CA%d", i)
		call(sid, "", "ringing")
		call(sid, fmt.Sprintf("100%d", i), "in-progress")
		if got, want := call(sid, "1", "in-progress"), fmt.Sprintf("<Say>Account 100%d.</Say>", i); !strings.Contains(got, want) {
			t.Errorf("call %s answered %s, want %s", sid, got, want)
		}
		ids = append(ids, callSessionID("tw", sid))
	}
	ts.must(201, "POST", "/v1/channels/line/calls", `{"call_id":"CA1","from":"Anonymous"}`)
	ts.must(200, "POST", "/v1/channels/line/calls/CA1", `{"digits":"2222"}`)
	if got := texts(ts.must(200, "POST", "/v1/channels/line/calls/CA1", `{"digits":"1"}`)); len(got) == 0 || got[0] != "Account 2222." {
		t.Errorf("withheld call through the calls API: %v", got)
	}
	ts.must(200, "POST", "/v1/channels/line/calls/CA1", `{"state":"completed"}`)
	r := ts.must(201, "POST", "/v1/sessions", `{"flow":"recall","call":{"id":"CA9","from":"Anonymous"}}`)
	ts.must(200, "POST", "/v1/sessions/"+r["id"].(string)+"/interrupt", nil)
	ids = append(ids, callSessionID("line", "CA1"), r["id"].(string))

	if st, err := ts.srv.store.Stats(ctx); err != nil || st.Contacts != 0 {
		t.Fatalf("after 7 withheld calls: %d contacts stored (%v), want none", st.Contacts, err)
	}
	ts.clock.Advance(2 * time.Hour)
	ts.srv.svc.prune(ctx)
	for _, id := range ids {
		if r := ts.do("GET", "/v1/sessions/"+id, nil); r.Status != 404 {
			t.Errorf("session %s after pruning: %d", id, r.Status)
		}
		if _, err := ts.srv.store.Contact(ctx, "withheld:"+id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("contact withheld:%s after pruning: %v, want none", id, err)
		}
	}
}

// Only the anonymous forms of a scheme are withheld callers: a SIP or
// client identity that names someone is that caller's contact.
func TestWithheldCallerForms(t *testing.T) {
	for from, want := range map[string]bool{
		"client:Anonymous": true, " Client: ANONYMOUS ": true, "client:alice": false, "client:": false,
		"sip:anonymous@anonymous.invalid": true, "sip:Anonymous@ANONYMOUS.INVALID;user=phone": true,
		"sips:anonymous@anonymous.invalid?Subject=x": true, "sip:thisis@anonymous.invalid": true,
		"sip:alice@example.com": false, "sip:anonymous@example.com": false, "sip:anonymous.invalid": false,
		"sip:x@anonymous.invalid.example.com": false, "tel:client:anonymous": false, "mailto:anonymous": false,
	} {
		if got := withheldCaller(from); got != want {
			t.Errorf("withheldCaller(%q) = %v, want %v", from, got, want)
		}
	}
}
