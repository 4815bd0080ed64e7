package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// photoFlow waits for a photo or a location, routed by the media rules,
// then sends what came to a webhook and says what it saw.
func photoFlow(hook string) string {
	return `{"id":"photo","name":"Photo","widgets":[
 {"id":"ask","type":"send_message","text":"Send a photo of the meter, or your location","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Photo",
  "rules":[{"type":"has_image","category":"Photo"},{"type":"has_location","category":"Place"}],
  "exits":{"Photo":"hook","Place":"hook","Other":"again"}},
 {"id":"again","type":"send_message","text":"That was no photo: @input","exits":{"Next":"wait"}},
 {"id":"hook","type":"webhook","url":"` + hook + `/media?u=@flow.photo","method":"POST","result":"Upload","exits":{"Success":"done","Failure":"done"}},
 {"id":"done","type":"send_message","text":"@flow.photo.category @flow.photo (@input.text|@(len(input.attachments)))","exits":{"Next":""}}]}`
}

// mediaHook records what the flow's webhook received.
type mediaHook struct {
	*httptest.Server
	mu    sync.Mutex
	calls []hookCall
}

type hookCall struct {
	Query string
	Body  map[string]any
}

func newMediaHook(t *testing.T) *mediaHook {
	h := &mediaHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		h.mu.Lock()
		h.calls = append(h.calls, hookCall{Query: r.URL.Query().Get("u"), Body: body})
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *mediaHook) received() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// mediaServer serves photoFlow over a real HTTP server, on a channel web of
// the messages API and a Twilio channel tw, and returns its base URL.
func mediaServer(t *testing.T, mod func(*Config)) (*testServer, string, *mediaHook) {
	t.Helper()
	hook := newMediaHook(t)
	ts := newTestServer(t, func(c *Config) {
		c.Examples = nil
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		if mod != nil {
			mod(c)
		}
	})
	ts.createFlow(photoFlow(hook.URL))
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"photo"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"photo","auth_token":"`+twilioTestToken+`"}`)
	return ts, ts.listen(), hook
}

// postMessage posts body to the server over HTTP and returns the status and
// the decoded answer.
func postMessage(t *testing.T, target, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s: %d %s", target, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// A message of the messages API with a photo and no text resumes the wait,
// which routes it as a photo; the webhook gets the photo's URL (in the
// flow's URL and the default body's attachments), and the reply says it.
func TestMessagesAPIAttachments(t *testing.T) {
	_, base, hook := mediaServer(t, nil)
	msgs := base + "/v1/channels/web/messages"
	if st, r := postMessage(t, msgs, `{"from":"+15550100","id":"m1","text":"hi"}`); st != 200 || r["status"] != "waiting" {
		t.Fatalf("start: %d %v", st, r)
	}
	st, r := postMessage(t, msgs, `{"from":"+15550100","id":"m2","attachments":["image/jpeg:https://media.example.com/meter.jpg"]}`)
	const photo = "https://media.example.com/meter.jpg"
	if st != 200 || fmt.Sprint(texts(r)) != "[Photo "+photo+" (|1)]" || r["status"] != "completed" {
		t.Fatalf("photo: %d %v, want Photo and its URL, completed", st, r)
	}
	calls := hook.received()
	if len(calls) != 1 || calls[0].Query != photo || fmt.Sprint(calls[0].Body["attachments"]) != "[image/jpeg:"+photo+"]" {
		t.Fatalf("webhook got %+v, want the photo's URL and attachment", calls)
	}
	if res := calls[0].Body["results"].(map[string]any)["photo"].(map[string]any); res["value"] != photo || res["category"] != "Photo" {
		t.Errorf("webhook's results.photo %v", res)
	}

	// A location, with text: the text and the coordinates.
	postMessage(t, msgs, `{"from":"+15550101","id":"m3","text":"hi"}`)
	st, r = postMessage(t, msgs, `{"from":"+15550101","id":"m4","text":"here","attachments":["geo:-1.2921,36.8219"]}`)
	if st != 200 || fmt.Sprint(texts(r)) != "[Place -1.2921,36.8219 (here|1)]" {
		t.Fatalf("location: %d %v", st, r)
	}
	// Text alone is no photo.
	postMessage(t, msgs, `{"from":"+15550102","id":"m5","text":"hi"}`)
	if _, r = postMessage(t, msgs, `{"from":"+15550102","id":"m6","text":"later"}`); fmt.Sprint(texts(r)) != "[That was no photo: later]" {
		t.Fatalf("text: %v", r)
	}
}

// A Twilio MMS (NumMedia, MediaUrl0, MediaContentType0), signed as Twilio
// signs it, resumes the wait with its media; a WhatsApp location
// (Latitude, Longitude) is a geo: attachment.
func TestTwilioMediaAndLocation(t *testing.T) {
	ts, base, hook := mediaServer(t, nil)
	target := base + "/twilio/tw/sms"
	post := func(form url.Values) (int, string) {
		return postTwilio(t, target, officialTwilioSignature(twilioTestToken, target, form), form)
	}
	form := url.Values{"From": {"+15550200"}, "To": {"+15559999"}, "Body": {"hi"}, "MessageSid": {"SM1"}, "NumMedia": {"0"}}
	if st, body := post(form); st != 200 || !strings.Contains(body, "Send a photo of the meter") {
		t.Fatalf("start: %d %s", st, body)
	}
	const photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME1"
	form = url.Values{"From": {"+15550200"}, "To": {"+15559999"}, "Body": {""}, "MessageSid": {"MM2"}, "NumMedia": {"2"},
		"MediaUrl0": {photo}, "MediaContentType0": {"image/jpeg"},
		"MediaUrl1": {"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2"}, "MediaContentType1": {"application/pdf"}}
	st, body := post(form)
	if st != 200 || !strings.Contains(body, "<Message>Photo "+photo+" (|2)</Message>") {
		t.Fatalf("MMS: %d %s", st, body)
	}
	if calls := hook.received(); len(calls) != 1 || calls[0].Query != photo {
		t.Fatalf("webhook got %+v, want the photo's URL", calls)
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550200", nil)["sessions"].([]any)
	sess := ts.must(200, "GET", "/v1/sessions/"+list[0].(map[string]any)["id"].(string), nil)
	if got := fmt.Sprint(sess["variables"].(map[string]any)["attachments"]); got != "[image/jpeg:"+photo+" application/pdf:https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2]" {
		t.Errorf("the session does not show the attachments: %v", sess)
	}

	form = url.Values{"From": {"whatsapp:+15550201"}, "Body": {"hi"}, "MessageSid": {"SM3"}}
	post(form)
	form = url.Values{"From": {"whatsapp:+15550201"}, "Body": {""}, "MessageSid": {"SM4"}, "Latitude": {"51.5072"}, "Longitude": {"-0.1276"}, "Address": {"London"}}
	if st, body := post(form); st != 200 || !strings.Contains(body, "<Message>Place 51.5072,-0.1276 (|1)</Message>") {
		t.Fatalf("location: %d %s", st, body)
	}
}

// Attachments that are not CONTENT-TYPE:URL, too many or too long are
// refused naming the field and index, and nothing of the message is stored:
// its id is not taken for a repeat when it is sent again, corrected.
func TestAttachmentErrors(t *testing.T) {
	ts, base, _ := mediaServer(t, func(c *Config) { c.MaxAttachments = 2; c.MaxAttachmentLength = 80 })
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550300","id":"e0","text":"hi"}`)
	msg := func(atts string) string {
		return `{"from":"+15550300","id":"e1","attachments":` + atts + `}`
	}
	ts.expectErrors(t, []apiErrorCase{
		{"a URL without its content type", "POST", "/v1/channels/web/messages", msg(`["https://example.com/p.jpg"]`), 400, CodeInvalidField, "attachments[0]"},
		{"the second not a URL", "POST", "/v1/channels/web/messages", msg(`["image/png:https://example.com/p.png","image/png:p.png"]`), 400, CodeInvalidField, "attachments[1]"},
		{"a location out of range", "POST", "/v1/channels/web/messages", msg(`["geo:95,10"]`), 400, CodeInvalidField, "attachments[0]"},
		{"too many", "POST", "/v1/channels/web/messages", msg(`["geo:1,2","geo:1,2","geo:1,2"]`), 400, CodeInvalidField, "attachments[2]"},
		{"too long", "POST", "/v1/channels/web/messages", msg(`["image/png:https://example.com/` + strings.Repeat("a", 80) + `"]`), 400, CodeInvalidField, "attachments[0]"},
		{"not a list", "POST", "/v1/channels/web/messages", msg(`"image/png:https://example.com/p.png"`), 400, CodeInvalidField, "attachments"},
	})
	r := ts.do("POST", "/v1/channels/web/messages", msg(`["image/png:https://example.com/p.png","image/png:p.png"]`))
	if m := fmt.Sprint(r.errorOf(t)["message"]); !strings.Contains(m, `attachments[1]: attachment "image/png:p.png": the URL after the content type "image/png" must be an http:// or https:// URL`) {
		t.Errorf("message %q", m)
	}
	r = ts.do("POST", "/v1/channels/web/messages", msg(`["geo:1,2","geo:1,2","geo:1,2"]`))
	if m := fmt.Sprint(r.errorOf(t)["message"]); !strings.Contains(m, "3 attachments, over the limit of 2 (--max-attachments, PARLEY_MAX_ATTACHMENTS)") {
		t.Errorf("message %q", m)
	}
	// A batch names the message too.
	replies := ts.batchReplies("web", 1, `{"messages":[{"from":"+15550301","attachments":["x"]}]}`)
	if e, _ := replies[0]["error"].(map[string]any); e == nil || e["field"] != "messages[0].attachments[0]" {
		t.Errorf("batch reply %v, want an error at messages[0].attachments[0]", replies[0])
	}
	// The refused message left nothing: sent again, corrected, it is a new
	// message that resumes the wait.
	r = ts.do("POST", "/v1/channels/web/messages", msg(`["image/png:https://example.com/p.png"]`))
	if got := texts(r.JSON(t)); fmt.Sprint(got) != "[Photo https://example.com/p.png (|1)]" {
		t.Errorf("corrected message: %s", r.Body)
	}

	// Twilio's parameters are named.
	target := base + "/twilio/tw/sms"
	for _, c := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"From": {"+15550302"}, "MessageSid": {"MM9"}, "NumMedia": {"1"}, "MediaUrl0": {"https://example.com/p"}}, "MediaContentType0"},
		{url.Values{"From": {"+15550302"}, "MessageSid": {"MM9"}, "NumMedia": {"2"}, "MediaUrl0": {"https://example.com/p"}, "MediaContentType0": {"image/png"}}, "MediaUrl1"},
		{url.Values{"From": {"+15550302"}, "MessageSid": {"MM9"}, "NumMedia": {"1"}, "MediaUrl0": {"ftp://example.com/p"}, "MediaContentType0": {"image/png"}}, "MediaUrl0"},
		{url.Values{"From": {"+15550302"}, "MessageSid": {"MM9"}, "NumMedia": {"x"}}, "NumMedia"},
		{url.Values{"From": {"+15550302"}, "MessageSid": {"MM9"}, "Latitude": {"1"}}, "Latitude"},
	} {
		st, body := postTwilio(t, target, officialTwilioSignature(twilioTestToken, target, c.form), c.form)
		if st != 400 || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("%v: %d %s, want 400 naming %s", c.form, st, body, c.field)
		}
	}
}

// A message with attachments sent again with the same id (a channel's
// retry) gets the first reply: the flow does not run again, its webhook is
// not called again, and its message_in is logged once, with the attachments.
func TestAttachmentsRetriedMessage(t *testing.T) {
	ts, base, hook := mediaServer(t, nil)
	msgs := base + "/v1/channels/web/messages"
	_, first := postMessage(t, msgs, `{"from":"+15550400","id":"d1","text":"hi"}`)
	const m = `{"from":"+15550400","id":"d2","attachments":["image/jpeg:https://media.example.com/a.jpg"]}`
	_, r1 := postMessage(t, msgs, m)
	_, r2 := postMessage(t, msgs, m)
	// Even with other attachments, the id is the message's.
	_, r3 := postMessage(t, msgs, `{"from":"+15550400","id":"d2","attachments":["geo:1,2"]}`)
	if fmt.Sprint(r1) != fmt.Sprint(r2) || fmt.Sprint(r1) != fmt.Sprint(r3) || fmt.Sprint(texts(r1)) != "[Photo https://media.example.com/a.jpg (|1)]" {
		t.Fatalf("replies differ:\n%v\n%v\n%v", r1, r2, r3)
	}
	if n := len(hook.received()); n != 1 {
		t.Errorf("the webhook was called %d times, want once", n)
	}
	evs := ts.must(200, "GET", "/v1/sessions/"+first["id"].(string)+"/events", nil)["events"].([]any)
	var ins []string
	for _, e := range evs {
		if e := e.(map[string]any); e["type"] == "message_in" {
			ins = append(ins, fmt.Sprintf("%v %v", e["text"], e["attachments"]))
		}
	}
	if strings.Join(ins, "|") != "hi <nil>|<nil> [image/jpeg:https://media.example.com/a.jpg]" {
		t.Errorf("message_in events %q, want hi and the photo once", ins)
	}
}

// An attachment given as null is refused as a value of the wrong kind,
// naming its place: on the messages API, in a batch (that message only) and
// on a session's resume.
func TestAttachmentNull(t *testing.T) {
	ts, _, _ := mediaServer(t, nil)
	ts.expectErrors(t, []apiErrorCase{
		{"messages", "POST", "/v1/channels/web/messages", `{"from":"+15550310","attachments":["geo:1,2",null]}`, 400, CodeInvalidField, "attachments[1]"},
	})
	r := ts.do("POST", "/v1/channels/web/messages", `{"from":"+15550310","attachments":[null]}`)
	if m := fmt.Sprint(r.errorOf(t)["message"]); m != "attachments[0]: expected a string, got JSON null" {
		t.Errorf("message %q", m)
	}
	replies := ts.batchReplies("web", 2, `{"messages":[{"from":"+15550311","text":"hi"},{"from":"+15550312","attachments":[null]}]}`)
	if e, _ := replies[1]["error"].(map[string]any); e == nil || e["field"] != "messages[1].attachments[0]" || e["message"] != "attachments[0]: expected a string, got JSON null" {
		t.Errorf("batch reply %v, want an error at messages[1].attachments[0]", replies[1])
	}
	if _, failed := replies[0]["error"]; failed {
		t.Errorf("the other message of the batch failed: %v", replies[0])
	}
	id := ts.must(201, "POST", "/v1/sessions", `{"flow":"photo","contact":{"urn":"tel:+15550313"}}`)["id"].(string)
	r = ts.do("POST", "/v1/sessions/"+id+"/resume", `{"attachments":[null]}`)
	if e := r.errorOf(t); r.Status != 400 || e["field"] != "attachments[0]" || e["message"] != "attachments[0]: expected a string, got JSON null" {
		t.Errorf("resume: %d %s", r.Status, r.Body)
	}
}
