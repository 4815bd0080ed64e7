package server

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// dialRaw opens a connection to base's server for requests written by
// hand, closed when the test ends, and a reader of its answers.
func dialRaw(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// sendRaw writes raw on a new connection to base's server and reads the
// answer, an API error that must not quote the request.
func sendRaw(t *testing.T, base, raw string) (*http.Response, map[string]any) {
	t.Helper()
	c, br := dialRaw(t, base)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
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

// A request sent right behind another, before its answer (pipelined), and
// refused before routing is reported from its own start: the start that
// came in the same read as the request before it is kept, and the rest of
// its line and headers, read later, is never taken for a request line (an
// API key read as the method and path). Behind a chunked request, whose
// end the connection cannot tell, it is reported with no method or path.
func TestPipelinedRequestRefused(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.APIKeys = []APIKey{{Name: "ops", Key: refusedKey}}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	base := ts.listen()
	cases := []struct {
		name, before, message, line string
	}{
		{"behind a request", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			"malformed header on line 5 of the request: expected a name without spaces, a colon and the value",
			"request_id=piped-1 method=POST path=/v1/flows status=400"},
		{"behind a chunked request", "POST /v1/flows/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			"malformed request line or headers",
			`method="" path="" status=400`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, br := dialRaw(t, base)
			// The second request's headers end in a later read than the
			// first request, read with their start.
			_, _ = io.WriteString(conn, c.before+"POST /v1/flows HTTP/1.1\r\nHost: x\r\nX-Request-Id: piped-1\r\nAuthorization: ")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_, _ = io.WriteString(conn, "Bearer "+refusedKey+"\r\nBad Name: 1\r\n\r\n")
			if resp, err = http.ReadResponse(br, nil); err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			var m struct{ Error map[string]any }
			if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 400 || m.Error["message"] != c.message {
				t.Errorf("%d %s, want 400 %q", resp.StatusCode, b, c.message)
			}
			if strings.Contains(string(b), refusedKey) {
				t.Errorf("the answer quotes the API key: %s", b)
			}
			if rid := resp.Header.Get("X-Request-Id"); (rid == "piped-1") != strings.Contains(c.line, "piped-1") {
				t.Errorf("X-Request-Id %q, want the caller's only when the log line has it: %s", rid, c.line)
			}
			if !strings.Contains(logs.String(), c.line) {
				t.Errorf("no request line with %q in the log:\n%s", c.line, logs)
			}
		})
	}
	if strings.Contains(logs.String(), refusedKey) {
		t.Errorf("the log quotes the API key:\n%s", logs)
	}
}

// A request whose body does not come in full within the read timeout is
// answered 408 timeout, and reported with its X-Request-Id, method and
// path, also on a connection that carried a request before, answered or
// not yet (pipelined).
func TestStalledBodyTimesOut(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.srv.app.Server().ReadTimeout = 300 * time.Millisecond
	base := ts.listen()
	healthz := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	for _, c := range []struct{ rid, before string }{{"stalled-first", ""}, {"stalled-second", healthz}, {"stalled-pipelined", healthz}} {
		rid, before := c.rid, c.before
		conn, br := dialRaw(t, base)
		stalled := "POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: " + rid + "\r\nContent-Length: 100\r\n\r\n{\"flow\":"
		if rid == "stalled-pipelined" {
			// Both requests in one write: the second one's start is read
			// with the first one.
			stalled, before = before+stalled, ""
		}
		if before != "" {
			// The first request is answered before the second is sent.
			_, _ = io.WriteString(conn, before)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("first request: %v %v", resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		_, _ = io.WriteString(conn, stalled)
		resp, err := http.ReadResponse(br, nil)
		if err == nil && rid == "stalled-pipelined" {
			_, _ = io.Copy(io.Discard, resp.Body) // the first request's
			resp, err = http.ReadResponse(br, nil)
		}
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

// A chunked body over the limit, which fasthttp forgets the request of, is
// logged with the path of its target, also of a URL with a user and a
// password: the password is not logged.
func TestOversizedChunkedBodyURLPassword(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.BodyLimit = 4096
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	base := ts.listen()
	chunk := strings.Repeat("a", 5000)
	resp, e := sendRaw(t, base, "POST http://admin:URLPASSWORD@"+strings.TrimPrefix(base, "http://")+"/v1/flows?x=1 HTTP/1.1\r\nHost: x\r\n"+
		"X-Request-Id: chunked-url\r\nTransfer-Encoding: chunked\r\n\r\n"+fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk))
	if resp.StatusCode != 413 || e["code"] != CodeTooLarge {
		t.Errorf("%d %v, want 413 %s", resp.StatusCode, e, CodeTooLarge)
	}
	if line := "request_id=chunked-url method=POST path=/v1/flows status=413"; !strings.Contains(logs.String(), line) {
		t.Errorf("no request line with %q in the log:\n%s", line, logs)
	}
	if strings.Contains(logs.String(), "URLPASSWORD") {
		t.Errorf("the log quotes the URL's password:\n%s", logs)
	}
}

// parseHead reads what a request refused before routing gave, as far as it
// was read, and says what does not parse without quoting it. Only a whole
// request line is taken for one: what starts in the middle of a request
// gives no method or path.
func TestParseHead(t *testing.T) {
	malformedLine := "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"
	for _, c := range []struct {
		in                string
		method, path, rid string
		line, complete    bool
		whole             bool // the request's length is in's
		problem           string
	}{
		{in: "POST /v1/flows?x=1 HTTP/1.1\r\nx-request-id:  r1 \r\nContent-Length: 2\r\n\r\n{}", method: "POST", path: "/v1/flows", rid: "r1", line: true, complete: true, whole: true},
		{in: "GET http://h.example/v1/sessions#f HTTP/1.1\nX-Request-Id: r2\n\n", method: "GET", path: "/v1/sessions", rid: "r2", line: true, complete: true, whole: true},
		{in: "GET /healthz HTTP/1.1\r\nX-Long: a\r\n b\r\nX-Request-Id: r3\r\nX-Request-Id: r4\r\n", method: "GET", path: "/healthz", rid: "r3", line: true},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length: 1e3\r\nX-Request-Id: r5\r\n\r\n", method: "POST", path: "/v1/flows", rid: "r5", line: true, complete: true, whole: true,
			problem: "malformed Content-Length header: expected the body's size, a whole number of bytes"},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", method: "POST", path: "/v1/flows", line: true, complete: true, whole: true,
			problem: "malformed Content-Length header: expected the body's size, a whole number of bytes"},
		{in: "POST /v1/flows HTTP/1.1\r\nContent-Length 2 secret\r\nX-Request-Id: r6\r\n\r\n", method: "POST", path: "/v1/flows", rid: "r6", line: true, complete: true, whole: true,
			problem: "malformed header on line 2 of the request: expected a name without spaces, a colon and the value"},
		{in: "POST /v1/flows HTTP/1.1\r\nX-Request-Id: r7\r\nX-Req", method: "POST", path: "/v1/flows", rid: "r7", line: true},
		{in: "POST /v1/fl"},
		{in: "P(ST /v1/flows HTTP/1.1\r\n\r\n", problem: malformedLine},
		{in: "POST  HTTP/1.1\r\n\r\n", problem: malformedLine},
		// The blank lines fasthttp skips before a request line count for
		// its length, not as its lines.
		{in: "\r\n\r\nPOST /v1/flows HTTP/1.1\r\nBad Name: 1\r\nContent-Length: 3\r\n\r\n{}\n", method: "POST", path: "/v1/flows", line: true, complete: true, whole: true,
			problem: "malformed header on line 2 of the request: expected a name without spaces, a colon and the value"},
		{in: "POST /v1/sessions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", method: "POST", path: "/v1/sessions", line: true, complete: true},
		// The middle of a request: a header's value is not a method and a path.
		{in: "Bearer " + refusedKey + "\r\nBad Name: 1\r\n\r\n", problem: malformedLine},
		{in: "Bearer " + refusedKey + " x\r\n\r\n", problem: malformedLine},
		{in: "GET /v1/flows HTTP/2\r\n\r\n", problem: malformedLine},
		{in: "GET /v1/flows\r\n\r\n", problem: malformedLine},
		// A target that is not a path or a URL gives no path; a URL's user
		// and password are no part of it.
		{in: "POST http://admin:pw@h.example:8080/v1/flows HTTP/1.1\r\n", method: "POST", path: "/v1/flows", line: true},
		{in: "POST http:/admin:pw@h.example/v1/flows HTTP/1.1\r\n", method: "POST", line: true},
		{in: "POST admin:pw@h.example/v1/flows HTTP/1.1\r\n", method: "POST", line: true},
	} {
		h := parseHead([]byte(c.in))
		length := -1
		if c.whole {
			length = len(c.in)
		}
		if string(h.method) != c.method || string(h.path) != c.path || string(h.rid) != c.rid || h.line != c.line || h.complete != c.complete ||
			h.length != length || h.problem != c.problem {
			t.Errorf("parseHead(%q) = %+v, want %+v", c.in, h, c)
		}
	}
}

// Transfer-Encoding is read as fasthttp reads it: any value but exactly
// "identity" makes the body chunked, for good. Read otherwise ("IDENTITY"
// taken for identity), a chunked body holding a request line made the
// connection lose where requests start, and a refused request behind it
// was answered and logged with the id, method and path of the one before.
func TestRefusedBehindTransferEncodingCase(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	base := ts.listen()
	conn, br := dialRaw(t, base)
	_, _ = io.WriteString(conn, "POST /v1/flows/validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: IDENTITY\r\nContent-Length: 0\r\n\r\n"+
		"0 /smuggled HTTP/1.1\r\nX-Evil: 1\r\n\r\n"+
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: B-ID\r\n\r\n"+
		"POST /v1/flows HTTP/1.1\r\nHost: x\r\nX-Request-Id: C-ID\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n")
	var last *http.Response
	for i := 0; i < 3; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		last = resp
	}
	if last.StatusCode != 400 {
		t.Fatalf("third answer %d, want 400", last.StatusCode)
	}
	if rid := last.Header.Get("X-Request-Id"); rid == "B-ID" {
		t.Errorf("the refused request is answered with the id of the one before it")
	}
	if strings.Contains(logs.String(), "request_id=B-ID method=GET path=/healthz status=400") {
		t.Errorf("the refused request is logged as the one before it:\n%s", logs)
	}
}
