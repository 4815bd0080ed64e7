package delivery

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsonstr"
)

// The records written for every delivery and attempt (a Delivery without its
// payload, an Attempt, an endpointState) are encoded here by hand, byte for
// byte as encoding/json encodes them (records_test.go holds that), because
// reflection-driven encoding was a good part of the cost of recording a
// result. Decoding stays with the JSON libraries. A value the hand-written
// encoders cannot reproduce exactly (a time outside years 0-9999, a float
// that is not finite) goes to the library, which reports the error it
// always reported.

// encodeDelivery appends d, payload left out, to dst.
func encodeDelivery(dst []byte, d *Delivery) ([]byte, error) {
	if !jsonstr.TimeOK(d.EventTime) || !jsonstr.TimeOK(d.CreatedAt) || !jsonTimePtrOK(d.NextAttempt) || !jsonTimePtrOK(d.LastAttempt) {
		c := *d
		c.Payload = nil
		return jsonv1.Marshal(&c)
	}
	b := append(dst, `{"id":`...)
	b = appendJSONString(b, d.ID)
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, d.EventID)
	b = append(b, `,"event_type":`...)
	b = appendJSONString(b, d.EventType)
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, d.Environment)
	if d.Flow != "" {
		b = append(b, `,"flow":`...)
		b = appendJSONString(b, d.Flow)
	}
	b = append(b, `,"endpoint_id":`...)
	b = appendJSONString(b, d.EndpointID)
	b = append(b, `,"message_id":`...)
	b = appendJSONString(b, d.MessageID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, d.Status)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(d.Attempts), 10)
	b = append(b, `,"event_time":`...)
	b = jsonstr.AppendTime(b, d.EventTime)
	b = append(b, `,"created_at":`...)
	b = jsonstr.AppendTime(b, d.CreatedAt)
	if d.NextAttempt != nil {
		b = append(b, `,"next_attempt":`...)
		b = jsonstr.AppendTime(b, *d.NextAttempt)
	}
	if d.LastAttempt != nil {
		b = append(b, `,"last_attempt":`...)
		b = jsonstr.AppendTime(b, *d.LastAttempt)
	}
	if d.LastStatus != 0 {
		b = append(b, `,"last_status":`...)
		b = strconv.AppendInt(b, int64(d.LastStatus), 10)
	}
	if d.LastError != "" {
		b = append(b, `,"last_error":`...)
		b = appendJSONString(b, d.LastError)
	}
	if d.Manual {
		b = append(b, `,"manual":true`...)
	}
	return append(b, '}'), nil
}

// encodeAttempt appends a to dst.
func encodeAttempt(dst []byte, a *Attempt) ([]byte, error) {
	if !jsonstr.TimeOK(a.Time) || math.IsInf(a.DurationMS, 0) || math.IsNaN(a.DurationMS) {
		return json.Marshal(a)
	}
	b := append(dst, `{"delivery_id":`...)
	b = appendJSONString(b, a.DeliveryID)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Number), 10)
	b = append(b, `,"time":`...)
	b = jsonstr.AppendTime(b, a.Time)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, a.DurationMS)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, a.Outcome)
	b = append(b, `,"request":`...)
	b = appendTrace(b, &a.Request)
	if a.Response != nil {
		b = append(b, `,"response":`...)
		b = appendTrace(b, a.Response)
	}
	if a.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, a.Error)
	}
	return append(b, '}'), nil
}

func appendTrace(b []byte, t *flows.HTTPTrace) []byte {
	b, _ = jsonstr.AppendTrace(b, t, jsonstr.EncodingJSON)
	return b
}

// encodeEndpointState appends st to dst.
func encodeEndpointState(dst []byte, st *endpointState) ([]byte, error) {
	if !jsonstr.TimeOK(st.LastSuccess) || !jsonstr.TimeOK(st.LastFailure) || !jsonstr.TimeOK(st.FailingSince) ||
		!jsonstr.TimeOK(st.StreakFrom) || !jsonstr.TimeOK(st.LastDisabledAt) || !jsonstr.TimeOK(st.RecoverSince) {
		return json.Marshal(st)
	}
	b := append(dst, `{"last_success":`...)
	b = jsonstr.AppendTime(b, st.LastSuccess)
	b = append(b, `,"last_failure":`...)
	b = jsonstr.AppendTime(b, st.LastFailure)
	b = append(b, `,"failing_since":`...)
	b = jsonstr.AppendTime(b, st.FailingSince)
	b = append(b, `,"consecutive_failures":`...)
	b = strconv.AppendInt(b, int64(st.ConsecutiveFailures), 10)
	if !st.StreakFrom.IsZero() {
		b = append(b, `,"streak_from":`...)
		b = jsonstr.AppendTime(b, st.StreakFrom)
	}
	if !st.LastDisabledAt.IsZero() {
		b = append(b, `,"last_disabled_at":`...)
		b = jsonstr.AppendTime(b, st.LastDisabledAt)
	}
	if !st.RecoverSince.IsZero() {
		b = append(b, `,"recover_since":`...)
		b = jsonstr.AppendTime(b, st.RecoverSince)
	}
	return append(b, '}'), nil
}

func jsonTimePtrOK(t *time.Time) bool { return t == nil || jsonstr.TimeOK(*t) }

// appendJSONFloat appends a finite f as encoding/json does (ES6 number
// formatting).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s quoted as encoding/json does by default.
func appendJSONString(dst []byte, s string) []byte {
	return jsonstr.Append(dst, s, jsonstr.EncodingJSON)
}

// arena hands out the keys and values one writer puts in its transactions.
// bbolt keeps them until the transaction ends, so they are carved from a few
// reused blocks rather than allocated one by one; reset makes the blocks
// available again once the transaction is over. A nil arena allocates.
type arena struct {
	blocks [][]byte
	cur    int    // index of the block in use
	buf    []byte // blocks[cur][:bytes handed out]
}

const arenaBlock = 64 << 10

// reset forgets everything handed out: call it only after the transaction
// that used it has ended.
func (a *arena) reset() {
	if a != nil && len(a.blocks) > 0 {
		a.cur, a.buf = 0, a.blocks[0][:0]
	}
}

// next returns an empty slice with room for about n bytes, to append one key
// or value to and pass to keep.
func (a *arena) next(n int) []byte {
	if a == nil {
		return make([]byte, 0, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		switch {
		case n > arenaBlock:
			return make([]byte, 0, n)
		case len(a.blocks) > 0 && a.cur+1 < len(a.blocks):
			a.cur++
		default:
			a.blocks = append(a.blocks, make([]byte, 0, arenaBlock))
			a.cur = len(a.blocks) - 1
		}
		a.buf = a.blocks[a.cur][:0]
	}
	return a.buf[len(a.buf):]
}

// keep marks b, appended to a slice from next, as handed out, and returns it
// with its capacity cut so that appending to it cannot overwrite the next.
func (a *arena) keep(b []byte) []byte {
	b = b[:len(b):len(b)]
	if a == nil || len(b) == 0 {
		return b
	}
	// b is ours unless appending to it outgrew the block.
	if free := a.buf[len(a.buf):cap(a.buf)]; len(free) > 0 && &free[0] == &b[0] {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b
}

func (a *arena) str(s string) []byte { return a.keep(append(a.next(len(s)), s...)) }

func (a *arena) dueValue(d *Delivery) []byte {
	return a.keep(appendDueValue(a.next(9+len(d.MessageID)), d))
}

func (a *arena) endpointKey(sub string, t time.Time, id string) []byte {
	return a.keep(appendEndpointKey(a.next(len(sub)+9+len(id)), sub, t, id))
}

func (a *arena) timeIDKey(t time.Time, id string) []byte {
	b := a.next(8 + len(id))[:8]
	putTime(b, t)
	return a.keep(append(b, id...))
}

func (a *arena) attemptKey(id string, n int) []byte {
	b := append(a.next(len(id)+5), id...)
	b = append(b, 0)
	return a.keep(binary.BigEndian.AppendUint32(b, uint32(n)))
}

func (a *arena) delivery(d *Delivery) ([]byte, error) {
	b, err := encodeDelivery(a.next(512), d)
	return a.keep(b), err
}

func (a *arena) attempt(att *Attempt) ([]byte, error) {
	b, err := encodeAttempt(a.next(1024), att)
	return a.keep(b), err
}

func (a *arena) endpointState(st *endpointState) ([]byte, error) {
	b, err := encodeEndpointState(a.next(192), st)
	return a.keep(b), err
}

// statusValue is the by-endpoint index value of a status, shared rather
// than allocated per put (bbolt only reads it).
func statusValue(st string) []byte {
	switch st {
	case StatusPending:
		return statusPending
	case StatusSucceeded:
		return statusSucceeded
	case StatusFailed:
		return statusFailed
	case StatusDisabled:
		return statusDisabled
	}
	return []byte(st)
}

var (
	statusPending   = []byte(StatusPending)
	statusSucceeded = []byte(StatusSucceeded)
	statusFailed    = []byte(StatusFailed)
	statusDisabled  = []byte(StatusDisabled)
)
