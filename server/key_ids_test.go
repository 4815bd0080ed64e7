package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// hookedChannel serves a twilio channel "web" whose messaging and voice
// flows ("hooked", "hooked-ivr") call a webhook first, and counts the
// calls: a request refused before its turn calls it none.
func hookedChannel(t *testing.T) (*testServer, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(hook.Close)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	first := `{"id":"hook","type":"webhook","method":"GET","url":"` + hook.URL + `","result":"Hook","exits":{"Success":"done","Failure":"done"}}`
	ts.createFlow(`{"id":"hooked","name":"Hooked","widgets":[` + first + `,{"id":"done","type":"send_message","text":"Done"}]}`)
	ts.createFlow(`{"id":"hooked-ivr","kind":"voice","name":"Hooked","widgets":[` + first + `,{"id":"done","type":"say","text":"Done"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","type":"twilio","default_flow":"hooked","voice_flow":"hooked-ivr"}`)
	return ts, calls
}

// An id the store cannot keep (over 512 bytes, or with a NUL byte) is
// refused before the turn runs: the flow's webhook is never called, so a
// client retrying the request does not call it again and again.
func TestOversizedIDsRefusedBeforeTheTurn(t *testing.T) {
	ts, calls := hookedChannel(t)

	long := strings.Repeat("z", 513)
	nul := "a\x00b"
	q := func(s string) string { return `"` + strings.ReplaceAll(s, "\x00", `\u0000`) + `"` }
	cases := []apiErrorCase{
		{name: "message id too long", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+1555","text":"hi","id":` + q(long) + `}`, field: "id"},
		{name: "message id with NUL", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+1555","text":"hi","id":` + q(nul) + `}`, field: "id"},
		{name: "sender too long", method: "POST", path: "/v1/channels/web/messages", body: `{"from":` + q(long) + `,"text":"hi","id":"m1"}`, field: "from"},
		// 510 bytes are 514 with the "tel:" the channel puts before them.
		{name: "sender's URN too long", method: "POST", path: "/v1/channels/web/messages", body: `{"from":"+` + strings.Repeat("1", 509) + `","text":"hi"}`, field: "from"},
		{name: "sender with NUL", method: "POST", path: "/v1/channels/web/messages", body: `{"from":` + q("+1"+nul) + `,"text":"hi"}`, field: "from"},
		{name: "call id too long", method: "POST", path: "/v1/channels/web/calls", body: `{"call_id":` + q(long) + `,"from":"+1555"}`, field: "call_id"},
		{name: "caller with NUL", method: "POST", path: "/v1/channels/web/calls", body: `{"call_id":"c1","from":` + q(nul) + `}`, field: "from"},
		{name: "session contact too long", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked","contact":{"urn":` + q(long) + `}}`, field: "contact.urn"},
		{name: "session call id with NUL", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","channel":"web","call":{"id":` + q(nul) + `,"from":"+1555"}}`, field: "call.id"},
		{name: "session caller too long", method: "POST", path: "/v1/sessions", body: `{"flow":"hooked-ivr","call":{"id":"c2","from":` + q(long) + `}}`, field: "call.from"},
	}
	for i := range cases {
		cases[i].status, cases[i].code = 400, CodeInvalidField
	}
	ts.expectErrors(t, cases)
	if r := ts.do("POST", "/v1/channels/web/messages", `{"from":"+1555","text":"hi","id":`+q(long)+`}`); !strings.Contains(string(r.Body), "512") {
		t.Errorf("the error does not give the limit: %s", r.Body)
	}

	batch := ts.must(200, "POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1556","text":"hi","id":"b0"},{"from":"+1557","text":"hi","id":`+q(long)+`}]}`)
	replies := batch["replies"].([]any)
	if e, _ := replies[1].(map[string]any)["error"].(map[string]any); e == nil || e["field"] != "messages[1].id" || e["code"] != CodeInvalidField {
		t.Errorf("batch message with a long id answered %v, want invalid_field on messages[1].id", replies[1])
	}
	for _, c := range []struct {
		path  string
		form  url.Values
		field string
	}{
		{"/twilio/web/sms", url.Values{"From": {"+1558"}, "Body": {"hi"}, "MessageSid": {long}}, "MessageSid"},
		{"/twilio/web/sms", url.Values{"From": {long}, "Body": {"hi"}, "MessageSid": {"SM1"}}, "From"},
		{"/twilio/web/voice", url.Values{"From": {"+1558"}, "CallSid": {nul}, "CallStatus": {"ringing"}}, "CallSid"},
	} {
		r := twilioForm(ts, c.path, c.form, "")
		if r.Status != 400 || r.errorOf(t)["field"] != c.field {
			t.Errorf("POST %s with a bad %s: %d %s, want 400 naming %s", c.path, c.field, r.Status, r.Body, c.field)
		}
	}
	if n := calls.Load(); n != 1 { // the batch's first message only
		t.Errorf("the webhook was called %d times, want once (refused requests must not run their turn)", n)
	}
}
