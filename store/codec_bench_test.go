package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSessionCodec encodes and decodes the sample waiting session
// (store.SampleSession) the way SaveTurn and LoadSession do, without the
// database: JSON, then zstd unless uncompressed. It reports the stored size.
func BenchmarkSessionCodec(b *testing.B) {
	s := SampleSession(42, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	for _, compress := range []bool{true, false} {
		codec, payload, err := encodePayload(s, compress)
		if err != nil {
			b.Fatal(err)
		}
		plan := planTimers(timersOf(s))
		rec := encodeRecord(&header{status: statusCodes[s.Status], codec: codec, channel: "sample", urn: s.Contact.URN, timerAt: plan.at, timerKind: plan.kind, payload: payload})
		b.Run(fmt.Sprintf("encode/zstd=%v", compress), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := encodePayload(s, compress); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rec)), "stored-bytes")
		})
		b.Run(fmt.Sprintf("decode/zstd=%v", compress), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeSession(s.ID, rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rec)), "stored-bytes")
		})
	}
}
