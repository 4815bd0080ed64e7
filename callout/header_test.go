package callout

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// A header a template filled with a line break (or another control
// character) cannot be sent: the call is a failure naming the header, made
// once, not an error retried until the flow takes its Timeout exit.
func TestHeaderThatCannotBeSentIsAFailure(t *testing.T) {
	var hits atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	s := newService(t, Options{})
	for _, c := range []struct {
		name    string
		headers map[string]string
		says    string
	}{
		{"CR LF in a value", map[string]string{"X-Name": "a\r\nX-Injected: 1"}, `the value of "X-Name" holds a line break`},
		{"LF alone", map[string]string{"X-Name": "a\nb"}, `the value of "X-Name" holds a line break`},
		{"NUL", map[string]string{"X-Name": "a\x00b"}, `the value of "X-Name" holds the control character`},
		{"bad name", map[string]string{"X Name": "a"}, `"X Name" is not a valid header name`},
		{"Host", map[string]string{"Host": "a\r\nb"}, `the value of "Host" holds a line break`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL, Headers: c.headers, Retries: 2})
			if res.Outcome != flows.OutcomeFailure || res.Attempts > 1 || !strings.Contains(res.Error, c.says) {
				t.Errorf("outcome %s, attempts %d, error %q; want failure, one attempt at most, saying %q", res.Outcome, res.Attempts, res.Error, c.says)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
	// A tab is allowed in a value.
	if res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL, Headers: map[string]string{"X-Name": "a\tb"}}); res.Outcome != flows.OutcomeSuccess {
		t.Errorf("a tab in a value: outcome %s (%s)", res.Outcome, res.Error)
	}
}

// The request's trace shows the headers sent: a Host the webhook sets, and
// not the headers the HTTP client writes itself (a flow stored before
// Validate refused them still runs, without them).
func TestTraceShowsTheHeadersSent(t *testing.T) {
	type seen struct {
		host, length, te, conn, upgrade, x string
		chunked                            bool
	}
	got := make(chan seen, 1)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("Content-Length"), r.Header.Get("Transfer-Encoding"), r.Header.Get("Connection"),
			r.Header.Get("Upgrade"), r.Header.Get("X-A"), len(r.TransferEncoding) > 0}
	})
	s := newService(t, Options{})
	req := &flows.WebhookRequest{Method: "POST", URL: srv.URL, Body: []byte(`{"a":1}`), Headers: map[string]string{
		"Host": "api.example.com", "content-length": "3", "Transfer-Encoding": "chunked", "Connection": "Upgrade",
		"Upgrade": "websocket", "X-A": "1",
	}}
	res := call(t, s, req)
	if res.Outcome != flows.OutcomeSuccess {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Error)
	}
	if g := <-got; g != (seen{host: "api.example.com", length: "7", x: "1"}) {
		t.Errorf("the receiver saw %+v", g)
	}
	want := map[string]string{"Host": "api.example.com", "Content-Type": "application/json", "User-Agent": UserAgent, "X-A": "1"}
	if !maps.Equal(res.Request.Headers, want) {
		t.Errorf("trace headers %v, want %v", res.Request.Headers, want)
	}
}

// Validate refuses the headers the client writes itself, by name, as a new
// rule (a flow stored with one still loads).
func TestValidateRefusesClientHeaders(t *testing.T) {
	for _, name := range []string{"Content-Length", "transfer-encoding", "Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Connection"} {
		errs := Validate(&flows.WebhookConfig{URL: "https://e.com", Headers: map[string]string{name: "x", "X-Ok": "1"}}, true)
		if len(errs) != 1 || errs[0].Path != "headers."+name || !errors.Is(errs[0], flows.ErrNewRule) ||
			!strings.Contains(errs[0].Message, "written by the HTTP client itself") {
			t.Errorf("%s: %v", name, errs)
		}
	}
	if errs := Validate(&flows.WebhookConfig{URL: "https://e.com", Headers: map[string]string{"Host": "a.example.com"}}, true); len(errs) != 0 {
		t.Errorf("Host: %v", errs)
	}
}

// Two headers whose names differ only in case are refused, naming both: only
// one would go, a different one from call to call. A flow stored with them
// still loads (a new rule).
func TestValidateRefusesHeadersOfOneName(t *testing.T) {
	errs := Validate(&flows.WebhookConfig{URL: "https://e.com", Headers: map[string]string{"X-Api-Key": "a", "x-api-key": "b"}}, true)
	if len(errs) != 1 || errs[0].Path != "headers.x-api-key" || !errors.Is(errs[0], flows.ErrNewRule) ||
		!strings.Contains(errs[0].Message, `names the same header as "X-Api-Key"`) {
		t.Errorf("errors %v, want one at headers.x-api-key naming X-Api-Key", errs)
	}
}

// A webhook stored before two spellings of one header name were refused
// (X-Key, x-key) sends the same one on every call, the spelling that sorts
// last, not one of the two at random.
func TestHeadersOfOneNameStoredSendTheSameOne(t *testing.T) {
	var got []string
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { got = append(got, r.Header.Get("X-Key")+" "+r.Host) })
	s := newService(t, Options{})
	for range 20 {
		res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL,
			Headers: map[string]string{"X-Key": "A", "x-key": "b", "X-KEY": "C", "Host": "one.example", "host": "two.example"}})
		if res.Outcome != flows.OutcomeSuccess {
			t.Fatalf("outcome %s (%s)", res.Outcome, res.Error)
		}
		if h := res.Request.Headers["X-Key"]; h != "b" {
			t.Errorf("the trace shows X-Key %q, want the one sent, b", h)
		}
	}
	for i, g := range got {
		if g != "b two.example" {
			t.Errorf("call %d sent X-Key and Host %q, want \"b two.example\" every time", i, g)
		}
	}
}
