package server

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// TestLoggedPathRedacted: a user name and password written in a request's
// path, as in a URL sent as an id, escaped or not, are logged with the
// password [redacted], in the request line and in the error the request is
// refused with, while the answer quotes the path as sent, and so have the
// secret parameters of a query written in the path with its ? escaped; the
// request's own query, which may carry a secret too, is never logged.
func TestLoggedPathRedacted(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	base := ts.listen()
	cases := []struct{ path, logged string }{
		{"/v1/flows/bob:secret1@host", "path=/v1/flows/bob:[redacted]@host"},
		{"/v1/sessions/https:%2F%2Fbob:secret2@example.com", "path=/v1/sessions/https://bob:[redacted]@example.com"},
		{"/v1/nope/https:%2F%2Fbob:s%40cret3@example.com?token=secret4", "path=/v1/nope/https://bob:[redacted]@example.com"},
		{"/v1/channels/x/twilio?password=secret5&api_key=secret6", "path=/v1/channels/x/twilio"},
		{"/v1/flows?token=secret7", "path=/v1/flows"},
		{"/v1/sessions/https:%2F%2Fexample.com%2Fx%3Ftoken=secret8&lang=en", `path="/v1/sessions/https://example.com/x?token=[redacted]&lang=en"`},
	}
	for _, c := range cases {
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.path == "/v1/flows/bob:secret1@host" && !strings.Contains(string(body), "bob:secret1@host") {
			t.Errorf("%s: the answer %s does not quote the id as sent", c.path, body)
		}
		if !strings.Contains(logs.String(), c.logged+" ") {
			t.Errorf("%s: no request line with %s in the log:\n%s", c.path, c.logged, logs)
		}
	}
	for i := 1; i <= 8; i++ {
		if secret := "secret" + string(rune('0'+i)); strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %s:\n%s", secret, logs)
		}
	}
	if strings.Contains(logs.String(), "cret3") {
		t.Errorf("the log holds part of an escaped password:\n%s", logs)
	}
}
