package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

var clock0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// fixture is an engine with a fixed clock and seed, mocked webhooks and a
// library of flows for subflows.
type fixture struct {
	e     *engine.Engine
	lib   *sim.Library
	mocks *sim.Mocks
	now   time.Time
}

func newFixture(t testing.TB, mocks map[string][]sim.MockResponse, opts ...engine.Option) *fixture {
	t.Helper()
	fx := &fixture{lib: sim.NewLibrary(), mocks: sim.NewMocks(mocks), now: clock0}
	ids := 0
	all := append([]engine.Option{
		engine.WithClock(func() time.Time { return fx.now }),
		engine.WithIDs(func() string { ids++; return fmt.Sprintf("s%d", ids) }),
		engine.WithSeed(42),
		engine.WithServices(sim.Services{Hooks: fx.mocks}),
		engine.WithFlows(fx.lib),
	}, opts...)
	fx.e = engine.New(widgets.Registered(), all...)
	return fx
}

func (fx *fixture) load(t testing.TB, src string) *flows.Flow {
	t.Helper()
	f, err := fx.e.Load([]byte(src))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	fx.lib.Add(f)
	return f
}

func texts(evs []flows.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == flows.EventMessageOut || ev.Type == flows.EventSay {
			out = append(out, ev.Text)
		}
	}
	return out
}

func eventsOf(evs []flows.Event, typ string) []flows.Event {
	var out []flows.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// templateFlow calls a webhook, waits for an answer and then sends tmpl.
func templateFlow(tmpl string) string {
	q, _ := json.Marshal(tmpl)
	return `{"id": "tpl", "name": "Templates", "widgets": [
	  {"id": "lookup", "type": "webhook", "method": "GET", "url": "http://127.0.0.1:9/order", "exits": {"Success": "ask"}},
	  {"id": "ask", "type": "wait_for_response", "result": "Answer",
	   "rules": [{"type": "has_any_word", "args": ["hello"], "category": "Greeting"}], "exits": {"Greeting": "say", "Other": "say"}},
	  {"id": "say", "type": "send_message", "text": ` + string(q) + `, "exits": {"Next": ""}}]}`
}

var orderMock = map[string][]sim.MockResponse{
	"http://127.0.0.1:9/order*": {{Status: 200, Body: json.RawMessage(
		`{"order": {"id": "CU001", "items": [{"sku": "A-1"}, {"sku": "B-2"}]}, "total": 120.5, "note": "@flow.name @(1+1)"}`)}},
}

// renderTemplate runs templateFlow and returns the message and the warnings.
func renderTemplate(t *testing.T, tmpl, input string) (string, []string) {
	t.Helper()
	fx := newFixture(t, orderMock)
	f := fx.load(t, templateFlow(tmpl))
	s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{
		ID:        "sess-1",
		Contact:   flows.Contact{Name: "Ana Lima", URN: "tel:+5511999990000", Fields: map[string]string{"age": "33"}},
		Variables: map[string]string{"Name": "Ben", "Order Status": "Shipped"},
		Call:      &flows.Call{ID: "CA1", CLI: "+12065551212", Start: clock0},
		Channel:   &flows.Channel{ID: "ch-1", Name: "Main SMS"},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := fx.e.Resume(context.Background(), f, s, flows.Text(input))
	if err != nil {
		t.Fatal(err)
	}
	msgs := texts(evs)
	if len(msgs) != 1 {
		t.Fatalf("expected one message, got %q (events %+v)", msgs, evs)
	}
	var warnings []string
	for _, ev := range evs {
		switch ev.Type {
		case flows.EventWarning, flows.EventError:
			warnings = append(warnings, ev.Message)
		}
	}
	return msgs[0], warnings
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		name, tmpl, want string
		// warning is a substring of the one warning expected ("" for none).
		warning string
	}{
		{"flow result", "Hi @flow.name", "Hi Ben", ""},
		{"result key from a name with spaces", "@flow.order_status", "Shipped", ""},
		{"result category", "@flow.answer.category", "Greeting", ""},
		{"result input", "@flow.answer.input", "hello there", ""},
		{"result value", "@flow.answer.value / @flow.answer", "hello / hello", ""},
		{"extra nested", "@extra.order.id", "CU001", ""},
		{"extra array index", "@extra.order.items.1.sku", "B-2", ""},
		{"extra number", "@extra.total", "120.5", ""},
		{"step value and input", "@step.value|@input", "hello there|hello there", ""},
		{"contact fields", "@contact.fields.age", "33", ""},
		{"contact first name", "@contact.first_name", "Ana", ""},
		{"dollar flow key", "$flow.key.name", "Ben", ""},
		{"dollar user key", "$user.key.age", "33", ""},
		{"dollar call cli", "$call.cli = @call.cli", "+12065551212 = +12065551212", ""},
		{"session id", "@session.id", "sess-1", ""},
		{"channel", "@channel.name (@channel.id)", "Main SMS (ch-1)", ""},
		{"expression upper", "@(upper(flow.name.value))", "BEN", ""},
		{"expression comparison", "@(extra.total > 100)", "true", ""},
		{"expression comparison false", "@(number(contact.fields.age) < 18)", "false", ""},
		{"expression arithmetic", "@(1 + 1)", "2", ""},
		{"expression with parentheses and quotes", `@(upper("a)b") + (flow.name.value))`, "A)BBen", ""},
		{"expression custom function", "@(title(\"ana lima\")) @(word(input, 1))", "Ana Lima there", ""},
		{"word splits at punctuation as word_count counts", `@(word("bee.cat,dog", 1)) @(word("O'Grady, hi!", 0)) @(word("a b c", -1)) [@(word("a b", 2))] @(word_count("bee.cat,dog"))`, "cat O'Grady c [] 3", ""},
		{"word at the given delimiters", `@(word("bee.*cat,dog", 1, ".*=|")) @(word("a.b c", 0, " ")) @(word("a.b c", 0, ""))`, "cat,dog a.b a", ""},
		{"unknown flow variable", "[@flow.nope]", "[]", "unknown variable @flow.nope"},
		{"unknown user key", "[$user.key.nope]", "[]", "nope"},
		{"unknown extra path", "[@extra.order.nope]", "[]", "unknown variable @extra.order.nope"},
		{"typo in a contact field", "[@contact.nme]", "[]", "unknown variable @contact.nme"},
		{"e-mail address stays", "mail me@example.com", "mail me@example.com", ""},
		{"at-at is a literal at", "@@flow.name", "@flow.name", ""},
		{"lone at", "@ home @", "@ home @", ""},
		{"dollar amounts stay", "costs $5 or 5$ $flow", "costs $5 or 5$ $flow", ""},
		{"dollar-dollar before a variable is a literal dollar", "$$flow.key.name $$user.key.age $$call.cli $$flow.key.name.", "$flow.key.name $user.key.age $call.cli $flow.key.name.", ""},
		{"dollar-dollar elsewhere stays", "$$5 $$ $$flow $$$flow.key.name", "$$5 $$ $$flow $$flow.key.name", ""},
		{"trailing dot", "Hi @flow.name.", "Hi Ben.", ""},
		{"trailing comma and bang", "@flow.name, @flow.name!", "Ben, Ben!", ""},
		{"parentheses around", "(@flow.name)", "(Ben)", ""},
		{"trailing hyphen", "@flow.name-", "Ben-", ""},
		{"file extension after a variable", "https://x.test/@flow.name.png", "https://x.test/Ben.png", ""},
		{"extension after input", "@input.txt", "hello there.txt", ""},
		{"webhook text is not evaluated", "@extra.note", "@flow.name @(1+1)", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings := renderTemplate(t, tc.tmpl, "hello there")
			if got != tc.want {
				t.Errorf("%s rendered %q, want %q", tc.tmpl, got, tc.want)
			}
			switch {
			case tc.warning == "" && len(warnings) > 0:
				t.Errorf("unexpected warnings %q", warnings)
			case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning)):
				t.Errorf("warnings %q, want one containing %q", warnings, tc.warning)
			}
		})
	}
}

// TestContactTextNotEvaluated: what a contact sends is inserted as is, however
// much it looks like a template.
func TestContactTextNotEvaluated(t *testing.T) {
	for _, input := range []string{"@flow.name", "@(1+1)", "$flow.key.name", "@(upper(flow.name.value))", "@@", "@extra.order.id"} {
		t.Run(input, func(t *testing.T) {
			got, warnings := renderTemplate(t, "<@input|@flow.answer.input|@(input)>", input)
			want := "<" + input + "|" + input + "|" + input + ">"
			if got != want || len(warnings) > 0 {
				t.Errorf("got %q (warnings %q), want %q", got, warnings, want)
			}
		})
	}
}

func TestTemplateCompileErrors(t *testing.T) {
	tests := []struct{ name, tmpl, want string }{
		{"unclosed expression", "Hi @(upper(flow.name.value)", "unclosed @( expression"},
		{"bad expression", "Total @(1 +)", "bad expression"},
		{"empty expression", "@()", "empty expression"},
		{"unknown function", "Hi @(nosuchfn(1))", `bad expression "nosuchfn(1)": unknown function nosuchfn (1:1)`},
		{"misspelt function", "Hi @(uper(input))", "unknown function uper (did you mean upper?)"},
		{"unknown function in a pipe", "@(input | trim() | xyzzy())", "unknown function xyzzy (1:18)"},
		{"unknown function in a dropped branch", "@(false && uper(input))", "unknown function uper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			_, err := fx.e.Load([]byte(templateFlow(tc.tmpl)))
			if err == nil {
				t.Fatal("the flow loaded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `widget "say": widgets[2].text`) {
				t.Errorf("error %q should name widget \"say\", its text field and %q", err, tc.want)
			}
		})
	}
}

// TestExpressionNamesThatCompile: undefined variables compile (they are nil
// until set), and so do calls of every builtin and extra function.
func TestExpressionNamesThatCompile(t *testing.T) {
	fx := newFixture(t, nil)
	for _, src := range []string{
		"@(flow.not_yet.value)", "@(nosuchvar)", "@(upper(nosuchvar))", "@(title(input) + first_word(input))",
		"@(input | trim() | upper())", "@(len(word_slice(input, 1)))", "@(now().Year())", "@(flow.x.method(1))",
	} {
		if _, err := fx.e.Load([]byte(templateFlow(src))); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

const loopFlow = `{"id": "loop", "name": "Loop", "widgets": [
  {"id": "a", "type": "set_variable", "name": "n", "expression": "int(default(flow.n.value, 0)) + 1", "exits": {"Next": "b"}},
  {"id": "b", "type": "split", "operand": "@flow.n", "rules": [{"type": "has_text", "category": "Any"}], "exits": {"Any": "a", "Other": "a"}}]}`

func TestStepBudget(t *testing.T) {
	tests := []struct {
		name  string
		opts  []engine.Option
		steps int
	}{
		{"default", nil, engine.DefaultMaxSteps},
		{"WithMaxSteps", []engine.Option{engine.WithMaxSteps(10)}, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil, tc.opts...)
			f := fx.load(t, loopFlow)
			s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != flows.StatusFailed {
				t.Errorf("status %s, want failed", s.Status)
			}
			if len(s.Path) != tc.steps {
				t.Errorf("ran %d widgets, want %d", len(s.Path), tc.steps)
			}
			errs := eventsOf(evs, flows.EventError)
			// One widget named, the one that ran last, as the event's widget.
			want := fmt.Sprintf(`the step budget of %d widgets in one turn (--max-steps) was used up after widget "b" (a loop with no wait?)`, tc.steps)
			if len(errs) != 1 || errs[0].Message != want || errs[0].Widget != "b" {
				t.Errorf("error events %+v, want one at b: %s", errs, want)
			}
			if got := s.Frames[0].Results["n"].Value; got != fmt.Sprint(tc.steps/2) {
				t.Errorf("n = %s after the loop, want %d", got, tc.steps/2)
			}
			last := evs[len(evs)-1]
			if last.Type != flows.EventSessionEnded || last.SessionStatus != flows.StatusFailed {
				t.Errorf("last event %+v, want session_ended failed", last)
			}
		})
	}
}

// A budget applies per turn: a flow that waits in its loop runs forever.
func TestStepBudgetIsPerTurn(t *testing.T) {
	fx := newFixture(t, nil, engine.WithMaxSteps(5))
	f := fx.load(t, `{"id": "w", "name": "w", "widgets": [
	  {"id": "a", "type": "send_message", "text": "again", "exits": {"Next": "b"}},
	  {"id": "b", "type": "wait_for_response", "exits": {"Next": "a"}}]}`)
	s, _, _ := fx.e.Start(context.Background(), f, engine.StartParams{})
	for i := range 10 {
		if _, err := fx.e.Resume(context.Background(), f, s, flows.Text("x")); err != nil {
			t.Fatalf("turn %d: %v", i, err)
		}
	}
	if s.Status != flows.StatusWaiting {
		t.Errorf("status %s after 10 turns, want waiting", s.Status)
	}
}

// A session's path keeps its latest steps, as many as the engine's limit:
// each turn that leaves it longer drops the oldest and counts them, so a
// conversation that loops for long is not stored larger at every turn. The
// steps kept are the newest, in order, their exits marked, the wait's
// included once the contact answers.
func TestPathKeepsLatestSteps(t *testing.T) {
	const echo = `{"id": "echo", "name": "Echo", "widgets": [
	  {"id": "a1", "type": "send_message", "text": "one", "exits": {"Next": "a2"}},
	  {"id": "a2", "type": "send_message", "text": "two", "exits": {"Next": "b"}},
	  {"id": "b", "type": "wait_for_response", "exits": {"Next": "a1"}}]}`
	tests := []struct {
		name  string
		opts  []engine.Option
		keep  int
		turns int
	}{
		{"default", nil, engine.DefaultMaxPath, 200},
		{"WithMaxPath", []engine.Option{engine.WithMaxPath(5)}, 5, 10},
		{"WithMaxPath(0) keeps the default", []engine.Option{engine.WithMaxPath(0)}, engine.DefaultMaxPath, 200},
		// Fewer than one turn's steps: the wait of the turn before is
		// dropped the turn its exit is marked.
		{"less than a turn", []engine.Option{engine.WithMaxPath(2)}, 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil, tc.opts...)
			f := fx.load(t, echo)
			s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if want := min(3, tc.keep); len(s.Path) != want || s.PathDropped != 3-want {
				t.Fatalf("after the start: %d steps, %d dropped; want %d, %d", len(s.Path), s.PathDropped, want, 3-want)
			}
			for i := 1; i <= tc.turns; i++ {
				fx.now = clock0.Add(time.Duration(i) * time.Minute)
				if _, err := fx.e.Resume(context.Background(), f, s, flows.Text("x")); err != nil {
					t.Fatalf("turn %d: %v", i, err)
				}
			}
			// Every turn visits a1, a2 and b, at the turn's minute.
			total := 3 * (tc.turns + 1)
			if len(s.Path) != tc.keep || s.PathDropped != total-tc.keep {
				t.Fatalf("%d steps kept and %d dropped, want %d and %d", len(s.Path), s.PathDropped, tc.keep, total-tc.keep)
			}
			widgets := []string{"a1", "a2", "b"}
			for i, st := range s.Path {
				n := total - tc.keep + i // the step's place in the whole path
				want := flows.Step{Widget: widgets[n%3], Exit: "Next", At: clock0.Add(time.Duration(n/3) * time.Minute)}
				if n == total-1 {
					want.Exit = "" // the wait, not answered yet
				}
				if st != want {
					t.Errorf("path[%d] = %+v, want %+v", i, st, want)
				}
			}
		})
	}
}

// conversationFlows: a root flow that asks a question, calls a webhook, then
// runs a subflow that waits too.
const (
	rootFlow = `{"id": "root", "name": "Root", "widgets": [
	  {"id": "ask", "type": "send_message", "text": "Order number?", "exits": {"Next": "order"}},
	  {"id": "order", "type": "wait_for_response", "result": "Order", "timeout": 600, "exits": {"Next": "lookup", "Timeout": ""}},
	  {"id": "lookup", "type": "webhook", "method": "GET", "url": "http://127.0.0.1:9/order?id=@flow.order", "exits": {"Success": "pick", "Failure": ""}},
	  {"id": "pick", "type": "random", "buckets": ["A", "B"], "result": "Variant", "exits": {"A": "survey", "B": "survey"}},
	  {"id": "survey", "type": "subflow", "flow": "survey", "exits": {"Complete": "bye"}},
	  {"id": "bye", "type": "send_message", "text": "Thanks, order @extra.order.id rated @child.rating (@flow.variant)", "exits": {"Next": ""}}]}`
	surveyFlow = `{"id": "survey", "name": "Survey", "widgets": [
	  {"id": "q", "type": "send_message", "text": "Rate order @parent.order from 1 to 5", "exits": {"Next": "rating"}},
	  {"id": "rating", "type": "wait_for_response", "result": "Rating",
	   "rules": [{"type": "has_number_between", "args": ["1", "5"], "category": "Valid"}], "exits": {"Valid": "", "Other": "q"}}]}`
)

func startConversation(t *testing.T, fx *fixture) (*flows.Flow, *flows.Session, []flows.Event) {
	t.Helper()
	fx.load(t, surveyFlow)
	f := fx.load(t, rootFlow)
	s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{
		Contact:   flows.Contact{Name: "Ana", URN: "tel:+1555", Fields: map[string]string{"tier": "gold"}},
		Variables: map[string]string{"source": "sms", "campaign": "spring", "agent": "bot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, s, evs
}

// roundTrip stores a session as JSON and reads it back, as a server does
// between turns.
func roundTrip(t *testing.T, s *flows.Session) *flows.Session {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back flows.Session
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != string(data) {
		t.Fatalf("session JSON changed in a round trip:\n%s\n%s", data, again)
	}
	return &back
}

func TestSessionResumesInANewProcess(t *testing.T) {
	inputs := []string{"CU001", "nine", "4"}
	// In one process.
	fx := newFixture(t, orderMock)
	f, s, first := startConversation(t, fx)
	var want [][]flows.Event
	want = append(want, first)
	for _, in := range inputs {
		fx.now = fx.now.Add(time.Minute)
		evs, err := fx.e.Resume(context.Background(), f, s, flows.Text(in))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, evs)
	}
	if s.Status != flows.StatusCompleted {
		t.Fatalf("status %s, want completed", s.Status)
	}
	if got := texts(want[len(want)-1]); len(got) != 1 || got[0] != "Thanks, order CU001 rated 4 (A)" {
		t.Errorf("last message %q", got)
	}

	// Every turn in a new engine, from the session's JSON.
	fx2 := newFixture(t, orderMock)
	_, s2, first2 := startConversation(t, fx2)
	got := [][]flows.Event{first2}
	for _, in := range inputs {
		stored := roundTrip(t, s2)
		fx3 := newFixture(t, orderMock)
		fx3.now = fx2.now.Add(time.Minute)
		fx3.load(t, surveyFlow)
		f3 := fx3.load(t, rootFlow)
		evs, err := fx3.e.Resume(context.Background(), f3, stored, flows.Text(in))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, evs)
		s2, fx2 = stored, fx3
	}
	if s2.Status != flows.StatusCompleted {
		t.Errorf("status after resuming from JSON %s, want completed", s2.Status)
	}
	for i := range want {
		a, b := eventsJSON(want[i]), eventsJSON(got[i])
		if a != b {
			t.Errorf("turn %d differs after a JSON round trip:\nsame process: %s\nnew process:  %s", i, a, b)
		}
	}
}

func eventsJSON(evs []flows.Event) string {
	b, _ := json.Marshal(evs)
	return string(b)
}

func TestSessionJSONKeepsWaitAndFrames(t *testing.T) {
	fx := newFixture(t, orderMock)
	f, s, _ := startConversation(t, fx)
	if _, err := fx.e.Resume(context.Background(), f, s, flows.Text("CU001")); err != nil {
		t.Fatal(err)
	}
	back := roundTrip(t, s)
	if back.Status != flows.StatusWaiting || back.Wait == nil || back.Wait.Widget != "rating" {
		t.Fatalf("stored session is not waiting at rating: %+v", back.Wait)
	}
	if len(back.Frames) != 2 || back.Frames[1].FlowID != "survey" || back.Frames[0].Widget != "survey" {
		t.Errorf("frames %+v, want root at the survey widget and the survey flow on top", back.Frames)
	}
	var extra bytes.Buffer
	_ = json.Compact(&extra, s.Extra)
	if string(back.Extra) != extra.String() || back.Frames[0].Results["order"].Value != "CU001" {
		t.Errorf("extra or results lost: %s %+v", back.Extra, back.Frames[0].Results)
	}
	if back.Contact.Fields["tier"] != "gold" {
		t.Errorf("contact fields lost: %+v", back.Contact)
	}
}

func TestWaitTimeout(t *testing.T) {
	fx := newFixture(t, orderMock)
	_, s, evs := startConversation(t, fx)
	if s.Wait == nil || s.Wait.TimeoutAt == nil || !s.Wait.TimeoutAt.Equal(clock0.Add(600*time.Second)) {
		t.Fatalf("wait %+v, want a timeout at %s", s.Wait, clock0.Add(600*time.Second))
	}
	w := eventsOf(evs, flows.EventSessionWaiting)
	if len(w) != 1 || w[0].Timeout != 600 || w[0].WaitKind != flows.WaitMessage {
		t.Errorf("session_waiting events %+v", w)
	}
}

func TestResumeErrors(t *testing.T) {
	fx := newFixture(t, orderMock)
	f, s, _ := startConversation(t, fx)
	// Not waiting: a session that is running (as a store might hand out).
	running := roundTrip(t, s)
	running.Wait = nil
	running.Status = flows.StatusActive
	if _, err := fx.e.Resume(context.Background(), f, running, flows.Text("x")); !errors.Is(err, engine.ErrNotWaiting) {
		t.Errorf("resume without a wait: %v, want ErrNotWaiting", err)
	}
	// Another flow.
	other := fx.load(t, `{"id": "other", "name": "Other", "widgets": [{"id": "order", "type": "wait_for_response", "exits": {}}]}`)
	if _, err := fx.e.Resume(context.Background(), other, s, flows.Text("x")); !errors.Is(err, engine.ErrWrongFlow) || s.Status != flows.StatusWaiting {
		t.Errorf("resume with another flow: %v (status %s), want ErrWrongFlow and the session unchanged", err, s.Status)
	}
	// Ended.
	fx.e.Interrupt(context.Background(), f, s)
	before, _ := json.Marshal(s)
	evs, err := fx.e.Resume(context.Background(), f, s, flows.Text("x"))
	if !errors.Is(err, engine.ErrEnded) || evs != nil {
		t.Errorf("resume after the end: %v %v, want ErrEnded and no events", err, evs)
	}
	if !strings.Contains(fmt.Sprint(err), "interrupted") {
		t.Errorf("error %q should say how the session ended", err)
	}
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Error("a refused resume changed the session")
	}
}

func TestExpireAndInterrupt(t *testing.T) {
	tests := []struct {
		name string
		end  func(*engine.Engine, *flows.Flow, *flows.Session) []flows.Event
		want flows.Status
	}{
		{"expire", func(e *engine.Engine, f *flows.Flow, s *flows.Session) []flows.Event {
			return e.Expire(context.Background(), f, s)
		}, flows.StatusExpired},
		{"interrupt", func(e *engine.Engine, f *flows.Flow, s *flows.Session) []flows.Event {
			return e.Interrupt(context.Background(), f, s)
		}, flows.StatusInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, orderMock)
			f, s, _ := startConversation(t, fx)
			fx.now = clock0.Add(time.Hour)
			evs := tc.end(fx.e, f, s)
			if s.Status != tc.want || s.Wait != nil || s.EndedAt == nil || !s.EndedAt.Equal(fx.now) {
				t.Errorf("session status %s wait %+v ended %v", s.Status, s.Wait, s.EndedAt)
			}
			if len(evs) != 1 || evs[0].Type != flows.EventSessionEnded || evs[0].SessionStatus != tc.want {
				t.Errorf("events %+v, want one session_ended %s", evs, tc.want)
			}
			if again := tc.end(fx.e, f, s); len(again) != 0 || s.Status != tc.want {
				t.Errorf("ending twice gave %+v and status %s", again, s.Status)
			}
			if _, err := fx.e.Resume(context.Background(), f, s, flows.Text("x")); !errors.Is(err, engine.ErrEnded) {
				t.Errorf("resume after %s: %v", tc.name, err)
			}
		})
	}
}

func TestHangupInput(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "ivr", "name": "IVR", "kind": "voice", "widgets": [
	  {"id": "menu", "type": "gather_digits", "prompt": "Press 1", "exits": {"Next": ""}}]}`)
	// The state before the hang-up: a final one the telephony side reported
	// is kept, any other becomes "completed".
	for _, c := range []struct{ before, after string }{
		{"in-progress", "completed"},
		{"ringing", "completed"},
		{"", "completed"},
		{"completed", "completed"},
		{"busy", "busy"},
		{"no-answer", "no-answer"},
		{"failed", "failed"},
		{"canceled", "canceled"},
	} {
		s, _, _ := fx.e.Start(context.Background(), f, engine.StartParams{Call: &flows.Call{CLI: "+1555", State: "in-progress"}})
		s.Call.State = c.before
		evs, err := fx.e.Resume(context.Background(), f, s, flows.Hangup())
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != flows.StatusInterrupted || s.Call.State != c.after {
			t.Errorf("hang-up in state %q: status %s call state %q, want interrupted and %q", c.before, s.Status, s.Call.State, c.after)
		}
		if len(evs) != 1 || evs[0].SessionStatus != flows.StatusInterrupted {
			t.Errorf("events %+v", evs)
		}
	}
}

func TestSubflows(t *testing.T) {
	fx := newFixture(t, nil)
	fx.load(t, `{"id": "inner", "name": "Inner", "widgets": [
	  {"id": "i1", "type": "send_message", "text": "inner sees @parent.level and not @flow.level", "exits": {"Next": "i2"}},
	  {"id": "i2", "type": "wait_for_response", "result": "word", "exits": {"Next": ""}}]}`)
	fx.load(t, `{"id": "middle", "name": "Middle", "widgets": [
	  {"id": "m0", "type": "set_variable", "name": "level", "value": "middle", "exits": {"Next": "m1"}},
	  {"id": "m1", "type": "subflow", "flow": "inner", "exits": {"Complete": "m2"}},
	  {"id": "m2", "type": "set_variable", "name": "got", "value": "@child.word", "exits": {"Next": ""}}]}`)
	f := fx.load(t, `{"id": "outer", "name": "Outer", "widgets": [
	  {"id": "o0", "type": "set_variable", "name": "level", "value": "outer", "exits": {"Next": "o1"}},
	  {"id": "o1", "type": "subflow", "flow": "middle", "exits": {"Complete": "o2"}},
	  {"id": "o2", "type": "send_message", "text": "outer got @child.got; level @flow.level", "exits": {"Next": ""}}]}`)
	s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "inner sees middle and not " {
		t.Errorf("inner message %q", got)
	}
	if len(s.Frames) != 3 || s.Top().FlowID != "inner" {
		t.Fatalf("frames %+v, want outer, middle, inner", s.Frames)
	}
	s = roundTrip(t, s)
	evs, err = fx.e.Resume(context.Background(), f, s, flows.Text("deep"))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "outer got deep; level outer" {
		t.Errorf("outer message %q", got)
	}
	if s.Status != flows.StatusCompleted || len(s.Frames) != 1 {
		t.Errorf("status %s with %d frames, want completed with the root only", s.Status, len(s.Frames))
	}
	// Events in a subflow name it; the root's do not.
	for _, ev := range evs {
		if ev.Type == flows.EventMessageIn && ev.Flow != "inner" {
			t.Errorf("message_in flow %q, want inner", ev.Flow)
		}
		if ev.Type == flows.EventMessageOut && ev.Flow != "" {
			t.Errorf("root message has flow %q", ev.Flow)
		}
	}
	// Each subflow widget records the Complete exit on its own step.
	exits := map[string]string{}
	for _, st := range s.Path {
		exits[st.Flow+"/"+st.Widget] = st.Exit
	}
	for step, want := range map[string]string{"/o1": "Complete", "middle/m1": "Complete", "inner/i2": "Next", "middle/m2": "Next"} {
		if exits[step] != want {
			t.Errorf("step %s exit %q, want %q (path %+v)", step, exits[step], want, s.Path)
		}
	}
}

func TestSubflowNotLoadedFails(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "a", "name": "a", "widgets": [{"id": "s", "type": "subflow", "flow": "nope", "exits": {}}]}`)
	s, evs, _ := fx.e.Start(context.Background(), f, engine.StartParams{})
	errs := eventsOf(evs, flows.EventError)
	if s.Status != flows.StatusFailed || len(errs) != 1 || !strings.Contains(errs[0].Message, `"nope"`) {
		t.Errorf("status %s errors %+v, want failed naming the flow", s.Status, errs)
	}
}

// TestDeterminism: the same seed, clock and inputs give the same events and
// the same session, byte for byte.
func TestDeterminism(t *testing.T) {
	run := func() (string, string) {
		fx := newFixture(t, orderMock)
		f, s, evs := startConversation(t, fx)
		all := [][]flows.Event{evs}
		for _, in := range []string{"CU001", "7", "3"} {
			fx.now = fx.now.Add(time.Minute)
			evs, err := fx.e.Resume(context.Background(), f, s, flows.Text(in))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, evs)
		}
		a, _ := json.Marshal(all)
		b, _ := json.Marshal(s)
		return string(a), string(b)
	}
	evs1, sess1 := run()
	for i := range 5 {
		evs2, sess2 := run()
		if evs1 != evs2 {
			t.Fatalf("run %d: events differ:\n%s\n%s", i, evs1, evs2)
		}
		if sess1 != sess2 {
			t.Fatalf("run %d: sessions differ:\n%s\n%s", i, sess1, sess2)
		}
	}
}

// TestRandomSeed: the seed decides the picks, and different seeds differ.
func TestRandomSeed(t *testing.T) {
	flow := `{"id": "r", "name": "r", "widgets": [
	  {"id": "pick", "type": "random", "buckets": ["A", "B", "C", "D"], "exits": {"A": "w", "B": "w", "C": "w", "D": "w"}},
	  {"id": "w", "type": "wait_for_response", "exits": {"Next": "pick"}}]}`
	picks := func(seed uint64) string {
		fx := newFixture(t, nil, engine.WithSeed(seed))
		f := fx.load(t, flow)
		s, _, _ := fx.e.Start(context.Background(), f, engine.StartParams{})
		for range 15 {
			_, _ = fx.e.Resume(context.Background(), f, s, flows.Text("x"))
		}
		var b strings.Builder
		for _, st := range s.Path {
			if st.Widget == "pick" {
				b.WriteString(st.Exit)
			}
		}
		return b.String()
	}
	a, b, c := picks(1), picks(1), picks(2)
	if a != b {
		t.Errorf("seed 1 picked %s then %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both picked %s", a)
	}
	if len(a) != 16 {
		t.Errorf("picked %d times, want 16", len(a))
	}
}

// TestRandomFunctionsSeed: rand() and randbetween() draw from the engine's
// source, so a seed (parley test's, simulate --seed) repeats them too.
func TestRandomFunctionsSeed(t *testing.T) {
	flow := `{"id": "r", "name": "r", "widgets": [
	  {"id": "m", "type": "send_message", "text": "@(randbetween(1, 1000000000)) @(rand()) @(randbetween(5, 5))"}]}`
	say := func(seed uint64) string {
		fx := newFixture(t, nil, engine.WithSeed(seed))
		_, evs, err := fx.e.Start(context.Background(), fx.load(t, flow), engine.StartParams{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(texts(evs), "|")
	}
	a, b, c := say(1), say(1), say(2)
	if a != b {
		t.Errorf("seed 1 said %q then %q", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both said %q", a)
	}
	if f := strings.Fields(a); len(f) != 3 || f[2] != "5" || !strings.HasPrefix(f[1], "0.") {
		t.Errorf("said %q, want a number, a fraction and 5", a)
	}
}

// TestStartVariablesOrder: preset variables are saved in name order.
func TestStartVariablesOrder(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "e", "name": "e", "widgets": [{"id": "end", "type": "end"}]}`)
	vars := map[string]string{}
	for _, k := range []string{"zeta", "alpha", "mu", "beta", "omega", "kappa"} {
		vars[k] = k
	}
	for range 5 {
		_, evs, _ := fx.e.Start(context.Background(), f, engine.StartParams{Variables: vars})
		var names []string
		for _, ev := range eventsOf(evs, flows.EventResultSaved) {
			names = append(names, ev.Name)
		}
		if got := strings.Join(names, ","); got != "alpha,beta,kappa,mu,omega,zeta" {
			t.Fatalf("variables saved in order %s", got)
		}
	}
}

// TestContactFieldsNotShared: a user-scope change stays in its session.
func TestContactFieldsNotShared(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "u", "name": "u", "widgets": [
	  {"id": "set", "type": "set_variable", "scope": "user", "name": "visits", "expression": "int(user.key.visits) + 1", "exits": {"Next": ""}}]}`)
	contact := flows.Contact{Fields: map[string]string{"visits": "1"}}
	for range 3 {
		s, _, _ := fx.e.Start(context.Background(), f, engine.StartParams{Contact: contact})
		if got := s.Contact.Fields["visits"]; got != "2" {
			t.Fatalf("session visits = %s, want 2", got)
		}
	}
	if contact.Fields["visits"] != "1" {
		t.Errorf("the caller's contact changed to %s", contact.Fields["visits"])
	}
}

// TestWebhookURLEscaping: values are escaped for where they land in the URL.
func TestWebhookURLEscaping(t *testing.T) {
	fx := newFixture(t, map[string][]sim.MockResponse{"http://127.0.0.1:9/*": {{Status: 200, Body: json.RawMessage(`{}`)}}})
	f := fx.load(t, `{"id": "u", "name": "u", "widgets": [
	  {"id": "call", "type": "webhook", "method": "GET", "url": "http://127.0.0.1:9/orders/@flow.id?q=@flow.id&r=@flow.slash", "exits": {"Success": ""}}]}`)
	_, evs, _ := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"id": "CU 9+1", "slash": "a/b&c"}})
	calls := eventsOf(evs, flows.EventWebhookCalled)
	want := "http://127.0.0.1:9/orders/CU%209+1?q=CU+9%2B1&r=a%2Fb%26c"
	if len(calls) != 1 || calls[0].URL != want {
		t.Errorf("called %+v, want %s", calls, want)
	}
}

// deadlineSource records the context a subflow is loaded with.
type deadlineSource struct {
	*sim.Library
	deadline time.Time
	ok       bool
}

func (d *deadlineSource) Flow(ctx context.Context, id string, rev int) (*flows.Flow, error) {
	d.deadline, d.ok = ctx.Deadline()
	return d.Library.Flow(ctx, id, rev)
}

// TestTurnTimeout: what a turn calls out to is bounded by the turn timeout.
func TestTurnTimeout(t *testing.T) {
	src := &deadlineSource{Library: sim.NewLibrary()}
	e := engine.New(widgets.Registered(), engine.WithFlows(src), engine.WithTurnTimeout(7*time.Second))
	child, _ := e.Load([]byte(`{"id": "child", "name": "c", "widgets": [{"id": "e", "type": "end"}]}`))
	src.Add(child)
	f, err := e.Load([]byte(`{"id": "p", "name": "p", "widgets": [{"id": "s", "type": "subflow", "flow": "child", "exits": {}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, _, err := e.Start(context.Background(), f, engine.StartParams{}); err != nil {
		t.Fatal(err)
	}
	if !src.ok || src.deadline.Before(before.Add(7*time.Second)) || src.deadline.After(time.Now().Add(7*time.Second)) {
		t.Errorf("subflow loaded with deadline %v (set %v), want 7s after the turn started", src.deadline, src.ok)
	}
}

// slowHooks answers as its mocks do after the fixture's clock moved on by
// took, as a slow webhook takes that long.
type slowHooks struct {
	*sim.Mocks
	fx   *fixture
	took time.Duration
}

func (h slowHooks) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	h.fx.now = h.fx.now.Add(h.took)
	return h.Mocks.Call(ctx, req)
}

// A wait's timeout counts from when the session starts waiting, not from
// when its turn started: a wait reached after a 6 s webhook with a timeout
// of 5 s times out 5 s after the question, not 1 s before it.
func TestWaitTimeoutCountsFromTheWait(t *testing.T) {
	fx := newFixture(t, orderMock)
	fx.e = engine.New(widgets.Registered(),
		engine.WithClock(func() time.Time { return fx.now }),
		engine.WithServices(sim.Services{Hooks: slowHooks{Mocks: fx.mocks, fx: fx, took: 6 * time.Second}}))
	f := fx.load(t, `{"id": "slow", "name": "Slow", "widgets": [
	  {"id": "lookup", "type": "webhook", "method": "GET", "url": "http://127.0.0.1:9/order", "exits": {"Success": "ask"}},
	  {"id": "ask", "type": "wait_for_response", "result": "Answer", "timeout": 5, "exits": {"Next": ""}}]}`)
	s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	want := clock0.Add(6 * time.Second).Add(5 * time.Second)
	if s.Wait == nil || s.Wait.TimeoutAt == nil || !s.Wait.TimeoutAt.Equal(want) {
		t.Fatalf("wait %+v, want a timeout at %s, 5 s after the webhook answered", s.Wait, want)
	}
}
