package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// Timers that fire late show: 20 timeouts fall due at once and their turns
// call a webhook that does not answer, so 16 turns take every slot and 4
// timers wait. parley_timers_behind_seconds says how long the oldest of
// them has been due, by the server's clock; past 5 s the scan is logged
// as behind, once however many scans meet it, and as caught up once every
// due timer has started. The timeouts' turns are counted as kind
// "timeout", not "resume".
func TestTimersBehind(t *testing.T) {
	url, _, called, release := blockingHook(t)
	logs := &syncbuf.Buffer{}
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ts.createFlow(lateHookFlow(url))
	for i := range 20 {
		ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "late-hook", "contact": map[string]any{"urn": fmt.Sprintf("tel:+15550100%02d", i)}})
	}
	h := httpClient{t: t, base: ts.listen()}
	gauge := func(want string) {
		t.Helper()
		if m := h.scrape(); !strings.Contains(m, "\nparley_timers_behind_seconds "+want+"\n") {
			i := strings.Index(m, "\nparley_timers_behind_seconds ")
			t.Fatalf("parley_timers_behind_seconds is not %s: %.60s", want, m[max(i, 0):])
		}
	}
	gauge("0")
	ctx := context.Background()
	scan := func() {
		t.Helper()
		if _, err := ts.srv.svc.startTimers(ctx, ctx, time.Second, nil); err != nil {
			t.Fatal(err)
		}
	}

	ts.clock.Advance(61 * time.Second) // due 1 s ago
	scan()
	for range timerConcurrency {
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatal("the timer turns did not call the webhook")
		}
	}
	gauge("1")
	if strings.Contains(logs.String(), "timers behind") {
		t.Fatalf("logged behind at 1 s:\n%s", logs)
	}
	ts.clock.Advance(10 * time.Second)
	gauge("11")
	scan()
	ts.clock.Advance(time.Second)
	scan()
	gauge("12")
	if n := strings.Count(logs.String(), "timers behind"); n != 1 {
		t.Fatalf("%d lines of timers behind, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "behind_seconds=11 running=16 not_reached=4") {
		t.Errorf("the line does not say how far behind:\n%s", logs)
	}

	close(release)
	ts.srv.svc.timers.inFlight.Wait()
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	gauge("0")
	if !strings.Contains(logs.String(), `msg="timers caught up"`) {
		t.Errorf("no line of the scan catching up:\n%s", logs)
	}
	m := h.scrape()
	if !strings.Contains(m, `parley_turn_duration_seconds_count{kind="timeout"} 20`) || strings.Contains(m, `kind="resume"`) {
		t.Errorf("the timeouts' turns are not counted as kind timeout:\n%s", grepLines(m, "parley_turn_duration_seconds_count"))
	}
}

// grepLines is the lines of text that hold s.
func grepLines(text, s string) string {
	var b strings.Builder
	for l := range strings.Lines(text) {
		if strings.Contains(l, s) {
			b.WriteString(l)
		}
	}
	return b.String()
}
