package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// ordersFlow asks for an order number and looks it up with the contact's
// phone number: both end up in the webhook's URL. After a failure it waits
// for the number again.
const ordersFlow = `{"id":"shop","name":"Shop","widgets":[
 {"id":"ask","type":"send_message","text":"Your order?","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Order","exits":{"Next":"lookup"}},
 {"id":"lookup","type":"webhook","method":"GET","url":"HOOK/orders/@flow.order.value?phone=@contact.urn","exits":{"Success":"","Failure":"wait"}}]}`

// webhookLogServer serves ordersFlow on channel "c" over a loopback port,
// its webhook answering 503, and returns the base URL and the log.
func webhookLogServer(t *testing.T, level slog.Level) (string, *testServer, *syncbuf.Buffer) {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(hook.Close)
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	})
	ts.createFlow(strings.ReplaceAll(ordersFlow, "HOOK", hook.URL))
	ts.must(201, "POST", "/v1/channels", map[string]any{"id": "c", "default_flow": "shop"})
	return ts.listen(), ts, logs
}

// post sends a JSON request over HTTP and returns the status.
func post(t *testing.T, url, body string, hdr ...string) int {
	t.Helper()
	return send(t, "POST", url, body, append([]string{"Content-Type", "application/json"}, hdr...)...)
}

// send sends a request over HTTP with the headers hdr (name, value, ...)
// and returns the status.
func send(t *testing.T, method, url, body string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// logLines are the JSON log lines with the message msg.
func logLines(t *testing.T, logs *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// A failed webhook call is logged at the info level with the URL's scheme,
// host and port only: the contact's text and phone number that the flow's
// template put in its path and query are not in the log, where erasing
// the contact would not reach them. At the debug level the whole URL is.
func TestWebhookCallLogLeavesOutContactData(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			base, _, logs := webhookLogServer(t, level)
			from := `"from":"tel:+14155550199"`
			if s := post(t, base+"/v1/channels/c/messages", `{`+from+`,"text":"hi"}`); s != 200 {
				t.Fatalf("first message: %d", s)
			}
			if s := post(t, base+"/v1/channels/c/messages", `{`+from+`,"text":"my card 4111 1111"}`); s != 200 {
				t.Fatalf("second message: %d", s)
			}
			lines := logLines(t, logs, "webhook call")
			if len(lines) != 1 {
				t.Fatalf("%d webhook call lines, want 1:\n%s", len(lines), logs)
			}
			url, _ := lines[0]["url"].(string)
			if !strings.HasPrefix(url, "http://127.0.0.1:") {
				t.Errorf("url %q: want the webhook's scheme, host and port", url)
			}
			full := strings.Contains(url, "/orders/") && strings.Contains(url, "phone=")
			if level == slog.LevelInfo {
				// "4111 1111" with its space: four digits alone turn up in
				// request ids and elapsed times.
				for _, secret := range []string{"4111 1111", "4111+1111", "4111%201111", "4155550199", "orders", "phone"} {
					if strings.Contains(logs.String(), secret) {
						t.Errorf("the info log holds %q:\n%s", secret, logs)
					}
				}
			} else if !full {
				t.Errorf("url %q at the debug level: want the whole URL", url)
			}
		})
	}
}

// A failed webhook call's line names the request it was made in, the
// session, the flow and the widget; a widget whose calls keep failing has
// one line a second, which counts the failures not logged since the line
// before.
func TestWebhookCallLogNamesSessionAndFoldsFailures(t *testing.T) {
	base, ts, logs := webhookLogServer(t, slog.LevelInfo)
	from := `"from":"tel:+14155550199"`
	send := func(text, rid string) {
		t.Helper()
		if s := post(t, base+"/v1/channels/c/messages", `{`+from+`,"text":"`+text+`"}`, "X-Request-Id", rid); s != 200 {
			t.Fatalf("message %q: %d", text, s)
		}
	}
	send("hi", "req-0")
	for i, rid := range []string{"req-1", "req-2", "req-3"} {
		send("CU00"+string(rune('1'+i)), rid)
	}
	lines := logLines(t, logs, "webhook call")
	if len(lines) != 1 {
		t.Fatalf("%d webhook call lines for 3 failures within a second, want 1:\n%s", len(lines), logs)
	}
	l := lines[0]
	sess, _ := l["session"].(string)
	if l["request_id"] != "req-1" || sess == "" || l["flow"] != "shop" || l["widget"] != "lookup" || l["level"] != "INFO" {
		t.Errorf("line %v: want request_id req-1, the session, flow shop, widget lookup, at INFO", l)
	}
	if _, ok := l["folded"]; ok {
		t.Errorf("first line %v has a count of folded calls", l)
	}
	ts.clock.Advance(time.Second)
	send("CU004", "req-4")
	lines = logLines(t, logs, "webhook call")
	if len(lines) != 2 {
		t.Fatalf("%d webhook call lines a second later, want 2:\n%s", len(lines), logs)
	}
	l = lines[1]
	if l["request_id"] != "req-4" || l["session"] != sess || l["folded"] != float64(2) {
		t.Errorf("line %v: want request_id req-4, session %s, folded 2", l, sess)
	}
}

// Request lines and webhook call lines name their fields alike: the time
// taken as elapsed (a duration: nanoseconds in JSON), an error as err.
func TestLogFieldsAlike(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	// Port 1 refuses the connection: the call fails with an error.
	ts.createFlow(strings.ReplaceAll(ordersFlow, "HOOK", "http://127.0.0.1:1"))
	ts.must(201, "POST", "/v1/channels", map[string]any{"id": "c", "default_flow": "shop"})
	base := ts.listen()
	for _, text := range []string{"hi", "CU001"} {
		if s := post(t, base+"/v1/channels/c/messages", `{"from":"tel:+14155550199","text":"`+text+`"}`); s != 200 {
			t.Fatalf("message %q: %d", text, s)
		}
	}
	calls, requests := logLines(t, logs, "webhook call"), logLines(t, logs, "request")
	if len(calls) != 1 || len(requests) == 0 {
		t.Fatalf("%d webhook call lines, %d request lines:\n%s", len(calls), len(requests), logs)
	}
	for _, l := range append(calls, requests...) {
		if _, ok := l["elapsed"].(float64); !ok {
			t.Errorf("%s line without a number elapsed: %v", l["msg"], l)
		}
		if _, ok := l["ms"]; ok {
			t.Errorf("%s line with ms: %v", l["msg"], l)
		}
	}
	if _, ok := calls[0]["err"].(string); !ok || calls[0]["error"] != nil {
		t.Errorf("webhook call line %v: want its error as err", calls[0])
	}
}
