package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
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
