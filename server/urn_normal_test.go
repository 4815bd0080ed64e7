package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// visitsFlow greets a contact with its URN, number and visits so far,
// counts the visit in a contact field and waits for an answer.
const visitsFlow = `{"id":"visits","name":"Visits","widgets":[
 {"id":"hello","type":"send_message","text":"urn=[@contact.urn] tel=[@contact.tel] visits=[@contact.fields.visits]","exits":{"Next":"inc"}},
 {"id":"inc","type":"set_variable","scope":"user","name":"visits","expression":"int(default(user.key.visits, 0)) + 1","exits":{"Next":"wait"}},
 {"id":"wait","type":"wait_for_response","result":"Answer","exits":{"Next":"bye"}},
 {"id":"bye","type":"send_message","text":"got [@input] urn=[@contact.urn]","exits":{"Next":""}}]}`

const visitsCallFlow = `{"id":"visits-ivr","kind":"voice","name":"Visits","widgets":[
 {"id":"greet","type":"say","text":"urn [@contact.urn] cli [$call.cli] visits [@contact.fields.visits]","exits":{"Next":"inc"}},
 {"id":"inc","type":"set_variable","scope":"user","name":"visits","expression":"int(default(user.key.visits, 0)) + 1","exits":{"Next":"bye"}},
 {"id":"bye","type":"hangup"}]}`

func visitsServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, nil)
	ts.createFlow(visitsFlow)
	ts.createFlow(visitsCallFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw","type":"twilio","default_flow":"visits","voice_flow":"visits-ivr"}`)
	return ts
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func firstText(t *testing.T, reply map[string]any) string {
	t.Helper()
	ts := texts(reply)
	if len(ts) == 0 {
		t.Fatalf("no message in %v", reply)
	}
	return ts[0]
}

// One person is one contact however the number is written: with spaces,
// dashes, dots, brackets, a space after the scheme or none, in any case of
// the scheme, on every entry point.
func TestURNWrittenAnyWayIsOneContact(t *testing.T) {
	ts := visitsServer(t)
	for i, from := range []string{"+15550100100", "+1 555 010 0100", "tel:+1-555-010-0100", "+1 (555) 010.0100", "tel: +15550100100", "TEL:+15550100100", " Tel:+1\u00a0555\u00a0010\u00a00100 "} {
		// Each message ends the last one's wait, the next starts anew.
		for _, text := range []string{"hi", "bye"} {
			r := ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":`+jsonString(from)+`,"text":"`+text+`"}`)
			if text == "hi" {
				visits := ""
				if i > 0 {
					visits = strconv.Itoa(i)
				}
				want := "urn=[tel:+15550100100] tel=[+15550100100] visits=[" + visits + "]"
				if got := firstText(t, r); got != want {
					t.Errorf("from %q: %q, want %q", from, got, want)
				}
			}
		}
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B15550100100", nil)
	if n := len(list["sessions"].([]any)); n != 7 {
		t.Errorf("tel:+15550100100 has %d sessions, want 7", n)
	}
}

// A CRM starts a session for a number written its own way; the person's
// reply through Twilio, From written as Twilio writes it, resumes it.
func TestSessionStartedForNumberResumedByTwilioReply(t *testing.T) {
	ts := visitsServer(t)
	ts.must(201, "POST", "/v1/sessions", `{"flow":"visits","channel":"tw","contact":{"urn":"+1 555 060 0600","fields":{"visits":"4"}}}`)
	r := twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+15550600600"}, "Body": {"yes"}, "MessageSid": {"SM1"}}, "")
	if r.Status != 200 || !strings.Contains(string(r.Body), "got [yes] urn=[tel:+15550600600]") {
		t.Errorf("Twilio reply: %d %s, want the session resumed", r.Status, r.Body)
	}
	// Twilio's WhatsApp senders, in any case of the scheme.
	for i, from := range []string{"whatsapp:+15550600600", "WhatsApp:+1 555 060 0600"} {
		r := twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {from}, "Body": {"hi"}, "MessageSid": {"SMw" + strconv.Itoa(i)}}, "")
		want := map[int]string{0: "urn=[whatsapp:+15550600600] tel=[] visits=[]", 1: "got [hi] urn=[whatsapp:+15550600600]"}[i]
		if r.Status != 200 || !strings.Contains(string(r.Body), want) {
			t.Errorf("Twilio From %q: %d %s, want %q", from, r.Status, r.Body, want)
		}
	}
}

// A channel's scheme is kept in lower case, as the URNs it makes.
func TestChannelSchemeLowerCase(t *testing.T) {
	ts := visitsServer(t)
	ch := ts.must(201, "POST", "/v1/channels", `{"id":"wa","default_flow":"visits","scheme":"WhatsApp"}`)
	if ch["scheme"] != "whatsapp" {
		t.Errorf("channel scheme %v, want whatsapp", ch["scheme"])
	}
	r := ts.must(200, "POST", "/v1/channels/wa/messages", `{"from":"+15550100100","text":"hi"}`)
	if got, want := firstText(t, r), "urn=[whatsapp:+15550100100] tel=[] visits=[]"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// White space around a URN is dropped by every entry point alike:
// POST /v1/sessions without a channel, the listing's contact filter, the
// calls API, whose $call.cli is the caller's number.
func TestURNWhiteSpaceEverywhere(t *testing.T) {
	ts := visitsServer(t)
	r := ts.must(201, "POST", "/v1/sessions", `{"flow":"visits","contact":{"urn":" tel:+15550100100 "}}`)
	if got, want := firstText(t, r), "urn=[tel:+15550100100] tel=[+15550100100] visits=[]"; got != want {
		t.Errorf("session: %q, want %q", got, want)
	}
	for _, q := range []string{"tel:%2B15550100100%20", "%20tel:%2B1%20555%20010%200100", "TEL:%2B15550100100"} {
		list := ts.must(200, "GET", "/v1/sessions?contact="+q, nil)
		if n := len(list["sessions"].([]any)); n != 1 {
			t.Errorf("contact=%s lists %d sessions, want 1", q, n)
		}
	}
	for i, c := range []struct{ from, cli string }{
		{" +15550100100 ", "+15550100100"},
		{"tel:+1 555 010 0100", "+15550100100"},
		{"TEL:+15550100100", "+15550100100"},
	} {
		r := ts.must(201, "POST", "/v1/channels/tw/calls", `{"call_id":"CA`+strconv.Itoa(i)+`","from":`+jsonString(c.from)+`}`)
		want := "urn [tel:+15550100100] cli [" + c.cli + "] visits [" + strconv.Itoa(i+1) + "]"
		if got := firstText(t, r); got != want {
			t.Errorf("call from %q: %q, want %q", c.from, got, want)
		}
	}
	r = ts.must(201, "POST", "/v1/sessions", `{"flow":"visits-ivr","call":{"id":"CX","from":" tel:+1 555 010 0100"}}`)
	if got, want := firstText(t, r), "urn [tel:+15550100100] cli [+15550100100] visits [4]"; got != want {
		t.Errorf("session of a call: %q, want %q", got, want)
	}
}

// A URN with a control character or an invisible format character inside
// is refused, naming the field: it would be another contact of the same
// address, one no one can see the difference of.
func TestURNInvisibleCharactersRefused(t *testing.T) {
	ts := visitsServer(t)
	var cases []apiErrorCase
	for _, urn := range []string{"tel:+1555\u200b0100100", "tel:+1555\n0100100", "\ufefftel:+15550100100", "tel:+1555\t0100100"} {
		q := jsonString(urn)
		cases = append(cases,
			apiErrorCase{name: "message from " + q, method: "POST", path: "/v1/channels/tw/messages", body: `{"from":` + q + `,"text":"hi"}`, field: "from"},
			apiErrorCase{name: "call from " + q, method: "POST", path: "/v1/channels/tw/calls", body: `{"call_id":"c` + strconv.Itoa(len(cases)) + `","from":` + q + `}`, field: "from"},
			apiErrorCase{name: "session contact " + q, method: "POST", path: "/v1/sessions", body: `{"flow":"visits","contact":{"urn":` + q + `}}`, field: "contact.urn"},
			apiErrorCase{name: "session contact on a channel " + q, method: "POST", path: "/v1/sessions", body: `{"flow":"visits","channel":"tw","contact":{"urn":` + q + `}}`, field: "contact.urn"},
			apiErrorCase{name: "listing " + q, method: "GET", path: "/v1/sessions?contact=" + url.QueryEscape(urn), field: "contact"},
		)
	}
	for i := range cases {
		cases[i].status = 400
		if cases[i].method == "POST" {
			cases[i].code = CodeInvalidField
		} else {
			cases[i].code = CodeBadRequest
		}
	}
	ts.expectErrors(t, cases)
	r := ts.do("POST", "/v1/channels/tw/messages", `{"from":"+1555\u200b0100100","text":"hi"}`)
	if msg, _ := r.errorOf(t)["message"].(string); !strings.Contains(msg, "U+200B") {
		t.Errorf("message %q: want it to name U+200B", msg)
	}
	r = twilioForm(ts, "/twilio/tw/sms", url.Values{"From": {"+1555\u200b0100100"}, "Body": {"hi"}, "MessageSid": {"SM1"}}, "")
	if r.Status != 400 || r.errorOf(t)["field"] != "From" {
		t.Errorf("Twilio From with U+200B: %d %s, want 400 naming From", r.Status, r.Body)
	}
}

// A contact and a waiting session stored by a version before URNs were
// normalised, under the URN as it was sent, are not lost: the waiting
// session resumes for the sender written that way, and the contact's
// fields carry over to the normal URN.
func TestURNStoredBeforeNormalisingStillFound(t *testing.T) {
	ts := visitsServer(t)
	ch, err := ts.srv.svc.channels.get("tw")
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier version started them: the URN kept as it came.
	old := func(urn string) {
		t.Helper()
		if _, err := ts.srv.svc.Start(context.Background(), StartRequest{FlowID: "visits", Channel: ch, Variables: map[string]string{},
			Contact: flows.Contact{URN: urn, Fields: map[string]string{"visits": "7"}}}); err != nil {
			t.Fatal(err)
		}
	}
	old("tel:+1 555 010 0100")
	r := ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":"+1 555 010 0100","text":"resumed"}`)
	if got, want := firstText(t, r), "got [resumed] urn=[tel:+1 555 010 0100]"; got != want {
		t.Errorf("waiting session stored under the URN as sent: %q, want %q", got, want)
	}
	r = ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":"+1 555 010 0100","text":"hi"}`)
	if got, want := firstText(t, r), "urn=[tel:+15550100100] tel=[+15550100100] visits=[8]"; got != want {
		t.Errorf("contact stored under the URN as sent: %q, want %q", got, want)
	}
	r = ts.must(200, "POST", "/v1/channels/tw/messages", `{"from":"+15550100100","text":"again"}`)
	if got, want := firstText(t, r), "got [again] urn=[tel:+15550100100]"; got != want {
		t.Errorf("the normal URN's session: %q, want %q", got, want)
	}
	// POST /v1/sessions reads the old contact, and interrupts its waiting
	// session on the channel.
	old("tel:+1-555-020-0200")
	r = ts.must(201, "POST", "/v1/sessions", `{"flow":"visits","channel":"tw","contact":{"urn":"tel:+1-555-020-0200"}}`)
	if got, want := firstText(t, r), "urn=[tel:+15550200200] tel=[+15550200200] visits=[8]"; got != want {
		t.Errorf("POST /v1/sessions: %q, want %q", got, want)
	}
	list := ts.must(200, "GET", "/v1/sessions?contact=tel:%2B1-555-020-0200&status=waiting", nil)
	if s := list["sessions"].([]any); len(s) != 1 || s[0].(map[string]any)["contact"] != "tel:+15550200200" {
		t.Errorf("waiting sessions of the contact: %v, want only the new one", s)
	}
	list = ts.must(200, "GET", "/v1/sessions?contact=tel:%2B1-555-020-0200&status=interrupted", nil)
	if s := list["sessions"].([]any); len(s) != 1 || s[0].(map[string]any)["contact"] != "tel:+1-555-020-0200" {
		t.Errorf("interrupted sessions of the contact: %v, want the old one, listed by the URN as given", s)
	}
}

// A channel's country makes the national numbers of its tel: senders
// E.164, as a RapidPro channel's does; a session waiting on the channel
// under the national number from before it had a country still resumes,
// but a contact stored there alone is not read: another channel may have
// stored another person under those digits.
func TestChannelCountryMakesNumbersE164(t *testing.T) {
	ts := visitsServer(t)
	ts.expectErrors(t, []apiErrorCase{{name: "unknown country", method: "POST", path: "/v1/channels", body: `{"id":"xx","default_flow":"visits","country":"XX"}`, status: 422, code: CodeInvalidField, field: "country"}})
	ts.must(201, "POST", "/v1/channels", `{"id":"us","default_flow":"visits"}`)
	ts.must(200, "POST", "/v1/channels/us/messages", `{"from":"2065551212","text":"hi"}`)
	ch := ts.must(200, "PUT", "/v1/channels/us", `{"default_flow":"visits","country":" us"}`)
	if ch["country"] != "US" {
		t.Errorf("country %v, want US", ch["country"])
	}
	for i, c := range []struct{ from, want string }{
		{"(206) 555-1212", "got [(206) 555-1212] urn=[tel:2065551212]"},
		{"(206) 555-1212", "urn=[tel:+12065551212] tel=[+12065551212] visits=[]"},
		{"+1 206 555 1212", "got [+1 206 555 1212] urn=[tel:+12065551212]"},
		{"12345", "urn=[tel:12345] tel=[12345] visits=[]"},
		{"+442079460000", "urn=[tel:+442079460000] tel=[+442079460000] visits=[]"},
	} {
		r := ts.must(200, "POST", "/v1/channels/us/messages", `{"from":`+jsonString(c.from)+`,"text":`+jsonString(c.from)+`,"id":"m`+strconv.Itoa(i)+`"}`)
		if got := firstText(t, r); got != c.want {
			t.Errorf("from %q: %q, want %q", c.from, got, c.want)
		}
	}
}

// A national number sent at once on a channel with a country and on one
// without, and to POST /v1/sessions, takes the same locks: the requests
// finish, one after the other, instead of each waiting for the other's. A
// deadlock shows as no request finishing for a long while, however slow the
// machine (the race detector, a loaded CI runner) makes each one.
func TestOneNumberOnTwoChannelsAtOnceDoesNotDeadlock(t *testing.T) {
	ts := visitsServer(t)
	ts.must(201, "POST", "/v1/channels", `{"id":"fr","default_flow":"visits","country":"FR"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"plain","default_flow":"visits"}`)
	done := make(chan int, 3)
	var finished atomic.Int64
	go func() {
		for i := 0; i < 300; i++ {
			from := fmt.Sprintf("06 12 34 %02d %02d", i/100, i%100)
			var wg sync.WaitGroup
			for _, req := range []struct{ path, body string }{
				{"/v1/channels/fr/messages", `{"from":"` + from + `","text":"hi"}`},
				{"/v1/channels/plain/messages", `{"from":"` + from + `","text":"hi"}`},
				{"/v1/sessions", `{"flow":"visits","channel":"plain","contact":{"urn":"tel:` + from + `"}}`},
			} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := ts.do("POST", req.path, req.body)
					finished.Add(1)
					if r.Status != 200 && r.Status != 201 {
						done <- r.Status
					}
				}()
			}
			wg.Wait()
		}
		done <- 0
	}()
	const stall = 30 * time.Second
	last, lastAt := int64(-1), time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case status := <-done:
			if status != 0 {
				t.Fatalf("a request answered %d", status)
			}
			return
		case now := <-tick.C:
			if n := finished.Load(); n != last {
				last, lastAt = n, now
			} else if now.Sub(lastAt) > stall {
				t.Fatalf("no request of one number on two channels finished in %v (%d of 900 had): they wait for each other", stall, n)
			}
		}
	}
}

// On a channel with a country, a number with an extension or other
// parameters is a contact of its own, kept as it was sent but for its
// separators, not the number without them; the parameters of a tel: URN
// (RFC 3966) keep their '-'.
func TestChannelCountryKeepsExtensionsApart(t *testing.T) {
	ts := visitsServer(t)
	ts.must(201, "POST", "/v1/channels", `{"id":"us","default_flow":"visits","country":"US"}`)
	for i, c := range []struct{ from, want string }{
		{"(202) 555-0143", "urn=[tel:+12025550143] tel=[+12025550143] visits=[]"},
		{"2025550143;ext=9", "urn=[tel:2025550143;ext=9] tel=[2025550143;ext=9] visits=[]"},
		{"2025550143 ext. 77", "urn=[tel:2025550143ext77] tel=[2025550143ext77] visits=[]"},
		{"202-555-0143 x77", "urn=[tel:2025550143x77] tel=[2025550143x77] visits=[]"},
		{"202 555 0143;phone-context=+44", "urn=[tel:2025550143;phone-context=+44] tel=[2025550143;phone-context=+44] visits=[]"},
	} {
		r := ts.must(200, "POST", "/v1/channels/us/messages", `{"from":`+jsonString(c.from)+`,"text":"hi","id":"m`+strconv.Itoa(i)+`"}`)
		if got := firstText(t, r); got != c.want {
			t.Errorf("from %q: %q, want %q", c.from, got, c.want)
		}
	}
}

// Contacts are stored once for all channels: a national number a channel
// without a country stored is not read for a sender of the same digits on
// a channel whose country makes them another number (0791112345 in GB and
// in France are two people). A session waiting on the channel under its
// national number, from before it had a country, still resumes.
func TestChannelCountryDoesNotReadAnotherChannelsNationalContact(t *testing.T) {
	ts := visitsServer(t)
	ts.must(201, "POST", "/v1/channels", `{"id":"gb","default_flow":"visits"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"fr","default_flow":"visits","country":"FR"}`)
	ts.must(201, "POST", "/v1/channels", `{"id":"fr2","default_flow":"visits"}`)
	for _, from := range []string{"0791112345", "0791112399"} {
		ts.must(200, "POST", "/v1/channels/gb/messages", `{"from":"`+from+`","text":"hi"}`)
		ts.must(200, "POST", "/v1/channels/gb/messages", `{"from":"`+from+`","text":"bye"}`)
	}
	ts.must(200, "POST", "/v1/channels/gb/messages", `{"from":"0791112345","text":"hi"}`) // waits on gb
	r := ts.must(200, "POST", "/v1/channels/fr/messages", `{"from":"07 91 11 23 45","text":"bonjour"}`)
	if got, want := firstText(t, r), "urn=[tel:+33791112345] tel=[+33791112345] visits=[]"; got != want {
		t.Errorf("French sender of a number a GB sender has: %q, want %q", got, want)
	}
	r = ts.must(201, "POST", "/v1/sessions", `{"flow":"visits","channel":"fr","contact":{"urn":"0791112399"}}`)
	if got, want := firstText(t, r), "urn=[tel:+33791112399] tel=[+33791112399] visits=[]"; got != want {
		t.Errorf("POST /v1/sessions for a number a GB sender has: %q, want %q", got, want)
	}
	r = ts.must(200, "POST", "/v1/channels/gb/messages", `{"from":"0791112345","text":"still here"}`)
	if got, want := firstText(t, r), "got [still here] urn=[tel:0791112345]"; got != want {
		t.Errorf("the GB sender's session: %q, want %q", got, want)
	}
	// fr2's sender waits under the national number; fr2 then gets a country.
	ts.must(200, "POST", "/v1/channels/fr2/messages", `{"from":"0612341059","text":"hi"}`)
	ts.must(200, "PUT", "/v1/channels/fr2", `{"default_flow":"visits","country":"FR"}`)
	r = ts.must(200, "POST", "/v1/channels/fr2/messages", `{"from":"06 12 34 10 59","text":"oui"}`)
	if got, want := firstText(t, r), "got [oui] urn=[tel:0612341059]"; got != want {
		t.Errorf("session waiting on the channel under the national number: %q, want %q", got, want)
	}
}

// Sessions wait per contact and channel: after one channel's message has
// carried a contact stored under an old key to the normal URN, the session
// waiting under the old key on another channel still resumes.
func TestURNStoredBeforeNormalisingResumesOnEachChannel(t *testing.T) {
	ts := visitsServer(t)
	ts.must(201, "POST", "/v1/channels", `{"id":"tw2","default_flow":"visits"}`)
	for _, id := range []string{"tw", "tw2"} {
		ch, err := ts.srv.svc.channels.get(id)
		if err != nil {
			t.Fatal(err)
		}
		// As an earlier version started them: the URN kept as it came.
		if _, err := ts.srv.svc.Start(context.Background(), StartRequest{FlowID: "visits", Channel: ch, Variables: map[string]string{},
			Contact: flows.Contact{URN: "tel:+1 555 030 0300", Fields: map[string]string{"visits": "7"}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ channel, text, want string }{
		{"tw", "one", "got [one] urn=[tel:+1 555 030 0300]"},
		{"tw", "hi", "urn=[tel:+15550300300] tel=[+15550300300] visits=[8]"},
		{"tw2", "two", "got [two] urn=[tel:+1 555 030 0300]"},
		{"tw2", "hi", "urn=[tel:+15550300300] tel=[+15550300300] visits=[9]"},
	} {
		r := ts.must(200, "POST", "/v1/channels/"+m.channel+"/messages", `{"from":"+1 555 030 0300","text":"`+m.text+`"}`)
		if got := firstText(t, r); got != m.want {
			t.Errorf("%s %q: %q, want %q", m.channel, m.text, got, m.want)
		}
	}
}

// A sender written as its URN is made has no older URN to look under, and
// finding that out makes nothing.
func TestOlderURNsOfNormalSender(t *testing.T) {
	ch := &Channel{ID: "web", Scheme: "tel"}
	for _, c := range []struct {
		from, urn string
		older     bool
	}{
		{"+15550100100", "tel:+15550100100", false},
		{" +15550100100 ", "tel:+15550100100", false},
		{"tel:+15550100100", "tel:+15550100100", false},
		{"+1 555 010 0100", "tel:+15550100100", true},
		{"TEL:+15550100100", "tel:+15550100100", true},
	} {
		if got := ch.olderURNsOf(c.from, c.urn); (len(got) > 0) != c.older {
			t.Errorf("olderURNsOf(%q, %q) = %v, want older URNs: %v", c.from, c.urn, got, c.older)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ch.olderURNsOf("+15550100100", "tel:+15550100100") }); n != 0 {
		t.Errorf("olderURNsOf of a normal sender: %v allocations, want 0", n)
	}
}

// A channel stored by a version that kept its scheme's case ("WhatsApp")
// made its senders' URNs in that case: a PUT of the channel with the same
// scheme in lower case, as GET shows it, keeps those contacts and the
// sessions waiting under them reachable, also after a restart, while the
// channel is shown and its new senders' URNs made in lower case.
func TestChannelPutKeepsStoredSchemeCase(t *testing.T) {
	dir := t.TempDir()
	storeRaw(t, dir, map[string]string{"visits": visitsFlow})
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, doc := range map[string]string{
		"wa":  `{"id":"wa","scheme":"WhatsApp","default_flow":"visits"}`,
		"sms": `{"id":"sms","scheme":"TEL","default_flow":"visits"}`,
	} {
		if err := st.PutConfig(context.Background(), store.Channels, id, json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.DataDir = dir })
	ch, err := ts.srv.svc.channels.get("wa")
	if err != nil {
		t.Fatal(err)
	}
	// As the earlier version started them: the URN in the scheme's case.
	for _, urn := range []string{"WhatsApp:+15550100100", "WhatsApp:+15550200200", "WhatsApp:+15550300300"} {
		if _, err := ts.srv.svc.Start(context.Background(), StartRequest{FlowID: "visits", Channel: ch, Variables: map[string]string{},
			Contact: flows.Contact{URN: urn, Fields: map[string]string{"visits": "7"}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := ts.must(200, "PUT", "/v1/channels/wa", string(ts.do("GET", "/v1/channels/wa", nil).Body))
	if got["scheme"] != "whatsapp" {
		t.Errorf("the channel after a GET-PUT round trip: scheme %v, want whatsapp", got["scheme"])
	}
	resumed := func(ts *testServer, from string) {
		t.Helper()
		r := ts.must(200, "POST", "/v1/channels/wa/messages", `{"from":"`+from+`","text":"back"}`)
		if got, want := firstText(t, r), "got [back] urn=[WhatsApp:"+from+"]"; got != want {
			t.Errorf("a sender whose session waits under the stored scheme's case: %q, want %q", got, want)
		}
	}
	resumed(ts, "+15550100100")
	// A PUT of the scheme in another case keeps it too.
	ts.must(200, "PUT", "/v1/channels/wa", `{"scheme":"WHATSAPP","default_flow":"visits"}`)
	resumed(ts, "+15550200200")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ts = newTestServer(t, func(c *Config) { c.DataDir = dir })
	if got := ts.must(200, "GET", "/v1/channels/wa", nil); got["scheme"] != "whatsapp" {
		t.Errorf("the channel after a restart: scheme %v, want whatsapp", got["scheme"])
	}
	resumed(ts, "+15550300300")
	// A channel stored as "TEL", put back without a scheme (tel), keeps
	// it too.
	sms, err := ts.srv.svc.channels.get("sms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.svc.Start(context.Background(), StartRequest{FlowID: "visits", Channel: sms, Variables: map[string]string{},
		Contact: flows.Contact{URN: "TEL:+15550500500"}}); err != nil {
		t.Fatal(err)
	}
	if got := ts.must(200, "PUT", "/v1/channels/sms", `{"default_flow":"visits"}`); got["scheme"] != "tel" {
		t.Errorf("a channel stored as TEL put without a scheme: scheme %v, want tel", got["scheme"])
	}
	r := ts.must(200, "POST", "/v1/channels/sms/messages", `{"from":"+15550500500","text":"back"}`)
	if got, want := firstText(t, r), "got [back] urn=[TEL:+15550500500]"; got != want {
		t.Errorf("a sender of a channel stored as TEL: %q, want %q", got, want)
	}
	// A new sender's URN is made in lower case.
	r = ts.must(200, "POST", "/v1/channels/wa/messages", `{"from":"+15550400400","text":"hi"}`)
	if got, want := firstText(t, r), "urn=[whatsapp:+15550400400] tel=[] visits=[]"; got != want {
		t.Errorf("a new sender: %q, want %q", got, want)
	}
}
