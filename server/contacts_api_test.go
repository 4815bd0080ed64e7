package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/smalldisk"
	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
)

// colourFlow asks a colour, keeps it as a contact field and waits again.
const colourFlow = `{"id":"colour","name":"Colour","widgets":[
 {"id":"ask","type":"send_message","text":"Your favourite colour?","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Colour","exits":{"Next":"set"}},
 {"id":"set","type":"set_variable","scope":"user","name":"colour","value":"@input","exits":{"Next":"noted"}},
 {"id":"noted","type":"send_message","text":"Noted @contact.fields.colour","exits":{"Next":"more"}},
 {"id":"more","type":"wait_for_response","result":"More","exits":{"Next":""}}]}`

// httpClient calls a test server over a real connection.
type httpClient struct {
	t    *testing.T
	base string
}

func (h httpClient) call(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, m
}

func (h httpClient) must(status int, method, path, body string) map[string]any {
	h.t.Helper()
	got, m := h.call(method, path, body)
	if got != status {
		h.t.Fatalf("%s %s: %d %v, want %d", method, path, got, m, status)
	}
	return m
}

func (h httpClient) message(from, id, text string) map[string]any {
	h.t.Helper()
	return h.must(200, "POST", "/v1/channels/sms/messages", fmt.Sprintf(`{"from":%q,"id":%q,"text":%q}`, from, id, text))
}

func colourServer(t *testing.T, mod func(*Config)) (*testServer, httpClient) {
	t.Helper()
	ts := newTestServer(t, mod)
	ts.createFlow(colourFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"sms","default_flow":"colour"}`)
	return ts, httpClient{t: t, base: ts.listen()}
}

// TestContactReadAndErase: GET /v1/contacts/{urn} shows a contact's
// fields and sessions, written in any form the entry points make normal;
// DELETE erases it: its sessions and message ids are gone, a waiting
// session is interrupted first (session.finished says so to
// subscribers), and the next message of the URN starts a new contact,
// without the old fields and without resuming anything, and is not taken
// for a repeat of a message id the erased contact sent.
func TestContactReadAndErase(t *testing.T) {
	got := make(chan delivery.Envelope, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env delivery.Envelope
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &env)
		got <- env
	}))
	defer hook.Close()
	ts, h := colourServer(t, func(c *Config) {
		c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Now = time.Now // the dispatcher schedules by this clock
	})
	const urn, escaped = "tel:+12065550101", "tel:%2B12065550101"
	first := h.message("+1 206 555 0101", "m1", "hi")
	h.message("+12065550101", "m2", "red")
	old := first["id"].(string)

	for _, path := range []string{escaped, urn, "TEL:%2B1%20206%20555-0101", "%20tel:+1(206)5550101"} {
		c := h.must(200, "GET", "/v1/contacts/"+path, "")
		if c["urn"] != urn || c["fields"].(map[string]any)["colour"] != "red" || fmt.Sprint(c["stored_under"]) != "["+urn+"]" {
			t.Errorf("GET /v1/contacts/%s: %v, want %s with its colour", path, c, urn)
		}
		ss := c["sessions"].([]any)
		if len(ss) != 1 || ss[0].(map[string]any)["id"] != old || ss[0].(map[string]any)["status"] != "waiting" ||
			ss[0].(map[string]any)["flow"] != "colour" || ss[0].(map[string]any)["channel"] != "sms" {
			t.Errorf("GET /v1/contacts/%s: sessions %v, want the waiting one", path, ss)
		}
	}

	sub := h.must(201, "POST", "/v1/webhooks", fmt.Sprintf(`{"url":%q,"events":["session.finished"]}`, hook.URL))
	h.must(204, "DELETE", "/v1/contacts/"+escaped, "")
	for finished := false; !finished; {
		select {
		case env := <-got:
			if env.Type == "webhook.ping" {
				continue // the subscription's test
			}
			var d struct {
				SessionID string       `json:"session_id"`
				Status    flows.Status `json:"status"`
			}
			_ = json.Unmarshal(env.Data, &d)
			if env.Type != "session.finished" || d.SessionID != old || d.Status != flows.StatusInterrupted {
				t.Errorf("event after the erasure: %s %s, want session.finished of %s, interrupted", env.Type, env.Data, old)
			}
			finished = true
		case <-time.After(10 * time.Second):
			t.Fatal("no session.finished delivered for the session the erasure interrupted")
		}
	}
	h.must(204, "DELETE", "/v1/webhooks/"+sub["id"].(string), "")

	for _, req := range [][2]string{{"GET", "/v1/contacts/" + escaped}, {"DELETE", "/v1/contacts/" + escaped}, {"GET", "/v1/sessions/" + old},
		{"GET", "/v1/sessions/" + old + "/events"}} {
		status, m := h.call(req[0], req[1], "")
		e, _ := m["error"].(map[string]any)
		if status != 404 || e["code"] != CodeNotFound || e["message"] == "" {
			t.Errorf("%s %s after the erasure: %d %v, want 404 not_found", req[0], req[1], status, m)
		}
	}
	if list := h.must(200, "GET", "/v1/sessions?contact="+escaped, ""); len(list["sessions"].([]any)) != 0 {
		t.Errorf("sessions listed after the erasure: %v", list)
	}

	// m1 again: not a repeat (its record went), a new conversation.
	again := h.message("+12065550101", "m1", "red")
	if again["id"] == old || strings.Join(texts(again), "|") != "Your favourite colour?" {
		t.Errorf("the URN's next message: %v, want a new session asking again", again)
	}
	c := h.must(200, "GET", "/v1/contacts/"+escaped, "")
	if f := c["fields"].(map[string]any); len(f) != 0 {
		t.Errorf("the new contact has fields %v, want none", f)
	}
	if ss := c["sessions"].([]any); len(ss) != 1 || ss[0].(map[string]any)["id"] != again["id"] {
		t.Errorf("the new contact's sessions: %v, want only %v", ss, again["id"])
	}
	st, err := ts.srv.store.Stats(context.Background())
	if err != nil || st.Contacts != 1 || st.Processed != 1 || st.Sessions[flows.StatusWaiting] != 1 || st.Sessions[flows.StatusInterrupted] != 0 {
		t.Errorf("store counters after the erasure and one message: %+v %v", st, err)
	}
}

// TestContactOlderKeys: a contact stored under the URN as an earlier
// version kept it (tel:+1 206-555-0102), and a test contact of the same
// URN: GET shows the older key's contact and sessions with the normal
// URN's, DELETE erases both keys, and leaves the test contact, which only
// a URN naming it (sim:...) reads and erases.
func TestContactOlderKeys(t *testing.T) {
	ts, h := colourServer(t, nil)
	ctx := context.Background()
	ch, err := ts.srv.svc.channels.get("sms")
	if err != nil {
		t.Fatal(err)
	}
	const oldKey, urn = "tel:+1 206-555-0102", "tel:+12065550102"
	// As an earlier version started it: the URN kept as it came.
	oldStart, err := ts.srv.svc.Start(ctx, StartRequest{FlowID: "colour", Channel: ch, Variables: map[string]string{},
		Contact: flows.Contact{URN: oldKey, Name: "Old Ada", Fields: map[string]string{"colour": "blue"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.must(201, "POST", "/v1/sessions", `{"flow":"colour","contact":{"urn":"tel:+12065550102","name":"Ada"}}`)
	sandbox := h.must(201, "POST", "/v1/sessions", `{"flow":"colour","environment":"sandbox","contact":{"urn":"tel:+12065550102","name":"Tester"}}`)

	c := h.must(200, "GET", "/v1/contacts/tel:%2B12065550102", "")
	older, _ := c["older"].([]any)
	if c["name"] != "Ada" || fmt.Sprint(c["stored_under"]) != fmt.Sprintf("[%s %s]", urn, oldKey) || len(older) != 1 ||
		older[0].(map[string]any)["urn"] != oldKey || older[0].(map[string]any)["name"] != "Old Ada" ||
		older[0].(map[string]any)["fields"].(map[string]any)["colour"] != "blue" || len(c["sessions"].([]any)) != 2 {
		t.Errorf("GET of a contact with an older key: %v", c)
	}
	sim := h.must(200, "GET", "/v1/contacts/sim:tel:%2B1%20206%20555%200102", "")
	if sim["urn"] != "sim:"+urn || sim["name"] != "Tester" || len(sim["sessions"].([]any)) != 1 {
		t.Errorf("GET of the test contact: %v", sim)
	}

	h.must(204, "DELETE", "/v1/contacts/tel:%2B12065550102", "")
	for _, k := range []string{urn, oldKey} {
		if _, err := ts.srv.store.Contact(ctx, k); !errorsIsNotFound(err) {
			t.Errorf("contact %q after the erasure: %v, want not found", k, err)
		}
	}
	if _, err := ts.srv.store.LoadSession(ctx, oldStart.ID); !errorsIsNotFound(err) {
		t.Errorf("the session under the older key after the erasure: %v, want not found", err)
	}
	if keys, err := ts.srv.store.ContactKeys(ctx, nil, func(k string) bool { return strings.Contains(k, "555") }); err != nil || fmt.Sprint(keys) != "[sim:"+urn+"]" {
		t.Errorf("keys left: %q %v, want only the test contact's", keys, err)
	}
	if s, err := ts.srv.store.LoadSession(ctx, sandbox["id"].(string)); err != nil || s.Status != flows.StatusWaiting {
		t.Errorf("the test contact's session: %v %v, want it waiting still", s, err)
	}
	h.must(204, "DELETE", "/v1/contacts/sim:"+urn, "")
	if _, err := ts.srv.store.LoadSession(ctx, sandbox["id"].(string)); !errorsIsNotFound(err) {
		t.Errorf("the test contact's session after its erasure: %v", err)
	}
}

// TestContactEraseRacesTurns: a message of a contact and the contact's
// erasure sent at once leave either no contact (the turn ran first) or
// the new contact the message started after the erasure, never a contact
// with part of what the erased one had.
func TestContactEraseRacesTurns(t *testing.T) {
	ts, h := colourServer(t, nil)
	ctx := context.Background()
	none, fresh := 0, 0
	for i := range 30 {
		from := fmt.Sprintf("+1206555%04d", i)
		urn := "tel:" + from
		old := h.message(from, "a", "hi")["id"].(string)
		var wg sync.WaitGroup
		wg.Add(2)
		var turn map[string]any
		var turnStatus, delStatus int
		go func() {
			defer wg.Done()
			turnStatus, turn = h.call("POST", "/v1/channels/sms/messages", `{"from":"`+from+`","id":"b","text":"red"}`)
		}()
		go func() { defer wg.Done(); delStatus, _ = h.call("DELETE", "/v1/contacts/tel:%2B"+from[1:], "") }()
		wg.Wait()
		if turnStatus != 200 || delStatus != 204 {
			t.Fatalf("round %d: message %d, erasure %d", i, turnStatus, delStatus)
		}
		status, c := h.call("GET", "/v1/contacts/tel:%2B"+from[1:], "")
		switch {
		case status == 404:
			none++
			if turn["id"] != old {
				t.Errorf("round %d: no contact left, but the message started %v instead of resuming %s", i, turn["id"], old)
			}
		case status == 200:
			fresh++
			ss := c["sessions"].([]any)
			if len(c["fields"].(map[string]any)) != 0 || len(ss) != 1 || ss[0].(map[string]any)["id"] != turn["id"] || turn["id"] == old {
				t.Errorf("round %d: the contact left is not the new one of the message after the erasure: %v (message %v)", i, c, turn)
			}
		default:
			t.Fatalf("round %d: GET %d %v", i, status, c)
		}
		if _, err := ts.srv.store.LoadSession(ctx, old); !errorsIsNotFound(err) {
			t.Errorf("round %d: the erased session %s: %v", i, old, err)
		}
		if _, found, err := ts.srv.store.ProcessedReply(ctx, "sms", urn, "a"); found || err != nil {
			t.Errorf("round %d: the erased contact's message a is still recorded (%v)", i, err)
		}
	}
	t.Logf("%d rounds left no contact, %d a new one", none, fresh)
}

// TestContactURNErrors: a URN that names no contact is refused naming the
// path parameter, as the other endpoints refuse one.
func TestContactURNErrors(t *testing.T) {
	ts, h := colourServer(t, nil)
	for _, m := range []string{"GET", "DELETE"} {
		r := rawPathRequest(t, h.base, m, "/v1/contacts/tel:%ZZ", "")
		e := r.errorOf(t)
		if msg, _ := e["message"].(string); r.Status != 400 || e["field"] != "urn" || !strings.Contains(msg, "not validly escaped") {
			t.Errorf("%s of a URN badly escaped: %d %s, want 400 naming urn", m, r.Status, r.Body)
		}
	}
	var cases []apiErrorCase
	for _, m := range []string{"GET", "DELETE"} {
		cases = append(cases,
			apiErrorCase{name: m + " no address", method: m, path: "/v1/contacts/tel:", status: 400, code: CodeInvalidField, field: "urn"},
			apiErrorCase{name: m + " no scheme", method: m, path: "/v1/contacts/:%2B1555", status: 400, code: CodeInvalidField, field: "urn"},
			apiErrorCase{name: m + " invisible", method: m, path: "/v1/contacts/tel:%2B1555%E2%80%8B0100", status: 400, code: CodeInvalidField, field: "urn"},
			apiErrorCase{name: m + " too long", method: m, path: "/v1/contacts/tel:" + strings.Repeat("1", store.MaxIDLen), status: 400, code: CodeInvalidField, field: "urn"},
			apiErrorCase{name: m + " unknown", method: m, path: "/v1/contacts/tel:%2B15550199", status: 404, code: CodeNotFound},
		)
	}
	ts.expectErrors(t, cases)
	r := ts.do("GET", "/v1/contacts/tel:%2B1555%E2%80%8B0100", nil)
	if msg, _ := r.errorOf(t)["message"].(string); msg != `urn: the contact's URN "tel:+1555\u200b0100" holds the invisible character U+200B at byte 9: write the URN without it` {
		t.Errorf("message %q: want it to name the parameter and U+200B", msg)
	}
}

// TestContactFailureLogsNoURN: a contact's read or erasure that fails in
// the server (a damaged record: 500) answers with what was not done and
// why, naming the contact, and logs, above the debug level, what was not
// done and the kind of failure only: no URN of the contact, in any form,
// nor what is stored of it. At the debug level the error is logged in
// full.
func TestContactFailureLogsNoURN(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			ts, h := colourServer(t, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
			})
			const row, index = "tel:+12065550103", "tel:+12065550104"
			for _, from := range []string{row, index} {
				h.message(from, "m1-"+from, "hi")
				h.message(from, "m2-"+from, "periwinkle")
			}
			// One contact's stored row does not decode; the other has a
			// dedupe entry of the wrong length, which only its erasure reads: a
			// damaged store file, as the row is.
			err := ts.srv.store.(*store.Bolt).Group(context.Background(), func(tx *bbolt.Tx) error {
				if err := tx.Bucket([]byte("contact_rows")).Put([]byte(row), []byte("\xffperiwinkle")); err != nil {
					return err
				}
				return tx.Bucket([]byte("processed_index")).Put([]byte(index+"\x00short"), nil)
			})
			if err != nil {
				t.Fatal(err)
			}

			for _, c := range []struct{ method, urn, notDone, cause string }{
				{"GET", row, "the contact was not read: ", "corrupt stored row"},
				{"DELETE", row, "the contact was not erased: ", "corrupt stored row"},
				{"DELETE", index, "the contact was not erased: ", "(bucket processed_index): 22 bytes, not 33"},
			} {
				status, m := h.call(c.method, "/v1/contacts/"+url.PathEscape(c.urn), "")
				e, _ := m["error"].(map[string]any)
				msg, _ := e["message"].(string)
				if status != 500 || e["code"] != CodeInternal || !strings.HasPrefix(msg, c.notDone) ||
					!strings.Contains(msg, c.urn) || !strings.Contains(msg, c.cause) {
					t.Errorf("%s %s: %d %v, want 500 saying %q, naming the contact and %q", c.method, c.urn, status, m, c.notDone, c.cause)
				}
			}
			if c := h.must(200, "GET", "/v1/contacts/"+url.PathEscape(index), ""); c["fields"].(map[string]any)["colour"] != "periwinkle" {
				t.Errorf("the contact whose erasure failed: %v, want it whole", c)
			}

			l := logs.String()
			if n := strings.Count(l, `level=ERROR msg="request failed"`); n != 3 {
				t.Errorf("%d request failed errors logged, want 3:\n%s", n, l)
			}
			for _, want := range []string{`err="the contact was not read: the store file is damaged`, `err="the contact was not erased: the store file is damaged`} {
				if !strings.Contains(l, want) {
					t.Errorf("the log has no %s:\n%s", want, l)
				}
			}
			info := l
			if level == slog.LevelDebug {
				info = linesAboveDebug(l)
				if !strings.Contains(l, `level=DEBUG msg="request failed, the error in full"`) || !strings.Contains(l, "(bucket processed_index): 22 bytes, not 33") {
					t.Errorf("the debug log: want the errors in full:\n%s", l)
				}
			}
			for _, urn := range []string{row, index} {
				for _, form := range []string{urn[len("tel:+"):], hex.EncodeToString([]byte(urn)), url.PathEscape(urn)} {
					if strings.Contains(info, form) {
						t.Errorf("the log above debug holds %q:\n%s", form, info)
					}
				}
			}
			if strings.Contains(info, "periwinkle") {
				t.Errorf("the log above debug holds the contact's colour:\n%s", info)
			}
		})
	}
}

// TestContactEraseWhileWritesFail: while the store's writes fail, an
// erasure is refused before it is tried, with the status and cause a turn
// gets (507 on a full disk) and a Retry-After, and the contact is left
// whole; once there is room it is erased.
func TestContactEraseWhileWritesFail(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	logs := &syncbuf.Buffer{}
	ts, h := colourServer(t, func(c *Config) {
		c.DataDir = disk.Dir
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	h.message("+12065550103", "m1", "hi")
	h.message("+12065550103", "m2", "red")

	// A turn whose write needs pages the full disk cannot give.
	big := make([]byte, 150<<10)
	rand.Read(big)
	disk.FillUp()
	h.must(http.StatusInsufficientStorage, "POST", "/v1/sessions",
		fmt.Sprintf(`{"flow":"colour","contact":{"urn":"tel:+15550101","fields":{"notes":%q}}}`, hex.EncodeToString(big)))

	r := ts.do("DELETE", "/v1/contacts/tel:%2B12065550103", nil)
	e := r.errorOf(t)
	msg, _ := e["message"].(string)
	if r.Status != http.StatusInsufficientStorage || e["code"] != CodeDiskFull || r.Header.Get("Retry-After") != "1" ||
		!strings.HasPrefix(msg, "the store's disk is full: no space left on device; the store's writes fail since ") ||
		!strings.Contains(msg, "so the contact was not erased and nothing was written; retry once there is room") {
		t.Fatalf("an erasure while writes fail: %d %s (Retry-After %q), want 507 saying the contact was not erased",
			r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	c := h.must(200, "GET", "/v1/contacts/tel:%2B12065550103", "")
	if c["fields"].(map[string]any)["colour"] != "red" || len(c["sessions"].([]any)) != 1 ||
		c["sessions"].([]any)[0].(map[string]any)["status"] != "waiting" {
		t.Errorf("the contact after a refused erasure: %v, want it whole", c)
	}
	if l := logs.String(); strings.Contains(l, "2065550103") || !strings.Contains(l, "level=ERROR msg=\"store writes fail") {
		t.Errorf("the log at info: want the store's writes failing, and no URN of the contact:\n%s", l)
	}

	disk.Free()
	ts.clock.Advance(store.DefaultWriteProbeInterval)
	h.must(204, "DELETE", "/v1/contacts/tel:%2B12065550103", "")
	h.must(404, "GET", "/v1/contacts/tel:%2B12065550103", "")
}

// TestContactWithoutScheme: a URN given without a scheme names the
// contact with tel:, as channels name such senders: its record is the
// one stored under tel:, and what POST /v1/sessions without a channel
// kept under the URN as given is listed with the other keys; with
// nothing under tel:, the record is the one under the URN as given.
func TestContactWithoutScheme(t *testing.T) {
	_, h := colourServer(t, nil)
	h.message("+15550100222", "m1", "hi")
	h.message("+15550100222", "m2", "red")
	if c := h.must(200, "GET", "/v1/contacts/%2B15550100222", ""); c["urn"] != "tel:+15550100222" || c["fields"].(map[string]any)["colour"] != "red" || c["older"] != nil {
		t.Errorf("GET /v1/contacts/%%2B15550100222: %v, want tel:+15550100222 with its colour and nothing older", c)
	}
	h.must(201, "POST", "/v1/sessions", `{"flow":"colour","contact":{"urn":"+15550100222","name":"Given"}}`)
	for _, path := range []string{"%2B15550100222", "+15550100222", "tel:%2B15550100222"} {
		c := h.must(200, "GET", "/v1/contacts/"+path, "")
		older, _ := c["older"].([]any)
		if c["urn"] != "tel:+15550100222" || c["name"] != "" || c["fields"].(map[string]any)["colour"] != "red" ||
			fmt.Sprint(c["stored_under"]) != "[tel:+15550100222 +15550100222]" || len(older) != 1 ||
			older[0].(map[string]any)["urn"] != "+15550100222" || older[0].(map[string]any)["name"] != "Given" ||
			len(c["sessions"].([]any)) != 2 {
			t.Errorf("GET /v1/contacts/%s: %v, want tel:+15550100222 with its colour, +15550100222 under older", path, c)
		}
	}

	h.must(201, "POST", "/v1/sessions", `{"flow":"colour","contact":{"urn":"+15550100333","name":"Only given"}}`)
	c := h.must(200, "GET", "/v1/contacts/%2B15550100333", "")
	if c["urn"] != "+15550100333" || c["name"] != "Only given" || c["older"] != nil || fmt.Sprint(c["stored_under"]) != "[+15550100333]" {
		t.Errorf("GET /v1/contacts/%%2B15550100333: %v, want the contact stored under it", c)
	}
}

// TestContactEverySpelling: a number kept without a scheme and with
// spaces (POST /v1/sessions without a channel keeps it only trimmed) is
// read and erased through the tel: URN of the number, as through any
// other spelling of it; the contacts of other digits, of another scheme
// and of the national number are other people's, and are left.
func TestContactEverySpelling(t *testing.T) {
	ts, h := colourServer(t, nil)
	ctx := context.Background()
	h.must(201, "POST", "/v1/sessions", `{"flow":"colour","contact":{"urn":"+1 555 222 3333","fields":{"k":"v"}}}`)
	others := []string{"+1 555 222 3334", "whatsapp:+15552223333", "tel:5552223333", "555 222 3333", "sim:tel:+15552223333"}
	for _, urn := range others {
		env := ""
		if strings.HasPrefix(urn, "sim:") {
			urn, env = strings.TrimPrefix(urn, "sim:"), `"environment":"sandbox",`
		}
		h.must(201, "POST", "/v1/sessions", fmt.Sprintf(`{"flow":"colour",%s"contact":{"urn":%q,"fields":{"k":"other"}}}`, env, urn))
	}

	for _, path := range []string{"tel:%2B15552223333", "%2B15552223333", "TEL:%2B1-555-222-3333", "%2B1%20555%20222%203333"} {
		c := h.must(200, "GET", "/v1/contacts/"+path, "")
		var fields []string
		if f := c["fields"].(map[string]any)["k"]; f != nil {
			fields = append(fields, fmt.Sprint(f))
		}
		older, _ := c["older"].([]any)
		for _, o := range older {
			fields = append(fields, fmt.Sprint(o.(map[string]any)["fields"].(map[string]any)["k"]))
		}
		if fmt.Sprint(c["stored_under"]) != "[+1 555 222 3333]" || fmt.Sprint(fields) != "[v]" || len(c["sessions"].([]any)) != 1 {
			t.Errorf("GET /v1/contacts/%s: %v, want only the contact kept as +1 555 222 3333", path, c)
		}
	}

	h.must(204, "DELETE", "/v1/contacts/tel:%2B15552223333", "")
	for _, path := range []string{"tel:%2B15552223333", "%2B1%20555%20222%203333"} {
		if status, m := h.call("GET", "/v1/contacts/"+path, ""); status != 404 {
			t.Errorf("GET /v1/contacts/%s after the erasure: %d %v, want 404", path, status, m)
		}
	}
	if _, err := ts.srv.store.Contact(ctx, "+1 555 222 3333"); !errorsIsNotFound(err) {
		t.Errorf("the contact kept as +1 555 222 3333 after the erasure: %v, want not found", err)
	}
	for _, key := range []string{"+1 555 222 3334", "whatsapp:+15552223333", "tel:5552223333", "555 222 3333", "sim:tel:+15552223333"} {
		if c, err := ts.srv.store.Contact(ctx, key); err != nil || c.Fields["k"] != "other" {
			t.Errorf("the contact of %s after the erasure: %v %v, want it left", key, c, err)
		}
	}
}

// linesAboveDebug is a text log without its debug lines.
func linesAboveDebug(l string) string {
	var above []string
	for _, line := range strings.Split(l, "\n") {
		if !strings.Contains(line, "level=DEBUG") {
			above = append(above, line)
		}
	}
	return strings.Join(above, "\n")
}
