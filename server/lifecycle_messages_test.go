package server

import (
	"encoding/json"
	"github.com/parleyhq/parley/delivery"
	"testing"
	"time"

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
