package server

import (
	"strings"
	"testing"
)

// An audio or media URL that holds characters a URL cannot (a space from a
// variable, a quote, a letter outside ASCII) reaches Twilio escaped, as a
// browser sends it, and without the whitespace around it; an escape already
// in it is kept. Twilio does not fetch a URL with a bare space.
func TestTwilioPlayAndMediaURLsEscaped(t *testing.T) {
	ts, base := twilioCallServer(t, "hold", `{"id":"hold","name":"Hold","kind":"voice","start":"set","widgets":[
	 {"id":"set","type":"set_variable","name":"track","value":"Hold music","exits":{"Next":"p"}},
	 {"id":"p","type":"play","url":"https://cdn.example.com/@flow.track.mp3?who=Ann \"A\"","exits":{"Next":"q"}},
	 {"id":"q","type":"play","url":"https://cdn.example.com/already%20escaped.mp3","exits":{"Next":"g"}},
	 {"id":"g","type":"gather_digits","play":" https://cdn.example.com/menú <1>.wav\n","timeout":3,"exits":{"Next":"h","No Input":"h"}},
	 {"id":"h","type":"hangup"}]}`)
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	for _, want := range []string{
		`<Play>https://cdn.example.com/Hold%20music.mp3?who=Ann%20%22A%22</Play>`,
		`<Play>https://cdn.example.com/already%20escaped.mp3</Play>`,
		`<Gather action="/twilio/tw/voice" method="POST" timeout="3" finishOnKey="#"><Play>https://cdn.example.com/men%C3%BA%20%3C1%3E.wav</Play></Gather>`,
	} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("TwiML %d\n%s\nwant it to hold %s", status, body, want)
		}
	}

	ts.createFlow(`{"id":"pic","name":"Pic","widgets":[
	 {"id":"a","type":"send_message","text":"Here","attachments":["image/png:https://example.com/My Photo.png"]}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"sms","type":"twilio","default_flow":"pic","auth_token":"`+twilioTestToken+`"}`)
	status, body = twilioPost(t, base, "/twilio/sms/sms", smsForm("SM1", "hi"))
	if want := `<Media>https://example.com/My%20Photo.png</Media>`; status != 200 || !strings.Contains(body, want) {
		t.Errorf("SMS TwiML %d\n%s\nwant it to hold %s", status, body, want)
	}
}
