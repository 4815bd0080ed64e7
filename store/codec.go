package store

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/s2dict"
)

// A stored session (layout 2) is a small header followed by the session's
// JSON, optionally compressed:
//
//	[0]      payload codec: 0 JSON, 1 zstd(JSON), 2 zstd(JSON) with session
//	         dictionary 1, 3 S2 block(JSON) with session dictionary 1
//	[1]      status code (low 4 bits, statusCodes) | kind of the session's timer << 4
//	[2:10]   UpdatedAt, unix nanos
//	[10:18]  due time of the session's timer record, unix nanos (0: none)
//	uvarint length + channel, uvarint length + contact URN
//	payload
//
// The header holds exactly what SaveTurn needs to find the previous
// version's index entries and timer record, so it never decodes the JSON.
const (
	codecJSON     = 0
	codecZstd     = 1 // layout 1's compressed sessions; still read
	codecZstdDict = 2 // written until codec 3; still read
	codecS2Dict   = 3
	headerFixed   = 18
	// minCompressInput: shorter JSON is stored as is (codec 0), as it was
	// when zstd's frame overhead ate the gain below this size.
	minCompressInput = 256
	// maxSessionBytes bounds a decompressed session.
	maxSessionBytes = 64 << 20
)

// sessionDict is the raw-content dictionary of codecs 2 (zstd) and 3 (S2):
// session JSON with the keys and common values of flows.Session and no real
// data. Stored sessions depend on it, so it never changes: a better
// dictionary would be a new codec number with its own embedded file, the
// old one kept for reading.
//
//go:embed dict/session-1.json
var sessionDict []byte

const sessionDictID = 1

// s2Dict is codec 3's dictionary: sessionDict with S2's initial repeat
// offset at 0, where the dictionary starts as a session's JSON does
// (`{"id":"`). The offset is part of the format (the decoder needs it too),
// so like the dictionary it never changes; TestS2DictFixed checks both.
var s2Dict = s2.MakeDictManual(sessionDict, 0)

// s2Enc writes codec 3: S2's "better" dictionary encoder with hash tables
// sized for a session rather than for multi-MiB blocks (internal/s2dict).
var s2Enc = s2dict.New(s2Dict)

var statusCodes = map[flows.Status]byte{
	flows.StatusActive:      1,
	flows.StatusWaiting:     2,
	flows.StatusCompleted:   3,
	flows.StatusExpired:     4,
	flows.StatusFailed:      5,
	flows.StatusInterrupted: 6,
}

var codeStatuses = func() map[byte]flows.Status {
	m := make(map[byte]flows.Status, len(statusCodes))
	for s, c := range statusCodes {
		m[c] = s
	}
	return m
}()

var waitingCode = statusCodes[flows.StatusWaiting]

// header is the decoded fixed part of a stored session.
type header struct {
	status    byte
	codec     byte
	updated   uint64
	timerAt   uint64    // key time of the session's timer record, 0: none
	timerKind TimerKind // kind of the timer due at timerAt
	channel   string
	urn       string
	payload   []byte
}

// zdec reads codecs 1 and 2 (safe for concurrent DecodeAll). Sessions are
// no longer written with zstd: for a ~1.5 KiB document, S2 with the same
// dictionary (codec 3) encodes in a fifth of the time for ~15% more bytes.
var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true),
	zstd.WithDecoderDictRaw(sessionDictID, sessionDict),
	// A corrupt record must fail, not claim gigabytes: no session comes near this.
	zstd.WithDecoderMaxMemory(maxSessionBytes))

// encodePayload encodes (and maybe compresses) a session's JSON: the costly
// part of a save, done before the transaction starts.
func encodePayload(s *flows.Session, compress bool) (codec byte, payload []byte, err error) {
	if _, ok := statusCodes[s.Status]; !ok {
		return 0, nil, fmt.Errorf("session %q: unknown status %q: %w", s.ID, s.Status, ErrInvalid)
	}
	js, err := sessionJSON(s)
	if err != nil {
		return 0, nil, fmt.Errorf("session %q: encode: %w", s.ID, err)
	}
	codec, payload = compressJSON(js, compress)
	return codec, payload, nil
}

// sessionJSON returns the bytes of jsonv1.Marshal (encoding/json's
// behaviour on the encoding/json/v2 engine), written by hand where it can
// be (session_json.go); the library writes the rest and reports its errors.
func sessionJSON(s *flows.Session) ([]byte, error) {
	if js, ok := appendSession(make([]byte, 0, sessionJSONSize(s)), s); ok {
		return js, nil
	}
	return jsonv1.Marshal(s)
}

// compressJSON compresses session JSON with the session dictionary (codec
// 3) unless that does not make it smaller. S2's "better" block encoder: ~3
// µs more per save than the fastest one, for a record ~50 bytes shorter,
// which keeps a waiting session well under 1 KiB on disk. A session is a
// single short block: no stream framing or checksum (bbolt pages have none
// either; the JSON decoder rejects what a corrupt block would produce).
func compressJSON(js []byte, compress bool) (byte, []byte) {
	if compress && len(js) >= minCompressInput && len(js) <= maxSessionBytes {
		if z := s2Enc.Encode(nil, js); len(z) < len(js) {
			return codecS2Dict, z
		}
	}
	return codecJSON, js
}

// encodeRecord joins a header and an encoded payload into the stored value.
func encodeRecord(h *header) []byte {
	b := make([]byte, headerFixed, headerFixed+2*binary.MaxVarintLen16+len(h.channel)+len(h.urn)+len(h.payload))
	b[0], b[1] = h.codec, h.status|byte(h.timerKind)<<4
	binary.BigEndian.PutUint64(b[2:], h.updated)
	binary.BigEndian.PutUint64(b[10:], h.timerAt)
	b = appendString(b, h.channel)
	b = appendString(b, h.urn)
	return append(b, h.payload...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readString reads an appendString string from b, returning the rest.
func readString(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", nil, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true
}

// decodeHeader parses the header of a stored session without copying the payload.
func decodeHeader(id string, b []byte) (header, error) {
	var h header
	if len(b) < headerFixed || b[0] > codecS2Dict {
		return h, damagedSession(id, errors.New("unknown stored format"))
	}
	h.codec, h.status, h.timerKind = b[0], b[1]&0x0f, TimerKind(b[1]>>4)
	h.updated = binary.BigEndian.Uint64(b[2:])
	h.timerAt = binary.BigEndian.Uint64(b[10:])
	rest := b[headerFixed:]
	var ok bool
	if h.channel, rest, ok = readString(rest); ok {
		h.urn, rest, ok = readString(rest)
	}
	if !ok {
		return h, damagedSession(id, errors.New("corrupt header"))
	}
	h.payload = rest
	return h, nil
}

// payloadJSON returns a stored payload's JSON (a copy when decompressed).
func payloadJSON(id string, codec byte, payload []byte) ([]byte, error) {
	switch codec {
	case codecJSON:
		return payload, nil
	case codecZstd, codecZstdDict:
		js, err := zdec.DecodeAll(payload, make([]byte, 0, 3*len(payload)))
		if err != nil {
			return nil, damagedSession(id, fmt.Errorf("decompress: %w", err))
		}
		return js, nil
	case codecS2Dict:
		// The block starts with its decoded length: check it before
		// allocating, so a corrupt record cannot claim gigabytes.
		n, err := s2.DecodedLen(payload)
		if err != nil {
			return nil, damagedSession(id, fmt.Errorf("decompress: %w", err))
		}
		if n > maxSessionBytes {
			return nil, damagedSession(id, fmt.Errorf("decompress: %d bytes, more than a session may have (%d): %w",
				n, maxSessionBytes, s2.ErrTooLarge))
		}
		js, err := s2Dict.Decode(nil, payload)
		if err != nil {
			return nil, damagedSession(id, fmt.Errorf("decompress: %w", err))
		}
		return js, nil
	}
	return nil, damagedSession(id, fmt.Errorf("unknown codec %d", codec))
}

// decodeSession decodes a stored session. b may be bbolt memory: nothing
// returned refers to it.
func decodeSession(id string, b []byte) (*flows.Session, error) {
	h, err := decodeHeader(id, b)
	if err != nil {
		return nil, err
	}
	js, err := payloadJSON(id, h.codec, h.payload)
	if err != nil {
		return nil, err
	}
	s := new(flows.Session)
	if err := jsonv1.Unmarshal(js, s); err != nil {
		return nil, damagedSession(id, fmt.Errorf("decode: %w", err))
	}
	s.RekeyResults()
	return s, nil
}

// RecordError is a stored value that does not decode: damage inside a
// record, which bbolt's own checks of its pages do not see (they check the
// pages' structure, not the values). It wraps ErrCorrupt and the cause, so
// the store reports it as it reports a damaged page, naming the file.
type RecordError struct {
	// Bucket is the bucket the value is in: session_records, contact_rows.
	Bucket string
	// Record names the value: `session "ID"`, `contact "URN"`.
	Record string
	// Logged is Record without the contact's URN (or a key that holds
	// it), for logs above the debug level, which keep no person's data;
	// empty when Record names no contact.
	Logged string
	Err    error
}

// LoggedText is err's text for a log above the debug level: each damaged
// value it names by a contact's URN (or a key that holds it), a contact's
// row or dedupe entry, named without it ("a contact's row"). ok is false
// when err names no such value, and text is then err's own.
func LoggedText(err error) (text string, ok bool) {
	text = err.Error()
	var walk func(error)
	walk = func(e error) {
		if re, is := e.(*RecordError); is && re.Logged != "" {
			text, ok = strings.ReplaceAll(text, re.Record, re.Logged), true
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				walk(next)
			}
		case interface{ Unwrap() []error }:
			for _, next := range u.Unwrap() {
				walk(next)
			}
		}
	}
	walk(err)
	return text, ok
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%v: %s (bucket %s): %v", ErrCorrupt, e.Record, e.Bucket, e.Err)
}

func (e *RecordError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

func damagedSession(id string, err error) error {
	return &RecordError{Bucket: string(bRecords), Record: fmt.Sprintf("session %q", id), Err: err}
}

func damagedContact(urn string, err error) error {
	return &RecordError{Bucket: string(bContacts), Record: fmt.Sprintf("contact %q", urn), Logged: "a contact's row", Err: err}
}

// timersOf computes the timers a session should have: a wait timeout only
// while waiting, an expiry while the session has not ended.
func timersOf(s *flows.Session) (timeoutAt, expiresAt uint64) {
	if s.Status == flows.StatusWaiting && s.Wait != nil && s.Wait.TimeoutAt != nil {
		timeoutAt = nanos(*s.Wait.TimeoutAt)
	}
	if !s.Status.Ended() && s.ExpiresAt != nil {
		expiresAt = nanos(*s.ExpiresAt)
	}
	return timeoutAt, expiresAt
}

// timerPlan is a session's timers as one record: the earlier one is the
// record's key, the later one (if any) rides in its value. On a tie the
// wait timeout comes first, as it did when each timer had its own key.
type timerPlan struct {
	at     uint64
	kind   TimerKind
	second uint64 // 0: none; its kind is the other kind
}

func planTimers(timeoutAt, expiresAt uint64) timerPlan {
	switch {
	case timeoutAt == 0 && expiresAt == 0:
		return timerPlan{}
	case expiresAt == 0:
		return timerPlan{at: timeoutAt, kind: TimerWaitTimeout}
	case timeoutAt == 0:
		return timerPlan{at: expiresAt, kind: TimerExpiry}
	case timeoutAt <= expiresAt:
		return timerPlan{at: timeoutAt, kind: TimerWaitTimeout, second: expiresAt}
	}
	return timerPlan{at: expiresAt, kind: TimerExpiry, second: timeoutAt}
}

// otherKind is the kind of a timer record's second timer.
func otherKind(k TimerKind) TimerKind {
	if k == TimerWaitTimeout {
		return TimerExpiry
	}
	return TimerWaitTimeout
}

// value is the timer record's value: the first kind, then the second due
// time when there is one.
func (p timerPlan) value() []byte {
	if p.second == 0 {
		return []byte{byte(p.kind)}
	}
	v := make([]byte, 9)
	v[0] = byte(p.kind)
	binary.BigEndian.PutUint64(v[1:], p.second)
	return v
}

// count is the number of timers in the plan.
func (p timerPlan) count() int64 {
	switch {
	case p.at == 0:
		return 0
	case p.second == 0:
		return 1
	}
	return 2
}

// decodeTimer reads a timer record's value.
func decodeTimer(at uint64, v []byte) (timerPlan, bool) {
	switch len(v) {
	case 1:
		return timerPlan{at: at, kind: TimerKind(v[0])}, true
	case 9:
		return timerPlan{at: at, kind: TimerKind(v[0]), second: binary.BigEndian.Uint64(v[1:])}, true
	}
	return timerPlan{}, false
}

// encodeJSON encodes events and outbox records: small, rarely read in bulk,
// and readable with bbolt's own tools.
func encodeJSON(what, id string, v any) ([]byte, error) {
	b, err := jsonv1.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s %q: encode: %w", what, id, err)
	}
	return b, nil
}

// A contact row (bucket contact_rows, key URN) holds what is stored per
// contact: the sessions waiting for it, one per channel, its latest ended
// sessions, the dedupe entries of its latest messages, and the contact
// itself when one was saved:
//
//	[0]  flags: 1 = a contact is stored, 2 = ended entries are stored,
//	     4 = message entries are stored
//	uvarint number of waiting entries, each: uvarint length + channel,
//	     uvarint length + encoded session id, uvarint session sequence
//	the ended entries, if flagged: uvarint number, each uvarint length +
//	     encoded session id
//	the message entries, if flagged: uvarint number, each 8 bytes of
//	     message hash (msgHash) and 8 of stored time
//	the contact, if flagged: name, language (uvarint length + bytes each),
//	     uvarint number of fields, each key then value (sorted by key),
//	     uvarint number of groups, each group
//
// The URN is the key, so it is not repeated. Layout 4 rows have no ended
// entries; their bytes are the same in layout 5. Rows before layout 7 have
// no message entries.
type contactRow struct {
	hasContact bool
	contact    []byte // encoded contact (the part after the entries)
	waits      []waitEntry
	// ended lists the contact's sessions that do not wait on a channel
	// (ended ones, mostly) and have no session_contacts entry yet, in the
	// order they stopped waiting (see rowEndedMax).
	ended [][]byte
	// msgs are the dedupe entries of the contact's latest inbound
	// messages that have no processed_index entry yet, oldest first (see
	// rowMsgsMax).
	msgs []msgEntry
}

// msgEntry locates a dedupe record: the hash of its channel and message id
// (msgHash) and the time it was stored, which with them is its key in
// processed_log.
type msgEntry struct {
	hash, at uint64
}

type waitEntry struct {
	channel string
	eid     []byte
	seq     uint64
}

const (
	rowHasContact = 1
	rowHasEnded   = 2
	rowHasMsgs    = 4
)

func (r *contactRow) empty() bool {
	return !r.hasContact && len(r.waits) == 0 && len(r.ended) == 0 && len(r.msgs) == 0
}

func (r *contactRow) encode() []byte {
	n := 1 + 3*binary.MaxVarintLen16 + len(r.contact) + 16*len(r.msgs)
	for _, w := range r.waits {
		n += 3*binary.MaxVarintLen64 + len(w.channel) + len(w.eid)
	}
	for _, e := range r.ended {
		n += binary.MaxVarintLen16 + len(e)
	}
	b := make([]byte, 1, n)
	if r.hasContact {
		b[0] |= rowHasContact
	}
	b = binary.AppendUvarint(b, uint64(len(r.waits)))
	for _, w := range r.waits {
		b = appendString(b, w.channel)
		b = binary.AppendUvarint(b, uint64(len(w.eid)))
		b = append(b, w.eid...)
		b = binary.AppendUvarint(b, w.seq)
	}
	if len(r.ended) > 0 {
		b[0] |= rowHasEnded
		b = binary.AppendUvarint(b, uint64(len(r.ended)))
		for _, e := range r.ended {
			b = binary.AppendUvarint(b, uint64(len(e)))
			b = append(b, e...)
		}
	}
	if len(r.msgs) > 0 {
		b[0] |= rowHasMsgs
		b = binary.AppendUvarint(b, uint64(len(r.msgs)))
		for _, m := range r.msgs {
			b = binary.BigEndian.AppendUint64(b, m.hash)
			b = binary.BigEndian.AppendUint64(b, m.at)
		}
	}
	if r.hasContact {
		b = append(b, r.contact...)
	}
	return b
}

func decodeRow(urn string, b []byte) (*contactRow, error) {
	// The error is built only when needed: rows are decoded on every turn.
	bad := func() error { return damagedContact(urn, errors.New("corrupt stored row")) }
	if len(b) < 2 || b[0]&^(rowHasContact|rowHasEnded|rowHasMsgs) != 0 {
		return nil, bad()
	}
	r := &contactRow{hasContact: b[0]&rowHasContact != 0}
	// The entries and the contact point into one copy of the row (bbolt's
	// memory is only valid in its transaction), each capped at its end so
	// that appending to one cannot overwrite the next.
	b = slices.Clone(b)
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)) {
		return nil, bad()
	}
	rest := b[1+w:]
	if n > 0 {
		r.waits = make([]waitEntry, 0, n)
	}
	for range n {
		var e waitEntry
		var ok bool
		if e.channel, rest, ok = readString(rest); !ok {
			return nil, bad()
		}
		if e.eid, rest, ok = sliceBytes(rest); !ok {
			return nil, bad()
		}
		if e.seq, w = binary.Uvarint(rest); w <= 0 {
			return nil, bad()
		}
		rest = rest[w:]
		r.waits = append(r.waits, e)
	}
	if b[0]&rowHasEnded != 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n == 0 || n > uint64(len(rest)) {
			return nil, bad()
		}
		rest = rest[w:]
		r.ended = make([][]byte, 0, n)
		for range n {
			var eid []byte
			var ok bool
			if eid, rest, ok = sliceBytes(rest); !ok {
				return nil, bad()
			}
			r.ended = append(r.ended, eid)
		}
	}
	if b[0]&rowHasMsgs != 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n == 0 || n > uint64(len(rest)-w)/16 {
			return nil, bad()
		}
		rest = rest[w:]
		r.msgs = make([]msgEntry, n)
		for i := range r.msgs {
			r.msgs[i] = msgEntry{hash: binary.BigEndian.Uint64(rest), at: binary.BigEndian.Uint64(rest[8:])}
			rest = rest[16:]
		}
	}
	if r.hasContact {
		r.contact = rest[:len(rest):len(rest)]
	}
	return r, nil
}

// sliceBytes reads a uvarint length and that many bytes from b, returning
// them (capped at their end, not copied) and the rest.
func sliceBytes(b []byte) ([]byte, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, false
	}
	end := w + int(n)
	return b[w:end:end], b[end:], true
}

// dropEnded removes eid from the ended entries and reports whether it was
// there.
func (r *contactRow) dropEnded(eid []byte) bool {
	for i, e := range r.ended {
		if bytes.Equal(e, eid) {
			r.ended = slices.Delete(r.ended, i, i+1)
			return true
		}
	}
	return false
}

// wait returns the index of the waiting entry for channel, or -1.
func (r *contactRow) wait(channel string) int {
	for i := range r.waits {
		if r.waits[i].channel == channel {
			return i
		}
	}
	return -1
}

// encodeContact encodes a contact for its row. Fields are written in key
// order so an unchanged contact encodes to the same bytes and is not
// rewritten. TestContactCodecCoversContact fails when flows.Contact gains a
// field this does not store.
func encodeContact(c *flows.Contact) []byte {
	n := 4 + len(c.Name) + len(c.Language) + 2*binary.MaxVarintLen16
	for k, v := range c.Fields {
		n += len(k) + len(v) + 2*binary.MaxVarintLen16
	}
	for _, g := range c.Groups {
		n += len(g) + binary.MaxVarintLen16
	}
	b := make([]byte, 0, n)
	b = appendString(b, c.Name)
	b = appendString(b, c.Language)
	keys := make([]string, 0, len(c.Fields))
	for k := range c.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, c.Fields[k])
	}
	b = binary.AppendUvarint(b, uint64(len(c.Groups)))
	for _, g := range c.Groups {
		b = appendString(b, g)
	}
	return b
}

// contactIs reports whether b, an encoded contact, is c: whether
// decodeContact would give c's name, language, fields and groups, nil
// where c has them nil. It allocates nothing, so a caller that holds a
// copy of the contact (a session's) learns that it is current without
// decoding it. A value encodeContact did not write is never c.
func contactIs(b []byte, c *flows.Contact) bool {
	s, b, ok := sliceBytes(b)
	if !ok || string(s) != c.Name {
		return false
	}
	if s, b, ok = sliceBytes(b); !ok || string(s) != c.Language {
		return false
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n != uint64(len(c.Fields)) || (n == 0) != (c.Fields == nil) {
		return false
	}
	b = b[w:]
	var prev []byte
	for i := range n {
		var k, v []byte
		if k, b, ok = sliceBytes(b); !ok || i > 0 && bytes.Compare(prev, k) >= 0 {
			return false // keys are written in order, once each
		}
		if v, b, ok = sliceBytes(b); !ok {
			return false
		}
		if got, found := c.Fields[string(k)]; !found || got != string(v) {
			return false
		}
		prev = k
	}
	if n, w = binary.Uvarint(b); w <= 0 || n != uint64(len(c.Groups)) || (n == 0) != (c.Groups == nil) {
		return false
	}
	b = b[w:]
	for _, g := range c.Groups {
		if s, b, ok = sliceBytes(b); !ok || string(s) != g {
			return false
		}
	}
	return len(b) == 0
}

func decodeContact(urn string, b []byte) (*flows.Contact, error) {
	bad := func() error { return damagedContact(urn, errors.New("corrupt stored contact")) }
	c := &flows.Contact{URN: urn}
	var ok bool
	if c.Name, b, ok = readString(b); !ok {
		return nil, bad()
	}
	if c.Language, b, ok = readString(b); !ok {
		return nil, bad()
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, bad()
	}
	b = b[w:]
	if n > 0 {
		c.Fields = make(map[string]string, n)
	}
	for range n {
		var k, v string
		if k, b, ok = readString(b); ok {
			v, b, ok = readString(b)
		}
		if !ok {
			return nil, bad()
		}
		c.Fields[k] = v
	}
	if n, w = binary.Uvarint(b); w <= 0 || n > uint64(len(b)) {
		return nil, bad()
	}
	b = b[w:]
	for range n {
		var g string
		if g, b, ok = readString(b); !ok {
			return nil, bad()
		}
		c.Groups = append(c.Groups, g)
	}
	return c, nil
}
