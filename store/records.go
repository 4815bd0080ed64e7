package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsonstr"
)

// A turn's session events are stored together, in one value (layout 6)
// keyed by the session's sequence and the complement of the sequence of the
// last of them (eventKey), so a session's newest events come first:
//
//	[0] eventsS2, or eventsRaw when compression would not make it smaller
//	    (or the events are too large for the reader's bound)
//	uvarint number of events
//	the events, each uvarint length + JSON: an S2 block of them, or as is
//
// The events of a turn share most of their text (their time, widget and
// field names), so together they compress to about half, and a turn adds
// one key rather than one per event. Layouts 5 and before stored each event
// as plain JSON under its own key; such a value, which starts with '{', is
// read as a batch of one.
const (
	eventsS2  = 1
	eventsRaw = 2
)

// eventBufs are encodeEvents' scratch buffers: the events before
// compression, and one event.
var eventBufs = sync.Pool{New: func() any { return new([2][]byte) }}

// encodeEvents encodes a turn's events as one stored value.
func encodeEvents(id string, evs []flows.Event) ([]byte, error) {
	bufs := eventBufs.Get().(*[2][]byte)
	defer eventBufs.Put(bufs)
	raw, one := bufs[0][:0], bufs[1][:0]
	for i := range evs {
		var err error
		if one, err = appendEventJSON(one[:0], id, &evs[i]); err != nil {
			return nil, err
		}
		raw = binary.AppendUvarint(raw, uint64(len(one)))
		raw = append(raw, one...)
	}
	bufs[0], bufs[1] = raw, one
	var head [1 + binary.MaxVarintLen64]byte
	head[0] = eventsRaw
	h := binary.PutUvarint(head[1:], uint64(len(evs))) + 1
	body := raw
	if len(raw) <= maxSessionBytes {
		// Compressed into the stack when it fits, else a buffer of its own.
		var scratch [2048]byte
		if z := s2.Encode(scratch[:0:min(cap(scratch), s2.MaxEncodedLen(len(raw)))], raw); len(z) < len(raw) {
			head[0], body = eventsS2, z
		}
	}
	out := make([]byte, h+len(body))
	copy(out, head[:h])
	copy(out[h:], body)
	return out, nil
}

// eventCount is the number of events a stored value holds.
func eventCount(v []byte) (int, error) {
	if len(v) > 0 && v[0] == '{' {
		return 1, nil
	}
	if len(v) < 2 || (v[0] != eventsS2 && v[0] != eventsRaw) {
		return 0, errCorruptEvents
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n == 0 || n > maxSessionBytes {
		return 0, errCorruptEvents
	}
	return int(n), nil
}

var errCorruptEvents = fmt.Errorf("corrupt stored events")

// decodeEvents returns the JSON of each event a stored value holds, oldest
// first.
func decodeEvents(v []byte) ([][]byte, error) {
	n, err := eventCount(v)
	if err != nil {
		return nil, err
	}
	if v[0] == '{' {
		return [][]byte{v}, nil
	}
	_, w := binary.Uvarint(v[1:])
	raw := v[1+w:]
	if v[0] == eventsS2 {
		size, err := s2.DecodedLen(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errCorruptEvents, err)
		}
		if size > maxSessionBytes {
			return nil, fmt.Errorf("%w: %d bytes, more than a session may have (%d)", errCorruptEvents, size, maxSessionBytes)
		}
		if raw, err = s2.Decode(nil, raw); err != nil {
			return nil, fmt.Errorf("%w: %w", errCorruptEvents, err)
		}
	}
	out := make([][]byte, 0, n)
	for range n {
		l, w := binary.Uvarint(raw)
		if w <= 0 || l > uint64(len(raw)-w) {
			return nil, errCorruptEvents
		}
		out = append(out, raw[w:w+int(l)])
		raw = raw[w+int(l):]
	}
	if len(raw) != 0 {
		return nil, errCorruptEvents
	}
	return out, nil
}

// The session events of every turn are encoded here by hand, byte for byte
// as jsonv1.Marshal (encoding/json's behaviour on the v2 engine) encodes
// them, because reflection-driven encoding was a good part of a turn's
// store work. records_test.go and FuzzEventRecord hold the two to the same
// bytes. What the hand-written encoder cannot reproduce exactly (a time
// outside years 0-9999 or with an offset of a day or more, raw JSON that
// the library would reformat or reject, header names that are not ASCII)
// goes to the library, which also reports the errors it always reported.
// Decoding stays with the JSON libraries.

// encodeEvent encodes a session event.
func encodeEvent(id string, e *flows.Event) ([]byte, error) {
	return appendEventJSON(make([]byte, 0, eventSize(e)), id, e)
}

// appendEventJSON appends e's JSON to b: by hand, or through the library
// when the hand-written encoder cannot reproduce it.
func appendEventJSON(b []byte, id string, e *flows.Event) ([]byte, error) {
	if out, ok := appendEvent(b, e); ok {
		return out, nil
	}
	v, err := encodeJSON("session event of", id, e)
	if err != nil {
		return nil, err
	}
	return append(b, v...), nil
}

// eventSize is a guess at an event's encoded length, enough for most.
func eventSize(e *flows.Event) int {
	n := 64 + len(e.Type) + len(e.Widget) + len(e.Flow) + len(e.Text) + len(e.URL) +
		len(e.Name) + len(e.Value) + len(e.Category) + len(e.Input) + len(e.Message) + len(e.Data)
	if e.Request != nil || e.Response != nil || len(e.Calls) > 0 {
		n += 512
	}
	return n + 32
}

// appendEvent appends e as jsonv1.Marshal does; false when it cannot.
func appendEvent(b []byte, e *flows.Event) ([]byte, bool) {
	if !jsonstr.TimeOK(e.Time) {
		return nil, false
	}
	b = append(b, `{"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"time":`...)
	b = jsonstr.AppendTime(b, e.Time)
	b = appendOptString(b, `,"widget":`, e.Widget)
	b = appendOptString(b, `,"flow":`, e.Flow)
	b = appendOptString(b, `,"text":`, e.Text)
	b = appendOptStrings(b, `,"quick_replies":`, e.QuickReplies)
	b = appendOptStrings(b, `,"attachments":`, e.Attachments)
	b = appendOptString(b, `,"url":`, e.URL)
	b = jsonstr.AppendOptInt(b, `,"num_digits":`, int64(e.NumDigits))
	b = appendOptString(b, `,"finish_key":`, e.FinishKey)
	b = jsonstr.AppendOptInt(b, `,"timeout":`, int64(e.Timeout))
	b = appendOptString(b, `,"wait":`, e.WaitKind)
	b = jsonstr.AppendOptInt(b, `,"max_length":`, int64(e.MaxLength))
	if e.PlayBeep != nil {
		b = append(b, `,"play_beep":`...)
		b = strconv.AppendBool(b, *e.PlayBeep)
	}
	b = appendOptString(b, `,"voice":`, e.Voice)
	b = appendOptString(b, `,"language":`, e.Language)
	b = appendOptString(b, `,"name":`, e.Name)
	b = appendOptString(b, `,"value":`, e.Value)
	b = appendOptString(b, `,"category":`, e.Category)
	b = appendOptString(b, `,"input":`, e.Input)
	b = appendOptString(b, `,"scope":`, e.Scope)
	b = appendOptString(b, `,"exit":`, e.Exit)
	b = appendOptString(b, `,"method":`, e.Method)
	b = jsonstr.AppendOptInt(b, `,"status":`, int64(e.Status))
	b = jsonstr.AppendOptInt(b, `,"elapsed_ms":`, e.ElapsedMS)
	b = appendOptString(b, `,"outcome":`, e.Outcome)
	b = jsonstr.AppendOptInt(b, `,"attempts":`, int64(e.Attempts))
	var ok bool
	if e.Request != nil {
		b = append(b, `,"request":`...)
		if b, ok = appendTrace(b, e.Request); !ok {
			return nil, false
		}
	}
	if e.Response != nil {
		b = append(b, `,"response":`...)
		if b, ok = appendTrace(b, e.Response); !ok {
			return nil, false
		}
	}
	if len(e.Calls) > 0 {
		b = append(b, `,"calls":[`...)
		for i := range e.Calls {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendCall(b, &e.Calls[i]); !ok {
				return nil, false
			}
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"session_status":`, string(e.SessionStatus))
	b = appendOptString(b, `,"message":`, e.Message)
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		if b, ok = appendRaw(b, e.Data); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

func appendCall(b []byte, c *flows.WebhookCall) ([]byte, bool) {
	b = append(b, `{"attempt":`...)
	b = strconv.AppendInt(b, int64(c.Attempt), 10)
	b = append(b, `,"request":`...)
	var ok bool
	if c.Request == nil {
		b = append(b, "null"...)
	} else if b, ok = appendTrace(b, c.Request); !ok {
		return nil, false
	}
	if c.Response != nil {
		b = append(b, `,"response":`...)
		if b, ok = appendTrace(b, c.Response); !ok {
			return nil, false
		}
	}
	b = append(b, `,"elapsed_ms":`...)
	b = strconv.AppendInt(b, c.ElapsedMS, 10)
	b = appendOptString(b, `,"error":`, c.Error)
	return append(b, '}'), true
}

func appendTrace(b []byte, t *flows.HTTPTrace) ([]byte, bool) {
	return jsonstr.AppendTrace(b, t, jsonstr.HTML|jsonstr.RawReplacement)
}

func appendOptString(b []byte, name, s string) []byte {
	return jsonstr.AppendOptString(b, name, s, jsonstr.V1)
}

func appendOptStrings(b []byte, name string, ss []string) []byte {
	return jsonstr.AppendOptStrings(b, name, ss, jsonstr.V1)
}

// appendRaw appends raw JSON that the library would copy as it is: valid,
// no whitespace outside strings (which it removes), no <, > or & (which it
// escapes), no byte 0xE2 (which starts U+2028 and U+2029, which it escapes:
// other characters from that byte go to the library too, to keep this
// simple) and not deeply nested. Nil is null (empty but not nil is an
// error). Anything else is left to the library.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	switch {
	case raw == nil:
		return append(b, "null"...), true
	case len(raw) == 0:
		return nil, false
	}
	in, esc, depth := false, false, 0
	for _, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&' || c == 0xE2:
			return nil, false
		case in:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return nil, false
		case c == '[' || c == '{':
			if depth++; depth > maxRawDepth {
				return nil, false
			}
		}
	}
	if !json.Valid(raw) {
		return nil, false
	}
	return append(b, raw...), true
}

// maxRawDepth is well under the nesting limit of either JSON library.
const maxRawDepth = 1000

// appendJSONString appends s quoted as jsonv1.Marshal does: <, > and &
// escaped for HTML, U+2028 and U+2029 escaped, each byte of invalid UTF-8
// replaced by U+FFFD (the character itself, where encoding/json writes the
// escape \ufffd).
func appendJSONString(dst []byte, s string) []byte {
	return jsonstr.Append(dst, s, jsonstr.V1)
}
