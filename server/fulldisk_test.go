package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/smalldisk"
)

// TestStoreDiskFull: on a full disk a turn's write answers 507 naming the
// cause, /healthz answers 503 with it and the failed commits are counted,
// until a write succeeds again once there is room.
func TestStoreDiskFull(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	ts := newTestServer(t, func(c *Config) { c.DataDir = disk.Dir })
	ts.createFlow(askFlow)
	ts.must(http.StatusCreated, "POST", "/v1/sessions", map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550100"}})
	ts.must(http.StatusOK, "GET", "/healthz", nil)

	// A contact field of random text, which does not compress: the turn
	// needs new pages, which the full disk cannot give.
	big := make([]byte, 150<<10)
	rand.Read(big)
	start := map[string]any{"flow": "ask", "contact": map[string]any{"urn": "tel:+15550101", "fields": map[string]any{"notes": hex.EncodeToString(big)}}}
	disk.FillUp()
	r := ts.do("POST", "/v1/sessions", start)
	e := r.errorOf(t)
	if r.Status != http.StatusInsufficientStorage || e["code"] != CodeDiskFull ||
		!strings.HasPrefix(e["message"].(string), "the store's disk is full: no space left on device") {
		t.Fatalf("a turn on a full disk: %d %s, want 507 %s saying the disk is full", r.Status, r.Body, CodeDiskFull)
	}
	r = ts.do("GET", "/healthz", nil)
	e = r.errorOf(t)
	if r.Status != http.StatusServiceUnavailable || e["code"] != CodeDiskFull ||
		!strings.Contains(e["message"].(string), "the store's disk is full: no space left on device") {
		t.Errorf("/healthz after the failed write: %d %s, want 503 naming the full disk", r.Status, r.Body)
	}
	// A later failure keeps the time the failures began and adds the
	// latest's.
	first, _ := e["message"].(string)
	since, _, _ := strings.Cut(first, ": ")
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	ts.must(http.StatusInsufficientStorage, "POST", "/v1/sessions", start)
	r = ts.do("GET", "/healthz", nil)
	e = r.errorOf(t)
	if msg, _ := e["message"].(string); !strings.HasPrefix(msg, since+", last at ") {
		t.Errorf("/healthz after a second failed write: %q, want it to begin %q, then the latest's time", msg, since+", last at ")
	}
	if n := commitFailures(t, ts); n < 1 {
		t.Errorf("parley_store_commit_failures_total %d after a failed commit", n)
	}
	// A session whose start was not saved was not started.
	if n := counter(t, ts, "parley_sessions_started_total"); n != 1 {
		t.Errorf("parley_sessions_started_total %d after one start saved and two refused, want 1", n)
	}

	disk.Free()
	ts.must(http.StatusCreated, "POST", "/v1/sessions", start)
	ts.must(http.StatusOK, "GET", "/healthz", nil)
	if n := counter(t, ts, "parley_sessions_started_total"); n != 2 {
		t.Errorf("parley_sessions_started_total %d after two starts saved, want 2", n)
	}
}

func commitFailures(t *testing.T, ts *testServer) int {
	t.Helper()
	return counter(t, ts, "parley_store_commit_failures_total")
}

// counter is the value of a counter without labels in /metrics.
func counter(t *testing.T, ts *testServer, name string) int {
	t.Helper()
	r := ts.do("GET", "/metrics", nil)
	m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("/metrics has no %s:\n%s", name, r.Body)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
