package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestDotSegmentsEscapedInURLPaths: a value inserted into a webhook URL's
// path that is "." or ".." reaches the receiver escaped, not as a dot
// segment that would lead to another path.
func TestDotSegmentsEscapedInURLPaths(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
	  {"id": "call", "type": "webhook", "method": "GET", "url": "` + srv.URL + `/customers/@input/orders?q=@input", "exits": {"Success": "wait"}},
	  {"id": "wait", "type": "wait_for_response", "exits": {"Next": "call"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := e.Start(context.Background(), f, engine.StartParams{})
	<-got
	for input, want := range map[string]string{
		"..":     "/customers/%2E%2E/orders?q=..",
		".":      "/customers/%2E/orders?q=.",
		"...":    "/customers/%2E%2E%2E/orders?q=...",
		"../x":   "/customers/..%2Fx/orders?q=..%2Fx",
		"CU.001": "/customers/CU.001/orders?q=CU.001",
	} {
		if _, err := e.Resume(context.Background(), f, s, flows.Text(input)); err != nil {
			t.Fatal(err)
		}
		if uri := <-got; uri != want {
			t.Errorf("%q: the receiver got %s, want %s", input, uri, want)
		}
	}
}
