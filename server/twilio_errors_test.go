package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// A Twilio number whose webhook is set to HTTP GET is told, 405 with Allow:
// POST, that Twilio's webhooks must be sent with POST.
func TestTwilioWebhookGETIsRefused(t *testing.T) {
	_, base := twilioCallServer(t, "ivr-menu", "")
	for _, path := range []string{"/twilio/tw/voice", "/twilio/tw/sms", "/twilio/tw/SMS", "/twilio/tw/voice/"} {
		resp, err := http.Get(base + path + "?CallSid=CA1&From=%2B15550001&CallStatus=ringing")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(b, &e)
		want := "GET " + path + ": Twilio's webhooks are taken with HTTP POST only; set the number's webhook (or the Messaging Service's) to HTTP POST"
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || e.Error.Code != CodeMethodNotAllowed || e.Error.Message != want {
			t.Errorf("GET %s: %d Allow %q %s\nwant 405 %s: %s", path, resp.StatusCode, resp.Header.Get("Allow"), b, CodeMethodNotAllowed, want)
		}
	}
}

// A call to a Twilio channel without a usable voice flow is answered with
// TwiML the caller hears, not a JSON error Twilio would announce as an
// application error, and is logged at warn naming the channel.
func TestTwilioCallWithoutVoiceFlow(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","auth_token":"`+twilioTestToken+`"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw2","type":"twilio","default_flow":"ask","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	want := `<Response><Say>Sorry, this number has no voice flow to answer calls with. Goodbye.</Say><Hangup/></Response>`
	for _, c := range []struct{ channel, says string }{
		{"tw", `channel \"tw\" has no voice_flow to answer calls with`},
		{"tw2", `channel \"tw2\" has no voice_flow, and its default_flow \"ask\" is a messaging flow`},
	} {
		status, body := twilioPost(t, base, "/twilio/"+c.channel+"/voice", callForm("CA1", "CallStatus", "ringing"))
		if status != 200 || !strings.HasSuffix(body, want) {
			t.Errorf("%s: %d %s\nwant ...%s", c.channel, status, body, want)
		}
		line := ""
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "channel="+c.channel+" ") {
				line = l
			}
		}
		if !strings.Contains(line, `level=WARN msg="twilio call answered without a flow`) || !strings.Contains(line, c.says) {
			t.Errorf("%s: logged %q, want a warning saying %s", c.channel, line, c.says)
		}
		if r := ts.do("GET", "/v1/sessions/"+callSessionID(c.channel, "CA1"), nil); r.Status != 404 {
			t.Errorf("%s: the call has a session: %d %s", c.channel, r.Status, r.Body)
		}
	}
	// Its hang-up is taken as any other.
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "completed")); status != 200 || !strings.HasSuffix(body, "<Response/>") {
		t.Errorf("hang-up: %d %s", status, body)
	}
}

// A form body written by hand with a bare "+" before a number (From=+1555...)
// would have the number read as " 1555...", another contact than the
// sender's: From, To and Caller so written are refused, 400 naming the
// parameter and how to write it, before any turn runs. Written %2B, or a
// space written %20, the request is taken.
func TestTwilioFormBarePlusRefused(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"ask","voice_flow":"ivr-menu"}`)
	post := func(path, body string) response {
		t.Helper()
		req := httptest.NewRequest("POST", "http://127.0.0.1"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return ts.send(req)
	}
	for _, c := range []struct{ path, body, field, says string }{
		{"/twilio/tw/sms", "From=+15550100100&Body=hi&MessageSid=SM1", "From",
			`From: a "+" in a form body is read as a space (" 15550100100"); write it as %2B: From=%2B15550100100`},
		{"/twilio/tw/sms", "Body=hi&To=+15550000&From=%2B15550100100&MessageSid=SM2", "To",
			`To: a "+" in a form body is read as a space (" 15550000"); write it as %2B: To=%2B15550000`},
		{"/twilio/tw/voice", "CallSid=CA1&From=+15550100100&CallStatus=ringing", "From", `From: a "+" in a form body`},
		{"/twilio/tw/voice", "CallSid=CA1&From=%2B15550100100&Caller=+15550100100&CallStatus=ringing", "Caller", `Caller: a "+" in a form body`},
	} {
		r := post(c.path, c.body)
		if r.Status != 400 {
			t.Errorf("%s %s: %d %s, want 400", c.path, c.body, r.Status, r.Body)
			continue
		}
		if e := r.errorOf(t); e["field"] != c.field || !strings.HasPrefix(e["message"].(string), c.says) {
			t.Errorf("%s %s: %v, want field %s saying %s", c.path, c.body, e, c.field, c.says)
		}
	}
	if list := ts.must(200, "GET", "/v1/sessions", nil)["sessions"].([]any); len(list) != 0 {
		t.Errorf("sessions after the refused requests: %v, want none", list)
	}
	// Encoded, the same message is the sender's; a "+" in another
	// parameter is a space, as the sender wrote it.
	if r := post("/twilio/tw/sms", "From=%2B15550100100&Body=hi+there&MessageSid=SM3"); r.Status != 200 {
		t.Errorf("From=%%2B...: %d %s", r.Status, r.Body)
	}
	// The body is read as it was sent: a space written %20 is not a "+".
	if err := plusInForm([]byte("From=%2015550100100&To=%2B1555&Caller=1+555&Body=+1")); err != nil {
		t.Errorf("plusInForm of a body without a bare + before a number: %v", err)
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550100100", nil)["sessions"].([]any)
	if len(list) != 1 {
		t.Errorf("sessions of tel:+15550100100: %v, want the one message's", list)
	}
}
