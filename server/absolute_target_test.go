package server

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// A request line may carry an absolute URL (GET http://localhost/v1/flows
// HTTP/1.1), whose host stands in for the Host header. A tunnel that passes
// the request line on as it came, with its own public Host header, must not
// let a server without API keys take such a request from the internet for
// one sent to a loopback name: the request is judged by both hosts.
func TestAbsoluteTargetWithoutKeys(t *testing.T) {
	const public = "abc.ngrok.app"
	ts := newTestServer(t, func(cfg *Config) {
		cfg.Examples = nil
		cfg.PublicURL = "https://" + public
	})
	base := ts.listen()
	addr := strings.TrimPrefix(base, "http://")
	if r := ts.do("POST", "/v1/channels", `{"id":"open","type":"twilio"}`); r.Status != 201 {
		t.Fatalf("create channel open: %d %s", r.Status, r.Body)
	}
	send := func(requestLine, host, body string) *http.Response {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		raw := requestLine + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
		if body != "" {
			raw += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		if _, err := conn.Write([]byte(raw + "\r\n" + body)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		line, host, body string
		want             int
	}{
		{"GET http://localhost/v1/flows", public, "", 403},
		{"GET http://127.0.0.1/v1/flows", public + ":443", "", 403},
		{"GET http://" + public + "/v1/flows", "localhost", "", 403},
		{"GET http://rebound.example/v1/flows", "localhost", "", 403},
		{"GET http://localhost/v1/flows", "rebound.example", "", 403},
		{"POST http://localhost/twilio/open/sms", public, "From=%2B15550001&Body=hi", 403},
		// Both loopback: the operator's own request, as before.
		{"GET http://localhost/v1/flows", "127.0.0.1", "", 200},
		{"GET http://localhost/healthz", public, "", 200},
	} {
		if resp := send(tc.line, tc.host, tc.body); resp.StatusCode != tc.want {
			t.Errorf("%s with Host %s: %d; want %d", tc.line, tc.host, resp.StatusCode, tc.want)
		}
	}
}
