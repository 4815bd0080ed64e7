package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Top-level buckets of the current layout (layoutCurrent), created at Open.
// docs/storage.md describes each layout.
var (
	bMeta           = []byte("meta")
	bFlows          = []byte("flows")
	bFlowRevs       = []byte("flow_revisions")
	bFlowsDeleted   = []byte("flows_deleted")
	bIDs            = []byte("session_ids")
	bRecords        = []byte("session_records")
	bByStatus       = []byte("session_status")
	bByContact      = []byte("session_contacts")
	bContacts       = []byte("contact_rows")
	bTimers         = []byte("session_timers")
	bEnded          = []byte("session_ended")
	bOutbox         = []byte(OutboxBucket)
	bProcessedLog   = []byte("processed_log")
	bProcessedIndex = []byte("processed_index")
	// Dedupe records of layouts before 7, read and pruned (dedupe.go).
	bProcessed   = []byte("processed")
	bProcessedAt = []byte("processed_by_time")
	bStats       = []byte("stats")
	bChannels    = []byte(Channels)
	bAPIKeys     = []byte(APIKeys)
	bWebhooks    = []byte(Webhooks)
	// Calls an erasure of their contact ended (erased_calls.go).
	bErasedCalls = []byte("erased_calls")
)

var allBuckets = [][]byte{
	bMeta, bFlows, bFlowRevs, bIDs, bRecords, bByStatus, bByContact, bContacts,
	bTimers, bEnded, bOutbox, bProcessedLog, bProcessedIndex, bProcessed, bProcessedAt, bStats,
	bChannels, bAPIKeys, bWebhooks, bFlowsDeleted, bErasedCalls,
}

// sep joins the parts of composite keys. Ids cannot contain it (checkID), so
// "a"+sep sorts before "a0" and a prefix scan of one id never sees another.
const sep = 0x00

// Page fill. bbolt splits the pages a transaction changed at the bucket's
// FillPercent when it commits. Its default, one half, suits keys inserted
// among others (pages then average about 70% full), but leaves every page
// half empty where keys are appended: session records (sequence numbers),
// ids that sort by time, timers, the outbox. put fills a bucket's pages
// completely in a transaction whose every insert into it went past its last
// key, and splits them half-way as bbolt does otherwise.
const (
	fillAppend = 1.0
	fillMixed  = 0.4999 // bbolt's default, told apart from "not yet written"
)

// put is bk.Put that keeps track of whether the transaction only appends to bk.
// It seeks k rather than asking for the last key: bbolt's Cursor.Last does
// not return when every leaf of the bucket was emptied in the transaction
// (the outbox after an acknowledgement of all its records, for instance).
func put(bk *bbolt.Bucket, k, v []byte) error {
	if bk.FillPercent != fillMixed {
		if next, _ := bk.Cursor().Seek(k); next == nil {
			bk.FillPercent = fillAppend
		} else {
			bk.FillPercent = fillMixed
		}
	}
	return bk.Put(k, v)
}

// bucketFill is what a group's transaction knows of a bucket it has only
// appended to: no key in it is greater than last, the greatest key it put.
// Deletes keep that true; puts that bypass statBatch.put would not, so every
// put of a group's writes goes through it.
type bucketFill struct {
	bk   *bbolt.Bucket
	last []byte // a copy: the caller's key may be a reused buffer
}

// put is put for a group's writes: only a bucket's first put in the
// transaction seeks. After it, a key above the greatest one appended is
// another append without a search; any other key seeks as put does (it may
// be an append after all, if deletes emptied the end of the bucket). The
// page fill that results is the same as put's.
func (s *statBatch) put(bk *bbolt.Bucket, k, v []byte) error {
	if s == nil {
		return put(bk, k, v)
	}
	if bk.FillPercent == fillMixed {
		return bk.Put(k, v)
	}
	i := 0
	for i < len(s.fills) && s.fills[i].bk != bk {
		i++
	}
	if i < len(s.fills) && bytes.Compare(k, s.fills[i].last) > 0 {
		if err := bk.Put(k, v); err != nil {
			return err
		}
		s.fills[i].last = append(s.fills[i].last[:0], k...)
		return nil
	}
	// put's seek, through the transaction's cursor.
	if next, _ := s.cursor(bk).Seek(k); next == nil {
		bk.FillPercent = fillAppend
	} else {
		bk.FillPercent = fillMixed
	}
	if err := bk.Put(k, v); err != nil {
		return err
	}
	switch {
	case bk.FillPercent != fillAppend:
	case i < len(s.fills):
		s.fills[i].last = append(s.fills[i].last[:0], k...)
	case len(s.fills) < cap(s.fills):
		// The entry's buffer from an earlier transaction is reused.
		s.fills = s.fills[:i+1]
		s.fills[i].bk, s.fills[i].last = bk, append(s.fills[i].last[:0], k...)
	default:
		s.fills = append(s.fills, bucketFill{bk: bk, last: bytes.Clone(k)})
	}
	return nil
}

// MaxIDLen is the longest id, in bytes, the store keeps (message ids,
// contact URNs, session and flow ids): it keeps composite keys well under
// bbolt's 32 KiB key limit.
const MaxIDLen = 512

// KeyProblem says why the store cannot keep id in its keys (a session,
// message or call id, a URN), "" when it can: over MaxIDLen bytes, or
// holding a NUL byte, which would make keys ambiguous. Whether an empty id
// is allowed is the caller's to say.
func KeyProblem(id string) string {
	switch {
	case len(id) > MaxIDLen:
		return fmt.Sprintf("is %d bytes long, over the limit of %d bytes", len(id), MaxIDLen)
	case strings.IndexByte(id, sep) >= 0:
		return "contains a NUL byte"
	}
	return ""
}

// checkID rejects ids that would make ambiguous or oversized keys.
func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s: empty id: %w", what, ErrInvalid)
	}
	if p := KeyProblem(id); p != "" {
		return fmt.Errorf("%s %.40q: id %s: %w", what, id, p, ErrInvalid)
	}
	return nil
}

// Session ids in keys. A canonical UUID string (36 characters, lowercase
// hex, hyphens at 8, 13, 18 and 23: what the server generates) is stored as
// its 16 bytes behind a tag byte; any other id as its own bytes behind
// another tag. Within each kind byte order is the ids' string order, so
// ListSessions merges the two ranges to list in string order.
const (
	idUUID  = 0x01
	idOther = 0x02
)

// uuidDash reports the positions of the hyphens in a canonical UUID.
func uuidDash(i int) bool { return i == 8 || i == 13 || i == 18 || i == 23 }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// packUUID returns the 16 bytes of a canonical UUID string.
func packUUID(id string) (u [16]byte, ok bool) {
	if len(id) != 36 {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if uuidDash(i) {
			if id[i] != '-' {
				return u, false
			}
			i--
			continue
		}
		hi, ok1 := unhex(id[i])
		lo, ok2 := unhex(id[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
	}
	return u, true
}

const hexDigits = "0123456789abcdef"

func unpackUUID(u []byte) string {
	var s [36]byte
	j := 0
	for i := range 16 {
		if j == 8 || j == 13 || j == 18 || j == 23 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[u[i]>>4], hexDigits[u[i]&0x0f]
		j += 2
	}
	return string(s[:])
}

// appendID appends the key encoding of a session id.
func appendID(k []byte, id string) []byte {
	if u, ok := packUUID(id); ok {
		k = append(k, idUUID)
		return append(k, u[:]...)
	}
	k = append(k, idOther)
	return append(k, id...)
}

// idKey is the key encoding of a session id alone.
func idKey(id string) []byte { return appendID(make([]byte, 0, 17), id) }

// decodeID is the inverse of appendID; b is the whole encoded id.
func decodeID(b []byte) (string, error) {
	switch {
	case len(b) == 17 && b[0] == idUUID:
		return unpackUUID(b[1:]), nil
	case len(b) > 1 && b[0] == idOther:
		return string(b[1:]), nil
	}
	return "", fmt.Errorf("corrupt session id key %x", b)
}

// nextUUIDAfter returns the smallest canonical UUID string greater than s
// (which is not itself a canonical UUID), or false when there is none. It
// lets a listing that resumes after a non-UUID id seek the UUID range.
func nextUUIDAfter(s string) (string, bool) {
	allowed := func(i int, c byte) bool {
		if uuidDash(i) {
			return c == '-'
		}
		_, ok := unhex(c)
		return ok
	}
	next := func(i int, c byte) (byte, bool) { // smallest allowed char at i above c
		if uuidDash(i) {
			return '-', c < '-'
		}
		for j := 0; j < 16; j++ {
			if hexDigits[j] > c {
				return hexDigits[j], true
			}
		}
		return 0, false
	}
	complete := func(b []byte) string {
		for i := len(b); i < 36; i++ {
			if uuidDash(i) {
				b = append(b, '-')
			} else {
				b = append(b, '0')
			}
		}
		return string(b)
	}
	// p is the length of the longest prefix of s that starts a canonical UUID.
	p := 0
	for p < len(s) && p < 36 && allowed(p, s[p]) {
		p++
	}
	if p == len(s) && p < 36 {
		return complete([]byte(s)), true // s is a proper prefix: its smallest completion is greater
	}
	// Raise the character at some position i <= p, as far right as possible.
	for i := min(p, 35); i >= 0; i-- {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		if i == p && i >= len(s) {
			continue
		}
		if n, ok := next(i, c); ok {
			return complete(append([]byte(s[:i]), n)), true
		}
	}
	return "", false
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

// recordKey is the key of a session record: its sequence number.
func recordKey(seq uint64) []byte { return u64(seq) }

// eventKey is the session's sequence number + the event's sequence number
// inverted, so the newest event sorts right after the session record and a
// turn's events usually land on the record's page.
func eventKey(sessSeq, seq uint64) []byte { return appendEventKey(make([]byte, 0, 16), sessSeq, seq) }

func appendEventKey(k []byte, sessSeq, seq uint64) []byte {
	k = binary.BigEndian.AppendUint64(k, sessSeq)
	return binary.BigEndian.AppendUint64(k, ^seq)
}

// timerKey is due time (8 bytes) + encoded session id.
func timerKey(at uint64, eid []byte) []byte {
	return appendTimerKey(make([]byte, 0, 8+len(eid)), at, eid)
}

func appendTimerKey(k []byte, at uint64, eid []byte) []byte {
	return append(binary.BigEndian.AppendUint64(k, at), eid...)
}

// statusKey is status code (1 byte) + encoded session id.
func statusKey(code byte, eid []byte) []byte {
	k := make([]byte, 0, 1+len(eid))
	k = append(k, code)
	return append(k, eid...)
}

// contactKey is URN + sep + encoded session id.
func contactKey(urn string, eid []byte) []byte {
	k := make([]byte, 0, len(urn)+1+len(eid))
	k = append(k, urn...)
	k = append(k, sep)
	return append(k, eid...)
}

// processedReply returns the reply of the layout 2-6 dedupe record v, the
// `processed` value of key (channel + sep + message id), reading
// `processed_by_time` when it is there. Layouts 3-6 stored the time alone
// in v and the reply as the `processed_by_time` value; layout 2 kept the
// reply in v after the time. found is false when v is no record.
func processedReply(byTime *bbolt.Bucket, key, v []byte) (reply []byte, found bool) {
	switch {
	case len(v) < 8:
		return nil, false
	case len(v) > 8:
		return v[8:], true
	}
	k := make([]byte, 0, 8+len(key))
	k = append(append(k, v...), key...)
	return byTime.Get(k), true
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
