package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// benchFlow is a two-question survey: a name, then a rated answer routed by
// rules, with templates in every message.
const benchFlow = `{"id": "survey", "name": "Survey", "widgets": [
  {"id": "ask_name", "type": "send_message", "text": "Hi! What is your name?", "exits": {"Next": "name"}},
  {"id": "name", "type": "wait_for_response", "result": "Name", "timeout": 300, "exits": {"Next": "ask_rating", "Timeout": ""}},
  {"id": "ask_rating", "type": "send_message", "text": "Thanks @flow.name. How would you rate us, 1 to 5?", "quick_replies": ["1", "3", "5"], "exits": {"Next": "rating"}},
  {"id": "rating", "type": "wait_for_response", "result": "Rating",
   "rules": [{"type": "has_number_between", "args": ["4", "5"], "category": "Happy"}, {"type": "has_number_between", "args": ["1", "3"], "category": "Unhappy"}],
   "exits": {"Happy": "happy", "Unhappy": "sorry", "Other": "rating"}},
  {"id": "happy", "type": "send_message", "text": "Glad you liked it, @contact.first_name!", "exits": {"Next": ""}},
  {"id": "sorry", "type": "send_message", "text": "Sorry to hear that, @flow.name. We rated @flow.rating.", "exits": {"Next": ""}}]}`

// BenchmarkConversation is one complete conversation in memory: start, two
// answers, completed.
func BenchmarkConversation(b *testing.B) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := engine.New(widgets.Registered(),
		engine.WithClock(func() time.Time { return now }),
		engine.WithIDs(func() string { return "bench" }),
		engine.WithSeed(1))
	f, err := e.Load([]byte(benchFlow))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	contact := flows.Contact{Name: "Ana Lima", URN: "tel:+5511999990000"}
	b.ReportAllocs()
	for b.Loop() {
		s, _, err := e.Start(ctx, f, engine.StartParams{Contact: contact})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Resume(ctx, f, s, flows.Text("Ana")); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Resume(ctx, f, s, flows.Text("5")); err != nil {
			b.Fatal(err)
		}
		if s.Status != flows.StatusCompleted {
			b.Fatalf("status %s", s.Status)
		}
	}
}
