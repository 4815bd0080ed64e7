package server

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

const refusedKey = "k_supersecret_0123456789"

// sendRaw writes raw on a new connection to base's server and reads the
// answer, an API error that must not quote the request.
func sendRaw(t *testing.T, base, raw string) (*http.Response, map[string]any) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), refusedKey) || strings.Contains(string(b), "Bearer") {
		t.Errorf("the answer quotes the request: %s", b)
	}
	var m struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Error == nil {
		t.Fatalf("answer %d is not an API error: %s", resp.StatusCode, b)
	}
	return resp, m.Error
}

// A request whose line or headers do not parse is refused with a message of
// the server's own that says what is wrong and quotes nothing of the
// request (fasthttp's own quoted it whole, an API key too), neither in
// the answer nor in the log; the answer and the log line carry the
// caller's X-Request-Id, method and path, as far as they were read.
func TestMalformedRequestQuotesNothing(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{{Name: "ops", Key: refusedKey}}
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	base := ts.listen()
	auth := "Authorization: Bearer " + refusedKey + "\r\n"
	cases := []struct {
		name, raw, message, line string
	}{
		{"content-length", "POST /v1/flows?x=1 HTTP/1.1\r\nHost: x\r\n" + auth + "X-Request-Id: my-req-id-1\r\nContent-Length: 12x\r\n\r\n{}",
			"malformed Content-Length header: expected the body's size, a whole number of bytes",
			"request_id=my-req-id-1 method=POST path=/v1/flows status=400"},
		{"negative content-length", "PUT /v1/flows/f HTTP/1.1\r\n" + auth + "X-Request-Id: my-req-id-2\r\nContent-Length: -1\r\n\r\n",
			"malformed Content-Length header: expected the body's size, a whole number of bytes",
			"request_id=my-req-id-2 method=PUT path=/v1/flows/f status=400"},
		{"header name", "GET /v1/flows HTTP/1.1\r\nX-Request-Id: my-req-id-3\r\n" + auth + "Bad Name: " + refusedKey + "\r\n\r\n",
			"malformed header on line 4 of the request: expected a name without spaces, a colon and the value",
			"request_id=my-req-id-3 method=GET path=/v1/flows status=400"},
		{"chunked body", "POST /v1/sessions HTTP/1.1\r\n" + auth + "X-Request-Id: my-req-id-4\r\nTransfer-Encoding: chunked\r\n\r\nzz" + refusedKey + "\r\n",
			"malformed chunked request body (Transfer-Encoding: chunked)",
			"request_id=my-req-id-4 method=POST path=/v1/sessions status=400"},
		{"request line", " /v1/flows HTTP/1.1\r\n" + auth + "X-Request-Id: my-req-id-5\r\n\r\n",
			"malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)",
			`method="" path="" status=400`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, e := sendRaw(t, base, c.raw)
			if resp.StatusCode != 400 || e["code"] != CodeBadRequest || e["message"] != c.message {
				t.Errorf("%d %v, want 400 bad_request %q", resp.StatusCode, e, c.message)
			}
			if rid, ok := strings.CutPrefix(c.line, "request_id="); ok {
				if rid, _, _ = strings.Cut(rid, " "); resp.Header.Get("X-Request-Id") != rid {
					t.Errorf("X-Request-Id %q, want the caller's %q", resp.Header.Get("X-Request-Id"), rid)
				}
			}
			if !strings.Contains(logs.String(), c.line) {
				t.Errorf("no request line with %q in the log:\n%s", c.line, logs)
			}
		})
	}
	if strings.Contains(logs.String(), refusedKey) {
		t.Errorf("the log quotes a request:\n%s", logs)
	}
}

// A request whose body does not come in full within the read timeout is
// answered 408 timeout, and reported with its X-Request-Id, method and
// path, also on a connection that carried a request before.
func TestStalledBodyTimesOut(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.srv.app.Server().ReadTimeout = 300 * time.Millisecond
	base := ts.listen()
	for _, before := range []string{"", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		if before != "" {
			// The first request is answered before the second is sent.
			_, _ = io.WriteString(c, before)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("first request: %v %v", resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		rid := "stalled-" + map[bool]string{true: "second", false: "first"}[before != ""]
		_, _ = io.WriteString(c, "POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: "+rid+"\r\nContent-Length: 100\r\n\r\n{\"flow\":")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `{"error":{"code":"timeout","message":"the request was not received in full within the 300ms read timeout"}}`
		if resp.StatusCode != 408 || string(b) != want {
			t.Errorf("%s: %d %s, want 408 %s", rid, resp.StatusCode, b, want)
		}
		if got := resp.Header.Get("X-Request-Id"); got != rid {
			t.Errorf("X-Request-Id %q, want the caller's %q", got, rid)
		}
		if line := "request_id=" + rid + " method=POST path=/v1/sessions status=408"; !strings.Contains(logs.String(), line) {
			t.Errorf("no request line with %q in the log:\n%s", line, logs)
		}
	}
}

// parseHead reads what a request refused before routing gave, as far as it
// was read, and says what does not parse without quoting it.
func TestParseHead(t *testing.T) {
	for _, c := range []struct {
		in                string
		method, path, rid string
		line, complete    bool
		problem           string
	}{
		{in: "POST /v1/flows?x=1 HTTP/1.1\r\nx-request-id:  r1 \r\nContent-Length: 2\r\n\r\n{}", method: "POST", path: "/v1/flows", rid: "r1", line: true, complete: true},
		{in: "GET http://h.example/v1/sessions#f HTTP/1.1\nX-Request-Id: r2\n\n", method: "GET", path: "/v1/sessions", rid: "r2", line: true, complete: true},
		{in: "GET /healthz HTTP/1.1\r\nX-Long: a\r\n b\r\nX-Request-Id: r3\r\nX-Request-Id: r4\r\n", method: "GET", path: "/healthz", rid: "r3", line: true},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length: 1e3\r\nX-Request-Id: r5\r\n\r\n", method: "POST", path: "/v1/flows", rid: "r5", line: true, complete: true,
			problem: "malformed Content-Length header: expected the body's size, a whole number of bytes"},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", method: "POST", path: "/v1/flows", line: true, complete: true,
			problem: "malformed Content-Length header: expected the body's size, a whole number of bytes"},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length 2 secret\r\nX-Request-Id: r6\r\n\r\n", method: "POST", path: "/v1/flows", rid: "r6", line: true, complete: true,
			problem: "malformed header on line 2 of the request: expected a name without spaces, a colon and the value"},
		{in: "POST /v1/flows HTTP/1.1\r\nX-Request-Id: r7\r\nX-Req", method: "POST", path: "/v1/flows", rid: "r7", line: true},
		{in: "POST /v1/fl"},
		{in: "P(ST /v1/flows HTTP/1.1\r\n\r\n", problem: "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"},
		{in: "POST  HTTP/1.1\r\n\r\n", problem: "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"},
	} {
		h := parseHead([]byte(c.in))
		if h.method != c.method || h.path != c.path || h.rid != c.rid || h.line != c.line || h.complete != c.complete || h.problem != c.problem {
			t.Errorf("parseHead(%q) = %+v, want %+v", c.in, h, c)
		}
	}
}
