package server

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
)

// channelBody is a channel as POST and PUT take it. A channel as GET
// shows it can be sent back: its auth_token_set, which says whether a token
// is stored, is ignored. auth_token left out or "" keeps the stored token,
// as a GET-edit-PUT round trip must; null clears it.
type channelBody struct {
	Channel
	AuthToken    optionalString `json:"auth_token"`
	AuthTokenSet *bool          `json:"auth_token_set"`
}

// optionalString is a string member that may be left out or null, each
// meaning something of its own.
type optionalString struct {
	Set, Null bool
	Value     string
}

func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// putChannel creates or replaces a channel: POST /v1/channels (id in the
// body) or PUT /v1/channels/{channel}.
func (s *Server) putChannel(c *fiber.Ctx) error {
	var body channelBody
	if err := decodeStrict(c.Body(), &body); err != nil {
		return err
	}
	ch := body.Channel
	ch.AuthToken = body.AuthToken.Value
	pathID, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	if pathID == "" && ch.ID == "" {
		return badRequest("id", "id is required: the channel's id (or PUT /v1/channels/{id}); %s", flows.IDRule)
	}
	if pathID != "" {
		switch ch.ID {
		case "":
			ch.ID = pathID
		case pathID:
		default:
			return badRequest("id", "the body's id %q differs from the URL's %q: leave it out or give the same", ch.ID, pathID)
		}
	}
	if err := ch.validate(); err != nil {
		return err
	}
	// Flows are checked and the channel stored under the lock that flow
	// deletes take, so a flow cannot go between the two.
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	for _, ref := range ch.flowRefs() {
		// The revision new sessions start on, whose kind decides what it answers.
		f, err := s.svc.flows.Flow(c.UserContext(), ref[1], 0)
		if err != nil {
			if errorsIsNotFound(err) {
				return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, ref[0], "flow %q not found", ref[1])
			}
			var le *flowLoadError
			if errors.As(err, &le) {
				return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, ref[0], "%s %q: %v", ref[0], ref[1], le)
			}
			return err
		}
		want := refKind(ref[0])
		if f.Kind != want {
			return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, ref[0], "%s %q is a %s flow; %s", ref[0], ref[1], f.Kind, kindNeed[want])
		}
		// Messages start default_flow and the triggers' flows without a
		// call: no subflow they can enter may be a voice flow, whose
		// prompts no one would hear. Calls start voice_flow: neither it nor
		// a subflow it can enter may keep the caller waiting in silence.
		problem := s.svc.eng.MessageProblem
		if want == flows.KindVoice {
			problem = s.svc.eng.CallProblem
		}
		if err := problem(c.UserContext(), f); err != nil {
			return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, ref[0], "%s %q: %v", ref[0], ref[1], err)
		}
	}
	created, err := s.svc.channels.put(c.UserContext(), &ch, body.AuthToken.Null)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(ch.view())
}

// refKind is the kind of flow a channel's field names: voice_flow answers
// calls, default_flow and the triggers answer messages.
func refKind(field string) string {
	if field == "voice_flow" {
		return flows.KindVoice
	}
	return flows.KindMessaging
}

var kindNeed = map[string]string{
	flows.KindVoice:     "calls need a voice flow",
	flows.KindMessaging: "messages need a messaging flow (a voice flow goes in voice_flow)",
}

func (s *Server) listChannels(c *fiber.Ctx) error {
	list := s.svc.channels.list()
	out := make([]channelView, 0, len(list))
	for _, ch := range list {
		out = append(out, ch.view())
	}
	return c.JSON(fiber.Map{"channels": out})
}

func (s *Server) getChannel(c *fiber.Ctx) error {
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	ch, err := s.svc.channels.get(channel)
	if err != nil {
		return err
	}
	return c.JSON(ch.view())
}

func (s *Server) deleteChannel(c *fiber.Ctx) error {
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	if err := s.svc.channels.delete(c.UserContext(), channel); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type messageBody struct {
	From string `json:"from"`
	Text string `json:"text"`
	// Attachments are CONTENT-TYPE:URL each (image/jpeg:https://...,
	// geo:LAT,LNG), as outbound messages carry them.
	Attachments []string `json:"attachments"`
	ID          string   `json:"id"`
}

// channelMessage handles an inbound message on a channel.
func (s *Server) channelMessage(c *fiber.Ctx) error {
	var b messageBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if err := nullAttachments(c.Body(), &b)[""]; err != nil {
		return err
	}
	if strings.TrimSpace(b.From) == "" {
		return badRequest("from", "from is required: the sender's address or URN")
	}
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	reply, err := s.svc.HandleMessage(c.UserContext(), Inbound{Channel: channel, From: b.From, Text: b.Text, Attachments: b.Attachments, ID: b.ID})
	if err != nil {
		return err
	}
	return sendReply(c, reply)
}

// sendReply answers with a turn's reply, as c.JSON would, reusing the JSON
// the turn stored for retries of its message when there is one.
func sendReply(c *fiber.Ctx, r *TurnReply) error {
	b := r.encoded
	if b == nil {
		var err error
		if b, err = encodeReply(r); err != nil {
			return err
		}
	}
	c.Response().SetBodyRaw(b)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// CallReply is the answer to call requests: the prompts to play.
type CallReply struct {
	// ID and Status are the session's; empty for a call that ended
	// before it started one.
	ID         string      `json:"id,omitempty"`
	CallID     string      `json:"call_id"`
	Status     string      `json:"status,omitempty"`
	Prompts    []Message   `json:"prompts"`
	WaitingFor *WaitingFor `json:"waiting_for,omitempty"`
}

func callReply(callID string, r *TurnReply) CallReply {
	return CallReply{ID: r.ID, CallID: callID, Status: string(r.Status), Prompts: r.Messages, WaitingFor: r.WaitingFor}
}

type startCallBody struct {
	CallID string `json:"call_id"`
	From   string `json:"from"`
	To     string `json:"to"`
	State  string `json:"state"`
}

func (s *Server) startCall(c *fiber.Ctx) error {
	var b startCallBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if b.CallID == "" {
		return badRequest("call_id", "call_id is required")
	}
	if b.From == "" {
		return badRequest("from", "from is required: the caller's number")
	}
	if err := checkCallState("state", b.State); err != nil {
		return err
	}
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	reply, err := s.svc.StartCall(c.UserContext(), IncomingCall{Channel: channel, CallID: b.CallID, From: b.From, To: b.To, State: b.State})
	if err != nil {
		return err
	}
	if reply.ID == "" {
		return c.JSON(callReply(b.CallID, reply)) // ended before it started: no session
	}
	return c.Status(fiber.StatusCreated).JSON(callReply(b.CallID, reply))
}

// callStates are the states a call request may report: Twilio's
// CallStatus values, and the answered of its status callbacks.
var callStates = []string{"queued", "initiated", "ringing", "answered", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"}

// checkCallState refuses a state that is none of callStates, in any case
// ("cancelled" is taken for "canceled": see callState); field names where it
// was given.
func checkCallState(field, state string) error {
	if state == "" || slices.Contains(callStates, strings.ToLower(state)) || flows.CallEnded(state) {
		return nil
	}
	return badRequest(field, "state %.40q is not a call state: send one of %s (Twilio's CallStatus values)", state, strings.Join(callStates, ", "))
}

type callInputBody struct {
	Digits            *string `json:"digits"`
	RecordingURL      *string `json:"recording_url"`
	RecordingDuration *int    `json:"recording_duration"`
	State             string  `json:"state"`
	Timeout           bool    `json:"timeout"`
}

// checkRecordingURL refuses a recording's URL that is neither empty
// (nothing was recorded) nor an absolute http or https URL, which a flow
// could play or hand to a webhook; field names where it was given.
func checkRecordingURL(field, raw string) error {
	if !flows.RecordingURLOK(raw) {
		return badRequest(field, "%s %.80q is not an absolute http or https URL: give the recording's URL, or \"\" when nothing was recorded", field, strings.TrimSpace(raw))
	}
	return nil
}

// recordingInput reads a recording's URL and length, as the calls and
// sessions APIs take them; nil when the body gives no recording_url.
func recordingInput(recURL *string, duration *int) (*flows.Input, error) {
	if recURL == nil {
		if duration != nil {
			return nil, badRequest("recording_duration", "recording_duration is the length of a recording: send it with recording_url")
		}
		return nil, nil
	}
	if err := checkRecordingURL("recording_url", *recURL); err != nil {
		return nil, err
	}
	seconds := flows.DurationUnknown
	if duration != nil {
		if *duration < 0 {
			return nil, badRequest("recording_duration", "recording_duration is %d: the recording's length is a number of seconds, 0 or more", *duration)
		}
		seconds = *duration
	}
	in := flows.Recording(strings.TrimSpace(*recURL), seconds)
	return &in, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) callInput(c *fiber.Ctx) error {
	var b callInputBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	callID, err := pathParam(c, "call")
	if err != nil {
		return err
	}
	// Refused as the call start refuses it, not looked up and quoted whole
	// in a 404.
	if err := checkKey("call_id", "the call id", callID); err != nil {
		return err
	}
	var in resumeBody
	in.Digits, in.Timeout = b.Digits, b.Timeout
	in.RecordingURL, in.RecordingDuration = b.RecordingURL, b.RecordingDuration
	if err := checkCallState("state", b.State); err != nil {
		return err
	}
	if n := btoi(b.Digits != nil) + btoi(b.RecordingURL != nil) + btoi(b.Timeout); n > 1 && !flows.CallEnded(b.State) {
		return badRequest("", `send {"digits": ...}, {"recording_url": ...} or {"timeout": true}, not more than one`)
	}
	rec, err := recordingInput(b.RecordingURL, b.RecordingDuration)
	if err != nil {
		return err
	}
	input, err := in.input()
	if rec != nil {
		// With a state that ends the call too: the caller hung up
		// while recording, and the recording is kept.
		input, err = *rec, nil
	}
	if err != nil {
		if b.State == "" {
			return badRequest("", `send {"digits": ...}, {"recording_url": ...}, {"timeout": true} or {"state": "completed"}`)
		}
		if !flows.CallEnded(b.State) {
			return badRequest("state", "state %q does not end the call; send digits, a recording or timeout with it", b.State)
		}
	}
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	reply, err := s.svc.CallInput(c.UserContext(), channel, callID, input, b.State)
	if err != nil {
		return err
	}
	return c.JSON(callReply(callID, reply))
}
