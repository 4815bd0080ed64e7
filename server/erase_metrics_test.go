package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// scrape reads /metrics over a real connection.
func (h httpClient) scrape() string {
	h.t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestEraseKeepsCountersMonotonic: erasing contacts deletes their sessions,
// but the stored counters of sessions that ended do not go down with them:
// parley_sessions_completed_total keeps counting the erased contact's
// completed session, which parley_sessions_erased_total counts by status,
// the waiting session the erasure interrupted included.
func TestEraseKeepsCountersMonotonic(t *testing.T) {
	_, h := colourServer(t, nil)
	for _, text := range []string{"hi", "red", "done"} {
		h.message("+12065550111", "a-"+text, text)
	}
	h.message("+12065550112", "b-hi", "hi")
	before := h.scrape()
	for _, want := range []string{"parley_sessions_completed_total 1", "parley_sessions_waiting 1"} {
		if !strings.Contains(before, want+"\n") {
			t.Fatalf("/metrics before the erasures lacks %q", want)
		}
	}
	h.must(204, "DELETE", "/v1/contacts/tel:%2B12065550111", "")
	h.must(204, "DELETE", "/v1/contacts/tel:%2B12065550112", "")
	after := h.scrape()
	for _, want := range []string{
		"parley_sessions_completed_total 1", "parley_sessions_waiting 0",
		`parley_sessions_erased_total{status="completed"} 1`, `parley_sessions_erased_total{status="interrupted"} 1`,
		`parley_sessions_erased_total{status="failed"} 0`, `parley_sessions_pruned_total{status="completed"} 0`,
	} {
		if !strings.Contains(after, want+"\n") {
			t.Errorf("/metrics after the erasures lacks %q", want)
		}
	}
}
