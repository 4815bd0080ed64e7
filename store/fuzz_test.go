package store

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/flows"
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

// FuzzDecodeRow: any bytes stored as a contact row decode or are refused
// without a panic, and a row that decodes encodes back to bytes that decode
// to the same row.
func FuzzDecodeRow(f *testing.F) {
	contact := encodeContact(&flows.Contact{URN: "tel:+1", Name: "Ada", Fields: map[string]string{"k": "v"}})
	for _, r := range []*contactRow{
		{waits: []waitEntry{{channel: "sms", eid: idKey("a"), seq: 7}}},
		{ended: [][]byte{idKey("b"), idKey("01a24a4d-732c-75a5-b9ce-9664d783a229")}, hasContact: true, contact: contact},
		{msgs: []msgEntry{{hash: 3, at: 4}, {hash: 1<<64 - 1, at: 1}}},
		{hasContact: true, contact: contact, waits: []waitEntry{{channel: "wa", eid: idKey("c"), seq: 1 << 40}},
			ended: [][]byte{idKey("d")}, msgs: []msgEntry{{hash: 9, at: 9}}},
	} {
		f.Add(r.encode())
	}
	f.Add([]byte{rowHasMsgs, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRow("tel:+1", b)
		if err != nil {
			return
		}
		again, err := decodeRow("tel:+1", r.encode())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("row %x decoded to %+v, which encodes to a row that decodes to %+v, %v", b, r, again, err)
		}
	})
}
