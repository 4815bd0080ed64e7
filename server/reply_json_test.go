package server

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/internal/jsontest"
)

// checkReplyJSON compares the reply's hand-written JSON with the library's
// bytes (and errors), through both entry points, and reports whether it was
// written by hand.
func checkReplyJSON(t *testing.T, r *TurnReply) bool {
	t.Helper()
	want, werr := jsonv1.Marshal(r)
	got, gerr := encodeReply(r)
	if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("reply %#v:\n got %s, %v\nwant %s, %v", r, got, gerr, want, werr)
	}
	prefix := []byte(`{"replies":[`)
	got, gerr = appendReplyJSON(bytes.Clone(prefix), r)
	if (werr != nil) != (gerr != nil) || (werr == nil && !bytes.Equal(got, append(prefix, want...))) {
		t.Fatalf("appended reply %#v:\n got %s, %v\nwant %s%s, %v", r, got, gerr, prefix, want, werr)
	}
	_, hand := appendReply(nil, r)
	return hand
}

// TestReplyJSONBytes holds the hand-written reply encoder to jsonv1.Marshal:
// replies as turns make them, every field set (a field the encoder does not
// write shows as a difference), and random odd values.
func TestReplyJSONBytes(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC)
	for _, r := range []*TurnReply{
		{},
		{Messages: []Message{}},
		{ID: "01a2", Flow: "order-status", Status: "waiting",
			Messages:   []Message{{Type: "message_out", Widget: "welcome", Text: "Thanks <&> \u2028", QuickReplies: []string{"Red", "Blue"}}},
			WaitingFor: &WaitingFor{Kind: "message", Timeout: 3600, TimeoutAt: &at}},
		{ID: "c", Status: "waiting", Messages: []Message{{Type: "say", Text: "Press 1", Voice: "alice", Language: "en-US"}, {Type: "play", URL: "https://x/y.mp3"}},
			WaitingFor: &WaitingFor{Kind: "digits", NumDigits: 4, FinishKey: "#"}},
		{ID: "r", Status: "waiting", Messages: []Message{{Type: "say", Text: "After the beep"}, {Type: "record", FinishKey: "*#", Timeout: 5, MaxLength: 60, PlayBeep: new(true)}},
			WaitingFor: &WaitingFor{Kind: "recording", Timeout: 65, FinishKey: "*#", MaxLength: 60, SilenceTimeout: 5, PlayBeep: new(false)}},
	} {
		if !checkReplyJSON(t, r) {
			t.Errorf("reply %#v left to the library", r)
		}
	}
	check := func(rep *TurnReply) bool { return checkReplyJSON(t, rep) }
	jsontest.CheckEncoder(t, rand.New(rand.NewPCG(11, 12)), 20_000, 10_000, check)
}

// FuzzReplyJSON holds the hand-written reply encoder to the library's bytes
// for arbitrary strings and wait timeouts.
func FuzzReplyJSON(f *testing.F) {
	f.Add("message_out", "What is your name?", "\xff<\u2028>", int64(1_772_366_400), int64(5), 0, 3)
	f.Add("", "", "", int64(253_402_300_800), int64(0), 86_400, -1)
	f.Fuzz(func(t *testing.T, typ, text, key string, sec, nsec int64, offset, timeout int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		checkReplyJSON(t, &TurnReply{ID: text, Flow: key, Status: "waiting",
			Messages:   []Message{{Type: typ, Text: text, QuickReplies: []string{key, text}, FinishKey: key, Timeout: timeout}},
			WaitingFor: &WaitingFor{Kind: typ, Timeout: timeout, TimeoutAt: &at, FinishKey: key}})
	})
}
