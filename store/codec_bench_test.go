package store

import (
	"fmt"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkSessionCodec encodes and decodes the sample waiting session
// (store.SampleSession) the way SaveTurn and LoadSession do, without the
// database: JSON, then S2 with the session dictionary (codec 3) unless
// uncompressed. It reports the stored size.
func BenchmarkSessionCodec(b *testing.B) {
	s := SampleSession(42, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	for _, compress := range []bool{true, false} {
		codec, payload, err := encodePayload(s, compress)
		if err != nil {
			b.Fatal(err)
		}
		plan := planTimers(timersOf(s))
		rec := encodeRecord(&header{status: statusCodes[s.Status], codec: codec, channel: "sample", urn: s.Contact.URN, timerAt: plan.at, timerKind: plan.kind, payload: payload})
		b.Run(fmt.Sprintf("encode/compress=%v", compress), func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, _, err := encodePayload(s, compress); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b, b.N)
			b.ReportMetric(float64(len(rec)), "stored-bytes")
		})
		b.Run(fmt.Sprintf("decode/compress=%v", compress), func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, err := decodeSession(s.ID, rec); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b, b.N)
			b.ReportMetric(float64(len(rec)), "stored-bytes")
		})
	}
}

// BenchmarkCompressSession compresses and decompresses the sample session's
// JSON alone, for each codec that reads back: codec 3 (written now), codec 2
// (zstd with the same dictionary, written before codec 3).
func BenchmarkCompressSession(b *testing.B) {
	s := SampleSession(42, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	js, err := jsonv1.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false), zstd.WithEncoderDictRaw(sessionDictID, sessionDict))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec byte
		enc   func() []byte
	}{
		{"s2dict", codecS2Dict, func() []byte { _, z := compressJSON(js, true); return z }},
		{"s2dict-library", codecS2Dict, func() []byte { return s2Dict.EncodeBetter(nil, js) }},
		{"s2dict-fastest", codecS2Dict, func() []byte { return s2Dict.Encode(nil, js) }},
		{"zstddict", codecZstdDict, func() []byte { return zenc.EncodeAll(js, make([]byte, 0, len(js)/2)) }},
	} {
		z := c.enc()
		b.Run("compress/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				c.enc()
			}
			cpu.report(b, b.N)
			b.ReportMetric(float64(len(z)), "payload-bytes")
		})
		b.Run("decompress/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if _, err := payloadJSON(s.ID, c.codec, z); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b, b.N)
		})
	}
}
