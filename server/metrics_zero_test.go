package server

import (
	"strings"
	"testing"
)

// TestLabelledCountersStartAtZero: the counters an operator alerts on by a
// label value are in /metrics at 0 from the start, every value of their
// label, so that rate() and increase() see their first event: a series
// that appears at 1 with the first failed session or failed delivery
// attempt counts that event as nothing.
func TestLabelledCountersStartAtZero(t *testing.T) {
	ts := newTestServer(t, nil)
	body := string(ts.do("GET", "/metrics", nil).Body)
	want := []string{
		`parley_sessions_ended_total{status="completed"} 0`,
		`parley_sessions_ended_total{status="expired"} 0`,
		`parley_sessions_ended_total{status="failed"} 0`,
		`parley_sessions_ended_total{status="interrupted"} 0`,
	}
	for _, o := range []string{"success", "failure", "timeout", "error", "blocked", "too_large"} {
		want = append(want, `parley_webhook_calls_total{outcome="`+o+`"} 0`)
	}
	for _, o := range []string{"succeeded", "failed", "disabled"} {
		want = append(want, `parley_webhook_deliveries_total{outcome="`+o+`"} 0`)
	}
	for _, o := range []string{"success", "failure", "timeout", "error", "blocked"} {
		want = append(want, `parley_webhook_attempts_total{outcome="`+o+`"} 0`)
	}
	for _, line := range want {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics of a new server has no %s", line)
		}
	}
}
