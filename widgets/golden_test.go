package widgets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// goldenCase is one case of a widget's golden file: a small flow, who runs it,
// what they send, and (the golden part) what the engine did at each turn.
type goldenCase struct {
	Name string `json:"name"`
	// Flow is the flow under test; Flows are more flows it can enter as subflows.
	Flow  json.RawMessage   `json:"flow"`
	Flows []json.RawMessage `json:"flows,omitempty"`
	// Contact runs the flow; Call makes it an IVR call with this caller number.
	Contact   flows.Contact     `json:"contact,omitzero"`
	Call      string            `json:"call,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
	// Mocks answer webhook calls by URL; Webhooks are configured webhooks by
	// name. A URL no mock answers stands for a host that refuses the
	// connection (refused).
	Mocks    map[string][]sim.MockResponse   `json:"mocks,omitempty"`
	Webhooks map[string]*flows.WebhookConfig `json:"webhooks,omitempty"`
	Seed     uint64                          `json:"seed,omitempty"`
	// Inputs are simulator lines: a message (digits on a call, a recording's
	// URL when it waits for one), /timeout, /hangup, /record URL [SECONDS].
	Inputs []string `json:"inputs,omitempty"`

	// Turns is the expected output: the start turn, then one per input.
	Turns []goldenTurn `json:"turns"`
	// Results are the root flow's results when the last turn ends.
	Results map[string]goldenResult `json:"results,omitempty"`
	// Fields are the contact's fields (user keys) at the end, when there are any.
	Fields map[string]string `json:"fields,omitempty"`
}

type goldenTurn struct {
	Send   *string       `json:"send,omitempty"`
	Events []goldenEvent `json:"events"`
	// Path lists the widgets visited in the turn with the exit each took.
	Path   []string     `json:"path,omitempty"`
	Status flows.Status `json:"status"`
	// Error is a Go error returned by the engine (resuming an ended session).
	Error string `json:"error,omitempty"`
}

// goldenEvent is an event with what a user sees; times are left out (the clock
// is fixed) and webhook traces are reduced to the request sent.
type goldenEvent struct {
	Type         string            `json:"type"`
	Widget       string            `json:"widget,omitempty"`
	Flow         string            `json:"flow,omitempty"`
	Text         string            `json:"text,omitempty"`
	QuickReplies []string          `json:"quick_replies,omitempty"`
	Attachments  []string          `json:"attachments,omitempty"`
	URL          string            `json:"url,omitempty"`
	Wait         string            `json:"wait,omitempty"`
	Timeout      int               `json:"timeout,omitempty"`
	NumDigits    int               `json:"num_digits,omitempty"`
	FinishKey    string            `json:"finish_key,omitempty"`
	MaxLength    int               `json:"max_length,omitempty"`
	PlayBeep     *bool             `json:"play_beep,omitempty"`
	Name         string            `json:"name,omitempty"`
	Value        string            `json:"value,omitempty"`
	Category     string            `json:"category,omitempty"`
	Input        string            `json:"input,omitempty"`
	Scope        string            `json:"scope,omitempty"`
	Voice        string            `json:"voice,omitempty"`
	Language     string            `json:"language,omitempty"`
	Method       string            `json:"method,omitempty"`
	HTTPStatus   int               `json:"http_status,omitempty"`
	Outcome      string            `json:"outcome,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	Status       flows.Status      `json:"status,omitempty"`
	Message      string            `json:"message,omitempty"`
	Data         json.RawMessage   `json:"data,omitempty"`
}

type goldenResult struct {
	Value    string `json:"value"`
	Category string `json:"category,omitempty"`
	Input    string `json:"input,omitempty"`
}

func normalise(evs []flows.Event) []goldenEvent {
	out := make([]goldenEvent, 0, len(evs))
	for _, ev := range evs {
		g := goldenEvent{
			Type: ev.Type, Widget: ev.Widget, Flow: ev.Flow, Text: ev.Text, QuickReplies: ev.QuickReplies,
			Attachments: ev.Attachments, URL: ev.URL, Wait: ev.WaitKind, Timeout: ev.Timeout,
			NumDigits: ev.NumDigits, FinishKey: ev.FinishKey, MaxLength: ev.MaxLength, PlayBeep: ev.PlayBeep, Name: ev.Name, Value: ev.Value,
			Category: ev.Category, Input: ev.Input, Scope: ev.Scope, Voice: ev.Voice, Language: ev.Language, Method: ev.Method,
			HTTPStatus: ev.Status, Outcome: ev.Outcome, Status: ev.SessionStatus, Message: ev.Message,
			Data: ev.Data,
		}
		if ev.Request != nil {
			g.Headers = ev.Request.Headers
			g.Body = ev.Request.Body
		}
		out = append(out, g)
	}
	return out
}

// refused answers the calls no mock of a case answers as a host that
// refuses the connection: outcome error, which takes the Timeout exit when
// it is wired. The request is recorded as a mocked call records it.
type refused struct{ none *sim.Mocks }

func (r refused) Config(string) (*flows.WebhookConfig, bool) { return nil, false }

func (r refused) Call(ctx context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	res := r.none.Call(ctx, req)
	res.Outcome, res.Error = flows.OutcomeError, "connection refused"
	return res
}

// epoch is the fixed clock of every case; each turn happens a minute after the last.
var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// run plays a case and fills in its expected output.
func (c *goldenCase) run(t *testing.T) goldenCase {
	t.Helper()
	now := epoch
	ids := 0
	mocks := sim.NewMocks(c.Mocks)
	mocks.Configs = c.Webhooks
	mocks.Fallback = refused{sim.NewMocks(nil)}
	lib := sim.NewLibrary()
	seed := c.Seed
	if seed == 0 {
		seed = 1
	}
	e := engine.New(widgets.Registered(),
		engine.WithClock(func() time.Time { return now }),
		engine.WithIDs(func() string { ids++; return fmt.Sprintf("session-%d", ids) }),
		engine.WithSeed(seed),
		engine.WithServices(sim.Services{Hooks: mocks}),
		engine.WithFlows(lib),
	)
	for i, src := range c.Flows {
		f, err := e.Load(src)
		if err != nil {
			t.Fatalf("flows[%d]: %v", i, err)
		}
		lib.Add(f)
	}
	f, err := e.Load(c.Flow)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	lib.Add(f)
	p := engine.StartParams{Contact: c.Contact, Variables: c.Variables}
	if c.Call != "" {
		p.Call = &flows.Call{ID: "call-1", CLI: c.Call, To: "+15550000000", State: "in-progress", Start: epoch}
	}
	out := *c
	out.Turns = nil
	sess, evs, err := e.Start(context.Background(), f, p)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	// exits are the exits of the steps already reported: a step reported
	// while it waited gets its exit in a later turn, and is reported again then.
	var exits []string
	turn := func(send *string, evs []flows.Event, err error) {
		g := goldenTurn{Send: send, Events: normalise(evs), Status: sess.Status}
		if err != nil {
			g.Error = err.Error()
		}
		for i, st := range sess.Path {
			if i < len(exits) && exits[i] == st.Exit {
				continue
			}
			s := st.Widget
			if st.Flow != "" {
				s = st.Flow + "/" + s
			}
			if st.Exit != "" {
				s += " → " + st.Exit
			}
			g.Path = append(g.Path, s)
		}
		exits = exits[:0]
		for _, st := range sess.Path {
			exits = append(exits, st.Exit)
		}
		out.Turns = append(out.Turns, g)
	}
	turn(nil, evs, nil)
	for _, line := range c.Inputs {
		now = now.Add(time.Minute)
		in, err := sim.ParseInput(line, sess.Call != nil, sim.WaitKind(sess))
		if err != nil {
			t.Fatalf("input %q: %v", line, err)
		}
		evs, err := e.Resume(context.Background(), f, sess, in)
		turn(&line, evs, err)
	}
	if res := sess.Frames[0].Results; len(res) > 0 {
		out.Results = map[string]goldenResult{}
		for k, r := range res {
			out.Results[k] = goldenResult{Value: r.Value, Category: r.Category, Input: r.Input}
		}
	} else {
		out.Results = nil
	}
	out.Fields = nil
	if len(sess.Contact.Fields) > 0 && !equalMaps(sess.Contact.Fields, c.Contact.Fields) {
		out.Fields = sess.Contact.Fields
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func readGolden(t *testing.T, path string) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return cases
}

func marshalGolden(cases []goldenCase) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cases); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TestGolden runs every case of every widget golden file and compares what the
// engine did with the file; -update rewrites the expected part.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			cases := readGolden(t, path)
			got := make([]goldenCase, len(cases))
			names := map[string]bool{}
			for i := range cases {
				c := &cases[i]
				if names[c.Name] {
					t.Fatalf("case name %q appears twice", c.Name)
				}
				names[c.Name] = true
				t.Run(c.Name, func(t *testing.T) {
					got[i] = c.run(t)
					if *update {
						return
					}
					want, _ := json.MarshalIndent(c, "", "  ")
					have, _ := json.MarshalIndent(got[i], "", "  ")
					if !bytes.Equal(want, have) {
						t.Errorf("output differs from %s (run with -update to accept):\n%s", path, lineDiff(string(want), string(have)))
					}
				})
			}
			if *update {
				data, err := marshalGolden(got)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// lineDiff shows the lines of want and got that differ, with a little context.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n  want %s\n  got  %s\n", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
			if out.Len() > 4000 {
				out.WriteString("...\n")
				break
			}
		}
	}
	return out.String()
}

// TestEveryWidgetHasGolden fails when a registered widget type has no golden
// file, or a golden file tests no registered type.
func TestEveryWidgetHasGolden(t *testing.T) {
	names := widgets.Registered().Names()
	if len(names) == 0 {
		t.Fatal("no widget types registered")
	}
	registered := map[string]bool{}
	for _, n := range names {
		registered[n] = true
		path := filepath.Join("testdata", n+".json")
		if _, err := os.Stat(path); err != nil {
			t.Errorf("widget type %q has no golden file %s", n, path)
			continue
		}
		// Each file must exercise its own type.
		for _, c := range readGolden(t, path) {
			if !usesType(c, n) {
				t.Errorf("%s: case %q has no %s widget", path, c.Name, n)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	var extra []string
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".json"); !registered[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("golden files for unregistered widget types: %v", extra)
	}
}

// usesType reports whether a case's flows hold a widget of type typ.
func usesType(c goldenCase, typ string) bool {
	for _, src := range append([]json.RawMessage{c.Flow}, c.Flows...) {
		var f struct {
			Widgets []struct {
				Type string `json:"type"`
			} `json:"widgets"`
		}
		if json.Unmarshal(src, &f) != nil {
			continue
		}
		for _, w := range f.Widgets {
			if w.Type == typ {
				return true
			}
		}
	}
	return false
}
