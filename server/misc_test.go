package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDemoOrderStatus(t *testing.T) {
	ts := newTestServer(t, nil)
	cases := []struct {
		name, ctype, body, query string
		want                     map[string]any
	}{
		{"rapidpro legacy payload", "application/json", `{"contact":{"uuid":"x"},"input":{"text":"CU001","type":"msg"}}`, "",
			map[string]any{"status": "Shipped", "order": "CU001", "name": "Ben Haggerty", "ship_date": "October 9th", "delivery_date": "April 3rd", "description": "Vogue White Wall x 4"}},
		{"parley default body", "application/json", `{"text":"cu002","contact":{"urn":"tel:1"}}`, "",
			map[string]any{"status": "Pending", "order": "CU002", "ship_date": "August 14th"}},
		{"form field", "application/x-www-form-urlencoded", "text=CU003", "",
			map[string]any{"status": "Cancelled", "order": "CU003", "cancel_date": "December 13th"}},
		{"query field", "", "", "?text=CU001", map[string]any{"status": "Shipped"}},
		{"order in a sentence", "application/json", `{"text":"my order is CU003 thanks"}`, "", map[string]any{"status": "Cancelled"}},
		{"unknown order", "application/json", `{"text":"CU999"}`, "", map[string]any{"status": "Invalid"}},
		{"no text", "", "", "", map[string]any{"status": "Invalid"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/demo/order-status"+c.query, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			r := ts.send(req)
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			got := r.JSON(t)
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (answer %v)", k, got[k], v, got)
				}
			}
			if c.want["status"] == "Invalid" && len(got) != 1 {
				t.Errorf("invalid order answer has extra fields: %v", got)
			}
		})
	}
}

func TestAPIKeys(t *testing.T) {
	const key = "k-0123456789abcdef"
	const limited = "l-0123456789abcdef"
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{{Name: "main", Key: key}, {Name: "office", Key: limited, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	})
	cases := []struct {
		name, path, authz string
		status            int
	}{
		{"no key", "/v1/flows", "", 401},
		{"unknown key", "/v1/flows", "Bearer nope-nope-nope-nope", 401},
		{"not bearer", "/v1/flows", "Basic " + key, 401},
		{"valid key", "/v1/flows", "Bearer " + key, 200},
		{"scheme in lower case", "/v1/flows", "bearer " + key, 200},
		{"scheme in upper case, spaces around", "/v1/flows", "  BEARER   " + key + " ", 200},
		{"scheme without a key", "/v1/flows", "Bearer ", 401},
		{"scheme glued to the key", "/v1/flows", "Bearer" + key, 401},
		{"key from a network it may not use", "/v1/flows", "Bearer " + limited, 403},
		{"health needs no key", "/healthz", "", 200},
		{"demo needs no key", "/demo/order-status?text=CU001", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := "GET"
			if strings.HasPrefix(c.path, "/demo") {
				method = "POST"
			}
			req := httptest.NewRequest(method, c.path, nil)
			if c.authz != "" {
				req.Header.Set("Authorization", c.authz)
			}
			r := ts.send(req)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	// A stored key works at once and stops working once deleted.
	ts.key = key
	created := ts.must(201, "POST", "/v1/keys", `{"name":"ci"}`)
	ts.key = created["key"].(string)
	ts.must(200, "GET", "/v1/flows", nil)
	ts.key = key
	if n := len(ts.must(200, "GET", "/v1/keys", nil)["keys"].([]any)); n != 1 {
		t.Errorf("%d stored keys listed, want 1", n)
	}
	if strings.Contains(string(ts.do("GET", "/v1/keys", nil).Body), created["key"].(string)) {
		t.Error("GET /v1/keys shows a key")
	}
	ts.must(204, "DELETE", "/v1/keys/"+created["id"].(string), nil)
	ts.key = created["key"].(string)
	ts.must(401, "GET", "/v1/flows", nil)
}

func TestLoopbackOnlyWithoutKeys(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Addr: "0.0.0.0:0", Logger: slog.New(slog.DiscardHandler)}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "without API keys") {
		t.Fatalf("New on 0.0.0.0 without keys: %v, want a refusal", err)
	}
	cfg.APIKeys = []APIKey{{Name: "k", Key: "k-0123456789abcdef"}}
	cfg.Addr = "0.0.0.0:0"
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New on 0.0.0.0 with keys: %v", err)
	}
	_ = srv.Shutdown(context.Background())

	ts := newTestServer(t, nil)
	base := ts.listen()
	resp, err := http.Get(base + "/v1/flows")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("loopback client without a key: %d", resp.StatusCode)
	}
}

func TestLoopbackListenerDropsOthers(t *testing.T) {
	// The listener wrapper is what enforces loopback-only serving; a
	// connection whose remote address is not loopback is closed unserved.
	a, b := net.Pipe()
	defer b.Close()
	l := loopbackOnly{&fakeListener{conns: []net.Conn{fakeConn{a, "192.0.2.7:5555"}}}}
	if _, err := l.Accept(); err == nil {
		t.Fatal("accepted a connection from 192.0.2.7")
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Error("the refused connection is still open")
	}
}

type fakeConn struct {
	net.Conn
	remote string
}

func (c fakeConn) RemoteAddr() net.Addr {
	ap := netip.MustParseAddrPort(c.remote)
	return net.TCPAddrFromAddrPort(ap)
}

type fakeListener struct{ conns []net.Conn }

func (l *fakeListener) Accept() (net.Conn, error) {
	if len(l.conns) == 0 {
		return nil, io.EOF
	}
	c := l.conns[0]
	l.conns = l.conns[1:]
	return c, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func TestHealthMetricsOpenAPI(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})
	if h := ts.must(200, "GET", "/healthz", nil); h["status"] != "ok" {
		t.Errorf("healthz %v", h)
	}
	r := ts.do("GET", "/metrics", nil)
	for _, want := range []string{
		"parley_sessions_started_total 1", "parley_sessions_waiting 1", "parley_sessions_completed_total 0",
		"parley_turn_duration_seconds_bucket", "parley_store_commit_seconds_count", "parley_webhook_calls_total",
		"parley_store_commits_total", "parley_store_grouped_writes_total", `parley_store_committer_seconds_total{phase="apply"}`,
		`parley_store_committer_seconds_total{phase="commit"}`, `parley_store_committer_seconds_total{phase="lock_wait"}`,
		"parley_store_pages_written_total", "parley_store_write_seconds_total", "parley_store_file_bytes", "parley_store_free_bytes",
	} {
		if want == "parley_webhook_calls_total" {
			continue // appears once a webhook was called; see TestDemoChannelOrderStatus
		}
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The store's series count what it did: the session's start was
	// committed, so there was at least one commit writing pages to a file.
	for _, name := range []string{"parley_store_commits_total", "parley_store_grouped_writes_total",
		"parley_store_pages_written_total", "parley_store_file_bytes"} {
		if v := metricValue(t, string(r.Body), name); v < 1 {
			t.Errorf("%s = %v, want ≥ 1", name, v)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(ts.do("GET", "/openapi.json", nil).Body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi version %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/flows", "/v1/sessions", "/v1/sessions/{id}/resume", "/v1/channels/{channel}/messages", "/v1/channels/{channel}/messages/batch", "/v1/channels/{channel}/calls/{call_id}",
		"/v1/webhooks/{id}/test", "/v1/webhooks/{id}/recover", "/v1/webhooks/{id}/health", "/v1/webhooks/{id}/deliveries",
		"/v1/webhook-configs", "/v1/webhook-configs/{name}", "/v1/webhook-configs/{name}/test"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	if rid := ts.do("GET", "/healthz", nil, "X-Request-Id", "abc-123").Header.Get("X-Request-Id"); rid != "abc-123" {
		t.Errorf("request id not echoed: %q", rid)
	}
	// An id with control characters, an escape sequence, a space or bytes
	// that are not UTF-8 is replaced, not echoed.
	for _, bad := range []string{"a\x1b[2Jb", "a\x01b", "a b", "a\xffb", strings.Repeat("x", 129)} {
		if rid := ts.do("GET", "/healthz", nil, "X-Request-Id", bad).Header.Get("X-Request-Id"); rid == bad || len(rid) != 36 {
			t.Errorf("request id %q answered with %q, want a new one", bad, rid)
		}
	}
}

func TestWebhookMetrics(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	ts.must(200, "POST", "/v1/channels/demo/messages", `{"from":"+1","text":"hi"}`)
	ts.must(200, "POST", "/v1/channels/demo/messages", `{"from":"+1","text":"CU001"}`)
	if body := string(ts.do("GET", "/metrics", nil).Body); !strings.Contains(body, `parley_webhook_calls_total{outcome="success"} 1`) {
		t.Errorf("/metrics does not count the webhook call:\n%s", grep(body, "parley_webhook"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestShutdownClosesStore(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.store.Stats(ctx); err == nil {
		t.Error("store still open after Shutdown")
	}
}

// metricValue reads the value of an unlabelled series from Prometheus text.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
