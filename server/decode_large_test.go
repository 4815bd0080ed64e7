package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// misspeltBatch is a batch body of n messages of about 340 bytes each,
// every step-th of which names its text "txet": a large body with many
// problems, and the paths of the first of them.
func misspeltBatch(n, step int) (body []byte, paths []string) {
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	pad := strings.Repeat("lorem ipsum ", 25)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		name := "text"
		if i%step == step-1 {
			name = "txet"
			paths = append(paths, fmt.Sprintf("messages[%d].txet", i))
		}
		fmt.Fprintf(&b, `{"from":"+1555%07d","id":"m-%d","%s":"%s"}`, i, i, name, pad)
	}
	b.WriteString(`]}`)
	return []byte(b.String()), paths
}

// A large body with many problems is told of its first problems, in order,
// and that there may be more, rather than read again and again to list them
// all: the refusal costs a few decodings of the body, not one per problem.
func TestLargeBodyListsFirstProblems(t *testing.T) {
	body, paths := misspeltBatch(2000, 33)
	if len(body) < 600<<10 || len(paths) < 60 {
		t.Fatalf("body of %d bytes with %d problems", len(body), len(paths))
	}
	var ae *APIError
	if err := decodeStrict(body, &batchBody{}); !errors.As(err, &ae) {
		t.Fatalf("decodeStrict: %v, want an APIError", err)
	}
	if ae.Field != paths[0] || ae.Code != CodeUnknownField {
		t.Errorf("code %s, field %q, want %s at %q", ae.Code, ae.Field, CodeUnknownField, paths[0])
	}
	n := len(ae.Details)
	if n < 2 || ae.Details[n-1].Path != "$" || !strings.Contains(ae.Details[n-1].Message, "more") {
		t.Fatalf("errors %v, want the first problems and a last one at $ saying there may be more", ae.Details)
	}
	if n-1 >= len(paths) {
		t.Errorf("%d problems listed of a body with %d", n-1, len(paths))
	}
	for i, p := range ae.Details[:n-1] {
		if p.Path != paths[i] {
			t.Errorf("problem %d at %q, want %q", i, p.Path, paths[i])
		}
	}
	// A small body with as many problems still has them all listed, without
	// the note.
	small, smallPaths := misspeltBatch(20, 2)
	ae = nil
	if err := decodeStrict(small, &batchBody{}); !errors.As(err, &ae) {
		t.Fatalf("decodeStrict: %v, want an APIError", err)
	}
	if len(ae.Details) != len(smallPaths) {
		t.Fatalf("%d problems listed of a body with %d: %v", len(ae.Details), len(smallPaths), ae.Details)
	}
	for i, p := range ae.Details {
		if p.Path != smallPaths[i] {
			t.Errorf("problem %d at %q, want %q", i, p.Path, smallPaths[i])
		}
	}
}

// BenchmarkRefuseLargeBody measures refusing a 680 KB batch body with 60
// misspelt fields, every problem of which the refusal would list.
func BenchmarkRefuseLargeBody(b *testing.B) {
	body, _ := misspeltBatch(2000, 33)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if decodeStrict(body, &batchBody{}) == nil {
			b.Fatal("decoded")
		}
	}
}

// A small body with more problems than are listed at once says so in a last
// entry, as a large one does.
func TestManyProblemsSaySoAtTheEnd(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"from":"+1555010%04d","txet":"hi"}`, i)
	}
	b.WriteString(`]}`)
	body := []byte(b.String())
	var ae *APIError
	if err := decodeStrict(body, &batchBody{}); !errors.As(err, &ae) {
		t.Fatalf("decodeStrict: %v, want an APIError", err)
	}
	n := len(ae.Details)
	if n != flows.MaxProblems+1 || ae.Details[n-1].Path != "$" ||
		ae.Details[n-1].Message != "and more: at most 50 problems are listed at once; these are the first 50" {
		t.Fatalf("%d entries, the last %+v; want %d problems and a last entry at $ saying there may be more", n, ae.Details[n-1], flows.MaxProblems)
	}
}

// A large flow with many problems, written with POST /v1/flows or checked
// with /v1/flows/validate, is told of its first problems and that there may
// be more, as a large body is, rather than decoded again for each problem.
// A flow as large with a problem in each of many widgets is listed whole.
func TestLargeFlowListsFirstProblems(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	var fields strings.Builder
	for i := range 60 {
		fmt.Fprintf(&fields, `"x%d":%d,`, i, i)
	}
	big := `{"id":"big","widgets":[{"id":"hi","type":"send_message",` + fields.String() +
		`"text":"` + strings.Repeat("a", 900<<10) + `","exits":{"Next":""}}]}`
	r := ts.do("POST", "/v1/flows", big)
	var reply struct {
		Error struct {
			Code, Message, Field string
			Errors               []flows.FieldError
		}
	}
	if err := json.Unmarshal(r.Body, &reply); err != nil {
		t.Fatalf("POST /v1/flows: %v: %s", err, r.Body)
	}
	e := reply.Error
	n := len(e.Errors)
	if r.Status != 422 || e.Code != CodeInvalidFlow || n < 2 || n > 10 {
		t.Fatalf("POST /v1/flows: %d %s with %d errors, want 422 invalid_flow listing a few", r.Status, e.Code, n)
	}
	wantLast := fmt.Sprintf("and perhaps more: the flow is too large to list every problem of it at once; these are the first %d", n-1)
	if last := e.Errors[n-1]; last.Path != "$" || last.Message != wantLast {
		t.Errorf("last error %+v, want at $ %q", last, wantLast)
	}
	wantMsg := fmt.Sprintf(`the flow has at least %d error(s): widget "hi": widgets[0].x0: unknown field "x0"`, n-1)
	if e.Message != wantMsg || e.Field != "widgets[0].x0" {
		t.Errorf("message %q at %q, want %q", e.Message, e.Field, wantMsg)
	}
	// /v1/flows/validate lists the same.
	var valid struct {
		Valid  bool
		Errors []flows.FieldError
	}
	if err := json.Unmarshal(ts.do("POST", "/v1/flows/validate", big).Body, &valid); err != nil {
		t.Fatal(err)
	}
	if valid.Valid || len(valid.Errors) != n || valid.Errors[n-1].Message != wantLast {
		t.Errorf("validate: %d errors, want the %d errors of POST /v1/flows", len(valid.Errors), n)
	}
	// 2,000 widgets, each with a misspelt field: every one is listed.
	var many strings.Builder
	many.WriteString(`{"id":"many","widgets":[`)
	for i := range 2000 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"id":"w%d","type":"send_message","txet":"x","text":"%s","exits":{"Next":""}}`, i, strings.Repeat("lorem ipsum ", 30))
	}
	many.WriteString(`]}`)
	if many.Len() < 600<<10 {
		t.Fatalf("flow of %d bytes", many.Len())
	}
	valid.Errors = nil
	if err := json.Unmarshal(ts.do("POST", "/v1/flows/validate", many.String()).Body, &valid); err != nil {
		t.Fatal(err)
	}
	if errs := valid.Errors; len(errs) != 2000 || errs[1999].Path != "widgets[1999].txet" {
		t.Errorf("many widgets: %d errors, want each widget's misspelt field", len(errs))
	}
}

// A small flow with more problems in one widget, or in its own fields, than
// are listed of either at once ends its list saying there are more, as a
// list cut for the flow's size does, and the message says "more than". The
// flow is not stored.
func TestFlowProblemsCapSaysSo(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Examples = nil })
	var fields strings.Builder
	for i := range 60 {
		fmt.Fprintf(&fields, `"x%d":%d,`, i, i)
	}
	for _, c := range []struct{ name, doc, wantLast string }{
		{"one widget", `{"id":"capped","widgets":[
 {"id":"hi","type":"send_message",` + fields.String() + `"text":"Hi","exits":{"Next":"typo"}},
 {"id":"typo","type":"send_mesage","exits":{"Next":""}}]}`,
			`and more: at most 50 problems of one widget are listed at once, and widget "hi" has more; these are the first 51`},
		{"the flow's own fields", `{"id":"capped",` + fields.String() + `"widgets":[{"id":"hi","type":"send_message","text":"Hi"}]}`,
			`and more: at most 50 problems of the flow's own fields are listed at once; these are the first 50`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var valid struct {
				Valid  bool
				Errors []flows.FieldError
			}
			if err := json.Unmarshal(ts.do("POST", "/v1/flows/validate", c.doc).Body, &valid); err != nil {
				t.Fatal(err)
			}
			n := len(valid.Errors)
			if valid.Valid || n < 2 {
				t.Fatalf("validate: valid %v with %d errors", valid.Valid, n)
			}
			if last := valid.Errors[n-1]; last.Path != "$" || last.Message != c.wantLast {
				t.Errorf("validate: %d errors, the last %+v; want at $ %q", n, last, c.wantLast)
			}
			for _, fe := range valid.Errors {
				if strings.Contains(fe.Message, "at least one widget") {
					t.Errorf("validate lists %q, a problem of what was not read", fe.Message)
				}
			}
			r := ts.do("POST", "/v1/flows", c.doc)
			e := r.errorOf(t)
			wantMsg := fmt.Sprintf("the flow has more than %d errors: ", n-1)
			if msg, _ := e["message"].(string); r.Status != 422 || !strings.HasPrefix(msg, wantMsg) {
				t.Errorf("POST /v1/flows: %d %s, want 422 saying %q", r.Status, r.Body, wantMsg)
			}
			ts.must(404, "GET", "/v1/flows/capped", nil)
		})
	}
}
