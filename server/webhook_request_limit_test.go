package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// The cap on a webhook widget's request body is a setting: a default body
// that carries a large @extra (the answer of an earlier webhook that raised
// its max_response_bytes) is sent once --webhook-max-request allows it, and
// over the cap the call fails with an error naming the setting.
func TestWebhookMaxRequestSetting(t *testing.T) {
	blob := strings.Repeat("x", 1536<<10) // 1.5 MiB, over the 1 MiB default
	lookup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"blob": blob})
	}))
	t.Cleanup(lookup.Close)
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(sink.Close)
	flow := `{"id":"big","name":"Big body","widgets":[
 {"id":"lookup","type":"webhook","method":"GET","url":"` + lookup.URL + `","max_response_bytes":4194304,"exits":{"Success":"send","Failure":""}},
 {"id":"send","type":"webhook","method":"POST","url":"` + sink.URL + `","exits":{"Success":"ok","Failure":"bad"}},
 {"id":"ok","type":"send_message","text":"sent"},
 {"id":"bad","type":"send_message","text":"not sent"}]}`
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

	t.Run("raised", func(t *testing.T) {
		received.Store(0)
		cfg, err := ServeFlags([]string{"--webhook-max-request", "4194304", "--data", t.TempDir()}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ts := newTestServer(t, func(c *Config) {
			c.AllowCIDRs = allow
			c.WebhookMaxRequest = cfg.WebhookMaxRequest
		})
		ts.createFlow(flow)
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "big"})
		if got := texts(r); len(got) != 1 || got[0] != "sent" {
			t.Errorf("sent %q; want the body of %d bytes sent with --webhook-max-request 4194304", got, len(blob))
		}
		if n := received.Load(); n <= int64(len(blob)) {
			t.Errorf("the webhook received %d bytes; want the default body with @extra, over %d", n, len(blob))
		}
	})

	t.Run("default", func(t *testing.T) {
		received.Store(0)
		ts := newTestServer(t, func(c *Config) { c.AllowCIDRs = allow })
		ts.createFlow(flow)
		r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "big"})
		if got := texts(r); len(got) != 1 || got[0] != "not sent" {
			t.Errorf("sent %q; want the Failure exit for a body over the 1 MiB default", got)
		}
		if n := received.Load(); n != 0 {
			t.Errorf("the webhook received %d bytes; want nothing", n)
		}
		var events struct {
			Events []struct {
				Type, Widget, Message string
			}
		}
		raw := ts.do("GET", "/v1/sessions/"+r["id"].(string)+"/events", nil)
		if err := json.Unmarshal(raw.Body, &events); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range events.Events {
			if ev.Type == "webhook_called" && ev.Widget == "send" {
				found = true
				if !strings.Contains(ev.Message, "over the 1048576-byte limit") || !strings.Contains(ev.Message, "--webhook-max-request") {
					t.Errorf("webhook_called message %q; want it to name the 1048576-byte limit and --webhook-max-request", ev.Message)
				}
			}
		}
		if !found {
			t.Errorf("no webhook_called event for widget send in %s", raw.Body)
		}
	})
}

// --webhook-max-request and PARLEY_WEBHOOK_MAX_REQUEST take a positive
// number of bytes; anything else is refused naming the flag or variable.
func TestWebhookMaxRequestFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
		err  string
	}{
		{want: 1 << 20},
		{args: []string{"--webhook-max-request", "2097152"}, want: 2097152},
		{env: map[string]string{EnvWebhookMaxRequest: "3000000"}, want: 3000000},
		{args: []string{"--webhook-max-request", "0"}, err: `--webhook-max-request: "0" is not a positive number of bytes`},
		{args: []string{"--webhook-max-request", "-1"}, err: `--webhook-max-request: "-1" is not a positive number of bytes`},
		{env: map[string]string{EnvWebhookMaxRequest: "lots"}, err: `PARLEY_WEBHOOK_MAX_REQUEST: "lots" is not a positive number of bytes`},
	} {
		args := append([]string{"--data", t.TempDir()}, c.args...)
		cfg, err := ServeFlags(args, func(k string) string { return c.env[k] }, io.Discard)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v %v: error %v; want %q", c.args, c.env, err, c.err)
			}
		case err != nil:
			t.Errorf("%v %v: %v", c.args, c.env, err)
		case cfg.WebhookMaxRequest != c.want:
			t.Errorf("%v %v: WebhookMaxRequest %d; want %d", c.args, c.env, cfg.WebhookMaxRequest, c.want)
		}
	}
}
