package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/widgets"
)

// oldFlow was stored before checks it fails were added: a rule category
// named Other, a field in another case, an unknown function, a contact
// name set_variable cannot set and a negative expire_minutes.
const oldFlow = `{"id":"old","name":"Old","expire_minutes":-1,"widgets":[
 {"id":"ask","type":"wait_for_response","result":"answer","timeout":60,
  "rules":[{"type":"has_text","args":[],"category":"Other"}],"exits":{"Other":"say","Timeout":"late"}},
 {"id":"say","type":"send_message","Text":"You said @(uper(input))","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"contact","name":"age","value":"3"},
 {"id":"late","type":"send_message","text":"Too late"}]}`

// storeRaw writes flow revisions into a new store in dir as earlier versions
// left them, without the checks of today's API.
func storeRaw(t *testing.T, dir string, docs map[string]string) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, doc := range docs {
		if _, err := st.SaveFlow(context.Background(), store.NewFlow{ID: id, Name: id, Kind: "messaging", Definition: []byte(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func pathOf(s map[string]any) []string {
	var out []string
	for _, p := range s["path"].([]any) {
		out = append(out, p.(map[string]any)["widget"].(string))
	}
	return out
}

// A flow stored by an earlier version keeps working: messages and timers
// run it, its channel can be saved again, start-up warns once about it, and
// only a new revision must pass today's checks.
func TestStoredFlowOfEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"old": oldFlow})
	var logs syncbuf.Buffer
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	warns := strings.Count(logs.String(), "level=WARN")
	if warns != 1 || !strings.Contains(logs.String(), "flow=old revision=1") ||
		!strings.Contains(logs.String(), "unknown function uper") || !strings.Contains(logs.String(), `category \"Other\"`) {
		t.Errorf("start-up logged %d warnings, want one naming the flow, its revision and problems:\n%s", warns, logs.String())
	}

	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"old"}`)
	ts.must(200, "PUT", "/v1/channels/web", `{"name":"Web","default_flow":"old"}`)

	first := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"hi"}`)
	if first["status"] != "waiting" {
		t.Fatalf("first message: %v", first)
	}
	done := ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"hello"}`)
	if done["status"] != "completed" || !slices.Contains(texts(done), "You said ") {
		t.Errorf("answer: %v", done)
	}

	// A waiting session's timer fires once and the session moves on.
	ts.must(200, "POST", "/v1/channels/web/messages", `{"from":"+2","text":"hi"}`)
	ts.clock.Advance(61 * time.Second)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B2", nil)["sessions"].([]any)
	if len(list) != 1 {
		t.Fatalf("sessions of +2: %v", list)
	}
	s := ts.must(200, "GET", "/v1/sessions/"+list[0].(map[string]any)["id"].(string), nil)
	if p := pathOf(s); s["status"] != "completed" || !slices.Equal(p, []string{"ask", "late"}) {
		t.Errorf("after the timeout: %v %v", s["status"], p)
	}

	// New revisions are checked as new flows are.
	r := ts.do("PUT", "/v1/flows/old", oldFlow)
	if r.Status != 422 || !strings.Contains(string(r.Body), "unknown function uper") {
		t.Errorf("PUT of the old definition: %d %s", r.Status, r.Body)
	}
}

// A stored revision that does not load at all (its widget type is gone)
// ends its waiting sessions with an error naming it, once, instead of
// failing every timer scan, and a request that needs it is told which
// flow and revision are at fault.
func TestStoredFlowThatDoesNotLoad(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	const recorded = `{"id":"rec","name":"Rec","widgets":[
	 {"id":"wait","type":"wait_for_response","result":"A","timeout":60,"exits":{"Next":"log","Timeout":"log"}},
	 {"id":"log","type":"record","action":"answered","fields":{"a":"@input"}}]}`
	first := newTestServer(t, func(c *Config) { c.DataDir = dir; c.Now = clk.Now })
	first.createFlow(recorded)
	first.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"rec"}`)
	first.must(200, "POST", "/v1/channels/web/messages", `{"from":"+1","text":"hi"}`)
	if err := first.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, n := range widgets.Registered().Names() {
		if n != widgets.TypeRecord {
			names = append(names, n)
		}
	}
	var logs syncbuf.Buffer
	ts := newTestServer(t, func(c *Config) {
		c.DataDir, c.Now = dir, clk.Now
		c.Registry = widgets.Registered().Subset(names...)
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if !strings.Contains(logs.String(), `level=WARN msg="stored flow does not load`) || !strings.Contains(logs.String(), "flow=rec revision=1") {
		t.Errorf("start-up did not warn about the flow:\n%s", logs.String())
	}

	r := ts.do("POST", "/v1/channels/web/messages", `{"from":"+2","text":"hi"}`)
	e := r.errorOf(t)
	if r.Status != 500 || e["field"] != nil || !strings.Contains(e["message"].(string), `stored flow "rec" revision 1 does not load`) {
		t.Errorf("a new session on the flow: %d %s", r.Status, r.Body)
	}

	clk.Advance(61 * time.Second)
	if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := ts.srv.svc.scanTimers(context.Background()); err != nil || n != 0 {
		t.Errorf("the timer is still due after it fired: %d %v; the server's log:\n%s", n, err, logs.String())
	}
	s := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B1", nil)["sessions"].([]any)[0].(map[string]any)
	if s["status"] != "failed" {
		t.Fatalf("the session is %v, want failed", s["status"])
	}
	evs := ts.must(200, "GET", "/v1/sessions/"+s["id"].(string)+"/events", nil)["events"].([]any)
	found := false
	for _, ev := range evs {
		if m, _ := ev.(map[string]any)["message"].(string); strings.Contains(m, `stored flow "rec" revision 1 does not load`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no event names the flow that does not load: %v", evs)
	}
}

// A store file with a damaged page that only the start-up scan of stored
// flows reads is refused with the store's error naming the file, as parley
// compact refuses it, never a panic.
func TestStartDamagedFlowPage(t *testing.T) {
	src := t.TempDir()
	docs := map[string]string{}
	for i := range 40 {
		id := fmt.Sprintf("flow%02d", i)
		docs[id] = fmt.Sprintf(`{"id":%q,"name":%q,"widgets":[{"id":"say","type":"send_message","text":%q}]}`,
			id, id, strings.Repeat("x", 1500))
	}
	storeRaw(t, src, docs)
	data, err := os.ReadFile(filepath.Join(src, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	refused := 0
	for page := 2; page < len(data)/ps; page++ {
		damaged := bytes.Clone(data)
		for i := page * ps; i < (page+1)*ps; i++ {
			damaged[i] = 0xFF
		}
		dir := t.TempDir()
		path := filepath.Join(dir, DBFile)
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler), Examples: fstest.MapFS{},
			Registry: widgets.Registered(), TimerInterval: time.Hour})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("page %d: Shutdown: %v", page, err)
			}
			cancel()
			continue
		}
		refused++
		if want := "store file " + path + " is corrupt or truncated: "; !errors.Is(err, store.ErrCorrupt) ||
			!strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "restore it from a backup") {
			t.Errorf("page %d: New: %v, want an error starting %q that says to restore a backup", page, err, want)
		}
	}
	if refused == 0 {
		t.Error("no damaged page was refused")
	}
}

// A simulator draft stored before a check it now fails runs as it is
// stored when started unchanged from its definition, as {"flow": id} runs
// it: with the problem among its warnings.
func TestStoredDraftRunsUnchanged(t *testing.T) {
	dir := t.TempDir()
	draft := `{"id":"sim.old","name":"Old","widgets":[{"id":"m","type":"send_message","text":"Hi @(title(contact.name, 1))"}]}`
	storeRaw(t, dir, map[string]string{"sim.old": draft})
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	for _, body := range []string{`{"flow":"sim.old"}`, `{"definition":` + draft + `}`} {
		r := ts.do("POST", "/v1/simulator/sessions", body)
		if r.Status != 201 || !strings.Contains(string(r.Body), "takes 1 argument, got 2") {
			t.Errorf("%s: %d %s, want it run with the problem among its warnings", body, r.Status, r.Body)
		}
	}
}

// A flow stored with a wait's timeout and an expire_minutes too large for a
// time.Duration (refused when written now) waits and expires after 365
// days, the most either may be, instead of a time that wrapped around: the
// largest int fired at once. Both fall due together then, and the session
// expires, its time being up, rather than take the Timeout path.
func TestStoredFlowWithTooLongTimes(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"long": `{"id":"long","name":"Long","expire_minutes":9223372036854775807,"widgets":[
	 {"id":"w","type":"wait_for_response","timeout":9223372036854775807,"exits":{"Next":"a","Timeout":"a"}},
	 {"id":"a","type":"send_message","text":"A"}]}`})
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	start := ts.clock.Now()
	id := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "long"})["id"].(string)
	ts.clock.Advance(time.Second)
	ctx := context.Background()
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err := ts.srv.svc.store.LoadSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	year := start.Add(365 * 24 * time.Hour)
	if sess.Status != "waiting" || sess.Wait == nil || sess.Wait.TimeoutAt == nil || !sess.Wait.TimeoutAt.Equal(year) {
		t.Fatalf("session %s, wait %+v: want waiting until %v", sess.Status, sess.Wait, year)
	}
	if sess.ExpiresAt == nil || !sess.ExpiresAt.Equal(year) {
		t.Errorf("expires at %v, want %v", sess.ExpiresAt, year)
	}
	ts.clock.Advance(365 * 24 * time.Hour)
	if _, err := ts.srv.svc.scanTimers(ctx); err != nil {
		t.Fatal(err)
	}
	if s := ts.must(200, "GET", "/v1/sessions/"+id, nil); s["status"] != "expired" || !slices.Equal(pathOf(s), []string{"w"}) {
		t.Errorf("after 365 days: %v %v", s["status"], pathOf(s))
	}
}

// A flow stored by an earlier version with fields given as null runs as it
// ran, each null read as the field's zero value, and start-up warns about
// it; a new flow or revision with one is refused naming its path, by POST,
// PUT, the check and the simulator alike.
func TestStoredFlowWithNulls(t *testing.T) {
	const nulls = `{"id":"nulls","name":"Nulls","language":null,"widgets":[
 {"id":"hi","type":"send_message","text":"Hi","quick_replies":["a",null],"note":null,"exits":{"Next":""}}]}`
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"nulls": nulls})
	var logs syncbuf.Buffer
	ts := newTestServer(t, func(c *Config) {
		c.DataDir = dir
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if !strings.Contains(logs.String(), "flow=nulls revision=1") || !strings.Contains(logs.String(), "widgets[0].quick_replies[1]: expected a string, got JSON null") {
		t.Errorf("start-up did not warn of the nulls:\n%s", logs.String())
	}
	s := ts.must(201, "POST", "/v1/sessions", `{"flow":"nulls","contact":{"urn":"tel:+15550001"}}`)
	if msgs := s["messages"].([]any); len(msgs) != 1 || fmt.Sprint(msgs[0].(map[string]any)["quick_replies"]) != "[a]" {
		t.Errorf("the stored flow ran as %v, want its null quick reply as \"\", which is not sent", s["messages"])
	}
	const path = "widgets[0].quick_replies[1]"
	for _, r := range []response{
		ts.do("PUT", "/v1/flows/nulls", nulls),
		ts.do("POST", "/v1/flows", strings.Replace(nulls, `"nulls"`, `"nulls2"`, 1)),
		// Not the stored revision, which the simulator would run as stored.
		ts.do("POST", "/v1/simulator/sessions", `{"definition":`+strings.Replace(nulls, `"Hi"`, `"Hello"`, 1)+`}`),
	} {
		if r.Status != 422 || !strings.Contains(string(r.Body), path+`","message":"expected a string, got JSON null"`) {
			t.Errorf("%d %s, want 422 naming %s", r.Status, r.Body, path)
		}
	}
	if v := ts.must(200, "POST", "/v1/flows/validate", strings.Replace(nulls, `"nulls"`, `"nulls2"`, 1)); v["valid"] != false || !strings.Contains(fmt.Sprint(v["errors"]), path) {
		t.Errorf("validate: %v", v)
	}
}
