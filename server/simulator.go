package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/websim"
	"github.com/parleyhq/parley/widgets"
)

// The web simulator's server side. Simulated sessions are sandbox sessions:
//   - their contact is a test contact (flows.Session.SandboxContact): the
//     flow sees the URN the author gave, as parley simulate shows it, while
//     the store keeps the contact under flows.SandboxContactPrefix + URN, so
//     a test never reads or writes a live contact's fields, locks or
//     waiting index;
//   - an edited flow runs as a draft flow (draftID: DraftPrefix + the flow's id), so
//     trying a change never adds a revision to the flow live sessions run;
//   - their webhook widgets may be answered by mocks kept with the session.

// DraftPrefix is the id prefix of flows the simulator stores for edited
// definitions.
const DraftPrefix = "sim."

// MockHeader marks a mocked webhook answer in the event log: the response
// carries it with the id of the widget whose mock answered.
const MockHeader = "X-Parley-Mock"

// bSandboxMocks is the bucket of webhook mocks by session id.
var bSandboxMocks = []byte("sandbox_mocks")

// Mocks answer webhook widgets of one sandbox session by widget id.
type Mocks map[string]sim.MockResponse

// sandboxMocks keeps each sandbox session's mocks: in memory, and in the
// store's bbolt file when there is one, so a restarted server resumes
// simulated sessions with the mocks they started with.
type sandboxMocks struct {
	db  *bbolt.DB // nil: memory only
	log *slog.Logger

	mu  sync.RWMutex
	mem map[string]Mocks
}

func newSandboxMocks(st store.Store, log *slog.Logger) (*sandboxMocks, error) {
	m := &sandboxMocks{log: log, mem: map[string]Mocks{}}
	if b, ok := st.(interface{ DB() *bbolt.DB }); ok {
		m.db = b.DB()
		err := m.db.Update(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(bSandboxMocks)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", bSandboxMocks, err)
		}
	}
	return m, nil
}

func (m *sandboxMocks) put(session string, mocks Mocks) error {
	if m.db != nil {
		b, err := json.Marshal(mocks)
		if err != nil {
			return err
		}
		if err := m.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bSandboxMocks).Put([]byte(session), b)
		}); err != nil {
			return fmt.Errorf("save mocks of session %s: %w", session, err)
		}
	}
	m.mu.Lock()
	m.mem[session] = mocks
	m.mu.Unlock()
	return nil
}

func (m *sandboxMocks) remove(session string) {
	m.mu.Lock()
	delete(m.mem, session)
	m.mu.Unlock()
	if m.db != nil {
		_ = m.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bSandboxMocks).Delete([]byte(session)) })
	}
}

// get returns the mocks of a session (nil when it has none).
func (m *sandboxMocks) get(session string) Mocks {
	m.mu.RLock()
	mocks, ok := m.mem[session]
	m.mu.RUnlock()
	if ok || m.db == nil {
		return mocks
	}
	var raw []byte
	_ = m.db.View(func(tx *bbolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bSandboxMocks).Get([]byte(session)))
		return nil
	})
	if raw != nil {
		if err := json.Unmarshal(raw, &mocks); err != nil {
			m.log.Error("stored webhook mocks do not decode", "session", session, "err", err)
			mocks = nil
		}
	}
	m.mu.Lock()
	m.mem[session] = mocks // remember misses too: most sessions have no mocks
	m.mu.Unlock()
	return mocks
}

// mockingRegistry returns reg with its webhook widget wrapped so that, in a
// sandbox session with a mock for the widget's id, the call is answered by the
// mock. The engine and the widget stay unaware: the wrapper hands the widget
// a Run whose webhook service is the mock.
func mockingRegistry(reg *flows.Registry, mocks *sandboxMocks) *flows.Registry {
	out := flows.NewRegistry()
	for _, name := range reg.Names() {
		f, _ := reg.Lookup(name)
		if name != widgets.TypeWebhook {
			out.Register(name, f)
			continue
		}
		out.Register(name, func() flows.Widget { return &mockableWebhook{Widget: f(), mocks: mocks} })
	}
	return out
}

// mockableWebhook wraps a webhook widget; see mockingRegistry.
type mockableWebhook struct {
	flows.Widget
	mocks *sandboxMocks
}

// Unwrap returns the wrapped widget: flows.Decode decodes a flow's JSON into
// it, so a webhook widget is read and checked here as everywhere else.
func (w *mockableWebhook) Unwrap() flows.Widget { return w.Widget }

var _ flows.Wrapper = (*mockableWebhook)(nil)

// MarshalJSON encodes the wrapped widget.
func (w *mockableWebhook) MarshalJSON() ([]byte, error) { return json.Marshal(w.Widget) }

// Execute answers from the session's mock for this widget, if any. Mocks
// name the started flow's widgets (parseMocks): a subflow's webhook widget
// is another widget, even with the same id, and calls out.
func (w *mockableWebhook) Execute(r flows.Run) flows.Outcome {
	s := r.Session()
	if s.Environment == flows.EnvSandbox && r.Flow() != nil && r.Flow().ID == s.FlowID {
		if resp, ok := w.mocks.get(s.ID)[w.Base().ID]; ok {
			hooks := &widgetMock{widget: w.Base().ID, resp: resp, real: r.Services()}
			// A flow may name a webhook configured on another server (the
			// live one, with its secrets): the mock answers without it.
			if wh, ok := w.Widget.(*widgets.Webhook); ok && wh.Webhook != "" {
				if _, ok := hooks.Config(wh.Webhook); !ok {
					hooks.standIn = wh.Webhook
					r.Emit(flows.Event{Type: flows.EventWarning, Message: fmt.Sprintf(
						"webhook %q is not configured on this server: the mock answers a request without its URL, headers and auth", wh.Webhook)})
				}
			}
			return w.Widget.Execute(mockedRun{Run: r, hooks: hooks})
		}
	}
	return w.Widget.Execute(r)
}

// mockedRun is a Run whose webhook service is one widget's mock.
type mockedRun struct {
	flows.Run
	hooks *widgetMock
}

func (r mockedRun) Services() flows.Services { return sim.Services{Hooks: r.hooks} }

// widgetMock answers every call with one canned response; named webhook
// configurations still come from the real service, so a widget that names
// one renders the same request it would send (one the real service does not
// configure stands in empty: see standIn).
type widgetMock struct {
	widget string
	resp   sim.MockResponse
	real   flows.Services
	// standIn is a webhook name the real service does not configure: it is
	// given an empty configuration, so the widget renders what it has and
	// the mock answers.
	standIn string
}

func (m *widgetMock) Config(name string) (*flows.WebhookConfig, bool) {
	if m.standIn != "" && name == m.standIn {
		return &flows.WebhookConfig{Name: name}, true
	}
	if m.real == nil || m.real.Webhooks() == nil {
		return nil, false
	}
	return m.real.Webhooks().Config(name)
}

func (m *widgetMock) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	resp := m.resp
	headers := map[string]string{MockHeader: m.widget}
	for k, v := range resp.Headers {
		headers[k] = v
	}
	resp.Headers = headers
	return sim.NewMocks(map[string][]sim.MockResponse{req.URL: {resp}}).Call(ctx, req)
}

// simStartBody is POST /v1/simulator/sessions.
type simStartBody struct {
	// Flow is a stored flow's id; Definition a flow document to run instead.
	Flow       string                     `json:"flow"`
	Definition json.RawMessage            `json:"definition"`
	Contact    *contactBody               `json:"contact"`
	Variables  map[string]json.RawMessage `json:"variables"`
	Call       *callBody                  `json:"call"`
	Mocks      Mocks                      `json:"mocks"`
}

// simReply is a simulated session's first turn, with the flow revision it
// runs and the flow's validation warnings.
type simReply struct {
	*TurnReply
	Revision int                 `json:"revision"`
	Warnings []*flows.FieldError `json:"warnings,omitempty"`
}

// simulatorRoutes mounts the page and its API. The page itself is public (it
// holds no data); its API calls carry the API key like any other /v1 call.
func (s *Server) simulatorRoutes(app *fiber.App, v1 fiber.Router) {
	websim.Register(app)
	v1.Post("/simulator/sessions", s.simStart)
	v1.Post("/simulator/validate", s.simValidate)
	v1.Post("/simulator/sessions/:id/hangup", s.simHangup)
	v1.Post("/simulator/sessions/:id/expire", s.simExpire)
}

// simStart starts a sandbox session on a stored flow or on a definition.
func (s *Server) simStart(c *fiber.Ctx) error {
	var b simStartBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	ctx := c.UserContext()
	var (
		flowID string
		flow   *flows.Flow
		err    error
	)
	hasDef := len(b.Definition) > 0 && string(b.Definition) != "null"
	switch {
	case hasDef && b.Flow != "":
		// One would be dropped: the session would run another flow than
		// the one the caller named.
		err = badRequest("definition", `send "flow" (a stored flow's id) or "definition" (a flow document), not both: `+
			`the definition would run in place of flow %q`, b.Flow)
	case hasDef:
		flowID, flow, err = s.simDraft(ctx, bytes.Clone(b.Definition))
	case b.Flow != "":
		flowID = b.Flow
		flow, err = s.svc.flows.Flow(ctx, b.Flow, 0)
		if errors.Is(err, store.ErrNotFound) {
			err = apiErr(fiber.StatusNotFound, CodeNotFound, "flow", "flow %q not found", b.Flow)
		}
	default:
		err = badRequest("flow", `send "flow" (a stored flow's id) or "definition" (a flow document)`)
	}
	if err != nil {
		return err
	}
	mocks, err := parseMocks(b.Mocks, flow)
	if err != nil {
		return err
	}
	vars, err := variables(b.Variables)
	if err != nil {
		return err
	}
	// Checked as POST /v1/sessions checks a start: a messaging flow given a
	// call runs as a voice flow, and must pass its checks.
	req := StartRequest{FlowID: flowID, Variables: vars, Environment: flows.EnvSandbox, SessionID: uuid.Must(uuid.NewV7()).String(), CheckKind: true}
	if rid, ok := requestIDOf(c); ok {
		req.LaunchID = rid
	}
	if b.Contact != nil {
		// Trimmed first: a language of only white space is none, and keeps
		// the one stored for the contact as an empty one does.
		lang := strings.TrimSpace(b.Contact.Language)
		if err := checkSimLanguage(lang); err != nil {
			return err
		}
		// The URN as every entry point keeps it (flows.NormalURN), a
		// blank one as given.
		urn := flows.NormalURN(b.Contact.URN)
		if urn == "" {
			urn = b.Contact.URN
		}
		req.Contact = flows.Contact{URN: urn, Name: b.Contact.Name, Language: lang, Fields: b.Contact.Fields}
		req.olderURNs = []olderURN{{urn: b.Contact.URN}}
	}
	urnField := "contact.urn"
	if req.Contact.URN == "" && (b.Call == nil || b.Call.From == "") {
		// parley simulate's contact, whose number is also the caller's.
		req.Contact.URN = sim.DefaultURN
	}
	if b.Call != nil || flow.IsVoice() {
		call := &flows.Call{ID: "sim-" + req.SessionID, State: "in-progress", Start: flows.CallStart(s.cfg.Now())}
		if b.Call != nil {
			call.CLI, call.To = callerCLI(b.Call.From, senderURN("", b.Call.From)), b.Call.To
			if b.Call.ID != "" {
				call.ID = b.Call.ID
			}
			if b.Call.State != "" {
				call.State = b.Call.State
			}
		}
		if call.CLI == "" {
			call.CLI = strings.TrimPrefix(req.Contact.URN, "tel:")
		}
		if req.Contact.URN == "" && call.CLI != "" {
			req.Contact.URN, urnField = "tel:"+call.CLI, "call.from"
		}
		req.Call, req.LaunchID = call, call.ID // launched by its call, as on POST /v1/sessions
	}
	// Checked before the turn, as POST /v1/sessions checks it: a URN the
	// store cannot keep would fail the turn's save after its webhooks were
	// called, and one that names no one would make one test contact of
	// every such URN.
	if err := checkURN(urnField, "the contact's URN", req.Contact.URN); err != nil {
		return err
	}
	req.SandboxContact = true
	if len(mocks) > 0 {
		if err := s.simMocks.put(req.SessionID, mocks); err != nil {
			return err
		}
	}
	reply, err := s.svc.Start(ctx, req)
	if err != nil {
		if len(mocks) > 0 {
			s.simMocks.remove(req.SessionID)
		}
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(simReply{TurnReply: reply, Revision: flow.Revision, Warnings: flow.Warnings})
}

// checkSimLanguage refuses a test contact's language that no flow
// translation could match (sim.CheckContactLanguage), as parley simulate
// does.
func checkSimLanguage(lang string) error {
	if fe := sim.CheckContactLanguage("contact.language", lang); fe != nil {
		return apiErr(fiber.StatusBadRequest, CodeInvalidField, fe.Path, "%s", fe.Message)
	}
	return nil
}

// simDraft returns the flow to run for a definition: the stored flow when the
// definition is its current revision, else a draft stored under DraftPrefix
// (a new draft revision only when the definition changed).
//
// The stored flow is looked for before the definition is checked: unchanged,
// it runs as it runs live, with the warnings of a flow stored before a rule
// it fails (flows.ErrNewRule); only an edited definition must pass today's
// checks.
func (s *Server) simDraft(ctx context.Context, doc []byte) (string, *flows.Flow, error) {
	if !json.Valid(doc) {
		return "", nil, malformedFlow(doc)
	}
	doc = withoutEmptyKind(doc) // as POST /v1/flows stores it
	if id, cur := s.simStored(ctx, doc); cur != nil {
		return id, cur, nil
	}
	// A definition without an id runs as the draft of "untitled": the id is
	// set before the flow is checked, as POST /v1/flows and the live check
	// (validateFlow) set one, so a flow without an id needs no name either.
	load := doc
	if idAbsent(doc) {
		var err error
		if load, err = withID(doc, untitledID); err != nil {
			return "", nil, err
		}
	}
	f, err := s.eng.Load(load)
	if err != nil {
		return "", nil, invalidFlow(err)
	}
	id := f.ID
	if !strings.HasPrefix(id, DraftPrefix) {
		id = draftID(id)
	}
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	if latest, err := s.store.GetFlow(ctx, id, 0); err == nil && sameJSON(withoutID(latest.Definition), withoutID(doc)) {
		cur, err := s.svc.flows.Flow(ctx, id, latest.Revision)
		return id, cur, err
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", nil, err
	}
	draft, err := withID(doc, id)
	if err != nil {
		return "", nil, err
	}
	rev, err := s.svc.flows.save(ctx, store.NewFlow{ID: id, Name: nameOf(f) + " (draft)", Kind: f.Kind, Definition: draft})
	if err != nil {
		return "", nil, err
	}
	cur, err := s.svc.flows.Flow(ctx, id, rev.Revision)
	return id, cur, err
}

// simStored returns the stored flow whose current revision doc is, a
// simulator draft's too, and its id; nil when doc is no such revision (or
// not JSON). That flow runs as it is stored, warnings and all, as {"flow":
// id} runs it.
func (s *Server) simStored(ctx context.Context, doc []byte) (string, *flows.Flow) {
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(doc, &head) != nil || head.ID == "" {
		return "", nil
	}
	if cur, err := s.svc.flows.Flow(ctx, head.ID, 0); err == nil && sameJSON(cur.Source, doc) {
		return head.ID, cur
	}
	return "", nil
}

// simValidate is the page's live check of its editor: what a start with
// the body as its definition would find. A stored flow's current revision,
// unchanged, runs as stored, so it is checked as stored: a problem only a
// check added since finds is a warning (the one the start answers), and
// "stored" names the flow and revision. Any other body is checked as POST
// /v1/flows/validate checks it, with the same answer.
func (s *Server) simValidate(c *fiber.Ctx) error {
	body := flows.TrimBOM(c.Body())
	id, cur := s.simStored(c.UserContext(), body)
	if cur == nil {
		return s.validateFlow(c)
	}
	warnings := cur.Warnings
	if warnings == nil {
		warnings = []*flows.FieldError{}
	}
	return c.JSON(fiber.Map{"valid": true, "errors": []*flows.FieldError{}, "warnings": warnings,
		"stored": fiber.Map{"id": id, "revision": cur.Revision}})
}

// untitledID is the id a definition without one runs under (its draft is
// DraftPrefix + untitledID).
const untitledID = "untitled"

// maxFlowID is the longest flow id.
const maxFlowID = flows.MaxIDLen

// draftID is the id of the draft of flow id: DraftPrefix + id, or, when that
// would be longer than a flow id may be, DraftPrefix + the start of id + "-"
// + 8 hex digits of id's SHA-256, so that every id has its own valid draft
// and the same id always the same one.
func draftID(id string) string {
	if len(DraftPrefix)+len(id) <= maxFlowID {
		return DraftPrefix + id
	}
	sum := sha256.Sum256([]byte(id))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return DraftPrefix + id[:maxFlowID-len(DraftPrefix)-len(suffix)] + suffix
}

// sameJSON compares two JSON documents by value, not by formatting.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// withoutID drops a document's id, to compare a draft with its source.
func withoutID(doc []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil {
		return doc
	}
	delete(m, "id")
	out, _ := json.Marshal(m)
	return out
}

// parseMocks checks the mocks of a start's body ({"WIDGET_ID": {"status":
// 200, "body": ...}}, decoded with it, so a mistake in one is named from the
// body's top, mocks.lookup.Status): each id must be a webhook widget of the
// flow, each answer an HTTP status or a timeout.
func parseMocks(raw Mocks, f *flows.Flow) (Mocks, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(raw))
	for id := range raw {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make(Mocks, len(raw))
	for _, id := range ids {
		field := "mocks." + id
		w := f.Widget(id)
		if w == nil {
			return nil, apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, field, "flow %q has no widget %q to mock", f.ID, id)
		}
		if t := w.Base().Type; t != widgets.TypeWebhook {
			return nil, apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, field, "widget %q is a %s widget; only webhook widgets can be mocked", id, t)
		}
		m := raw[id]
		if !m.Timeout && (m.Status < 100 || m.Status > 599) {
			return nil, badRequest(field+".status", "status %d is not an HTTP status (100-599)", m.Status)
		}
		out[id] = m
	}
	return out, nil
}

// simHangup ends a simulated call as if the caller hung up.
func (s *Server) simHangup(c *fiber.Ctx) error {
	sess, err := s.sandboxSession(c, "hangs up")
	if err != nil {
		return err
	}
	if sess.Status.Ended() {
		return apiErr(fiber.StatusConflict, CodeNotWaiting, "", "session %s has already ended (%s)", sess.ID, sess.Status)
	}
	reply, err := s.svc.HangUp(c.UserContext(), sess.ID)
	if err != nil {
		return err
	}
	return c.JSON(reply)
}

// simExpire expires a waiting sandbox session now, as the server does when
// its expiry passes: the subflow it waits in ends with its caller's Expired
// exit, or the session ends as expired.
func (s *Server) simExpire(c *fiber.Ctx) error {
	sess, err := s.sandboxSession(c, "expires")
	if err != nil {
		return err
	}
	reply, err := s.svc.Expire(c.UserContext(), sess.ID)
	if err != nil {
		return err
	}
	return c.JSON(reply)
}

// sandboxSession is the session of the request's {id}, refused unless it
// is a sandbox session: the simulator does (what) to those only.
func (s *Server) sandboxSession(c *fiber.Ctx, what string) (*flows.Session, error) {
	id, err := pathParam(c, "id")
	if err != nil {
		return nil, err
	}
	sess, err := s.store.LoadSession(c.UserContext(), id)
	if err != nil {
		return nil, sessionNotFound(err, id)
	}
	if sess.Environment != flows.EnvSandbox {
		return nil, apiErr(fiber.StatusConflict, CodeConflict, "", "session %s is a %s session; the simulator %s sandbox sessions only", id, sess.Environment, what)
	}
	return sess, nil
}
