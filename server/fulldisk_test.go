package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/smalldisk"
	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
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
	// As the turns refused meanwhile, with the time until one is let
	// through (openapi.json declares it).
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("/healthz after the failed write: Retry-After %q, want 1", ra)
	}
	// A later failure keeps the time the failures began and adds the
	// latest's: a turn let through in the next second, after the time
	// while turns are refused before they run.
	first, _ := e["message"].(string)
	since, _, _ := strings.Cut(first, ": ")
	ts.clock.Advance(store.DefaultWriteProbeInterval + time.Second)
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
	ts.clock.Advance(store.DefaultWriteProbeInterval) // until a turn is let through
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

// TestStoreDiskFullHoldsTurns: while the store's writes fail, a turn is
// refused before it runs, so a client retrying its request does not have
// the flow's webhooks called again each time; one turn a second is let
// through, and once there is room again the server takes turns again by
// itself. Over HTTP, as a client retrying sees it.
func TestStoreDiskFullHoldsTurns(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"shipped"}`))
	}))
	defer hook.Close()
	disk := smalldisk.Mount(t, 4<<20)
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = disk.Dir
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	// The log says once that writes fail, and that is its one error: not
	// each retry refused, each turn let through whose write failed again,
	// each /healthz that says so, nor each commit.
	logged := func(when string) {
		t.Helper()
		l := logs.String()
		if n := strings.Count(l, `level=ERROR msg="store writes fail`); n != 1 {
			t.Errorf("%s: %d errors logged saying the store's writes fail, want 1", when, n)
		}
		if n := strings.Count(l, "level=ERROR"); n != 1 {
			t.Errorf("%s: %d errors logged, want 1 (store writes fail):\n%s", when, n, l)
		}
		if n := strings.Count(l, "level=WARN") - strings.Count(l, "listening without API keys"); n != 0 {
			t.Errorf("%s: %d warnings logged, want none:\n%s", when, n, l)
		}
	}
	ts.createFlow(`{"id":"order","name":"Order","widgets":[
 {"id":"lookup","type":"webhook","method":"POST","url":"` + hook.URL + `","result":"Order","exits":{"Success":"wait","Failure":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Again","exits":{"Next":"lookup"}}]}`)
	ts.must(http.StatusCreated, "POST", "/v1/channels", `{"id":"sms","default_flow":"order"}`)
	base := ts.listen()
	healthz := func() {
		t.Helper()
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/healthz while writes fail: %d, want 503", resp.StatusCode)
		}
	}
	post := func(body []byte) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+"/v1/sessions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("answer %d: %v", resp.StatusCode, err)
		}
		return resp, m
	}
	// A contact field of random text, which does not compress: the turn
	// needs new pages, which the full disk cannot give.
	big := make([]byte, 150<<10)
	rand.Read(big)
	start, _ := json.Marshal(map[string]any{"flow": "order", "contact": map[string]any{"urn": "tel:+15550101", "fields": map[string]any{"notes": hex.EncodeToString(big)}}})

	disk.FillUp()
	if resp, m := post(start); resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("a turn on a full disk: %d %v, want 507", resp.StatusCode, m)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d webhook calls after the turn that failed, want 1", n)
	}
	// Retries within the second after the failure are refused before
	// their turn runs: the webhook is not called again.
	for i := range 20 {
		resp, m := post(start)
		e, _ := m["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if resp.StatusCode != http.StatusInsufficientStorage || e["code"] != CodeDiskFull ||
			!strings.HasPrefix(msg, "the store's disk is full: no space left on device; the store's writes fail since ") ||
			!strings.Contains(msg, "so the turn was not run and nothing was written; retry once there is room") {
			t.Fatalf("retry %d while writes fail: %d %v, want 507 saying the turn was not run", i, resp.StatusCode, m)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "1" {
			t.Errorf("retry %d: Retry-After %q, want 1", i, ra)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d webhook calls after 20 retries refused while writes fail, want 1", n)
	}
	healthz()
	healthz()
	// So are a batch's messages, each answered 507 in the batch's 200.
	resp, err := http.Post(base+"/v1/channels/sms/messages/batch", "application/json",
		strings.NewReader(`{"messages":[{"from":"tel:+15550111","text":"a"},{"from":"tel:+15550112","text":"b"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var batch struct {
		Replies []struct {
			Error struct{ Status int } `json:"error"`
		} `json:"replies"`
	}
	err = json.NewDecoder(resp.Body).Decode(&batch)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(batch.Replies) != 2 || batch.Replies[1].Error.Status != http.StatusInsufficientStorage {
		t.Fatalf("a batch while writes fail: %d %+v %v, want 200 with two 507s", resp.StatusCode, batch, err)
	}
	logged("after 20 retries")
	// A second later one turn is let through, to find out whether writes
	// succeed: it fails again, and the others are refused.
	ts.clock.Advance(store.DefaultWriteProbeInterval)
	for range 5 {
		if resp, m := post(start); resp.StatusCode != http.StatusInsufficientStorage {
			t.Fatalf("a retry on a full disk a second later: %d %v, want 507", resp.StatusCode, m)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d webhook calls after a second more of retries, want 2 (one turn let through)", n)
	}
	healthz()
	logged("after the turn let through")

	// With room again, the next turn let through succeeds, and the turns
	// after it run at once.
	disk.Free()
	ts.clock.Advance(store.DefaultWriteProbeInterval)
	for i := range 3 {
		if resp, m := post(start); resp.StatusCode != http.StatusCreated {
			t.Fatalf("start %d once there is room: %d %v, want 201", i, resp.StatusCode, m)
		}
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("%d webhook calls after three turns saved, want 5", n)
	}
	ts.must(http.StatusOK, "GET", "/healthz", nil)
	logged("once writes succeed again")
	if n := strings.Count(logs.String(), `level=INFO msg="store writes succeed again"`); n != 1 {
		t.Errorf("%d lines saying the store's writes succeed again, want 1:\n%s", n, logs)
	}
}

// TestStoreDiskFullProbeInterval: --write-probe-interval sets how long
// turns are refused after a failed write before one is let through, and
// the Retry-After that says so, over HTTP as a client retrying sees it.
func TestStoreDiskFullProbeInterval(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	disk := smalldisk.Mount(t, 4<<20)
	cfg, err := ServeFlags([]string{"--write-probe-interval", "5s"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = disk.Dir
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.WriteProbeInterval = cfg.WriteProbeInterval
	})
	ts.createFlow(`{"id":"order","name":"Order","widgets":[
 {"id":"lookup","type":"webhook","method":"POST","url":"` + hook.URL + `","result":"Order","exits":{"Success":"","Failure":""}}]}`)
	base := ts.listen()
	big := make([]byte, 150<<10)
	rand.Read(big)
	start, _ := json.Marshal(map[string]any{"flow": "order", "contact": map[string]any{"urn": "tel:+15550101", "fields": map[string]any{"notes": hex.EncodeToString(big)}}})
	post := func(when string, wantCalls int64, wantRetry string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/sessions", "application/json", bytes.NewReader(start))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInsufficientStorage || resp.Header.Get("Retry-After") != wantRetry || calls.Load() != wantCalls {
			t.Errorf("%s: %d, Retry-After %q, %d webhook calls; want 507, %s and %d", when, resp.StatusCode, resp.Header.Get("Retry-After"), calls.Load(), wantRetry, wantCalls)
		}
	}
	disk.FillUp()
	post("the turn whose write fails", 1, "5")
	post("a retry at once", 1, "5")
	ts.clock.Advance(time.Second)
	post("a retry a second later", 1, "4")
	ts.clock.Advance(4 * time.Second)
	post("a retry five seconds later", 2, "5")
	post("a retry after it", 2, "5")
}

// TestStoreDiskFullHoldsTimers: while the store's writes fail, due timers
// wait instead of running turns whose webhooks would be called and whose
// writes would fail; once there is room they fire.
func TestStoreDiskFullHoldsTimers(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	disk := smalldisk.Mount(t, 4<<20)
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = disk.Dir
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(askFlow)
	ts.createFlow(`{"id":"remind","name":"Remind","widgets":[
 {"id":"wait","type":"wait_for_response","result":"Answer","timeout":60,"exits":{"Next":"","Timeout":"hook"}},
 {"id":"hook","type":"webhook","method":"POST","url":"` + hook.URL + `","result":"Hook","exits":{"Success":"again","Failure":"again"}},
 {"id":"again","type":"wait_for_response","result":"Second"}]}`)
	id := ts.must(http.StatusCreated, "POST", "/v1/sessions", map[string]any{"flow": "remind", "contact": map[string]any{"urn": "tel:+15550102"}})["id"].(string)

	big := make([]byte, 150<<10)
	rand.Read(big)
	// The writes fail half a second before the timer is due, and it
	// falls due within the second in which turns are refused.
	ts.clock.Advance(59*time.Second + 500*time.Millisecond)
	disk.FillUp()
	ts.must(http.StatusInsufficientStorage, "POST", "/v1/sessions", map[string]any{"flow": "ask",
		"contact": map[string]any{"urn": "tel:+15550101", "fields": map[string]any{"notes": hex.EncodeToString(big)}}})
	ts.clock.Advance(600 * time.Millisecond)
	ctx := context.Background()
	for range 3 {
		if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d webhook calls of a timer's turn while the store's writes fail, want 0", n)
	}
	if s := ts.must(http.StatusOK, "GET", "/v1/sessions/"+id, nil); len(s["path"].([]any)) != 1 {
		t.Errorf("the session's path while writes fail: %v, want the wait only", s["path"])
	}

	// A second later the timer's turn is let through, to find out whether
	// writes succeed: its write fails, which the log does not say again,
	// and the timer stays.
	ts.clock.Advance(store.DefaultWriteProbeInterval)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d webhook calls of the timer's turn let through, want 1", n)
	}
	if l := logs.String(); strings.Count(l, "level=ERROR") != 1 || !strings.Contains(l, `level=ERROR msg="store writes fail`) {
		t.Errorf("the log while writes fail has other errors than the one store writes fail:\n%s", l)
	}

	disk.Free()
	ts.clock.Advance(store.DefaultWriteProbeInterval)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d webhook calls once there is room, want 2", n)
	}
	if s := ts.must(http.StatusOK, "GET", "/v1/sessions/"+id, nil); len(s["path"].([]any)) != 3 {
		t.Errorf("the session's path once there is room: %v, want the timeout's turn", s["path"])
	}
}

// Each cause of a failed store write is answered with its own status and
// words, saying what was written and when to retry; a turn refused while
// writes fail says it was not run and when the next is let through.
func TestStoreWriteCauses(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{store.ErrDiskFull, 507, CodeDiskFull, "the store's disk is full: no space left on device; nothing was written, retry once there is room"},
		{store.ErrDiskQuota, 507, CodeDiskFull, "the store's disk quota is used up: disk quota exceeded; nothing was written, retry once the quota allows it"},
		{store.ErrReadOnly, 503, CodeUnavailable, "the store's file system is read-only: read-only file system; nothing was written, retry once it is writable again"},
		{store.ErrDiskIO, 503, CodeUnavailable, "the store's disk failed the write: input/output error; the write may be partly on the disk, which needs checking, retry once it is repaired"},
	} {
		err := fmt.Errorf("save turn of session x: %w", fmt.Errorf("%w: write /data/parley.db: sys", c.err))
		ae := toAPIError(err)
		if ae.Status != c.status || ae.Code != c.code || ae.Message != c.msg {
			t.Errorf("%v: %d %s %q (retry after %s), want %d %s %q", c.err, ae.Status, ae.Code, ae.Message, ae.RetryAfter, c.status, c.code, c.msg)
		}
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &store.WriteFailure{Since: since, At: since, Err: fmt.Errorf("%w: sys", store.ErrReadOnly)}
	ae := toAPIError(&store.WritesHeldError{Failure: f, RetryAfter: 300 * time.Millisecond})
	if ae.Status != 503 || ae.Code != CodeUnavailable || ae.RetryAfter != 300*time.Millisecond || ae.Message !=
		"the store's file system is read-only: read-only file system; the store's writes fail since 2026-03-01T12:00:00Z, so the turn was not run and nothing was written; retry once it is writable again" {
		t.Errorf("a turn held while the file system is read-only: %d %s %q", ae.Status, ae.Code, ae.Message)
	}
	f.Err = errors.New("something else")
	if ae := toAPIError(&store.WritesHeldError{Failure: f, RetryAfter: time.Second}); ae.Status != 503 || ae.Code != CodeUnavailable ||
		ae.Message != "the store's writes fail since 2026-03-01T12:00:00Z (the server's log says why), so the turn was not run and nothing was written; retry later" {
		t.Errorf("a turn held for another failure: %d %s %q", ae.Status, ae.Code, ae.Message)
	}
}
