package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
)

// batchReplies posts a batch and returns its replies, which must be one per
// message.
func (ts *testServer) batchReplies(channel string, n int, body string) []map[string]any {
	ts.t.Helper()
	got := ts.must(200, "POST", "/v1/channels/"+channel+"/messages/batch", body)
	list, _ := got["replies"].([]any)
	if len(list) != n {
		ts.t.Fatalf("%d replies to %d messages: %v", len(list), n, got)
	}
	out := make([]map[string]any, n)
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

func TestChannelMessagesBatch(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)

	// Two contacts, interleaved, one of them written two ways: each
	// contact's messages run in the order given, and each reply is in its
	// message's place.
	rs := ts.batchReplies("web", 6, `{"messages":[
		{"from":"+15550001","text":"start"},
		{"from":"+15550002","text":"start"},
		{"from":"tel:+15550001","text":"a"},
		{"from":"+15550002","text":"b"},
		{"from":"+15550001","text":"c"},
		{"from":"+15550002","text":"d"}]}`)
	want := []string{"n=1", "n=1", "n=2", "n=2", "n=3", "n=3"}
	for i, r := range rs {
		if got := texts(r); !slices.Equal(got, []string{want[i]}) {
			t.Errorf("reply %d: %v, want %s", i, got, want[i])
		}
	}
	if rs[0]["id"] != rs[2]["id"] || rs[0]["id"] == rs[1]["id"] {
		t.Errorf("sessions: %v %v %v, want the first and third the same, the second another", rs[0]["id"], rs[2]["id"], rs[1]["id"])
	}

	// A message's own error is its entry, with the status it would have had
	// alone and its place in the field; the others are handled.
	rs = ts.batchReplies("web", 3, `{"messages":[{"from":"+15550003","text":"start","id":"m1"},{"text":"no sender"},{"from":"+15550003","text":"x","id":"m2"}]}`)
	e, _ := rs[1]["error"].(map[string]any)
	if e == nil || e["status"] != float64(400) || e["code"] != CodeBadRequest || e["field"] != "messages[1].from" || e["message"] == "" {
		t.Errorf("message without from: %v", rs[1])
	}
	if !slices.Equal(texts(rs[0]), []string{"n=1"}) || !slices.Equal(texts(rs[2]), []string{"n=2"}) {
		t.Errorf("messages around the bad one: %v %v", rs[0], rs[2])
	}

	// Ids dedupe as they do one by one: the same batch again gets the same
	// answers and moves nothing on.
	again := ts.batchReplies("web", 3, `{"messages":[{"from":"+15550003","text":"start","id":"m1"},{"text":"no sender"},{"from":"+15550003","text":"x","id":"m2"}]}`)
	for _, i := range []int{0, 2} {
		if again[i]["id"] != rs[i]["id"] || !slices.Equal(texts(again[i]), texts(rs[i])) {
			t.Errorf("repeated message %d answered %v, want %v", i, again[i], rs[i])
		}
	}
	next := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+15550003","text":"y"}`)
	if !slices.Equal(texts(next), []string{"n=3"}) {
		t.Errorf("after the repeated batch the counter is at %v, want n=3", texts(next))
	}
}

func TestChannelMessagesBatchRefused(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BatchLimit = 2 })
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	msg := `{"from":"+1","text":"hi"}`
	ts.expectErrors(t, []apiErrorCase{
		{"empty batch", "POST", "/v1/channels/web/messages/batch", `{"messages":[]}`, 400, CodeBadRequest, "messages"},
		{"no messages", "POST", "/v1/channels/web/messages/batch", `{}`, 400, CodeBadRequest, "messages"},
		{"over the limit", "POST", "/v1/channels/web/messages/batch", fmt.Sprintf(`{"messages":[%s,%s,%s]}`, msg, msg, msg), 400, CodeBadRequest, "messages"},
		{"unknown field", "POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1","text":"a"},{"from":"+1","txt":"hi"}]}`, 400, CodeUnknownField, "messages[1].txt"},
		{"wrong type", "POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1","text":5}]}`, 400, CodeInvalidField, "messages[0].text"},
		{"malformed", "POST", "/v1/channels/web/messages/batch", `{"messages":[`, 400, CodeMalformedJSON, ""},
		{"unknown channel", "POST", "/v1/channels/nope/messages/batch", fmt.Sprintf(`{"messages":[%s]}`, msg), 404, CodeNotFound, ""},
	})
	// Nothing was handled: the contact's first message now starts at 1.
	if r := ts.must(200, "POST", "/v1/channels/web/messages", msg); !slices.Equal(texts(r), []string{"n=1"}) {
		t.Errorf("after refused batches: %v", texts(r))
	}
}

// boomWidget panics when a session reaches it.
type boomWidget struct{ flows.WidgetBase }

func (w *boomWidget) Validate(flows.Compiler) error   { return nil }
func (w *boomWidget) ExitNames() []string             { return nil }
func (w *boomWidget) Execute(flows.Run) flows.Outcome { panic("boom") }

// A panic in one batched message's turn is that message's 500; the others
// are answered and the server goes on.
func TestChannelMessagesBatchPanic(t *testing.T) {
	reg := widgets.Registered().Subset("send_message")
	reg.Register("boom", func() flows.Widget { return &boomWidget{} })
	ts := newTestServer(t, func(c *Config) { c.Registry = reg })
	ts.createFlow(joinFlow)
	ts.createFlow(`{"id":"boom","name":"Boom","widgets":[{"id":"b","type":"boom"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"join","triggers":[{"keyword":"boom","flow":"boom"}]}`)
	rs := ts.batchReplies("web", 2, `{"messages":[{"from":"+1","text":"boom"},{"from":"+2","text":"hello"}]}`)
	if e, _ := rs[0]["error"].(map[string]any); e == nil || e["status"] != float64(500) || e["code"] != CodeInternal || e["field"] != "messages[0]" {
		t.Errorf("panicking message: %v", rs[0])
	}
	if !slices.Equal(texts(rs[1]), []string{"Welcome to the club"}) {
		t.Errorf("the other message: %v", rs[1])
	}
	if r := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"hello"}`); !slices.Equal(texts(r), []string{"Welcome to the club"}) {
		t.Errorf("after the panic: %v", r)
	}
}

// A field of the wrong type is named by its place in the message too.
func TestBatchWrongTypeMessage(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	r := ts.do("POST", "/v1/channels/web/messages/batch", `{"messages":[{"from":"+1","text":5}]}`)
	if e := r.errorOf(t); r.Status != 400 || !strings.HasPrefix(e["message"].(string), "messages[0].text: expected a string") {
		t.Errorf("wrong type: %d %v", r.Status, e)
	}
}

// A message refused because of the channel (its default_flow or a
// trigger's flow became a voice flow) names the channel's field in its
// entry, as the single-message endpoint does, not a field of the message;
// a message's own problem keeps its place in the batch.
func TestBatchChannelFieldErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"fm","name":"Text","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`)
	ts.must(201, "PUT", "/v1/channels/c", `{"default_flow":"fm","triggers":[{"keyword":"join","flow":"fm"}]}`)
	ts.must(200, "PUT", "/v1/flows/fm", `{"kind":"voice","name":"Now voice","widgets":[{"id":"a","type":"say","text":"spoken"}]}`)
	rs := ts.batchReplies("c", 3, `{"messages":[{"from":"+1556","text":"hello"},{"from":"+1557","text":"join now"},{"text":"no sender"}]}`)
	for i, want := range []string{"default_flow", "triggers[0].flow", "messages[2].from"} {
		e, _ := rs[i]["error"].(map[string]any)
		if e == nil || e["field"] != want {
			t.Errorf("entry %d: %v, want an error naming %s", i, rs[i], want)
		}
	}
	if e, _ := rs[0]["error"].(map[string]any); e["status"] != float64(422) || e["code"] != CodeNoFlow {
		t.Errorf("entry 0: %v, want 422 %s", rs[0], CodeNoFlow)
	}
}
