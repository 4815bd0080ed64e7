package rapidpro

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/rapidprodata"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

type transcript = rapidprodata.Transcript

type mockAnswer = rapidprodata.Answer

// mockWebhooks answers webhook calls from a transcript's mocks, by exact URL
// in call order. A call with no mock left gets a 500, as the reference run did.
type mockWebhooks struct {
	mocks map[string][]mockAnswer
	calls []string
}

func (m *mockWebhooks) Webhooks() flows.WebhookService { return m }

func (m *mockWebhooks) Config(string) (*flows.WebhookConfig, bool) { return nil, false }

func (m *mockWebhooks) Call(_ context.Context, req *flows.WebhookRequest) *flows.WebhookResult {
	m.calls = append(m.calls, req.Method+" "+req.URL)
	res := &flows.WebhookResult{Outcome: flows.OutcomeFailure, Status: 500, Attempts: 1,
		Request: &flows.HTTPTrace{Method: req.Method, URL: req.URL}}
	if q := m.mocks[req.URL]; len(q) > 0 {
		a := q[0]
		m.mocks[req.URL] = q[1:]
		res.Status = a.Status
		res.Body = a.Body
		res.Headers = map[string]string{"Content-Type": "application/json"}
		if a.Status >= 200 && a.Status < 300 {
			res.Outcome = flows.OutcomeSuccess
		}
	}
	res.Response = &flows.HTTPTrace{Status: res.Status, Body: string(res.Body)}
	return res
}

// flowSet serves the converted flows of one export to the engine (subflows).
type flowSet map[string]*flows.Flow

func (s flowSet) Flow(_ context.Context, id string, _ int) (*flows.Flow, error) {
	if f, ok := s[id]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("flow %q is not in the export", id)
}

func TestTranscripts(t *testing.T) {
	dir := testdataDir(t)
	all, err := rapidprodata.Transcripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Skipf("no transcripts in %s", dir)
	}
	for _, tr := range all {
		t.Run(tr.Name, func(t *testing.T) {
			if why, ok := rapidprodata.Unreproducible[tr.Name]; ok {
				t.Skip(why)
			}
			runTranscript(t, dir, tr)
		})
	}
}

func runTranscript(t *testing.T, dir string, tr *transcript) {
	t.Helper()
	export, err := os.ReadFile(filepath.Join(dir, tr.FlowFile))
	if err != nil {
		t.Fatal(err)
	}
	e, _, first, _ := loadExport(t, export, tr.Mocks)
	contact := flows.Contact{Name: tr.Contact.Name, URN: tr.Contact.URN, Language: tr.Contact.Language,
		Fields: tr.Contact.Fields, Groups: tr.Contact.Groups}
	ctx := context.Background()
	s, evs, err := e.Start(ctx, first, engine.StartParams{Contact: contact})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Turns) != len(tr.Inputs)+1 {
		t.Fatalf("transcript has %d turns for %d inputs", len(tr.Turns), len(tr.Inputs))
	}
	check := func(turn int, evs []flows.Event) {
		t.Helper()
		var got []string
		for _, ev := range evs {
			if ev.Type == flows.EventMessageOut {
				got = append(got, ev.Text)
			}
		}
		want := tr.Turns[turn].Messages
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Errorf("turn %d (input %s): messages\n got %q\nwant %q\nevents: %s", turn, inputText(tr.Turns[turn].Input), got, want, eventsText(evs))
		}
	}
	check(0, evs)
	for i, in := range tr.Inputs {
		input := flows.Text(in)
		if in == "/timeout" {
			input = flows.Timeout()
		}
		if s.Status.Ended() {
			t.Fatalf("session ended (%s) before input %d %q", s.Status, i+1, in)
		}
		evs, err := e.Resume(ctx, first, s, input)
		if err != nil {
			t.Fatalf("input %d %q: %v", i+1, in, err)
		}
		check(i+1, evs)
	}
	if string(s.Status) != tr.FinalStatus {
		t.Errorf("final status %s, want %s", s.Status, tr.FinalStatus)
	}
	got := map[string]string{}
	for _, r := range s.Frames[0].Results {
		got[r.Name] = fmt.Sprintf("%q/%q", r.Value, r.Category)
	}
	want := map[string]string{}
	for name, r := range tr.Results {
		want[name] = fmt.Sprintf("%q/%q", r.Value, r.Category)
	}
	if fmt.Sprint(sortedMap(got)) != fmt.Sprint(sortedMap(want)) {
		t.Errorf("results (value/category)\n got %v\nwant %v", sortedMap(got), sortedMap(want))
	}
}

// loadExport converts an export and loads its flows into an engine whose
// webhooks the mocks answer (by URL, in call order), on a fixed clock and
// seed; first is the export's first flow.
func loadExport(t *testing.T, export []byte, mocks map[string][]mockAnswer) (e *engine.Engine, hooks *mockWebhooks, first *flows.Flow, rep Report) {
	t.Helper()
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	hooks = &mockWebhooks{mocks: map[string][]mockAnswer{}}
	for u, answers := range mocks {
		hooks.mocks[u] = append([]mockAnswer(nil), answers...)
	}
	set := flowSet{}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	e = engine.New(widgets.Registered(), engine.WithFlows(set), engine.WithServices(hooks),
		engine.WithClock(func() time.Time { return now }), engine.WithSeed(1))
	for _, cf := range res.Flows {
		if cf.Failed {
			t.Fatalf("flow %q failed to convert:\n%s", cf.Name, res.Report)
		}
		f, err := e.Load(cf.JSON)
		if err != nil {
			t.Fatalf("loading converted flow %q: %v\n%s", cf.Name, err, cf.JSON)
		}
		set[f.ID] = f
		if first == nil {
			first = f
		}
	}
	return e, hooks, first, res.Report
}

func inputText(p *string) string {
	if p == nil {
		return "(start)"
	}
	return fmt.Sprintf("%q", *p)
}

func eventsText(evs []flows.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		raw, _ := json.Marshal(ev)
		b.WriteString("\n  ")
		b.Write(raw)
	}
	return b.String()
}

func sortedMap(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
