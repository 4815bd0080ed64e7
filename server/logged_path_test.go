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

// TestLoggedContactPath: a request about a contact that fails (404 for a
// URN with nothing stored, as after its erasure; 400 for a URN refused)
// is logged at the default level with the URN written [urn], so the log
// keeps no person's URN; the debug line of one that succeeds keeps its
// path.
func TestLoggedContactPath(t *testing.T) {
	logs := &syncbuf.Buffer{}
	_, h := colourServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h.message("+15550177001", "m1", "hi")
	h.must(200, "GET", "/v1/contacts/tel:%2B15550177001", "")
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/contacts/tel:%2B15550177777", 404},
		{"DELETE", "/v1/contacts/tel:%2B15550177777", 404},
		{"GET", "/v1/Contacts/%2B15550177777", 404},
		{"GET", "/v1/contacts/tel:%2B1555%E2%80%8B0177777", 400},
	} {
		if status, m := h.call(c.method, c.path, ""); status != c.status {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, status, m, c.status)
		}
	}
	var failed int
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, "msg=request ") {
			continue
		}
		switch {
		case strings.Contains(line, "level=DEBUG") && strings.Contains(line, "method=GET path=/v1/contacts/tel:%2B15550177001 status=200"):
		case strings.Contains(line, "level=DEBUG"):
			if strings.Contains(line, "/v1/contacts/") {
				t.Errorf("a debug request line of a contact: %s", line)
			}
		case strings.Contains(line, "0177"):
			t.Errorf("a request line above debug holds the URN: %s", line)
		case strings.Contains(line, "path=/v1/contacts/[urn] ") || strings.Contains(line, "path=/v1/Contacts/[urn] "):
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d request lines of the failed lookups with path /v1/contacts/[urn], want 4:\n%s", failed, logs)
	}
}
