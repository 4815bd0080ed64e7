package server

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// A text longer than a part is split at whitespace past half the part,
// else at the last grapheme cluster that fits, counting UTF-16 code units.
func TestSMSParts(t *testing.T) {
	accents := "e" + strings.Repeat("\u0301", 12)
	cases := []struct {
		text string
		want []string
	}{
		{"short", []string{"short"}},
		{"exactly 10", []string{"exactly 10"}},
		{"aaaa bbbb cccc", []string{"aaaa bbbb", "cccc"}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"aaaaaa   bbbbbbb", []string{"aaaaaa", "bbbbbbb"}},
		// The only whitespace would leave a part under half: cut at the limit.
		{"ab cdefghijklm", []string{"ab cdefghi", "jklm"}},
		{strings.Repeat("a", 25), []string{strings.Repeat("a", 10), strings.Repeat("a", 10), "aaaaa"}},
		// An emoji is two units, and a surrogate pair is never cut.
		{"aaaaaaaaa😀b", []string{"aaaaaaaaa", "😀b"}},
		{"😀😀😀😀😀😀", []string{"😀😀😀😀😀", "😀"}},
		// A flag (two code points) and an accent stay with their cluster.
		{"aaaaaaaa🇫🇷", []string{"aaaaaaaa", "🇫🇷"}},
		{"aaaaaaaaae\u0301x", []string{"aaaaaaaaa", "e\u0301x"}},
		// One cluster longer than a part is cut between code points.
		{accents, []string{accents[:1+9*2], strings.Repeat("\u0301", 3)}},
		// Whitespace at the cut is dropped, none is sent alone.
		{"aaaaaaaaaa          ", []string{"aaaaaaaaaa"}},
	}
	for _, c := range cases {
		if got := smsParts(c.text, 10); !slices.Equal(got, c.want) {
			t.Errorf("smsParts(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// A reply over Twilio's 1,600 characters is answered as several <Message>
// verbs, the media with the first, over a real HTTP server.
func TestTwilioSMSSplitsLongText(t *testing.T) {
	long := strings.Repeat("x", 1598) + " yyyy " + strings.Repeat("z", 10)
	emoji := strings.Repeat("😀", 801)
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"long","name":"Long","widgets":[
	 {"id":"a","type":"send_message","text":"` + long + `","attachments":["image/png:https://example.com/a.png"],"exits":{"Next":"b"}},
	 {"id":"b","type":"send_message","text":"` + emoji + `","exits":{"Next":"c"}},
	 {"id":"c","type":"send_message","text":"` + strings.Repeat("w", 1600) + `"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"long","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm("SM1", "hi"))
	want := `<Response>` +
		`<Message><Body>` + strings.Repeat("x", 1598) + `</Body><Media>https://example.com/a.png</Media></Message>` +
		`<Message>yyyy zzzzzzzzzz</Message>` +
		`<Message>` + strings.Repeat("😀", 800) + `</Message><Message>😀</Message>` +
		`<Message>` + strings.Repeat("w", 1600) + `</Message></Response>`
	if status != 200 || !strings.HasSuffix(body, want) {
		t.Errorf("TwiML %d\n%s\nwant ...%s", status, body, want)
	}
}

// smsForm is an SMS of sid from +15550002 to +15550000, with more
// parameters as name, value pairs.
func smsForm(sid, body string, kv ...string) url.Values {
	f := url.Values{"MessageSid": {sid}, "From": {"+15550002"}, "To": {"+15550000"}, "Body": {body}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// An MMS's media is read: @input is its Body, then its media's URLs, one a
// line, as goflow's @input is, and @input.text its Body alone; a media-only
// MMS has the URL alone.
func TestTwilioMMSMediaIsRead(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(`{"id":"echo","name":"Echo","widgets":[{"id":"s","type":"send_message","text":"got [@input] [@input.text] [@input.attachments]"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"echo","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	const u = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
	media := []string{"NumMedia", "1", "MediaUrl0", u, "MediaContentType0", "image/jpeg"}
	for _, c := range []struct{ sid, body, want string }{
		{"MM1", "", "<Message>got [" + u + "] [] [image/jpeg:" + u + "]</Message>"},
		{"MM2", "look", "<Message>got [look&#xA;" + u + "] [look] [image/jpeg:" + u + "]</Message>"},
	} {
		status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm(c.sid, c.body, media...))
		if status != 200 || !strings.Contains(body, c.want) {
			t.Errorf("MMS with Body %q: %d %s\nwant %s", c.body, status, body, c.want)
		}
	}
}

// An attachment's URL keeps its scheme in any case, and loses only the
// content type before it.
func TestAttachmentURL(t *testing.T) {
	for a, want := range map[string]string{
		"https://example.com/a.jpg":            "https://example.com/a.jpg",
		"HTTPS://example.com/a.jpg":            "HTTPS://example.com/a.jpg",
		"Http://example.com/a.jpg":             "Http://example.com/a.jpg",
		"image/jpeg:https://example.com/a.jpg": "https://example.com/a.jpg",
		"image/jpeg:HTTPS://example.com/a.jpg": "HTTPS://example.com/a.jpg",
	} {
		if got := attachmentURL(a); got != want {
			t.Errorf("attachmentURL(%q) = %q, want %q", a, got, want)
		}
	}
}

// A message status callback (MessageStatus sent, delivered, failed ...),
// which Twilio posts about the messages it sent, to a Messaging Service's
// or a message's status callback URL set to the messaging webhook, is no
// message: it is answered <Response/> and starts or resumes no session,
// neither for its From (the channel's own number) nor for its To (the
// contact). An inbound message, SmsStatus received, is taken as ever.
func TestTwilioMessageStatusCallbackIsNoMessage(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"ask","auth_token":"`+twilioTestToken+`"}`)
	base := ts.listen()
	status, body := twilioPost(t, base, "/twilio/tw/sms", smsForm("SM1", "hi", "SmsStatus", "received"))
	if status != 200 || !strings.Contains(body, "What is your name?") {
		t.Fatalf("inbound message: %d %s", status, body)
	}
	waiting := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550002", nil)["sessions"].([]any)
	if len(waiting) != 1 {
		t.Fatalf("sessions of the sender: %v", waiting)
	}
	id := waiting[0].(map[string]any)["id"].(string)
	for _, st := range []string{"queued", "sent", "delivered", "undelivered", "failed", "read", "Delivered"} {
		f := url.Values{"MessageSid": {"SM2"}, "SmsSid": {"SM2"}, "MessageStatus": {st}, "SmsStatus": {st},
			"From": {"+15550000"}, "To": {"+15550002"}, "AccountSid": {"AC1"}, "ApiVersion": {"2010-04-01"}}
		status, body := twilioPost(t, base, "/twilio/tw/sms", f)
		if status != 200 || !strings.HasSuffix(body, "<Response/>") {
			t.Errorf("status callback %s: %d %s, want 200 <Response/>", st, status, body)
		}
	}
	if got := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550000", nil)["sessions"].([]any); len(got) != 0 {
		t.Errorf("a status callback started sessions for the channel's own number: %v", got)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "waiting" || ts.sessionInputs(t, id) != 1 {
		t.Errorf("the contact's session after status callbacks: %v, %d inputs; want waiting, 1", s["status"], ts.sessionInputs(t, id))
	}
	// Still signed: an unsigned one is refused.
	f := url.Values{"MessageSid": {"SM3"}, "MessageStatus": {"delivered"}, "From": {"+15550000"}, "To": {"+15550002"}}
	status, _ = twilioPost(t, base, "/twilio/tw/sms", f, TwilioSignatureHeader, "bad")
	if status != 403 {
		t.Errorf("status callback with a bad signature: %d, want 403", status)
	}
}
