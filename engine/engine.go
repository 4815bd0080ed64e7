package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/expr-lang/expr/conf"
	"github.com/google/uuid"
	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// Default limits; operators change them with the engine's options.
const (
	DefaultMaxSteps    = 250
	DefaultTurnTimeout = 30 * time.Second
	// DefaultMaxPath is how many of its latest steps a session keeps.
	DefaultMaxPath = 500
)

// maxRuntimeTemplates bounds the cache of templates compiled at run time.
const maxRuntimeTemplates = 4096

// Engine runs flows. It is safe for concurrent use: sessions are independent
// values and loaded flows are immutable.
type Engine struct {
	reg         *flows.Registry
	services    flows.Services
	source      flows.FlowSource
	now         func() time.Time
	newID       func() string
	intn        func(int) int
	float       func() float64 // rand()'s source
	maxSteps    int
	maxValue    int
	maxPath     int
	turnTimeout time.Duration
	exprConf    *conf.Config
	// exprLoose is exprConf without the types of typedVars and of the
	// functions' results: a stored flow whose expression only it compiles
	// still loads (see compileExprOnce). It is made when first needed.
	exprLoose func() *conf.Config

	// maxExprBytes and maxExprItems bound one evaluation (see exprRun).
	maxExprBytes, maxExprItems int
	// runtimeTemplates caches templates compiled while flows run (configured
	// webhooks' URLs, headers and bodies); runtimeCount bounds it, since
	// configurations change while the server runs.
	runtimeTemplates sync.Map
	runtimeCount     atomic.Int64
	// exprCache holds compiled expressions by source (see compileExpr).
	exprCache sync.Map
	exprCount atomic.Int64
	// environment is what a flow without an "environment" of its own uses.
	environment flows.Environment
}

// Option configures an Engine.
type Option func(*Engine)

// WithServices sets the outside services (webhooks) widgets call.
func WithServices(s flows.Services) Option { return func(e *Engine) { e.services = s } }

// WithFlows sets where subflows are loaded from.
func WithFlows(s flows.FlowSource) Option { return func(e *Engine) { e.source = s } }

// WithClock injects the time source; the engine reads its time in UTC.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithIDs injects the session id generator.
func WithIDs(next func() string) Option { return func(e *Engine) { e.newID = next } }

// WithSeed makes random choices reproducible: random widgets, rand() and
// randbetween().
func WithSeed(seed uint64) Option {
	return func(e *Engine) {
		var mu sync.Mutex
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		e.intn = func(n int) int {
			mu.Lock()
			defer mu.Unlock()
			return r.IntN(n)
		}
		e.float = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return r.Float64()
		}
	}
}

// WithMaxSteps sets the step budget of one turn (default 250): a loop that passes
// no wait stops there with an error event instead of hanging.
func WithMaxSteps(n int) Option { return func(e *Engine) { e.maxSteps = n } }

// WithMaxPath sets how many steps a session's path keeps (default
// DefaultMaxPath; a value below 1 keeps the default). Each turn that leaves
// the path longer drops its oldest steps and counts them in
// Session.PathDropped: the path is stored with the session on every save, so
// a session that loops for long would otherwise grow without end.
func WithMaxPath(n int) Option {
	return func(e *Engine) {
		if n > 0 {
			e.maxPath = n
		}
	}
}

// WithTurnTimeout bounds one turn, webhook calls included (default 30 s).
func WithTurnTimeout(d time.Duration) Option { return func(e *Engine) { e.turnTimeout = d } }

// WithEnvironment sets the default country and date format of flows whose
// "environment" leaves them out (default: no country, day first). The values
// are those flows.Environment.Check accepts.
func WithEnvironment(env flows.Environment) Option { return func(e *Engine) { e.environment = env } }

// New makes an engine that runs the widget types in reg.
func New(reg *flows.Registry, opts ...Option) *Engine {
	e := &Engine{
		reg: reg, now: time.Now, maxSteps: DefaultMaxSteps, maxValue: DefaultMaxValueBytes, maxPath: DefaultMaxPath,
		maxExprBytes: DefaultMaxExprBytes, maxExprItems: DefaultMaxExprItems,
		turnTimeout: DefaultTurnTimeout,
		newID:       func() string { return uuid.Must(uuid.NewV7()).String() },
		intn:        rand.IntN,
		float:       rand.Float64,
	}
	for _, o := range opts {
		o(e)
	}
	e.exprConf = e.exprConfig(typedVars)
	e.exprLoose = sync.OnceValue(func() *conf.Config { return e.exprConfig(map[string]any{}) })
	return e
}

// clock is the engine's time in UTC, whatever the zone of its clock (the
// machine's TZ for time.Now): now renders, and today() and the date rules
// count days, the same on every server.
func (e *Engine) clock() time.Time { return e.now().UTC() }

// Registry returns the widget types the engine runs.
func (e *Engine) Registry() *flows.Registry { return e.reg }

// Load decodes and validates flow JSON and compiles every template and
// expression in it. Problems come back together as a *flows.ValidationError.
func (e *Engine) Load(data []byte) (*flows.Flow, error) {
	return flows.Decode(data, e.reg, e.compilerFor(data))
}

// LoadStored is Load for a flow stored by this or an earlier version: what
// only a rule added since reports is a warning, and the flow runs as it ran
// then (see flows.DecodeStored).
func (e *Engine) LoadStored(data []byte) (*flows.Flow, error) {
	return flows.DecodeStored(data, e.reg, e.compilerFor(data))
}

// compiler adapts the engine to flows.Compiler.
type compiler struct {
	e *Engine
	// dateFormat is the flow's environment.date_format, "" when it has none.
	dateFormat string
	// report, when set, is told of the results each template and
	// expression reads (flows.ReadsReporter).
	report func(field string, reads []flows.ResultRead)
}

// ReportingReads is the compiler, telling report of the results of the
// flow each template and expression it compiles reads.
func (c compiler) ReportingReads(report func(field string, reads []flows.ResultRead)) flows.Compiler {
	c.report = report
	return c
}

// compilerFor is the compiler for the flow document data. The flow's date
// format is read ahead of decoding, so the date rules can check fixed date
// arguments against it (rules.DateFormatter).
func (e *Engine) compilerFor(data []byte) compiler {
	// The last date_format, as the flow decodes a name given twice.
	var f gjson.Result
	gjson.GetBytes(flows.TrimBOM(data), "environment").ForEach(func(k, v gjson.Result) bool {
		if k.Str == "date_format" {
			f = v
		}
		return true
	})
	if f.Type != gjson.String {
		return compiler{e: e}
	}
	return compiler{e: e, dateFormat: f.Str}
}

// DateFormat is the format the flow's date rules read dates in: the flow's
// own, else the engine's (a subflow without one runs with its caller's, which
// the check at load cannot know).
func (c compiler) DateFormat() string {
	if c.dateFormat != "" {
		return c.dateFormat
	}
	return c.e.environment.DateFormat
}

var _ flows.ReadsReporter = compiler{}

// Now is the time by the engine's clock, in UTC, which the date rules run
// by: the check of a fixed date argument reads a two-digit year in its year
// (rules.Clock).
func (c compiler) Now() time.Time { return c.e.clock() }

// Template and Expression return what they compiled with an error marked
// flows.ErrNewRule: a stored flow keeps it.
// A template with several problems gives one FieldError for each, joined.
func (c compiler) Template(field, src string) (flows.Template, error) {
	t, err := c.e.compileTemplate(src)
	if t != nil {
		t.field = field
		if c.report != nil && len(t.reads) > 0 {
			c.report(field, t.reads)
		}
	}
	if err == nil {
		return t, nil
	}
	if multi, ok := err.(templateErrors); ok {
		errs := make([]error, len(multi))
		for i, e := range multi {
			errs[i] = fieldErr(field, e)
		}
		err = errors.Join(errs...)
	} else {
		err = fieldErr(field, err)
	}
	if t != nil {
		return t, err
	}
	return nil, err
}

func (c compiler) Expression(field, src string) (flows.Expression, error) {
	x, err := c.e.compileExpr(src)
	if x != nil && c.report != nil && len(x.reads) > 0 {
		c.report(field, x.reads)
	}
	switch {
	case err == nil:
		return x, nil
	case x != nil:
		return x, fieldErr(field, err)
	}
	return nil, fieldErr(field, err)
}

func fieldErr(field string, err error) *flows.FieldError {
	return &flows.FieldError{Path: field, Message: err.Error(), Err: err}
}

// StartParams describe a new session.
type StartParams struct {
	Contact flows.Contact
	// Variables preset flow variables (@flow.NAME).
	Variables   map[string]string
	Channel     *flows.Channel
	Call        *flows.Call
	Environment string
	LaunchID    string
	// ID overrides the generated session id.
	ID string
	// Input, when set, is the inbound message that launched the session (a
	// channel message that matched a trigger or the default flow): the
	// first turn's @input, logged as its first event, message_in, as goflow
	// makes a trigger's message the run's input. A wait the flow starts
	// with still waits for the next message.
	Input *flows.Input
}

// Errors callers can test with errors.Is.
var (
	ErrNotWaiting = errors.New("session is not waiting")
	ErrEnded      = errors.New("session has ended")
	ErrNoWidget   = errors.New("widget not found")
	// ErrWrongFlow: Resume was given a flow other than the session's root flow.
	ErrWrongFlow = errors.New("not the session's flow")
)

// SubflowError is Resume's error when the subflow the session waits in
// (the flow of its top frame) does not load: deleted since the session
// entered it, or stored in a form that no longer loads. Err is the
// FlowSource's error, which it wraps, so the caller can tell a flow that
// is gone, whose session can only fail, from a failure to read it.
type SubflowError struct {
	FlowID   string
	Revision int
	Err      error
}

func (e *SubflowError) Error() string {
	return fmt.Sprintf("subflow %q revision %d: %v", e.FlowID, e.Revision, e.Err)
}

func (e *SubflowError) Unwrap() error { return e.Err }

// newSession is what Start allocates for a session.
type newSession struct {
	session flows.Session
	frame   flows.Frame
	frames  [1]*flows.Frame
}

// Start creates a session on flow and runs it until it waits or ends.
func (e *Engine) Start(ctx context.Context, flow *flows.Flow, p StartParams) (*flows.Session, []flows.Event, error) {
	now := e.clock()
	env := p.Environment
	if env == "" {
		env = flows.EnvLive
	}
	id := p.ID
	if id == "" {
		id = e.newID()
	}
	// The session, its root frame and the one-element frame list as one
	// allocation rather than three; the list's capacity is 1, as a slice
	// literal's would be, so a subflow's frame moves it elsewhere.
	n := &newSession{frame: flows.Frame{FlowID: flow.ID, Revision: flow.Revision}}
	n.frames[0] = &n.frame
	s := &n.session
	*s = flows.Session{
		ID: id, FlowID: flow.ID, Revision: flow.Revision, Status: flows.StatusActive,
		Environment: env, Contact: p.Contact, Channel: p.Channel, Call: p.Call,
		LaunchID: p.LaunchID, CreatedAt: now, UpdatedAt: now,
		Frames: n.frames[:],
	}
	// The session owns its contact: setting a user key must not change the
	// caller's map (shared by other sessions of the same contact).
	s.Contact.Fields = maps.Clone(p.Contact.Fields)
	s.Contact.Groups = slices.Clone(p.Contact.Groups)
	// A contact's language is looked up among translations keyed by ISO
	// 639-3 code: "FRA" and "fr" are read as "fra".
	if s.Contact.Language != "" {
		s.Contact.Language = flows.LanguageCode(s.Contact.Language)
		s.Language = s.Contact.Language
	}
	t := e.newTurn(ctx, s, flow)
	defer t.close()
	if in := p.Input; in != nil && (in.Kind == flows.InputText || in.Kind == flows.InputDigits) {
		s.SetInput(in)
		t.emit(flows.Event{Type: flows.EventMessageIn, Text: in.Text, Attachments: in.Attachments})
	}
	// Sorted, so the result_saved events come in the same order every run.
	// Most starts pass none: sorting no keys would still allocate.
	if len(p.Variables) > 0 {
		for _, name := range slices.Sorted(maps.Keys(p.Variables)) {
			t.saveResult(name, p.Variables[name], "", "", nil, "")
		}
	}
	t.enter(flow.StartWidget())
	return s, t.finish(), nil
}

// CallProblem reports why flow cannot start on a call, nil when it can:
// flows.Flow.CallProblem, with the subflows it can enter loaded from the
// engine's flow source, as a turn loads them.
func (e *Engine) CallProblem(ctx context.Context, flow *flows.Flow) error {
	return flow.CallProblem(ctx, e.source)
}

// MessageProblem reports why flow cannot start without a call, nil when it
// can: flows.Flow.MessageProblem, with the subflows it can enter loaded
// from the engine's flow source, as a turn loads them.
func (e *Engine) MessageProblem(ctx context.Context, flow *flows.Flow) error {
	return flow.MessageProblem(ctx, e.source)
}

// Resume continues a waiting session with an input. flow is the session's root
// flow at the session's revision; subflows are loaded from the engine's FlowSource.
func (e *Engine) Resume(ctx context.Context, flow *flows.Flow, s *flows.Session, in flows.Input) ([]flows.Event, error) {
	if s.Status.Ended() {
		return nil, fmt.Errorf("session %s: %w (%s)", s.ID, ErrEnded, s.Status)
	}
	if s.Wait == nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, ErrNotWaiting)
	}
	if flow.ID != s.FlowID {
		return nil, fmt.Errorf("session %s runs flow %q, not %q: %w", s.ID, s.FlowID, flow.ID, ErrWrongFlow)
	}
	t := e.newTurn(ctx, s, flow)
	defer t.close()
	if err := t.loadFrameFlow(); err != nil {
		top := s.Top()
		return nil, &SubflowError{FlowID: top.FlowID, Revision: top.Revision, Err: err}
	}
	if s.Wait.Ignores(in) {
		// Not an answer to this wait (text or keys while a recording is
		// waited for; a recording reported late, after the call moved
		// on, or sent to a wait for a message or digits): a warning, and
		// the session stays as it was, its update time too, which names
		// the wait a call's TwiML reports the timeout of.
		msg := fmt.Sprintf("a recording came while the session waits for %s: ignored", s.Wait.Kind)
		if s.Wait.Kind == flows.WaitRecording {
			msg = "this step waits for a recording of the caller: " + string(in.Kind) + " is not one, and is ignored"
		}
		t.emit(flows.Event{Type: flows.EventWarning, Widget: s.Wait.Widget, Message: msg})
		return append([]flows.Event(nil), t.events...), nil
	}
	switch in.Kind {
	case flows.InputText, flows.InputDigits:
		s.SetInput(&in)
		t.env = nil
		t.emit(flows.Event{Type: flows.EventMessageIn, Text: in.Text, Attachments: in.Attachments})
		if s.Call != nil && in.Kind == flows.InputDigits {
			s.Call.Digits = in.Text
		}
	case flows.InputRecording:
		if in.Recorded() {
			s.SetInput(&flows.Input{Text: strings.TrimSpace(in.Text)})
			t.env = nil
			t.emit(flows.Event{Type: flows.EventMessageIn, URL: s.Input, Data: in.RecordingData()})
		}
	case flows.InputHangup:
		if s.Call != nil && !flows.CallEnded(s.Call.State) {
			// The caller hung up and the telephony side reported no final
			// state of its own (busy, no-answer ...), which would be kept.
			s.Call.State = "completed"
		}
		t.end(flows.StatusInterrupted)
		return t.finish(), nil
	}
	wait := s.Wait
	w := t.flow.Widget(wait.Widget)
	if w == nil {
		t.fail(fmt.Sprintf("waiting widget %q is not in flow %q revision %d", wait.Widget, t.flow.ID, t.flow.Revision))
		return t.finish(), nil
	}
	r, ok := w.(flows.Resumer)
	if !ok {
		t.fail(fmt.Sprintf("widget %q (%s) cannot be resumed", wait.Widget, w.Base().Type))
		return t.finish(), nil
	}
	s.Status = flows.StatusActive
	t.widget, t.renderErr = w, nil
	out := t.settle(w, r.Resume(t, in))
	if out.Wait == nil {
		s.Wait = nil
	}
	t.follow(w, out)
	return t.finish(), nil
}

// Expire ends a waiting session because it received no input in time.
func (e *Engine) Expire(ctx context.Context, flow *flows.Flow, s *flows.Session) []flows.Event {
	t := e.newTurn(ctx, s, flow)
	defer t.close()
	if len(s.Frames) > 1 && !s.Status.Ended() {
		// A contact who goes quiet inside a subflow expires the subflow: the
		// caller resumes on its Expired exit, as RapidPro does.
		if err := t.loadFrameFlow(); err != nil {
			t.fail(err.Error())
			return t.finish()
		}
		s.Wait = nil
		t.frameDone(flows.StatusExpired)
		return t.finish()
	}
	t.end(flows.StatusExpired)
	return t.finish()
}

// Interrupt ends a session on request.
func (e *Engine) Interrupt(ctx context.Context, flow *flows.Flow, s *flows.Session) []flows.Event {
	t := e.newTurn(ctx, s, flow)
	defer t.close()
	t.end(flows.StatusInterrupted)
	return t.finish()
}

// turn is one run of the interpreter over a session. It implements flows.Run for
// the widget being executed.
type turn struct {
	e        *Engine
	parent   context.Context
	deadline time.Time
	ctx      context.Context // made by Context
	cancel   context.CancelFunc
	sess     *flows.Session
	root     *flows.Flow
	flow     *flows.Flow // the running frame's flow
	widget   flows.Widget
	events   []flows.Event
	steps    int
	now      time.Time
	env      map[string]any
	// tooLarge is set when the running widget produced a value over the
	// limit (see overLimit).
	tooLarge *valueTooLarge
	// renderErr is the first @(...) that failed in the running widget's
	// templates (see RenderFailed).
	renderErr error
	// run is the state of the expression being evaluated (see exprRun),
	// made by the turn's first.
	run *exprRun
	// scratch holds the events while the turn runs; finish copies them
	// into a slice of their exact length, and close returns it to
	// eventScratch. An event is 496 bytes and turns emit 2 to 8 of them, so
	// a fresh slice of room for 8 (3,968 bytes, cleared) per turn was most
	// of the bytes the engine allocated.
	scratch *[scratchEvents]flows.Event
}

// scratchEvents is how many events a turn collects before its events move
// to a slice of their own.
const scratchEvents = 16

var eventScratch = sync.Pool{New: func() any { return new([scratchEvents]flows.Event) }}

func (e *Engine) newTurn(ctx context.Context, s *flows.Session, root *flows.Flow) *turn {
	// Most turns call out to nothing: the deadline's context (and its timer)
	// is made when a widget or the flow source first asks for it.
	sc := eventScratch.Get().(*[scratchEvents]flows.Event)
	return &turn{e: e, parent: ctx, deadline: time.Now().Add(e.turnTimeout), sess: s, root: root, flow: root,
		now: e.clock(), scratch: sc, events: sc[:0:scratchEvents]}
}

// Context returns the turn's context, bounded by the turn timeout. Once the
// running widget has produced a value over the limit it is cancelled.
func (t *turn) Context() context.Context {
	if t.tooLarge != nil {
		return t.cancelledContext()
	}
	if t.ctx == nil {
		t.ctx, t.cancel = context.WithDeadlineCause(t.parent, t.deadline, flows.ErrTurnTimeout)
	}
	return t.ctx
}

// close releases the turn's context, if one was made, and its scratch.
func (t *turn) close() {
	if t.cancel != nil {
		t.cancel()
	}
	if sc := t.scratch; sc != nil {
		t.scratch = nil
		// Cleared, so the pool keeps no strings of this turn alive; only
		// the part the turn wrote (all of it if the events outgrew it).
		n := scratchEvents
		if t.inScratch() {
			n = len(t.events)
		}
		t.events = nil
		clear(sc[:n])
		eventScratch.Put(sc)
	}
}

// inScratch reports whether the turn's events are still in its scratch.
func (t *turn) inScratch() bool {
	return t.scratch != nil && cap(t.events) == scratchEvents && unsafe.SliceData(t.events) == &t.scratch[0]
}

// loadFrameFlow points the turn at the flow of the running frame.
func (t *turn) loadFrameFlow() error {
	top := t.sess.Top()
	if top == nil || len(t.sess.Frames) == 1 {
		t.flow = t.root
		return nil
	}
	f, err := t.loadFlow(top.FlowID, top.Revision)
	if err != nil {
		return err
	}
	t.flow = f
	return nil
}

func (t *turn) loadFlow(id string, rev int) (*flows.Flow, error) {
	if id == t.root.ID && (rev == 0 || rev == t.root.Revision) {
		return t.root, nil
	}
	if t.e.source == nil {
		return nil, fmt.Errorf("flow %q: no flow source configured", id)
	}
	return t.e.source.Flow(t.Context(), id, rev)
}

// enter runs widgets from id until the session waits or ends.
func (t *turn) enter(id string) {
	t.sess.Status = flows.StatusActive
	for id != "" {
		if t.sess.Status.Ended() {
			return
		}
		if err := t.overTime(); err != nil {
			t.fail(t.stopped(err.Error(), ""))
			return
		}
		t.steps++
		if t.steps > t.e.maxSteps {
			t.fail(t.stopped(fmt.Sprintf("the step budget of %d widgets in one turn (--max-steps) was used up", t.e.maxSteps), " (a loop with no wait?)"))
			return
		}
		w := t.flow.Widget(id)
		if w == nil {
			t.fail(fmt.Sprintf("widget %q not found in flow %q", id, t.flow.ID))
			return
		}
		t.widget, t.renderErr = w, nil
		t.sess.Top().Widget = id
		t.sess.Path = append(t.sess.Path, flows.Step{Widget: id, Flow: t.frameFlowID(), At: t.now})
		out := t.settle(w, w.Execute(t))
		id = t.next(w, out)
	}
	if !t.sess.Status.Ended() && t.sess.Wait == nil {
		t.frameDone(flows.StatusCompleted)
	}
}

// overTime is why the turn must stop before its next step: its deadline
// (ErrTurnTimeout) has passed, or its caller gave up. It makes no context,
// which most turns never need.
func (t *turn) overTime() error {
	if t.parent.Err() != nil {
		return context.Cause(t.parent)
	}
	if !time.Now().Before(t.deadline) {
		return flows.ErrTurnTimeout
	}
	return nil
}

// stopped says why the step loop stopped, after the widget that ran last:
// the error event names that one widget, as its widget field does.
func (t *turn) stopped(why, hint string) string {
	if t.widget == nil {
		return why + hint
	}
	return fmt.Sprintf("%s after widget %q%s", why, t.widget.Base().ID, hint)
}

func (t *turn) frameFlowID() string {
	if len(t.sess.Frames) == 1 {
		return ""
	}
	return t.flow.ID
}

// follow continues after a resumed widget's outcome.
func (t *turn) follow(w flows.Widget, out flows.Outcome) {
	if next := t.next(w, out); next != "" {
		t.enter(next)
		return
	}
	if !t.sess.Status.Ended() && t.sess.Wait == nil && t.sess.Status == flows.StatusActive {
		t.frameDone(flows.StatusCompleted)
	}
}

// next applies an outcome and returns the widget to run next ("" to stop).
func (t *turn) next(w flows.Widget, out flows.Outcome) string {
	switch {
	case out.End != "":
		t.end(out.End)
		return ""
	case out.Wait != nil:
		wait := out.Wait
		wait.Widget = w.Base().ID
		// However a widget came by it, a timeout over the most a flow may
		// set is that most, so the time it ends cannot wrap around.
		wait.Timeout = min(wait.Timeout, flows.MaxTimeoutSeconds)
		if wait.Timeout > 0 {
			// From when the session starts waiting, read now: the turn
			// may have spent seconds on webhooks since it started (t.now),
			// and the contact gets the whole timeout after the question.
			at := t.e.clock().Add(time.Duration(wait.Timeout) * time.Second)
			wait.TimeoutAt = &at
		} else {
			wait.TimeoutAt = nil
		}
		t.sess.Wait = wait
		t.sess.Status = flows.StatusWaiting
		t.emit(flows.Event{Type: flows.EventSessionWaiting, WaitKind: wait.Kind, Timeout: wait.Timeout})
		return ""
	case out.Subflow != nil:
		child, err := t.loadFlow(out.Subflow.FlowID, 0)
		if err != nil {
			t.fail(fmt.Sprintf("subflow %q: %v", out.Subflow.FlowID, err))
			return ""
		}
		if t.sess.Call != nil {
			// Checked at the start with the subflows then stored
			// (CallProblem); this one may have changed since, and a
			// messaging flow that cannot run on a call would keep the
			// caller waiting in silence.
			if err := child.OwnCallProblem(); err != nil {
				t.fail(fmt.Sprintf("subflow %q cannot run on this call: %v", child.ID, err))
				return ""
			}
		} else if err := child.OwnMessageProblem(); err != nil {
			// A session without a call (messages) entering a voice flow:
			// its say, play and gather_digits would reach no one. Checked
			// at the start too where the start is checked (MessageProblem);
			// a session a channel starts, or one started before the subflow
			// became a voice flow, is stopped here.
			t.fail(fmt.Sprintf("subflow %q cannot run without a call: %v", child.ID, err))
			return ""
		}
		t.sess.Top().Widget = w.Base().ID
		t.sess.Frames = append(t.sess.Frames, &flows.Frame{FlowID: child.ID, Revision: child.Revision})
		t.flow = child
		t.env = nil
		t.emit(flows.Event{Type: flows.EventFlowEntered, Name: child.Name})
		return child.StartWidget()
	}
	t.markExit(w.Base().ID, out.Exit)
	return w.Base().Next(out.Exit)
}

// markExit records the exit a widget took on its latest step. That step is not
// always the last one: a subflow widget takes its exit after the child flow's
// steps.
func (t *turn) markExit(id, exit string) {
	flow := t.frameFlowID()
	for i := len(t.sess.Path) - 1; i >= 0; i-- {
		if st := &t.sess.Path[i]; st.Widget == id && st.Flow == flow {
			st.Exit = exit
			return
		}
	}
}

// trimPath drops the oldest steps of a path longer than the engine's limit,
// once per turn, after its steps: markExit looks back for the steps of the
// turn. The steps kept go to a slice of their own, so the dropped ones (and
// the array that held them) are not kept alive by the session.
func (t *turn) trimPath() {
	s := t.sess
	drop := len(s.Path) - t.e.maxPath
	if drop <= 0 {
		return
	}
	s.Path = append(make([]flows.Step, 0, t.e.maxPath), s.Path[drop:]...)
	s.PathDropped += drop
}

// frameDone ends the running frame: a subflow returns to its caller, the root
// flow completes the session.
func (t *turn) frameDone(status flows.Status) {
	for len(t.sess.Frames) > 1 {
		child := t.sess.Frames[len(t.sess.Frames)-1]
		t.sess.Frames = t.sess.Frames[:len(t.sess.Frames)-1]
		parent := t.sess.Top()
		parent.Child = child.Results
		f, err := t.loadFlow(parent.FlowID, parent.Revision)
		if err != nil {
			t.fail(err.Error())
			return
		}
		t.flow = f
		t.env = nil
		w := f.Widget(parent.Widget)
		r, ok := w.(flows.Resumer)
		if !ok {
			t.fail(fmt.Sprintf("widget %q cannot resume after a subflow", parent.Widget))
			return
		}
		t.widget, t.renderErr = w, nil
		t.sess.Wait = nil
		out := t.settle(w, r.Resume(t, flows.Input{Kind: flows.InputSubflow, Status: status}))
		next := t.next(w, out)
		if next != "" {
			t.enter(next)
			return
		}
		if t.sess.Status.Ended() || t.sess.Wait != nil {
			return
		}
		// The subflow widget's exit ended the parent too: keep unwinding.
	}
	t.end(flows.StatusCompleted)
}

// end finishes the session with a final status.
func (t *turn) end(status flows.Status) {
	if t.sess.Status.Ended() {
		return
	}
	t.sess.Status = status
	t.sess.Wait = nil
	t.sess.ExpiresAt = nil
	at := t.now
	t.sess.EndedAt = &at
	if status == flows.StatusCompleted {
		t.emit(flows.Event{Type: flows.EventFlowCompleted})
	}
	t.emit(flows.Event{Type: flows.EventSessionEnded, SessionStatus: status})
}

func (t *turn) fail(msg string) {
	t.emit(flows.Event{Type: flows.EventError, Message: msg})
	t.end(flows.StatusFailed)
}

func (t *turn) warn(msg string) {
	t.emit(flows.Event{Type: flows.EventWarning, Message: msg})
}

// finish returns the turn's events, in a slice of their own: the scratch
// they were collected in goes back to the pool when the turn closes.
func (t *turn) finish() []flows.Event {
	t.sess.UpdatedAt = t.now
	t.trimPath()
	if !t.inScratch() {
		return t.events
	}
	return append(make([]flows.Event, 0, len(t.events)), t.events...)
}

func (t *turn) emit(ev flows.Event) {
	if t.tooLarge != nil {
		// The widget fails: what it did after its value went over the
		// limit is dropped (see overLimit).
		return
	}
	if ev.Time.IsZero() {
		ev.Time = t.now
	}
	if ev.Widget == "" && t.widget != nil {
		ev.Widget = t.widget.Base().ID
	}
	if ev.Flow == "" && len(t.sess.Frames) > 1 {
		ev.Flow = t.flow.ID
	}
	if ev.Type == flows.EventVariableSet {
		// A widget that changes the session itself rather than through
		// SetVariable (update_groups changes the contact's groups) says so
		// with this event: expressions after it must see the change.
		t.env = nil
	}
	t.events = append(t.events, ev)
}

// saveResult reports whether it saved the result (and emitted result_saved
// last): a name with no key is not saved.
func (t *turn) saveResult(name, value, category, input string, raw json.RawMessage, widget string) bool {
	key := flows.Key(name)
	if key == "" || t.tooLarge != nil {
		return false
	}
	top := t.sess.Top()
	if top.Results == nil {
		top.Results = map[string]*flows.Result{}
	}
	top.Results[key] = &flows.Result{Name: name, Value: value, Category: category, Input: input, Widget: widget, JSON: raw, At: t.now}
	t.env = nil
	t.emit(flows.Event{Type: flows.EventResultSaved, Name: name, Value: value, Category: category, Input: input})
	return true
}

// flows.Run implementation.

// DefaultCountry is the country has_phone reads numbers without a country
// code in: the running flow's, else the session's first flow's, else the
// engine's (rules.CountryDefaulter).
func (t *turn) DefaultCountry() string {
	return t.setting(func(env *flows.Environment) string { return env.DefaultCountry })
}

// DateFormat is the order the date rules read day, month and year in, found
// as DefaultCountry is (rules.DateFormatter).
func (t *turn) DateFormat() string {
	return t.setting(func(env *flows.Environment) string { return env.DateFormat })
}

func (t *turn) setting(get func(*flows.Environment) string) string {
	for _, f := range [...]*flows.Flow{t.flow, t.root} {
		if f != nil && f.Environment != nil {
			if v := get(f.Environment); v != "" {
				return v
			}
		}
	}
	return get(&t.e.environment)
}

func (t *turn) Session() *flows.Session         { return t.sess }
func (t *turn) Flow() *flows.Flow               { return t.flow }
func (t *turn) Now() time.Time                  { return t.now }
func (t *turn) Intn(n int) int                  { return t.e.intn(n) }
func (t *turn) Services() flows.Services        { return t.e.services }
func (t *turn) Flows() flows.FlowSource         { return t.e.source }
func (t *turn) Lookup(path string) (any, bool)  { return t.lookup(path) }
func (t *turn) Emit(ev flows.Event)             { t.emit(ev) }
func (t *turn) Render(tp flows.Template) string { return t.renderAny(tp, renderMode{}) }

// RenderExact writes inserted numbers with every digit they have.
func (t *turn) RenderExact(tp flows.Template) string {
	return t.renderAny(tp, renderMode{exact: true})
}

// RenderURL URL-encodes inserted values: as a path segment before the "?",
// as a query value after it. Numbers keep every digit.
func (t *turn) RenderURL(tp flows.Template) string {
	return t.renderAny(tp, renderMode{escape: urlEscape, exact: true})
}

// RenderForm renders a form body: inserted values are form-encoded
// (url.QueryEscape, a space as "+"), so that a value cannot add or replace
// a field. Numbers keep every digit.
func (t *turn) RenderForm(tp flows.Template) string {
	return t.renderAny(tp, renderMode{escape: formEscape, exact: true})
}

// RenderJSON renders a JSON body: a value inserted inside a string is
// escaped as its content, one outside a string is JSON (lists and maps as
// JSON, null or nothing as null, see jsonText). Numbers keep every digit: a
// webhook body passes on the numbers it is given.
func (t *turn) RenderJSON(tp flows.Template) string {
	return t.renderAny(tp, renderMode{escape: jsonEscape, exact: true, json: true})
}

// RenderFailed reports the first @(...) of the running widget's templates
// that failed; it is forgotten when the next widget starts.
func (t *turn) RenderFailed() error { return t.renderErr }

// runtimeKey is the key of a template compiled at run time.
type runtimeKey struct{ field, src string }

// CompileTemplate compiles text from outside the flow, caching by field and
// source.
func (t *turn) CompileTemplate(field, src string) (flows.Template, error) {
	key := runtimeKey{field, src}
	if c, ok := t.e.runtimeTemplates.Load(key); ok {
		return c.(*template), nil
	}
	c, err := t.e.compileTemplate(src)
	if err != nil {
		return nil, err
	}
	c.field = field
	if t.e.runtimeCount.Add(1) > maxRuntimeTemplates {
		t.e.runtimeTemplates.Clear()
		t.e.runtimeCount.Store(1)
	}
	t.e.runtimeTemplates.Store(key, c)
	return c, nil
}

func (t *turn) renderAny(tp flows.Template, mode renderMode) string {
	if tp == nil {
		return ""
	}
	c, ok := tp.(*template)
	if !ok {
		return tp.Source()
	}
	return t.render(c, mode)
}

func (t *turn) Eval(x flows.Expression) (any, error) {
	c, ok := x.(*expression)
	if !ok || c == nil {
		return nil, fmt.Errorf("expression was not compiled by this engine")
	}
	return t.evalExpr(c)
}

func (t *turn) SaveResult(name, value, category, input string, raw json.RawMessage) {
	id := ""
	if t.widget != nil {
		id = t.widget.Base().ID
	}
	t.saveResult(name, value, category, input, raw, id)
}

func (t *turn) SaveMatch(name, value, category, input string, extra map[string]string) {
	id := ""
	if t.widget != nil {
		id = t.widget.Base().ID
	}
	var raw json.RawMessage
	if len(extra) > 0 {
		// A map of strings always marshals, its keys in order.
		raw, _ = json.Marshal(extra)
	}
	if t.saveResult(name, value, category, input, raw, id) {
		t.events[len(t.events)-1].Data = raw
	}
}

func (t *turn) SetVariable(scope, name, value string) error {
	if t.tooLarge != nil {
		return nil // dropped: the widget fails (see overLimit)
	}
	if len(value) > t.e.maxValue {
		t.overLimit(&valueTooLarge{what: "the value to set", size: len(value), limit: t.e.maxValue})
		return nil
	}
	s := t.sess
	switch scope {
	case flows.ScopeFlow, "":
		// Saved as SaveResult saves a result: naming the widget that set it.
		id := ""
		if t.widget != nil {
			id = t.widget.Base().ID
		}
		t.saveResult(name, value, "", "", nil, id)
		return nil
	case flows.ScopeUser:
		// A contact field is stored under its key, as a result is ("Tier"
		// → tier), replacing a field stored before under another spelling
		// of the same key.
		key := flows.Key(name)
		if key == "" {
			return fmt.Errorf("$user.key.%s: %q has no letters or digits to make a field key", name, name)
		}
		if s.Contact.Fields == nil {
			s.Contact.Fields = map[string]string{}
		}
		old := flows.OldKey(name)
		for k := range s.Contact.Fields {
			if k != key && (flows.Key(k) == key || k == old) {
				delete(s.Contact.Fields, k)
			}
		}
		s.Contact.Fields[key] = value
		name = key
	case flows.ScopeCall:
		if s.Call == nil {
			return fmt.Errorf("$call.%s: this session has no call", name)
		}
		switch name {
		case "state":
			s.Call.State = value
		case "digits":
			s.Call.Digits = value
		default:
			return fmt.Errorf("$call.%s cannot be set (only state and digits)", name)
		}
	case flows.ScopeContact:
		switch name {
		case "name":
			s.Contact.Name = value
		case "language":
			value = flows.LanguageCode(value)
			s.Contact.Language = value
			s.Language = value
		default:
			return fmt.Errorf("contact.%s cannot be set (name, language; fields use the user scope)", name)
		}
	default:
		return fmt.Errorf("unknown variable scope %q (flow, user, call or contact)", scope)
	}
	t.env = nil
	t.emit(flows.Event{Type: flows.EventVariableSet, Scope: scope, Name: name, Value: value})
	return nil
}

func (t *turn) SetExtra(raw json.RawMessage) {
	if t.tooLarge != nil {
		return
	}
	t.sess.Extra = raw
	t.env = nil
}

var _ flows.Run = (*turn)(nil)
