package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// FuzzDecode: any input either loads as a flow or fails with a validation
// error, with Load and with LoadStored; nothing panics, what Load accepts
// LoadStored accepts, and a flow that loads can be started.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(loopFlow))
	f.Add([]byte(rootFlow))
	f.Add([]byte(surveyFlow))
	f.Add([]byte(`{"id": "old", "expire_minutes": -1, "widgets": [{"id": "a", "type": "send_message", "Text": "@(uper(input))"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := engine.New(widgets.Registered(), engine.WithMaxSteps(20))
		fl, err := e.Load(data)
		checkFindings(t, err)
		stored, serr := e.LoadStored(data)
		checkFindings(t, serr)
		if err == nil && serr != nil {
			t.Fatalf("LoadStored refuses what Load accepts: %v", serr)
		}
		for _, f := range []*flows.Flow{fl, stored} {
			if f == nil {
				continue
			}
			if len(f.Widgets) == 0 || f.Widget(f.StartWidget()) == nil {
				t.Fatalf("loaded flow has no start widget")
			}
			s, _, err := e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status == flows.StatusWaiting {
				_, _ = e.Resume(context.Background(), f, s, flows.Text("1"))
			}
		}
	})
}

// checkFindings fails unless err is nil or a validation error whose every
// finding has a path and a message.
func checkFindings(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *flows.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) == 0 {
		t.Fatalf("error %v (%T) is not a validation error with findings", err, err)
	}
	for _, fe := range ve.Errors {
		if fe.Path == "" || fe.Message == "" {
			t.Fatalf("finding without path or message: %+v", fe)
		}
	}
}

// FuzzTemplate: any template either fails to compile or renders against a
// session with results, @extra, contact fields and a call; text without
// variables renders as itself; a text that is or renders blank is not sent.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"Hi @flow.name", "@(upper(flow.name.value))", "@extra.order.items.0.sku", "$user.key.age $call.cli",
		"me@example.com @@", "@(", "@()", "@(1 +)", "@flow.name.png.", "@(\"a)\" + ')')", "$flow.key.", "@input.",
		" ", "@flow.missing",
	} {
		f.Add(s, "hello")
	}
	f.Fuzz(func(t *testing.T, tmpl, input string) {
		if tmpl == "" || !utf8.ValidString(tmpl) || !utf8.ValidString(input) {
			return
		}
		fx := newFixture(t, orderMock)
		fl, err := fx.e.Load([]byte(templateFlow(tmpl)))
		if err != nil {
			if !errors.Is(err, flows.ErrBadTemplate) && !errors.Is(err, flows.ErrBadExpression) {
				t.Fatalf("template %q: unexpected load error %v", tmpl, err)
			}
			return
		}
		s, _, err := fx.e.Start(context.Background(), fl, engine.StartParams{
			Contact:   flows.Contact{Name: "Ana", Fields: map[string]string{"age": "33"}},
			Variables: map[string]string{"name": "Ben"},
			Call:      &flows.Call{CLI: "+1555"},
		})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := fx.e.Resume(context.Background(), fl, s, flows.Text(input))
		if err != nil {
			t.Fatal(err)
		}
		// A text that is or renders blank is not sent.
		msgs := texts(evs)
		plain := !strings.ContainsAny(tmpl, "@$")
		switch {
		case len(msgs) > 1:
			t.Fatalf("template %q: %d messages, want 1 at most", tmpl, len(msgs))
		case len(msgs) == 0 && plain && strings.TrimSpace(tmpl) != "":
			t.Fatalf("plain text %q was not sent", tmpl)
		case len(msgs) == 1 && strings.TrimSpace(msgs[0]) == "":
			t.Fatalf("template %q: blank message %q sent", tmpl, msgs[0])
		case len(msgs) == 1 && plain && msgs[0] != tmpl:
			t.Fatalf("plain text %q rendered as %q", tmpl, msgs[0])
		}
	})
}
