package engine_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestTemplatePaths: result keys with letters of any script, and gjson's "#"
// (an array's count, or each element's field) in paths, while "#" and
// letters in the surrounding prose stay text.
func TestTemplatePaths(t *testing.T) {
	mocks := map[string][]sim.MockResponse{
		"http://127.0.0.1:9/order": {{Status: 200, Body: json.RawMessage(`{"data": {"items": [{"sku": "A1"}, {"sku": "B2"}]}}`)}},
	}
	cases := []struct{ tmpl, want string }{
		{"@flow.âge_du_client", "41"},
		{"$flow.key.âge_du_client", "41"},
		{"@flow.âge_du_client.category", "Adult"},
		{"@flow.Âge_du_Client!", "41!"},
		{"@(flow.âge_du_client.value)", "41"},
		{"@flow.名前", "Ken"},
		{"@extra.data.items.#", "2"},
		{"@extra.data.items.#.sku", `["A1","B2"]`},
		{"@flow.order.json.data.items.#", "2"},
		{"@flow.order.json.data.items.#.sku", `["A1","B2"]`},
		{"@extra.data.items.0.sku", "A1"},
		{"@extra.data.items.#.", "2."},
		{"call @flow.名前 #1", "call Ken #1"},
		{"order #@extra.data.items.1.sku#", "order #B2#"},
		{"@flow.名前#", "Ken#"},
		{"@flow.名前.#1", "Ken.#1"},
		{"@flow.名前,é", "Ken,é"},
	}
	for _, c := range cases {
		t.Run(c.tmpl, func(t *testing.T) {
			q, _ := json.Marshal(c.tmpl)
			fx := newFixture(t, mocks)
			f := fx.load(t, `{"id": "p", "widgets": [
			  {"id": "ask", "type": "wait_for_response", "result": "Âge du Client",
			   "rules": [{"type": "has_number", "category": "Adult"}], "exits": {"Adult": "lookup", "Other": "lookup"}},
			  {"id": "lookup", "type": "webhook", "url": "http://127.0.0.1:9/order", "result": "order",
			   "exits": {"Success": "say", "Failure": "say"}},
			  {"id": "say", "type": "send_message", "text": `+string(q)+`, "exits": {"Next": ""}}]}`)
			s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"名前": "Ken"}})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := fx.e.Resume(context.Background(), f, s, flows.Text("41"))
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != c.want {
				t.Errorf("rendered %q, want %q", got, c.want)
			}
			for _, ev := range evs {
				if ev.Type == flows.EventWarning || ev.Type == flows.EventError {
					t.Errorf("%s: %s", ev.Type, ev.Message)
				}
			}
		})
	}
}

// TestMissingFieldOfJSONIsUnknown: a field an answer (or has_pattern's
// groups) does not have is an unknown variable, in a message and in a
// webhook's URL, and never brings the whole answer with it as the text
// before a trailing ".name" would be.
func TestMissingFieldOfJSONIsUnknown(t *testing.T) {
	mocks := map[string][]sim.MockResponse{"http://127.0.0.1:9/*": {{Status: 200, Body: json.RawMessage(`{"secret": "s3", "n": 7}`)}}}
	fx := newFixture(t, mocks)
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "result": "r",
	   "rules": [{"type": "has_pattern", "args": ["buy (\\w+)"], "category": "Buy"}], "exits": {"Buy": "h", "Other": "h"}},
	  {"id": "h", "type": "webhook", "url": "http://127.0.0.1:9/a", "exits": {"Success": "h2"}},
	  {"id": "h2", "type": "webhook", "url": "http://127.0.0.1:9/b/@flow.h.json.missing", "exits": {"Success": "say"}},
	  {"id": "say", "type": "send_message", "text": "[@flow.h.json.missing] [@flow.h.extra.zz] [@flow.r.extra.3] [@flow.r.extra.1] [@flow.h.json.n.x]", "exits": {"Next": ""}}]}`)
	s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := fx.e.Resume(context.Background(), f, s, flows.Text("buy cheese"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := texts(evs), "[] [] [] [cheese] [7.x]"; len(got) != 1 || got[0] != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
	calls := eventsOf(evs, flows.EventWebhookCalled)
	if len(calls) != 2 || calls[1].URL != "http://127.0.0.1:9/b/" {
		t.Errorf("calls %+v, want the second to http://127.0.0.1:9/b/", calls)
	}
	var warnings []string
	for _, ev := range eventsOf(evs, flows.EventWarning) {
		warnings = append(warnings, ev.Message)
	}
	want := []string{"unknown variable @flow.h.json.missing", "unknown variable @flow.h.json.missing",
		"unknown variable @flow.h.extra.zz", "unknown variable @flow.r.extra.3"}
	if strings.Join(warnings, "|") != strings.Join(want, "|") {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
}

// TestFailedExpressionTakesFailure: an @(...) that fails when it runs is an
// error event naming its field, and the widget follows its Failure or Other
// exit: a webhook is not called, a split's rules do not test what is left of
// the operand, set_variable sets nothing when the flow lists Failure. A
// widget without such an exit goes on with the part empty.
func TestFailedExpressionTakesFailure(t *testing.T) {
	fx := newFixture(t, map[string][]sim.MockResponse{"http://127.0.0.1:9/*": {{Status: 200, Body: json.RawMessage(`{}`)}}})
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "ask", "type": "wait_for_response", "exits": {"Next": "h"}},
	  {"id": "h", "type": "webhook", "url": "http://127.0.0.1:9/orders/@(int(input))/cancel", "exits": {"Success": "hs", "Failure": "hf"}},
	  {"id": "hs", "type": "send_message", "text": "called", "exits": {"Next": "sp"}},
	  {"id": "hf", "type": "send_message", "text": "not called @flow.h.category", "exits": {"Next": "sp"}},
	  {"id": "sp", "type": "split", "operand": "@(upper(contact.fields))", "result": "s",
	   "rules": [{"type": "has_only_text", "args": [""], "category": "Empty"}], "exits": {"Empty": "sv", "Other": "sv"}},
	  {"id": "sv", "type": "set_variable", "name": "x", "value": "id-@(int('q'))", "exits": {"Next": "sv2", "Failure": "sv2"}},
	  {"id": "sv2", "type": "set_variable", "name": "y", "value": "id-@(int('q'))", "exits": {"Next": "say"}},
	  {"id": "say", "type": "send_message", "text": "@flow.s.category [@flow.x] [@flow.y]", "quick_replies": ["a@(int(input))"], "exits": {"Next": ""}}]}`)
	s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := fx.e.Resume(context.Background(), f, s, flows.Text("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if calls := eventsOf(evs, flows.EventWebhookCalled); len(calls) != 0 {
		t.Errorf("called %s with a failed expression", calls[0].URL)
	}
	want := []string{"not called Failure", "Other [] [id-]"}
	if got := texts(evs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q", got, want)
	}
	var errs []string
	for _, ev := range eventsOf(evs, flows.EventError) {
		errs = append(errs, ev.Widget+" "+ev.Message)
	}
	wantErrs := []string{
		`h url: expression @(int(input)): int: argument 1 is "abc", not a whole number (1:1)`,
		`sp operand: expression @(upper(contact.fields)): upper: argument 1 is a map, not text (1:1)`,
		`sv value: expression @(int('q')): int: argument 1 is "q", not a whole number (1:1)`,
		`sv2 value: expression @(int('q')): int: argument 1 is "q", not a whole number (1:1)`,
		`say quick_replies[0]: expression @(int(input)): int: argument 1 is "abc", not a whole number (1:1)`,
	}
	if strings.Join(errs, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
}

// TestConfiguredWebhookFailedExpressionNamesField: an @(...) that fails in
// a configured webhook's URL, headers or body, compiled as the flow runs,
// names its field as one in the flow's own webhook does.
func TestConfiguredWebhookFailedExpressionNamesField(t *testing.T) {
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Configs: map[string]*flows.WebhookConfig{"orders": {URL: "http://127.0.0.1:9/orders/@(int(contact.name))",
			Method: "POST", Headers: map[string]string{"X-Order": "@(int(contact.name) + 1)"}, Body: `{"n": @(int(contact.name) + 2)}`}}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
	  {"id": "h", "type": "webhook", "webhook": "orders", "exits": {"Success": "", "Failure": ""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, ev := range eventsOf(evs, flows.EventError) {
		errs = append(errs, ev.Widget+" "+ev.Message)
	}
	wantErrs := []string{
		`h url: expression @(int(contact.name)): int: argument 1 is "abc", not a whole number (1:1)`,
		`h headers.X-Order: expression @(int(contact.name) + 1): int: argument 1 is "abc", not a whole number (1:1)`,
		`h body: expression @(int(contact.name) + 2): int: argument 1 is "abc", not a whole number (1:1)`,
	}
	if strings.Join(errs, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
}

// TestExpressionsSeeContactChanges: what a widget changes of the contact
// (groups, name, language, fields) is what the expressions after it in the
// same turn see, as templates do.
func TestExpressionsSeeContactChanges(t *testing.T) {
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "a", "type": "send_message", "text": "@(contact.groups) @(contact.name) @(contact.language) @(contact.fields.tier)", "exits": {"Next": "u"}},
	  {"id": "u", "type": "update_groups", "add": ["Testers"], "exits": {"Next": "g"}},
	  {"id": "g", "type": "send_message", "text": "@(contact.groups) @contact.groups", "exits": {"Next": "sp"}},
	  {"id": "sp", "type": "split", "rules": [{"type": "expression", "args": ["'Testers' in contact.groups"], "category": "In"}], "exits": {"In": "y", "Other": "o"}},
	  {"id": "y", "type": "send_message", "text": "in", "exits": {"Next": "n"}},
	  {"id": "o", "type": "send_message", "text": "not in", "exits": {"Next": "n"}},
	  {"id": "n", "type": "set_variable", "scope": "contact", "name": "name", "value": "Bo", "exits": {"Next": "b1"}},
	  {"id": "b1", "type": "send_message", "text": "@(contact.name)", "exits": {"Next": "l"}},
	  {"id": "l", "type": "set_variable", "scope": "contact", "name": "language", "value": "fra", "exits": {"Next": "b2"}},
	  {"id": "b2", "type": "send_message", "text": "@(contact.language)", "exits": {"Next": "t"}},
	  {"id": "t", "type": "set_variable", "scope": "user", "name": "tier", "value": "gold", "exits": {"Next": "b3"}},
	  {"id": "b3", "type": "send_message", "text": "@(user.key.tier) @(contact.fields.tier)", "exits": {"Next": "r"}},
	  {"id": "r", "type": "update_groups", "remove_all": true, "exits": {"Next": "c"}},
	  {"id": "c", "type": "send_message", "text": "@(len(contact.groups))", "exits": {"Next": ""}}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "Ann", Language: "eng"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[] Ann eng ", `["Testers"] Testers`, "in", "Bo", "fra", "gold gold", "0"}
	if got := texts(evs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// TestResultKeysWithMarks: a result named in a script whose vowel signs and
// viramas are marks (उम्र, நாடு), or with an accent written as a combining
// mark, is saved under a key that keeps them, and a template names it whole,
// without a warning; a session saved by an earlier version, whose results
// and contact fields are under the keys it gave (उम_र), reads them by the new
// keys and by the old ones.
func TestResultKeysWithMarks(t *testing.T) {
	const text = "@flow.उम्र|@flow.நாடு|@flow.âge_du_client|$flow.key.उम्र|@flow.उम_र|@contact.fields.उम्र"
	q, _ := json.Marshal(text)
	fx := newFixture(t, nil)
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "a", "type": "wait_for_response", "result": "उम्र",
	   "rules": [{"type": "has_number", "category": "N"}], "exits": {"N": "b", "Other": "b"}},
	  {"id": "b", "type": "wait_for_response", "result": "நாடு",
	   "rules": [{"type": "has_text", "category": "T"}], "exits": {"T": "c", "Other": "c"}},
	  {"id": "c", "type": "wait_for_response", "result": "A\u0302ge du Client",
	   "rules": [{"type": "has_number", "category": "N"}], "exits": {"N": "say", "Other": "say"}},
	  {"id": "say", "type": "send_message", "text": `+string(q)+`, "exits": {"Next": "set"}},
	  {"id": "set", "type": "set_variable", "scope": "user", "name": "उम्र", "value": "@flow.उम्र", "exits": {"Next": ""}}]}`)
	for _, old := range []bool{false, true} {
		fields := map[string]string{"उम्र": "stored"}
		if old {
			fields = map[string]string{"उम_र": "stored"}
		}
		s, _, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{URN: "tel:+1555", Fields: fields}})
		if err != nil {
			t.Fatal(err)
		}
		var evs []flows.Event
		for i, in := range []string{"41", "இந்தியா", "7"} {
			if evs, err = fx.e.Resume(context.Background(), f, s, flows.Text(in)); err != nil {
				t.Fatal(err)
			}
			if i == 1 && old && s.Top().Results["उम्र"] != nil {
				// As an earlier version saved them.
				res := s.Top().Results
				res["उम_र"], res["ந_ட"] = res["उम्र"], res["நாடு"]
				delete(res, "उम्र")
				delete(res, "நாடு")
			}
		}
		want := "41|இந்தியா|7|41|41|stored"
		if got := texts(evs); len(got) != 1 || got[0] != want {
			t.Errorf("old keys %v: rendered %q, want %q", old, got, want)
		}
		for _, ev := range evs {
			if ev.Type == flows.EventWarning || ev.Type == flows.EventError {
				t.Errorf("old keys %v: %s: %s", old, ev.Type, ev.Message)
			}
		}
		if got := s.Contact.Fields; len(got) != 1 || got["उम्र"] != "41" {
			t.Errorf("old keys %v: contact fields %q, want उम्र: 41 alone", old, got)
		}
	}
}

// TestNumberOutOfRangeInWebhookAnswer: a number of a webhook's answer out of
// the range of a float64 (1e999) is kept as the text it is written as, so an
// expression reads what @extra renders, not nil; the rest of the answer is
// read as ever.
func TestNumberOutOfRangeInWebhookAnswer(t *testing.T) {
	fx := newFixture(t, map[string][]sim.MockResponse{"http://127.0.0.1:9/*": {{Status: 200, Body: json.RawMessage(`{"a": 1e999, "b": [2.5, -1e999], "c": "x"}`)}}})
	f := fx.load(t, `{"id": "p", "widgets": [
	  {"id": "h", "type": "webhook", "url": "http://127.0.0.1:9/x", "result": "h", "exits": {"Success": "m", "Failure": "m"}},
	  {"id": "m", "type": "send_message", "text": "@extra.a|@(extra.a)|@(extra.a == nil)|@(extra.b)|@(extra.b[0] * 2)|@(extra.c)|@(flow.h.json.a)"}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	want := `1e999|1e999|false|[2.5,"-1e999"]|5|x|1e999`
	if got := texts(evs); len(got) != 1 || got[0] != want {
		t.Errorf("sent %q, want %q (errors %+v)", got, want, eventsOf(evs, flows.EventError))
	}
}
