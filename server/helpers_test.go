package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testServer struct {
	t     testing.TB
	srv   *Server
	clock *clock
	key   string
}

// newTestServer starts a server on a fresh data directory. Without examples
// given, it seeds from an empty set so tests control every flow.
func newTestServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	clk := newClock()
	cfg := Config{
		DataDir:       t.TempDir(),
		Logger:        slog.New(slog.DiscardHandler),
		Examples:      fstest.MapFS{},
		Now:           clk.Now,
		TimerInterval: time.Hour, // tests fire timers themselves
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	ts := &testServer{t: t, srv: srv, clock: clk}
	if len(cfg.APIKeys) > 0 {
		ts.key = cfg.APIKeys[0].Key
	}
	return ts
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// errorOf returns the error object of an error response.
func (r response) errorOf(t testing.TB) map[string]any {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	return e
}

func (ts *testServer) do(method, path string, body any, hdr ...string) response {
	ts.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "application/json"
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
		ctype = "application/json"
	}
	req := httptest.NewRequest(method, path, rd)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ts.key != "" {
		req.Header.Set("Authorization", "Bearer "+ts.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return ts.send(req)
}

func (ts *testServer) send(req *http.Request) response {
	ts.t.Helper()
	toLoopback(req)
	resp, err := ts.srv.App().Test(req, -1)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// toLoopback sends a request that httptest addressed to its default host,
// example.com, to 127.0.0.1: a server without API keys refuses any Host
// but a loopback one.
func toLoopback(req *http.Request) {
	if req.Host == "example.com" {
		req.Host = "127.0.0.1"
	}
}

// must asserts the status and returns the JSON body.
func (ts *testServer) must(status int, method, path string, body any) map[string]any {
	ts.t.Helper()
	r := ts.do(method, path, body)
	if r.Status != status {
		ts.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(ts.t)
}

func (ts *testServer) createFlow(doc string) {
	ts.t.Helper()
	ts.must(201, "POST", "/v1/flows", doc)
}

// texts lists the texts of a reply's messages.
func texts(reply map[string]any) []string {
	var out []string
	msgs, _ := reply["messages"].([]any)
	if msgs == nil {
		msgs, _ = reply["prompts"].([]any)
	}
	for _, m := range msgs {
		if s, ok := m.(map[string]any)["text"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

const askFlow = `{"id":"ask","name":"Ask name","widgets":[
 {"id":"hello","type":"send_message","text":"Hi @flow.greeting! What is your name?","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Name","exits":{"Next":"bye"}},
 {"id":"bye","type":"send_message","text":"Bye @flow.name, code @flow.code","exits":{"Next":""}}]}`

// listen serves the test server on a loopback port and returns its base URL.
func (ts *testServer) listen() string {
	ts.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.t.Fatal(err)
	}
	go func() { _ = ts.srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	// Serve has set itself up (its address refused to webhooks among the
	// rest) once it answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("the server on %s does not answer: %v", base, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// apiErrorCase is a request that must fail with an error of the given
// status, code and (when set) field.
type apiErrorCase struct {
	name, method, path, body string
	status                   int
	code, field              string
}

// expectErrors sends each case and checks the error answer: its status,
// code, field (when the case names one) and a non-empty message.
func (ts *testServer) expectErrors(t *testing.T, cases []apiErrorCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := ts.do(c.method, c.path, body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			e := r.errorOf(t)
			if e["code"] != c.code {
				t.Errorf("code %v, want %s (error %v)", e["code"], c.code, e)
			}
			if c.field != "" && e["field"] != c.field {
				t.Errorf("field %v, want %s (error %v)", e["field"], c.field, e)
			}
			if e["message"] == "" {
				t.Errorf("empty message (error %v)", e)
			}
		})
	}
}
