package callout

import (
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
