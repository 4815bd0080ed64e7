package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

type contactBody struct {
	URN      string            `json:"urn"`
	Name     string            `json:"name"`
	Language string            `json:"language"`
	Fields   map[string]string `json:"fields"`
}

type callBody struct {
	ID    string `json:"id"`
	From  string `json:"from"`
	To    string `json:"to"`
	State string `json:"state"`
}

type startBody struct {
	Flow        string                     `json:"flow"`
	Contact     *contactBody               `json:"contact"`
	Variables   map[string]json.RawMessage `json:"variables"`
	Channel     string                     `json:"channel"`
	Call        *callBody                  `json:"call"`
	Environment string                     `json:"environment"`
}

// variables turns request variables into flow results: strings as they are,
// other JSON values as their JSON text.
func variables(in map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, raw := range in {
		if flows.Key(k) == "" {
			return nil, badRequest("variables."+k, "variable name %q has no letters or digits", k)
		}
		var str string
		if err := json.Unmarshal(raw, &str); err == nil {
			out[k] = str
			continue
		}
		out[k] = string(raw)
	}
	return out, nil
}

func (s *Server) startSession(c *fiber.Ctx) error {
	var b startBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if b.Flow == "" {
		return badRequest("flow", "flow is required: the id of the flow to start")
	}
	req := StartRequest{FlowID: b.Flow, CheckKind: true}
	switch b.Environment {
	case "", flows.EnvLive, flows.EnvSandbox:
		req.Environment = b.Environment
	default:
		return badRequest("environment", "environment is live or sandbox, not %q", b.Environment)
	}
	// A sandbox session's contact is a test contact, as the simulator's
	// are: kept apart from the live contact with its URN, so that a test
	// never reads or changes that contact's fields, never interrupts its
	// waiting session and never takes its messages on the channel.
	req.SandboxContact = req.Environment == flows.EnvSandbox
	if b.Contact != nil {
		// Without a channel the URN is kept as given, normal
		// (flows.NormalURN): " TEL:+1 555 010 0100" is tel:+15550100100.
		urn := flows.NormalURN(b.Contact.URN)
		if urn == "" {
			urn = b.Contact.URN // blank, and refused as such below
		}
		req.Contact = flows.Contact{URN: urn, Name: b.Contact.Name, Language: b.Contact.Language, Fields: b.Contact.Fields}
		req.olderURNs = []olderURN{{urn: b.Contact.URN}}
	}
	vars, err := variables(b.Variables)
	if err != nil {
		return err
	}
	req.Variables = vars
	if b.Channel != "" {
		ch, err := s.svc.channels.get(b.Channel)
		if err != nil {
			return err
		}
		req.Channel = ch
		// The contact as the channel's messages name it ("+1555..." is
		// "tel:+1555..."), so that the contact's replies resume this session.
		if req.Contact.URN != "" {
			req.Contact.URN = ch.urnOf(req.Contact.URN)
			req.olderURNs = ch.olderURNsOf(b.Contact.URN, req.Contact.URN)
		}
	}
	urnField, withheld := "contact.urn", false
	if b.Call != nil {
		if err := checkCallState("call.state", b.Call.State); err != nil {
			return err
		}
		if flows.CallEnded(b.Call.State) {
			return badRequest("call.state", "call state %q: the call has ended, and a call that has ended starts no session", b.Call.State)
		}
		req.Call = &flows.Call{ID: b.Call.ID, CLI: callerCLI(b.Call.From, req.Channel.callerURN(b.Call.From, "")), To: b.Call.To, State: b.Call.State, Start: flows.CallStart(s.cfg.Now())}
		if req.Contact.URN == "" {
			// A call's session is the caller's: the calls endpoint and
			// Twilio's From require one too.
			if b.Call.From == "" {
				return badRequest("call.from", "call.from is required when no contact.urn is given: the caller's number")
			}
			urnField = "call.from"
			id := ""
			if withheld = withheldCaller(b.Call.From); withheld {
				// A withheld number is a contact of the call's own,
				// named by the session's id: the one Start derives from
				// the call's id on a channel, else a new one.
				if req.Channel != nil && b.Call.ID != "" {
					id = callSessionID(req.Channel.ID, b.Call.ID)
				} else {
					req.SessionID = uuid.Must(uuid.NewV7()).String()
					id = req.SessionID
				}
			}
			req.Contact.URN = req.Channel.callerURN(b.Call.From, id)
			if !withheld {
				req.olderURNs = req.Channel.olderURNsOf(b.Call.From, req.Contact.URN)
			}
		}
		if err := checkKey("call.id", "the call id", b.Call.ID); err != nil {
			return err
		}
	}
	if req.Contact.URN != "" && !withheld {
		if err := checkURN(urnField, "the contact's URN", req.Contact.URN); err != nil {
			return err
		}
	}
	// A call's session is launched by the call, as StartCall's are: its
	// id is the launch's, as the call's later requests name it. A call
	// given without an id leaves the request's.
	if req.Call != nil && req.Call.ID != "" {
		req.LaunchID = req.Call.ID
	} else if rid, ok := requestIDOf(c); ok {
		req.LaunchID = rid
	}
	reply, err := s.svc.Start(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(reply)
}

// sessionView is a session as GET /v1/sessions/{id} shows it. PathDropped
// counts the oldest steps dropped from Path (--max-path).
type sessionView struct {
	ID          string         `json:"id"`
	Flow        string         `json:"flow"`
	Revision    int            `json:"revision"`
	Status      flows.Status   `json:"status"`
	Environment string         `json:"environment,omitempty"`
	Contact     flows.Contact  `json:"contact"`
	Channel     *flows.Channel `json:"channel,omitempty"`
	Variables   sessionVars    `json:"variables"`
	WaitingFor  *WaitingFor    `json:"waiting_for,omitempty"`
	Path        []pathStep     `json:"path"`
	PathDropped int            `json:"path_dropped,omitempty"`
	Frames      []frameView    `json:"frames,omitempty"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	Ended       *time.Time     `json:"ended,omitempty"`
	Expires     *time.Time     `json:"expires,omitempty"`
}

type sessionVars struct {
	Flow  map[string]*flows.Result `json:"flow"`
	Extra json.RawMessage          `json:"extra,omitempty"`
	User  map[string]string        `json:"user"`
	Call  *flows.Call              `json:"call,omitempty"`
	Input string                   `json:"input,omitempty"`
	// Attachments are the last message's (@input.attachments).
	Attachments []string `json:"attachments,omitempty"`
}

type pathStep struct {
	Widget string    `json:"widget"`
	Flow   string    `json:"flow,omitempty"`
	Exit   string    `json:"exit,omitempty"`
	At     time.Time `json:"at"`
}

type frameView struct {
	Flow     string `json:"flow"`
	Revision int    `json:"revision,omitempty"`
	Widget   string `json:"widget,omitempty"`
}

func viewSession(sess *flows.Session) sessionView {
	v := sessionView{
		ID: sess.ID, Flow: sess.FlowID, Revision: sess.Revision, Status: sess.Status, Environment: sess.Environment,
		Contact: sess.Contact, Channel: sess.Channel,
		Variables: sessionVars{Flow: map[string]*flows.Result{}, Extra: sess.Extra, User: map[string]string{}, Call: sess.Call, Input: sess.Input, Attachments: sess.Attachments},
		Path:      make([]pathStep, 0, len(sess.Path)), PathDropped: sess.PathDropped,
		Created: sess.CreatedAt, Updated: sess.UpdatedAt, Ended: sess.EndedAt, Expires: sess.ExpiresAt,
	}
	if len(sess.Frames) > 0 && sess.Frames[0].Results != nil {
		v.Variables.Flow = sess.Frames[0].Results
	}
	for k, val := range sess.Contact.Fields {
		v.Variables.User[k] = val
	}
	for _, st := range sess.Path {
		v.Path = append(v.Path, pathStep{Widget: st.Widget, Flow: st.Flow, Exit: st.Exit, At: st.At})
	}
	if len(sess.Frames) > 1 {
		for _, f := range sess.Frames {
			v.Frames = append(v.Frames, frameView{Flow: f.FlowID, Revision: f.Revision, Widget: f.Widget})
		}
	}
	if sess.Status == flows.StatusWaiting && sess.Wait != nil {
		w := sess.Wait
		wf := waitingFor(w)
		wf.TimeoutAt = w.TimeoutAt
		v.WaitingFor = &wf
	}
	return v
}

func (s *Server) loadSession(c *fiber.Ctx) (*flows.Session, error) {
	id, err := pathParam(c, "id")
	if err != nil {
		return nil, err
	}
	sess, err := s.store.LoadSession(c.UserContext(), id)
	if err != nil {
		return nil, sessionNotFound(err, id)
	}
	return sess, nil
}

func sessionNotFound(err error, id string) error {
	if errorsIsNotFound(err) {
		return notFound("session %q not found", id)
	}
	return err
}

func (s *Server) getSession(c *fiber.Ctx) error {
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	return c.JSON(viewSession(sess))
}

// sessionSummary is a session in a listing.
type sessionSummary struct {
	ID       string       `json:"id"`
	Flow     string       `json:"flow"`
	Revision int          `json:"revision"`
	Status   flows.Status `json:"status"`
	Contact  string       `json:"contact,omitempty"`
	Channel  string       `json:"channel,omitempty"`
	Created  time.Time    `json:"created"`
	Updated  time.Time    `json:"updated"`
	Ended    *time.Time   `json:"ended,omitempty"`
}

func (s *Server) listSessions(c *fiber.Ctx) error {
	for _, name := range []string{"contact", "contact_prefix"} {
		if err := plusInQuery(c, name); err != nil {
			return err
		}
	}
	f := store.SessionFilter{Status: flows.Status(c.Query("status")), FlowID: strings.Clone(c.Query("flow")), Contact: strings.Clone(c.Query("contact")),
		ContactPrefix: strings.Clone(c.Query("contact_prefix"))}
	// A session is active only while its turn runs: stored, it waits or
	// has ended, so "active" would list none.
	const listed = "waiting, completed, expired, failed, interrupted"
	switch f.Status {
	case "", flows.StatusWaiting, flows.StatusCompleted, flows.StatusExpired, flows.StatusFailed, flows.StatusInterrupted:
		f.Status = flows.Status(strings.Clone(string(f.Status)))
	case flows.StatusActive:
		return badRequest("status", "status %q lists no session: a session is active only while its turn runs, and is stored waiting or ended; give one of %s", f.Status, listed)
	default:
		return badRequest("status", "unknown status %.40q: give one of %s", f.Status, listed)
	}
	if p := flows.URNProblem(flows.NormalURN(f.Contact)); p != "" {
		return badRequest("contact", "contact: the URN %.40q %s", f.Contact, p)
	}
	limit, err := queryInt(c, "limit", 50, 1, 1000)
	if err != nil {
		return err
	}
	page := store.Page{After: strings.Clone(c.Query("after")), Limit: limit}
	if err := s.checkSessionCursor(c.UserContext(), page.After); err != nil {
		return err
	}
	list, next, err := s.listByContact(c.UserContext(), f, page)
	if err != nil {
		return err
	}
	out := make([]sessionSummary, 0, len(list))
	for _, sess := range list {
		sum := sessionSummary{ID: sess.ID, Flow: sess.FlowID, Revision: sess.Revision, Status: sess.Status, Contact: sess.Contact.URN,
			Created: sess.CreatedAt, Updated: sess.UpdatedAt, Ended: sess.EndedAt}
		if sess.Channel != nil {
			sum.Channel = sess.Channel.ID
		}
		out = append(out, sum)
	}
	resp := fiber.Map{"sessions": out}
	if next != "" {
		resp["next"] = next
	}
	return c.JSON(resp)
}

// checkSessionCursor refuses an after that cannot be a session listing's
// cursor, as the events and deliveries listings refuse theirs: the cursor
// is the id of the last session of a page, and every id the server makes
// is a UUID in its canonical form. Another id is taken when a session is
// stored under it (written by other means), so that paging passes it.
// Without this, a mistyped cursor listed an empty page, which reads as the
// end of the listing.
func (s *Server) checkSessionCursor(ctx context.Context, after string) error {
	if after == "" {
		return nil
	}
	if u, err := uuid.Parse(after); err == nil && u.String() == after {
		return nil
	}
	if store.KeyProblem(after) == "" {
		_, err := s.store.LoadSession(ctx, after)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return nil // stored (a record that does not decode is listed without it)
		}
	}
	return badRequest("after", "after %.60q is not a session id: give the next of the previous page (or the id of a listed session) as it is", after)
}

// plusInQuery refuses a query parameter written with a bare "+": a query
// string reads it as a space, so "contact=tel:+1206..." would look for
// "tel: 1206..." and find nothing, silently. A space a client means is
// written %20.
func plusInQuery(c *fiber.Ctx, name string) error {
	for part := range strings.SplitSeq(string(c.Request().URI().QueryString()), "&") {
		key, raw, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err != nil || k != name || !strings.Contains(raw, "+") {
			continue
		}
		v, _ := url.QueryUnescape(raw)
		return badRequest(name, `%s: a "+" in a query string is read as a space (%q); write it as %%2B: %s=%s`,
			name, v, name, strings.ReplaceAll(raw, "+", "%2B"))
	}
	return nil
}

// listByContact lists sessions as the store does, for the contact's URN
// made normal as every entry point makes it (flows.NormalURN: " TEL:+1
// 555 010 0100" lists those of tel:+15550100100), and also, when they are
// other keys: a contact without a URN scheme ("+12065551212") with "tel:",
// as the channels name a sender without one, and the URN as given and as
// versions before URNs were normalised made it of a sender, which may
// still hold their sessions. The lists are merged in id order.
func (s *Server) listByContact(ctx context.Context, f store.SessionFilter, page store.Page) ([]*flows.Session, string, error) {
	if f.Contact == "" {
		return s.store.ListSessions(ctx, f, page)
	}
	given := f.Contact
	keys := []string{flows.NormalURN(given)}
	if !strings.Contains(keys[0], ":") {
		keys = append(keys, senderURN("", keys[0]), legacySenderURN("", given))
	}
	keys = append(keys, given)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) == 1 {
		f.Contact = keys[0]
		return s.store.ListSessions(ctx, f, page)
	}
	var list []*flows.Session
	for _, k := range keys {
		if store.KeyProblem(k) != "" {
			continue
		}
		f.Contact = k
		l, _, err := s.store.ListSessions(ctx, f, page)
		if err != nil {
			return nil, "", err
		}
		list = append(list, l...)
	}
	slices.SortFunc(list, func(a, b *flows.Session) int { return strings.Compare(a.ID, b.ID) })
	limit := page.Limit
	if len(list) < limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, list[limit-1].ID, nil
}

func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	q := c.Query(name)
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name, "%s must be an integer from %d to %d, got %q", name, lo, hi, q)
	}
	return n, nil
}

type eventView struct {
	Seq uint64 `json:"seq"`
	flows.Event
}

func (s *Server) sessionEvents(c *fiber.Ctx) error {
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 500, 1, store.MaxEventsPage)
	if err != nil {
		return err
	}
	var after uint64
	if q := c.Query("after"); q != "" {
		n, err := strconv.ParseUint(q, 10, 64)
		if err != nil {
			return badRequest("after", "after must be an event sequence number, got %q", q)
		}
		after = n
	}
	recs, err := s.store.SessionEvents(c.UserContext(), sess.ID, after, limit)
	if err != nil {
		return err
	}
	out := make([]eventView, 0, len(recs))
	for _, r := range recs {
		out = append(out, eventView{Seq: r.Seq, Event: r.Event})
	}
	resp := fiber.Map{"session": sess.ID, "events": out}
	if len(recs) == limit {
		resp["next"] = strconv.FormatUint(recs[len(recs)-1].Seq, 10)
	}
	return c.JSON(resp)
}

type resumeBody struct {
	Text *string `json:"text"`
	// Attachments make a message, with text or without.
	Attachments       []string `json:"attachments"`
	Digits            *string  `json:"digits"`
	RecordingURL      *string  `json:"recording_url"`
	RecordingDuration *int     `json:"recording_duration"`
	Timeout           bool     `json:"timeout"`
}

// input reads exactly one of text (with attachments or not), attachments,
// digits, a recording or timeout.
func (b resumeBody) input() (flows.Input, error) {
	n := 0
	var in flows.Input
	rec, err := recordingInput(b.RecordingURL, b.RecordingDuration)
	if err != nil {
		return in, err
	}
	if rec != nil {
		n++
		in = *rec
	}
	if b.Text != nil || b.Attachments != nil {
		n++
		in = flows.Input{Kind: flows.InputText, Attachments: b.Attachments}
		if b.Text != nil {
			in.Text = *b.Text
		}
	}
	if b.Digits != nil {
		n++
		in = flows.Digits(*b.Digits)
	}
	if b.Timeout {
		n++
		in = flows.Timeout()
	}
	if n != 1 {
		return in, badRequest("", `send exactly one of {"text": ...} (a message, with "attachments" or not), {"attachments": [...]}, {"digits": ...}, {"recording_url": ...} or {"timeout": true}`)
	}
	return in, nil
}

func (s *Server) resumeSession(c *fiber.Ctx) error {
	var b resumeBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if err := nullAttachments(c.Body(), &b)[""]; err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	if len(in.Attachments) > 0 {
		if err := s.svc.checkAttachments(&Inbound{Attachments: in.Attachments}); err != nil {
			return err
		}
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	reply, err := s.svc.Resume(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(reply)
}

func (s *Server) interruptSession(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	reply, err := s.svc.Interrupt(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(reply)
}
