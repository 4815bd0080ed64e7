package server

import (
	"fmt"
	"slices"
	"testing"
)

// A conversation's session is kept decoded between its channel messages.
// Whatever else changes the session (a resume through the API, a timer, an
// interruption, a repeated message) the next message must see the stored
// version, with the cache on exactly as with it off.
func TestSessionCacheFollowsOtherWrites(t *testing.T) {
	for _, size := range []int{-1, 1, DefaultSessionCache} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.SessionCache = size })
			ts.createFlow(counterFlow)
			ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
			msg := func(from, id string) map[string]any {
				body := fmt.Sprintf(`{"from":%q,"text":"x"}`, from)
				if id != "" {
					body = fmt.Sprintf(`{"from":%q,"text":"x","id":%q}`, from, id)
				}
				return ts.must(200, "POST", "/v1/channels/web/messages", body)
			}
			var got []string
			first := msg("+1", "")
			id := first["id"].(string)
			got = append(got, texts(first)...)
			got = append(got, texts(msg("+1", "a"))...)
			// Another contact in between: with a cache of one session it
			// pushes +1's out.
			msg("+2", "")
			got = append(got, texts(msg("+1", ""))...)
			// A resume through the API writes the session without the
			// channel's read: the next message must see its counter.
			got = append(got, texts(ts.must(200, "POST", "/v1/sessions/"+id+"/resume", `{"text":"api"}`))...)
			got = append(got, texts(msg("+1", "b"))...)
			// A repeated message is answered from the dedupe record and
			// leaves the session as it was.
			got = append(got, texts(msg("+1", "b"))...)
			got = append(got, texts(msg("+1", ""))...)
			want := []string{"n=1", "n=2", "n=3", "n=4", "n=5", "n=5", "n=6"}
			if !slices.Equal(got, want) {
				t.Fatalf("replies %v, want %v", got, want)
			}
			// Once interrupted, the next message starts a new session
			// instead of resuming the cached one.
			ts.must(200, "POST", "/v1/sessions/"+id+"/interrupt", nil)
			next := msg("+1", "")
			if next["id"] == id || !slices.Equal(texts(next), []string{"n=1"}) {
				t.Errorf("after interrupting %s the next message answered %v", id, next)
			}
			if n, max := ts.srv.svc.cache.len(), max(size, 0); n > max {
				t.Errorf("%d sessions cached, limit %d", n, max)
			}
			if size > 1 && ts.srv.svc.cache.len() != 2 {
				t.Errorf("%d sessions cached, want the 2 waiting ones", ts.srv.svc.cache.len())
			}
		})
	}
}

// A flow's current revision is remembered between sessions and forgotten
// when a new revision is saved or published.
func TestCurrentRevisionFollowsPublish(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(`{"id":"greet","name":"Greet","widgets":[{"id":"a","type":"send_message","text":"one"}]}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"greet"}`)
	say := func() []string {
		return texts(ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"hi"}`))
	}
	if got := say(); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("revision 1 answered %v", got)
	}
	ts.must(200, "PUT", "/v1/flows/greet", `{"id":"greet","name":"Greet","widgets":[{"id":"a","type":"send_message","text":"two"}]}`)
	if got := say(); !slices.Equal(got, []string{"two"}) {
		t.Errorf("after saving revision 2 (nothing published): %v, want [two]", got)
	}
	ts.must(200, "POST", "/v1/flows/greet/publish", `{"revision":1}`)
	if got := say(); !slices.Equal(got, []string{"one"}) {
		t.Errorf("after publishing revision 1: %v, want [one]", got)
	}
	ts.must(200, "PUT", "/v1/flows/greet", `{"id":"greet","name":"Greet","widgets":[{"id":"a","type":"send_message","text":"three"}]}`)
	if got := say(); !slices.Equal(got, []string{"one"}) {
		t.Errorf("revision 3 saved while 1 is published: %v, want [one]", got)
	}
	ts.must(200, "POST", "/v1/flows/greet/publish", `{}`)
	if got := say(); !slices.Equal(got, []string{"three"}) {
		t.Errorf("after publishing the latest: %v, want [three]", got)
	}
}
