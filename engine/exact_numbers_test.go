package engine_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestWebhookSendsNumbersExactly: what a webhook sends (its URL, headers and
// body) carries numbers with every digit they have, so that a number read from
// one answer is passed on unchanged; a message shows them rounded to 15
// significant digits, and a list as its numbers read alone.
func TestWebhookSendsNumbersExactly(t *testing.T) {
	type request struct{ uri, header, body string }
	got := make(chan request, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- request{r.RequestURI, r.Header.Get("X-Amount"), string(b)}
		w.Write([]byte(`{"frac": 0.12345678901234567, "money": 19.99}`))
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
	  {"id": "in", "type": "webhook", "method": "GET", "url": "` + srv.URL + `/in", "exits": {"Success": "out"}},
	  {"id": "out", "type": "webhook", "url": "` + srv.URL + `/out?f=@(extra.frac)", "headers": {"X-Amount": "@(extra.money * 3) @(0.1 + 0.2)"},
	   "body_mode": "custom", "body": "{\"h\": @(extra.frac), \"p\": @extra.frac, \"o\": @(123456789012.3456789), \"l\": @([extra.frac, 1e-20])}",
	   "exits": {"Success": "m"}},
	  {"id": "m", "type": "send_message", "text": "@(extra.frac) @(123456789012.3456789) @([1e-20, 0.1 + 0.2]) @(extra.money * 3)"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	<-got
	out := <-got
	want := request{
		uri:    "/out?f=0.12345678901234566",
		header: "59.97 0.30000000000000004",
		body:   `{"h": 0.12345678901234566, "p": 0.12345678901234567, "o": 123456789012.34567, "l": [0.12345678901234566,0.00000000000000000001]}`,
	}
	if out != want {
		t.Errorf("the webhook sent\n%+v\nwant\n%+v", out, want)
	}
	if msgs := texts(evs); len(msgs) != 1 || msgs[0] != "0.123456789012346 123456789012.346 [0.00000000000000000001,0.3] 59.97" {
		t.Errorf("sent %q", msgs)
	}
}
