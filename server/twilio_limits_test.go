package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// longTextServer answers every request with {"text": text}.
func longTextServer(t *testing.T, text string) string {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"text": text})
	}))
	t.Cleanup(hook.Close)
	return hook.URL
}

// sentences is n sentences of the same length, numbered.
func sentences(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "This is sentence number %05d of the answer.", i)
	}
	return b.String()
}

var sayRE = regexp.MustCompile(`<Say>([^<]*)</Say>`)

// A text longer than Twilio says in one <Say> is said by several, each of
// at most 3,000 characters, cut between sentences.
func TestTwilioLongSayIsSplit(t *testing.T) {
	text := sentences(500) // 21,999 characters
	hook := longTextServer(t, text)
	_, base := twilioCallServer(t, "long", `{"id":"long","name":"Long","kind":"voice","widgets":[
 {"id":"hook","type":"webhook","url":"`+hook+`","exits":{"Success":"say","Failure":""}},
 {"id":"say","type":"say","text":"@extra.text","exits":{"Next":""}}]}`)
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	if status != 200 || !strings.HasSuffix(body, "</Say><Hangup/></Response>") {
		t.Fatalf("answered %d %.300s", status, body)
	}
	var parts []string
	for _, m := range sayRE.FindAllStringSubmatch(body, -1) {
		parts = append(parts, m[1])
	}
	if len(parts) < 8 {
		t.Fatalf("%d <Say> for %d characters, want at least 8 of at most 3,000", len(parts), len(text))
	}
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > 3000 || i < len(parts)-1 && !strings.HasSuffix(p, "answer.") {
			t.Errorf("<Say> %d has %d characters and ends %q: want at most 3,000, ending a sentence", i, n, p[max(0, len(p)-20):])
		}
	}
	if got := strings.Join(parts, " "); got != text {
		t.Errorf("the <Say> verbs together say %d characters, want the %d of the text", len(got), len(text))
	}
}

// An answer whose TwiML would be over Twilio's 64 kB is cut: the gather's
// prompt is kept, the prompts that do not fit are left out, and a warning
// event says which.
func TestTwilioTwiMLOver64kBIsCut(t *testing.T) {
	hook := longTextServer(t, strings.Repeat("Fish & chips. ", 1500)) // 21,000 characters, 27,000 bytes as TwiML
	ts, base := twilioCallServer(t, "huge", `{"id":"huge","name":"Huge","kind":"voice","widgets":[
 {"id":"hook","type":"webhook","url":"`+hook+`","exits":{"Success":"one","Failure":""}},
 {"id":"one","type":"say","text":"@extra.text","exits":{"Next":"two"}},
 {"id":"two","type":"say","text":"@extra.text","exits":{"Next":"three"}},
 {"id":"three","type":"say","text":"@extra.text","exits":{"Next":"ask"}},
 {"id":"ask","type":"gather_digits","prompt":"Press 1.","num_digits":1,"exits":{"Next":"","No Input":"","No Match":""}}]}`)
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	if status != 200 || len(body) > 64*1024 {
		t.Fatalf("answered %d with %d bytes of TwiML, want at most 65,536", status, len(body))
	}
	if !strings.Contains(body, `finishOnKey="#"><Say>Press 1.</Say></Gather>`) || !strings.HasPrefix(body[strings.Index(body, "<Response>"):], "<Response><Say>Fish &amp; chips.") {
		t.Errorf("the cut TwiML lost the gather's prompt or the first prompt: %.200s ... %s", body, body[len(body)-300:])
	}
	var warning string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+callSessionID("tw", "CA1")+"/events", nil)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "warning" {
			warning, _ = e["message"].(string)
		}
	}
	if !strings.Contains(warning, "11750") || !strings.Contains(warning, `"three"`) || strings.Contains(warning, `"one"`) {
		t.Errorf("warning %q, want one saying the prompts of widget three were left out (error 11750)", warning)
	}
}

// A long text without sentences is cut between words, one without spaces
// between characters; a text that fits is said as it is.
func TestSayParts(t *testing.T) {
	words := strings.TrimSpace(strings.Repeat("word ", 1300)) // 6,499 characters
	for _, c := range []struct {
		name, text string
		parts      int
	}{
		{"words", words, 3},
		{"no spaces", strings.Repeat("é", 6001), 3},
		{"short", "Hello.  ", 1},
	} {
		got := sayParts(c.text)
		if len(got) != c.parts {
			t.Errorf("%s: %d parts, want %d", c.name, len(got), c.parts)
		}
		for i, p := range got {
			if n := utf8.RuneCountInString(p); n > 3000 || c.name == "words" && (strings.HasPrefix(p, " ") || strings.HasSuffix(p, " ") || !strings.HasSuffix(p, "word")) {
				t.Errorf("%s: part %d of %d characters: %.20q...%q", c.name, i, n, p, p[max(0, len(p)-10):])
			}
		}
		sep := " "
		if c.name != "words" {
			sep = ""
		}
		if strings.Join(got, sep) != c.text {
			t.Errorf("%s: the parts do not make the text", c.name)
		}
	}
}
