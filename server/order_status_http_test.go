package server

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestOrderStatusOverHTTP runs the order status example with the real webhook
// client against the server's demo endpoint over a real socket: @extra.status
// from each answer picks the branch.
func TestOrderStatusOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ts.srv.App().Listener(ln) }()
	base := "http://" + ln.Addr().String()

	src, err := os.ReadFile("../examples/order-status/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.ReplaceAll(string(src), "http://127.0.0.1:8080", base))
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		order, want, status string
	}{
		{"CU001", "We shipped your order", "Shipped"},
		{"CU002", "we haven't shipped your order", "Pending"},
		{"CU003", "was cancelled on", "Cancelled"},
		{"XX999", "doesn't look like a valid order number", "Invalid"},
	}
	for _, c := range cases {
		t.Run(c.order, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sess, _, err := e.Start(ctx, f, engine.StartParams{Contact: flows.Contact{URN: "tel:+15550001", Name: "Ann"}})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := e.Resume(ctx, f, sess, flows.Text(c.order))
			if err != nil {
				t.Fatal(err)
			}
			var called *flows.Event
			for i := range evs {
				if evs[i].Type == flows.EventWebhookCalled {
					called = &evs[i]
				}
			}
			if called == nil || called.Status != 200 || called.Outcome != flows.OutcomeSuccess {
				t.Fatalf("webhook call: %+v", called)
			}
			if !strings.HasPrefix(called.URL, base+"/demo/order-status") {
				t.Errorf("called %s, want the demo endpoint on %s", called.URL, base)
			}
			out := strings.Join(sim.Outputs(evs), "\n")
			if !strings.Contains(out, c.want) {
				t.Errorf("reply %q does not contain %q", out, c.want)
			}
			if got := sess.Results()["order_status"]; got == nil || got.Value != c.status {
				t.Errorf("@flow.order_status = %+v, want %s", got, c.status)
			}
		})
	}
}
