package server

import (
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Lifecycle event types written to the outbox for delivery (docs/events.md).
const (
	EventSessionLaunched = "session.launched"
	EventSessionStarted  = "session.started"
	EventSessionUpdated  = "session.updated"
	EventSessionFinished = "session.finished"
	EventFlowCompleted   = "flow.completed"
)

// What launched a session (session.launched's launched_by).
const (
	LaunchedByAPI     = "api"
	LaunchedByMessage = "message"
	LaunchedByCall    = "call"
)

// launchedBy names what launched the session a StartRequest starts.
func (r *StartRequest) launchedBy() string {
	switch {
	case r.Source != "":
		return r.Source
	case r.Call != nil:
		return LaunchedByCall
	}
	return LaunchedByAPI
}

type contactRef struct {
	URN  string `json:"urn,omitempty"`
	Name string `json:"name,omitempty"`
}

type resultRef struct {
	Value    string `json:"value"`
	Category string `json:"category,omitempty"`
}

// outboxRecords are the lifecycle events of a turn, written in the same
// transaction as the session so delivery never reports what did not happen
// and never misses what did. launchedBy is set on the session's first turn.
//
// A first turn yields session.launched and session.started; any turn after
// it that leaves the session running yields session.updated; a turn that
// saves results also yields session.updated, whichever turn it is; a turn
// that ends the session yields session.finished, and flow.completed when it
// completed.
func outboxRecords(sess *flows.Session, events []flows.Event, launchedBy string) []store.OutboxRecord {
	var out []store.OutboxRecord
	add := func(typ string, at time.Time, data map[string]any) {
		data["session_id"] = sess.ID
		data["flow"] = sess.FlowID
		b, err := json.Marshal(data)
		if err != nil {
			b = []byte("{}")
		}
		out = append(out, store.OutboxRecord{Type: typ, Timestamp: at, Environment: sess.Environment, FlowID: sess.FlowID, Data: b})
	}
	contact := contactRef{URN: sess.Contact.URN, Name: sess.Contact.Name}
	var channel map[string]string
	if sess.Channel != nil {
		channel = map[string]string{"id": sess.Channel.ID, "type": sess.Channel.Type}
	}
	ended := false
	var saved []string
	var messages []Message
	for _, ev := range events {
		switch ev.Type {
		case flows.EventMessageOut, flows.EventSay, flows.EventPlay:
			// What the contact was sent, so an integration can deliver the
			// messages of turns no request waits for (timeouts, expiry).
			messages = append(messages, Message{Type: ev.Type, Text: ev.Text, QuickReplies: ev.QuickReplies, Attachments: ev.Attachments, URL: ev.URL})
		case flows.EventSessionEnded:
			ended = true
		case flows.EventResultSaved:
			// Variables given at launch are saved before any widget runs:
			// they are the launch's, not results the flow collected.
			if ev.Widget != "" {
				saved = append(saved, flows.Key(ev.Name))
			}
		}
	}
	ended = ended && sess.EndedAt != nil

	if launchedBy != "" {
		d := map[string]any{"launched_by": launchedBy, "contact": contact}
		if sess.LaunchID != "" {
			d["launch_id"] = sess.LaunchID
		}
		if channel != nil {
			d["channel"] = channel
		}
		if sess.Call != nil {
			d["caller"] = sess.Call.CLI
		}
		add(EventSessionLaunched, sess.CreatedAt, d)

		d = map[string]any{"status": sess.Status, "contact": contact, "started": sess.CreatedAt}
		if channel != nil {
			d["channel"] = channel
		}
		if sess.LaunchID != "" {
			d["launch_id"] = sess.LaunchID
		}
		add(EventSessionStarted, sess.CreatedAt, d)
	}
	// A launch's messages are in the launching request's answer; a later
	// turn's go with session.updated, even when that turn ends the session.
	if (launchedBy == "" && (!ended || len(messages) > 0)) || len(saved) > 0 {
		results := map[string]resultRef{}
		for k, r := range sess.Results() {
			results[k] = resultRef{Value: r.Value, Category: r.Category}
		}
		d := map[string]any{"status": sess.Status, "results": results}
		if len(saved) > 0 {
			d["saved"] = saved
		}
		if len(messages) > 0 {
			d["messages"] = messages
		}
		if sess.Wait != nil {
			d["waiting_at"] = sess.Wait.Widget
		}
		add(EventSessionUpdated, sess.UpdatedAt, d)
	}
	if !ended {
		return out
	}
	add(EventSessionFinished, *sess.EndedAt, map[string]any{"status": sess.Status, "ended": *sess.EndedAt})
	if sess.Status != flows.StatusCompleted {
		return out
	}
	userKeys := sess.Contact.Fields
	if userKeys == nil {
		userKeys = map[string]string{}
	}
	d := map[string]any{
		"contact": contact, "variables": rootResults(sess), "user_keys": userKeys,
		"started": sess.CreatedAt, "ended": *sess.EndedAt,
	}
	if sess.LaunchID != "" {
		d["launch_id"] = sess.LaunchID
	}
	if sess.Channel != nil {
		d["channel"] = sess.Channel
	}
	if sess.Call != nil {
		d["caller"] = sess.Call.CLI
	}
	if len(sess.Extra) > 0 {
		d["extra"] = sess.Extra
	}
	path := make([]map[string]any, 0, len(sess.Path))
	for _, st := range sess.Path {
		step := map[string]any{"widget": st.Widget, "at": st.At}
		if st.Exit != "" {
			step["exit"] = st.Exit
		}
		if st.Flow != "" {
			step["flow"] = st.Flow
		}
		path = append(path, step)
	}
	d["path"] = path
	add(EventFlowCompleted, *sess.EndedAt, d)
	return out
}

func rootResults(sess *flows.Session) map[string]*flows.Result {
	if len(sess.Frames) > 0 && sess.Frames[0].Results != nil {
		return sess.Frames[0].Results
	}
	return map[string]*flows.Result{}
}
