package server

import (
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

// Which lifecycle events each kind of turn writes to the outbox.
func TestOutboxRecordsByTurn(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := t0.Add(time.Minute)
	saved := flows.Event{Type: flows.EventResultSaved, Widget: "ask", Name: "Name"}
	preset := flows.Event{Type: flows.EventResultSaved, Name: "code"} // a launch variable
	end := flows.Event{Type: flows.EventSessionEnded}
	tests := []struct {
		name       string
		status     flows.Status
		events     []flows.Event
		launchedBy string
		want       []string
	}{
		{"first turn, waiting", flows.StatusWaiting, []flows.Event{preset}, LaunchedByAPI,
			[]string{"session.launched", "session.started"}},
		{"first turn saves a result", flows.StatusWaiting, []flows.Event{preset, saved}, LaunchedByMessage,
			[]string{"session.launched", "session.started", "session.updated"}},
		{"first turn completes", flows.StatusCompleted, []flows.Event{end}, LaunchedByCall,
			[]string{"session.launched", "session.started", "session.finished", "flow.completed"}},
		{"later turn, waiting again", flows.StatusWaiting, nil, "",
			[]string{"session.updated"}},
		{"later turn saves and completes", flows.StatusCompleted, []flows.Event{saved, end}, "",
			[]string{"session.updated", "session.finished", "flow.completed"}},
		{"expired", flows.StatusExpired, []flows.Event{end}, "",
			[]string{"session.finished"}},
		{"failed", flows.StatusFailed, []flows.Event{end}, "",
			[]string{"session.finished"}},
		{"interrupted", flows.StatusInterrupted, []flows.Event{end}, "",
			[]string{"session.finished"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := &flows.Session{
				ID: "s1", FlowID: "f", Status: tt.status, Environment: flows.EnvSandbox,
				CreatedAt: t0, UpdatedAt: ended, Frames: []*flows.Frame{{FlowID: "f"}},
			}
			if tt.status.Ended() {
				sess.EndedAt = &ended
			}
			var got []string
			for _, r := range outboxRecords(sess, tt.events, tt.launchedBy, nil) {
				got = append(got, r.Type)
				if r.Environment != flows.EnvSandbox || r.FlowID != "f" {
					t.Errorf("%s: environment %q, flow %q", r.Type, r.Environment, r.FlowID)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events %v, want %v", got, tt.want)
			}
		})
	}
}
