package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
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

// bigVoiceFlow says three texts of 25,000 characters each, more than one
// answer's TwiML holds, then runs last (a widget with no exits beyond).
func bigVoiceFlow(last string) string {
	big := strings.TrimSpace(strings.Repeat("word ", 5000))
	ws := []map[string]any{}
	for i := range 3 {
		ws = append(ws, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "say", "text": big, "exits": map[string]any{"Next": fmt.Sprintf("s%d", i+1)}})
	}
	ws[2]["exits"] = map[string]any{"Next": "end"}
	var end map[string]any
	json.Unmarshal([]byte(last), &end)
	end["id"] = "end"
	doc, _ := json.Marshal(map[string]any{"id": "big", "name": "Big", "kind": "voice", "widgets": append(ws, end)})
	return string(doc)
}

// warnings are the messages of a session's warning events.
func (ts *testServer) warnings(id string) []string {
	var out []string
	for _, e := range ts.must(200, "GET", "/v1/sessions/"+id+"/events", nil)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "warning" {
			out = append(out, e["message"].(string))
		}
	}
	return out
}

// A turn that says its long goodbye and hangs up is answered with its
// prompts and <Hangup/>: what its TwiML leaves out is warned of, as on any
// other turn, though the hangup widget ended the call's state.
func TestTwilioTwiMLCutBeforeHangupIsWarned(t *testing.T) {
	ts, base := twilioCallServer(t, "big", bigVoiceFlow(`{"type":"hangup"}`))
	status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
	if status != 200 || len(body) > 64*1024 || !strings.HasSuffix(body, "<Hangup/></Response>") {
		t.Fatalf("answered %d with %d bytes of TwiML ending %q, want at most 65,536 ending <Hangup/>", status, len(body), body[max(0, len(body)-40):])
	}
	w := ts.warnings(callSessionID("tw", "CA1"))
	if len(w) != 1 || !strings.Contains(w[0], "11750") || !strings.Contains(w[0], `"s2"`) {
		t.Errorf("warnings %q, want one saying the prompts of widget s2 were left out (error 11750)", w)
	}
}

// A call on a Twilio channel driven through the calls API is answered in
// JSON, whose prompts are whole: no warning says they were left out of
// TwiML, on its first turn or a later one.
func TestCallsAPIOnTwilioChannelRecordsNoTwiMLWarning(t *testing.T) {
	ts, _ := twilioCallServer(t, "big", bigVoiceFlow(`{"type":"gather_digits","prompt":"Press 1.","num_digits":1,"timeout":5,"exits":{"Next":"s0","No Input":"","No Match":""}}`))
	r := ts.must(201, "POST", "/v1/channels/tw/calls", `{"call_id":"CA1","from":"+15550001"}`)
	r2 := ts.must(200, "POST", "/v1/channels/tw/calls/CA1", `{"digits":"1"}`)
	for i, r := range []map[string]any{r, r2} {
		n := 0
		for _, p := range r["prompts"].([]any) {
			s, _ := p.(map[string]any)["text"].(string)
			n += utf8.RuneCountInString(s)
		}
		if n != 3*24999+len("Press 1.") {
			t.Errorf("turn %d: JSON prompts of %d characters, want all %d", i+1, n, 3*24999+len("Press 1."))
		}
	}
	if w := ts.warnings(callSessionID("tw", "CA1")); len(w) != 0 {
		t.Errorf("warnings %q, want none: no TwiML answered the call", w)
	}
}

// A text whose sentences end in the full-width 。, ！ or ？ of Chinese and
// Japanese, each followed by a space, is cut between them, not at the
// spaces inside them.
func TestSayPartsFullWidthSentences(t *testing.T) {
	var b strings.Builder
	for i := range 600 {
		fmt.Fprintf(&b, "これは %03d 番目の文です%s ", i, []string{"。", "！", "？"}[i%3]) // 15 characters, two spaces inside, and one after
	}
	text := strings.TrimSpace(b.String())
	parts := sayParts(text)
	if len(parts) < 3 {
		t.Fatalf("%d parts for %d characters", len(parts), utf8.RuneCountInString(text))
	}
	for i, p := range parts[:len(parts)-1] {
		if last, _ := utf8.DecodeLastRuneInString(p); !strings.ContainsRune("。！？", last) || utf8.RuneCountInString(p) > 3000 {
			t.Errorf("part %d of %d characters ends %q: want a sentence's end", i, utf8.RuneCountInString(p), string([]rune(p)[utf8.RuneCountInString(p)-6:]))
		}
	}
	if strings.Join(parts, " ") != text {
		t.Error("the parts do not make the text")
	}
}

// A wait's timeout that the server fires itself, Twilio not having
// reported it, runs a turn whose prompts the call's next request is
// answered with as TwiML: what that TwiML leaves out is warned of, as on a
// turn Twilio's request runs. A call driven through the calls API, on the
// same Twilio channel, is answered in JSON and gets no such warning.
func TestTwilioTimerTurnOver64kBIsWarned(t *testing.T) {
	big := strings.TrimSpace(strings.Repeat("word ", 5000))
	ws := []map[string]any{{"id": "ask", "type": "wait_for_response", "timeout": 5, "exits": map[string]any{"Next": "", "Timeout": "s0"}}}
	for i := range 3 {
		ws = append(ws, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "say", "text": big, "exits": map[string]any{"Next": fmt.Sprintf("s%d", i+1)}})
	}
	ws[3]["exits"] = map[string]any{"Next": "end"}
	ws = append(ws, map[string]any{"id": "end", "type": "wait_for_response", "timeout": 5, "exits": map[string]any{"Next": "", "Timeout": ""}})
	doc, _ := json.Marshal(map[string]any{"id": "late", "name": "Late", "kind": "voice", "widgets": ws})
	ts, base := twilioCallServer(t, "late", string(doc))
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing")); status != 200 || !strings.Contains(body, "<Gather") {
		t.Fatalf("call start: %d %s", status, body)
	}
	ts.must(201, "POST", "/v1/channels/tw/calls", `{"call_id":"CA2","from":"+15550002"}`)
	// The fallback fires 5 s + the grace (15 s) after the wait began.
	ts.clock.Advance(21 * time.Second)
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 2 {
		t.Fatalf("scanTimers fired %d: %v", n, err)
	}
	w := ts.warnings(callSessionID("tw", "CA1"))
	if len(w) != 1 || !strings.Contains(w[0], "11750") || !strings.Contains(w[0], `"s2"`) {
		t.Errorf("warnings %q, want one saying the prompts of widget s2 were left out (error 11750)", w)
	}
	// Twilio's next request gets that turn's prompts, as cut.
	if status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1")); status != 200 || len(body) > 64*1024 || !strings.Contains(body, "<Say>word word") {
		t.Errorf("the next request answered %d with %d bytes of TwiML, want the turn's prompts in at most 65,536", status, len(body))
	}
	if w := ts.warnings(callSessionID("tw", "CA2")); len(w) != 0 {
		t.Errorf("calls API: warnings %q, want none: no TwiML answers the call", w)
	}
}

// A long text in Chinese or Japanese, which put no space after 。, ！ or ？,
// is said in parts that end a sentence, over a real HTTP server; so is one
// whose sentences end in the Devanagari danda । or ॥, the Arabic ؟ or the
// Urdu ۔; the SMS parts of a text without spaces end at its sentences too.
func TestTwilioSayCutsSentencesWithoutSpaces(t *testing.T) {
	var zh, hi strings.Builder
	for i := range 600 {
		fmt.Fprintf(&zh, "这是第%03d个句子，没有空格%s", i, []string{"。", "！", "？"}[i%3]) // 15 characters
		fmt.Fprintf(&hi, "यह वाक्य संख्या %03d है%s ", i, []string{"।", "॥", "؟", "۔"}[i%4])
	}
	for _, c := range []struct{ name, text, ends string }{
		{"chinese", zh.String(), "。！？"},
		{"danda and arabic", strings.TrimSpace(hi.String()), "।॥؟۔"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook := longTextServer(t, c.text)
			_, base := twilioCallServer(t, "long", `{"id":"long","name":"Long","kind":"voice","widgets":[
 {"id":"hook","type":"webhook","url":"`+hook+`","exits":{"Success":"say","Failure":""}},
 {"id":"say","type":"say","text":"@extra.text","exits":{"Next":""}}]}`)
			status, body := twilioPost(t, base, "/twilio/tw/voice", callForm("CA1", "CallStatus", "ringing"))
			if status != 200 {
				t.Fatalf("answered %d %.300s", status, body)
			}
			var parts []string
			for _, m := range sayRE.FindAllStringSubmatch(body, -1) {
				parts = append(parts, m[1])
			}
			if len(parts) < 3 {
				t.Fatalf("%d <Say> for %d characters, want at least 3", len(parts), utf8.RuneCountInString(c.text))
			}
			for i, p := range parts[:len(parts)-1] {
				if last, _ := utf8.DecodeLastRuneInString(p); !strings.ContainsRune(c.ends, last) || utf8.RuneCountInString(p) > 3000 {
					t.Errorf("<Say> %d of %d characters ends %q: want a sentence's end", i, utf8.RuneCountInString(p), string([]rune(p)[utf8.RuneCountInString(p)-6:]))
				}
			}
			if c.name != "chinese" {
				return // an SMS part ends at the last whitespace, as in any text with spaces
			}
			// The SMS parts of a text without spaces end at sentences too.
			sms := smsParts(c.text, twilioSMSMax)
			if len(sms) < 2 {
				t.Fatalf("%d SMS parts", len(sms))
			}
			for i, p := range sms[:len(sms)-1] {
				if last, _ := utf8.DecodeLastRuneInString(p); !strings.ContainsRune(c.ends, last) {
					t.Errorf("SMS part %d ends %q: want a sentence's end", i, string([]rune(p)[utf8.RuneCountInString(p)-6:]))
				}
			}
		})
	}
}
