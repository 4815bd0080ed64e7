package engine

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// benchSession is a session in the middle of a survey: a contact with
// fields, two results and the answer of a webhook call.
func benchSession() *flows.Session {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	return &flows.Session{
		ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", FlowID: "survey", Status: flows.StatusActive,
		Contact: flows.Contact{URN: "tel:+5511999990000", Name: "Ana Lima", Language: "por",
			Fields: map[string]string{"age": "34", "district": "Kisumu"}},
		Frames: []*flows.Frame{{FlowID: "survey", Results: map[string]*flows.Result{
			"name":   {Name: "Name", Value: "Ana", Category: "All Responses", Input: "Ana", At: at},
			"rating": {Name: "Rating", Value: "5", Category: "Happy", Input: "5", At: at},
		}}},
		Extra: []byte(`{"status":"Shipped","name":"Ben Haggerty","ship_date":"October 9th"}`),
		Input: "5",
	}
}

// BenchmarkRender renders templates against a session, as send_message and
// webhook widgets do on every step. The turn's variable context is built once
// per turn, so "first" includes building it and "cached" does not.
func BenchmarkRender(b *testing.B) {
	e := New(widgets.Registered())
	for _, bc := range []struct{ name, src string }{
		{"static", "Thanks for contacting us. Please send your order number."},
		{"paths", "Thanks @flow.name, you rated us @flow.rating. We shipped to @contact.name on @extra.ship_date."},
		{"expression", "Hello @(upper(contact.name)), you are @(int(contact.fields.age) + 1) next year."},
	} {
		tp, err := e.compileTemplate(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		s := benchSession()
		b.Run(bc.name+"/cached", func(b *testing.B) {
			t := &turn{e: e, ctx: b.Context(), sess: s, now: e.now()}
			b.ReportAllocs()
			for b.Loop() {
				if t.render(tp, renderMode{}) == "" {
					b.Fatal("empty")
				}
			}
		})
		b.Run(bc.name+"/first", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t := &turn{e: e, ctx: b.Context(), sess: s, now: e.now()}
				if t.render(tp, renderMode{}) == "" {
					b.Fatal("empty")
				}
			}
		})
	}
}

// BenchmarkEval evaluates compiled expressions (set_variable, split operands).
func BenchmarkEval(b *testing.B) {
	e := New(widgets.Registered())
	for _, bc := range []struct{ name, src string }{
		{"arith", "int(default(flow.attempts.value, 0)) + 1"},
		{"compare", `flow.rating.value == "5" && contact.fields.district == "Kisumu"`},
		{"string", `upper(contact.name) + " " + extra.status`},
	} {
		x, err := e.compileExpr(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		s := benchSession()
		t := &turn{e: e, ctx: b.Context(), sess: s, now: e.now()}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := t.evalExpr(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
