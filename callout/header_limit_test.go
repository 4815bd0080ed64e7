package callout

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// An answer whose headers are over the cap is refused as too large, as one
// whose body is: without the cap a webhook could answer with megabytes of
// headers, all kept in the webhook_called event of the session.
func TestAnswerHeadersOverTheCap(t *testing.T) {
	const headers = 2000 // of some 100 bytes each: 200 KB, over the 64 KiB default
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			for i := range headers {
				w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("a", 90))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	for _, tc := range []struct {
		name string
		o    Options
		want string // outcome
	}{
		{"default cap", Options{}, flows.OutcomeTooBig},
		{"cap raised", Options{MaxResponseHeaders: 1 << 20}, flows.OutcomeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, newService(t, tc.o), &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/big"})
			if res.Outcome != tc.want {
				t.Fatalf("outcome %s (%s); want %s", res.Outcome, res.Error, tc.want)
			}
			if tc.want == flows.OutcomeSuccess {
				if res.Response == nil || len(res.Response.Headers) < headers {
					t.Errorf("answer's headers not kept: %d", len(res.Response.Headers))
				}
				return
			}
			want := fmt.Sprintf("the answer's headers are over the %d-byte limit (--webhook-max-headers)", DefaultMaxResponseHeaders)
			if !strings.Contains(res.Error, want) {
				t.Errorf("error %q; want it to say %q", res.Error, want)
			}
			if res.Response != nil && len(res.Response.Headers) > 0 {
				t.Errorf("the trace keeps %d headers of an answer refused for them", len(res.Response.Headers))
			}
		})
	}
	// Ordinary headers are well under the cap.
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/small"})
	if res.Outcome != flows.OutcomeSuccess {
		t.Errorf("small answer: outcome %s (%s)", res.Outcome, res.Error)
	}
}
