package server

import (
	"context"
	"encoding/json"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/delivery"

	"github.com/parleyhq/parley/flows"
)

// A turn no request waits for (a timeout fired by the server) carries what it
// sent in session.updated, also when that turn ends the session; a launch's
// messages are in the launching answer instead.
func TestSessionUpdatedCarriesMessages(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := now
	sess := &flows.Session{ID: "s1", FlowID: "f", Status: flows.StatusCompleted, EndedAt: &ended, UpdatedAt: now,
		Frames: []*flows.Frame{{FlowID: "f"}}}
	turn := []flows.Event{
		{Type: flows.EventMessageOut, Text: "No answer? Bye."},
		{Type: flows.EventFlowCompleted},
		{Type: flows.EventSessionEnded, SessionStatus: flows.StatusCompleted},
	}
	var updated map[string]any
	for _, rec := range outboxRecords(sess, turn, "", nil) {
		if rec.Type == delivery.EventSessionUpdated {
			if err := json.Unmarshal(rec.Data, &updated); err != nil {
				t.Fatal(err)
			}
		}
	}
	msgs, _ := updated["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "No answer? Bye." {
		t.Fatalf("session.updated of a timer-fired turn: %v", updated)
	}

	for _, rec := range outboxRecords(sess, turn, "api", nil) {
		if rec.Type == delivery.EventSessionUpdated {
			t.Errorf("a launch with no saved results sent session.updated: %s", rec.Data)
		}
	}
}

// A timer-fired turn's session.updated, delivered to an endpoint, says whom
// its messages are for and on which channel, and so does session.finished.
func TestTimerTurnEventsNameContactAndChannel(t *testing.T) {
	var ahead atomic.Int64 // how far the server's clock runs ahead of the wall clock
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	ts.createFlow(timeoutFlow)
	ts.must(201, "PUT", "/v1/channels/web", `{"default_flow":"slow"}`)
	recv := newSink(t)
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": recv.URL, "events": []string{"session.updated", "session.finished"}})
	start := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550123","text":"hi"}`)

	// The wait's 60 s timeout fires, then the session is interrupted.
	ahead.Store(int64(61 * time.Second))
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 1 {
		t.Fatalf("scanTimers fired %d: %v", n, err)
	}
	eventually(t, "session.updated", func() bool { return len(recv.ofType("session.updated")) > 0 })
	ts.must(200, "POST", "/v1/sessions/"+start["id"].(string)+"/interrupt", nil)
	eventually(t, "session.finished", func() bool { return len(recv.ofType("session.finished")) > 0 })

	up := recv.ofType("session.updated")[0].data
	fin := recv.ofType("session.finished")[0].data
	for name, d := range map[string]map[string]any{"session.updated": up, "session.finished": fin} {
		contact, _ := d["contact"].(map[string]any)
		channel, _ := d["channel"].(map[string]any)
		if contact["urn"] != "tel:+15550123" || channel["id"] != "web" || channel["type"] != "api" {
			t.Errorf("%s: contact %v, channel %v; want tel:+15550123 on web", name, d["contact"], d["channel"])
		}
	}
	if msgs, _ := up["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "Too late" {
		t.Errorf("session.updated messages %v", up["messages"])
	}
}

// session.updated's saved names each key the turn saved once, in the order
// first saved, and only keys of its results: a result saved twice is one
// key, and what a subflow that ended in the turn saved (the child's, not in
// the parent's results) is not listed.
func TestSessionUpdatedSavedKeys(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts.createFlow(`{"id":"kid","name":"Kid","widgets":[
 {"id":"pick","type":"set_variable","name":"colour","value":"red","exits":{"Next":"seen"}},
 {"id":"seen","type":"set_variable","name":"answer","value":"child's"}]}`)
	ts.createFlow(`{"id":"par","name":"Parent","widgets":[
 {"id":"ask","type":"wait_for_response","result":"Answer","exits":{"Next":"again"}},
 {"id":"again","type":"set_variable","name":"answer","value":"@(upper(input))","exits":{"Next":"code"}},
 {"id":"code","type":"set_variable","name":"code","value":"7","exits":{"Next":"sub"}},
 {"id":"sub","type":"subflow","flow":"kid","exits":{"Complete":"last"}},
 {"id":"last","type":"set_variable","name":"answer","value":"last"}]}`)
	ts.must(201, "PUT", "/v1/channels/web", `{"default_flow":"par"}`)
	recv := newSink(t)
	ts.must(201, "POST", "/v1/webhooks", map[string]any{"url": recv.URL, "events": []string{"session.updated"}})
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550123","text":"hi"}`)
	if r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550123","text":"blue"}`); r["status"] != "completed" {
		t.Fatalf("second message: %v", r)
	}
	eventually(t, "session.updated", func() bool { return len(recv.ofType("session.updated")) > 0 })
	d := recv.ofType("session.updated")[0].data
	results, _ := d["results"].(map[string]any)
	saved, _ := d["saved"].([]any)
	if len(saved) != 2 || saved[0] != "answer" || saved[1] != "code" {
		t.Errorf("saved %v, want [answer code]", d["saved"])
	}
	for _, k := range saved {
		if _, ok := results[k.(string)]; !ok {
			t.Errorf("saved names %v, which results %v do not hold", k, results)
		}
	}
	if a, _ := results["answer"].(map[string]any); a["value"] != "last" {
		t.Errorf("results %v, want answer last", results)
	}
}
