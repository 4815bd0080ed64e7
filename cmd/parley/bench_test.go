package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMsgConn checks the contacts' HTTP client against net/http's server:
// bodies and statuses read, keep-alive connections reused, a connection the
// server closed replaced, a non-2xx reply reported with its body.
func TestMsgConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/v1/channels/bench/messages" || r.Header.Get("Authorization") != "Bearer k" ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line or headers", 400)
			return
		}
		switch string(body) {
		case "fail":
			http.Error(w, "no such thing", 404)
		case "close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			_, _ = w.Write(append([]byte("echo "), body...))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	mc, err := newMsgConn(&benchClient{base: srv.URL, apiKey: "k"}, "/v1/channels/bench/messages", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.close()
	var out []byte
	for i, c := range []struct{ send, want, err string }{
		{send: "hi", want: "echo hi"},
		{send: "again", want: "echo again"},
		{send: "fail", err: "status 404: no such thing"},
		{send: "after a failure", want: "echo after a failure"},
		{send: "close", want: "bye"},
		{send: "new connection", want: "echo new connection"},
	} {
		out, err = mc.post([]byte(c.send), out)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("%d: error %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil || string(out) != c.want {
			t.Fatalf("%d: %q, %v; want %q", i, out, err, c.want)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one until the server closed it, then one more)", n)
	}

	// A keep-alive connection the server dropped while idle is replaced.
	srv.CloseClientConnections()
	if out, err = mc.post([]byte("after idle close"), out); err != nil || string(out) != "echo after idle close" {
		t.Fatalf("after the server closed the connection: %q, %v", out, err)
	}
}

// TestBenchRun runs a short in-process load test of the default flow and
// checks that every message was answered and conversations completed.
func TestBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs a load test")
	}
	o := benchOptions{duration: time.Second, concurrency: 4, flow: "order-status", events: "flow.completed", dataParent: t.TempDir()}
	res, err := runBench(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages == 0 || res.Errors != 0 || res.Conversations == 0 || res.WebhookCalls == 0 {
		t.Fatalf("messages %d, errors %d, conversations %d, webhook calls %d", res.Messages, res.Errors, res.Conversations, res.WebhookCalls)
	}
	if res.Deliveries != res.Conversations {
		t.Errorf("%d event deliveries for %d completed conversations", res.Deliveries, res.Conversations)
	}
}
