package store

import (
	"encoding/binary"
	"fmt"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/zstd"

	"github.com/parleyhq/parley/flows"
)

// A stored session is a small fixed header followed by the session's JSON,
// optionally zstd-compressed:
//
//	[0]      format version (1)
//	[1]      status code (statusCodes)
//	[2]      payload codec: 0 JSON, 1 zstd(JSON)
//	[3:11]   UpdatedAt, unix nanos
//	[11:19]  wait timeout timer due time, unix nanos (0: none)
//	[19:27]  expiry timer due time, unix nanos (0: none)
//	uvarint length + channel, uvarint length + contact URN, uvarint length + flow id
//	payload
//
// The header holds exactly what SaveTurn needs to find the index entries and
// timers of the previous version, and what ListSessions filters on, so neither
// has to decode the JSON.
const (
	formatV1     = 1
	codecJSON    = 0
	codecZstd    = 1
	headerFixed  = 27
	minZstdInput = 256 // below this zstd's frame overhead eats the gain
	// maxSessionBytes bounds a decompressed session.
	maxSessionBytes = 64 << 20
)

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

// header is the decoded fixed part of a stored session.
type header struct {
	status    byte
	codec     byte
	updated   uint64
	timeoutAt uint64
	expiresAt uint64
	channel   string
	urn       string
	flowID    string
	payload   []byte
}

// zstd encoders and decoders are safe for concurrent EncodeAll/DecodeAll.
// SpeedFastest: a session is ~1 KiB, where higher levels gain little.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true),
		// A corrupt record must fail, not claim gigabytes: no session comes near this.
		zstd.WithDecoderMaxMemory(maxSessionBytes))
)

// encodePayload encodes (and maybe compresses) a session's JSON: the costly
// part of a save, done before the transaction starts.
func encodePayload(s *flows.Session, compress bool) (codec byte, payload []byte, err error) {
	if _, ok := statusCodes[s.Status]; !ok {
		return 0, nil, fmt.Errorf("session %q: unknown status %q: %w", s.ID, s.Status, ErrInvalid)
	}
	// jsonv1 is encoding/json's behaviour on the encoding/json/v2 engine:
	// the same bytes, decoded in about half the time and a third of the
	// allocations (BenchmarkSessionCodec).
	js, err := jsonv1.Marshal(s)
	if err != nil {
		return 0, nil, fmt.Errorf("session %q: encode: %w", s.ID, err)
	}
	if compress && len(js) >= minZstdInput {
		if z := zenc.EncodeAll(js, make([]byte, 0, len(js)/2)); len(z) < len(js) {
			return codecZstd, z, nil
		}
	}
	return codecJSON, js, nil
}

// encodeRecord joins a header and an encoded payload into the stored value.
func encodeRecord(h *header) []byte {
	b := make([]byte, headerFixed, headerFixed+3*binary.MaxVarintLen16+len(h.channel)+len(h.urn)+len(h.flowID)+len(h.payload))
	b[0], b[1], b[2] = formatV1, h.status, h.codec
	binary.BigEndian.PutUint64(b[3:], h.updated)
	binary.BigEndian.PutUint64(b[11:], h.timeoutAt)
	binary.BigEndian.PutUint64(b[19:], h.expiresAt)
	for _, str := range []string{h.channel, h.urn, h.flowID} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	return append(b, h.payload...)
}

// decodeHeader parses the header of a stored session without copying the payload.
func decodeHeader(id string, b []byte) (header, error) {
	var h header
	if len(b) < headerFixed || b[0] != formatV1 {
		return h, fmt.Errorf("session %q: unknown stored format", id)
	}
	h.status, h.codec = b[1], b[2]
	h.updated = binary.BigEndian.Uint64(b[3:])
	h.timeoutAt = binary.BigEndian.Uint64(b[11:])
	h.expiresAt = binary.BigEndian.Uint64(b[19:])
	rest := b[headerFixed:]
	for _, dst := range []*string{&h.channel, &h.urn, &h.flowID} {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return h, fmt.Errorf("session %q: corrupt header", id)
		}
		*dst = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	h.payload = rest
	return h, nil
}

// decodeSession decodes a stored session. b may be bbolt memory: nothing
// returned refers to it.
func decodeSession(id string, b []byte) (*flows.Session, error) {
	h, err := decodeHeader(id, b)
	if err != nil {
		return nil, err
	}
	js := h.payload
	if h.codec == codecZstd {
		if js, err = zdec.DecodeAll(h.payload, make([]byte, 0, 3*len(h.payload))); err != nil {
			return nil, fmt.Errorf("session %q: decompress: %w", id, err)
		}
	}
	s := new(flows.Session)
	if err := jsonv1.Unmarshal(js, s); err != nil {
		return nil, fmt.Errorf("session %q: decode: %w", id, err)
	}
	return s, nil
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

// encodeJSON encodes contacts, events and outbox records: small, rarely read
// in bulk, and readable with bbolt's own tools.
func encodeJSON(what, id string, v any) ([]byte, error) {
	b, err := jsonv1.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s %q: encode: %w", what, id, err)
	}
	return b, nil
}
