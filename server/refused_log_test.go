package server

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// A request refused by the key check or the Origin check is logged with
// the error code, the client's address and the reason the client was
// told, and counted under the route it was sent to; one refused before
// routing, under its route too, and one matching no route under
// "unmatched", never an empty route or a middleware's prefix.
func TestRefusedRequestLoggedWithReasonAndRoute(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{
			{Name: "ops", Key: "ops-key-0123456789"},
			{Name: "ci", Key: "ci-key-0123456789", Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		}
		c.BodyLimit = 1024
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	base := ts.listen()
	send := func(method, path, body string, hdr ...string) int {
		t.Helper()
		return send(t, method, base+path, body, hdr...)
	}
	if s := send("GET", "/v1/flows/abc", "", "Authorization", "Bearer ci-key-0123456789", "X-Request-Id", "ref-1"); s != 403 {
		t.Fatalf("key from a network it may not be used from: %d", s)
	}
	if s := send("POST", "/v1/sessions", "{}", "X-Request-Id", "ref-2"); s != 401 {
		t.Fatalf("no key: %d", s)
	}
	if s := send("GET", "/v1/flows", "", "Authorization", "Bearer ops-key-0123456789", "Origin", "https://evil.example"); s != 403 {
		t.Fatalf("foreign Origin: %d", s)
	}
	if s := send("POST", "/v1/flows", strings.Repeat("x", 4096), "Authorization", "Bearer ops-key-0123456789"); s != 413 {
		t.Fatalf("body over the limit: %d", s)
	}
	if s := send("GET", "/nowhere", ""); s != 404 {
		t.Fatalf("no route: %d", s)
	}

	var forbidden, unauthorized map[string]any
	for _, l := range logLines(t, logs, "request") {
		switch l["request_id"] {
		case "ref-1":
			forbidden = l
		case "ref-2":
			unauthorized = l
		}
	}
	if forbidden == nil || forbidden["code"] != CodeForbidden || forbidden["client"] != "127.0.0.1" ||
		!strings.Contains(forbidden["err"].(string), `API key "ci" may not be used from 127.0.0.1`) {
		t.Errorf("403 line %v: want code forbidden, client 127.0.0.1 and the reason", forbidden)
	}
	if unauthorized == nil || unauthorized["code"] != CodeUnauthorized || unauthorized["client"] != "127.0.0.1" || unauthorized["err"] == nil {
		t.Errorf("401 line %v: want code unauthorized, client 127.0.0.1 and the reason", unauthorized)
	}
	if strings.Contains(logs.String(), "ci-key-0123456789") {
		t.Errorf("the log holds an API key:\n%s", logs)
	}

	metrics := ts.do("GET", "/metrics", nil).Body
	for _, want := range []string{
		`parley_http_requests_total{code="403",route="/v1/flows/:id"} 1`,
		`parley_http_requests_total{code="401",route="/v1/sessions"} 1`,
		`parley_http_requests_total{code="403",route="/v1/flows"} 1`,
		`parley_http_requests_total{code="413",route="/v1/flows"} 1`,
		`parley_http_requests_total{code="404",route="unmatched"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s:\n%s", want, grep(string(metrics), "parley_http_requests_total"))
		}
	}
}
