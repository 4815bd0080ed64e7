package delivery

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// An endpoint that begins to fail has one WARN line, naming the
// subscription, the URL's host and the answer, however many attempts fail
// after it; one INFO line when it delivers again. The gauges count the
// endpoints failing and disabled.
func TestEndpointStateChangesLogged(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	rc := newReceiver(t)
	rc.setReply(status(http.StatusServiceUnavailable))
	sub := e.create(Subscription{URL: rc.URL + "/hooks/in?token=QUERYTOKEN9"})
	e.settle()
	e.enqueue(Event{Type: EventSessionStarted}, Event{Type: EventSessionStarted})
	e.settle()
	if n := len(rc.requests()); n < 3 {
		t.Fatalf("%d requests, want the ping and 2 events", n)
	}
	out := logs.String()
	if n := strings.Count(out, `"msg":"webhook endpoint failing"`); n != 1 {
		t.Fatalf("%d failing lines for %d failed attempts, want 1:\n%s", n, len(rc.requests()), out)
	}
	want := `"level":"WARN","msg":"webhook endpoint failing","subscription":"` + sub.ID + `","url":"` + rc.URL + `","status":503`
	if !strings.Contains(out, want) {
		t.Errorf("no line %s in the log:\n%s", want, out)
	}
	if strings.Contains(out, "QUERYTOKEN9") || strings.Contains(out, "/hooks/in") {
		t.Errorf("the log has the URL's path or query:\n%s", out)
	}
	if got := gaugeValue(t, e.svc, "parley_webhook_endpoints_failing"); got != 1 {
		t.Errorf("parley_webhook_endpoints_failing %v, want 1", got)
	}

	rc.setReply(status(http.StatusOK))
	e.enqueue(Event{Type: EventSessionStarted})
	e.settle()
	out = logs.String()
	if n := strings.Count(out, `"level":"INFO","msg":"webhook endpoint delivering again","subscription":"`+sub.ID+`"`); n != 1 {
		t.Errorf("%d delivering again lines, want 1:\n%s", n, out)
	}
	if got := gaugeValue(t, e.svc, "parley_webhook_endpoints_failing"); got != 0 {
		t.Errorf("parley_webhook_endpoints_failing %v after a success, want 0", got)
	}

	gone := newReceiver(t)
	gone.setReply(status(http.StatusGone))
	e.create(Subscription{URL: gone.URL})
	e.settle()
	if got := gaugeValue(t, e.svc, "parley_webhook_endpoints_disabled"); got != 1 {
		t.Errorf("parley_webhook_endpoints_disabled %v, want 1", got)
	}
	if got := gaugeValue(t, e.svc, "parley_webhook_endpoints_failing"); got != 0 {
		t.Errorf("parley_webhook_endpoints_failing %v with the failing one disabled, want 0", got)
	}
}

// gaugeValue is the value of the service's gauge name, as /metrics shows it.
func gaugeValue(t *testing.T, svc *Service, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(svc.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Errorf("no metric %s", name)
	return -1
}
