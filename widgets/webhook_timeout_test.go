package widgets_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// timeoutHooks answers every call, keeping the timeout each request asked for.
type timeoutHooks struct {
	configs map[string]*flows.WebhookConfig
	got     []time.Duration
}

func (h *timeoutHooks) Config(name string) (*flows.WebhookConfig, bool) {
	c, ok := h.configs[name]
	return c, ok
}

func (h *timeoutHooks) Call(_ context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	h.got = append(h.got, req.Timeout)
	return &flows.WebhookResult{Status: 200, Outcome: flows.OutcomeSuccess, Body: []byte(`{}`)}
}

// A webhook widget's "timeout": 0 is no timeout of its own, as documented:
// the configured webhook's when it names one, else the server's default
// (--webhook-timeout), which a request with no timeout gets; while a wait's
// "timeout": 0 is an error.
func TestWebhookTimeoutZeroIsTheDefault(t *testing.T) {
	hooks := &timeoutHooks{configs: map[string]*flows.WebhookConfig{
		"crm": {Name: "crm", URL: "https://crm.example.com", Method: "GET", TimeoutSeconds: 5},
	}}
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load([]byte(`{"id": "f", "widgets": [
	  {"id": "own", "type": "webhook", "url": "https://example.com", "timeout": 0, "exits": {"Success": "named", "Failure": "named"}},
	  {"id": "named", "type": "webhook", "webhook": "crm", "timeout": 0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) > 0 {
		t.Errorf("warnings %v", f.Warnings)
	}
	if _, _, err := e.Start(context.Background(), f, engine.StartParams{}); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 5 * time.Second}; len(hooks.got) != 2 || hooks.got[0] != want[0] || hooks.got[1] != want[1] {
		t.Errorf("timeouts asked for %v, want %v (none of its own: the service's default; the configured webhook's)", hooks.got, want)
	}
	_, err = e.Load([]byte(`{"id": "w", "widgets": [{"id": "wait", "type": "wait_for_response", "timeout": 0}]}`))
	if err == nil || !strings.Contains(err.Error(), `widgets[0].timeout: timeout must be a positive number of seconds (it is 0)`) {
		t.Errorf("a wait's timeout 0: error %v", err)
	}
}
