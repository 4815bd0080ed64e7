package server

import (
	"io"
	"net/http"
	"regexp"
	"testing"
)

// The histograms' bucket bounds are printed as the decimals they are
// (le="0.0003"), not as the float noise of multiplying them out.
func TestHistogramBoundsAreExactDecimals(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})
	resp, err := http.Get(ts.listen() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	for _, want := range []string{
		`parley_store_commit_seconds_bucket{le="0.0003"}`,
		`parley_store_commit_seconds_bucket{le="17.7147"}`,
		`parley_turn_duration_seconds_bucket{kind="start",le="0.0016"}`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(body) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if noise := regexp.MustCompile(`le="[0-9.]*(0000000|9999999)[0-9]+"`).FindAllString(body, -1); len(noise) > 0 {
		t.Errorf("bounds printed with float noise: %v", noise)
	}
}
