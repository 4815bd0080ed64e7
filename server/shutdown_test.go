package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// hookNowFlow calls the webhook at url as soon as a session starts.
func hookNowFlow(url string) string {
	return `{"id":"hook-now","name":"Hook now","widgets":[
 {"id":"hook","type":"webhook","method":"GET","url":"` + url + `/now","result":"Hook","exits":{"Success":"ok","Failure":"ko","Timeout":"ko"}},
 {"id":"ok","type":"send_message","text":"Done"},
 {"id":"ko","type":"send_message","text":"Webhook failed"}]}`
}

// rawRequest writes one HTTP/1.1 request on c (keeping the connection open).
func rawRequest(t *testing.T, c net.Conn, method, path, body string) {
	t.Helper()
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		method, path, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// A shutdown closes at once the connections on which no request is under
// way: those a client opened and has not sent anything on yet (an HTTP
// client's spare connections) as well as those idle between requests. A
// request in flight still gets its whole answer, which tells the client the
// connection closes, and the turn it answers for is kept.
func TestShutdownClosesQuietConnections(t *testing.T) {
	url, _, called, release := blockingHook(t)
	dir := t.TempDir()
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(hookNowFlow(url))
	addr := strings.TrimPrefix(ts.listen(), "http://")
	dial := dialer(t, addr)

	var quiet []net.Conn
	for range 3 { // opened, never used
		quiet = append(quiet, dial())
	}
	for range 3 { // one request answered, kept alive
		c := dial()
		rawRequest(t, c, "GET", "/healthz", "")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /healthz: status %d, close %v; want 200 on a connection kept alive", resp.StatusCode, resp.Close)
		}
		quiet = append(quiet, c)
	}

	busy := dial()
	rawRequest(t, busy, "POST", "/v1/sessions", `{"flow":"hook-now","contact":{"urn":"tel:+15555550100"}}`)
	<-called // the request's turn waits for the webhook

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- ts.srv.Shutdown(ctx)
	}()

	// Each quiet connection is closed by the server while the request in
	// flight holds the shutdown open (reset when the listener closed before
	// accepting it). The read deadline only keeps a failing test from
	// hanging: before, an unused connection was kept until the server's
	// 10 s read timeout and then got a 408.
	for i, c := range quiet {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := c.Read(make([]byte, 512))
		if n != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("quiet connection %d: read %d bytes, %v; want the server to close it (EOF) at once", i, n, err)
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}

	close(release)
	_ = busy.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(busy)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	var reply map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		t.Fatalf("the answer to the request in flight: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || reply["status"] != "completed" || strings.Join(texts(reply), "|") != "Done" {
		t.Errorf("the request in flight: status %d, %v; want 201, completed with Done", resp.StatusCode, reply)
	}
	if !resp.Close {
		t.Error("the answer given during the shutdown does not say Connection: close")
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after its answer the connection gave %d bytes, %v; want it closed", n, err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	second := newTestServer(t, func(c *Config) { c.DataDir = dir })
	s := second.must(200, "GET", "/v1/sessions/"+reply["id"].(string), nil)
	if s["status"] != "completed" {
		t.Errorf("after a restart the session answered during the shutdown is %v, want completed", s["status"])
	}
}

// A Serve that comes after Shutdown (a signal as the server starts) does
// not serve: it returns and closes its listener.
func TestServeAfterShutdown(t *testing.T) {
	ts := newTestServer(t, nil)
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ts.srv.Serve(ln) }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		_ = ln.Close()
		t.Fatal("Serve after Shutdown serves")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener given to Serve after Shutdown still accepts connections")
	}
}

// Requests that come while a shutdown waits for a request in flight are
// refused cleanly: a new connection is refused, and a request sent on a
// connection kept alive from before either gets a whole answer, saying
// that the connection closes, or finds the connection closed (or reset,
// the request being unread) before any byte of an answer; none waits for
// the shutdown to end.
func TestRequestsDuringShutdown(t *testing.T) {
	url, _, called, release := blockingHook(t)
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(hookNowFlow(url))
	addr := strings.TrimPrefix(ts.listen(), "http://")
	dial := dialer(t, addr)
	kept := make([]net.Conn, 4)
	for i := range kept {
		kept[i] = dial()
		rawRequest(t, kept[i], "GET", "/healthz", "")
		resp, err := http.ReadResponse(bufio.NewReader(kept[i]), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	busy := dial()
	rawRequest(t, busy, "POST", "/v1/sessions", `{"flow":"hook-now","contact":{"urn":"tel:+15555550100"}}`)
	<-called

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- ts.srv.Shutdown(ctx)
	}()
	// Once the listener is closed new connections are refused (or reset,
	// when one was waiting to be accepted as it closed).
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("a new connection during the shutdown: %v, want it refused", err)
			}
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections are still accepted after Shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, c := range kept {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		br := bufio.NewReader(c)
		if _, err := br.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("kept connection %d: %v; want an answer or the connection closed", i, err)
			}
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("kept connection %d: part of an answer: %v", i, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !resp.Close {
			t.Errorf("kept connection %d: status %d, close %v, %q, %v; want a whole 200 saying Connection: close", i, resp.StatusCode, resp.Close, body, err)
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// dialer opens connections to addr, closed when the test ends.
func dialer(t *testing.T, addr string) func() net.Conn {
	return func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// An https:// URL for this plain HTTP server fails at once, saying so,
// instead of each side waiting for the other until a timeout; the server
// goes on serving.
func TestTLSHandshakeAnsweredInPlainHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	base := ts.listen()
	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	_, err := client.Get(strings.Replace(base, "http://", "https://", 1) + "/healthz")
	if err == nil || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		t.Fatalf("https:// to the plain server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the TLS client waited %v", d)
	}
	c, err := tls.Dial("tcp", strings.TrimPrefix(base, "http://"), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Fatal("a TLS handshake succeeded")
	}
	var rec tls.RecordHeaderError
	if !errors.As(err, &rec) || !strings.HasPrefix(string(rec.RecordHeader[:]), "HTTP/") {
		t.Errorf("handshake error %v, want an HTTP answer", err)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz after: %d", resp.StatusCode)
	}
}

// A request still running when the shutdown's grace ends is counted in
// Shutdown's error and logged: it is left unanswered and its turn unsaved.
func TestShutdownReportsRequestsCutShort(t *testing.T) {
	url, _, called, release := blockingHook(t)
	defer close(release)
	logs := &syncbuf.Buffer{}
	// Not newTestServer, whose cleanup expects a shutdown without errors.
	srv, err := New(Config{
		DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(logs, nil)), Examples: fstest.MapFS{},
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, TimerInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv, clock: newClock()}
	ts.createFlow(hookNowFlow(url))
	addr := strings.TrimPrefix(ts.listen(), "http://")
	busy := dialer(t, addr)()
	rawRequest(t, busy, "POST", "/v1/sessions", `{"flow":"hook-now","contact":{"urn":"tel:+15555550100"}}`)
	<-called
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = ts.srv.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded (1 requests still running were cut short, unanswered") {
		t.Errorf("Shutdown: %v; want the request cut short counted", err)
	}
	if !strings.Contains(logs.String(), "shutdown grace ended with requests still running") || !strings.Contains(logs.String(), "requests=1") {
		t.Errorf("log:\n%s", logs.String())
	}
}
