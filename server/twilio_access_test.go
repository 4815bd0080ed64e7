package server

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// /twilio/ serves only twilio channels, and on a server with API keys only
// those whose auth_token checks the signature: it must not be a way around
// the key /v1 asks for.
func TestTwilioRoutesAccess(t *testing.T) {
	const key = "k_0123456789abcdef"
	const token = "tw-auth-token"
	sms := url.Values{"From": {"+1999"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	call := url.Values{"CallSid": {"CA1"}, "From": {"+1999"}, "CallStatus": {"ringing"}}
	cases := []struct {
		name         string
		keys         bool
		channel      string
		path         string
		form         url.Values
		token        string
		status       int
		code, field  string
		says         string
		warnUnsigned bool
	}{
		{name: "api channel, keys", keys: true, channel: `{"id":"web","default_flow":"order-status"}`, path: "/twilio/web/sms", form: sms, status: 404, code: CodeNotFound, says: `channel "web" is of type "api": /twilio/ serves only channels of type twilio`},
		{name: "api channel, voice", keys: true, channel: `{"id":"web","voice_flow":"ivr-menu"}`, path: "/twilio/web/voice", form: call, status: 404, code: CodeNotFound, says: `channel "web" is of type "api"`},
		{name: "api channel, no keys", channel: `{"id":"web","default_flow":"order-status"}`, path: "/twilio/web/sms", form: sms, status: 404, code: CodeNotFound, says: `channel "web" is of type "api"`},
		{name: "twilio channel without auth_token, keys", keys: true, channel: `{"id":"tw","type":"twilio","default_flow":"order-status"}`, path: "/twilio/tw/sms", form: sms, status: 403, code: CodeForbidden, field: "auth_token", says: `channel "tw" has no auth_token`},
		{name: "twilio voice without auth_token, keys", keys: true, channel: `{"id":"tw","type":"twilio","voice_flow":"ivr-menu"}`, path: "/twilio/tw/voice", form: call, status: 403, code: CodeForbidden, field: "auth_token"},
		{name: "twilio channel with auth_token, keys", keys: true, channel: `{"id":"tw","type":"twilio","default_flow":"order-status","auth_token":"` + token + `"}`, path: "/twilio/tw/sms", form: sms, token: token, status: 200},
		{name: "twilio channel with auth_token, unsigned, keys", keys: true, channel: `{"id":"tw","type":"twilio","default_flow":"order-status","auth_token":"` + token + `"}`, path: "/twilio/tw/sms", form: sms, status: 403, code: CodeBadSignature},
		{name: "twilio channel without auth_token, no keys", channel: `{"id":"tw","type":"twilio","default_flow":"order-status"}`, path: "/twilio/tw/sms", form: sms, status: 200, warnUnsigned: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			ts := newTestServer(t, func(cfg *Config) {
				cfg.Examples = nil
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				if c.keys {
					cfg.APIKeys = []APIKey{{Name: "test", Key: key}}
				}
			})
			ts.must(201, "POST", "/v1/channels", c.channel)
			r := twilioForm(ts, c.path, c.form, c.token)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status != 200 {
				e := r.errorOf(t)
				if e["code"] != c.code || (c.field != "" && e["field"] != c.field) || !strings.Contains(e["message"].(string), c.says) {
					t.Errorf("error %v, want %s on %q saying %q", e, c.code, c.field, c.says)
				}
				// No session started for the sender.
				if got := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B1999", nil)["sessions"].([]any); len(got) != 0 {
					t.Errorf("sessions after the refused request: %v", got)
				}
			}
			warned := strings.Contains(logs.String(), "level=WARN msg=\"twilio webhook taken without a signature check") &&
				strings.Contains(logs.String(), "channel=tw")
			if warned != c.warnUnsigned {
				t.Errorf("warning logged: %v, want %v\n%s", warned, c.warnUnsigned, logs.String())
			}
		})
	}
}
