package store

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsontest"
)

// checkSessionJSON compares the JSON the store writes for s with the
// library's bytes (and errors), and reports whether it was written by hand.
func checkSessionJSON(t testing.TB, s *flows.Session) bool {
	t.Helper()
	want, werr := jsonv1.Marshal(s)
	got, gerr := sessionJSON(s)
	if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("session %#v:\n got %s, %v\nwant %s, %v", s, got, gerr, want, werr)
	}
	_, hand := appendSession(nil, s)
	return hand
}

func TestSessionJSONBytes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, s := range []*flows.Session{SampleSession(3, at), benchTurn(1, 2, at).Session, {}} {
		if !checkSessionJSON(t, s) {
			t.Errorf("session %q not written by hand", s.ID)
		}
	}
	// Every field set: the hand-written encoder must take it and match.
	// Odd values anywhere: the same bytes and errors, by hand or not.
	check := func(s *flows.Session) bool { return checkSessionJSON(t, s) }
	jsontest.CheckEncoder(t, rand.New(rand.NewPCG(3, 5)), 20_000, 1_000, check)
}

// FuzzSessionJSON holds the hand-written session encoder to the library's
// bytes (and errors) for arbitrary strings, raw JSON and times.
func FuzzSessionJSON(f *testing.F) {
	f.Add("kisumu", "District", []byte(`{"a":1}`), int64(1_772_366_400), int64(5), 0)
	f.Add("x\u2028", "<a&b>", []byte("\"\xe2\x80\xa8\""), int64(-62_135_596_801), int64(0), 3600)
	f.Add("\xff", "\x00", []byte(" [1] "), int64(253_402_300_800), int64(999_999_999), -86_400)
	f.Fuzz(func(t *testing.T, text, key string, raw []byte, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		res := &flows.Result{Name: key, Value: text, Category: text, Input: text, JSON: raw, At: at}
		s := &flows.Session{
			ID: text, FlowID: key, Status: flows.Status(text), Environment: text,
			Contact:  flows.Contact{URN: text, Name: text, Fields: map[string]string{key: text, "a": text}, Groups: []string{text}},
			Channel:  &flows.Channel{ID: text, Name: key},
			Call:     &flows.Call{CLI: text, Start: at},
			Frames:   []*flows.Frame{{FlowID: key, Results: map[string]*flows.Result{key: res, "z": nil}}, nil},
			Extra:    raw,
			Input:    text,
			Wait:     &flows.Wait{Widget: key, Kind: text, TimeoutAt: &at},
			Path:     []flows.Step{{Widget: key, Exit: text, At: at}},
			LaunchID: text, Language: key, CreatedAt: at, UpdatedAt: at, EndedAt: &at, ExpiresAt: &at,
		}
		checkSessionJSON(t, s)
	})
}
