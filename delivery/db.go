package delivery

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/store"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
)

// Buckets of this package. Every key that sorts by time starts with the 8-byte
// big-endian unix nanoseconds of that time.
var (
	bOutbox     = []byte(store.OutboxBucket)
	bSubs       = []byte("dl_subscriptions")          // sub id → Subscription
	bDeliveries = []byte("dl_deliveries")             // delivery id → Delivery without its payload
	bPayloads   = []byte("dl_payloads")               // delivery id → payload (written once)
	bByEndpoint = []byte("dl_deliveries_by_endpoint") // sub id, 0, created, delivery id → status
	bByTime     = []byte("dl_deliveries_by_time")     // created, delivery id → sub id
	bDue        = []byte(store.DueBucket)             // sub id, 0, next attempt, delivery id → dueMark, event time, message id (dueValue)
	bAttempts   = []byte("dl_attempts")               // delivery id, 0, attempt (4 bytes) → Attempt
	bEndpoints  = []byte("dl_endpoint_state")         // sub id → endpointState
	bRejected   = []byte("dl_outbox_rejected")        // outbox key → record that could not be decoded
)

var allBuckets = [][]byte{bOutbox, bSubs, bDeliveries, bPayloads, bByEndpoint, bByTime, bDue, bAttempts, bEndpoints, bRejected}

// Event is an outbox record: one thing that happened, to be delivered to every
// matching subscription. It is the store's record, so both sides of the
// outbox share one definition.
type Event = store.OutboxRecord

// Envelope is the body sent to an endpoint (as JSON, or as the form field
// "payload" for form subscriptions).
type Envelope struct {
	Type        string          `json:"type"`
	ID          string          `json:"id"`
	Timestamp   time.Time       `json:"timestamp"`
	Environment string          `json:"environment"`
	Data        json.RawMessage `json:"data"`
	// Extra is the subscription's extra_json, when it has one.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"   // waiting for its next attempt
	StatusSucceeded = "succeeded" // an attempt got a 2xx
	StatusFailed    = "failed"    // the schedule ran out (or a manual resend failed)
	StatusDisabled  = "disabled"  // not sent: the endpoint was disabled (when the event happened or before an attempt) or deleted
)

// Delivery is one event to one endpoint.
type Delivery struct {
	ID          string `json:"id"`
	EventID     string `json:"event_id"`
	EventType   string `json:"event_type"`
	Environment string `json:"environment"`
	Flow        string `json:"flow,omitempty"`
	EndpointID  string `json:"endpoint_id"`
	// MessageID is sent as webhook-id: the same on every attempt.
	MessageID   string     `json:"message_id"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	EventTime   time.Time  `json:"event_time"`
	CreatedAt   time.Time  `json:"created_at"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastStatus  int        `json:"last_status,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	// Manual is set while a Retry or Recover resend is queued: it gets one
	// attempt and no schedule.
	Manual bool `json:"manual,omitempty"`
	// Payload is the envelope as JSON (stored apart: it never changes).
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Attempt is one HTTP exchange of a delivery, secrets redacted. A request
// body equal to the delivery's payload is stored once, with the delivery.
type Attempt struct {
	DeliveryID string           `json:"delivery_id"`
	Number     int              `json:"attempt"`
	Time       time.Time        `json:"time"`
	DurationMS float64          `json:"duration_ms"`
	Outcome    string           `json:"outcome"`
	Request    flows.HTTPTrace  `json:"request"`
	Response   *flows.HTTPTrace `json:"response,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// endpointState is what the dispatcher knows of an endpoint's recent results.
type endpointState struct {
	LastSuccess         time.Time `json:"last_success"`
	LastFailure         time.Time `json:"last_failure"`
	FailingSince        time.Time `json:"failing_since"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	// StreakFrom is the creation time of the oldest delivery with a failed
	// attempt since FailingSince. It is earlier than FailingSince: a
	// delivery is created before it is tried, and the one whose failure
	// started the streak may have run out of retries, ended failed, before
	// the streak disabled the endpoint.
	StreakFrom time.Time `json:"streak_from,omitzero"`
	// LastDisabledAt is when the endpoint was last disabled, by Parley or
	// by its owner; RecoverSince is the creation time of the oldest delivery
	// that disable ended or that failed in the streak that led to it:
	// recovering since it resends everything the endpoint missed.
	// Enabling the endpoint again clears FailingSince, StreakFrom and
	// ConsecutiveFailures; the rest stays.
	LastDisabledAt time.Time `json:"last_disabled_at,omitzero"`
	RecoverSince   time.Time `json:"recover_since,omitzero"`
}

// disabled notes a disable at now that ended deliveries created at the
// earliest at oldest (zero: none).
func (st *endpointState) disabled(now, oldest time.Time) {
	st.LastDisabledAt, st.RecoverSince = now, now
	st.missed(st.FailingSince) // a state stored without StreakFrom
	st.missed(st.StreakFrom)
	st.missed(oldest)
}

// failed notes a failed attempt at t of a delivery created at created.
func (st *endpointState) failed(t, created time.Time) {
	st.LastFailure = t
	st.ConsecutiveFailures++
	if st.FailingSince.IsZero() {
		st.FailingSince, st.StreakFrom = t, created
	}
	if st.StreakFrom.IsZero() || created.Before(st.StreakFrom) {
		st.StreakFrom = created
	}
}

// missed lowers RecoverSince to t, the creation time of a delivery that the
// last disable ended or that failed in the streak that led to it.
func (st *endpointState) missed(t time.Time) {
	if !t.IsZero() && !st.RecoverSince.IsZero() && t.Before(st.RecoverSince) {
		st.RecoverSince = t
	}
}

// putTime writes t as big-endian unix nanoseconds; times before 1970 (the
// zero time included) sort first.
func putTime(b []byte, t time.Time) {
	var n uint64
	if t.Unix() >= 0 {
		n = uint64(t.UnixNano())
	}
	binary.BigEndian.PutUint64(b, n)
}

func getTime(b []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(b))) }

func endpointPrefix(sub string) []byte {
	k := make([]byte, len(sub)+1)
	copy(k, sub)
	return k
}

func endpointKey(sub string, created time.Time, id string) []byte {
	return appendEndpointKey(make([]byte, 0, len(sub)+9+len(id)), sub, created, id)
}

func appendEndpointKey(b []byte, sub string, created time.Time, id string) []byte {
	b = append(b, sub...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	putTime(b[len(b)-8:], created)
	return append(b, id...)
}

// dueMark starts a due value of layout 9 and later: the mark, the event's
// time (8 bytes, as putTime) and the message id. A value of an older
// layout is the message id alone; a message id is text, which never starts
// with this byte, so the two cannot be confused.
const dueMark = 0xff

// appendDueValue appends a due value for d: what the schedule sends with
// (the message id) and what an endpoint's health reads (the event's time),
// so that neither looks the delivery up.
func appendDueValue(b []byte, d *Delivery) []byte {
	b = append(b, dueMark, 0, 0, 0, 0, 0, 0, 0, 0)
	putTime(b[len(b)-8:], d.EventTime)
	return append(b, d.MessageID...)
}

// parseDueValue reads a due value: the message id, and the event's time
// when the value holds it (ok false for a value written before layout 9).
func parseDueValue(v []byte) (messageID []byte, eventTime time.Time, ok bool) {
	if len(v) >= 9 && v[0] == dueMark {
		return v[9:], getTime(v[1:9]), true
	}
	return v, time.Time{}, false
}

func attemptPrefix(id string) []byte { return append([]byte(id), 0) }

func putUint64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

// putDue schedules d. Due keys are endpoint keys: the schedule is ordered by
// endpoint, then time, so each endpoint's due deliveries are one range and a
// backlog behind one endpoint is never walked to reach another's. The due
// index's keys are counted (store.CounterPendingDeliveries) in the same
// transaction, so that the pending deliveries gauge reads one key.
func putDue(tx *bbolt.Tx, a *arena, d *Delivery) error {
	due := tx.Bucket(bDue)
	k := a.endpointKey(d.EndpointID, *d.NextAttempt, d.ID)
	if due.Get(k) == nil {
		if err := store.AddCounter(tx, store.CounterPendingDeliveries, 1); err != nil {
			return err
		}
	}
	return due.Put(k, a.dueValue(d))
}

func deleteDue(tx *bbolt.Tx, a *arena, d *Delivery) error {
	if d.NextAttempt == nil {
		return nil
	}
	return deleteDueKey(tx, a.endpointKey(d.EndpointID, *d.NextAttempt, d.ID))
}

// deleteDueKey removes a key of the due index, if there, and counts it.
func deleteDueKey(tx *bbolt.Tx, k []byte) error {
	due := tx.Bucket(bDue)
	if due.Get(k) == nil {
		return nil
	}
	if err := due.Delete(k); err != nil {
		return err
	}
	return store.AddCounter(tx, store.CounterPendingDeliveries, -1)
}

// putEndpointState writes an endpoint's state.
func putEndpointState(tx *bbolt.Tx, id string, st *endpointState) error {
	raw, err := encodeEndpointState(nil, st)
	if err != nil {
		return err
	}
	return tx.Bucket(bEndpoints).Put([]byte(id), raw)
}
