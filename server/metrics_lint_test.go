package server

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricsLint: every parley_ series passes the Prometheus linter.
func TestMetricsLint(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})
	h := httpClient{t: t, base: ts.listen()}
	problems, err := promlint.New(strings.NewReader(h.scrape())).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "parley_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
