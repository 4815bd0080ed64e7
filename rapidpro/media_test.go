package rapidpro

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// TestMediaSurveyImport: RapidPro's media survey, which waits for a
// location, a photo and a video, imports without errors, each wait a
// wait_for_response with an info line, and runs: each answer is saved as
// goflow saves it, the URL of the attachment (a location's coordinates),
// with the export's category "All Responses".
func TestMediaSurveyImport(t *testing.T) {
	res := importShared(t, "media_survey.json")
	for _, typ := range []string{"wait_gps", "wait_photo", "wait_video"} {
		if !strings.Contains(res.Report.String(), "info     \"Media Survey\" ruleset ") || !strings.Contains(res.Report.String(), typ+": waits for the next message") {
			t.Errorf("no info line for %s:\n%s", typ, res.Report)
		}
	}
	e := engine.New(widgets.Registered())
	f, err := e.Load(res.Flows[0].JSON)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, evs, err := e.Start(ctx, f, engine.StartParams{Contact: flows.Contact{URN: "tel:+12065551212"}})
	if err != nil {
		t.Fatal(err)
	}
	said := sim.Outputs(evs)
	for _, in := range []flows.Input{
		flows.Text("Ana"),
		{Kind: flows.InputText, Attachments: []string{"image/jpeg:https://example.com/me.jpg"}},
		{Kind: flows.InputText, Attachments: []string{"geo:-1.2921,36.8219"}},
		{Kind: flows.InputText, Text: "look", Attachments: []string{"video/mp4:https://example.com/v.mp4"}},
	} {
		evs, err := e.Resume(ctx, f, s, in)
		if err != nil {
			t.Fatal(err)
		}
		said = append(said, sim.Outputs(evs)...)
	}
	want := []string{"What is your name?", "Send a profile pic", "Send your location", "Send a video of yourself doing something awesome.",
		"Name: Ana \nPhoto: https://example.com/me.jpg\nVideo: look\nhttps://example.com/v.mp4\nLocation: -1.2921,36.8219"}
	if strings.Join(said, "|") != strings.Join(want, "|") {
		t.Errorf("said %q\nwant %q", said, want)
	}
	if s.Status != flows.StatusCompleted {
		t.Errorf("status %s", s.Status)
	}
	for key, want := range map[string]string{"photo": "https://example.com/me.jpg", "location": "-1.2921,36.8219", "video": "look\nhttps://example.com/v.mp4"} {
		r := s.Results()[key]
		if r == nil || r.Value != want || r.Category != "All Responses" {
			t.Errorf("result %s = %+v, want %q in All Responses", key, r, want)
		}
	}
}

// resthookExport has a resthook ruleset whose outcomes lead to messages.
const resthookExport = `{"version": "11.12", "flows": [{"version": "11.12", "base_language": "eng", "flow_type": "M",
 "metadata": {"uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "name": "Signup"}, "entry": "r1",
 "action_sets": [
   {"uuid": "a1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "sent: @flow.notify.category @flow.notify"}}]},
   {"uuid": "a2", "actions": [{"type": "reply", "uuid": "m2", "msg": {"eng": "failed: @flow.notify.category"}}]}],
 "rule_sets": [{"uuid": "r1", "ruleset_type": "resthook", "label": "Notify", "operand": "@step.value",
   "config": {"resthook": "new-signup"},
   "rules": [{"uuid": "x1", "category": {"eng": "Success"}, "destination": "a1", "test": {"type": "webhook_status", "status": "success"}},
     {"uuid": "x2", "category": {"eng": "Failure"}, "destination": "a2", "test": {"type": "webhook_status", "status": "failure"}}]}]}]}`

// TestResthookImport: a resthook ruleset calls the configured webhook
// named after its slug, with RapidPro's payload, and routes on its outcome;
// the import warns what to configure, and without that webhook the flow
// takes Failure with an error naming it.
func TestResthookImport(t *testing.T) {
	res, err := Convert([]byte(resthookExport), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		t.Fatalf("the flow failed:\n%s", res.Report)
	}
	if r := res.Report.String(); !strings.Contains(r, `warning  "Signup" ruleset r1 config.resthook: resthook "new-signup": its subscribers are kept in RapidPro, so it calls the configured webhook "new-signup" instead`) ||
		!strings.Contains(r, "PUT /v1/webhook-configs/new-signup") {
		t.Errorf("report:\n%s", r)
	}
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	run := func(configs map[string]*flows.WebhookConfig) ([]string, []flows.Event) {
		hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Configs: configs})
		e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
		f, err := e.Load(res.Flows[0].JSON)
		if err != nil {
			t.Fatal(err)
		}
		_, evs, err := e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{URN: "tel:+12065551212"}})
		if err != nil {
			t.Fatal(err)
		}
		return sim.Outputs(evs), evs
	}
	said, _ := run(map[string]*flows.WebhookConfig{"new-signup": {URL: srv.URL + "/subscriber"}})
	if strings.Join(said, "|") != "sent: Success 200" {
		t.Errorf("with the webhook configured: said %q", said)
	}
	req := <-got
	var body map[string]any
	if !strings.HasPrefix(req, "POST /subscriber application/json ") || json.Unmarshal([]byte(req[len("POST /subscriber application/json "):]), &body) != nil || body["contact"] == nil || body["flow"] == nil {
		t.Errorf("request %q, want a POST of RapidPro's payload", req)
	}
	said, evs := run(nil)
	if strings.Join(said, "|") != "failed: Failure" {
		t.Errorf("without the webhook: said %q", said)
	}
	var errs []string
	for _, ev := range evs {
		if ev.Type == flows.EventError {
			errs = append(errs, ev.Message)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], `webhook "new-signup" is not configured`) {
		t.Errorf("errors %q, want one naming the webhook", errs)
	}
}

// TestMigrateTo115Resthook: the export RapidPro's 11.5 migration is tested
// with imports, its resthook a call of the configured webhook of its slug.
func TestMigrateTo115Resthook(t *testing.T) {
	res := importShared(t, "migrate_to_11_5.json")
	var doc struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal(res.Flows[0].JSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, w := range doc.Widgets {
		if w["id"] == "728a9a97-f28e-4fb3-a96a-7a7a8d5e5a4c" {
			if w["type"] != "webhook" || w["webhook"] != "test-resthook-event" || w["method"] != "POST" || w["body_mode"] != "rapidpro" || w["result"] != "Response 3" {
				t.Errorf("the resthook became %v", w)
			}
			return
		}
	}
	t.Error("no widget for the resthook ruleset")
}

// TestStepAttachments: @step.attachments.N is the URL of the last input's
// attachment N (from 0), without its content type, as RapidPro gave it; a
// location's coordinates; empty when there is no such attachment.
func TestStepAttachments(t *testing.T) {
	export := []byte(`{"version": "11.12", "flows": [{"version": "11.12", "base_language": "eng", "flow_type": "M",
	 "metadata": {"uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaab", "name": "Pics"}, "entry": "r1",
	 "action_sets": [{"uuid": "a1", "actions": [{"type": "reply", "uuid": "m1", "msg": {"eng": "first <@step.attachments.0> second <@step.attachments.1> text <@step.value>"}}]}],
	 "rule_sets": [{"uuid": "r1", "ruleset_type": "wait_photo", "label": "Photo", "operand": "@step.value",
	   "rules": [{"uuid": "x1", "category": {"eng": "All Responses"}, "destination": "a1", "test": {"type": "true"}}]}]}]}`)
	res, err := Convert(export, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flows[0].Failed {
		t.Fatalf("report:\n%s", res.Report)
	}
	e := engine.New(widgets.Registered())
	f, err := e.Load(res.Flows[0].JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   flows.Input
		want string
	}{
		{flows.Input{Kind: flows.InputText, Text: "me", Attachments: []string{"image/jpeg:https://example.com/me.jpg", "geo:-1.2921,36.8219"}},
			"first <https://example.com/me.jpg> second <-1.2921,36.8219> text <me\nhttps://example.com/me.jpg\n-1.2921,36.8219>"},
		{flows.Text("no photo"), "first <> second <> text <no photo>"},
	} {
		ctx := context.Background()
		s, _, err := e.Start(ctx, f, engine.StartParams{Contact: flows.Contact{URN: "tel:+12065551212"}})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := e.Resume(ctx, f, s, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sim.Outputs(evs), "|"); got != tc.want {
			t.Errorf("sent %q, want %q", got, tc.want)
		}
	}
}
