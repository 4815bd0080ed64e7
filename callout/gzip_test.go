package callout

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A gzip answer is read decoded whether the transport asked for gzip itself
// or the webhook's headers did (an Accept-Encoding of its own turns Go's
// transparent decoding off), and the answer size limit holds on the decoded
// bytes: a small gzip that decodes to much more is cut at the limit. An
// answer that is not the gzip it says is a failure.
func TestGzipAnswerIsDecoded(t *testing.T) {
	answer := []byte(`{"status": "shipped"}`)
	bomb := gzipped(t, make([]byte, 10<<20)) // 10 MiB of zeros in about 10 KiB
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		switch r.URL.Path {
		case "/bomb":
			w.Write(bomb)
		case "/broken":
			w.Write([]byte("not gzip at all"))
		default:
			w.Write(gzipped(t, answer))
		}
	})
	s := newService(t, Options{})
	for _, c := range []struct {
		name    string
		headers map[string]string
	}{
		{"the transport's own Accept-Encoding", nil},
		{"Accept-Encoding: gzip", map[string]string{"Accept-Encoding": "gzip"}},
		{"accept-encoding: gzip, deflate, br", map[string]string{"accept-encoding": "gzip, deflate, br"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL, Headers: c.headers})
			if res.Outcome != flows.OutcomeSuccess || !bytes.Equal(res.Body, answer) {
				t.Errorf("outcome %s (%s), body %q; want success, %s", res.Outcome, res.Error, res.Body, answer)
			}
			if ce := res.Headers["Content-Encoding"]; ce != "" {
				t.Errorf("the decoded answer still says Content-Encoding %q", ce)
			}
			res = call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/bomb", Headers: c.headers, MaxResponse: 1000})
			if res.Outcome != flows.OutcomeTooBig || len(res.Body) != 1000 || res.Body[0] != 0 {
				t.Errorf("10 MiB in gzip: outcome %s (%s), %d bytes kept; want too_large, the first 1000 decoded bytes", res.Outcome, res.Error, len(res.Body))
			}
			res = call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/broken", Headers: c.headers})
			if res.Outcome != flows.OutcomeFailure || !strings.Contains(res.Error, "its gzip (Content-Encoding gzip) does not decode") {
				t.Errorf("an answer that is not the gzip it says: outcome %s, error %q; want failure saying its gzip does not decode", res.Outcome, res.Error)
			}
		})
	}
}
