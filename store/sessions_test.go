package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

var farFuture = t0.Add(365 * 24 * time.Hour)

// TestSaveTurnMaintainsIndexes walks one session through status changes and
// checks the waiting index, timers and counters after each save.
func TestSaveTurnMaintainsIndexes(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	t1, t2, exp := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(time.Hour)

	steps := []struct {
		name      string
		status    flows.Status
		timeoutAt *time.Time
		expiresAt *time.Time
		channel   string
		waiting   bool   // WaitingSession(ch, urn) finds it
		waitingOn string // channel it is found on
		timers    []Timer
	}{
		{name: "active with expiry", status: flows.StatusActive, expiresAt: &exp, channel: "sms",
			timers: []Timer{{At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "waiting with timeout", status: flows.StatusWaiting, timeoutAt: &t1, expiresAt: &exp, channel: "sms",
			waiting: true, waitingOn: "sms",
			timers: []Timer{{At: t1, SessionID: "s1", Kind: TimerWaitTimeout}, {At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "timeout moved", status: flows.StatusWaiting, timeoutAt: &t2, expiresAt: &exp, channel: "sms",
			waiting: true, waitingOn: "sms",
			timers: []Timer{{At: t2, SessionID: "s1", Kind: TimerWaitTimeout}, {At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "timeout and expiry at the same instant", status: flows.StatusWaiting, timeoutAt: &exp, expiresAt: &exp, channel: "sms",
			waiting: true, waitingOn: "sms",
			timers: []Timer{{At: exp, SessionID: "s1", Kind: TimerWaitTimeout}, {At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "channel omitted keeps previous channel", status: flows.StatusWaiting, expiresAt: &exp, channel: "",
			waiting: true, waitingOn: "sms",
			timers: []Timer{{At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "moved to another channel", status: flows.StatusWaiting, expiresAt: &exp, channel: "whatsapp",
			waiting: true, waitingOn: "whatsapp",
			timers: []Timer{{At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "active again: leaves the waiting index, timeout ignored", status: flows.StatusActive, timeoutAt: &t1, expiresAt: &exp,
			timers: []Timer{{At: exp, SessionID: "s1", Kind: TimerExpiry}}},
		{name: "waiting without timers", status: flows.StatusWaiting, channel: "whatsapp", waiting: true, waitingOn: "whatsapp"},
		{name: "completed clears everything", status: flows.StatusCompleted, timeoutAt: &t1, expiresAt: &exp, channel: "whatsapp"},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s := session("s1", st.status, "tel:+1")
			s.UpdatedAt = t0.Add(time.Duration(i) * time.Second)
			s.ExpiresAt = st.expiresAt
			if st.timeoutAt != nil {
				s.Wait = &flows.Wait{Widget: "w", Kind: flows.WaitMessage, TimeoutAt: st.timeoutAt}
			}
			mustSave(t, b, &Turn{Session: s, Channel: st.channel})

			for _, ch := range []string{"sms", "whatsapp"} {
				got, err := b.WaitingSession(ctx, ch, "tel:+1")
				if want := st.waiting && ch == st.waitingOn; want {
					if err != nil || got.ID != "s1" {
						t.Fatalf("WaitingSession(%s) = %v, %v; want s1", ch, got, err)
					}
				} else {
					wantErr(t, "WaitingSession("+ch+")", err, ErrNotFound)
				}
			}
			timers, err := b.DueTimers(ctx, farFuture, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(timers, st.timers) && !(len(timers) == 0 && len(st.timers) == 0) {
				t.Fatalf("timers = %+v, want %+v", timers, st.timers)
			}
			got := stats(t, b)
			if got.Timers != int64(len(st.timers)) {
				t.Fatalf("Stats.Timers = %d, want %d", got.Timers, len(st.timers))
			}
			for status, n := range got.Sessions {
				want := int64(0)
				if status == st.status {
					want = 1
				}
				if n != want {
					t.Fatalf("Stats.Sessions[%s] = %d, want %d", status, n, want)
				}
			}
		})
	}
}

func TestWaitingIndexConflict(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	mustSave(t, b, &Turn{Session: session("a", flows.StatusWaiting, "tel:+1"), Channel: "sms"})

	tests := []struct {
		name    string
		id      string
		status  flows.Status
		channel string
		urn     string
		want    error
	}{
		{"second session waiting for the same contact", "b", flows.StatusWaiting, "sms", "tel:+1", ErrConflict},
		{"same contact on another channel", "c", flows.StatusWaiting, "whatsapp", "tel:+1", nil},
		{"another contact on the same channel", "d", flows.StatusWaiting, "sms", "tel:+2", nil},
		{"the waiting session saves again", "a", flows.StatusWaiting, "sms", "tel:+1", nil},
		{"first one completes", "a", flows.StatusCompleted, "sms", "tel:+1", nil},
		{"now the second may wait", "b", flows.StatusWaiting, "sms", "tel:+1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.SaveTurn(ctx, &Turn{Session: session(tc.id, tc.status, tc.urn), Channel: tc.channel})
			wantErr(t, "SaveTurn", err, tc.want)
			if tc.want != nil {
				if _, err := b.LoadSession(ctx, tc.id); err == nil {
					t.Fatalf("session %s was stored despite %v", tc.id, tc.want)
				}
			}
		})
	}
	got, err := b.WaitingSession(ctx, "sms", "tel:+1")
	if err != nil || got.ID != "b" {
		t.Fatalf("WaitingSession = %v, %v; want b", got, err)
	}
}

// TestTurnIsAtomic checks that a failing turn writes nothing: no session, no
// events, no outbox record, no contact, no dedupe record.
func TestTurnIsAtomic(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	mustSave(t, b, &Turn{Session: session("holder", flows.StatusWaiting, "tel:+1"), Channel: "sms", MessageID: "m0"})
	before := stats(t, b)

	failing := []struct {
		name string
		turn *Turn
		want error
	}{
		{"waiting index conflict", &Turn{Session: session("x", flows.StatusWaiting, "tel:+1"), Channel: "sms", MessageID: "m1"}, ErrConflict},
		{"duplicate message", &Turn{Session: session("x", flows.StatusActive, "tel:+1"), Channel: "sms", MessageID: "m0"}, ErrDuplicate},
		{"stale session", &Turn{Session: session("holder", flows.StatusCompleted, "tel:+1"), Channel: "sms", MessageID: "m1", PrevUpdated: t0.Add(-time.Hour)}, ErrConflict},
		{"expected session missing", &Turn{Session: session("x", flows.StatusActive, "tel:+9"), MessageID: "m1", PrevUpdated: t0}, ErrNotFound},
		{"unknown status", &Turn{Session: session("x", "paused", "tel:+9"), MessageID: "m1"}, ErrInvalid},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			tc.turn.Events = []flows.Event{{Type: flows.EventMessageIn, Text: "hi"}}
			tc.turn.Outbox = []OutboxRecord{{Type: "session.started", Data: json.RawMessage(`{"id":"x"}`)}}
			tc.turn.Contact = &flows.Contact{URN: "tel:+new", Name: "New"}
			wantErr(t, "SaveTurn", b.SaveTurn(ctx, tc.turn), tc.want)

			if s, err := b.LoadSession(ctx, "holder"); err != nil || s.Status != flows.StatusWaiting {
				t.Fatalf("holder changed: %v, %v", s, err)
			}
			_, err := b.LoadSession(ctx, "x")
			wantErr(t, "LoadSession(x)", err, ErrNotFound)
			if recs, _ := b.Outbox(ctx, 0, 10); len(recs) != 0 {
				t.Fatalf("outbox has %d records after a failed turn", len(recs))
			}
			_, err = b.Contact(ctx, "tel:+new")
			wantErr(t, "Contact", err, ErrNotFound)
			if _, found, _ := b.ProcessedReply(ctx, "sms", "tel:+9", "m1"); found {
				t.Fatal("dedupe record written by a failed turn")
			}
			if after := stats(t, b); !reflect.DeepEqual(after, before) {
				t.Fatalf("stats changed by a failed turn:\n%+v\n%+v", before, after)
			}
		})
	}

	// The same turn without the conflict writes everything together.
	s := session("x", flows.StatusActive, "tel:+9")
	turn := &Turn{Session: s, Events: []flows.Event{{Type: flows.EventMessageIn}},
		Outbox: []OutboxRecord{{Type: "session.started", Data: json.RawMessage(`{"id":"x"}`)}}}
	mustSave(t, b, turn)
	recs, _ := b.Outbox(ctx, 0, 10)
	if len(recs) != 1 || recs[0].Record.Type != "session.started" || recs[0].Record.ID == "" {
		t.Fatalf("outbox = %+v, want one session.started record with an id", recs)
	}
	if turn.Outbox[0].ID != recs[0].Record.ID {
		t.Fatalf("caller sees outbox id %q, stored %q", turn.Outbox[0].ID, recs[0].Record.ID)
	}
}

// TestGroupFailureIsolated runs a failing turn in the same commit group as
// good ones: only the failing one is rejected.
func TestGroupFailureIsolated(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	mustSave(t, b, &Turn{Session: session("holder", flows.StatusWaiting, "tel:+1"), Channel: "sms"})

	const n = 40
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id, urn := fmt.Sprintf("s%02d", i), fmt.Sprintf("tel:+%d", 100+i)
			if i%4 == 0 {
				urn = "tel:+1" // conflicts with holder
			}
			errs <- b.SaveTurn(ctx, &Turn{Session: session(id, flows.StatusWaiting, urn), Channel: "sms",
				Outbox: []OutboxRecord{{Type: "session.waiting", Data: json.RawMessage(fmt.Sprintf(`%q`, id))}}})
		}()
	}
	conflicts := 0
	for range n {
		if err := <-errs; err != nil {
			wantErr(t, "SaveTurn", err, ErrConflict)
			conflicts++
		}
	}
	if conflicts != n/4 {
		t.Fatalf("%d conflicts, want %d", conflicts, n/4)
	}
	depth, _ := b.OutboxDepth()
	if depth != n-n/4 {
		t.Fatalf("outbox depth %d, want %d", depth, n-n/4)
	}
	if got := stats(t, b).Sessions[flows.StatusWaiting]; got != 1+n-n/4 {
		t.Fatalf("waiting sessions %d, want %d", got, 1+n-n/4)
	}
}

func TestPrevUpdatedRace(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	s := session("s", flows.StatusWaiting, "tel:+1")
	mustSave(t, b, &Turn{Session: s})

	// Ten turns all loaded the same version; exactly one may win.
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			s := session("s", flows.StatusWaiting, "tel:+1")
			s.UpdatedAt = t0.Add(time.Duration(i+1) * time.Second)
			errs <- b.SaveTurn(ctx, &Turn{Session: s, PrevUpdated: t0})
		}()
	}
	won := 0
	for range n {
		if err := <-errs; err == nil {
			won++
		} else {
			wantErr(t, "SaveTurn", err, ErrConflict)
		}
	}
	if won != 1 {
		t.Fatalf("%d turns won, want 1", won)
	}
}

func TestDedupe(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	save := func(id, ch, msg, reply string) error {
		return b.SaveTurn(ctx, &Turn{Session: session(id, flows.StatusActive, "tel:+1"), Channel: ch, MessageID: msg, Reply: []byte(reply)})
	}
	clk.Set(t0)
	wantErr(t, "first", save("s1", "sms", "m1", `{"reply":"one"}`), nil)
	clk.Set(t0.Add(time.Hour))
	wantErr(t, "retry", save("s1", "sms", "m1", `{"reply":"other"}`), ErrDuplicate)
	wantErr(t, "same id on another channel", save("s2", "whatsapp", "m1", `{"reply":"two"}`), nil)

	for _, tc := range []struct {
		ch, msg   string
		wantFound bool
		wantReply string
	}{
		{"sms", "m1", true, `{"reply":"one"}`},
		{"whatsapp", "m1", true, `{"reply":"two"}`},
		{"sms", "m2", false, ""},
	} {
		reply, found, err := b.ProcessedReply(ctx, tc.ch, "tel:+1", tc.msg)
		if err != nil || found != tc.wantFound || string(reply) != tc.wantReply {
			t.Fatalf("ProcessedReply(%s,%s) = %q %v %v", tc.ch, tc.msg, reply, found, err)
		}
	}

	// Prune what is older than 30 minutes: only the first record.
	n, err := b.PruneProcessed(ctx, t0.Add(30*time.Minute), 0)
	if err != nil || n != 1 {
		t.Fatalf("PruneProcessed = %d, %v; want 1", n, err)
	}
	if _, found, _ := b.ProcessedReply(ctx, "sms", "tel:+1", "m1"); found {
		t.Fatal("pruned record still found")
	}
	if _, found, _ := b.ProcessedReply(ctx, "whatsapp", "tel:+1", "m1"); !found {
		t.Fatal("recent record pruned")
	}
	if got := stats(t, b).Processed; got != 1 {
		t.Fatalf("Stats.Processed = %d, want 1", got)
	}
	// Once pruned, the message is new again.
	wantErr(t, "after prune", save("s1", "sms", "m1", `{}`), nil)
}

// TestPruneProcessedBatches: records are pruned oldest first, limit at a
// time, through the group commit, with the counter kept; a call with
// nothing due commits nothing.
func TestPruneProcessedBatches(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	const n = 25
	for i := range n {
		clk.Set(t0.Add(time.Duration(i) * time.Second))
		turn := &Turn{Session: session(fmt.Sprintf("s%d", i), flows.StatusActive, "tel:+1"), Channel: "sms", MessageID: fmt.Sprintf("m%d", i), Reply: []byte(`{}`)}
		if err := b.SaveTurn(ctx, turn); err != nil {
			t.Fatal(err)
		}
	}
	commits := b.CommitStats().Commits
	// Nothing before t0: no write at all.
	if got, err := b.PruneProcessed(ctx, t0, 10); err != nil || got != 0 {
		t.Fatalf("PruneProcessed before the first = %d, %v", got, err)
	}
	if c := b.CommitStats().Commits; c != commits {
		t.Fatalf("%d commits for nothing to prune", c-commits)
	}
	// The 20 records before t0+20s go in batches of 10, 10, then none.
	cutoff := t0.Add(20 * time.Second)
	for _, want := range []int{10, 10, 0} {
		if got, err := b.PruneProcessed(ctx, cutoff, 10); err != nil || got != want {
			t.Fatalf("PruneProcessed = %d, %v; want %d", got, err, want)
		}
	}
	if c := b.CommitStats().Commits; c != commits+2 {
		t.Fatalf("%d commits for two batches", c-commits)
	}
	for i := range n {
		_, found, err := b.ProcessedReply(ctx, "sms", "tel:+1", fmt.Sprintf("m%d", i))
		if err != nil || found != (i >= 20) {
			t.Fatalf("message m%d: found %v, %v; want %v", i, found, err, i >= 20)
		}
	}
	if got := stats(t, b).Processed; got != n-20 {
		t.Fatalf("Stats.Processed = %d, want %d", got, n-20)
	}
}

func TestContactUpsert(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	_, err := b.Contact(ctx, "tel:+1")
	wantErr(t, "Contact before", err, ErrNotFound)

	versions := []flows.Contact{
		{URN: "tel:+1", Name: "Ann"},
		{URN: "tel:+1", Name: "Ann", Language: "fra", Fields: map[string]string{"age": "30"}, Groups: []string{"a"}},
		{URN: "tel:+1", Name: "Ann B", Fields: map[string]string{"age": "31", "city": "Lyon"}},
	}
	for i, c := range versions {
		mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1"), Contact: &c})
		got, err := b.Contact(ctx, "tel:+1")
		if err != nil || !reflect.DeepEqual(*got, c) {
			t.Fatalf("turn %d: Contact = %+v, %v; want %+v", i, got, err, c)
		}
	}
	if n := stats(t, b).Contacts; n != 1 {
		t.Fatalf("Stats.Contacts = %d, want 1", n)
	}
}

func TestSessionEvents(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	// "s" and "s1" share a prefix: their logs must not mix.
	for turn := range 3 {
		var evs []flows.Event
		for j := range 4 {
			evs = append(evs, flows.Event{Type: flows.EventMessageOut, Text: fmt.Sprintf("t%d-e%d", turn, j), Time: t0})
		}
		mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1"), Events: evs})
		mustSave(t, b, &Turn{Session: session("s1", flows.StatusActive, "tel:+2"), Events: evs[:1]})
	}
	var texts []string
	after := uint64(0)
	for pages := 0; ; pages++ {
		recs, err := b.SessionEvents(ctx, "s", after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			if pages != 3 {
				t.Fatalf("%d pages, want 3", pages)
			}
			break
		}
		for _, r := range recs {
			if r.Seq != after+1 {
				t.Fatalf("seq %d after %d", r.Seq, after)
			}
			after = r.Seq
			texts = append(texts, r.Event.Text)
		}
	}
	if len(texts) != 12 || texts[0] != "t0-e0" || texts[4] != "t1-e0" || texts[11] != "t2-e3" {
		t.Fatalf("events out of order: %v", texts)
	}
	_, err := b.SessionEvents(ctx, "missing", 0, 10)
	wantErr(t, "SessionEvents(missing)", err, ErrNotFound)
	if n := stats(t, b).Events; n != 15 {
		t.Fatalf("Stats.Events = %d, want 15", n)
	}
}

// TestLastTurnEvents: the events after the session_waiting before the last
// one, through the last, whichever records they were saved in.
func TestLastTurnEvents(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	ev := func(typ, text string) flows.Event {
		return flows.Event{Type: typ, Text: text, Time: t0}
	}
	wait := func(text string) flows.Event { return ev(flows.EventSessionWaiting, text) }
	out := func(text string) flows.Event { return ev(flows.EventMessageOut, text) }
	check := func(id, want string) {
		t.Helper()
		evs, err := b.LastTurnEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Text)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: last turn %q, want %q", id, strings.Join(got, ","), want)
		}
	}
	save := func(id string, evs ...flows.Event) {
		mustSave(t, b, &Turn{Session: session(id, flows.StatusWaiting, "tel:+1"+id), Events: evs})
	}
	save("a", out("a1"))
	check("a", "") // never waited
	save("a", wait("w1"))
	check("a", "a1,w1")
	// Many turns: only the last one is read back.
	for i := range 50 {
		save("a", out(fmt.Sprintf("q%d", i)), wait(fmt.Sprintf("w%d", i)))
	}
	check("a", "q49,w49")
	// The oldest record, damaged, is not read.
	if err := b.db.Update(func(tx *bbolt.Tx) error {
		seq, _, err := lookup(tx, nil, "a", idKey("a"))
		if err != nil {
			return err
		}
		k, _ := tx.Bucket(bRecords).Cursor().Seek(eventKey(seq, 1))
		return tx.Bucket(bRecords).Put(k, []byte("damaged"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SessionEvents(ctx, "a", 0, 10); err == nil {
		t.Fatal("the damaged record reads")
	}
	check("a", "q49,w49")
	// A turn saved in several records, with a record after its wait.
	save("a", out("x1"))
	save("a", out("x2"), out("x3"))
	save("a", wait("wx"), out("after"))
	check("a", "x1,x2,x3,wx")
	// Two waits in one record.
	save("b", out("b1"), wait("wb1"), out("b2"), wait("wb2"))
	check("b", "b2,wb2")
	_, err := b.LastTurnEvents(ctx, "missing")
	wantErr(t, "LastTurnEvents(missing)", err, ErrNotFound)
}

func TestListSessions(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	type row struct {
		id     string
		status flows.Status
		flow   string
		urn    string
	}
	rows := []row{
		{"a1", flows.StatusWaiting, "f1", "tel:+1"},
		{"a2", flows.StatusCompleted, "f1", "tel:+1"},
		{"a3", flows.StatusWaiting, "f2", "tel:+2"},
		{"a4", flows.StatusFailed, "f2", "tel:+1"},
		{"a5", flows.StatusWaiting, "f1", "tel:+3"},
		{"a6", flows.StatusActive, "f1", "tel:+10"}, // "tel:+1" is a prefix of its URN
	}
	for _, r := range rows {
		s := session(r.id, r.status, r.urn)
		s.FlowID = r.flow
		mustSave(t, b, &Turn{Session: s, Channel: "sms"})
	}
	tests := []struct {
		name string
		f    SessionFilter
		want []string
	}{
		{"all", SessionFilter{}, []string{"a1", "a2", "a3", "a4", "a5", "a6"}},
		{"waiting", SessionFilter{Status: flows.StatusWaiting}, []string{"a1", "a3", "a5"}},
		{"flow", SessionFilter{FlowID: "f2"}, []string{"a3", "a4"}},
		{"contact", SessionFilter{Contact: "tel:+1"}, []string{"a1", "a2", "a4"}},
		{"waiting on flow", SessionFilter{Status: flows.StatusWaiting, FlowID: "f1"}, []string{"a1", "a5"}},
		{"contact and status", SessionFilter{Contact: "tel:+1", Status: flows.StatusFailed}, []string{"a4"}},
		{"contact prefix", SessionFilter{ContactPrefix: "tel:+1"}, []string{"a1", "a2", "a4", "a6"}},
		{"waiting on flow, contact prefix", SessionFilter{Status: flows.StatusWaiting, FlowID: "f1", ContactPrefix: "tel:+3"}, []string{"a5"}},
		{"nothing", SessionFilter{Status: flows.StatusExpired}, nil},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 2, 100} {
			t.Run(fmt.Sprintf("%s/limit=%d", tc.name, limit), func(t *testing.T) {
				var got []string
				cursor := ""
				for range 20 {
					page, next, err := b.ListSessions(ctx, tc.f, Page{After: cursor, Limit: limit})
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > limit {
						t.Fatalf("page of %d, limit %d", len(page), limit)
					}
					for _, s := range page {
						got = append(got, s.ID)
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
	_, _, err := b.ListSessions(ctx, SessionFilter{Status: "paused"}, Page{})
	wantErr(t, "unknown status", err, ErrInvalid)
}

func TestDeleteSession(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	exp := t0.Add(time.Hour)
	for _, id := range []string{"s", "s1"} {
		s := session(id, flows.StatusWaiting, "tel:"+id)
		s.ExpiresAt = &exp
		mustSave(t, b, &Turn{Session: s, Channel: "sms", Events: []flows.Event{{Type: "a"}, {Type: "b"}}})
	}
	wantErr(t, "DeleteSession", b.DeleteSession(ctx, "s"), nil)
	wantErr(t, "DeleteSession again", b.DeleteSession(ctx, "s"), ErrNotFound)

	_, err := b.LoadSession(ctx, "s")
	wantErr(t, "LoadSession", err, ErrNotFound)
	_, err = b.WaitingSession(ctx, "sms", "tel:s")
	wantErr(t, "WaitingSession", err, ErrNotFound)
	timers, _ := b.DueTimers(ctx, farFuture, 10)
	if len(timers) != 1 || timers[0].SessionID != "s1" {
		t.Fatalf("timers after delete: %+v", timers)
	}
	if evs, err := b.SessionEvents(ctx, "s1", 0, 10); err != nil || len(evs) != 2 {
		t.Fatalf("events of s1 after deleting s: %d, %v", len(evs), err)
	}
	if list, _, _ := b.ListSessions(ctx, SessionFilter{Contact: "tel:s"}, Page{}); len(list) != 0 {
		t.Fatalf("contact index still lists %d sessions", len(list))
	}
	st := stats(t, b)
	if st.Sessions[flows.StatusWaiting] != 1 || st.Timers != 1 || st.Events != 2 {
		t.Fatalf("stats after delete: %+v", st)
	}
}

func TestDueTimers(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	for i := range 5 {
		s := session(fmt.Sprintf("s%d", i), flows.StatusWaiting, fmt.Sprintf("tel:+%d", i))
		at := t0.Add(time.Duration(5-i) * time.Minute) // s4 is due first
		s.Wait = &flows.Wait{Widget: "w", Kind: flows.WaitMessage, TimeoutAt: &at}
		mustSave(t, b, &Turn{Session: s})
	}
	tests := []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{t0, 10, nil},
		{t0.Add(time.Minute), 10, []string{"s4"}},
		{t0.Add(3 * time.Minute), 10, []string{"s4", "s3", "s2"}},
		{t0.Add(time.Hour), 2, []string{"s4", "s3"}},
	}
	for _, tc := range tests {
		timers, err := b.DueTimers(ctx, tc.now, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tm := range timers {
			got = append(got, tm.SessionID)
			if tm.Kind != TimerWaitTimeout || tm.At.After(tc.now) {
				t.Fatalf("timer %+v not due at %v", tm, tc.now)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("DueTimers(%v, %d) = %v, want %v", tc.now, tc.limit, got, tc.want)
		}
	}
	// A scanner removes the timer of a session that is gone.
	timers, _ := b.DueTimers(ctx, t0.Add(time.Minute), 1)
	wantErr(t, "RemoveTimer", b.RemoveTimer(ctx, timers[0]), nil)
	wantErr(t, "RemoveTimer twice", b.RemoveTimer(ctx, timers[0]), nil)
	if got := stats(t, b).Timers; got != 4 {
		t.Fatalf("Stats.Timers = %d, want 4", got)
	}
	// The session moving on after its timer was removed keeps the count right.
	mustSave(t, b, &Turn{Session: session("s4", flows.StatusCompleted, "tel:+4")})
	if got := stats(t, b).Timers; got != 4 {
		t.Fatalf("Stats.Timers = %d after completing s4, want 4", got)
	}
}

func TestSessionRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, uncompressed := range []bool{false, true} {
		t.Run(fmt.Sprintf("uncompressed=%v", uncompressed), func(t *testing.T) {
			b, err := Open(t.TempDir()+"/db", Options{NoSync: true, Uncompressed: uncompressed})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			want := SampleSession(7, t0)
			want.Extra = json.RawMessage(`{"ok":true}`)
			mustSave(t, b, &Turn{Session: want})
			got, err := b.LoadSession(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Fatalf("round trip changed the session:\n%s\n%s", wj, gj)
			}
			_, err = b.LoadSession(ctx, "nope")
			wantErr(t, "LoadSession(nope)", err, ErrNotFound)
		})
	}
}

func TestSaveTurnRejects(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	for _, tc := range []struct {
		name string
		turn *Turn
	}{
		{"no session", &Turn{}},
		{"empty session id", &Turn{Session: session("", flows.StatusActive, "")}},
		{"NUL in session id", &Turn{Session: session("a\x00", flows.StatusActive, "")}},
		{"contact without urn", &Turn{Session: session("a", flows.StatusActive, ""), Contact: &flows.Contact{Name: "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "SaveTurn", b.SaveTurn(ctx, tc.turn), ErrInvalid)
		})
	}
}

// TestConcurrentSaveTurn saves many turns from many goroutines and checks
// that every one landed with its events and outbox records.
func TestConcurrentSaveTurn(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	const workers, turns = 32, 15
	inParallel(t, workers, func(w int) error {
		id := fmt.Sprintf("sess-%02d", w)
		for i := range turns {
			s := session(id, flows.StatusWaiting, "tel:"+id)
			s.UpdatedAt = t0.Add(time.Duration(i) * time.Second)
			var prev time.Time
			if i > 0 {
				prev = t0.Add(time.Duration(i-1) * time.Second)
			}
			err := b.SaveTurn(ctx, &Turn{
				Session: s, Channel: "sms", PrevUpdated: prev,
				Events:    []flows.Event{{Type: flows.EventMessageIn, Text: fmt.Sprint(i)}, {Type: flows.EventMessageOut}},
				Outbox:    []OutboxRecord{{Type: "turn", Data: json.RawMessage(fmt.Sprintf(`{"s":%q,"i":%d}`, id, i))}},
				MessageID: fmt.Sprintf("%s-m%d", id, i),
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	st := stats(t, b)
	if st.Sessions[flows.StatusWaiting] != workers || st.Events != workers*turns*2 || st.Outbox != workers*turns || st.Processed != workers*turns {
		t.Fatalf("stats = %+v", st)
	}
	// Per session, outbox records are in turn order.
	recs, err := b.Outbox(ctx, 0, 1000)
	if err != nil || len(recs) != workers*turns {
		t.Fatalf("outbox: %d records, %v", len(recs), err)
	}
	last := map[string]int{}
	for _, r := range recs {
		var d struct {
			S string
			I int
		}
		json.Unmarshal(r.Record.Data, &d)
		if prev, ok := last[d.S]; ok && d.I != prev+1 {
			t.Fatalf("outbox order for %s: %d after %d", d.S, d.I, prev)
		}
		last[d.S] = d.I
	}
	for w := range workers {
		id := fmt.Sprintf("sess-%02d", w)
		evs, err := b.SessionEvents(ctx, id, 0, 1000)
		if err != nil || len(evs) != turns*2 {
			t.Fatalf("%s: %d events, %v", id, len(evs), err)
		}
		if evs[len(evs)-2].Event.Text != fmt.Sprint(turns-1) {
			t.Fatalf("%s: last turn's event is %q", id, evs[len(evs)-2].Event.Text)
		}
	}
	seqs := make([]int, 0, len(recs))
	for _, r := range recs {
		seqs = append(seqs, int(r.Seq))
	}
	if !sort.IntsAreSorted(seqs) {
		t.Fatal("outbox not in sequence order")
	}
}

func TestContextCancelled(t *testing.T) {
	b, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.SaveTurn(ctx, &Turn{Session: session("s", flows.StatusActive, "tel:+1")})
	wantErr(t, "SaveTurn", err, context.Canceled)
	_, err = b.LoadSession(context.Background(), "s")
	wantErr(t, "LoadSession", err, ErrNotFound)
}

// TestPruneEnded: sessions that ended before the cutoff go, oldest first,
// limit at a time, with their events, index entries and counters; waiting
// sessions and sessions that ended later stay; a call with nothing due
// commits nothing.
func TestPruneEnded(t *testing.T) {
	ctx := context.Background()
	b, clk := openTest(t)
	evs := []flows.Event{{Type: flows.EventMessageIn}, {Type: flows.EventMessageOut}}
	at := func(s *flows.Session, d time.Duration) *flows.Session {
		s.UpdatedAt = t0.Add(d)
		return s
	}
	// s1 ends in a second turn; the others are stored once.
	clk.Set(t0)
	mustSave(t, b, &Turn{Session: session("s1", flows.StatusWaiting, "tel:+1"), Channel: "sms", Events: evs})
	mustSave(t, b, &Turn{Session: at(session("s1", flows.StatusCompleted, "tel:+1"), time.Minute), Channel: "sms", Events: evs})
	mustSave(t, b, &Turn{Session: at(session("s2", flows.StatusExpired, "tel:+2"), 2*time.Minute), Events: evs})
	mustSave(t, b, &Turn{Session: at(session("s3", flows.StatusFailed, "tel:+3"), 3*time.Minute), Events: evs})
	mustSave(t, b, &Turn{Session: at(session("s4", flows.StatusCompleted, "tel:+4"), time.Hour), Events: evs})
	mustSave(t, b, &Turn{Session: session("w", flows.StatusWaiting, "tel:+5"), Channel: "sms", Events: evs})
	before := stats(t, b)
	if before.Events != 12 {
		t.Fatalf("events stored: %d, want 12", before.Events)
	}

	commits := b.CommitStats().Commits
	if n, err := b.PruneEnded(ctx, t0.Add(time.Minute), 10); err != nil || n != 0 {
		t.Fatalf("PruneEnded before the first end = %d, %v", n, err)
	}
	if c := b.CommitStats().Commits; c != commits {
		t.Fatalf("%d commits with nothing to prune", c-commits)
	}
	// s1, s2, s3 ended before the cutoff: batches of 2, then 1, then none.
	cutoff := t0.Add(30 * time.Minute)
	for _, want := range []int{2, 1, 0} {
		if n, err := b.PruneEnded(ctx, cutoff, 2); err != nil || n != want {
			t.Fatalf("PruneEnded = %d, %v; want %d", n, err, want)
		}
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if _, err := b.LoadSession(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("LoadSession(%s) after pruning: %v, want not found", id, err)
		}
		if evs, err := b.SessionEvents(ctx, id, 0, 10); len(evs) != 0 {
			t.Errorf("SessionEvents(%s) after pruning: %d events, %v", id, len(evs), err)
		}
	}
	for _, id := range []string{"s4", "w"} {
		if _, err := b.LoadSession(ctx, id); err != nil {
			t.Errorf("LoadSession(%s): %v", id, err)
		}
	}
	if s, err := b.WaitingSession(ctx, "sms", "tel:+5"); err != nil || s.ID != "w" {
		t.Errorf("waiting session of tel:+5: %v %v", s, err)
	}
	got, _, err := b.ListSessions(ctx, SessionFilter{Contact: "tel:+1"}, Page{})
	if err != nil || len(got) != 0 {
		t.Errorf("sessions of tel:+1 after pruning: %d, %v", len(got), err)
	}
	after := stats(t, b)
	for st, want := range map[flows.Status]int64{flows.StatusCompleted: 1, flows.StatusExpired: 0, flows.StatusFailed: 0, flows.StatusWaiting: 1} {
		if after.Sessions[st] != want {
			t.Errorf("stored %s sessions: %d, want %d", st, after.Sessions[st], want)
		}
	}
	for st, want := range map[flows.Status]int64{flows.StatusCompleted: 1, flows.StatusExpired: 1, flows.StatusFailed: 1, flows.StatusInterrupted: 0} {
		if after.Pruned[st] != want {
			t.Errorf("pruned %s sessions: %d, want %d", st, after.Pruned[st], want)
		}
	}
	if after.Events != 4 {
		t.Errorf("events stored after pruning: %d, want 4", after.Events)
	}
	// The contacts outlive their sessions.
	if after.Contacts != before.Contacts {
		t.Errorf("contacts: %d, was %d", after.Contacts, before.Contacts)
	}
	// s4 goes once the cutoff passes it.
	if n, err := b.PruneEnded(ctx, t0.Add(2*time.Hour), 0); err != nil || n != 1 {
		t.Fatalf("PruneEnded(s4) = %d, %v", n, err)
	}
	if _, err := b.LoadSession(ctx, "s4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("s4 after pruning: %v", err)
	}
}

// A deleted ended session leaves nothing for PruneEnded: its entry in
// session_ended goes with it.
func TestDeleteSessionEndedEntry(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	mustSave(t, b, &Turn{Session: session("s1", flows.StatusCompleted, "tel:+1")})
	if err := b.DeleteSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.PruneEnded(ctx, t0.Add(time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("PruneEnded after DeleteSession = %d, %v; want 0", n, err)
	}
	if p := stats(t, b).Pruned[flows.StatusCompleted]; p != 0 {
		t.Fatalf("pruned count %d after a delete", p)
	}
}

// contactEntries reads where a contact's sessions are listed: the row's
// waiting and ended entries, and its session_contacts entries.
func contactEntries(t *testing.T, b *Bolt, urn string) (waits, ended, indexed []string) {
	t.Helper()
	err := b.DB().View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bContacts).Get([]byte(urn)); v != nil {
			r, err := decodeRow(urn, v)
			if err != nil {
				return err
			}
			for _, w := range r.waits {
				id, _ := decodeID(w.eid)
				waits = append(waits, id)
			}
			for _, e := range r.ended {
				id, _ := decodeID(e)
				ended = append(ended, id)
			}
		}
		prefix := contactKey(urn, nil)
		c := tx.Bucket(bByContact).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id, err := decodeID(k[len(prefix):])
			if err != nil {
				return err
			}
			indexed = append(indexed, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return waits, ended, indexed
}

// listContact pages through ListSessions for a contact, three at a time.
func listContact(t *testing.T, b *Bolt, urn string) []string {
	t.Helper()
	var ids []string
	for cursor := ""; ; {
		page, next, err := b.ListSessions(context.Background(), SessionFilter{Contact: urn}, Page{After: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			ids = append(ids, s.ID)
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
}

// TestContactEndedSessions checks that a contact's ended sessions are kept
// in its row up to rowEndedMax, then moved to session_contacts together,
// that each session is listed once wherever it is, and that deleting and
// pruning find them in either place.
func TestContactEndedSessions(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	const urn = "tel:+1"
	n := 3*rowEndedMax + 2
	var all []string
	for i := range n {
		id := fmt.Sprintf("e%02d", i)
		s := session(id, flows.StatusWaiting, urn)
		s.UpdatedAt = t0.Add(time.Duration(i) * time.Minute)
		mustSave(t, b, &Turn{Session: s, Channel: "sms"})
		all = append(all, id)
		if got := listContact(t, b, urn); !slices.Equal(got, all) {
			t.Fatalf("after %s started: listed %v, want %v", id, got, all)
		}
		s = session(id, flows.StatusCompleted, urn)
		s.UpdatedAt = t0.Add(time.Duration(i)*time.Minute + time.Second)
		mustSave(t, b, &Turn{Session: s, Channel: "sms"})
		if got := listContact(t, b, urn); !slices.Equal(got, all) {
			t.Fatalf("after %s ended: listed %v, want %v", id, got, all)
		}
		waits, ended, indexed := contactEntries(t, b, urn)
		// The row lists the latest, 1 to rowEndedMax of them.
		wantEnded := (i % rowEndedMax) + 1
		if len(waits) != 0 || !slices.Equal(ended, all[i+1-wantEnded:i+1]) || !slices.Equal(indexed, all[:i+1-wantEnded]) {
			t.Fatalf("after %s ended: row waits %v, row ended %v, session_contacts %v", id, waits, ended, indexed)
		}
	}
	// A session that ends without waiting is listed in the row too; a
	// contact whose URN the first one prefixes keeps its own list.
	mustSave(t, b, &Turn{Session: session("f1", flows.StatusFailed, "tel:+10")})
	mustSave(t, b, &Turn{Session: session("w1", flows.StatusWaiting, urn), Channel: "sms"})
	all = append(all, "w1")
	if got := listContact(t, b, urn); !slices.Equal(got, all) {
		t.Fatalf("listed %v, want %v", got, all)
	}
	if got := listContact(t, b, "tel:+10"); !slices.Equal(got, []string{"f1"}) {
		t.Fatalf("tel:+10 lists %v", got)
	}
	// Filters still apply to the row's entries.
	if got, _, err := b.ListSessions(ctx, SessionFilter{Contact: urn, Status: flows.StatusWaiting}, Page{}); err != nil || len(got) != 1 || got[0].ID != "w1" {
		t.Fatalf("waiting sessions of %s: %v, %v", urn, got, err)
	}

	// Delete one listed in the row and one in session_contacts.
	_, ended, indexed := contactEntries(t, b, urn)
	inRow, inIndex := ended[len(ended)-1], indexed[0]
	for _, id := range []string{inRow, inIndex} {
		if err := b.DeleteSession(ctx, id); err != nil {
			t.Fatalf("DeleteSession(%s): %v", id, err)
		}
		all = slices.DeleteFunc(all, func(s string) bool { return s == id })
	}
	if got := listContact(t, b, urn); !slices.Equal(got, all) {
		t.Fatalf("after deletes: listed %v, want %v", got, all)
	}
	_, ended2, indexed2 := contactEntries(t, b, urn)
	if slices.Contains(ended2, inRow) || slices.Contains(indexed2, inIndex) || len(ended2) != len(ended)-1 || len(indexed2) != len(indexed)-1 {
		t.Fatalf("after deletes: row ended %v (was %v), session_contacts %v (was %v)", ended2, ended, indexed2, indexed)
	}

	// Pruning takes every ended session, wherever it is listed; the row
	// goes once it lists nothing (no contact was saved for tel:+10).
	if _, err := b.PruneEnded(ctx, t0.Add(24*time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	if got := listContact(t, b, urn); !slices.Equal(got, []string{"w1"}) {
		t.Fatalf("after pruning: listed %v", got)
	}
	if waits, ended, indexed := contactEntries(t, b, urn); !slices.Equal(waits, []string{"w1"}) || len(ended) != 0 || len(indexed) != 0 {
		t.Fatalf("after pruning: row waits %v, row ended %v, session_contacts %v", waits, ended, indexed)
	}
	_ = b.DB().View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bContacts).Get([]byte("tel:+10")); v != nil {
			t.Errorf("row of tel:+10 kept after its only session was pruned: %x", v)
		}
		return nil
	})
}

// TestContactRowCodec round-trips rows with and without ended entries and
// refuses flags it does not know.
func TestContactRowCodec(t *testing.T) {
	eid := func(id string) []byte { return idKey(id) }
	rows := []*contactRow{
		{waits: []waitEntry{{channel: "sms", eid: eid("a"), seq: 7}}},
		{ended: [][]byte{eid("b"), eid("01a24a4d-732c-75a5-b9ce-9664d783a229")}},
		{hasContact: true, contact: encodeContact(&flows.Contact{URN: "tel:+1", Name: "Ada"}),
			waits: []waitEntry{{channel: "sms", eid: eid("a"), seq: 7}}, ended: [][]byte{eid("b")}},
		{msgs: []msgEntry{{hash: 1<<64 - 1, at: 5}}},
		{hasContact: true, contact: encodeContact(&flows.Contact{URN: "tel:+1", Name: "Ada"}),
			waits: []waitEntry{{channel: "sms", eid: eid("a"), seq: 7}}, ended: [][]byte{eid("b")},
			msgs: []msgEntry{{hash: 3, at: 4}, {hash: msgHash([]byte("sms\x00m1")), at: nanos(t0)}}},
	}
	for i, r := range rows {
		v := r.encode()
		got, err := decodeRow("tel:+1", v)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("row %d: decoded %+v, want %+v", i, got, r)
		}
		if len(r.ended) == 0 && v[0]&rowHasEnded != 0 || len(r.msgs) == 0 && v[0]&rowHasMsgs != 0 {
			t.Fatalf("row %d: flags %b set without their entries", i, v[0])
		}
		// The decoded entries do not share bytes with bbolt's memory, nor
		// spill into each other when appended to.
		v[len(v)-1] ^= 0xff
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("row %d: decoded row changed with the bytes it came from", i)
		}
		for _, w := range got.waits {
			_ = append(w.eid, 0xee)
		}
		for _, e := range got.ended {
			_ = append(e, 0xee)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("row %d: appending to an entry changed the row", i)
		}
	}
	v := rows[1].encode()
	v[0] |= 8
	if _, err := decodeRow("tel:+1", v); err == nil {
		t.Fatal("a row with an unknown flag decoded")
	}
	for _, i := range []int{1, 3} {
		v = rows[i].encode()
		if _, err := decodeRow("tel:+1", v[:len(v)-3]); err == nil {
			t.Fatalf("row %d truncated decoded", i)
		}
	}
}

// TestEventsStoredPerTurn checks that a turn's events take one value, that
// values of one event as layout 5 stored them are read and deleted along
// with them, and that corrupt values are reported.
func TestEventsStoredPerTurn(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	msg := func(text string) flows.Event {
		return flows.Event{Type: flows.EventMessageOut, Text: text, Time: t0, Widget: "w"}
	}
	// Three events as layout 5 stored them, then two turns.
	mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1")})
	var seq uint64
	err := b.DB().Update(func(tx *bbolt.Tx) error {
		var err error
		if seq, _, err = lookup(tx, nil, "s", idKey("s")); err != nil {
			return err
		}
		for ev := uint64(1); ev <= 3; ev++ {
			e := msg(fmt.Sprintf("old%d", ev))
			v, err := encodeEvent("s", &e)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bRecords).Put(eventKey(seq, ev), v); err != nil {
				return err
			}
		}
		return addStat(tx, statEvents, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1"), Events: []flows.Event{msg("a"), msg("b")}})
	mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1"), Events: []flows.Event{msg("c"), msg("d"), msg("e")}})
	want := []string{"old1", "old2", "old3", "a", "b", "c", "d", "e"}

	var keys int
	_ = b.DB().View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bRecords).Cursor()
		prefix := recordKey(seq)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) == 16 && ^binary.BigEndian.Uint64(k[8:]) > 3 {
				keys++
				if v[0] != eventsS2 {
					t.Errorf("a turn's events stored as %q", v)
				}
			}
		}
		return nil
	})
	if keys != 2 {
		t.Fatalf("two turns' events under %d keys", keys)
	}
	// Every starting point and page size gives the same sequence.
	for after := range len(want) + 1 {
		for _, limit := range []int{1, 2, 4, 100} {
			var got []string
			for a := uint64(after); ; {
				recs, err := b.SessionEvents(ctx, "s", a, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) > limit {
					t.Fatalf("after %d: %d events, limit %d", a, len(recs), limit)
				}
				if len(recs) == 0 {
					break
				}
				for _, r := range recs {
					if r.Seq != a+1 {
						t.Fatalf("after %d: event %d", a, r.Seq)
					}
					a = r.Seq
					got = append(got, r.Event.Text)
				}
			}
			if !slices.Equal(got, want[after:]) {
				t.Fatalf("after %d, limit %d: %v, want %v", after, limit, got, want[after:])
			}
		}
	}
	if n := stats(t, b).Events; n != 8 {
		t.Fatalf("Stats.Events = %d, want 8", n)
	}
	if err := b.DeleteSession(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if n := stats(t, b).Events; n != 0 {
		t.Fatalf("Stats.Events after DeleteSession = %d, want 0", n)
	}

	// Events that do not compress are stored as they are.
	noise := make([]byte, 96)
	for i := range noise {
		noise[i] = byte(i*7919 + i*i*31)
	}
	text := fmt.Sprintf("%x", noise)
	mustSave(t, b, &Turn{Session: session("r", flows.StatusActive, "tel:+3"), Events: []flows.Event{{Type: "x", Text: text}}})
	_ = b.DB().View(func(tx *bbolt.Tx) error {
		seq, _, _ := lookup(tx, nil, "r", idKey("r"))
		if v := tx.Bucket(bRecords).Get(eventKey(seq, 1)); v == nil || v[0] != eventsRaw {
			t.Errorf("an incompressible event stored as %q", v)
		}
		return nil
	})
	if recs, err := b.SessionEvents(ctx, "r", 0, 10); err != nil || len(recs) != 1 || recs[0].Event.Text != text {
		t.Fatalf("incompressible event read back as %+v, %v", recs, err)
	}

	// A corrupt value is an error naming the session, not a wrong answer.
	mustSave(t, b, &Turn{Session: session("c", flows.StatusActive, "tel:+2"), Events: []flows.Event{msg("x"), msg("y")}})
	_ = b.DB().Update(func(tx *bbolt.Tx) error {
		seq, _, _ := lookup(tx, nil, "c", idKey("c"))
		k := eventKey(seq, 2)
		v := bytes.Clone(tx.Bucket(bRecords).Get(k))
		v[len(v)-1] ^= 0xff
		return tx.Bucket(bRecords).Put(k, v)
	})
	if _, err := b.SessionEvents(ctx, "c", 0, 10); err == nil || !strings.Contains(err.Error(), `session "c"`) {
		t.Fatalf("SessionEvents on a corrupt value: %v", err)
	}
	for _, v := range [][]byte{nil, {eventsS2}, {eventsS2, 0}, {7, 1, 0}, {eventsS2, 2, 0x00}} {
		if _, err := decodeEvents(v); err == nil {
			t.Errorf("decodeEvents(%x) accepted", v)
		}
	}
}

// An event log pages by the limit asked for up to MaxEventsPage, more than
// the lists' 1000, so the API's events endpoint gets the page it asks for.
func TestSessionEventsPageSize(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	evs := make([]flows.Event, MaxEventsPage+500)
	for i := range evs {
		evs[i] = flows.Event{Type: flows.EventMessageOut, Text: fmt.Sprint(i), Time: t0}
	}
	mustSave(t, b, &Turn{Session: session("s", flows.StatusActive, "tel:+1"), Events: evs})
	for _, c := range []struct{ limit, after, want int }{
		{0, 0, 100}, {1500, 0, 1500}, {MaxEventsPage, 0, MaxEventsPage}, {MaxEventsPage + 1, 0, MaxEventsPage},
		{MaxEventsPage, MaxEventsPage, 500},
	} {
		recs, err := b.SessionEvents(ctx, "s", uint64(c.after), c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != c.want || recs[0].Seq != uint64(c.after)+1 {
			t.Errorf("limit %d after %d: %d events from %d, want %d from %d", c.limit, c.after, len(recs), recs[0].Seq, c.want, c.after+1)
		}
	}
}

// TestDeleteSessionCounted: a session deleted one by one is counted in
// Stats.Deleted by its status, so that Sessions + Pruned + Deleted of a
// status, the count of sessions ever stored in it, does not go down.
func TestDeleteSessionCounted(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	mustSave(t, b, &Turn{Session: session("s", flows.StatusCompleted, "tel:s"), Channel: "sms"})
	ever := func(st Stats) int64 {
		return st.Sessions[flows.StatusCompleted] + st.Pruned[flows.StatusCompleted] + st.Deleted[flows.StatusCompleted]
	}
	if n := ever(stats(t, b)); n != 1 {
		t.Fatalf("completed sessions before the delete: %d, want 1", n)
	}
	wantErr(t, "DeleteSession", b.DeleteSession(ctx, "s"), nil)
	if st := stats(t, b); ever(st) != 1 || st.Deleted[flows.StatusCompleted] != 1 {
		t.Fatalf("after the delete: sessions %v, pruned %v, deleted %v; want one completed session deleted", st.Sessions, st.Pruned, st.Deleted)
	}
}
