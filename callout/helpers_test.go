package callout

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// newService returns a service that may call loopback test servers.
func newService(t *testing.T, o Options) *Service {
	t.Helper()
	if o.AllowCIDRs == nil {
		o.AllowCIDRs = loopback
	}
	return New(o)
}

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// stallingServer answers no request until the caller gives up: at /partial
// it sends the status and the start of a body first.
func stallingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/partial" {
			w.WriteHeader(200)
			w.Write([]byte(`{"half":`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before the server's Close
	return srv
}

func call(t *testing.T, s *Service, req *flows.WebhookRequest) *flows.WebhookResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Call(ctx, req)
}

// clock is an adjustable Options.Now.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func itoa(i int) string { return strconv.Itoa(i) }

func fmtSscan(path string, n *int) (int, error) { return fmt.Sscanf(path, "/%d", n) }

func httptestServer(tb testing.TB, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}
