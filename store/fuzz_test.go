package store

import (
	"os"
	"testing"
	"time"
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
