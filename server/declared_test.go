package server

import "testing"

func BenchmarkDeclaredFind(b *testing.B) {
	ops := newDeclaredOps(openAPI)
	b.ReportAllocs()
	for b.Loop() {
		if ops.find("POST", "/v1/channels/bench-abc/messages") == nil {
			b.Fatal("not found")
		}
	}
}
