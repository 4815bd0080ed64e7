package store

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsontest"
)

// engineEvents are events as the engine emits them, one or more per type.
func engineEvents() []flows.Event {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC)
	req := &flows.HTTPTrace{Method: "POST", URL: "https://example.com/hook?a=1&b=2",
		Headers: map[string]string{"Content-Type": "application/json", "Authorization": "[redacted]"}, Body: `{"name":"<x>"}`}
	resp := &flows.HTTPTrace{Status: 200, Headers: map[string]string{"X-Id": "7"}, Body: strings.Repeat("y", 100), Truncated: true}
	return []flows.Event{
		{Type: flows.EventMessageIn, Time: at, Text: "kisumu", Attachments: []string{"image/jpeg:https://x/y.jpg"}},
		{Type: flows.EventMessageOut, Time: at, Widget: "ask", Flow: "f1", Text: "What are your symptoms?", QuickReplies: []string{"Fever", "Cough"}},
		{Type: flows.EventSay, Time: at, Widget: "say", Text: "Hello", Voice: "alice", Language: "en-US"},
		{Type: flows.EventPlay, Time: at, Widget: "play", URL: "https://example.com/a.mp3"},
		{Type: flows.EventGather, Time: at, Widget: "menu", NumDigits: 1, FinishKey: "#", Timeout: 5, WaitKind: "dtmf"},
		{Type: flows.EventHangup, Time: at, Widget: "bye"},
		{Type: flows.EventResultSaved, Time: at, Name: "District", Value: "Kisumu", Category: "Known", Input: "kisumu"},
		{Type: flows.EventVariableSet, Time: at, Name: "x", Value: "1", Scope: "flow"},
		{Type: flows.EventRuleMatched, Time: at, Widget: "split", Exit: "Known", Input: "kisumu", Category: "Known"},
		{Type: flows.EventWebhookCalled, Time: at, Widget: "hook", Method: "POST", URL: req.URL, Status: 200, ElapsedMS: 42,
			Outcome: "success", Attempts: 2, Request: req, Response: resp,
			Calls: []flows.WebhookCall{{Attempt: 1, Request: req, ElapsedMS: 30, Error: "timeout"}, {Attempt: 2, Request: req, Response: resp, ElapsedMS: 12}}},
		{Type: flows.EventWebhookCalled, Time: at, Calls: []flows.WebhookCall{{}}, Request: &flows.HTTPTrace{}},
		{Type: flows.EventFlowEntered, Time: at, Flow: "child"},
		{Type: flows.EventSessionWaiting, Time: at, WaitKind: "msg", Timeout: 300},
		{Type: flows.EventFlowCompleted, Time: at, Flow: "f1"},
		{Type: flows.EventSessionEnded, Time: at, SessionStatus: flows.StatusCompleted},
		{Type: flows.EventRecorded, Time: at, Widget: "email", Data: json.RawMessage(`{"to":["a@b.c"],"subject":"Hi"}`)},
		{Type: flows.EventWarning, Time: at, Message: "result name too long"},
		{Type: flows.EventError, Time: at, Widget: "x", Message: "boom <3>"},
	}
}

// randomEvent fills a random subset of an event's fields with odd values.
func randomEvent(r *rand.Rand) flows.Event {
	str := func() string {
		if r.IntN(2) == 0 {
			return ""
		}
		if r.IntN(4) == 0 {
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			return string(b)
		}
		return jsontest.OddStrings[r.IntN(len(jsontest.OddStrings))]
	}
	strs := func() []string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		s := make([]string, 1+r.IntN(3))
		for i := range s {
			s[i] = jsontest.OddStrings[r.IntN(len(jsontest.OddStrings))]
		}
		return s
	}
	num := func() int {
		switch r.IntN(4) {
		case 0:
			return -r.IntN(1 << 20)
		case 1:
			return r.Int()
		}
		return 0
	}
	trace := func() *flows.HTTPTrace {
		if r.IntN(3) == 0 {
			return nil
		}
		t := &flows.HTTPTrace{Method: str(), URL: str(), Status: num(), Body: str(), Truncated: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			t.Headers = map[string]string{}
			for range r.IntN(4) {
				t.Headers[str()] = str()
			}
		}
		return t
	}
	e := flows.Event{
		Type: str(), Time: jsontest.OddTimes[r.IntN(len(jsontest.OddTimes))], Widget: str(), Flow: str(), Text: str(),
		QuickReplies: strs(), Attachments: strs(), URL: str(), NumDigits: num(), FinishKey: str(),
		Timeout: num(), WaitKind: str(), Voice: str(), Language: str(), Name: str(), Value: str(),
		Category: str(), Input: str(), Scope: str(), Exit: str(), Method: str(), Status: num(),
		ElapsedMS: int64(num()), Outcome: str(), Attempts: num(), Request: trace(), Response: trace(),
		SessionStatus: flows.Status(str()), Message: str(),
	}
	if r.IntN(3) == 0 {
		e.Data = json.RawMessage(jsontest.OddRaws[r.IntN(len(jsontest.OddRaws))])
	}
	for range r.IntN(3) {
		e.Calls = append(e.Calls, flows.WebhookCall{Attempt: num(), Request: trace(), Response: trace(), ElapsedMS: int64(num()), Error: str()})
	}
	return e
}

// checkEvent compares encodeEvent with the library, and reports whether the
// hand-written encoder took it.
func checkEvent(t testing.TB, e *flows.Event) bool {
	t.Helper()
	want, werr := jsonv1.Marshal(e)
	got, gerr := encodeEvent("s", e)
	if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("event %#v:\n got %q, %v\nwant %q, %v", e, got, gerr, want, werr)
	}
	_, fast := appendEvent(nil, e)
	return fast
}

func TestEventRecordBytes(t *testing.T) {
	for _, e := range engineEvents() {
		if !checkEvent(t, &e) {
			t.Errorf("%s event not encoded by hand", e.Type)
		}
	}
	var e flows.Event
	if !checkEvent(t, &e) {
		t.Error("zero event not encoded by hand")
	}
	for _, s := range jsontest.OddStrings {
		for _, tm := range jsontest.OddTimes {
			checkEvent(t, &flows.Event{Type: s, Time: tm, Text: s, QuickReplies: []string{s, s},
				Request: &flows.HTTPTrace{Headers: map[string]string{s: s, "A": s}}})
		}
	}
	for _, raw := range jsontest.OddRaws {
		checkEvent(t, &flows.Event{Type: "x", Data: json.RawMessage(raw)})
	}
	r := rand.New(rand.NewPCG(7, 11))
	fast := 0
	const n = 20_000
	for range n {
		e := randomEvent(r)
		if checkEvent(t, &e) {
			fast++
		}
	}
	t.Logf("%d of %d random events encoded by hand", fast, n)
}

// FuzzEventRecord holds the hand-written event encoder to the
// library's bytes (and errors) for arbitrary strings, raw data and times.
func FuzzEventRecord(f *testing.F) {
	f.Add("message_in", "kisumu", "Content-Type", []byte(`{"a":1}`), int64(1_772_366_400), int64(5), 0)
	f.Add("x\u2028", "<a&b>", "\xff", []byte("\"\xe2\x80\xa8\""), int64(-62_135_596_801), int64(0), 3600)
	f.Add("", "\x00", "", []byte(" [1] "), int64(253_402_300_800), int64(999_999_999), -86_400)
	f.Add("t", "\\\"", "é", []byte(`"\ud800"`), int64(0), int64(1), 86_399)
	f.Fuzz(func(t *testing.T, typ, text, header string, raw []byte, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		e := flows.Event{Type: typ, Time: at, Text: text, QuickReplies: []string{text, typ},
			Request: &flows.HTTPTrace{Headers: map[string]string{header: text}}, Data: raw,
			Calls: []flows.WebhookCall{{Error: header}}}
		checkEvent(t, &e)
	})
}

// BenchmarkEventRecord encodes the three events of benchTurn.
func BenchmarkEventRecord(b *testing.B) {
	evs := benchTurn(1, 1, time.Now()).Events
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range evs {
				if _, err := encodeJSON("session event of", "s", &evs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range evs {
				if _, err := encodeEvent("s", &evs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
