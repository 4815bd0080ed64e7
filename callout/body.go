package callout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/flows"
)

// MIME types of the bodies Parley sends.
const (
	MIMEJSON = "application/json"
	MIMEForm = "application/x-www-form-urlencoded"
)

// DefaultBody is Parley's default webhook payload (docs/webhooks.md):
//
//	text      the last inbound text or digits (@input)
//	attachments the last inbound message's attachments, CONTENT-TYPE:URL
//	          each (@input.attachments); only when it had any
//	contact   {urn, name}
//	flow      {id, name, revision} of the running flow
//	session   the session id
//	results   every result of the running frame: key → {name, value, category, input},
//	          with duration for a record_voice step's (recordingDuration)
//	extra     the current @extra (null before any webhook answered)
//	call      {id, cli, to, state, start} of a voice session ($call.*)
//	flow_keys result key → value ($flow.key.*)
//	user_keys the contact's fields ($user.key.*)
//
// groups switches call, flow_keys and user_keys on or off; nil includes all
// three. call is omitted from sessions without a phone call.
func DefaultBody(sess *flows.Session, flow *flows.Flow, groups *flows.ParamGroups) map[string]any {
	all := groups == nil
	results := map[string]any{}
	flowKeys := map[string]any{}
	for key, r := range sess.Results() {
		if r == nil {
			continue
		}
		res := map[string]any{"name": r.Name, "value": r.Value, "category": r.Category, "input": r.Input}
		if d, ok := recordingDuration(flow, r); ok {
			res["duration"] = d
		}
		results[key] = res
		flowKeys[key] = r.Value
	}
	fl := map[string]any{"id": sess.FlowID, "name": "", "revision": sess.Revision}
	if top := sess.Top(); top != nil {
		fl["id"], fl["revision"] = top.FlowID, top.Revision
	}
	if flow != nil {
		fl["id"], fl["name"], fl["revision"] = flow.ID, flow.Name, flow.Revision
	}
	body := map[string]any{
		"text":    sess.Input,
		"contact": map[string]any{"urn": sess.Contact.URN, "name": sess.Contact.Name},
		"flow":    fl,
		"session": sess.ID,
		"results": results,
		"extra":   decodeJSON(sess.Extra),
	}
	if len(sess.Attachments) > 0 {
		atts := make([]any, len(sess.Attachments))
		for i, a := range sess.Attachments {
			atts[i] = a
		}
		body["attachments"] = atts
	}
	if c := sess.Call; c != nil && (all || groups.Call) {
		body["call"] = map[string]any{"id": c.ID, "cli": c.CLI, "to": c.To, "state": c.State, "start": secondStamp(c.Start)}
	}
	if all || groups.FlowKeys {
		body["flow_keys"] = flowKeys
	}
	if all || groups.UserKeys {
		uk := map[string]any{}
		for k, v := range sess.Contact.Fields {
			uk[k] = v
		}
		body["user_keys"] = uk
	}
	return body
}

// recordTypeName is the widget type whose results are recordings: callout
// does not import the widgets, which are wired by the binary.
const recordTypeName = "record_voice"

// recordingDuration is the duration of a recording's result, as
// @flow.NAME.extra.duration reads it (seconds, "" when not known or nothing
// was recorded); ok is false for a result a widget of another type saved,
// or one flow does not hold.
func recordingDuration(flow *flows.Flow, r *flows.Result) (d string, ok bool) {
	if flow == nil || r.Widget == "" {
		return "", false
	}
	w := flow.Widget(r.Widget)
	if w == nil || w.Base().Type != recordTypeName {
		return "", false
	}
	var extra struct {
		Duration string `json:"duration"`
	}
	_ = json.Unmarshal(r.JSON, &extra) // a result stored without it: ""
	return extra.Duration, true
}

// LegacyBody is RapidPro's legacy webhook payload, for receivers written for
// it: contact {uuid, name, urn}, flow {uuid, name}, path, results,
// run {uuid, created_on}, input {urn, text, attachments} and channel
// {uuid, name}. Parley has no contact UUIDs: contact.uuid is a name-based
// UUID of the URN, stable across sessions; run.uuid is the session id (or a
// UUID derived from it); path and results carry widget ids and exit names
// where RapidPro has node and exit UUIDs. channel {uuid, name} is the
// session's channel; the channel argument names it when the session's channel
// has no name or the session has none.
func LegacyBody(sess *flows.Session, flow *flows.Flow, channel string) map[string]any {
	runID := sess.ID
	if _, err := uuid.Parse(runID); err != nil {
		runID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("parley:session:"+sess.ID)).String()
	}
	fl := map[string]any{"uuid": sess.FlowID, "name": ""}
	if flow != nil {
		fl["uuid"], fl["name"] = flow.ID, flow.Name
	}
	path := make([]any, 0, len(sess.Path))
	for i, st := range sess.Path {
		// Numbered from the session's first step, so a step keeps its
		// uuid once older steps are dropped from the path.
		n := sess.PathDropped + i
		path = append(path, map[string]any{
			"uuid":       uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "parley:step:%s:%d", runID, n)).String(),
			"node_uuid":  st.Widget,
			"arrived_on": stamp(st.At),
			"exit_uuid":  st.Exit,
		})
	}
	results := map[string]any{}
	for key, r := range sess.Results() {
		if r == nil {
			continue
		}
		results[key] = map[string]any{
			"name": r.Name, "value": r.Value, "category": r.Category, "node_uuid": r.Widget,
			"input": r.Input, "created_on": stamp(r.At),
		}
	}
	var ch any
	switch {
	case sess.Channel != nil:
		name := sess.Channel.Name
		if name == "" {
			name = channel
		}
		ch = map[string]any{"uuid": sess.Channel.ID, "name": name}
	case channel != "":
		ch = map[string]any{"uuid": "", "name": channel}
	}
	return map[string]any{
		"contact": map[string]any{
			"uuid": uuid.NewSHA1(uuid.NameSpaceURL, []byte("parley:contact:"+sess.Contact.URN)).String(),
			"name": sess.Contact.Name, "urn": sess.Contact.URN,
		},
		"flow":    fl,
		"path":    path,
		"results": results,
		"run":     map[string]any{"uuid": runID, "created_on": stamp(sess.CreatedAt)},
		"input":   map[string]any{"urn": sess.Contact.URN, "text": sess.InputText(), "attachments": legacyAttachments(sess.Attachments)},
		"channel": ch,
	}
}

// legacyAttachments are the input's attachments as RapidPro's payload lists
// them: CONTENT-TYPE:URL each, an empty list when there are none.
func legacyAttachments(atts []string) []any {
	out := make([]any, len(atts))
	for i, a := range atts {
		out[i] = a
	}
	return out
}

// secondStamp is a time in RFC 3339 to the second, in UTC, as $call.start
// writes it: the default body's call start (docs/webhooks.md).
func secondStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// stamp is a time in RFC 3339 with its fraction of a second, in UTC, as the
// RapidPro payload's times are written.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// decodeJSON decodes raw JSON keeping numbers exact; nil if empty or invalid.
func decodeJSON(raw []byte) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// EncodeBody merges extraJSON (a JSON object) into body and encodes it as
// contentType: "json" (the default) or "form", where each top-level key is a
// field and nested values are sent as JSON text. It returns the body and its
// Content-Type header. Objects are merged key by key, recursively; any other
// value in extraJSON replaces the body's.
func EncodeBody(body map[string]any, extraJSON json.RawMessage, contentType string) ([]byte, string, error) {
	if len(bytes.TrimSpace(extraJSON)) == 0 && contentTypeHeader(contentType) == MIMEJSON {
		b, err := marshal(body)
		if err != nil {
			return nil, "", fmt.Errorf("encoding the body: %w", err)
		}
		return b, MIMEJSON, nil
	}
	// A JSON round trip normalises whatever the map holds (structs,
	// json.RawMessage, times) to plain maps, slices, strings and numbers.
	raw, err := marshal(body)
	if err != nil {
		return nil, "", fmt.Errorf("encoding the body: %w", err)
	}
	m, _ := decodeJSON(raw).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	if err := mergeExtra(m, extraJSON); err != nil {
		return nil, "", err
	}
	return encode(m, contentType)
}

// EncodeCustom prepares a rendered custom body: for JSON, extraJSON is merged
// into it (it must then be a JSON object); for form, extraJSON's keys are
// added as fields. Without extraJSON the body is sent as rendered.
func EncodeCustom(rendered string, extraJSON json.RawMessage, contentType string) ([]byte, string, error) {
	ct := contentTypeHeader(contentType)
	if len(bytes.TrimSpace(extraJSON)) == 0 {
		return []byte(rendered), ct, nil
	}
	if ct == MIMEForm {
		q, err := url.ParseQuery(rendered)
		if err != nil {
			return nil, "", fmt.Errorf("body: not a form body, so extra_json cannot be merged into it: %v", err)
		}
		extra, ok := decodeJSON(extraJSON).(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("extra_json: must be a JSON object")
		}
		for k, v := range extra {
			s, err := formValue(v)
			if err != nil {
				return nil, "", err
			}
			q.Set(k, s)
		}
		return []byte(q.Encode()), ct, nil
	}
	m, ok := decodeJSON([]byte(rendered)).(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("body: the rendered custom body is not a JSON object, so extra_json cannot be merged into it")
	}
	if err := mergeExtra(m, extraJSON); err != nil {
		return nil, "", err
	}
	return encode(m, contentType)
}

// BuildBody builds the body c asks for: the default payload, the RapidPro
// payload, the rendered custom body (customBody, rendered by the caller) or
// none. It returns the body and its Content-Type ("" with no body).
func BuildBody(c *flows.WebhookConfig, sess *flows.Session, flow *flows.Flow, customBody, channel string) ([]byte, string, error) {
	switch BodyMode(c) {
	case flows.BodyNone:
		return nil, "", nil
	case flows.BodyCustom:
		return EncodeCustom(customBody, c.ExtraJSON, c.ContentType)
	case flows.BodyLegacy:
		return EncodeBody(LegacyBody(sess, flow, channel), c.ExtraJSON, c.ContentType)
	default:
		if len(bytes.TrimSpace(c.ExtraJSON)) == 0 && contentTypeHeader(c.ContentType) == MIMEJSON {
			b, err := appendDefaultBody(make([]byte, 0, 512), sess, flow, c.Include)
			if err != nil {
				return nil, "", fmt.Errorf("encoding the body: %w", err)
			}
			return b, MIMEJSON, nil
		}
		return EncodeBody(DefaultBody(sess, flow, c.Include), c.ExtraJSON, c.ContentType)
	}
}

func mergeExtra(m map[string]any, extraJSON json.RawMessage) error {
	if len(bytes.TrimSpace(extraJSON)) == 0 {
		return nil
	}
	extra, ok := decodeJSON(extraJSON).(map[string]any)
	if !ok {
		return fmt.Errorf("extra_json: must be a JSON object")
	}
	deepMerge(m, extra)
	return nil
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				deepMerge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func contentTypeHeader(ct string) string {
	if strings.EqualFold(ct, flows.ContentForm) {
		return MIMEForm
	}
	return MIMEJSON
}

func encode(m map[string]any, contentType string) ([]byte, string, error) {
	ct := contentTypeHeader(contentType)
	if ct == MIMEJSON {
		b, err := marshal(m)
		return b, ct, err
	}
	q := url.Values{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, err := formValue(m[k])
		if err != nil {
			return nil, "", err
		}
		q.Set(k, s)
	}
	return []byte(q.Encode()), ct, nil
}

// formValue is a form field's text: strings as they are, null as empty,
// numbers and booleans as JSON, objects and arrays as JSON text.
func formValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	}
	b, err := marshal(v)
	return string(b), err
}

// marshal is json.Marshal without HTML escaping: receivers should see "<" as sent.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
