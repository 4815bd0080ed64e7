package server

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkChannelConversation measures one inbound message turn (resume a
// waiting session, run it, commit) with many contacts talking at once, the
// store's group commit and fsync included.
func BenchmarkChannelConversation(b *testing.B) {
	ts := newTestServer(b, func(c *Config) { c.Now = time.Now })
	ts.createFlow(counterFlow)
	ts.must(201, "POST", "/v1/channels", `{"id":"web","default_flow":"counter"}`)
	var contact atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		from := fmt.Sprintf(`{"from":"+1%d","text":"x"}`, contact.Add(1))
		for pb.Next() {
			if r := ts.do("POST", "/v1/channels/web/messages", from); r.Status != 200 {
				b.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
		}
	})
}
