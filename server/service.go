package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// The server's own timer of a call's wait is a fallback: the telephony side
// reports the wait's timeout itself (Twilio redirects after its Gather times
// out) and must win, since only its request can carry the next prompts back
// to the caller. Its timer starts only once the turn's prompts have been
// spoken, so the server's fires later by an estimate of that time (say
// text at sayCharsPerSecond, playAllowance for each audio file) and by the
// grace (--call-timeout-grace).
const (
	sayCharsPerSecond = 12
	playAllowance     = 60 * time.Second
)

// promptsTime estimates how long a turn's prompts take to say or play: each
// text at sayCharsPerSecond characters a second, rounded up to the second,
// and playAllowance for each audio file.
func promptsTime(events []flows.Event) time.Duration {
	var d time.Duration
	for _, ev := range events {
		switch ev.Type {
		case flows.EventSay, flows.EventMessageOut, flows.EventGather:
			n := utf8.RuneCountInString(strings.TrimSpace(ev.Text))
			d += time.Duration((n+sayCharsPerSecond-1)/sayCharsPerSecond) * time.Second
		}
		if (ev.Type == flows.EventPlay || ev.Type == flows.EventGather) && strings.TrimSpace(ev.URL) != "" {
			d += playAllowance
		}
	}
	return d
}

// Service runs turns: it loads sessions and flows, serializes turns per
// contact, runs the engine and writes each turn with one store.SaveTurn.
// Handlers call it; it knows nothing of HTTP.
type Service struct {
	store    store.Store
	eng      *engine.Engine
	flows    *flowCache
	channels *channelSet
	locks    *keyedMutex
	// calls serializes the requests about one call by its session id,
	// taken before the contact's lock: a request that names only the call
	// (the calls API's input, a Twilio hang-up without From) waits for the
	// turn that starts the call and so finds its session.
	calls   *keyedMutex
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	expiry  time.Duration
	// dedupeRetention is how long an inbound message id is remembered.
	dedupeRetention time.Duration
	// maxAttachments and maxAttachmentLen bound an inbound message's
	// attachments (--max-attachments, --max-attachment-length).
	maxAttachments, maxAttachmentLen int
	// callTimeoutGrace delays the server's own timer of a call's wait
	// (--call-timeout-grace).
	callTimeoutGrace time.Duration
	// sessionRetention, when positive, is how long ended sessions are kept.
	sessionRetention time.Duration
	// notify wakes event delivery after a commit that wrote outbox records.
	notify func()
	// wanted reports whether any subscription takes an event (nil: write
	// every lifecycle event to the outbox).
	wanted func(typ, environment, flowID string) bool
	// sandboxEnded forgets what the simulator kept for a sandbox session
	// (its webhook mocks) once the session has ended.
	sandboxEnded func(sessionID string)
	// cache keeps waiting sessions decoded between a conversation's turns.
	cache *sessionCache
	// timers keeps the timer turns in flight.
	timers *timerRunner
	// gate, when the store has one, holds turns back while its writes
	// fail (tryTurn).
	gate writeGate
}

// writeGate is a store that knows when its writes fail (store.Bolt).
type writeGate interface {
	TryWrite() error
	WritesHeld() bool
}

// tryTurn refuses a turn before it runs while the store's writes fail (a
// full disk): the turn's webhooks would be called and its write would
// fail, again on every retry of its message, so a client retrying a few
// messages would have the flow's webhooks called hundreds of times. One
// turn each write probe interval (Config.WriteProbeInterval, a second by
// default) is let through, to find out whether writes succeed again
// (store.Bolt.TryWrite). The refusal is a *store.WritesHeldError. While
// writes succeed this is one atomic load.
func (s *Service) tryTurn() error {
	if s.gate == nil {
		return nil
	}
	return s.gate.TryWrite()
}

// turnsHeld reports whether tryTurn would refuse a turn now, without
// taking the turn let through to find out whether writes succeed again.
func (s *Service) turnsHeld() bool {
	return s.gate != nil && s.gate.WritesHeld()
}

// Message is one thing a turn sends: a text message, or an IVR prompt (say,
// play, gather) or hangup.
type Message struct {
	Type string `json:"type"`
	// Widget is the id of the widget that sent it.
	Widget string `json:"widget,omitempty"`
	// flow is the subflow it was sent from, "" for the session's flow:
	// with Widget, which widget of the turn sent it (voiceTwiML).
	flow         string
	Text         string   `json:"text,omitempty"`
	QuickReplies []string `json:"quick_replies,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`
	URL          string   `json:"url,omitempty"`
	Voice        string   `json:"voice,omitempty"`
	Language     string   `json:"language,omitempty"`
	NumDigits    int      `json:"num_digits,omitempty"`
	FinishKey    string   `json:"finish_key,omitempty"`
	Timeout      int      `json:"timeout,omitempty"`
	// MaxLength and PlayBeep are a record prompt's, with FinishKey and
	// Timeout (the seconds of silence that end the recording).
	MaxLength int   `json:"max_length,omitempty"`
	PlayBeep  *bool `json:"play_beep,omitempty"`
}

// WaitingFor describes what a waiting session needs next.
type WaitingFor struct {
	Kind      string     `json:"kind"`
	Timeout   int        `json:"timeout,omitempty"`
	TimeoutAt *time.Time `json:"timeout_at,omitempty"`
	NumDigits int        `json:"num_digits,omitempty"`
	FinishKey string     `json:"finish_key,omitempty"`
	// A recording's longest length and the seconds of silence that end
	// it, and whether a beep starts it (kind recording only).
	MaxLength      int   `json:"max_length,omitempty"`
	SilenceTimeout int   `json:"silence_timeout,omitempty"`
	PlayBeep       *bool `json:"play_beep,omitempty"`
	// mark names the wait among the session's waits: see waitMark.
	mark string
}

// waitingFor is what a waiting session's wait needs, as the API shows it.
func waitingFor(w *flows.Wait) WaitingFor {
	v := WaitingFor{Kind: w.Kind, Timeout: w.Timeout, NumDigits: w.NumDigits, FinishKey: w.FinishKey}
	if w.Kind == flows.WaitRecording {
		beep := !w.NoBeep
		v.MaxLength, v.SilenceTimeout, v.PlayBeep = w.MaxLength, w.Silence, &beep
	}
	return v
}

// waitMark names a waiting session's current wait: the time of the turn
// that began it, which every later turn changes. A call's TwiML reports a
// gather that timed out with it, so that a report that comes after another
// turn (the server's own timer, keys pressed) is known to be about a wait
// that is over.
func waitMark(sess *flows.Session) string {
	return strconv.FormatInt(sess.UpdatedAt.UnixNano(), 10)
}

// TurnReply is the answer to anything that runs a turn.
type TurnReply struct {
	// ID is the session's id; empty when a channel message started nothing.
	ID         string       `json:"id,omitempty"`
	Flow       string       `json:"flow,omitempty"`
	Status     flows.Status `json:"status,omitempty"`
	Messages   []Message    `json:"messages"`
	WaitingFor *WaitingFor  `json:"waiting_for,omitempty"`

	// encoded is the reply's JSON (jsonv1.Marshal), when the turn stored it
	// for retries of its message: the handler sends these bytes rather than
	// encoding the same reply again. Set only on a reply nothing changes.
	encoded []byte
	// prompts are the reply's messages as TwiML verbs, once twimlPrompts
	// has rendered them: the turn's warning and its TwiML share them.
	prompts []voicePrompt
}

// StartRequest asks for a new session.
type StartRequest struct {
	FlowID      string
	Contact     flows.Contact
	Variables   map[string]string
	Channel     *Channel
	Call        *flows.Call
	Environment string
	LaunchID    string
	// SessionID fixes the session's id (calls use one derived from the call id).
	SessionID string
	// MessageID records the inbound message that started the session.
	MessageID string
	// Input is the text of the inbound message that started the session:
	// the first turn's @input and message_in event. Nil for sessions no
	// message started (the API, calls).
	Input *flows.Input
	// Source is what launched the session (session.launched's launched_by):
	// "api" when empty, or "call" for requests with a Call.
	Source string
	// FlowField, with Channel, is the channel's field that named FlowID:
	// a flow missing is then the channel's fault, not the request's.
	FlowField string
	// CheckKind refuses a voice flow without a Call, and a messaging flow
	// that cannot run on its Call (POST /v1/sessions, whose field flow named
	// it, and the simulator's start): see checkStartKind.
	CheckKind bool
	// SandboxContact makes the contact a test contact, as every sandbox
	// session's is (the simulator's, POST /v1/sessions with environment
	// sandbox): the flow sees Contact.URN, the store keeps the contact, its
	// waiting entry and its lock apart from a live one with that URN
	// (flows.Session.SandboxContact).
	SandboxContact bool

	// twiml is set when the reply is answered as TwiML (commit.twiml).
	twiml bool

	// olderURNs are URNs the contact may have been stored under before
	// (Channel.olderURNsOf): the contact and a waiting session stored
	// under one of them are read there when Contact.URN has none (see
	// legacyKeys), a national number's contact only with a session
	// waiting on Channel there (olderURN.channelOnly).
	olderURNs []olderURN

	// read is set when the caller already read, under the contact's lock,
	// that no session waits for the contact on Channel, and the contact
	// stored for its URN (storedContact, nil when none).
	read          bool
	storedContact *flows.Contact
}

// Start starts a session and runs it until it waits or ends. A session
// already waiting for the same contact on the same channel is interrupted
// first: a contact talks to one flow at a time per channel. A call's session
// (req.Call set) interrupts nothing and is never that waiting session: it is
// found through its call, and the caller's messages and other calls are
// other conversations. A call with an id on a channel gets the session id
// StartCall gives it, so that requests about the call find it; a call that
// already has a session is a conflict.
func (s *Service) Start(ctx context.Context, req StartRequest) (*TurnReply, error) {
	callOnChannel := req.Call != nil && req.Call.ID != "" && req.Channel != nil && req.SessionID == ""
	if callOnChannel {
		req.SessionID = callSessionID(req.Channel.ID, req.Call.ID)
	}
	if req.Contact.URN == "" && req.SessionID == "" {
		req.SessionID = uuid.Must(uuid.NewV7()).String()
	}
	if callOnChannel {
		defer s.lockCallID(req.SessionID).Unlock()
	}
	legacy := req.legacyKeys()
	defer s.lockContact(req.contactKey(), req.SessionID, legacy)()
	if callOnChannel {
		if existing, err := s.store.LoadSession(ctx, req.SessionID); err == nil {
			return nil, apiErr(fiber.StatusConflict, CodeConflict, "call.id", "call %q on channel %q already has session %s (%s)", req.Call.ID, req.Channel.ID, existing.ID, existing.Status)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return s.startLocked(ctx, req, legacy)
}

// startLocked starts a session under the locks lockContact took of the
// contact's key and of legacy, the keys it may have been stored under
// before (req.legacyKeys()), which the contact and a waiting session are
// read under.
func (s *Service) startLocked(ctx context.Context, req StartRequest, legacy []olderKey) (*TurnReply, error) {
	if req.Call != nil {
		req.Call.State = callState(req.Call.State)
		if req.Call.State == "" {
			req.Call.State = "in-progress"
		}
	}
	flow, err := s.flows.Flow(ctx, req.FlowID, 0)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if req.FlowField != "" && req.Channel != nil {
				return nil, flowMissing(req.Channel.ID, req.FlowField, req.FlowID)
			}
			return nil, apiErr(fiber.StatusNotFound, CodeNotFound, "flow", "flow %q not found", req.FlowID)
		}
		return nil, err
	}
	if req.FlowField != "" && req.Channel != nil && req.Call == nil && flow.IsVoice() {
		// The channel's flow became a voice flow after the channel was set:
		// its prompts would never reach a sender of messages.
		return nil, apiErr(fiber.StatusUnprocessableEntity, CodeNoFlow, req.FlowField,
			"channel %q: %s %q is a voice flow, not a messaging flow; set another with PUT /v1/channels/%s", req.Channel.ID, req.FlowField, req.FlowID, req.Channel.ID)
	}
	if req.CheckKind {
		if err := s.checkStartKind(ctx, flow, req.Call != nil); err != nil {
			return nil, err
		}
	}
	if req.Contact.URN != "" {
		stored := req.storedContact
		if !req.read && storesContact(req.Contact.URN) {
			if stored, err = s.storedContact(ctx, req.contactKey()); err != nil {
				return nil, err
			}
			for _, k := range legacy {
				if stored != nil {
					break
				}
				if k.channelOnly {
					// Maybe another person's, stored by another
					// channel: theirs only with a session waiting on
					// this channel there.
					if req.Channel == nil {
						continue
					}
					if _, err := s.store.WaitingSession(ctx, req.Channel.ID, k.key); errors.Is(err, store.ErrNotFound) {
						continue
					} else if err != nil {
						return nil, err
					}
				}
				if stored, err = s.storedContact(ctx, k.key); err != nil {
					return nil, err
				}
			}
		}
		mergeContact(&req.Contact, stored)
	}
	if err := s.tryTurn(); err != nil {
		return nil, err
	}
	var ch *flows.Channel
	if req.Channel != nil {
		ch = req.Channel.flowsChannel()
		if req.Contact.URN != "" && !req.read && req.Call == nil {
			for i := -1; i < len(legacy); i++ {
				key := req.contactKey()
				if i >= 0 {
					key = legacy[i].key
				}
				if w, err := s.store.WaitingSession(ctx, req.Channel.ID, key); err == nil {
					if _, err := s.interruptLoaded(ctx, w); err != nil {
						return nil, fmt.Errorf("interrupt session %s waiting on channel %q: %w", w.ID, req.Channel.ID, err)
					}
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
			}
		}
	}
	start := time.Now()
	sess, events, err := s.eng.Start(ctx, flow, engine.StartParams{
		Contact: req.Contact, Variables: req.Variables, Channel: ch, Call: req.Call,
		Environment: req.Environment, LaunchID: req.LaunchID, ID: req.SessionID, Input: req.Input,
	})
	if err != nil {
		return nil, err
	}
	sess.SandboxContact = req.SandboxContact
	sess.CallTwiML = req.Call != nil && req.twiml
	s.metrics.turn("start", time.Since(start))
	return s.commit(ctx, commit{sess: sess, flow: flow, events: events, launchedBy: req.launchedBy(), messageID: req.MessageID, channel: channelID(req.Channel), twiml: req.twiml})
}

// lockContact takes the lock of a contact's key and those of the keys it
// may have been stored under before (older), all in one order, sorted and
// each once, wherever a request takes them: two requests that need some of
// the same keys (one number sent on a channel with a country and on one
// without) then never hold one each while waiting for the other's. A key
// without older ones takes its one lock. The returned func releases them.
func (s *Service) lockContact(key, sessionID string, older []olderKey) func() {
	if len(older) == 0 {
		return s.locks.lock(key, sessionID).Unlock
	}
	keys := append(make([]string, 0, 1+len(older)), key)
	for _, o := range older {
		keys = append(keys, o.key)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]heldLock, len(keys))
	for i, k := range keys {
		held[i] = s.locks.lock(k, sessionID)
	}
	return func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Unlock()
		}
	}
}

// contactKey is the key the request's contact is stored and locked under
// (flows.ContactKey).
func (req *StartRequest) contactKey() string {
	return flows.ContactKey(req.Contact.URN, req.SandboxContact)
}

// legacyKeys are the keys the request's contact may have been stored
// under before, other than its own (legacyKeys).
func (req *StartRequest) legacyKeys() []olderKey {
	return legacyKeys(req.olderURNs, req.Contact.URN, req.SandboxContact)
}

// olderKey is the store key of an olderURN.
type olderKey struct {
	key         string
	channelOnly bool
}

// legacyKeys are the store keys of older, URNs an earlier version or an
// earlier setting of the channel made of what it was given, that are not
// urn's: none when they are the same (the hot path reads one key), and
// none of a URN that could not be a key, so nothing was stored under it.
func legacyKeys(older []olderURN, urn string, sandbox bool) []olderKey {
	var keys []olderKey
	for _, o := range older {
		if o.urn == "" || o.urn == urn || urn == "" || store.KeyProblem(o.urn) != "" {
			continue
		}
		k := flows.ContactKey(o.urn, sandbox)
		if !slices.ContainsFunc(keys, func(ok olderKey) bool { return ok.key == k }) {
			keys = append(keys, olderKey{key: k, channelOnly: o.channelOnly})
		}
	}
	return keys
}

// checkStartKind refuses to start a voice flow without a call: no one
// would hear its prompts, and its session, waiting on a channel, would take
// the contact's messages as its input. A messaging flow may run on a call
// (its messages are said, as Twilio's <Say>), if it passes the checks of a
// voice flow: a wait_for_response without a timeout would keep the caller
// waiting in silence forever. So must the subflows a flow on a call can
// enter, a voice flow's too (flows.Flow.CallProblem), read through the
// flow cache as the turn reads them. Without a call, no subflow the flow
// can enter may be a voice flow (flows.Flow.MessageProblem).
func (s *Service) checkStartKind(ctx context.Context, flow *flows.Flow, call bool) error {
	if flow.IsVoice() && !call {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "flow",
			"flow %q is a voice flow, which runs on a call: give the call (\"call\": {\"id\": ..., \"from\": ...}) or start a messaging flow", flow.ID)
	}
	if call {
		if err := s.eng.CallProblem(ctx, flow); err != nil {
			return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "flow", "%s", err)
		}
	} else if err := s.eng.MessageProblem(ctx, flow); err != nil {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "flow", "%s", err)
	}
	return nil
}

// storedContact returns the contact stored for urn, nil when there is none.
func (s *Service) storedContact(ctx context.Context, urn string) (*flows.Contact, error) {
	c, err := s.store.Contact(ctx, urn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// mergeContact fills a contact from what is stored for its URN: stored
// fields persist across sessions; the request's values win. Fields are
// matched by key, as flows read them: a request's "Tier" replaces a stored
// "tier" (set_variable's spelling) rather than standing beside it. The
// name and language are trimmed of white space: one of only white space is
// none, and keeps the stored one.
func mergeContact(c, stored *flows.Contact) {
	c.Name = strings.TrimSpace(c.Name)
	c.Language = strings.TrimSpace(c.Language)
	if stored == nil {
		return
	}
	if c.Name == "" {
		c.Name = stored.Name
	}
	if c.Language == "" {
		c.Language = stored.Language
	}
	if len(c.Groups) == 0 {
		c.Groups = stored.Groups
	}
	if len(stored.Fields) == 0 && len(c.Fields) == 0 {
		return
	}
	fields := map[string]string{}
	for k, v := range stored.Fields {
		fields[k] = v
	}
	given := make(map[string]bool, len(c.Fields))
	for k := range c.Fields {
		given[flows.Key(k)] = true
	}
	for k := range fields {
		if key := flows.Key(k); key != "" && given[key] {
			delete(fields, k)
		}
	}
	for k, v := range c.Fields {
		fields[k] = v
	}
	if len(fields) > 0 {
		c.Fields = fields
	}
}

// Resume continues a waiting session with an input.
func (s *Service) Resume(ctx context.Context, id string, in flows.Input) (*TurnReply, error) {
	unlock, sess, err := s.lockSession(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := refuseCallAttachments(sess, in); err != nil {
		return nil, err
	}
	if reply, done, err := s.afterCallEnd(ctx, sess, in); done {
		return reply, err
	}
	return s.resumeLoaded(ctx, sess, in, "")
}

// refuseCallAttachments refuses a message with attachments for a session
// waiting for keys or a recording (a call's gather_digits or
// record_voice): its text would be taken as the keys, or ignored, and its
// attachments dropped unseen. The calls API has no attachments at all.
func refuseCallAttachments(sess *flows.Session, in flows.Input) error {
	w := sess.Wait
	if len(in.Attachments) == 0 || sess.Status != flows.StatusWaiting || w == nil {
		return nil
	}
	var send string
	switch w.Kind {
	case flows.WaitDigits:
		send = `{"digits": ...}`
	case flows.WaitRecording:
		send = `{"recording_url": ...}`
	default:
		return nil
	}
	return apiErr(fiber.StatusBadRequest, CodeInvalidField, "attachments",
		"attachments: session %s waits for %s at widget %q of a call, which takes no attachments: send %s", sess.ID, w.Kind, w.Widget, send)
}

// resumeLoaded resumes a session loaded under its contact's lock, with its
// contact as stored now.
func (s *Service) resumeLoaded(ctx context.Context, sess *flows.Session, in flows.Input, messageID string) (*TurnReply, error) {
	return s.resume(ctx, sess, in, resumeOpts{messageID: messageID})
}

// resumeOpts is what resume takes beside the session and its input.
type resumeOpts struct {
	// messageID, when set, records the message (or call request) as
	// processed with the reply.
	messageID string
	// With read set, contact is the contact stored for the session (nil:
	// none), read with it (Inbound); otherwise resume reads it.
	contact *flows.Contact
	read    bool
	// twiml is set when the reply is answered as TwiML (commit.twiml).
	twiml bool
}

// resume resumes a session loaded under its contact's lock.
func (s *Service) resume(ctx context.Context, sess *flows.Session, in flows.Input, o resumeOpts) (*TurnReply, error) {
	messageID := o.messageID
	if sess.Status.Ended() {
		return nil, apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s has ended (%s)", sess.ID, sess.Status)
	}
	if sess.Wait == nil {
		return nil, apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s is not waiting for input", sess.ID)
	}
	if sess.ExpiresAt != nil && !sess.ExpiresAt.After(s.now()) {
		// The session expired before the input came, and its expiry's
		// timer has not fired yet (the server was down, or the scan is
		// behind): it expires now, as the timer would have.
		var err error
		if o, err = s.expireOverdue(ctx, sess, in, o); err != nil {
			return nil, err
		}
	}
	if err := s.tryTurn(); err != nil {
		return nil, err
	}
	// The turn sees the contact as stored now, one that fails at once
	// (its flow gone) too.
	saveContact, err := s.refreshContact(ctx, sess, o.contact, o.read)
	if err != nil {
		return nil, err
	}
	flow, err := s.flows.Flow(ctx, sess.FlowID, sess.Revision)
	if why := flowGone("flow", sess.FlowID, sess.Revision, err); why != "" {
		return s.failLoaded(ctx, sess, why, in, messageID)
	}
	if err != nil {
		return nil, err
	}
	prev := sess.UpdatedAt
	// An input the wait ignores leaves the session as it was: its wait's
	// end and its expiry are not moved either.
	ignored := sess.Wait.Ignores(in)
	start := time.Now()
	events, err := s.eng.Resume(ctx, flow, sess, in)
	if se := (*engine.SubflowError)(nil); errors.As(err, &se) {
		// The subflow it waits in is gone, or no longer loads: the session
		// can only fail, as when its own flow is gone.
		if why := flowGone("subflow", se.FlowID, se.Revision, se.Err); why != "" {
			return s.failLoaded(ctx, sess, why, in, messageID)
		}
	}
	if err != nil {
		return nil, err
	}
	kind := "resume"
	if in.Kind == flows.InputTimeout {
		// A wait's timeout (the timer's, or a call's reported by its
		// telephony side) is no input: counted apart, as expiries are.
		kind = "timeout"
	}
	s.metrics.turn(kind, time.Since(start))
	// A timeout is no input from the contact: the session's expiry stays
	// where its last input put it, so a flow that loops on a wait's timeout
	// (a reminder, then the wait again) still expires.
	return s.commit(ctx, commit{sess: sess, flow: flow, events: events, prev: prev, messageID: messageID,
		keepExpiry: in.Kind == flows.InputTimeout || ignored, keepWait: ignored, saveContact: saveContact, twiml: o.twiml})
}

// expiredError is what an input for a session whose expiry had passed is
// answered with once expireOverdue has expired the session: the input was
// not the session's. A contact's message then goes where a message goes
// when no session waits (HandleMessage), with contact, the contact stored
// for the session after its expiry (nil: none).
type expiredError struct {
	contact *flows.Contact
}

func (e *expiredError) Error() string { return "the session expired before the input came" }

// expireOverdue ends sess, locked and waiting, whose expiry has passed
// before in came for it, with the turn its expiry's timer would have run
// (expireWith): the events and status the timer writes, once, since the
// ended session has no timer left. The session usually ends: then the
// error is a 409 not_waiting wrapping an *expiredError. A session waiting
// in a subflow runs on in its caller, which may wait again: a message or
// digits are for that wait, and resume goes on with the options returned;
// a timeout was of the wait that is over, and is answered as when the
// session ended.
func (s *Service) expireOverdue(ctx context.Context, sess *flows.Session, in flows.Input, o resumeOpts) (resumeOpts, error) {
	ranOn := len(sess.Frames) > 1
	if _, err := s.expireWith(ctx, sess, o.contact, o.read); err != nil {
		return o, err
	}
	if ranOn {
		// The caller's turn may have changed the contact, or stored the
		// session's copy: what is stored now is read again, by the
		// resume that goes on as by the start of another flow.
		o.contact, o.read = nil, false
	}
	if sess.Status == flows.StatusWaiting && sess.Wait != nil && in.Kind != flows.InputTimeout {
		return o, nil
	}
	contact := o.contact
	if !o.read && storesContact(sess.Contact.URN) {
		var err error
		if contact, err = s.storedContact(ctx, sess.ContactKey()); err != nil {
			return o, err
		}
	}
	ae := apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s has ended (%s)", sess.ID, sess.Status)
	ae.Err = &expiredError{contact: contact}
	return o, ae
}

// refreshContact gives a session about to run widgets its contact as
// stored now (useStoredContact): c, with read set, read with the session
// (Inbound, nil: none stored); otherwise it reads it. save reports that
// none is stored, so the turn stores the session's copy. A session of a
// contact that is not stored (storesContact) keeps its own copy.
func (s *Service) refreshContact(ctx context.Context, sess *flows.Session, c *flows.Contact, read bool) (save bool, err error) {
	if !storesContact(sess.Contact.URN) {
		return false, nil
	}
	if !read {
		if c, err = s.storedContact(ctx, sess.ContactKey()); err != nil {
			return false, err
		}
	}
	useStoredContact(sess, c)
	return c == nil, nil
}

// flowGone says why a session cannot go on when err, from loading a flow
// revision it runs in, is that the revision was deleted or no longer loads
// (which it will not next time either: waiting on would only fail every
// message and timer of the session); "" for any other error or none. what
// is "flow" for the session's own flow, "subflow" for one it waits in: the
// two are worded alike, and the session fails alike (failLoaded).
func flowGone(what, id string, rev int, err error) string {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("%s %q revision %d was deleted: %v", what, id, rev, err)
	}
	if le := (*flowLoadError)(nil); errors.As(err, &le) {
		return fmt.Sprintf("stored %s %q revision %d does not load: %v", what, id, rev, le.err)
	}
	return ""
}

// useStoredContact gives a session about to run a turn its contact as
// stored now (when one is): since the session's last turn, other sessions
// of the contact (on other channels, started through the API) may have
// changed its name, language, fields or groups, and its copy would show
// them as they were. The session's language follows the contact's. The
// contact's lock is held, so no other turn changes the contact before this
// one is saved: the contact it saves is the stored one with this turn's
// changes.
func useStoredContact(sess *flows.Session, c *flows.Contact) {
	if c == nil || sess.Contact.URN == "" {
		return
	}
	if c.Language != sess.Contact.Language {
		sess.Language = c.Language
	}
	sess.Contact = flows.Contact{URN: sess.Contact.URN, Name: c.Name, Language: c.Language, Fields: c.Fields, Groups: c.Groups}
}

// setsContact reports whether a turn's events changed the session's
// contact: every change (set_variable in scope user or contact,
// update_groups) emits a variable_set in one of those scopes.
func setsContact(events []flows.Event) bool {
	for i := range events {
		if ev := &events[i]; ev.Type == flows.EventVariableSet && (ev.Scope == flows.ScopeUser || ev.Scope == flows.ScopeContact) {
			return true
		}
	}
	return false
}

// Interrupt ends a session on request. Ending an ended session is a conflict.
func (s *Service) Interrupt(ctx context.Context, id string) (*TurnReply, error) {
	unlock, sess, err := s.lockSession(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if sess.Status.Ended() {
		return nil, apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s has already ended (%s)", sess.ID, sess.Status)
	}
	return s.interruptLoaded(ctx, sess)
}

// HangUp ends a session as its caller hanging up does: a call's session as
// a telephony side's report that the call ended (completed) does it
// (endCallLocked), so that at a record_voice step the recording is still
// waited for --call-timeout-grace; another session is resumed with a
// hang-up, or interrupted when it waits for nothing.
func (s *Service) HangUp(ctx context.Context, id string) (*TurnReply, error) {
	unlock, sess, err := s.lockSession(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch {
	case sess.Status.Ended():
		return nil, apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s has already ended (%s)", sess.ID, sess.Status)
	case sess.Call != nil:
		return s.endCallLocked(ctx, sess, "completed", true)
	case sess.Wait == nil:
		return s.interruptLoaded(ctx, sess)
	}
	return s.resumeLoaded(ctx, sess, flows.Hangup(), "")
}

// Expire expires a waiting session now, as its expiry's timer does when
// the expiry passes (expireWith): the simulator's way to try a flow's
// Expired paths without waiting for expire_minutes.
func (s *Service) Expire(ctx context.Context, id string) (*TurnReply, error) {
	unlock, sess, err := s.lockSession(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if sess.Status != flows.StatusWaiting {
		return nil, apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s is not waiting (%s): only a waiting session expires", sess.ID, sess.Status)
	}
	return s.expireWith(ctx, sess, nil, false)
}

func (s *Service) interruptLoaded(ctx context.Context, sess *flows.Session) (*TurnReply, error) {
	flow, prev, events := s.interruptTurn(ctx, sess)
	return s.commit(ctx, commit{sess: sess, flow: flow, events: events, prev: prev})
}

// interruptTurn ends a locked session as interrupted, in memory: it
// returns the session's flow, the update time it was stored with and the
// turn's events, for the caller to write.
func (s *Service) interruptTurn(ctx context.Context, sess *flows.Session) (flow *flows.Flow, prev time.Time, events []flows.Event) {
	flow = s.flowOrStub(ctx, sess)
	prev = sess.UpdatedAt
	start := time.Now()
	events = s.eng.Interrupt(ctx, flow, sess)
	s.metrics.turn("interrupt", time.Since(start))
	return flow, prev, events
}

// failLoaded ends a session that cannot go on (its flow or the subflow it
// waits in was deleted or does not load) as failed, recording why. in is the
// input the turn was given: a message's text or digits, or a recording, are logged
// (message_in) as a turn that ran would log them, and messageID, when set,
// records the message as processed with the reply, so a retry of it gets
// this answer rather than starting the channel's flow.
func (s *Service) failLoaded(ctx context.Context, sess *flows.Session, why string, in flows.Input, messageID string) (*TurnReply, error) {
	prev := sess.UpdatedAt
	now := s.now()
	sess.Status, sess.Wait, sess.ExpiresAt, sess.EndedAt, sess.UpdatedAt = flows.StatusFailed, nil, nil, &now, now
	events := make([]flows.Event, 0, 3)
	switch {
	case in.Kind == flows.InputText || in.Kind == flows.InputDigits:
		sess.SetInput(&in)
		events = append(events, flows.Event{Type: flows.EventMessageIn, Time: now, Text: in.Text, Attachments: in.Attachments})
	case in.Recorded():
		sess.SetInput(&flows.Input{Text: strings.TrimSpace(in.Text)})
		events = append(events, flows.Event{Type: flows.EventMessageIn, Time: now, URL: sess.Input, Data: in.RecordingData()})
	}
	events = append(events,
		flows.Event{Type: flows.EventError, Time: now, Message: why},
		flows.Event{Type: flows.EventSessionEnded, Time: now, SessionStatus: flows.StatusFailed})
	return s.commit(ctx, commit{sess: sess, flow: s.flowOrStub(ctx, sess), events: events, prev: prev, messageID: messageID})
}

// flowOrStub returns the session's flow, or a stand-in when it cannot be
// loaded (deleted): ending a session must not depend on its flow.
func (s *Service) flowOrStub(ctx context.Context, sess *flows.Session) *flows.Flow {
	if f, err := s.flows.Flow(ctx, sess.FlowID, sess.Revision); err == nil {
		return f
	}
	return &flows.Flow{ID: sess.FlowID, Revision: sess.Revision, Name: sess.FlowID}
}

// lockSession loads a session, takes its contact's lock, and loads it again
// under the lock so the turn sees the latest state.
func (s *Service) lockSession(ctx context.Context, id string) (func(), *flows.Session, error) {
	return s.lockSessionWith(ctx, id, false)
}

// lockSessionWith is lockSession; with try set, a contact whose lock is
// taken is not waited for: it returns a *contactBusyError, which is
// errContactBusy.
func (s *Service) lockSessionWith(ctx context.Context, id string, try bool) (func(), *flows.Session, error) {
	peek, err := s.store.LoadSession(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, notFound("session %q not found", id)
		}
		return nil, nil, err
	}
	var held heldLock
	if try {
		ok := false
		if held, ok = s.locks.tryLock(peek.ContactKey(), peek.ID); !ok {
			return nil, nil, &contactBusyError{urn: peek.ContactKey()}
		}
	} else {
		held = s.locks.lock(peek.ContactKey(), peek.ID)
	}
	unlock := held.Unlock
	sess, err := s.store.LoadSession(ctx, id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if sess.ContactKey() != peek.ContactKey() {
		// The contact changed between the loads (a turn set it): take the right lock.
		unlock()
		return s.lockSessionWith(ctx, id, try)
	}
	return unlock, sess, nil
}

// commit is one finished turn, ready to be written.
type commit struct {
	sess   *flows.Session
	flow   *flows.Flow
	events []flows.Event
	prev   time.Time
	// launchedBy is set on a session's first turn: api, message or call.
	launchedBy string
	messageID  string
	channel    string
	// keepExpiry keeps the session's expiry (set by its last input) when
	// the turn was not fired by input.
	keepExpiry bool
	// keepWait keeps the wait's end as the session had it: the turn did
	// not begin the wait again (an input the wait ignores).
	keepWait bool
	// saveContact stores the session's contact even when the turn did not
	// change it (none was stored for it). A session's first turn always
	// stores it; a later one stores it when it changed it (setsContact),
	// and then it is the stored contact with the turn's changes
	// (useStoredContact): a turn that ends a session without running it
	// (interrupted, failed) never puts back the copy it holds. A withheld
	// caller's contact is never stored (storesContact).
	saveContact bool
	// twiml is set when the reply is answered as TwiML, on Twilio's voice
	// webhook, or is a turn the server runs on such a call by itself (a
	// timer's: Session.CallTwiML), whose prompts the call's next request
	// is answered with: a turn whose prompts its TwiML cannot all hold
	// records a warning (twilioPromptsWarning). The calls API's JSON holds
	// them all, and no TwiML of prompts answers a hang-up.
	twiml bool
}

// commit writes a turn: the session with its timers, events, outbox records,
// contact and (for inbound messages) the reply for retries of the message.
func (s *Service) commit(ctx context.Context, c commit) (*TurnReply, error) {
	sess := c.sess
	if c.channel == "" && sess.Channel != nil {
		c.channel = sess.Channel.ID
	}
	now := s.now()
	if sess.Status == flows.StatusWaiting {
		if !c.keepExpiry || sess.ExpiresAt == nil {
			exp := now.Add(s.expiryOf(s.waitingFlow(ctx, sess, c.flow)))
			sess.ExpiresAt = &exp
		}
		if sess.Call != nil && sess.Wait != nil && sess.Wait.TimeoutAt != nil && !c.keepWait {
			// Any wait of a call (gather_digits, wait_for_response):
			// the telephony side times both out itself.
			at := sess.Wait.TimeoutAt.Add(promptsTime(c.events) + s.callTimeoutGrace)
			sess.Wait.TimeoutAt = &at
		}
	}
	reply := buildReply(sess, c.events)
	if c.twiml {
		if w := twilioPromptsWarning(reply, now); w != nil {
			c.events = append(c.events, *w)
		}
	}
	// The turn and the copy of its contact in one allocation.
	tc := &turnWithContact{turn: store.Turn{
		Session: sess, Events: c.events, Outbox: outboxRecords(sess, c.events, c.launchedBy, s.wanted),
		Channel: c.channel, MessageID: c.messageID, PrevUpdated: c.prev,
	}}
	t := &tc.turn
	if storesContact(sess.Contact.URN) && (c.launchedBy != "" || c.saveContact || setsContact(c.events)) {
		tc.contact = sess.Contact
		t.Contact = &tc.contact
	}
	if c.messageID != "" {
		// The stored answer to a repeated message id.
		b, err := encodeReply(reply)
		if err != nil {
			return nil, err
		}
		t.Reply = b
		reply.encoded = b
	}
	start := time.Now()
	err := s.store.SaveTurn(ctx, t)
	s.metrics.commit.Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return s.processedReply(ctx, c.channel, sess.ContactKey(), c.messageID)
		}
		return nil, fmt.Errorf("save turn of session %s: %w", sess.ID, err)
	}
	s.cache.committed(c.channel, sess)
	s.metrics.observeEvents(sess, c.events)
	if sess.Status == flows.StatusFailed {
		s.logFailed(ctx, sess, c.events)
	}
	if c.launchedBy != "" {
		s.metrics.started.Inc() // counted once saved, as ended sessions are
	}
	if s.notify != nil && len(t.Outbox) > 0 {
		s.notify()
	}
	if s.sandboxEnded != nil && sess.Environment == flows.EnvSandbox && sess.Status.Ended() {
		s.sandboxEnded(sess.ID)
	}
	return reply, nil
}

// maxLoggedError bounds the error text of a failed session's log line.
const maxLoggedError = 512

// logFailed logs a session the turn just saved has ended failed (a loop
// that used up --max-steps, --turn-timeout, a widget that failed without a
// Failure exit, a flow that no longer loads): the API answers such a turn
// 200 with status failed, so without this line only
// parley_sessions_ended_total{status="failed"} would show it. The line
// names the session, its flow and revision, the widget and the error, and
// holds no contact text or URN. Every turn is saved through commit, so
// every entry point (messages, the sessions API, timers, Twilio, batches)
// logs it; a turn that does not fail costs one comparison.
func (s *Service) logFailed(ctx context.Context, sess *flows.Session, events []flows.Event) {
	if !s.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	var failed, cause *flows.Event
	for i := range events {
		switch ev := &events[i]; {
		case ev.Type == flows.EventError:
			cause = ev
		case ev.Type == flows.EventSessionEnded && ev.SessionStatus == flows.StatusFailed:
			failed = ev
		}
	}
	if failed == nil {
		return // ended before this turn
	}
	attrs := make([]slog.Attr, 0, 7)
	if rid := callout.RequestID(ctx); rid != "" {
		attrs = append(attrs, slog.String("request_id", rid))
	}
	attrs = append(attrs, slog.String("session", sess.ID), slog.String("flow", sess.FlowID), slog.Int("revision", sess.Revision))
	widget, msg := "", ""
	if cause != nil {
		widget, msg = cause.Widget, cause.Message
		if cause.Flow != "" && cause.Flow != sess.FlowID {
			attrs = append(attrs, slog.String("subflow", cause.Flow))
		}
	}
	if widget == "" && failed.Widget != "" {
		widget = failed.Widget
	}
	if widget == "" {
		if top := sess.Top(); top != nil {
			widget = top.Widget
		}
	}
	attrs = append(attrs, slog.String("widget", widget), slog.String("error", cutText(msg, maxLoggedError)))
	s.log.LogAttrs(ctx, slog.LevelWarn, "session failed", attrs...)
}

// cutText is text cut to at most n bytes, at the end of the last whole
// character that fits, with "..." when cut.
func cutText(text string, n int) string {
	if len(text) <= n {
		return text
	}
	i := n
	for i > 0 && !utf8.RuneStart(text[i]) {
		i--
	}
	return text[:i] + "..."
}

// waitingFlow is the flow a waiting session waits in, whose expire_minutes
// its expiry follows, as RapidPro's does: the running frame's, a subflow's
// when one runs, else root, the session's flow. The turn has just run the
// subflow, loaded through the same cache, so finding it reads no store; nil
// (the server's expiry) when it cannot be had.
func (s *Service) waitingFlow(ctx context.Context, sess *flows.Session, root *flows.Flow) *flows.Flow {
	top := sess.Top()
	if len(sess.Frames) < 2 || top == nil || root != nil && top.FlowID == root.ID && top.Revision == root.Revision {
		return root
	}
	f, err := s.flows.Flow(ctx, top.FlowID, top.Revision)
	if err != nil {
		return nil
	}
	return f
}

// expiryOf is how long a session waiting in flow f waits for input: the
// flow's expire_minutes, else the server's --session-expiry.
func (s *Service) expiryOf(f *flows.Flow) time.Duration {
	if f != nil && f.ExpireMinutes > 0 {
		// A flow loads with at most flows.MaxExpireMinutes; min keeps any
		// other flow from wrapping the expiry time around.
		return time.Duration(min(f.ExpireMinutes, flows.MaxExpireMinutes)) * time.Minute
	}
	return s.expiry
}

// processedReply returns the stored answer to an inbound message from urn
// already handled.
func (s *Service) processedReply(ctx context.Context, channel, urn, messageID string) (*TurnReply, error) {
	b, ok, err := s.store.ProcessedReply(ctx, channel, urn, messageID)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("message %q on channel %q: recorded as processed without a reply", messageID, channel)
		}
		return nil, err
	}
	return decodeReply(channel, messageID, b)
}

// decodeReply decodes the answer stored for an inbound message.
func decodeReply(channel, messageID string, b []byte) (*TurnReply, error) {
	var r TurnReply
	if err := jsonv1.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("message %q on channel %q: stored reply: %w", messageID, channel, err)
	}
	if r.Messages == nil {
		r.Messages = []Message{}
	}
	return &r, nil
}

// turnWithContact is a turn to save with the contact it stores.
type turnWithContact struct {
	turn    store.Turn
	contact flows.Contact
}

// replyWithWait is a reply with room for what it waits for, so that a
// waiting turn's reply is one allocation rather than three.
type replyWithWait struct {
	reply   TurnReply
	wait    WaitingFor
	timeout time.Time
}

// buildReply turns a turn's events into what the caller shows or says.
func buildReply(sess *flows.Session, events []flows.Event) *TurnReply {
	rw := &replyWithWait{reply: TurnReply{ID: sess.ID, Flow: sess.FlowID, Status: sess.Status, Messages: []Message{}}}
	r := &rw.reply
	for _, ev := range events {
		n := len(r.Messages)
		switch ev.Type {
		case flows.EventMessageOut:
			r.Messages = append(r.Messages, Message{Type: ev.Type, Text: ev.Text, QuickReplies: ev.QuickReplies, Attachments: ev.Attachments})
		case flows.EventSay:
			// The say widget carries its voice in Name and language in Scope.
			r.Messages = append(r.Messages, Message{Type: ev.Type, Text: ev.Text, Voice: ev.Voice, Language: ev.Language})
		case flows.EventPlay:
			r.Messages = append(r.Messages, Message{Type: ev.Type, URL: ev.URL})
		case flows.EventGather:
			r.Messages = append(r.Messages, Message{Type: ev.Type, Text: ev.Text, URL: ev.URL, NumDigits: ev.NumDigits, FinishKey: ev.FinishKey, Timeout: ev.Timeout})
		case flows.EventRecord:
			r.Messages = append(r.Messages, Message{Type: ev.Type, FinishKey: ev.FinishKey, Timeout: ev.Timeout, MaxLength: ev.MaxLength, PlayBeep: ev.PlayBeep})
		case flows.EventHangup:
			r.Messages = append(r.Messages, Message{Type: ev.Type})
		}
		if len(r.Messages) > n {
			r.Messages[n].Widget, r.Messages[n].flow = ev.Widget, ev.Flow
		}
	}
	if sess.Status == flows.StatusWaiting && sess.Wait != nil {
		w := sess.Wait
		rw.wait = waitingFor(w)
		rw.wait.mark = waitMark(sess)
		r.WaitingFor = &rw.wait
		if w.TimeoutAt != nil {
			// A copy: the session may be cached and changed by its next turn
			// while this reply is still being written.
			rw.timeout = *w.TimeoutAt
			r.WaitingFor.TimeoutAt = &rw.timeout
		}
	}
	return r
}

// Inbound is a message that arrived on a channel.
type Inbound struct {
	Channel string
	From    string
	Text    string
	// Attachments are the message's media and location, CONTENT-TYPE:URL
	// each (flows.AttachmentProblem says which are taken).
	Attachments []string
	// AttachmentField names the request's field of each attachment, for
	// its errors (attachments[1], Twilio's MediaUrl1); nil names them
	// attachments[i].
	AttachmentField func(i int) string
	// ID is the channel's message id: a message seen twice is processed once.
	ID string
}

// checkAttachments refuses an inbound message's attachments when there are
// more than the server takes, or one is not CONTENT-TYPE:URL or is too
// long, naming the field and the index: before the message is looked up, so
// nothing is stored of a message refused.
func (s *Service) checkAttachments(in *Inbound) error {
	field := in.AttachmentField
	if field == nil {
		field = func(i int) string { return fmt.Sprintf("attachments[%d]", i) }
	}
	if n := len(in.Attachments); n > s.maxAttachments {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, field(s.maxAttachments), "%s: the message has %d attachments, over the limit of %d (--max-attachments, %s)", field(s.maxAttachments), n, s.maxAttachments, EnvMaxAttachments)
	}
	for i, a := range in.Attachments {
		if p := flows.AttachmentProblem(a, s.maxAttachmentLen); p != "" {
			if strings.HasPrefix(p, "is ") {
				p += fmt.Sprintf(" (--max-attachment-length, %s)", EnvMaxAttachmentLen)
			}
			return apiErr(fiber.StatusBadRequest, CodeInvalidField, field(i), "%s: attachment %s", field(i), p)
		}
	}
	return nil
}

// checkKey refuses a value the store keeps in its keys (a message id, a
// contact's URN) when the store could not save it: longer than
// store.MaxIDLen bytes or holding a NUL byte. It is checked before the turn
// runs, since a turn that cannot be saved would still have had its effects
// (webhooks called), again on every retry. what names the value in the
// message; field is the request's field it came from.
func checkKey(field, what, v string) error {
	if p := store.KeyProblem(v); p != "" {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: %s %.40q %s", field, what, v, p)
	}
	return nil
}

// checkURN is checkKey for a contact's URN, which must also name someone:
// a URN with nothing after its scheme ("tel:", made of a from "tel: ") or
// nothing before its ':' would make one contact of every such sender. A live
// contact's URN may not have the sim: scheme of the simulator's test
// contacts (sandboxScheme).
func checkURN(field, what, urn string) error {
	if err := checkKey(field, what, urn); err != nil {
		return err
	}
	if sandboxScheme(urn) {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: %s %.40q is refused: %s", field, what, urn, sandboxSchemeKept)
	}
	if p := flows.URNProblem(urn); p != "" {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: %s %.40q %s", field, what, urn, p)
	}
	if p := urnShapeProblem(urn); p != "" {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: %s %.40q %s: give an address (+15551234567) or a URN with one (tel:+15551234567)", field, what, urn, p)
	}
	return nil
}

// HandleMessage resumes the sender's waiting session on the channel, or starts
// the channel's flow (keyword trigger, else default flow). That session is
// never a call's (the store's waiting entry holds none): messages and calls
// of one number are separate conversations.
func (s *Service) HandleMessage(ctx context.Context, in Inbound) (*TurnReply, error) {
	ch, err := s.channels.peek(in.Channel)
	if err != nil {
		return nil, err
	}
	urn := ch.urnOf(in.From)
	if err := checkURN("from", "the sender's URN", urn); err != nil {
		return nil, err
	}
	if err := checkKey("id", "the message id", in.ID); err != nil {
		return nil, err
	}
	if len(in.Attachments) > 0 {
		if err := s.checkAttachments(&in); err != nil {
			return nil, err
		}
	}
	legacy := legacyKeys(ch.olderURNsOf(in.From, urn), urn, false)
	if len(legacy) == 0 {
		defer s.locks.lock(urn, "").Unlock()
	} else {
		defer s.lockContact(urn, "", legacy)()
	}
	// One read finds a repeated message, the waiting session (or confirms
	// that the cached copy is current) and, when none waits, the contact.
	known := s.cache.take(ch.ID, urn)
	st, err := s.store.Inbound(ctx, store.InboundQuery{Channel: ch.ID, URN: urn, MessageID: in.ID, Known: known})
	if err != nil {
		return nil, err
	}
	if !st.Processed && st.Session == nil && len(legacy) > 0 {
		// No session waits on this channel under the normal URN: a
		// version before URNs were normalised may have stored the sender
		// under the URN as it was sent (tel:+1 555 010 0100), or the
		// channel before it had a country under the national number.
		// A session waiting there on this channel resumes, also after
		// another channel's message carried the contact to the normal
		// URN (sessions wait per contact and channel); else the contact
		// found there, when the normal URN has none, is carried to the
		// normal URN by the session that starts, but not a national
		// number's, which may be another person's. Only a sender not
		// written normally costs these reads.
		contact := st.Contact
		for _, o := range legacy {
			old, err := s.store.Inbound(ctx, store.InboundQuery{Channel: ch.ID, URN: o.key, MessageID: in.ID})
			if err != nil {
				return nil, err
			}
			if old.Processed || old.Session != nil {
				st = old
				break
			}
			if contact == nil && !o.channelOnly {
				contact = old.Contact
			}
		}
		if !st.Processed && st.Session == nil {
			st.Contact = contact
		}
	}
	if st.Processed {
		if known != nil {
			s.cache.committed(ch.ID, known) // untouched: still the stored version
		}
		return decodeReply(ch.ID, in.ID, st.Reply)
	}
	if st.Session != nil {
		reply, err := s.resume(ctx, st.Session, flows.Input{Kind: flows.InputText, Text: in.Text, Attachments: in.Attachments}, resumeOpts{messageID: in.ID, contact: st.Contact, read: true})
		var expired *expiredError
		if err == nil || !errors.As(err, &expired) {
			return reply, err
		}
		// The session had expired before the message came, and has
		// expired now: the message is one no session waits for.
		st.Contact = expired.contact
	}
	flowID, field := ch.flowFor(in.Text)
	if flowID == "" {
		return &TurnReply{Messages: []Message{}}, nil
	}
	input := flows.Input{Kind: flows.InputText, Text: in.Text, Attachments: in.Attachments}
	return s.startLocked(ctx, StartRequest{
		FlowID: flowID, FlowField: field, Contact: flows.Contact{URN: urn}, Channel: ch,
		Variables: map[string]string{}, MessageID: in.ID, LaunchID: in.ID, Input: &input,
		SessionID: uuid.Must(uuid.NewV7()).String(), Source: LaunchedByMessage,
		read: true, storedContact: st.Contact,
	}, nil)
}

// IncomingCall starts an IVR session for a call.
type IncomingCall struct {
	Channel string
	CallID  string
	From    string
	To      string
	State   string
}

// callState is a call state as it is kept: in lowercase, as Twilio sends
// it, and the British spelling "cancelled" as Twilio's "canceled", so that a
// flow testing $call.state against "canceled" sees every cancelled call.
// Every entry point that takes a call's state (Start, StartCall, HandleCall,
// CallInput) keeps it so.
func callState(state string) string {
	state = strings.ToLower(state)
	if state == "cancelled" {
		return "canceled"
	}
	return state
}

// callSessionID derives a call's session id, so later requests about the
// call find its session without another index.
func callSessionID(channel, callID string) string {
	return uuid.NewSHA1(callNamespace, []byte(channel+"\x00"+callID)).String()
}

var callNamespace = uuid.MustParse("6f1d5a7e-2c1b-4f0e-9a53-7d3f0c2b8e41")

// lockCallID takes the lock of a call, by its session id: every request
// about the call takes it before its contact's lock, so that one which
// comes during the call's first turn waits for that turn's session.
func (s *Service) lockCallID(sessionID string) heldLock {
	return s.calls.lock("", sessionID)
}

// StartCall starts the voice session of a new call. A call that already
// has a session is a conflict; HandleCall answers such a request with the
// session's state instead. A call whose state has already ended starts
// nothing: the reply has no session id.
func (s *Service) StartCall(ctx context.Context, c IncomingCall) (*TurnReply, error) {
	ch, flowID, field, err := s.callFlow(ctx, c.Channel)
	if err != nil {
		return nil, err
	}
	id := callSessionID(ch.ID, c.CallID)
	urn := ch.callerURN(c.From, id)
	if err := checkCallKeys(c.From, urn, c.CallID); err != nil {
		return nil, err
	}
	c.State = callState(c.State)
	defer s.lockCallID(id).Unlock()
	legacy := legacyKeys(ch.callerOlderURNs(c.From, urn), urn, false)
	defer s.lockContact(urn, id, legacy)()
	if existing, err := s.store.LoadSession(ctx, id); err == nil {
		return nil, apiErr(fiber.StatusConflict, CodeConflict, "call_id", "call %q on channel %q already has session %s (%s)", c.CallID, ch.ID, existing.ID, existing.Status)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if erased, err := s.callErased(ctx, id); err != nil {
		return nil, err
	} else if erased {
		return nil, apiErr(fiber.StatusConflict, CodeConflict, "call_id", "call %q on channel %q was ended when its contact was erased: it starts nothing", c.CallID, ch.ID)
	}
	if flows.CallEnded(c.State) {
		// Over before it was answered (busy, no-answer): as on Twilio's
		// path, the flow does not start; the reply has no session.
		return &TurnReply{Messages: []Message{}}, nil
	}
	return s.startCallLocked(ctx, ch, flowID, field, urn, id, c, "", false, legacy)
}

// callFlow returns a channel and the voice flow it answers calls with, and
// the channel's field that names it.
func (s *Service) callFlow(ctx context.Context, channel string) (*Channel, string, string, error) {
	ch, err := s.channels.get(channel)
	if err != nil {
		return nil, "", "", err
	}
	flowID, field := ch.VoiceFlow, "voice_flow"
	if flowID == "" {
		flowID, field = ch.DefaultFlow, "default_flow"
	}
	if flowID == "" {
		return nil, "", "", apiErr(fiber.StatusUnprocessableEntity, CodeNoFlow, "voice_flow", "channel %q has no voice_flow to answer calls with", ch.ID)
	}
	if f, err := s.flows.Flow(ctx, flowID, 0); err == nil && !f.IsVoice() {
		if ch.VoiceFlow != "" {
			return nil, "", "", apiErr(fiber.StatusUnprocessableEntity, CodeNoFlow, "voice_flow", "channel %q: voice_flow %q is a %s flow, not a voice flow", ch.ID, flowID, f.Kind)
		}
		return nil, "", "", apiErr(fiber.StatusUnprocessableEntity, CodeNoFlow, "voice_flow", "channel %q has no voice_flow, and its default_flow %q is a %s flow, not a voice flow", ch.ID, flowID, f.Kind)
	}
	return ch, flowID, field, nil
}

// checkCallKeys checks a call's id and the URN of its caller, made of
// from; a withheld number's (callerURN), or a request's without from (a
// hang-up's), has none to check.
func checkCallKeys(from, urn, callID string) error {
	check := checkURN
	if withheldCaller(from) {
		check = checkKey
	}
	if err := check("from", "the caller's URN", urn); err != nil {
		return err
	}
	return checkKey("call_id", "the call id", callID)
}

// startCallLocked starts a call's session under its caller's locks
// (lockContact), legacy those of the caller's older keys;
// requestID, when set, records the request as processed with the reply;
// twiml is set when the reply is answered as TwiML.
func (s *Service) startCallLocked(ctx context.Context, ch *Channel, flowID, field, urn, id string, c IncomingCall, requestID string, twiml bool, legacy []olderKey) (*TurnReply, error) {
	return s.startLocked(ctx, StartRequest{
		FlowID: flowID, FlowField: field, Contact: flows.Contact{URN: urn}, Channel: ch, SessionID: id,
		Call:      &flows.Call{ID: c.CallID, CLI: callerCLI(c.From, urn), To: c.To, State: c.State, Start: flows.CallStart(s.now())},
		Variables: map[string]string{}, LaunchID: c.CallID, MessageID: requestID, twiml: twiml,
	}, legacy)
}

// CallRequest is one request of a telephony side about a call, as Twilio's
// voice webhook sends them: the call's first request starts its session;
// later ones carry the keys pressed, a gather that timed out, or the
// call's state.
type CallRequest struct {
	IncomingCall
	// Digits are the keys pressed; Timeout reports a gather that timed out
	// (and wins over Digits). TimeoutOf, when set, is the waitMark of the
	// wait that timed out: a timeout of a wait that is over is answered as
	// a repeat, without a turn. Without it the timeout is of the current
	// wait.
	Digits    string
	Timeout   bool
	TimeoutOf string
	// Recording reports a recording (a <Record>'s action): its URL, ""
	// when nothing was recorded, and its length in seconds
	// (flows.DurationUnknown when not given). With a final State it is
	// given to the session before the call ends (the caller hung up
	// while recording).
	Recording    bool
	RecordingURL string
	Duration     int
	// RequestID is the same on every retry of one request (Twilio's
	// I-Twilio-Idempotency-Token): a request already processed for the
	// call gets its first reply again, without a second turn.
	RequestID string
	// TwiML is set when the reply is answered as TwiML (Twilio's voice
	// webhook): a turn records a warning when its TwiML leaves prompts
	// out. A hang-up's turn is answered with no prompts.
	TwiML bool
	// MidCall reports a request that only comes once the call is going
	// on, answering TwiML an earlier request was given: a gather's action
	// (with Digits or SpeechResult) or the redirect that reports its
	// timeout. One about a call without a session is not the call's
	// start: the session has ended and is no longer stored (its contact
	// erased, or the session deleted after --session-retention), and
	// starting it again would greet the caller anew in the middle of
	// the call.
	MidCall bool
}

// HandleCall answers a request about a call. It takes the call's lock and
// the caller's before it looks for the call's session, so a request that
// comes while another is in its turn (a retry of the call's first request,
// a hang-up, with or without From) waits for that turn and sees the
// session it saved:
//
//   - a final State (completed, busy, failed, no-answer, canceled) ends the
//     session as interrupted, after any turn in progress; the reply is
//     empty for a call without a session;
//   - a call without a session starts one, unless the request can only
//     come mid-call (MidCall, Digits, Timeout) or the call's session was
//     ended by its contact's erasure (callErased, kept in the store): that one is answered
//     with no prompts, a hang-up, and stores nothing;
//   - a session that has ended answers with no prompts, as does one whose
//     expiry has passed, which expires first (expireOverdue);
//   - Timeout or Digits resume the session with that input;
//   - a request with neither (a retry of the first request) runs no turn:
//     it answers with the prompts of the session's last turn, which are
//     what the caller is hearing.
func (s *Service) HandleCall(ctx context.Context, r CallRequest) (*TurnReply, error) {
	ch, err := s.channels.get(r.Channel)
	if err != nil {
		return nil, err
	}
	id := callSessionID(ch.ID, r.CallID)
	urn := ch.callerURN(r.From, id)
	if err := checkCallKeys(r.From, urn, r.CallID); err != nil {
		return nil, err
	}
	state := callState(r.State)
	r.State = state
	ended := flows.CallEnded(state)
	requestID := ""
	if r.RequestID != "" && !ended {
		requestID = callRequestID(r.CallID, r.RequestID)
	}
	defer s.lockCallID(id).Unlock()
	legacy := legacyKeys(ch.callerOlderURNs(r.From, urn), urn, false)
	unlock, sess, err := s.lockCallOf(ctx, urn, id, legacy)
	if err != nil {
		if !isNotFoundErr(err) {
			return nil, err
		}
		defer unlock()
		if ended || r.MidCall || r.Digits != "" || r.Recording || r.Timeout || r.TimeoutOf != "" {
			return &TurnReply{Messages: []Message{}}, nil
		}
		if erased, err := s.callErased(ctx, id); err != nil {
			return nil, err
		} else if erased {
			return &TurnReply{Messages: []Message{}}, nil
		}
		ch, flowID, field, err := s.callFlow(ctx, r.Channel)
		if err != nil {
			return nil, err
		}
		return s.startCallLocked(ctx, ch, flowID, field, urn, id, r.IncomingCall, requestID, r.TwiML, legacy)
	}
	defer unlock()
	if requestID != "" {
		b, ok, err := s.store.ProcessedReply(ctx, ch.ID, sess.ContactKey(), requestID)
		if err != nil {
			return nil, err
		}
		if ok {
			reply, err := decodeReply(ch.ID, requestID, b)
			if err == nil && reply.WaitingFor != nil && sess.Status == flows.StatusWaiting {
				// The stored reply does not keep its wait's mark: the
				// session's wait, which is the one that reply began unless
				// a turn has run since.
				reply.WaitingFor.mark = waitMark(sess)
			}
			return reply, err
		}
	}
	if ended {
		if r.Recording {
			return s.recordThenEnd(ctx, sess, flows.Recording(r.RecordingURL, r.Duration), state)
		}
		return s.endCallLocked(ctx, sess, state, true)
	}
	if sess.Status.Ended() {
		return buildReply(sess, nil), nil
	}
	if endedIn, held := heldForRecording(sess); held {
		// The call's end came first (holdForRecording): what comes now is
		// the recording, or a report that there is none.
		if r.Recording {
			return s.recordThenEnd(ctx, sess, flows.Recording(r.RecordingURL, r.Duration), endedIn)
		}
		if r.Timeout {
			return s.endCallLocked(ctx, sess, endedIn, false)
		}
	}
	var in flows.Input
	stale := r.Timeout && r.TimeoutOf != "" && sess.Status == flows.StatusWaiting && r.TimeoutOf != waitMark(sess)
	switch {
	case r.Timeout && !stale:
		in = flows.Timeout()
	case r.Recording:
		in = flows.Recording(r.RecordingURL, r.Duration)
	case r.Digits != "" && !stale:
		in = flows.Digits(r.Digits)
	default:
		if sess.Status != flows.StatusWaiting {
			return buildReply(sess, nil), nil
		}
		events, err := s.store.LastTurnEvents(ctx, sess.ID)
		if err != nil {
			return nil, err
		}
		return buildReply(sess, events), nil
	}
	// The call's state as Twilio reports it is kept also when the wait
	// ignores the input (docs/api.md, Recordings): a report of the call,
	// not the caller's answer.
	if state != "" && sess.Call != nil {
		sess.Call.State = state
	}
	sess.CallTwiML = r.TwiML
	reply, err := s.resume(ctx, sess, in, resumeOpts{messageID: requestID, twiml: r.TwiML})
	if err != nil && errors.As(err, new(*expiredError)) {
		// The session had expired before the request came, and has
		// expired now: answered as a session that has ended.
		return buildReply(sess, nil), nil
	}
	return reply, err
}

// callRequestID is the key a call's request is remembered by: the call id
// and Twilio's token, or their SHA-256 digest when that key could not be
// stored (over store.MaxIDLen bytes, as a long token after a long CallSid
// makes it, or holding a NUL byte), so that the retries of any request are
// known. A short key stays as it is, and so matches the records of requests
// served before.
func callRequestID(callID, token string) string {
	id := callID + "/" + token
	if store.KeyProblem(id) == "" {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// lockCallOf takes the lock of a call's caller (urn), with those of the
// keys it may have been stored under before (older, lockContact), then
// loads the call's session id: not found (404) when it has none, with the
// locks still held so that the caller can start it. A session whose contact is no
// longer urn, or is a test contact (a sandbox session's), is locked
// through its own contact.
func (s *Service) lockCallOf(ctx context.Context, urn, id string, older []olderKey) (func(), *flows.Session, error) {
	unlock := s.lockContact(urn, id, older)
	sess, err := s.store.LoadSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return unlock, nil, notFound("session %q not found", id)
	case err != nil:
		unlock()
		return nil, nil, err
	case sess.ContactKey() != urn:
		unlock()
		return s.lockSession(ctx, id)
	}
	return unlock, sess, nil
}

// endCallLocked ends a locked call's session for a final call state; a
// session already ended answers as it is. With hold set, a session waiting
// for a recording is not ended yet (holdForRecording): the recording may
// still come.
func (s *Service) endCallLocked(ctx context.Context, sess *flows.Session, state string, hold bool) (*TurnReply, error) {
	if sess.Status.Ended() {
		return buildReply(sess, nil), nil
	}
	if hold && sess.Status == flows.StatusWaiting && sess.Wait != nil && sess.Wait.Kind == flows.WaitRecording && sess.Call != nil {
		if _, held := heldForRecording(sess); held {
			// Reported again (to the status callback and the voice URL):
			// the wait keeps the end it was given.
			return buildReply(sess, nil), nil
		}
		return s.holdForRecording(ctx, sess, state)
	}
	if sess.Call != nil {
		sess.Call.State = state
	}
	if sess.Wait == nil {
		return s.interruptLoaded(ctx, sess)
	}
	reply, err := s.resumeLoaded(ctx, sess, flows.Hangup(), "")
	if err != nil && errors.As(err, new(*expiredError)) {
		return buildReply(sess, nil), nil // expired before the hang-up came
	}
	return reply, err
}

// heldForRecording reports whether a call's session waits for a recording
// after its call has ended (holdForRecording), and the state it ended in.
func heldForRecording(sess *flows.Session) (state string, held bool) {
	if sess.Status != flows.StatusWaiting || sess.Wait == nil || sess.Wait.Kind != flows.WaitRecording ||
		sess.Call == nil || !flows.CallEnded(sess.Call.State) {
		return "", false
	}
	return sess.Call.State, true
}

// holdForRecording keeps a call's session that waits for a recording
// waiting once its call has ended, for --call-timeout-grace (commit adds
// it to the wait's end, which is now): a caller who hangs up while
// recording makes Twilio request the <Record>'s action with the recording
// and report the call's end to its status callback, in either order, and
// a recording must not be lost because the end came first. The call's
// final state is kept; a recording that comes meanwhile is saved and the
// flow goes on from it (recordThenEnd), and once the grace is over the
// server's timer ends the session as interrupted (endCallLocked), as the
// call's end would have.
func (s *Service) holdForRecording(ctx context.Context, sess *flows.Session, state string) (*TurnReply, error) {
	if err := s.tryTurn(); err != nil {
		return nil, err
	}
	prev := sess.UpdatedAt
	now := s.now()
	sess.Call.State = state
	sess.CallTwiML = false // no one hears what comes next
	sess.UpdatedAt = now
	sess.Wait.TimeoutAt = &now
	ev := flows.Event{Type: flows.EventWarning, Time: now, Widget: sess.Wait.Widget,
		Message: fmt.Sprintf("the call ended (%s) while recording: the recording is waited for %s more, then the session ends", state, s.callTimeoutGrace)}
	if len(sess.Frames) > 1 {
		ev.Flow = sess.Top().FlowID
	}
	return s.commit(ctx, commit{sess: sess, flow: s.flowOrStub(ctx, sess), events: []flows.Event{ev}, prev: prev, keepExpiry: true})
}

// afterCallEnd takes the input of a locked call's session that waits for
// a recording after its call ended (holdForRecording): the recording is
// given to it (recordThenEnd), a timeout (nothing recorded) ends it; done
// is false for any other session or input, which resumes it as ever.
func (s *Service) afterCallEnd(ctx context.Context, sess *flows.Session, in flows.Input) (reply *TurnReply, done bool, err error) {
	state, held := heldForRecording(sess)
	switch {
	case !held:
		return nil, false, nil
	case in.Kind == flows.InputRecording:
		reply, err = s.recordThenEnd(ctx, sess, in, state)
	case in.Kind == flows.InputTimeout:
		reply, err = s.endCallLocked(ctx, sess, state, false)
	default:
		return nil, false, nil
	}
	return reply, true, err
}

// recordThenEnd gives a locked call's session the recording that came with
// the call's end (a caller who hangs up while recording: Twilio requests
// the <Record>'s action with the recording and Digits "hangup"), so that
// it is kept and the flow goes on from it, then ends the call's session
// for its final state as endCallLocked does: the flow runs until it next
// waits, or ends, with no one on the line. A session not waiting for a
// recording is only ended.
func (s *Service) recordThenEnd(ctx context.Context, sess *flows.Session, rec flows.Input, state string) (*TurnReply, error) {
	if sess.Status != flows.StatusWaiting || sess.Wait == nil || sess.Wait.Kind != flows.WaitRecording {
		return s.endCallLocked(ctx, sess, state, false)
	}
	if sess.Call != nil {
		sess.Call.State = state
	}
	sess.CallTwiML = false // no one hears what it says
	if _, err := s.resumeLoaded(ctx, sess, rec, ""); err != nil {
		if errors.As(err, new(*expiredError)) {
			return buildReply(sess, nil), nil // expired before the recording came
		}
		return nil, err
	}
	return s.endCallLocked(ctx, sess, state, false)
}

// lockCall returns the session of a call, locked, after any turn that
// starts the call; unlock when done.
func (s *Service) lockCall(ctx context.Context, channel, callID string) (func(), *flows.Session, error) {
	if _, err := s.channels.get(channel); err != nil {
		return nil, nil, err
	}
	id := callSessionID(channel, callID)
	call := s.lockCallID(id)
	unlock, sess, err := s.lockSession(ctx, id)
	if err != nil {
		call.Unlock()
		if isNotFoundErr(err) {
			return nil, nil, notFound("call %q on channel %q not found", callID, channel)
		}
		return nil, nil, err
	}
	return func() { unlock(); call.Unlock() }, sess, nil
}

// CallInput continues a call: digits, a recording, a gather's or
// recording's timeout, or a final call state (completed, busy, failed,
// no-answer, canceled) that ends the session; a recording that comes with
// one is given to the session first (recordThenEnd).
func (s *Service) CallInput(ctx context.Context, channel, callID string, in flows.Input, state string) (*TurnReply, error) {
	unlock, sess, err := s.lockCall(ctx, channel, callID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	state = callState(state)
	if state != "" && flows.CallEnded(state) {
		if in.Kind == flows.InputRecording {
			return s.recordThenEnd(ctx, sess, in, state)
		}
		return s.endCallLocked(ctx, sess, state, true)
	}
	if reply, done, err := s.afterCallEnd(ctx, sess, in); done {
		return reply, err
	}
	if state != "" && sess.Call != nil {
		sess.Call.State = state
	}
	sess.CallTwiML = false // answered in JSON, as the turns after it
	return s.resumeLoaded(ctx, sess, in, "")
}

func channelID(c *Channel) string {
	if c == nil {
		return ""
	}
	return c.ID
}
