package engine_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/sim"
	"github.com/parleyhq/parley/widgets"
)

// doublingFlow doubles a flow variable at each step, in a loop with no wait.
const doublingFlow = `{"id":"dbl","start":"init","widgets":[
  {"id":"init","type":"set_variable","name":"acc","value":"0123456789abcdef","exits":{"Next":"dbl"}},
  {"id":"dbl","type":"set_variable","name":"acc","value":"@flow.acc@flow.acc","exits":{"Next":"dbl"%s}},
  {"id":"failed","type":"send_message","text":"too long: @(length(flow.acc.value))"}]}`

// TestValueLimitStopsADoublingLoop: a value that would pass the limit is not
// made; the widget fails, naming the limit, the widget and the template.
func TestValueLimitStopsADoublingLoop(t *testing.T) {
	tests := []struct {
		name, failure string
		opts          []engine.Option
		limit         int
		status        flows.Status
	}{
		{"default limit, no Failure exit: the session fails", "", nil, engine.DefaultMaxValueBytes, flows.StatusFailed},
		{"Failure exit taken", `,"Failure":"failed"`, nil, engine.DefaultMaxValueBytes, flows.StatusCompleted},
		{"WithMaxValueBytes", "", []engine.Option{engine.WithMaxValueBytes(1000)}, 1000, flows.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil, tc.opts...)
			f := fx.load(t, strings.Replace(doublingFlow, "%s", tc.failure, 1))
			s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != tc.status {
				t.Errorf("status %s, want %s", s.Status, tc.status)
			}
			acc := s.Frames[0].Results["acc"].Value
			if len(acc) > tc.limit || len(acc)*2 <= tc.limit {
				t.Errorf("acc is %d bytes, want the last value under %d", len(acc), tc.limit)
			}
			errs := eventsOf(evs, flows.EventError)
			want := `set_variable "dbl": value: the template "@flow.acc@flow.acc" is ` + itoa(len(acc)*2) + ` bytes, over the ` + itoa(tc.limit) + `-byte limit of a value (--max-value)`
			if len(errs) != 1 || errs[0].Message != want || errs[0].Widget != "dbl" {
				t.Errorf("error events %+v, want one: %s", errs, want)
			}
			if tc.failure != "" {
				if got := texts(evs); len(got) != 1 || got[0] != "too long: "+itoa(len(acc)) {
					t.Errorf("sent %q after the Failure exit", got)
				}
			}
			b, _ := json.Marshal(s)
			if len(b) > 4*tc.limit+4096 {
				t.Errorf("session is %d bytes", len(b))
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestExpressionValueLimit: functions and + whose result would pass the
// limit refuse to make it, before allocating it; the widget fails.
func TestExpressionValueLimit(t *testing.T) {
	tests := []struct{ expr, what string }{
		{`replace(repeat("x", 60000), "x", repeat("y", 60000))`, "replace()'s result is 3600000000 bytes, over"},
		{`replace(repeat("x",100000),"x",repeat("y",100000))`, "repeat()'s result is 100000 bytes"},
		{`repeat(flow.big.value, 999999)`, "repeat()'s result is 39999960000 bytes, over"},
		{`repeat(flow.big.value, 9223372036854775807)`, "repeat()'s result is 9223372036854775807 bytes or more"},
		{`substitute(flow.big.value, "a", flow.big.value)`, "substitute()'s result is 1600000000 bytes, over"},
		{`let a = flow.big.value; let b = a + a; let c = b + b; c + c`, "text joined with + is 80000 bytes,"},
		{`reduce(1..40, #acc + #acc, "xy")`, "text joined with + is 131072 bytes,"},
		{`join([flow.big.value, "b"], flow.big.value)`, "join()'s result is 80001 bytes or more"},
		{`length(split(flow.big.value + flow.big.value[:10000], ""))`, "split()'s result is 65538 bytes or more"},
		{`let a = [flow.big.value]; let b = [a, a]; let c = [b, b]; let d = [c, c]; toJSON([d, d, d, d, d, d, d, d])`, "toJSON()'s result is 80024 bytes or more"},
		{`let a = [flow.big.value]; let b = [a, a]; let c = [b, b]; let d = [c, c]; [d, d, d, d, d, d, d, d]`, "its result is 80019 bytes or more"},
		{`len(toJSON(fromJSON(repeat("[", 9999) + repeat("]", 9999))))`, "toJSON()'s result is 79980 bytes or more"},
		{`fixed(1, 100000000)`, "fixed()'s result is 100000024 bytes or more"},
		{`fixed(1, 9223372036854775807)`, "fixed()'s result is 9223372036854775807 bytes or more"},
		{`read_digits(flow.big.value[:20000] + "1234567890" + repeat("٣", 20000))`, "read_digits()'s result is 73357 bytes, over"},
		{`upper(flow.big.value) + lower(flow.big.value)`, "text joined with + is 80000 bytes,"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			x, _ := json.Marshal(tc.expr)
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [
			  {"id": "v", "type": "set_variable", "name": "v", "expression": `+string(x)+`, "exits": {"Next": "", "Failure": "f"}},
			  {"id": "f", "type": "send_message", "text": "failed"}]}`)
			s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"big": strings.Repeat("a", 40000)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 1 || got[0] != "failed" {
				t.Errorf("sent %q, want the Failure exit taken", got)
			}
			if _, set := s.Frames[0].Results["v"]; set {
				t.Errorf("v was set")
			}
			errs := eventsOf(evs, flows.EventError)
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Message, `set_variable "v": @(`) || !strings.Contains(errs[0].Message, tc.what) ||
				!strings.HasSuffix(errs[0].Message, "over the 65536-byte limit of a value (--max-value)") {
				t.Errorf("error events %+v, want one naming %q", errs, tc.what)
			}
		})
	}
}

// TestValuesAtTheLimit: a value of exactly the limit passes through the
// functions that are measured before they run.
func TestValuesAtTheLimit(t *testing.T) {
	for _, expr := range []string{
		`text(repeat("a", 65536))`, `string(repeat("a", 65536))`, `upper(repeat("a", 65536))`,
		`lower(repeat("a", 65536))`, `title(repeat("a", 65536))`,
		`repeat("a", 65535) + "b"`, `replace(repeat("a", 65536), "a", "b")`,
	} {
		t.Run(expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			x, _ := json.Marshal(expr)
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [
			  {"id": "v", "type": "set_variable", "name": "v", "expression": `+string(x)+`, "exits": {"Next": "", "Failure": "f"}},
			  {"id": "f", "type": "send_message", "text": "failed"}]}`)
			s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if errs := eventsOf(evs, flows.EventError); len(errs) > 0 {
				t.Fatalf("errors %+v", errs)
			}
			if v := s.Frames[0].Results["v"].Value; len(v) != 65536 {
				t.Errorf("v is %d bytes, want 65536", len(v))
			}
		})
	}
}

// TestWebhookBodyOverTheLimitIsNotSent: a webhook whose body renders over
// the limit is not called with a cut body: nothing reaches the receiver,
// and the widget takes its Failure exit.
func TestWebhookBodyOverTheLimitIsNotSent(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}))
	flow := func(body string) *flows.Flow {
		f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
		  {"id": "call", "type": "webhook", "method": "POST", "url": "` + srv.URL + `/orders", "body": "` + body + `",
		   "exits": {"Success": "ok", "Failure": "failed"}},
		  {"id": "ok", "type": "send_message", "text": "sent"},
		  {"id": "failed", "type": "send_message", "text": "not sent"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	big := map[string]string{"big": strings.Repeat("a", 40000)}

	s, evs, _ := e.Start(context.Background(), flow(`{\"a\": \"@flow.big\"}`), engine.StartParams{Variables: big})
	if got := texts(evs); len(got) != 1 || got[0] != "sent" || calls.Load() != 1 {
		t.Fatalf("a body under the limit: sent %q, %d calls", got, calls.Load())
	}

	s, evs, _ = e.Start(context.Background(), flow(`{\"a\": \"@flow.big@flow.big\"}`), engine.StartParams{Variables: big})
	if n := calls.Load(); n != 1 {
		t.Errorf("the receiver got %d calls, want none for the body over the limit", n-1)
	}
	if got := texts(evs); len(got) != 1 || got[0] != "not sent" {
		t.Errorf("sent %q, want the Failure exit", got)
	}
	if len(eventsOf(evs, flows.EventWebhookCalled)) != 0 || s.Frames[0].Results["call"] != nil {
		t.Errorf("a call was recorded: %+v", eventsOf(evs, flows.EventWebhookCalled))
	}
	errs := eventsOf(evs, flows.EventError)
	want := `webhook "call": body: the template "{\"a\": \"@flow.big@flow.big\"}" is 80007 bytes or more, over the 65536-byte limit of a value (--max-value)`
	if len(errs) != 1 || errs[0].Message != want {
		t.Errorf("error events %+v, want %s", errs, want)
	}
}

// TestPlusKeepsItsChecks: + still adds numbers, times and text, and a
// mismatch known when the flow loads is still refused then.
func TestPlusKeepsItsChecks(t *testing.T) {
	for tmpl, want := range map[string]string{
		"<@(1 + 2)>":                           "<3>",
		"<@(int(flow.n.value) + 1)>":           "<6>",
		"<@(flow.n.value + '1')>":              "<51>",
		"<@('a' + 'b' + flow.n.value)>":        "<ab5>",
		"<@((now() + duration('1h')).Year())>": "<2026>",
	} {
		fx := newFixture(t, nil)
		q, _ := json.Marshal(tmpl)
		f := fx.load(t, `{"id": "p", "name": "p", "widgets": [{"id": "m", "type": "send_message", "text": `+string(q)+`}]}`)
		_, evs, _ := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"n": "5"}})
		if got := texts(evs); len(got) != 1 || got[0] != want {
			t.Errorf("%s sent %q, want %s (%+v)", tmpl, got, want, eventsOf(evs, flows.EventError))
		}
	}
	fx := newFixture(t, nil)
	if _, err := fx.e.Load([]byte(`{"id": "p", "name": "p", "widgets": [{"id": "m", "type": "send_message", "text": "@('a' + 1)"}]}`)); err == nil || !strings.Contains(err.Error(), "mismatched types string and int") {
		t.Errorf("'a' + 1 loaded: %v", err)
	}
}

// TestTurnStopsAtItsDeadline: the step loop checks the turn's deadline
// between widgets, so a turn whose webhook used up its time runs no more
// widgets: the session fails with the turn-timeout message.
func TestTurnStopsAtItsDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	hooks := callout.New(callout.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e := engine.New(widgets.Registered(), engine.WithServices(sim.Services{Hooks: hooks}), engine.WithTurnTimeout(200*time.Millisecond))
	f, err := e.Load([]byte(`{"id": "w", "name": "w", "widgets": [
	  {"id": "slow", "type": "webhook", "method": "GET", "url": "` + srv.URL + `/slow", "exits": {"Success": "after", "Failure": "after"}},
	  {"id": "after", "type": "send_message", "text": "after the deadline"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, evs, err := e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 0 {
		t.Errorf("sent %q after the turn's deadline", got)
	}
	if s.Status != flows.StatusFailed {
		t.Errorf("status %s, want failed", s.Status)
	}
	errs := eventsOf(evs, flows.EventError)
	want := `the turn's time limit (--turn-timeout) was reached after widget "slow"`
	if len(errs) != 1 || errs[0].Message != want || errs[0].Widget != "slow" {
		t.Errorf("error events %+v, want %s", errs, want)
	}
}

// runExpr starts a flow whose set_variable evaluates expr, with a Failure
// exit to a message, and returns the error events and the messages sent.
func runExpr(t *testing.T, expr string, opts ...engine.Option) (errs []flows.Event, sent []string) {
	t.Helper()
	fx := newFixture(t, nil, opts...)
	x, _ := json.Marshal(expr)
	f := fx.load(t, `{"id": "x", "name": "x", "widgets": [
	  {"id": "v", "type": "set_variable", "name": "v", "expression": `+string(x)+`, "exits": {"Next": "ok", "Failure": "f"}},
	  {"id": "ok", "type": "send_message", "text": "ok"},
	  {"id": "f", "type": "send_message", "text": "failed"}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	return eventsOf(evs, flows.EventError), texts(evs)
}

// TestExpressionBudget: what one evaluation makes in all is bounded, not
// only each value: a loop of values each under the limit of a value stops
// at the budget of an expression, and the widget fails naming it.
func TestExpressionBudget(t *testing.T) {
	const bytesLimit = "over the 4194304-byte limit of an expression (--max-expr-bytes)"
	const itemsLimit = "it builds or goes over more than 100000 items (list items, map entries, items a loop takes), the limit of an expression (--max-expr-items)"
	tests := []struct {
		expr, want string
		opts       []engine.Option
	}{
		{`len(map(1..100, repeat("x", 60000)))`, "what its functions and + made comes to 4200000 bytes or more, " + bytesLimit, nil},
		{`len(filter(1..1000, upper(repeat("x", 6000)) != ""))`, bytesLimit, nil},
		{`reduce(1..1000, #acc + len(toJSON(repeat("ab", 3000))), 0)`, bytesLimit, nil},
		{`len(map(1..100, repeat("x", 60000)))`, "comes to 1020000 bytes or more, over the 1000000-byte limit of an expression (--max-expr-bytes)",
			[]engine.Option{engine.WithMaxExprBytes(1000000)}},
		{`len(1..100001)`, itemsLimit, nil},
		{`len(map(1..60000, #))`, itemsLimit, nil},
		{`let r = 1..1000; count(r, count(r, # > 0) > 0)`, itemsLimit, nil},
		{`len(1..1001)`, "more than 1000 items", []engine.Option{engine.WithMaxExprItems(1000)}},
		{`len(reduce(1..600, #acc + "` + strings.Repeat("x", 53) + `", ""))`, bytesLimit, nil}, // as docs/flow-format.md says
		{`len(1..1000) + count(1..1000, true) + len(1..1)`, "more than 1000 items", []engine.Option{engine.WithMaxExprItems(1000)}},
		{`let r = 1..60000; 0 in r || 0 in r`, itemsLimit, nil},
		{`let a = repeat("x", 60000); a matches a`, "matches: a text of 60000 bytes against a pattern of 60002 instructions is more than one match may do (the text's bytes times the pattern's instructions, at most 16777216)", nil},
		{`repeat("x", 60000) matches "` + strings.Repeat("x", 300) + `"`, "a text of 60000 bytes against a pattern of 302 instructions", nil},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			errs, sent := runExpr(t, tc.expr, tc.opts...)
			if len(sent) != 1 || sent[0] != "failed" {
				t.Errorf("sent %q, want the Failure exit taken", sent)
			}
			// A match refused is an expression's error as any other.
			prefix := `set_variable "v": @(`
			if strings.Contains(tc.expr, "matches") {
				prefix = `expression "`
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Message, prefix) || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("error events %+v, want one saying %q", errs, tc.want)
			}
		})
	}
	// Under the budgets: as much as a flow could want, and more; exactly
	// as many items as the budget allows.
	for _, expr := range []string{
		`len(map(1..60, repeat("x", 60000)))`, `len(1..100000)`, `count(1..100000, # > 0) == 100000`, `100000 in 1..100000`,
		`len(map(1..1000, 1..98)) == 1000`, `let r = 1..300; count(r, count(r, # > 0) > 0)`,
		`len(join(map(1..5000, upper("item " + string(#))), ", "))`,
		`len(join(map(1..600, "` + strings.Repeat("x", 53) + `"), "")) == 31800`,
		`5 in 1..60000 && "b" in ["a", "b"] && !(0 in 1..60000) && "x" not in {"a": 1}`,
		`repeat("x", 1000) matches "^x+$" && repeat("ab", 100) matches string("^(ab)+$")`,
	} {
		if errs, sent := runExpr(t, expr); len(errs) != 0 || len(sent) != 1 || sent[0] != "ok" {
			t.Errorf("%s: sent %q, errors %+v", expr, sent, errs)
		}
	}
}

// TestExpressionStopsAtTheDeadline: an expression that would run for hours
// within its budgets stops at the turn's deadline, and its message is not
// sent: the session fails with the turn-timeout message.
func TestExpressionStopsAtTheDeadline(t *testing.T) {
	unbounded := []engine.Option{engine.WithTurnTimeout(100 * time.Millisecond), engine.WithMaxExprItems(math.MaxInt), engine.WithMaxExprBytes(math.MaxInt)}
	for _, expr := range []string{
		`let r = 1..10000; sum(r, sum(r, sum(r, #)))`,
		`let r = 1..10000; sum(r, sum(r, count(r, upper("a") == "A")))`,
		`let r = 1..10000; reduce(r, reduce(r, reduce(r, #acc + len(repeat("x", 100)), 0), 0), 0)`,
	} {
		t.Run(expr, func(t *testing.T) {
			fx := newFixture(t, nil, unbounded...)
			x, _ := json.Marshal("@(" + expr + ")")
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [
			  {"id": "m", "type": "send_message", "text": `+string(x)+`, "exits": {"Next": "after"}},
			  {"id": "after", "type": "send_message", "text": "after"}]}`)
			s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{})
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 0 {
				t.Errorf("sent %q", got)
			}
			if s.Status != flows.StatusFailed {
				t.Errorf("status %s, want failed", s.Status)
			}
			errs := eventsOf(evs, flows.EventError)
			want := `send_message "m": text: @(` + expr[:min(len(expr), 60)]
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Message, want) ||
				!strings.HasSuffix(errs[0].Message, ": the turn's time limit (--turn-timeout) was reached while it ran") {
				t.Errorf("error events %+v, want one naming the expression and the turn's time limit", errs)
			}
		})
	}
}

// TestReturnedArgumentsAreNotMade: a function that hands back the text it
// was given (text of a text, trim or lower of one with nothing to change)
// made nothing, and a loop of it is not stopped by --max-expr-bytes; one
// that makes a copy is.
func TestReturnedArgumentsAreNotMade(t *testing.T) {
	big := strings.Repeat("a", 40000)
	for _, tc := range []struct{ expr, want string }{
		{`count(1..200, text(flow.big.value) != "")`, "200"},
		{`count(1..200, trim(flow.big.value) != "")`, "200"},
		{`count(1..200, string(flow.big.value) != "")`, "200"},
		{`count(1..200, lower(flow.big.value) != "")`, "200"},
		{`count(1..200, default(flow.big.value, "x") != "")`, "200"},
		{`count(1..200, upper(flow.big.value) != "")`, "over the 4194304-byte limit of an expression (--max-expr-bytes)"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			x, _ := json.Marshal("@(" + tc.expr + ")")
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(x)+`}]}`)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"big": big}})
			if err != nil {
				t.Fatal(err)
			}
			errs, sent := eventsOf(evs, flows.EventError), texts(evs)
			if tc.want == "200" {
				if len(sent) != 1 || sent[0] != "200" || len(errs) != 0 {
					t.Errorf("sent %q, error events %+v, want 200 sent", sent, errs)
				}
			} else if len(sent) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("sent %q, error events %+v, want one saying %q", sent, errs, tc.want)
			}
		})
	}
}

// TestMatchWork: a match is measured by the instructions its pattern
// compiles to, not its bytes (a{1000} is 7 bytes and a thousand
// instructions), and each one looks at the clock before it runs, however
// few calls its expression makes: a flow of slow matches, each under the
// limit of one, stops at the turn's deadline instead of running on for
// seconds and sending its message.
func TestMatchWork(t *testing.T) {
	big := strings.Repeat("a", 64000)
	for _, tc := range []struct{ expr, want string }{
		{`flow.big.value matches "a{1000}a{1000}a{1000}a{1000}b"`, "matches: a text of 64000 bytes against a pattern of 4003 instructions is more than one match may do"},
		{`flow.big.value matches "[a-z]{1000}b"`, "against a pattern of 1003 instructions"},
		{`flow.big.value matches flow.pattern.value`, "against a pattern of 1003 instructions"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			x, _ := json.Marshal("@(" + tc.expr + ")")
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(x)+`}]}`)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"big": big, "pattern": "a{1000}b"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(evs); len(got) != 0 {
				t.Errorf("sent %q", got)
			}
			errs := eventsOf(evs, flows.EventError)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("error events %+v, want one saying %q", errs, tc.want)
			}
		})
	}
	// Ten matches of about a tenth of a second or more each, under the
	// limit of one, in each of two expressions.
	slow := strings.Repeat(`flow.big.value matches "a{250}b" || `, 9) + `flow.big.value matches "a{250}b"`
	x, _ := json.Marshal("@(" + slow + ") @(" + slow + ")")
	fx := newFixture(t, nil, engine.WithTurnTimeout(50*time.Millisecond))
	f := fx.load(t, `{"id": "x", "name": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(x)+`}]}`)
	s, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"big": big}})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(evs); len(got) != 0 || s.Status != flows.StatusFailed {
		t.Errorf("sent %q, status %s: want nothing sent and the session failed", got, s.Status)
	}
	errs := eventsOf(evs, flows.EventError)
	if len(errs) != 1 || !strings.HasSuffix(errs[0].Message, ": the turn's time limit (--turn-timeout) was reached while it ran") {
		t.Errorf("error events %+v, want one saying the turn's time limit was reached", errs)
	}
}

// TestLongExpressionErrors: a compile error quotes the expression cut at 60
// characters, and one over the limit of its size says the limit in words.
func TestLongExpressionErrors(t *testing.T) {
	e := engine.New(widgets.Registered())
	tests := []struct{ expr, want string }{
		{strings.Repeat("1+", 100000) + "1", `bad expression "` + strings.Repeat("1+", 30) + `…": an expression has at most 1000 parts (numbers, names, operators, calls ...): this one has more`},
		{"1 +* 2" + strings.Repeat(" + 1", 50000), `bad expression "` + ("1 +* 2" + strings.Repeat(" + 1", 50))[:60] + `…": unexpected token Operator("*") (1:4)`},
		{strings.Repeat("a", 100000) + "(1)", `bad expression "` + strings.Repeat("a", 60) + `…": unknown function ` + strings.Repeat("a", 60) + "… (1:1)"},
	}
	for _, tc := range tests {
		x, _ := json.Marshal(tc.expr)
		_, err := e.Load([]byte(`{"id": "x", "name": "x", "widgets": [
		  {"id": "v", "type": "set_variable", "name": "v", "expression": ` + string(x) + `}]}`))
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 400 {
			t.Errorf("%.40s...: error %.600v, want %s", tc.expr, err, tc.want)
		}
	}
}

// TestEnvHoldsTheFlowsVariables: $env is the flow's variables, without
// what the engine keeps for an evaluation of its own.
func TestEnvHoldsTheFlowsVariables(t *testing.T) {
	fx := newFixture(t, nil)
	x, _ := json.Marshal(`@(string($env["run()"])) @(string($env["round()"])) @(len(filter(keys($env), # contains "()"))) @(toJSON($env) contains "()") @($env.contact.name) @(map(1..2, $env.flow.x.value))`)
	f := fx.load(t, `{"id": "x", "name": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(x)+`}]}`)
	_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Contact: flows.Contact{Name: "Ana"}, Variables: map[string]string{"x": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := texts(evs), []string{`  0 false Ana ["hi","hi"]`}; !slices.Equal(got, want) {
		t.Errorf("sent %q, error events %+v, want %q", got, eventsOf(evs, flows.EventError), want)
	}
}

// TestOperatorErrorsPointAtTheOperator: an error of in or matches points
// at the operator, as expr-lang's own errors do, not at the start of the
// expression.
func TestOperatorErrorsPointAtTheOperator(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`flow.x.value != "" && flow.x.value matches flow.p.value`, "matches: error parsing regexp: missing closing ): `(` (1:36)"},
		{`flow.x.value != "" && flow.big.value matches "a{300}"`, "against a pattern of 302 instructions is more than one match may do (the text's bytes times the pattern's instructions, at most 16777216) (1:38)"},
		{`flow.x.value != "" && repeat("x", 60000) matches flow.p2.value`, "against a pattern of 302 instructions is more than one match may do (the text's bytes times the pattern's instructions, at most 16777216) (1:42)"},
		{`flow.x.value != "" && 1 in flow.x.value`, "(1:25)"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			fx := newFixture(t, nil)
			x, _ := json.Marshal("@(" + tc.expr + ")")
			f := fx.load(t, `{"id": "x", "name": "x", "widgets": [{"id": "m", "type": "send_message", "text": `+string(x)+`}]}`)
			_, evs, err := fx.e.Start(context.Background(), f, engine.StartParams{Variables: map[string]string{"x": "a", "p": "(", "p2": "a{300}", "big": strings.Repeat("a", 60000)}})
			if err != nil {
				t.Fatal(err)
			}
			errs := eventsOf(evs, flows.EventError)
			if len(errs) != 1 || !strings.HasSuffix(errs[0].Message, tc.want) {
				t.Errorf("error events %+v, want one ending %q", errs, tc.want)
			}
		})
	}
}
