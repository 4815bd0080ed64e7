package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Top-level buckets, created at Open. docs/storage.md describes each layout.
var (
	bFlows       = []byte("flows")
	bFlowRevs    = []byte("flow_revisions")
	bSessions    = []byte("sessions")
	bByStatus    = []byte("sessions_by_status")
	bByContact   = []byte("sessions_by_contact")
	bContacts    = []byte("contacts")
	bWaiting     = []byte("waiting")
	bTimers      = []byte("timers")
	bEvents      = []byte("events")
	bOutbox      = []byte(OutboxBucket)
	bProcessed   = []byte("processed")
	bProcessedAt = []byte("processed_by_time")
	bStats       = []byte("stats")
	bChannels    = []byte(Channels)
	bAPIKeys     = []byte(APIKeys)
	bWebhooks    = []byte(Webhooks)
)

var allBuckets = [][]byte{
	bFlows, bFlowRevs, bSessions, bByStatus, bByContact, bContacts, bWaiting,
	bTimers, bEvents, bOutbox, bProcessed, bProcessedAt, bStats,
	bChannels, bAPIKeys, bWebhooks,
}

// sep joins the parts of composite keys. Ids cannot contain it (checkID), so
// "a"+sep sorts before "a0" and a prefix scan of one id never sees another.
const sep = 0x00

// appendFill is the page fill for buckets whose new keys always sort last
// (outbox sequences, times): bbolt's default of 0.5 would leave every page
// of them half empty.
const appendFill = 0.9

// maxIDLen keeps composite keys well under bbolt's 32 KiB key limit.
const maxIDLen = 512

// checkID rejects ids that would make ambiguous or oversized keys.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s: empty id: %w", what, ErrInvalid)
	case len(id) > maxIDLen:
		return fmt.Errorf("%s %.40q...: id longer than %d bytes: %w", what, id, maxIDLen, ErrInvalid)
	case bytes.IndexByte([]byte(id), sep) >= 0:
		return fmt.Errorf("%s %q: id contains a NUL byte: %w", what, id, ErrInvalid)
	}
	return nil
}

// join builds a composite key: parts separated by sep.
func join(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

// u64 encodes a big-endian uint64 so keys sort numerically.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// nanos is a fixed-width sortable time: unix nanoseconds, 0 for the zero
// time or anything before 1970.
func nanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// fromNanos is the inverse of nanos (0 is the zero time).
func fromNanos(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// timerKey is due time (8 bytes) + kind (1 byte) + session id. The kind is
// part of the key because a session's wait timeout and expiry may fall on the
// same instant.
func timerKey(at uint64, kind TimerKind, id string) []byte {
	k := make([]byte, 9, 9+len(id))
	binary.BigEndian.PutUint64(k, at)
	k[8] = byte(kind)
	return append(k, id...)
}

// eventKey is session id + sep + sequence (8 bytes).
func eventKey(id string, seq uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, sep)
	return binary.BigEndian.AppendUint64(k, seq)
}

// statusKey is status code (1 byte) + session id.
func statusKey(code byte, id string) []byte {
	k := make([]byte, 0, 1+len(id))
	k = append(k, code)
	return append(k, id...)
}

// processedAtKey is stored time (8 bytes) + channel + sep + message id.
func processedAtKey(at uint64, channel, msgID string) []byte {
	k := make([]byte, 8, 8+len(channel)+1+len(msgID))
	binary.BigEndian.PutUint64(k, at)
	return append(k, join(channel, msgID)...)
}

// revKey is flow id + sep + revision (4 bytes).
func revKey(id string, rev int) []byte {
	k := make([]byte, 0, len(id)+5)
	k = append(k, id...)
	k = append(k, sep)
	return binary.BigEndian.AppendUint32(k, uint32(rev))
}

// OutboxBucket is the bucket of the transactional outbox: key = 8-byte
// big-endian sequence, value = an OutboxRecord as JSON. Package delivery reads
// and empties it in the same database file.
const OutboxBucket = "outbox"
