package server

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// A flow's call to the demo order service, answered inside the server, has
// its `webhook call` line at debug as every other webhook call has, with
// the widget, the outcome and the status; above debug, none.
func TestDemoWebhookCallLogged(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			ts := newTestServer(t, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
			})
			ts.createFlow(`{"id":"demo","name":"Demo","widgets":[
 {"id":"lookup","type":"webhook","method":"POST","url":"http://127.0.0.1:8080/demo/order-status","exits":{"Success":"say","Failure":""}},
 {"id":"say","type":"send_message","text":"@flow.lookup.json.status"}]}`)
			r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "demo"})
			if got := texts(r); len(got) != 1 || got[0] != "Invalid" {
				t.Fatalf("sent %q; want the demo service's answer, Invalid", got)
			}
			var lines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="webhook call"`) {
					lines = append(lines, l)
				}
			}
			if level > slog.LevelDebug {
				if len(lines) != 0 {
					t.Errorf("at %s: %q; want no webhook call line for a success", level, lines)
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("webhook call lines %q; want one", lines)
			}
			for _, want := range []string{"level=DEBUG", "session=" + r["id"].(string), "flow=demo", "widget=lookup", "method=POST",
				"url=http://127.0.0.1:8080/demo/order-status", "outcome=success", "status=200", "attempts=1", "elapsed="} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("webhook call line %q has no %s", lines[0], want)
				}
			}
		})
	}
}
