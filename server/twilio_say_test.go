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
 {"id":"xyz","type":"say","text":"Unknown.","language":"xyz","exits":{"Next":"fr"}},
 {"id":"fr","type":"say","text":"Salut.","language":"fr","exits":{"Next":"FR"}},
 {"id":"FR","type":"say","text":"Coucou.","language":"FR","exits":{"Next":"zh"}},
 {"id":"zh","type":"say","text":"你好。","language":"zh","exits":{"Next":"ptbr"}},
 {"id":"ptbr","type":"say","text":"Oi.","language":"pt_BR","exits":{"Next":"es419"}},
 {"id":"es419","type":"say","text":"Hola.","language":"es-419","exits":{"Next":"none"}},
 {"id":"none","type":"say","text":"Default.","exits":{"Next":""}}]}`

// A say widget's language reaches Twilio as a locale its <Say> takes: an
// ISO 639-3 code is mapped, and a two-letter code as a contact's language is
// read (fr as fra), a locale is passed on in its usual form (pt_BR as
// pt-BR), one of a region of digits (es-419) as its language's, and a code
// Twilio does not speak is left out so the default voice speaks.
func TestTwilioSayLanguageIsALocale(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.createFlow(sayLanguagesFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","voice_flow":"say-langs"}`)

	r := twilioForm(ts, "/twilio/tw/voice", url.Values{"CallSid": {"CA1"}, "From": {"+15550001"}, "CallStatus": {"ringing"}}, "")
	want := `<Response><Say language="en-US">Hello.</Say><Say language="fr-FR">Bonjour.</Say><Say language="pt-BR">Olá.</Say>` +
		`<Say language="fr-CA">Allô.</Say><Say language="en-GB">Cheers.</Say><Say>Unknown.</Say>` +
		`<Say language="fr-FR">Salut.</Say><Say language="fr-FR">Coucou.</Say><Say language="cmn-CN">你好。</Say>` +
		`<Say language="pt-BR">Oi.</Say><Say language="es-ES">Hola.</Say><Say>Default.</Say><Hangup/></Response>`
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

// A say or gather_digits widget whose language is no language code is
// refused when the flow is stored, naming the widget and the field, with
// the code it likely means, rather than said in Twilio's default voice.
func TestSayLanguageIsChecked(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	for _, c := range []struct{ id, widget, want string }{
		{"hi", `{"id":"hi","type":"say","text":"Hello.","language":"english","exits":{"Next":""}}`,
			`language "english" is not a language code (an ISO 639-3 code such as "fra", a two-letter code such as "fr", or a locale such as "fr-CA")`},
		{"menu", `{"id":"menu","type":"gather_digits","prompt":"Press 1.","language":"zh-Hans-CN","exits":{"Next":"","No Input":"","No Match":""}}`,
			`language "zh-Hans-CN" is not a language code (an ISO 639-3 code such as "fra", a two-letter code such as "fr", or a locale such as "fr-CA"): did you mean "zh-CN"?`},
	} {
		body := ts.must(422, "POST", "/v1/flows", `{"id":"v","name":"V","kind":"voice","widgets":[`+c.widget+`]}`)
		errs, _ := body["error"].(map[string]any)["errors"].([]any)
		if len(errs) != 1 {
			t.Fatalf("errors %v, want one", body)
		}
		e := errs[0].(map[string]any)
		if e["path"] != "widgets[0].language" || e["message"] != c.want || e["widget"] != c.id {
			t.Errorf("error %v, want widget %q at widgets[0].language: %s", e, c.id, c.want)
		}
	}
	for lang, want := range map[string]string{"english": "", "fr": "fr-FR", "fra": "fr-FR", "fre": "fr-FR", "GER": "de-DE", "pt_br": "pt-BR", "es-419": "es-ES", "sw": "", "xyz": ""} {
		if got := twilioSayLanguage(lang); got != want {
			t.Errorf("twilioSayLanguage(%q) = %q, want %q", lang, got, want)
		}
	}
}
