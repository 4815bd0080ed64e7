package delivery

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// An endpoint answering with headers over MaxResponseHeaderBytes fails the
// attempt, and the deliveries log keeps none of them: without the cap an
// endpoint could answer each attempt with megabytes of headers, all stored.
func TestAnswerHeadersOverTheCap(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t)
	sub := e.create(Subscription{URL: rc.URL})
	rc.setReply(func(w http.ResponseWriter, r *http.Request) {
		for i := range 2000 { // some 200 KB, over the 64 KiB default
			w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("a", 90))
		}
		w.WriteHeader(http.StatusOK)
	})
	res, err := e.svc.Test(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome == "success" || res.Response != nil && len(res.Response.Headers) > 0 {
		t.Fatalf("outcome %s, %d headers kept; want a failure keeping none", res.Outcome, len(res.Response.Headers))
	}
	want := "the answer's headers are over the 65536-byte limit (--webhook-max-headers)"
	if !strings.Contains(res.Error, want) {
		t.Errorf("error %q; want it to say %q", res.Error, want)
	}
}
