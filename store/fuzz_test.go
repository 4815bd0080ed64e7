package store

import (
	"bytes"
	"os"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// FuzzDecodeSession feeds arbitrary bytes to the stored-session decoder: a
// corrupt record must produce an error, never a panic.
func FuzzDecodeSession(f *testing.F) {
	for _, compress := range []bool{false, true} {
		s := SampleSession(3, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		codec, payload, err := encodePayload(s, compress)
		if err != nil {
			f.Fatal(err)
		}
		plan := planTimers(timersOf(s))
		f.Add(encodeRecord(&header{status: statusCodes[s.Status], codec: codec, payload: payload,
			timerAt: plan.at, timerKind: plan.kind, channel: "sms", urn: s.Contact.URN}))
	}
	// Records of earlier builds: codec 2 is no longer written.
	for _, file := range []string{"testdata/session-codec2.rec", "testdata/session-codec3.rec"} {
		rec, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Add([]byte{codecZstdDict})
	f.Add([]byte{codecS2Dict})
	f.Add(append(append([]byte{codecS2Dict}, make([]byte, headerFixed+1)...), 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Add(make([]byte, headerFixed))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader("x", b)
		if err != nil {
			return
		}
		if len(h.payload) > len(b) {
			t.Fatalf("payload of %d bytes from a %d-byte record", len(h.payload), len(b))
		}
		decodeSession("x", b)
	})
}

// FuzzCompressJSON compresses arbitrary documents with the session
// dictionary as sessions are (codec 3) and reads them back: the encoder
// with small tables and the library's decoder must agree on every block.
func FuzzCompressJSON(f *testing.F) {
	s := SampleSession(3, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	js, err := jsonv1.Marshal(s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add(sessionDict)
	f.Add(bytes.Repeat(js, 12)) // over the small tables' 16 KiB
	f.Add(bytes.Repeat([]byte(`{"id":"`), 50))
	f.Fuzz(func(t *testing.T, js []byte) {
		codec, payload := compressJSON(js, true)
		got, err := payloadJSON("x", codec, payload)
		if err != nil {
			t.Fatalf("codec %d, %d bytes from %d: %v", codec, len(payload), len(js), err)
		}
		if !bytes.Equal(got, js) {
			t.Fatalf("codec %d: %d bytes read back differ from the %d written", codec, len(got), len(js))
		}
	})
}
