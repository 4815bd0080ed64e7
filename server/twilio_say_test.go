package server

import (
	"net/url"
	"strings"
	"testing"
)

// sayLanguagesFlow says one sentence in each of several spellings of a
// language, as flows imported from RapidPro (ISO 639-3) and hand-written
// flows (locales) give them.
const sayLanguagesFlow = `{"id":"say-langs","name":"Say languages","kind":"voice","widgets":[
 {"id":"eng","type":"say","text":"Hello.","language":"eng","exits":{"Next":"fra"}},
 {"id":"fra","type":"say","text":"Bonjour.","language":"fra","exits":{"Next":"por"}},
 {"id":"por","type":"say","text":"Olá.","language":"por","exits":{"Next":"cfr"}},
 {"id":"cfr","type":"say","text":"Allô.","language":"fr-CA","exits":{"Next":"gb"}},
 {"id":"gb","type":"say","text":"Cheers.","language":"en-gb","exits":{"Next":"xyz"}},
 {"id":"xyz","type":"say","text":"Unknown.","language":"xyz","exits":{"Next":"word"}},
 {"id":"word","type":"say","text":"Word.","language":"english","exits":{"Next":"none"}},
 {"id":"none","type":"say","text":"Default.","exits":{"Next":""}}]}`

// A say widget's language reaches Twilio as a locale its <Say> takes: an
// ISO 639-3 code is mapped, a locale is passed on, and a code Twilio would
// refuse is left out so the default voice speaks.
func TestTwilioSayLanguageIsALocale(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(sayLanguagesFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"say-langs"}`)

	r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA1"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "")
	want := `<Response><Say language="en-US">Hello.</Say><Say language="fr-FR">Bonjour.</Say><Say language="pt-BR">Olá.</Say>` +
		`<Say language="fr-CA">Allô.</Say><Say language="en-GB">Cheers.</Say><Say>Unknown.</Say><Say>Word.</Say><Say>Default.</Say><Hangup/></Response>`
	if body := string(r.Body); r.Status != 200 || !strings.HasSuffix(body, want) {
		t.Errorf("answered %d %s\nwant ...%s", r.Status, body, want)
	}
}

// A gather_digits widget's voice and language speak its prompts inside the
// <Gather>, re-prompts included, as a say widget's speak its text.
func TestTwilioGatherSaysInItsVoice(t *testing.T) {
	_, base := twilioCallServer(t, "fr-menu", `{"id":"fr-menu","name":"Menu","kind":"voice","widgets":[
 {"id":"hello","type":"say","text":"Bonjour.","voice":"Polly.Celine","language":"fr-FR","exits":{"Next":"menu"}},
 {"id":"menu","type":"gather_digits","prompt":"Tapez 1.","no_input_prompt":"Rien entendu.","voice":"Polly.Celine","language":"fra","num_digits":1,
  "exits":{"Next":"","No Input":"","No Match":""}}]}`)
	say := func(text string) string { return `<Say voice="Polly.Celine" language="fr-FR">` + text + `</Say>` }
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	want := `<Response>` + say("Bonjour.") +
		`<Gather action="/twilio/tw/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#">` + say("Tapez 1.") + `</Gather>`
	if status != 200 || !strings.Contains(body, want) {
		t.Errorf("first TwiML %d %s\nwant %s", status, body, want)
	}
	status, body = twilioPost(t, base, "/twilio/tw/voice?timeout=1", callForm("CA1"))
	want = `<Response><Gather action="/twilio/tw/voice" method="POST" timeout="5" numDigits="1" finishOnKey="#">` + say("Rien entendu.") + say("Tapez 1.") + `</Gather>`
	if status != 200 || !strings.Contains(body, want) {
		t.Errorf("re-prompt TwiML %d %s\nwant %s", status, body, want)
	}
}
