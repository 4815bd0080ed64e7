package server

import (
	"encoding/json"
	"slices"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
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

type channelRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// The data of each lifecycle event. Fields are declared in alphabetical
// order so the JSON is the same, byte for byte, as that of the maps these
// structs replaced (encoding/json sorts map keys); docs/events.md documents
// it. Pointers stand for keys that are present whenever their source is,
// even when empty.

type launchedData struct {
	Caller     *string     `json:"caller,omitempty"`
	Channel    *channelRef `json:"channel,omitempty"`
	Contact    contactRef  `json:"contact"`
	Flow       string      `json:"flow"`
	LaunchID   string      `json:"launch_id,omitempty"`
	LaunchedBy string      `json:"launched_by"`
	SessionID  string      `json:"session_id"`
}

type startedData struct {
	Channel   *channelRef  `json:"channel,omitempty"`
	Contact   contactRef   `json:"contact"`
	Flow      string       `json:"flow"`
	LaunchID  string       `json:"launch_id,omitempty"`
	SessionID string       `json:"session_id"`
	Started   time.Time    `json:"started"`
	Status    flows.Status `json:"status"`
}

type updatedData struct {
	Channel   *channelRef          `json:"channel,omitempty"`
	Contact   contactRef           `json:"contact"`
	Flow      string               `json:"flow"`
	Messages  []Message            `json:"messages,omitempty"`
	Results   map[string]resultRef `json:"results"`
	Saved     []string             `json:"saved,omitempty"`
	SessionID string               `json:"session_id"`
	Status    flows.Status         `json:"status"`
	WaitingAt *string              `json:"waiting_at,omitempty"`
}

type finishedData struct {
	Channel   *channelRef  `json:"channel,omitempty"`
	Contact   contactRef   `json:"contact"`
	Ended     time.Time    `json:"ended"`
	Flow      string       `json:"flow"`
	SessionID string       `json:"session_id"`
	Status    flows.Status `json:"status"`
}

type eventPathStep struct {
	At     time.Time `json:"at"`
	Exit   string    `json:"exit,omitempty"`
	Flow   string    `json:"flow,omitempty"`
	Widget string    `json:"widget"`
}

// completedData is flow.completed's data. PathDropped counts the oldest
// steps dropped from Path (--max-path).
type completedData struct {
	Caller      *string                  `json:"caller,omitempty"`
	Channel     *flows.Channel           `json:"channel,omitempty"`
	Contact     contactRef               `json:"contact"`
	Ended       time.Time                `json:"ended"`
	Extra       json.RawMessage          `json:"extra,omitempty"`
	Flow        string                   `json:"flow"`
	LaunchID    string                   `json:"launch_id,omitempty"`
	Path        []eventPathStep          `json:"path"`
	PathDropped int                      `json:"path_dropped,omitempty"`
	SessionID   string                   `json:"session_id"`
	Started     time.Time                `json:"started"`
	UserKeys    map[string]string        `json:"user_keys"`
	Variables   map[string]*flows.Result `json:"variables"`
}

// outboxRecords are the lifecycle events of a turn, written in the same
// transaction as the session so delivery never reports what did not happen
// and never misses what did. launchedBy is set on the session's first turn.
//
// A first turn yields session.launched and session.started; any turn after
// it that leaves the session running yields session.updated; a turn that
// saves results also yields session.updated, whichever turn it is; a turn
// that ends the session yields session.finished, and flow.completed when it
// completed. Events that wanted reports nothing subscribes to (nil: keep all)
// are neither built nor written: delivery would drop them when fanning out.
func outboxRecords(sess *flows.Session, events []flows.Event, launchedBy string, wanted func(typ, environment, flowID string) bool) []store.OutboxRecord {
	var out []store.OutboxRecord
	want := func(typ string) bool { return wanted == nil || wanted(typ, sess.Environment, sess.FlowID) }
	add := func(typ string, at time.Time, data any) {
		b, err := jsonv1.Marshal(data)
		if err != nil {
			b = []byte("{}")
		}
		out = append(out, store.OutboxRecord{Type: typ, Timestamp: at, Environment: sess.Environment, FlowID: sess.FlowID, Data: b})
	}
	// session.updated's messages and saved results are only collected when
	// a subscription takes it.
	wantUpdated := want(delivery.EventSessionUpdated)
	contact := contactRef{URN: sess.Contact.URN, Name: sess.Contact.Name}
	channel := func() *channelRef {
		if sess.Channel == nil {
			return nil
		}
		return &channelRef{ID: sess.Channel.ID, Type: sess.Channel.Type}
	}
	var caller *string
	if sess.Call != nil {
		caller = &sess.Call.CLI
	}
	ended := false
	anySaved := false
	var saved []string
	var messages []Message
	// saved lists, once each in the order first saved, the keys of results
	// that the turn saved in the frame whose results session.updated
	// carries: the running one's, or the root's when a subflow ended.
	results := sess.Results()
	var topFlow string
	if top := sess.Top(); top != nil {
		topFlow = top.FlowID
	}
	for _, ev := range events {
		switch ev.Type {
		case flows.EventMessageOut, flows.EventSay, flows.EventPlay:
			// What the contact was sent, so an integration can deliver the
			// messages of turns no request waits for (timeouts, expiry).
			if wantUpdated {
				messages = append(messages, Message{Type: ev.Type, Text: ev.Text, QuickReplies: ev.QuickReplies, Attachments: ev.Attachments, URL: ev.URL,
					Voice: ev.Voice, Language: ev.Language})
			}
		case flows.EventSessionEnded:
			ended = true
		case flows.EventResultSaved:
			// Variables given at launch are saved before any widget runs:
			// they are the launch's, not results the flow collected.
			if ev.Widget == "" || !wantUpdated {
				break
			}
			anySaved = true
			flow := ev.Flow // set while a subflow runs
			if flow == "" {
				flow = sess.FlowID
			}
			k := flows.Key(ev.Name)
			if r := results[k]; r != nil && flow == topFlow && r.At.Equal(ev.Time) && !slices.Contains(saved, k) {
				saved = append(saved, k)
			}
		}
	}
	ended = ended && sess.EndedAt != nil

	if launchedBy != "" && want(delivery.EventSessionLaunched) {
		add(delivery.EventSessionLaunched, sess.CreatedAt, &launchedData{
			Caller: caller, Channel: channel(), Contact: contact, Flow: sess.FlowID,
			LaunchID: sess.LaunchID, LaunchedBy: launchedBy, SessionID: sess.ID,
		})
	}
	if launchedBy != "" && want(delivery.EventSessionStarted) {
		add(delivery.EventSessionStarted, sess.CreatedAt, &startedData{
			Channel: channel(), Contact: contact, Flow: sess.FlowID, LaunchID: sess.LaunchID,
			SessionID: sess.ID, Started: sess.CreatedAt, Status: sess.Status,
		})
	}
	// A launch's messages are in the launching request's answer; a later
	// turn's go with session.updated, even when that turn ends the session.
	if wantUpdated && ((launchedBy == "" && (!ended || len(messages) > 0)) || anySaved) {
		refs := make(map[string]resultRef, len(results))
		for k, r := range results {
			refs[k] = resultRef{Value: r.Value, Category: r.Category}
		}
		d := &updatedData{Channel: channel(), Contact: contact, Flow: sess.FlowID, Messages: messages, Results: refs, Saved: saved, SessionID: sess.ID, Status: sess.Status}
		if sess.Wait != nil {
			d.WaitingAt = &sess.Wait.Widget
		}
		add(delivery.EventSessionUpdated, sess.UpdatedAt, d)
	}
	if !ended {
		return out
	}
	if want(delivery.EventSessionFinished) {
		add(delivery.EventSessionFinished, *sess.EndedAt, &finishedData{Channel: channel(), Contact: contact, Ended: *sess.EndedAt, Flow: sess.FlowID, SessionID: sess.ID, Status: sess.Status})
	}
	if sess.Status != flows.StatusCompleted || !want(delivery.EventFlowCompleted) {
		return out
	}
	userKeys := sess.Contact.Fields
	if userKeys == nil {
		userKeys = map[string]string{}
	}
	path := make([]eventPathStep, 0, len(sess.Path))
	for _, st := range sess.Path {
		path = append(path, eventPathStep{At: st.At, Exit: st.Exit, Flow: st.Flow, Widget: st.Widget})
	}
	var extra json.RawMessage
	if len(sess.Extra) > 0 {
		extra = sess.Extra
	}
	add(delivery.EventFlowCompleted, *sess.EndedAt, &completedData{
		Caller: caller, Channel: sess.Channel, Contact: contact, Ended: *sess.EndedAt, Extra: extra,
		Flow: sess.FlowID, LaunchID: sess.LaunchID, Path: path, PathDropped: sess.PathDropped, SessionID: sess.ID,
		Started: sess.CreatedAt, UserKeys: userKeys, Variables: rootResults(sess),
	})
	return out
}

func rootResults(sess *flows.Session) map[string]*flows.Result {
	if len(sess.Frames) > 0 && sess.Frames[0].Results != nil {
		return sess.Frames[0].Results
	}
	return map[string]*flows.Result{}
}
