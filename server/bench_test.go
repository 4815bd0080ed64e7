package server

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

// BenchmarkChannelConversation measures one inbound message turn (resume a
// waiting session, run it, commit) with many contacts talking at once, the
// store's group commit and fsync included.
func BenchmarkChannelConversation(b *testing.B) {
	ts := newTestServer(b, func(c *Config) { c.Now = time.Now })
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	var contact atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		from := fmt.Sprintf(`{"from":"+1%d","text":"x"}`, contact.Add(1))
		for pb.Next() {
			if r := ts.do("POST", "/v1/channels/web/messages", from); r.Status != 200 {
				b.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
		}
	})
}

// BenchmarkOutboxRecords measures building the lifecycle events of a turn
// that saves a result and completes a session (session.updated,
// session.finished, flow.completed).
func BenchmarkOutboxRecords(b *testing.B) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := t0.Add(time.Minute)
	s := &flows.Session{ID: "01a201fb-cbdd-7b83-a6a7-8ab6276cdf66", FlowID: "f", Status: flows.StatusCompleted,
		CreatedAt: t0, UpdatedAt: ended, EndedAt: &ended,
		Frames:  []*flows.Frame{{FlowID: "f", Results: map[string]*flows.Result{"name": {Name: "Name", Value: "x", At: t0}}}},
		Contact: flows.Contact{URN: "tel:+15550100", Name: "Ada"}, Channel: &flows.Channel{ID: "web", Type: "api"},
		Path: []flows.Step{{Widget: "a", At: t0, Exit: "Next"}, {Widget: "b", At: t0}, {Widget: "c", At: t0}}}
	ev := []flows.Event{{Type: flows.EventMessageOut, Text: "Thanks"}, {Type: flows.EventResultSaved, Widget: "ask", Name: "Name"}, {Type: flows.EventSessionEnded}}
	b.ReportAllocs()
	for b.Loop() {
		if n := len(outboxRecords(s, ev, "", nil)); n != 3 {
			b.Fatalf("%d records, want 3", n)
		}
	}
}
