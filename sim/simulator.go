package sim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// Library is an in-memory flows.FlowSource: the flows a simulation can enter
// as subflows, by id.
type Library struct {
	mu   sync.RWMutex
	byID map[string]*flows.Flow
	// broken holds the flows that did not load, by id, with why.
	broken map[string]error
}

// NewLibrary makes a library holding fs.
func NewLibrary(fs ...*flows.Flow) *Library {
	l := &Library{byID: map[string]*flows.Flow{}, broken: map[string]error{}}
	for _, f := range fs {
		l.Add(f)
	}
	return l
}

// Add puts a flow in the library under its id.
func (l *Library) Add(f *flows.Flow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID[f.ID] = f
	delete(l.broken, f.ID)
}

// AddBroken records a flow that did not load: entering it as a subflow fails
// with err rather than with "not loaded".
func (l *Library) AddBroken(id string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byID[id]; !ok {
		l.broken[id] = err
	}
}

// IDs are the ids of the flows the library holds, those that did not load
// included, in order.
func (l *Library) IDs() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ids := slices.Collect(maps.Keys(l.byID))
	for id := range l.broken {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Flow returns a flow by id (any revision: a library holds one of each).
func (l *Library) Flow(_ context.Context, id string, _ int) (*flows.Flow, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if f, ok := l.byID[id]; ok {
		return f, nil
	}
	if err, ok := l.broken[id]; ok {
		return nil, fmt.Errorf("flow %q did not load: %w", id, err)
	}
	return nil, fmt.Errorf("flow %q is not loaded", id)
}

// LoadSiblings loads the flow files in the folder of path, except path itself,
// into lib, so that the flow at path can enter them as subflows. Scripts
// (*.test.json), mocks files and JSON that is no flow document (no "widgets",
// such as a RapidPro export) are left out. A flow that does not load is
// recorded with its error (AddBroken), which a subflow entering it reports.
func LoadSiblings(e *engine.Engine, lib *Library, path string) {
	more, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.json"))
	for _, m := range more {
		if filepath.Clean(m) == filepath.Clean(path) || strings.HasSuffix(m, ".test.json") || strings.HasSuffix(m, "mocks.json") {
			continue
		}
		data, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		doc := gjson.ParseBytes(data)
		if gjson.ValidBytes(data) && !doc.Get("widgets").Exists() {
			continue
		}
		f, err := LoadFile(e, m)
		if err != nil {
			id := fileID(m)
			if x := doc.Get("id"); x.Type == gjson.String && x.Str != "" {
				id = x.Str
			}
			lib.AddBroken(id, fmt.Errorf("%s: %w", m, err))
			continue
		}
		lib.Add(f)
	}
}

// FileIDHint says, for a subflow id that no flow loaded beside path has,
// when the flow file named for it (ID.json in path's folder) is there with
// another id: `ratingz.json beside it has the id "rating": a subflow names
// a flow by its id, not its file name`, "" otherwise. A file named so is
// easily taken for the flow the id names.
func FileIDHint(path, id string) string {
	if id == "" || strings.ContainsAny(id, `/\`) {
		return ""
	}
	name := id + ".json"
	data, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
	if err != nil || !gjson.ValidBytes(data) {
		return ""
	}
	doc := gjson.ParseBytes(data)
	if !doc.Get("widgets").Exists() {
		return ""
	}
	got := doc.Get("id")
	if got.Type != gjson.String || got.Str == "" || got.Str == id {
		return ""
	}
	return fmt.Sprintf("%s beside it has the id %q: a subflow names a flow by its id, not its file name", name, got.Str)
}

// fileID is the id of a flow file whose flow has none: the file's base name,
// or the folder's for flow.json.
func fileID(path string) string {
	base := filepath.Base(path)
	if base == "flow.json" {
		base = filepath.Base(filepath.Dir(path))
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// LoadFile reads and validates a flow file. A flow without an id takes the
// file's base name.
func LoadFile(e *engine.Engine, path string) (*flows.Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := e.Load(data)
	if err != nil {
		return nil, err
	}
	if f.ID == "" {
		f.ID = fileID(path)
	}
	return f, nil
}

// DefaultURN is the simulated contact's URN when none is given, for parley
// simulate and test scripts alike; on a call its number is the caller's
// ($call.cli) unless a CLI is given.
const DefaultURN = "tel:+15555550100"

// Options describe the simulated contact and call.
type Options struct {
	Contact   flows.Contact
	Variables map[string]string
	// Call makes an IVR session: each input line is the digits pressed.
	Call bool
	CLI  string
	To   string
	// Environment defaults to sandbox: simulations never touch live data.
	Environment string
}

// Simulator drives one session line by line.
type Simulator struct {
	e    *engine.Engine
	flow *flows.Flow
	opts Options
	sess *flows.Session
}

// New makes a simulator for flow.
func New(e *engine.Engine, flow *flows.Flow, o Options) *Simulator {
	if o.Environment == "" {
		o.Environment = flows.EnvSandbox
	}
	// The contact's URN as the server keeps it (+1 555 010 0100 on tel:
	// as tel:+15550100100), so a flow sees what it would see live.
	o.Contact.URN = flows.NormalURN(o.Contact.URN)
	return &Simulator{e: e, flow: flow, opts: o}
}

// Session is the simulated session (nil before Start).
func (s *Simulator) Session() *flows.Session { return s.sess }

// Start starts the session and returns the first turn's events.
// now is the start of a call ($call.start), read in UTC as the engine
// reads its clock.
// A messaging flow started with Options.Call runs as a voice flow, and is
// refused, as POST /v1/sessions refuses it, when it does not pass a voice
// flow's checks (flows.Flow.CallProblem); so is a flow on a call, of
// either kind, that can enter a subflow of the engine's flow source that
// does not pass them. Without a call, a flow that can enter a voice
// subflow is refused (flows.Flow.MessageProblem).
func (s *Simulator) Start(ctx context.Context, now time.Time) ([]flows.Event, error) {
	if s.opts.Call || s.flow.IsVoice() {
		if err := s.e.CallProblem(ctx, s.flow); err != nil {
			return nil, err
		}
	} else if err := s.e.MessageProblem(ctx, s.flow); err != nil {
		return nil, err
	}
	p := engine.StartParams{Contact: s.opts.Contact, Variables: s.opts.Variables, Environment: s.opts.Environment}
	if s.opts.Call || s.flow.IsVoice() {
		cli := s.opts.CLI
		if cli == "" {
			cli = strings.TrimPrefix(s.opts.Contact.URN, "tel:")
		}
		p.Call = &flows.Call{ID: "sim-call", CLI: cli, To: s.opts.To, State: "in-progress", Start: flows.CallStart(now)}
	}
	sess, evs, err := s.e.Start(ctx, s.flow, p)
	s.sess = sess
	return evs, err
}

// ErrEnded is returned for input after the session has ended.
var ErrEnded = errors.New("the session has ended")

// Input sends one line: a message (or digits on a call), or a command:
// "/timeout" fires the wait's timeout, "/expire" expires the session (see
// Expire), "/hangup" ends the call, "/record
// URL [SECONDS]" gives a recording ("/record" alone: nothing recorded),
// "//x" sends "/x". While the session waits for a recording, a line is the
// recording's URL, and an empty line is nothing recorded.
func (s *Simulator) Input(ctx context.Context, line string) ([]flows.Event, error) {
	if s.sess == nil {
		return nil, errors.New("the session has not started")
	}
	if s.sess.Status.Ended() {
		return nil, ErrEnded
	}
	if cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " "); cmd == "/expire" {
		if strings.TrimSpace(arg) != "" {
			return nil, fmt.Errorf("/expire %s: /expire takes nothing after it", strings.TrimSpace(arg))
		}
		return s.Expire(ctx)
	}
	in, err := ParseInput(line, s.sess.Call != nil, WaitKind(s.sess))
	if err != nil {
		return nil, err
	}
	return s.e.Resume(ctx, s.flow, s.sess, in)
}

// Expire expires the waiting session as the server does when its expiry
// (the expire_minutes of the flow it waits in, or --session-expiry)
// passes with no input: the session ends as expired, or, waiting in a
// subflow, the subflow ends as expired and the flow that entered it runs
// on from its Expired exit.
func (s *Simulator) Expire(ctx context.Context) ([]flows.Event, error) {
	if s.sess == nil {
		return nil, errors.New("the session has not started")
	}
	if s.sess.Status.Ended() {
		return nil, ErrEnded
	}
	return s.e.Expire(ctx, s.flow, s.sess), nil
}

// WaitKind is the kind of what a session waits for ("" when it waits for
// nothing).
func WaitKind(sess *flows.Session) string {
	if sess == nil || sess.Wait == nil {
		return ""
	}
	return sess.Wait.Kind
}

// ParseLine turns a simulator input line into an input, for a session
// that does not wait for a recording.
func ParseLine(line string, call bool) (flows.Input, error) {
	return ParseInput(line, call, "")
}

// ParseInput turns a simulator input line into an input for a session
// waiting for wait (a flows.Wait kind): while it waits for a recording, a
// line that is no command is the recording's URL (an empty one: nothing
// recorded).
func ParseInput(line string, call bool, wait string) (flows.Input, error) {
	if strings.HasPrefix(line, "//") {
		line = line[1:]
	} else if strings.HasPrefix(line, "/") {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "/timeout":
			if arg == "" {
				return flows.Timeout(), nil
			}
		case "/hangup":
			if arg == "" {
				return flows.Hangup(), nil
			}
		case "/record":
			return parseRecord(arg)
		case "/attach", "/location":
			return attachLine(cmd, arg, call)
		}
		return flows.Input{}, fmt.Errorf("unknown command %q (/timeout, /expire, /hangup, /record URL [SECONDS], /attach CONTENT-TYPE:URL [TEXT], /location LAT,LNG [TEXT]; //text sends /text)", line)
	}
	switch {
	case wait == flows.WaitRecording:
		if !flows.RecordingURLOK(line) {
			return flows.Input{}, fmt.Errorf("%.80q is not a recording: this step waits for a recording, and a line here is its URL, an absolute http or https URL (or /record URL [SECONDS]; an empty line or /record alone when nothing was recorded)", strings.TrimSpace(line))
		}
		return flows.Recording(strings.TrimSpace(line), flows.DurationUnknown), nil
	case call:
		return flows.Digits(line), nil
	}
	return flows.Text(line), nil
}

// attachLine is the message of "/attach CONTENT-TYPE:URL [TEXT]" or
// "/location LAT,LNG [TEXT]": the attachment (a location as geo:LAT,LNG),
// with the text after it, if any.
func attachLine(cmd, arg string, call bool) (flows.Input, error) {
	if call {
		return flows.Input{}, fmt.Errorf("%s: a call takes digits, not attachments", cmd)
	}
	a, text, _ := strings.Cut(strings.TrimSpace(arg), " ")
	if a == "" {
		if cmd == "/location" {
			return flows.Input{}, fmt.Errorf("/location needs a latitude and longitude: /location -1.2921,36.8219 [TEXT]")
		}
		return flows.Input{}, fmt.Errorf("/attach needs an attachment: /attach image/jpeg:https://example.com/photo.jpg [TEXT]")
	}
	if cmd == "/location" {
		a = flows.GeoType + ":" + a
	}
	if p := flows.AttachmentProblem(a, flows.DefaultMaxAttachmentLength); p != "" {
		return flows.Input{}, fmt.Errorf("%s: attachment %s", cmd, p)
	}
	return flows.Input{Kind: flows.InputText, Text: strings.TrimSpace(text), Attachments: []string{a}}, nil
}

// parseRecord reads the arguments of /record: the recording's URL and,
// optionally, its length in seconds; none is nothing recorded. The URL is
// checked as the server checks a recording's (flows.RecordingURLOK).
func parseRecord(arg string) (flows.Input, error) {
	f := strings.Fields(arg)
	if len(f) > 0 && !flows.RecordingURLOK(f[0]) {
		return flows.Input{}, fmt.Errorf("/record %s: the recording's URL %.80q is not an absolute http or https URL: give the recording's URL (/record https://example.com/r.wav [SECONDS]), or /record alone when nothing was recorded", arg, f[0])
	}
	switch len(f) {
	case 0:
		return flows.Recording("", 0), nil
	case 1:
		return flows.Recording(f[0], flows.DurationUnknown), nil
	case 2:
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 0 {
			return flows.Input{}, fmt.Errorf("/record %s: the length %q is not a whole number of seconds (/record URL [SECONDS])", arg, f[1])
		}
		return flows.Recording(f[0], n), nil
	}
	return flows.Input{}, fmt.Errorf("/record %s: give the recording's URL and, optionally, its length in seconds (/record URL [SECONDS])", arg)
}

// Outputs returns what the contact would see or hear: message texts, spoken
// prompts and played audio, in order.
func Outputs(evs []flows.Event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Type {
		case flows.EventMessageOut:
			text := ev.Text
			for _, a := range ev.Attachments {
				if text != "" {
					text += " "
				}
				text += "[" + a + "]"
			}
			out = append(out, text)
		case flows.EventSay:
			out = append(out, ev.Text)
		case flows.EventPlay:
			out = append(out, "[play "+ev.URL+"]")
		}
	}
	return out
}

// WebhookNote says in one line what came of a webhook call, for people: the
// widget, the request, the status and outcome, and the reason a call got no
// answer, which the flow's Failure path does not show ("webhook lookup: POST
// http://x.test/order blocked — dial tcp ...: destination refused by the
// address guard ...", "... failure — no mock answers POST http://x.test/order").
// ev is a webhook_called event.
func WebhookNote(ev flows.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "webhook %s: %s %s", ev.Widget, ev.Method, ev.URL)
	if ev.Status != 0 {
		fmt.Fprintf(&b, " → %d", ev.Status)
	}
	b.WriteString(" " + ev.Outcome)
	if ev.Message != "" {
		b.WriteString(" — " + ev.Message)
	}
	return b.String()
}
