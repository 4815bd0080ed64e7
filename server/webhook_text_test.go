package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// A non-JSON answer longer than the 4,096 bytes a session keeps of it is cut
// at the end of the last whole character that fits, never inside one: a
// two-byte letter, a letter with a combining accent or a flag of two code
// points that would cross the bound is left out whole, and what the contact
// is sent is the answer's beginning, without a replacement character. A
// single cluster longer than the bound is cut between its code points.
func TestWebhookTextAnswerCutBetweenCharacters(t *testing.T) {
	for _, c := range []struct {
		name, answer, want string
	}{
		{"two-byte letter", strings.Repeat("a", 4095) + "éé", strings.Repeat("a", 4095)},
		{"three-byte letter", strings.Repeat("a", 4094) + "中文", strings.Repeat("a", 4094)},
		{"combining accent", strings.Repeat("a", 4094) + "e\u0301 fin", strings.Repeat("a", 4094)},
		{"flag", strings.Repeat("a", 4090) + "🇫🇷 Paris", strings.Repeat("a", 4090)},
		{"whole at the bound", strings.Repeat("a", 4094) + "é and more", strings.Repeat("a", 4094) + "é"},
		{"one cluster over the bound", "e" + strings.Repeat("\u0301", 3000), "e" + strings.Repeat("\u0301", 2047)},
		{"shorter", "Bonjour, ça va ?", "Bonjour, ça va ?"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Write([]byte(c.answer))
			}))
			t.Cleanup(hook.Close)
			ts := newTestServer(t, func(c *Config) {
				c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			})
			ts.createFlow(`{"id":"txt","name":"Text","widgets":[
 {"id":"hook","type":"webhook","url":"` + hook.URL + `","exits":{"Success":"say","Failure":""}},
 {"id":"say","type":"send_message","text":"@flow.hook.text"}]}`)
			r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "txt"})
			got := texts(r)
			if len(got) != 1 || got[0] != c.want {
				var last string
				if len(got) == 1 {
					last = got[0][max(0, len(got[0])-12):]
				}
				t.Errorf("sent %d messages, the first of %d bytes ending %q; want one of %d bytes ending %q",
					len(got), len(strings.Join(got, "")), last, len(c.want), c.want[max(0, len(c.want)-12):])
			}
		})
	}
}

// An answer over the webhook's max_response_bytes, and a request body over
// it, are cut in the webhook_called event at the end of the last whole
// character that fits, as the text answer is: the stored event holds the
// answer's beginning, never half of a character read back as U+FFFD.
func TestWebhookAnswerOverCapCutBetweenCharacters(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("aaaaaaaaaaéé and more"))
	}))
	t.Cleanup(hook.Close)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(`{"id":"cap","name":"Cap","widgets":[
 {"id":"hook","type":"webhook","method":"POST","url":"` + hook.URL + `","body_mode":"custom","body":"xxxxxxxxx🇫🇷 Paris","max_response_bytes":11,
  "exits":{"Success":"","Failure":"say"}},
 {"id":"say","type":"send_message","text":"@flow.hook.text"}]}`)
	r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "cap"})
	if got := texts(r); len(got) != 1 || got[0] != "aaaaaaaaaa" {
		t.Errorf("sent %q; want the answer's first whole characters, aaaaaaaaaa", got)
	}
	raw := ts.do("GET", "/v1/sessions/"+r["id"].(string)+"/events", nil)
	if raw.Status != 200 || strings.Contains(string(raw.Body), "\ufffd") || strings.Contains(strings.ToLower(string(raw.Body)), `\ufffd`) {
		t.Fatalf("events: %d %s; want 200 without U+FFFD", raw.Status, raw.Body)
	}
	var called map[string]any
	for _, e := range raw.JSON(t)["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "webhook_called" {
			called = e
		}
	}
	if called == nil {
		t.Fatalf("no webhook_called event in %s", raw.Body)
	}
	req, _ := called["request"].(map[string]any)
	resp, _ := called["response"].(map[string]any)
	if called["outcome"] != "too_large" || resp["body"] != "aaaaaaaaaa" || resp["truncated"] != true {
		t.Errorf("webhook_called outcome %v, response %v; want too_large and the body aaaaaaaaaa, truncated", called["outcome"], resp)
	}
	if req["body"] != "xxxxxxxxx" || req["truncated"] != true {
		t.Errorf("webhook_called request %v; want the body xxxxxxxxx, truncated before the flag", req)
	}
}
