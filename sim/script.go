package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// Script is a scripted conversation: the flow, the contact, mocked webhooks,
// and what the contact sends and must receive at each turn.
//
//	{
//	  "flow": "../flow.json",
//	  "contact": {"name": "Ben", "urn": "tel:+12065551212"},
//	  "webhooks": "../webhooks.json",
//	  "mocks": {"http://example.com/order*": [{"status": 200, "body": {"status": "Shipped"}}]},
//	  "conversation": [
//	    {"expect": ["Send your order number"]},
//	    {"send": "CU001", "expect": ["Your order has shipped"]}
//	  ],
//	  "final_status": "completed",
//	  "results": {"order": {"value": "CU001", "category": "Valid"}}
//	}
type Script struct {
	Flow        string            `json:"flow"`
	Description string            `json:"description,omitempty"`
	Contact     flows.Contact     `json:"contact"`
	Variables   map[string]string `json:"variables,omitempty"`
	Call        bool              `json:"call,omitempty"`
	CLI         string            `json:"cli,omitempty"`
	// Webhooks is a file of configured webhooks (the format of parley serve
	// --webhooks), relative to the script, for widgets that name one
	// ("webhook": "crm"); mocks answer by the configured URL.
	Webhooks string                    `json:"webhooks,omitempty"`
	Mocks    map[string][]MockResponse `json:"mocks,omitempty"`
	// Conversation: the first turn may omit "send" (what the flow says first).
	Conversation []ScriptTurn              `json:"conversation"`
	FinalStatus  flows.Status              `json:"final_status,omitempty"`
	Results      map[string]ExpectedResult `json:"results,omitempty"`
	// Errors are the error events the flow is expected to raise (on its
	// Failure path), each given by a part of its message: each must be
	// raised, and an error event none of them matches still fails.
	Errors []string `json:"errors,omitempty"`
	// Seed fixes random choices.
	Seed uint64 `json:"seed,omitempty"`
}

// ScriptTurn is one line the contact sends (a message, digits, /timeout,
// /expire, /hangup) and the outputs expected in reply, exactly and in order.
type ScriptTurn struct {
	Send   *string  `json:"send,omitempty"`
	Expect []string `json:"expect"`
	// ExpectQuickReplies, when given, are the quick replies the contact is
	// offered after the turn, exactly and in order: those of the turn's
	// last message (QuickReplies); [] expects none.
	ExpectQuickReplies *[]string `json:"expect_quick_replies,omitempty"`
}

// ExpectedResult is a result's expected value and category ("" skips a check).
type ExpectedResult struct {
	Value    *string `json:"value,omitempty"`
	Category *string `json:"category,omitempty"`
}

// ScriptReport is the outcome of running one script.
type ScriptReport struct {
	Path     string
	Failures []string
	// Webhooks says what came of each webhook call, one line each (see
	// WebhookNote) after the turn's label: why a flow took its Failure
	// path, shown with the failures of a script that fails.
	Webhooks []string
}

// Passed reports whether every expectation held.
func (r *ScriptReport) Passed() bool { return len(r.Failures) == 0 }

// documentErrors are the problems of decoding a file as flows are decoded
// (flows.DecodeDocument): names match exactly, an unknown field is an
// error, and every problem is named by its JSON path and says what JSON was
// expected. what starts each problem; hint follows one about the whole
// document.
func documentErrors(what string, problems []*flows.FieldError, hint string) []error {
	errs := make([]error, len(problems))
	for i, fe := range problems {
		if fe.Path == "$" && hint != "" && !errors.Is(fe, flows.ErrSyntax) && !errors.Is(fe, flows.ErrMoreProblems) {
			errs[i] = fmt.Errorf("%s: %w %s", what, fe, hint)
			continue
		}
		errs[i] = fmt.Errorf("%s: %w", what, fe)
	}
	return errs
}

// whole reports whether a problem is about the whole document (not JSON,
// or not the JSON value expected), or ends a list cut short ("and more",
// "and perhaps more"): nothing of it, or not all of it, was read to check further, and
// what was not read would seem missing.
func whole(problems []*flows.FieldError) bool {
	for _, fe := range problems {
		if fe.Path == "$" {
			return true
		}
	}
	return false
}

// finalStatuses are the statuses a script's session can end a conversation in.
var finalStatuses = []flows.Status{flows.StatusWaiting, flows.StatusCompleted, flows.StatusExpired, flows.StatusFailed, flows.StatusInterrupted}

// ParseScript reads a script; unknown fields are errors. Every problem is
// reported: those of decoding, then those of what was read (a field that
// is missing, a mock that cannot answer), leaving out the values decoding
// could not read.
func ParseScript(data []byte) (*Script, error) {
	var s Script
	problems := flows.DecodeDocument(data, &s)
	errs := documentErrors("script", problems, "")
	if whole(problems) {
		return nil, errors.Join(errs...)
	}
	unread := func(path string) bool {
		for _, fe := range problems {
			if flows.Near(fe, path) {
				return true
			}
		}
		return false
	}
	if s.Flow == "" && !unread("flow") {
		errs = append(errs, fmt.Errorf("script: \"flow\" (the flow file, relative to the script) is missing"))
	}
	if len(s.Conversation) == 0 && !unread("conversation") {
		errs = append(errs, fmt.Errorf("script: \"conversation\" is empty"))
	}
	if s.FinalStatus != "" && !slices.Contains(finalStatuses, s.FinalStatus) {
		names := make([]string, len(finalStatuses))
		for i, st := range finalStatuses {
			names[i] = string(st)
		}
		hint := ""
		if near := flows.Suggestions(string(s.FinalStatus), names); len(near) > 0 {
			hint = ": did you mean " + flows.OrList(flows.Quoted(near)) + "?"
		}
		errs = append(errs, fmt.Errorf("script: final_status: %q is not a status a conversation ends in (%s)%s", s.FinalStatus, strings.Join(names, ", "), hint))
	}
	for i, e := range s.Errors {
		if strings.TrimSpace(e) == "" {
			errs = append(errs, fmt.Errorf("script: errors[%d]: an empty text would match any error: give a part of the message expected", i))
		}
	}
	if s.Contact.URN != "" {
		if p := flows.URNProblem(flows.NormalURN(s.Contact.URN)); p != "" {
			errs = append(errs, fmt.Errorf("script: contact.urn: the URN %q %s", s.Contact.URN, p))
		}
	}
	for _, err := range mockProblems(s.Mocks, "mocks", problems) {
		errs = append(errs, fmt.Errorf("script: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// ScriptOptions are the settings of a run of scripts that come from outside
// them: parley test's flags.
type ScriptOptions struct {
	// Webhooks are configured webhooks by name, added to those of the
	// script's "webhooks" file and taking the place of one of the same name.
	Webhooks map[string]*flows.WebhookConfig
	// Engine are options for the engine, such as its turn limits.
	Engine []engine.Option
}

// RunScript runs the script at path with the widget types in reg. Problems
// reading the script or loading its flow are errors; unmet expectations are
// failures in the report.
func RunScript(ctx context.Context, reg *flows.Registry, path string, opts ...engine.Option) (*ScriptReport, error) {
	return RunScriptWith(ctx, reg, path, ScriptOptions{Engine: opts})
}

// LoadWebhooks reads a file of configured webhooks as parley serve
// --webhooks does (callout.ParseConfigs), each problem on a line of its own
// naming the file: "webhooks file w.json: webhooks[0] \"crm\": url: required".
func LoadWebhooks(path string) (map[string]*flows.WebhookConfig, error) {
	return loadWebhooks(path, path)
}

// loadWebhooks is LoadWebhooks for the file read from path that a script
// names as written: its problems name it as written and, when that is not
// where it was read, by path too ("webhooks file ../w.json (read from
// w.json): ..."), so the name matches the script and the file can be found.
func loadWebhooks(written, path string) (map[string]*flows.WebhookConfig, error) {
	name := "webhooks file " + written
	if filepath.Clean(written) != path {
		name += " (read from " + path + ")"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // "open PATH: ..." would name the file twice
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfgs, err := callout.ParseConfigs(data)
	if err != nil {
		return nil, flows.EachNamed(name, err)
	}
	return cfgs, nil
}

// besideScript is the path of a file a script names: relative to the
// script's folder, or as it is when absolute.
func besideScript(script, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(script), name)
}

// RunScriptWith is RunScript with settings from outside the script.
func RunScriptWith(ctx context.Context, reg *flows.Registry, path string, o ScriptOptions) (*ScriptReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseScript(data)
	if err != nil {
		if doc := gjson.ParseBytes(data); doc.IsObject() && doc.Get("widgets").Exists() && !doc.Get("conversation").Exists() {
			// A flow given for its script: its fields are no script's.
			return nil, fmt.Errorf("%s is a flow, not a test script (a *.test.json with \"flow\" and \"conversation\"): give its scripts, or try it with parley simulate %s", path, path)
		}
		// Each problem names the file.
		return nil, flows.EachNamed(path, err)
	}
	mocks := NewMocks(s.Mocks)
	if s.Webhooks != "" {
		// Relative to the script, as its flow is.
		file := besideScript(path, s.Webhooks)
		cfgs, err := loadWebhooks(s.Webhooks, file)
		if err != nil {
			return nil, flows.EachNamed(path, err)
		}
		mocks.Configs = cfgs
	}
	if len(o.Webhooks) > 0 {
		if mocks.Configs == nil {
			mocks.Configs = map[string]*flows.WebhookConfig{}
		}
		maps.Copy(mocks.Configs, o.Webhooks)
	}
	opts := o.Engine
	lib := NewLibrary()
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	all := append([]engine.Option{
		engine.WithServices(Services{Hooks: mocks}), engine.WithFlows(lib), engine.WithSeed(s.Seed),
		engine.WithClock(func() time.Time { return clock }),
	}, opts...)
	e := engine.New(reg, all...)
	flowPath := besideScript(path, s.Flow)
	f, err := LoadFile(e, flowPath)
	if err != nil {
		return nil, fmt.Errorf("%s: flow %s: %w", path, flowPath, err)
	}
	// Sibling flows (for subflows) are loaded too.
	LoadSiblings(e, lib, flowPath)
	lib.Add(f)
	if s.Call || f.IsVoice() {
		// A messaging flow on a call is checked as a voice flow, and so
		// are the subflows a flow on a call can enter.
		if err := e.CallProblem(ctx, f); err != nil {
			return nil, fmt.Errorf("%s: flow %s: %w", path, flowPath, err)
		}
	} else if err := e.MessageProblem(ctx, f); err != nil {
		// Without a call no subflow it can enter may be a voice flow.
		return nil, fmt.Errorf("%s: flow %s: %w", path, flowPath, err)
	}
	rep := &ScriptReport{Path: path}
	// raised[i] is set when an error event matched s.Errors[i].
	raised := make([]bool, len(s.Errors))
	expected := func(msg string) bool {
		found := false
		for i, e := range s.Errors {
			if strings.Contains(msg, e) {
				raised[i], found = true, true
			}
		}
		return found
	}
	contact := s.Contact
	if contact.URN == "" {
		contact.URN = DefaultURN // as parley simulate's
	}
	sm := New(e, f, Options{Contact: contact, Variables: s.Variables, Call: s.Call, CLI: s.CLI})
	for i, turn := range s.Conversation {
		var evs []flows.Event
		label := fmt.Sprintf("turn %d", i+1)
		if turn.Send == nil {
			if i != 0 {
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s: only the first turn may omit \"send\"", label))
				break
			}
			evs, err = sm.Start(ctx, clock)
		} else {
			if i == 0 {
				// What the flow says first is not checked, but its errors are.
				start, err := sm.Start(ctx, clock)
				if err != nil {
					return nil, err
				}
				for _, ev := range start {
					switch ev.Type {
					case flows.EventError:
						if !expected(ev.Message) {
							rep.Failures = append(rep.Failures, fmt.Sprintf("start (before turn 1): error event: %s", ev.Message))
						}
					case flows.EventWebhookCalled:
						rep.Webhooks = append(rep.Webhooks, "start (before turn 1): "+WebhookNote(ev))
					}
				}
			}
			label = fmt.Sprintf("turn %d (send %q)", i+1, *turn.Send)
			evs, err = sm.Input(ctx, *turn.Send)
		}
		if err != nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %v", label, err))
			break
		}
		for _, ev := range evs {
			switch ev.Type {
			case flows.EventError:
				if !expected(ev.Message) {
					rep.Failures = append(rep.Failures, fmt.Sprintf("%s: error event: %s", label, ev.Message))
				}
			case flows.EventWebhookCalled:
				rep.Webhooks = append(rep.Webhooks, label+": "+WebhookNote(ev))
			}
		}
		got := Outputs(evs)
		if !equalStrings(got, turn.Expect) {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: expected %s, got %s", label, quoteAll(turn.Expect), quoteAll(got)))
		}
		if want := turn.ExpectQuickReplies; want != nil {
			if got := QuickReplies(evs); !equalStrings(got, *want) {
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s: expected quick replies %s, got %s", label, quoteAll(*want), quoteAll(got)))
			}
		}
	}
	for i, e := range s.Errors {
		if !raised[i] {
			rep.Failures = append(rep.Failures, fmt.Sprintf("errors[%d]: no error event contains %q", i, e))
		}
	}
	sess := sm.Session()
	if sess == nil {
		return rep, nil
	}
	if s.FinalStatus != "" && sess.Status != s.FinalStatus {
		rep.Failures = append(rep.Failures, fmt.Sprintf("final status: expected %s, got %s", s.FinalStatus, sess.Status))
	}
	// By name, so that the same failures read the same on every run.
	for _, name := range slices.Sorted(maps.Keys(s.Results)) {
		want := s.Results[name]
		key := flows.Key(name)
		got, ok := sess.Frames[0].Results[key]
		if !ok {
			if subflowSaved(sess, key) {
				rep.Failures = append(rep.Failures, fmt.Sprintf("result %q: not saved by the started flow (a subflow saved it: the started flow reads it as @child.%s)", name, key))
			} else {
				rep.Failures = append(rep.Failures, fmt.Sprintf("result %q: not saved", name))
			}
			continue
		}
		if want.Value != nil && got.Value != *want.Value {
			rep.Failures = append(rep.Failures, fmt.Sprintf("result %q: value %q, expected %q", name, got.Value, *want.Value))
		}
		if want.Category != nil && got.Category != *want.Category {
			rep.Failures = append(rep.Failures, fmt.Sprintf("result %q: category %q, expected %q", name, got.Category, *want.Category))
		}
	}
	return rep, nil
}

// subflowSaved reports whether a subflow of the session saved the result
// key: one still running, or the last one a frame ran (@child). A script's
// results are the started flow's own (@flow), so such a result is named as
// a subflow's rather than as missing.
func subflowSaved(sess *flows.Session, key string) bool {
	for i, f := range sess.Frames {
		if f == nil {
			continue
		}
		if _, ok := f.Child[key]; ok {
			return true
		}
		if _, ok := f.Results[key]; ok && i > 0 {
			return true
		}
	}
	return false
}

// QuickReplies are the quick replies a contact is offered after a turn of
// events: those of its last message, as a channel (and the web simulator)
// shows only the last message's; none when the turn sent no message.
func QuickReplies(evs []flows.Event) []string {
	var qr []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut {
			qr = ev.QuickReplies
		}
	}
	return qr
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func quoteAll(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
