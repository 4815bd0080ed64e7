package delivery

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

// A receiver slower than the delivery timeout gets a timeout whose message
// names the setting, not only Go's "context deadline exceeded".
func TestDeliveryTimeoutNamesTheSetting(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL})
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	res, err := e.svc.Test(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != flows.OutcomeTimeout || !strings.Contains(res.Error, "no answer within the delivery timeout, 100ms (--delivery-timeout, PARLEY_DELIVERY_TIMEOUT)") {
		t.Fatalf("outcome %s, error %q; want a timeout naming --delivery-timeout", res.Outcome, res.Error)
	}
}
