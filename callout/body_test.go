package callout

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func testSession() (*flows.Session, *flows.Flow) {
	sess := &flows.Session{
		ID: "0b6f3c1e-8d2a-4c59-9a57-3f1e2d4c5b6a", FlowID: "orders", Revision: 3, Status: flows.StatusActive,
		Contact: flows.Contact{URN: "tel:+15551234567", Name: "Ana", Fields: map[string]string{"tier": "gold"}},
		Channel: &flows.Channel{ID: "ch-1", Name: "Support line"},
		Call:    &flows.Call{ID: "CA123", CLI: "+15551234567", To: "+15557654321", State: "in-progress", Start: t0},
		Frames: []*flows.Frame{{FlowID: "orders", Revision: 3, Results: map[string]*flows.Result{
			"order_number": {Name: "Order Number", Value: "A-1001", Category: "Has Text", Input: "a-1001", Widget: "ask_order", At: t0},
		}}},
		Extra:     json.RawMessage(`{"customer":{"id":42}}`),
		Input:     "a-1001",
		Path:      []flows.Step{{Widget: "ask_order", Exit: "Has Text", At: t0}},
		CreatedAt: t0,
	}
	return sess, &flows.Flow{ID: "orders", Name: "Order status", Revision: 3}
}

// roundTrip gives the body as a receiver decodes it.
func roundTrip(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	b, _, err := EncodeBody(body, nil, flows.ContentJSON)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDefaultBody(t *testing.T) {
	sess, flow := testSession()
	got := roundTrip(t, DefaultBody(sess, flow, nil))
	want := map[string]any{
		"text":      "a-1001",
		"contact":   map[string]any{"urn": "tel:+15551234567", "name": "Ana"},
		"flow":      map[string]any{"id": "orders", "name": "Order status", "revision": 3.0},
		"session":   "0b6f3c1e-8d2a-4c59-9a57-3f1e2d4c5b6a",
		"results":   map[string]any{"order_number": map[string]any{"name": "Order Number", "value": "A-1001", "category": "Has Text", "input": "a-1001"}},
		"extra":     map[string]any{"customer": map[string]any{"id": 42.0}},
		"call":      map[string]any{"id": "CA123", "cli": "+15551234567", "to": "+15557654321", "state": "in-progress", "start": "2025-03-04T10:00:00Z"},
		"flow_keys": map[string]any{"order_number": "A-1001"},
		"user_keys": map[string]any{"tier": "gold"},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("default body:\n%s", g)
	}
}

// TestDefaultBodyCallStart: a call's start is sent in RFC 3339 to the
// second, in UTC, as $call.start writes it and docs/webhooks.md shows it,
// whichever encoder writes the body (JSON, form, with extra_json).
func TestDefaultBodyCallStart(t *testing.T) {
	sess, flow := testSession()
	sess.Call.Start = time.Date(2026, 12, 6, 20, 31, 14, 448397177, time.FixedZone("CET", 3600))
	const want = "2026-12-06T19:31:14Z"
	for _, c := range []flows.WebhookConfig{
		{},
		{ExtraJSON: json.RawMessage(`{"source": "ivr"}`)},
		{ContentType: flows.ContentForm},
	} {
		b, _, err := BuildBody(&c, sess, flow, "", "")
		if err != nil {
			t.Fatal(err)
		}
		var call struct{ Start string }
		if c.ContentType == flows.ContentForm {
			q, _ := url.ParseQuery(string(b))
			err = json.Unmarshal([]byte(q.Get("call")), &call)
		} else {
			var body struct{ Call struct{ Start string } }
			err = json.Unmarshal(b, &body)
			call = body.Call
		}
		if err != nil || call.Start != want {
			t.Errorf("content type %q, extra_json %s: start %q (%v), want %q", c.ContentType, c.ExtraJSON, call.Start, err, want)
		}
	}
}

func TestDefaultBodyGroups(t *testing.T) {
	sess, flow := testSession()
	tests := []struct {
		name    string
		groups  *flows.ParamGroups
		session func(*flows.Session)
		present []string
		absent  []string
	}{
		{name: "nil: everything", present: []string{"call", "flow_keys", "user_keys"}},
		{name: "all off", groups: &flows.ParamGroups{}, absent: []string{"call", "flow_keys", "user_keys"}},
		{name: "call only", groups: &flows.ParamGroups{Call: true}, present: []string{"call"}, absent: []string{"flow_keys", "user_keys"}},
		{name: "keys only", groups: &flows.ParamGroups{FlowKeys: true, UserKeys: true}, present: []string{"flow_keys", "user_keys"}, absent: []string{"call"}},
		{name: "messaging session has no call", session: func(s *flows.Session) { s.Call = nil }, absent: []string{"call"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := *sess
			if tt.session != nil {
				tt.session(&s)
			}
			got := roundTrip(t, DefaultBody(&s, flow, tt.groups))
			for _, k := range append([]string{"text", "contact", "flow", "session", "results", "extra"}, tt.present...) {
				if _, ok := got[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present", k)
				}
			}
		})
	}
}

func TestLegacyBody(t *testing.T) {
	sess, flow := testSession()
	got := roundTrip(t, LegacyBody(sess, flow, ""))
	contact := got["contact"].(map[string]any)
	if contact["urn"] != "tel:+15551234567" || contact["name"] != "Ana" || len(contact["uuid"].(string)) != 36 {
		t.Errorf("contact %v", contact)
	}
	if f := got["flow"].(map[string]any); f["uuid"] != "orders" || f["name"] != "Order status" {
		t.Errorf("flow %v", f)
	}
	if r := got["run"].(map[string]any); r["uuid"] != sess.ID || r["created_on"] != "2025-03-04T10:00:00Z" {
		t.Errorf("run %v", r)
	}
	if in := got["input"].(map[string]any); in["text"] != "a-1001" || in["urn"] != "tel:+15551234567" {
		t.Errorf("input %v", in)
	}
	if ch := got["channel"].(map[string]any); ch["uuid"] != "ch-1" || ch["name"] != "Support line" {
		t.Errorf("channel %v", ch)
	}
	res := got["results"].(map[string]any)["order_number"].(map[string]any)
	if res["value"] != "A-1001" || res["category"] != "Has Text" || res["node_uuid"] != "ask_order" {
		t.Errorf("results %v", res)
	}
	if p := got["path"].([]any); len(p) != 1 || p[0].(map[string]any)["node_uuid"] != "ask_order" {
		t.Errorf("path %v", p)
	}
	// The contact UUID is stable for a URN.
	noChannel := *sess
	noChannel.Channel = nil
	again := roundTrip(t, LegacyBody(&noChannel, flow, "sms"))
	if again["contact"].(map[string]any)["uuid"] != contact["uuid"] || again["channel"].(map[string]any)["name"] != "sms" {
		t.Errorf("second payload %v", again)
	}
}

// A step's uuid stays the same once older steps are dropped from the
// session's path.
func TestLegacyBodyStepUUIDsAfterPathCut(t *testing.T) {
	sess, flow := testSession()
	whole := *sess
	whole.Path = []flows.Step{{Widget: "hello", Exit: "Next", At: sess.CreatedAt}, sess.Path[0]}
	cut := whole
	cut.Path, cut.PathDropped = whole.Path[1:], 1
	uuidOf := func(s *flows.Session, i int) any {
		return roundTrip(t, LegacyBody(s, flow, ""))["path"].([]any)[i].(map[string]any)["uuid"]
	}
	if a, b := uuidOf(&whole, 1), uuidOf(&cut, 0); a != b || uuidOf(&whole, 0) == b {
		t.Errorf("step uuid %v in the whole path, %v once the first step is dropped", a, b)
	}
}

func TestEncodeBody(t *testing.T) {
	body := map[string]any{
		"text":    "<b>hi</b> & bye",
		"contact": map[string]any{"urn": "tel:+1", "name": "Ana"},
		"n":       12,
		"extra":   nil,
	}
	tests := []struct {
		name, ct, extra, wantCT, want string
	}{
		{name: "json", ct: "json", wantCT: MIMEJSON,
			want: `{"contact":{"name":"Ana","urn":"tel:+1"},"extra":null,"n":12,"text":"<b>hi</b> & bye"}`},
		{name: "json by default", ct: "", wantCT: MIMEJSON,
			want: `{"contact":{"name":"Ana","urn":"tel:+1"},"extra":null,"n":12,"text":"<b>hi</b> & bye"}`},
		{name: "json with extra merged deeply", ct: "json", extra: `{"contact":{"tier":"gold"},"source":"ivr","n":13}`, wantCT: MIMEJSON,
			want: `{"contact":{"name":"Ana","tier":"gold","urn":"tel:+1"},"extra":null,"n":13,"source":"ivr","text":"<b>hi</b> & bye"}`},
		{name: "form", ct: "form", wantCT: MIMEForm,
			want: "contact=%7B%22name%22%3A%22Ana%22%2C%22urn%22%3A%22tel%3A%2B1%22%7D&extra=&n=12&text=%3Cb%3Ehi%3C%2Fb%3E+%26+bye"},
		{name: "form with extra", ct: "form", extra: `{"source":"ivr","tags":["a","b"]}`, wantCT: MIMEForm,
			want: "contact=%7B%22name%22%3A%22Ana%22%2C%22urn%22%3A%22tel%3A%2B1%22%7D&extra=&n=12&source=ivr&tags=%5B%22a%22%2C%22b%22%5D&text=%3Cb%3Ehi%3C%2Fb%3E+%26+bye"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ct, err := EncodeBody(body, json.RawMessage(tt.extra), tt.ct)
			if err != nil {
				t.Fatal(err)
			}
			if ct != tt.wantCT || string(b) != tt.want {
				t.Fatalf("got %s %s\nwant %s %s", ct, b, tt.wantCT, tt.want)
			}
		})
	}
	if _, _, err := EncodeBody(body, json.RawMessage(`[1]`), "json"); err == nil || !strings.Contains(err.Error(), "extra_json") {
		t.Fatalf("extra_json array: error %v", err)
	}
	// The body map is not modified by the merge.
	if _, ok := body["source"]; ok {
		t.Fatal("EncodeBody modified its input")
	}
}

func TestEncodeCustom(t *testing.T) {
	tests := []struct {
		name, body, extra, ct, want, wantErr string
	}{
		{name: "as rendered", body: `{"order":"A-1"}`, ct: "json", want: `{"order":"A-1"}`},
		{name: "not JSON without extra is sent as is", body: `order=A-1`, ct: "json", want: `order=A-1`},
		{name: "json merge", body: `{"order":"A-1","n":1.50}`, extra: `{"source":"ivr"}`, ct: "json", want: `{"n":1.50,"order":"A-1","source":"ivr"}`},
		{name: "form merge", body: `order=A-1`, extra: `{"source":"ivr","n":2}`, ct: "form", want: `n=2&order=A-1&source=ivr`},
		{name: "json merge into non-object", body: `[1,2]`, extra: `{"a":1}`, ct: "json", wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, err := EncodeCustom(tt.body, json.RawMessage(tt.extra), tt.ct)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Fatalf("got %s (%v), want %s", b, err, tt.want)
			}
		})
	}
}

// The body a receiver gets, for each mode, end to end.
func TestBuildBodySent(t *testing.T) {
	var got struct {
		ct   string
		body string
	}
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.ct, got.body = r.Header.Get("Content-Type"), string(b)
	})
	sess, flow := testSession()
	s := newService(t, Options{})
	tests := []struct {
		name  string
		cfg   flows.WebhookConfig
		check func(t *testing.T)
	}{
		{name: "default json with extra", cfg: flows.WebhookConfig{ExtraJSON: json.RawMessage(`{"source":"ivr"}`)}, check: func(t *testing.T) {
			var m map[string]any
			if json.Unmarshal([]byte(got.body), &m) != nil || m["source"] != "ivr" || m["text"] != "a-1001" || got.ct != MIMEJSON {
				t.Fatalf("%s %s", got.ct, got.body)
			}
		}},
		{name: "default form with groups", cfg: flows.WebhookConfig{ContentType: "form", Include: &flows.ParamGroups{UserKeys: true}}, check: func(t *testing.T) {
			q, _ := url.ParseQuery(got.body)
			if got.ct != MIMEForm || q.Get("text") != "a-1001" || q.Get("user_keys") != `{"tier":"gold"}` || q.Has("call") || q.Has("flow_keys") {
				t.Fatalf("%s %s", got.ct, got.body)
			}
		}},
		{name: "rapidpro", cfg: flows.WebhookConfig{BodyMode: flows.BodyLegacy}, check: func(t *testing.T) {
			if !strings.Contains(got.body, `"run":{"created_on":"2025-03-04T10:00:00Z"`) {
				t.Fatal(got.body)
			}
		}},
		{name: "custom", cfg: flows.WebhookConfig{BodyMode: flows.BodyCustom, Body: "ignored: the widget renders it"}, check: func(t *testing.T) {
			if got.body != `{"order":"A-1001"}` {
				t.Fatal(got.body)
			}
		}},
		{name: "GET sends none by default", cfg: flows.WebhookConfig{Method: "GET"}, check: func(t *testing.T) {
			if got.body != "" || got.ct != "" {
				t.Fatalf("%q %q", got.ct, got.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Merge(nil, &tt.cfg)
			body, ct, err := BuildBody(cfg, sess, flow, `{"order":"A-1001"}`, "")
			if err != nil {
				t.Fatal(err)
			}
			res := call(t, s, NewRequest(cfg, srv.URL, nil, body, ct))
			if res.Outcome != flows.OutcomeSuccess {
				t.Fatal(res.Error)
			}
			tt.check(t)
		})
	}
}
