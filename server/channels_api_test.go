package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
)

const counterFlow = `{"id":"counter","name":"Counter","widgets":[
 {"id":"inc","type":"set_variable","name":"n","expression":"int(default(flow.n.value, '0')) + 1","exits":{"Next":"say"}},
 {"id":"say","type":"send_message","text":"n=@flow.n","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":"inc"}}]}`

const joinFlow = `{"id":"join","name":"Join","widgets":[{"id":"a","type":"send_message","text":"Welcome to the club"}]}`

func TestChannelsConfig(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ch := ts.must(201, "POST", "/v1/channels", `{"id":"sms","name":"SMS","type":"twilio","default_flow":"ask","auth_token":"secret","triggers":[{"keyword":"join","flow":"ask"}]}`)
	if ch["auth_token"] != nil || ch["auth_token_set"] != true {
		t.Errorf("channel answer shows the token or hides that it is set: %v", ch)
	}
	ts.must(200, "PUT", "/v1/channels/sms", `{"name":"SMS 2","type":"twilio","default_flow":"ask"}`)
	got := ts.must(200, "GET", "/v1/channels/sms", nil)
	if got["name"] != "SMS 2" || got["auth_token_set"] != true {
		t.Errorf("after update: %v (the stored token must survive an update without one)", got)
	}
	list := ts.must(200, "GET", "/v1/channels", nil)["channels"].([]any)
	if len(list) != 2 { // demo (seeded) and sms
		t.Errorf("GET /v1/channels lists %d, want 2", len(list))
	}
	for _, c := range []struct{ body, field string }{
		{`{"id":"x","default_flow":"nope"}`, "default_flow"},
		{`{"id":"bad id!"}`, "id"},
		{`{"id":"x","type":"fax"}`, "type"},
		{`{"id":"x","triggers":[{"keyword":"two words","flow":"ask"}]}`, "triggers[0].keyword"},
	} {
		r := ts.do("POST", "/v1/channels", c.body)
		if r.Status != 422 || r.errorOf(t)["field"] != c.field {
			t.Errorf("POST %s: %d %s, want 422 on %s", c.body, r.Status, r.Body, c.field)
		}
	}
	ts.must(204, "DELETE", "/v1/channels/sms", nil)
	ts.must(404, "GET", "/v1/channels/sms", nil)
	ts.must(404, "POST", "/v1/channels/sms/messages", `{"from":"+1","text":"hi"}`)
}

func TestChannelMessages(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.createFlow(joinFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"ask","triggers":[{"keyword":"join","flow":"join"}]}`)

	first := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550001","text":"hello","id":"m1"}`)
	if first["status"] != "waiting" || !strings.HasPrefix(texts(first)[0], "Hi ") {
		t.Fatalf("first message answered %v", first)
	}
	// A retry of the same message is answered the same and not processed again.
	again := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550001","text":"hello","id":"m1"}`)
	if again["id"] != first["id"] || !slices.Equal(texts(again), texts(first)) {
		t.Errorf("retry answered %v, want %v", again, first)
	}
	second := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550001","text":"Zed","id":"m2"}`)
	if second["id"] != first["id"] || !slices.Equal(texts(second), []string{"Bye Zed, code "}) {
		t.Errorf("second message answered %v", second)
	}
	evs := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s/events", first["id"]), nil)["events"].([]any)
	ins := 0
	for _, e := range evs {
		if e.(map[string]any)["type"] == "message_in" {
			ins++
		}
	}
	if ins != 2 {
		t.Errorf("%d message_in events, want 2, hello and Zed (the retry must not be processed)", ins)
	}
	sess := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", first["id"]), nil)
	if sess["contact"].(map[string]any)["urn"] != "tel:+15550001" || sess["channel"].(map[string]any)["id"] != "web" {
		t.Errorf("session contact/channel: %v %v", sess["contact"], sess["channel"])
	}

	trig := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550002","text":"JOIN now"}`)
	if !slices.Equal(texts(trig), []string{"Welcome to the club"}) {
		t.Errorf("keyword trigger answered %v", trig)
	}
	if r := ts.do("POST", "/v1/channels/web/messages", `{"text":"no sender"}`); r.Status != 400 || r.errorOf(t)["field"] != "from" {
		t.Errorf("message without from: %d %s", r.Status, r.Body)
	}
}

// Messages of one contact are processed one after the other: each turn sees
// the previous one's counter, so the replies count 1..N without gaps or repeats.
func TestSameContactSerialized(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"start"}`)
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+2","text":"start"}`)

	const n = 20
	var wg sync.WaitGroup
	replies := make(chan string, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := []string{"+1", "+2"}[i%2]
			r := ts.do("POST", "/v1/channels/web/messages", fmt.Sprintf(`{"from":%q,"text":"x%d"}`, from, i))
			if r.Status != 200 {
				t.Errorf("message %d: %d %s", i, r.Status, r.Body)
				return
			}
			replies <- from + " " + texts(r.JSON(t))[0]
		}()
	}
	wg.Wait()
	close(replies)
	got := map[string]bool{}
	for r := range replies {
		if got[r] {
			t.Errorf("reply %q twice: two turns interleaved", r)
		}
		got[r] = true
	}
	for _, from := range []string{"+1", "+2"} {
		for i := 2; i <= n+1; i++ {
			if want := fmt.Sprintf("%s n=%d", from, i); !got[want] {
				t.Errorf("no reply %q", want)
			}
		}
	}
}

func TestDemoChannelOrderStatus(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil }) // the built-in examples
	flowsList := ts.must(200, "GET", "/v1/flows", nil)["flows"].([]any)
	if len(flowsList) < 3 {
		t.Errorf("first start loaded %d example flows", len(flowsList))
	}
	demo := ts.must(200, "GET", "/v1/channels/demo", nil)
	if demo["default_flow"] != "order-status" {
		t.Fatalf("demo channel: %v", demo)
	}
	cases := []struct{ text, want string }{
		{"CU001", "Great news Ben Haggerty!"},
		{"cu002", "Hi Ryan Lewis."},
		{"CU003", "Uh oh R Kelly!"},
		{"what?", "Sorry that doesn't look like a valid order number"},
	}
	for i, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			from := fmt.Sprintf("+1555%04d", i)
			ts.must(200, "POST", "/v1/channels/demo/messages", fmt.Sprintf(`{"from":%q,"text":"hi"}`, from))
			r := ts.must(200, "POST", "/v1/channels/demo/messages", fmt.Sprintf(`{"from":%q,"text":%q}`, from, c.text))
			if got := strings.Join(texts(r), " | "); !strings.Contains(got, c.want) {
				t.Errorf("answer %q, want it to contain %q", got, c.want)
			}
		})
	}
}

// A channel's flows must be of the kind their field runs: voice_flow answers
// calls, default_flow and triggers answer messages.
func TestChannelFlowKinds(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.expectErrors(t, []apiErrorCase{
		{name: "messaging voice_flow", method: "PUT", path: "/v1/channels/x2", body: `{"voice_flow":"order-status"}`,
			status: 422, code: CodeInvalidField, field: "voice_flow"},
		{name: "voice default_flow", method: "PUT", path: "/v1/channels/x3", body: `{"default_flow":"ivr-menu"}`,
			status: 422, code: CodeInvalidField, field: "default_flow"},
		{name: "voice trigger", method: "POST", path: "/v1/channels", body: `{"id":"x4","default_flow":"order-status","triggers":[{"keyword":"call","flow":"ivr-menu"}]}`,
			status: 422, code: CodeInvalidField, field: "triggers[0].flow"},
	})
	r := ts.do("PUT", "/v1/channels/x2", `{"voice_flow":"order-status"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"order-status"`) || !strings.Contains(msg, "messaging") {
		t.Errorf("message %q should name the flow and its kind", msg)
	}
	ts.must(404, "GET", "/v1/channels/x2", nil)
	ts.must(201, "PUT", "/v1/channels/ok", `{"default_flow":"order-status","voice_flow":"ivr-menu"}`)

	// A channel whose flow changed kind after it was set: the call's error
	// says what is wrong with which field.
	ts.must(200, "PUT", "/v1/flows/ivr-menu", `{"name":"Now a text flow","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(200, "POST", "/v1/flows/ivr-menu/publish", nil)
	r = ts.do("POST", "/v1/channels/ok/calls", `{"call_id":"CA1","from":"+1555"}`)
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != 422 || e["code"] != CodeNoFlow || e["field"] != "voice_flow" || !strings.Contains(msg, `voice_flow "ivr-menu"`) || strings.Contains(msg, "default") {
		t.Errorf("call on a channel whose voice_flow is a messaging flow: %d %s", r.Status, r.Body)
	}
	ts.must(201, "PUT", "/v1/channels/text", `{"default_flow":"order-status"}`)
	r = ts.do("POST", "/v1/channels/text/calls", `{"call_id":"CA1","from":"+1555"}`)
	e = r.errorOf(t)
	if msg, _ := e["message"].(string); r.Status != 422 || e["code"] != CodeNoFlow || e["field"] != "voice_flow" || !strings.Contains(msg, `default_flow "order-status"`) {
		t.Errorf("call on a channel without voice_flow: %d %s", r.Status, r.Body)
	}
}

// A channel's scheme is a URN scheme as RFC 3986 writes one: a letter,
// then letters, digits, '+', '-' or '.'. Anything else would make URNs such
// as "tel::+1999" of its senders.
func TestChannelSchemeValidated(t *testing.T) {
	ts := newTestServer(t, nil)
	var cases []apiErrorCase
	for _, scheme := range []string{"tel:", "a b", "1tel", "+tel", "tél", "tel/x", " tel"} {
		cases = append(cases, apiErrorCase{name: scheme, method: "POST", path: "/v1/channels",
			body: fmt.Sprintf(`{"id":"c","scheme":%q}`, scheme), status: 422, code: CodeInvalidField, field: "scheme"})
	}
	ts.expectErrors(t, cases)
	r := ts.do("POST", "/v1/channels", `{"id":"c","scheme":"tel:"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"tel:"`) || !strings.Contains(msg, "letter") {
		t.Errorf("message %q: want the scheme and what a scheme may hold", msg)
	}
	for i, scheme := range []string{"tel", "whatsapp", "x-ext.v1+a", "T9"} {
		ts.must(201, "POST", "/v1/channels", fmt.Sprintf(`{"id":"ok%d","scheme":%q}`, i, scheme))
	}
	ts.createFlow(askFlow)
	ts.must(200, "PUT", "/v1/channels/ok1", `{"scheme":"whatsapp","default_flow":"ask"}`)
	reply := ts.must(200, "POST", "/v1/channels/ok1/messages", `{"from":"+1999","text":"hi"}`)
	sess := ts.must(200, "GET", fmt.Sprintf("/v1/sessions/%s", reply["id"]), nil)
	if urn := sess["contact"].(map[string]any)["urn"]; urn != "whatsapp:+1999" {
		t.Errorf("contact %v, want whatsapp:+1999", urn)
	}
}

// A trigger keyword is compared with a message's first word without the
// punctuation at the word's ends, so one that starts or ends with
// punctuation ("#join") could never match: it is refused, naming the
// trigger's keyword. A channel stored with one still loads, keeping it,
// with a warning.
func TestTriggerKeywordPunctuation(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"join": joinFlow})
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stored := `{"id":"old","triggers":[{"keyword":"join","flow":"join"},{"keyword":"#join","flow":"join"}]}`
	if err := st.PutConfig(context.Background(), store.Channels, "old", json.RawMessage(stored)); err != nil {
		t.Fatal(err)
	}
	// A scheme stored before schemes were checked loads too, with a warning.
	if err := st.PutConfig(context.Background(), store.Channels, "olds", json.RawMessage(`{"id":"olds","scheme":"tel:","triggers":[]}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "channel=old") ||
		!strings.Contains(l, "triggers[1].keyword") || !strings.Contains(l, `#join`) {
		t.Errorf("start-up log, want a warning naming the channel and its keyword:\n%s", l)
	}
	if l := logs.String(); !strings.Contains(l, "stored channel has a scheme that is not a URN scheme") || !strings.Contains(l, "field=scheme") {
		t.Errorf("start-up log, want a warning naming the channel's scheme:\n%s", l)
	}
	got := ts.must(200, "GET", "/v1/channels/old", nil)
	if tr := got["triggers"].([]any); len(tr) != 2 || tr[1].(map[string]any)["keyword"] != "#join" {
		t.Errorf("the stored channel: %v, want both its triggers kept", got)
	}
	if r := ts.must(200, "POST", "/v1/channels/old/messages", `{"from":"+1","text":"#join!"}`); !slices.Equal(texts(r), []string{"Welcome to the club"}) {
		t.Errorf("#join! on the stored channel answered %v, want the join trigger (keyword join)", r)
	}

	ts.expectErrors(t, []apiErrorCase{
		{name: "leading #", method: "POST", path: "/v1/channels", body: `{"id":"c","triggers":[{"keyword":"join","flow":"join"},{"keyword":"#join","flow":"join"}]}`, status: 422, code: CodeInvalidField, field: "triggers[1].keyword"},
		{name: "trailing !", method: "POST", path: "/v1/channels", body: `{"id":"c","triggers":[{"keyword":"stop!","flow":"join"}]}`, status: 422, code: CodeInvalidField, field: "triggers[0].keyword"},
		{name: "only punctuation", method: "POST", path: "/v1/channels", body: `{"id":"c","triggers":[{"keyword":"?","flow":"join"}]}`, status: 422, code: CodeInvalidField, field: "triggers[0].keyword"},
		{name: "stored one put back", method: "PUT", path: "/v1/channels/old", body: stored, status: 422, code: CodeInvalidField, field: "triggers[1].keyword"},
	})
	r := ts.do("POST", "/v1/channels", `{"id":"c","triggers":[{"keyword":"#join","flow":"join"}]}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, `"#join"`) || !strings.Contains(msg, "letter, a mark or a digit") {
		t.Errorf("message %q: want the keyword and the characters it may start and end with", msg)
	}
	// Punctuation inside a keyword is compared as it is, and matches.
	// Words that end in a mark (Thai, Devanagari vowel signs) are keywords too.
	ts.must(201, "POST", "/v1/channels", `{"id":"c","triggers":[{"keyword":"opt-in","flow":"join"},{"keyword":"Été","flow":"join"},{"keyword":"สวัสดี","flow":"join"},{"keyword":"नमस्ते","flow":"join"}]}`)
	for _, text := range []string{"OPT-IN please", "été!", "สวัสดี ครับ", "नमस्ते!", "opt-in✔️", "opt-in❤️ yes"} {
		if r := ts.must(200, "POST", "/v1/channels/c/messages", fmt.Sprintf(`{"from":"+2","text":%q}`, text)); !slices.Equal(texts(r), []string{"Welcome to the club"}) {
			t.Errorf("%q answered %v, want the trigger's flow", text, r)
		}
	}
}

// A channel read with GET can be sent back with PUT as it is: the answer's
// auth_token_set is ignored and the stored token kept. "auth_token": null
// clears the token; left out or "" keeps it.
func TestChannelRoundTripAndAuthToken(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"sms","type":"twilio","default_flow":"ask","auth_token":"secret"}`)
	r := ts.do("GET", "/v1/channels/sms", nil)
	got := ts.must(200, "PUT", "/v1/channels/sms", string(r.Body))
	if got["auth_token_set"] != true {
		t.Fatalf("after a GET-PUT round trip: %v, want the token kept", got)
	}
	token := func() string { ch, _ := ts.srv.svc.channels.get("sms"); return ch.AuthToken }
	for _, body := range []string{
		`{"type":"twilio","default_flow":"ask","auth_token_set":false}`,
		`{"type":"twilio","default_flow":"ask","auth_token":""}`,
		`{"type":"twilio","default_flow":"ask"}`,
	} {
		if got := ts.must(200, "PUT", "/v1/channels/sms", body); got["auth_token_set"] != true || token() != "secret" {
			t.Errorf("PUT %s: %v, token %q: want it kept", body, got, token())
		}
	}
	// Twilio's requests need the signature until the token is cleared.
	form := url.Values{"From": {"+15551111"}, "Body": {"hi"}, "MessageSid": {"SM1"}}
	if r := twilioForm(ts, "/twilio/sms/sms", form, ""); r.Status != 403 {
		t.Errorf("unsigned request with a token set: %d %s", r.Status, r.Body)
	}
	if got := ts.must(200, "PUT", "/v1/channels/sms", `{"type":"twilio","default_flow":"ask","auth_token":null}`); got["auth_token_set"] != false || token() != "" {
		t.Errorf("PUT with auth_token null: %v, token %q: want it cleared", got, token())
	}
	if r := twilioForm(ts, "/twilio/sms/sms", form, ""); r.Status != 200 {
		t.Errorf("unsigned request once the token is cleared: %d %s", r.Status, r.Body)
	}
	// A channel made without a token, and one given it again.
	ts.must(200, "PUT", "/v1/channels/sms", `{"type":"twilio","default_flow":"ask","auth_token":"again"}`)
	if token() != "again" {
		t.Errorf("token %q, want again", token())
	}
	ts.expectErrors(t, []apiErrorCase{
		{name: "token of the wrong type", method: "PUT", path: "/v1/channels/sms", body: `{"auth_token":5}`, status: 400, code: CodeInvalidField, field: "auth_token"},
		{name: "token set of the wrong type", method: "PUT", path: "/v1/channels/sms", body: `{"auth_token_set":"yes"}`, status: 400, code: CodeInvalidField, field: "auth_token_set"},
	})
	if token() != "again" {
		t.Errorf("token %q after refused PUTs, want again", token())
	}
}

// POST /v1/channels without an id is a required field missing: 400
// bad_request naming id, as the error table has it; an id that is not one
// is 422.
func TestChannelWithoutID(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.expectErrors(t, []apiErrorCase{
		{name: "no id", method: "POST", path: "/v1/channels", body: `{"name":"SMS"}`, status: 400, code: CodeBadRequest, field: "id"},
		{name: "empty id", method: "POST", path: "/v1/channels", body: `{"id":"","name":"SMS"}`, status: 400, code: CodeBadRequest, field: "id"},
		{name: "bad id", method: "POST", path: "/v1/channels", body: `{"id":"a b"}`, status: 422, code: CodeInvalidField, field: "id"},
	})
	ts.must(201, "PUT", "/v1/channels/sms", `{"name":"SMS"}`)
}
