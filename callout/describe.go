package callout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/tidwall/gjson"

	"github.com/parleyhq/parley/flows"
)

// Exit is the webhook widget exit for an outcome: Success for success, Timeout
// for a timeout or connection error when the widget has that exit, Failure
// otherwise.
func Exit(outcome string, hasTimeoutExit bool) string {
	switch {
	case outcome == flows.OutcomeSuccess:
		return flows.ExitSuccess
	case (outcome == flows.OutcomeTimeout || outcome == flows.OutcomeError) && hasTimeoutExit:
		return flows.ExitTimeout
	}
	return flows.ExitFailure
}

// MaxAnswerDepth is how deeply arrays and objects may nest in a JSON answer
// kept as @extra. Answers of real services nest a few levels, rarely twenty;
// the session that keeps the answer is itself JSON, and JSON encoders refuse
// documents nested some thousands of levels deep (encoding/json: 10,000), so
// a deeper answer, tiny as it may be ("[[[...]]]" 10,001 deep is 20 KB),
// would make the session impossible to save.
const MaxAnswerDepth = 64

// CheckAnswer makes a call whose JSON answer is nested deeper than
// MaxAnswerDepth a failed one: its outcome becomes failure (the Failure
// exit) with a message saying why, and Extra keeps nothing of it, so the
// flow moves on without it. It does nothing to other answers.
func CheckAnswer(res *flows.WebhookResult) {
	if res == nil || res.Outcome == flows.OutcomeTooBig {
		return
	}
	b := bytes.TrimSpace(res.Body)
	if len(b) == 0 || (b[0] != '[' && b[0] != '{') || jsonDepth(b, MaxAnswerDepth) <= MaxAnswerDepth {
		return
	}
	res.Outcome = flows.OutcomeFailure
	msg := fmt.Sprintf("the answer's JSON nests arrays and objects more than %d levels deep: it is not kept", MaxAnswerDepth)
	if res.Error != "" {
		msg = res.Error + "; " + msg
	}
	res.Error = msg
}

// CapAnswer holds an answer made without a connection (a mocked one) to
// the size cap a real call has: maxResponse (the webhook's
// max_response_bytes), else DefaultMaxResponse, at most MaxResponseBytes. An
// answer over it is cut there, at a whole character, and is too_large, as
// the Service makes it.
func CapAnswer(res *flows.WebhookResult, maxResponse int) {
	limit := maxResponse
	if limit <= 0 {
		limit = DefaultMaxResponse
	}
	limit = min(limit, MaxResponseBytes)
	if res == nil || len(res.Body) <= limit {
		return
	}
	res.Body = flows.CutText(res.Body, limit)
	res.Outcome, res.Error = flows.OutcomeTooBig, answerCapError(limit, maxResponse > 0)
	if res.Response != nil {
		res.Response.Body, res.Response.Truncated = string(res.Body), true
	}
}

// Extra returns the answer's body as @extra when it is complete, valid JSON
// nested at most MaxAnswerDepth levels deep, and nil otherwise (a text or
// HTML answer, one cut at the size cap, one nested deeper). An object that
// gives a name more than once keeps it once, with its last value (see
// LastValues), so gjson paths read what expressions do.
func Extra(res *flows.WebhookResult) json.RawMessage {
	if res == nil || res.Outcome == flows.OutcomeTooBig {
		return nil
	}
	b := bytes.TrimSpace(res.Body)
	if len(b) == 0 || jsonDepth(b, MaxAnswerDepth) > MaxAnswerDepth || !gjson.ValidBytes(b) {
		return nil
	}
	if u, rewritten := LastValues(b); rewritten {
		return u // already a copy
	}
	return json.RawMessage(append([]byte(nil), b...))
}

// lastValuesOptions read JSON as gjson does: any bytes in strings.
var lastValuesOptions = jsontext.AllowInvalidUTF8(true)

// LastValues returns the valid JSON text b with every object giving each of
// its names once: a name given more than once keeps its first place and its
// last value, as encoding/json, JavaScript's JSON.parse and RapidPro read it
// ({"a":1,"b":2,"a":3} becomes {"a":3,"b":2}), at any depth. gjson, which
// templates and mappings read paths with, would take the first value. Names
// are compared as they read, escapes decoded ("\u0061" is "a"). Values keep
// their text (numbers every digit); the rewritten text has no whitespace
// between tokens, in a new slice, and rewritten is true. b itself is
// returned when no object repeats a name (checked in one pass that allocates
// nothing) or when it is not valid JSON.
func LastValues(b []byte) (out []byte, rewritten bool) {
	// Valid as RFC 7493 says (I-JSON) is valid JSON without a repeated name.
	if jsontext.Value(b).IsValid(lastValuesOptions) {
		return b, false
	}
	d := jsontext.NewDecoder(bytes.NewReader(b), lastValuesOptions, jsontext.AllowDuplicateNames(true))
	out, err := appendLastValues(make([]byte, 0, len(b)), d)
	if err != nil {
		return b, false
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return b, false
	}
	return out, true
}

// appendLastValues appends the next value d reads, its objects' names once.
func appendLastValues(dst []byte, d *jsontext.Decoder) ([]byte, error) {
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		type member struct{ name, value []byte }
		var members []member
		at := map[string]int{}
		for d.PeekKind() != '}' {
			raw, err := d.ReadValue()
			if err != nil {
				return nil, err
			}
			name, err := jsontext.AppendUnquote(nil, raw)
			if err != nil {
				return nil, err
			}
			m := member{name: bytes.Clone(raw)}
			if m.value, err = appendLastValues(nil, d); err != nil {
				return nil, err
			}
			if i, seen := at[string(name)]; seen {
				members[i].value = m.value
				continue
			}
			at[string(name)] = len(members)
			members = append(members, m)
		}
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(append(append(dst, m.name...), ':'), m.value...)
		}
		return append(dst, '}'), nil
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		dst = append(dst, '[')
		for first := true; d.PeekKind() != ']'; first = false {
			if !first {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendLastValues(dst, d); err != nil {
				return nil, err
			}
		}
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		return append(dst, ']'), nil
	}
	v, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	return append(dst, v...), nil
}

// jsonDepth is how deeply arrays and objects nest in the JSON text b,
// counted until it passes limit.
func jsonDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// Extract reads gjson paths from a JSON answer, for a widget's mappings
// (variable name → path such as "data.order.status"). Strings come back as
// they are; numbers, booleans, objects and arrays as their JSON text; null
// as empty text. Names
// whose path matched nothing are listed in missing, sorted, and left out.
func Extract(body []byte, mappings map[string]string) (values map[string]string, missing []string) {
	values = make(map[string]string, len(mappings))
	valid := gjson.ValidBytes(body)
	for name, path := range mappings {
		var r gjson.Result
		if valid {
			r = gjson.GetBytes(body, path)
		}
		if !r.Exists() {
			missing = append(missing, name)
			continue
		}
		switch r.Type {
		case gjson.String:
			values[name] = r.Str
		case gjson.Null:
			values[name] = "" // empty, as @extra.PATH renders it
		default:
			values[name] = r.Raw
		}
	}
	sort.Strings(missing)
	return values, missing
}

// Event is the webhook_called event for a result; the engine fills in time,
// widget and flow. Traces are already redacted.
func Event(req *flows.WebhookRequest, res *flows.WebhookResult) flows.Event {
	e := flows.Event{
		Type: flows.EventWebhookCalled, Name: req.Name, Method: strings.ToUpper(req.Method),
		Status: res.Status, ElapsedMS: res.Elapsed.Milliseconds(), Outcome: res.Outcome,
		Attempts: res.Attempts, Request: res.Request, Response: res.Response, Calls: res.Calls,
		Message: res.Error,
	}
	if res.Request != nil {
		e.URL = res.Request.URL
		e.Method = res.Request.Method
	}
	return e
}

// Describe prints a call for people (parley webhook test): the request sent,
// then the answer received with its status, headers, body and duration, and
// each attempt when there were several. Secrets are already redacted.
func Describe(res *flows.WebhookResult) string {
	var b strings.Builder
	if res.Request != nil {
		b.WriteString("> " + res.Request.Method + " " + res.Request.URL + "\n")
		writeTrace(&b, "> ", res.Request)
	}
	b.WriteString("\n")
	if res.Response != nil {
		status := fmt.Sprintf("%d %s", res.Status, http.StatusText(res.Status))
		if res.Response.URL != "" {
			status += " (from " + res.Response.URL + ")"
		}
		b.WriteString("< " + strings.TrimSpace(status) + "\n")
		writeTrace(&b, "< ", res.Response)
		b.WriteString("\n")
	}
	att := "1 attempt"
	if res.Attempts != 1 {
		att = fmt.Sprintf("%d attempts", res.Attempts)
	}
	fmt.Fprintf(&b, "%s in %s, %s", res.Outcome, res.Elapsed.Round(time.Millisecond), att)
	if res.Error != "" {
		b.WriteString(": " + res.Error)
	}
	b.WriteString("\n")
	if len(res.Calls) > 1 {
		b.WriteString("\nexchanges:\n")
		for _, c := range res.Calls {
			line := fmt.Sprintf("  #%d %s %s", c.Attempt, c.Request.Method, c.Request.URL)
			if c.Response != nil {
				line += fmt.Sprintf(" → %d", c.Response.Status)
			}
			if c.Error != "" {
				line += " → " + c.Error
			}
			fmt.Fprintf(&b, "%s (%d ms)\n", line, c.ElapsedMS)
		}
	}
	return b.String()
}

func writeTrace(b *strings.Builder, prefix string, t *flows.HTTPTrace) {
	names := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteString(prefix + k + ": " + t.Headers[k] + "\n")
	}
	if t.Body == "" {
		return
	}
	b.WriteString("\n")
	body := t.Body
	var pretty bytes.Buffer
	if !t.Truncated && json.Indent(&pretty, []byte(body), "", "  ") == nil {
		body = pretty.String()
	}
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\n")
	}
	if t.Truncated {
		b.WriteString("[cut at the size limit]\n")
	}
}

// DescribeEvent is Describe for a recorded webhook_called event.
func DescribeEvent(ev flows.Event) string {
	return Describe(&flows.WebhookResult{
		Outcome: ev.Outcome, Status: ev.Status, Elapsed: time.Duration(ev.ElapsedMS) * time.Millisecond,
		Attempts: max(ev.Attempts, 1), Error: ev.Message, Request: ev.Request, Response: ev.Response, Calls: ev.Calls,
	})
}
