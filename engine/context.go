package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// lookup resolves a variable path against the session. The boolean is false
// when the variable does not exist (it then renders as empty text with a warning).
func (t *turn) lookup(path string) (any, bool) {
	s := t.sess
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "flow", "results":
		if rest == "" {
			return resultsText(s.Results()), true
		}
		return lookupResult(s.Results(), rest)
	case "child":
		f := s.Top()
		if f == nil {
			return nil, false
		}
		if rest == "" {
			return resultsText(f.Child), true
		}
		return lookupResult(f.Child, rest)
	case "parent":
		if len(s.Frames) < 2 {
			return nil, false
		}
		p := s.Frames[len(s.Frames)-2]
		if rest == "" {
			return resultsText(p.Results), true
		}
		return lookupResult(p.Results, rest)
	case "extra", "webhook":
		if len(s.Extra) == 0 {
			return nil, false
		}
		if rest == "" {
			return string(s.Extra), true
		}
		r := gjson.GetBytes(s.Extra, rest)
		if !r.Exists() {
			return nil, false
		}
		return r, true
	case "input":
		switch rest {
		case "":
			return s.Input, true
		case "text":
			return s.InputText(), true
		}
		return lookupAttachments(s.Attachments, rest)
	case "step":
		switch rest {
		case "", "value", "text":
			return s.Input, true
		}
		if sub, ok := strings.CutPrefix(rest, "contact"); ok {
			return t.lookup("contact" + sub)
		}
		return nil, false
	case "contact":
		return lookupContact(&s.Contact, rest)
	case "user":
		if k, ok := strings.CutPrefix(rest, "key."); ok {
			return fieldValue(s.Contact.Fields, k)
		}
		return nil, false
	case "call":
		if s.Call == nil {
			return nil, false
		}
		return lookupCall(s.Call, rest)
	case "session", "run":
		switch rest {
		case "", "id", "uuid":
			return s.ID, true
		case "status":
			return string(s.Status), true
		case "environment", "env":
			return s.Environment, true
		case "created", "created_on":
			return s.CreatedAt, true
		}
		return nil, false
	case "channel":
		if s.Channel == nil {
			return nil, false
		}
		switch rest {
		case "", "name":
			if s.Channel.Name != "" {
				return s.Channel.Name, true
			}
			return s.Channel.ID, true
		case "id", "uuid":
			return s.Channel.ID, true
		case "type":
			return s.Channel.Type, true
		case "address":
			return s.Channel.Address, true
		}
		return nil, false
	}
	return nil, false
}

// lookupAttachments reads @input.attachments (every attachment, one a
// line) and @input.attachments.N (the Nth, from 0, empty when the message
// has fewer), each CONTENT-TYPE:URL as the message carried it.
func lookupAttachments(atts []string, rest string) (any, bool) {
	sub, ok := strings.CutPrefix(rest, "attachments")
	switch {
	case !ok:
		return nil, false
	case sub == "":
		return strings.Join(atts, "\n"), true
	case sub[0] != '.':
		return nil, false
	}
	i, err := strconv.Atoi(sub[1:])
	switch {
	case err != nil || i < 0:
		return nil, false
	case i >= len(atts):
		return "", true // no such attachment: empty, as a field not set
	}
	return atts[i], true
}

// findResult finds a result by its key or by its name (flows.LookupResult).
func findResult(results map[string]*flows.Result, key string) (*flows.Result, bool) {
	return flows.LookupResult(results, key)
}

// resultFieldText is the text of a result's field that is text itself
// (@flow.x, @flow.x.value, .category, .input, .text, .name); ok is false
// for the others, which lookupResult answers.
func resultFieldText(results map[string]*flows.Result, rest string) (text string, found, ok bool) {
	key, field, _ := strings.Cut(rest, ".")
	switch field {
	case "", "value", "category", "input", "text", "name":
	default:
		return "", false, false
	}
	r, found := findResult(results, key)
	if !found {
		return "", false, true
	}
	switch field {
	case "", "value":
		return r.Value, true, true
	case "category":
		return r.Category, true, true
	case "input", "text":
		return r.Input, true, true
	}
	return r.Name, true, true
}

func lookupResult(results map[string]*flows.Result, rest string) (any, bool) {
	key, field, _ := strings.Cut(rest, ".")
	r, ok := findResult(results, key)
	if !ok {
		return nil, false
	}
	switch field {
	case "", "value":
		return r.Value, true
	case "category":
		return r.Category, true
	case "input", "text":
		return r.Input, true
	case "name":
		return r.Name, true
	case "time", "created_on":
		return r.At, true
	}
	// extra is the result's extra as goflow names it: a webhook's JSON
	// answer, or the groups a has_pattern rule captured.
	p, ok := strings.CutPrefix(field, "json")
	if x, isExtra := strings.CutPrefix(field, "extra"); isExtra && (x == "" || x[0] == '.') {
		p, ok = x, true
	}
	if ok {
		if len(r.JSON) == 0 {
			return nil, false
		}
		if p == "" {
			return string(r.JSON), true
		}
		g := gjson.GetBytes(r.JSON, strings.TrimPrefix(p, "."))
		return g, g.Exists()
	}
	return nil, false
}

func lookupContact(c *flows.Contact, rest string) (any, bool) {
	if v, ok := contactText(c, rest); ok {
		return v, true
	}
	return nil, false
}

// contactText is a contact's field: all of them are text.
func contactText(c *flows.Contact, rest string) (string, bool) {
	switch rest {
	case "", "name":
		return c.Name, true
	case "first_name":
		return firstWord(c.Name), true // as goflow's: "Mary" of "Mary-Jane Smith"
	case "urn":
		return c.URN, true
	case "language":
		return c.Language, true
	case "groups":
		return strings.Join(c.Groups, ", "), true
	case "tel", "phone":
		return flows.TelNumber(c.URN), true
	}
	if k, ok := strings.CutPrefix(rest, "fields."); ok {
		return fieldValue(c.Fields, k)
	}
	return fieldValue(c.Fields, rest)
}

// fieldValue is the contact field name, read by its key as expressions
// read it: the field stored under the key (set_variable stores "Tier" as
// tier), else one stored under another spelling of that key (a "Tier" given
// when the session started, or stored before fields were keyed), the first in
// byte order. A name without a letter or digit has no key and is read as
// stored.
func fieldValue(fields map[string]string, name string) (string, bool) {
	key, old := flows.Keys(name)
	if key == "" {
		v, ok := fields[name]
		return v, ok
	}
	if v, ok := fields[key]; ok {
		return v, true
	}
	// A field an earlier version stored under the key it gave the name
	// (flows.OldKey: "उम्र" as उम_र).
	if old != "" {
		if v, ok := fields[old]; ok {
			return v, true
		}
	}
	found, at := false, ""
	for k := range fields {
		if flows.Key(k) == key && (!found || k < at) {
			found, at = true, k
		}
	}
	return fields[at], found
}

func lookupCall(c *flows.Call, rest string) (any, bool) {
	switch rest {
	case "cli", "from":
		return c.CLI, true
	case "state", "status":
		return c.State, true
	case "start":
		return c.Start, true
	case "id", "sid":
		return c.ID, true
	case "to":
		return c.To, true
	case "digits":
		return c.Digits, true
	}
	return nil, false
}

// resultsText renders @flow alone: one "key: value" line per result, sorted.
func resultsText(results map[string]*flows.Result) string {
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(results[k].Value)
	}
	return b.String()
}

// toText turns a looked-up or computed value into the text a template shows.
func toText(v any) string {
	if x, ok := v.(gjson.Result); ok {
		return resultText(x)
	}
	return flows.ValueText(v)
}

// toExactText is toText for text sent to other programs: numbers keep every
// digit (see flows.ExactText).
func toExactText(v any) string {
	if x, ok := v.(gjson.Result); ok {
		return resultText(x)
	}
	return flows.ExactText(v)
}

// resultText is the text of a value read from JSON.
func resultText(x gjson.Result) string {
	switch x.Type {
	case gjson.String:
		return x.Str
	case gjson.Null:
		return ""
	}
	return x.Raw
}

// lookupText is text (toText or toExactText) of lookup, for a template's text. A path into the
// webhook answer (@extra.x) is read without copying the value out of the
// answer or boxing it: the text is only written into the rendered string
// (copied there) before anything can change the session.
func (t *turn) lookupText(path string, text func(any) string) (string, bool) {
	head, rest, _ := strings.Cut(path, ".")
	if rest != "" && (head == "flow" || head == "results") {
		// A result's text fields are strings: returned without boxing.
		if text, found, ok := resultFieldText(t.sess.Results(), rest); ok {
			return text, found
		}
	}
	if head == "contact" {
		return contactText(&t.sess.Contact, rest)
	}
	if rest != "" && (head == "extra" || head == "webhook") {
		extra := t.sess.Extra
		if len(extra) == 0 {
			return "", false
		}
		r := gjson.Get(unsafe.String(unsafe.SliceData(extra), len(extra)), rest)
		if !r.Exists() {
			return "", false
		}
		return resultText(r), true
	}
	v, ok := t.lookup(path)
	if !ok {
		return "", false
	}
	return text(v), true
}

// env builds the variables an @(...) expression sees. It is built at most once
// per turn state and dropped whenever a variable changes.
func (t *turn) exprEnv() map[string]any {
	if t.env != nil {
		return t.env
	}
	s := t.sess
	// Each field is there once, under its key (contact.fields.tier for a
	// field given as "Tier"; fieldKeys reads contact.fields.Tier as that), with
	// the value a template reads by that key.
	fields := make(map[string]any, len(s.Contact.Fields))
	for k, v := range s.Contact.Fields {
		key := flows.Key(k)
		if key == "" {
			fields[k] = v // no letter or digit: only its own spelling names it
			continue
		}
		if _, done := fields[key]; !done {
			fields[key], _ = fieldValue(s.Contact.Fields, key)
		}
	}
	contact := map[string]any{
		"name": s.Contact.Name, "urn": s.Contact.URN, "tel": flows.TelNumber(s.Contact.URN), "language": s.Contact.Language,
		"fields": fields, "groups": stringsToAny(s.Contact.Groups),
	}
	input := any(s.Input)
	inputText, attachments := input, noAttachments
	if len(s.Attachments) > 0 {
		inputText, attachments = s.InputText(), stringsToAny(s.Attachments)
	}
	env := map[string]any{
		"flow":  resultsEnv(s.Results()),
		"input": input,
		"step":  map[string]any{"value": input},
		// input.text and input.attachments (inputMembers).
		inputTextVar:        inputText,
		inputAttachmentsVar: attachments,
		"contact":           contact,
		"user":              map[string]any{"key": fields},
		"session":           map[string]any{"id": s.ID, "status": string(s.Status), "environment": s.Environment},
		"now":               t.now,
		// datevalue(), edate(), legacy_add() and legacy_sub() read dates in it (clockCalls).
		dateFormatVar: t.DateFormat(),
		turnTimeVar:   t.now,
	}
	env["results"] = env["flow"]
	var extra any
	if len(s.Extra) > 0 {
		extra, _ = decodeJSON(s.Extra)
	}
	env["extra"] = extra
	if f := s.Top(); f != nil && f.Child != nil {
		env["child"] = resultsEnv(f.Child)
	}
	if len(s.Frames) > 1 {
		env["parent"] = resultsEnv(s.Frames[len(s.Frames)-2].Results)
	}
	if c := s.Call; c != nil {
		env["call"] = map[string]any{"cli": c.CLI, "state": c.State, "start": c.Start, "id": c.ID, "to": c.To, "digits": c.Digits}
	}
	if ch := s.Channel; ch != nil {
		env["channel"] = map[string]any{"id": ch.ID, "name": ch.Name, "type": ch.Type, "address": ch.Address}
	}
	t.env = env
	return env
}

// noAttachments is input.attachments of an input without any: an empty
// list, made once.
var noAttachments any = []any{}

func resultsEnv(results map[string]*flows.Result) map[string]any {
	out := make(map[string]any, len(results))
	for k, r := range results {
		m := map[string]any{"value": r.Value, "category": r.Category, "input": r.Input, "name": r.Name}
		if len(r.JSON) > 0 {
			if j, ok := decodeJSON(r.JSON); ok {
				m["json"] = j
				m["extra"] = j
			}
		}
		out[k] = m
	}
	return out
}

// decodeJSON is data as an expression reads it. A number out of the range
// of a float64 (1e999), which encoding/json leaves out, is kept as the text
// it is written as: @(extra.a) is 1e999, as @extra.a renders it, and not
// nil. ok is false when data is not JSON.
func decodeJSON(data []byte) (v any, ok bool) {
	err := json.Unmarshal(data, &v)
	if err == nil {
		return v, true
	}
	if te := new(json.UnmarshalTypeError); !errors.As(err, &te) {
		return v, false
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v = nil
	if d.Decode(&v) != nil {
		return nil, false
	}
	return plainNumbers(v), true
}

// plainNumbers replaces each json.Number of v by its float64, or by its text
// when it is out of the range of one.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return string(x)
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	}
	return v
}

func stringsToAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}
