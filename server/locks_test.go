package server

import (
	"fmt"
	"sync"
	"testing"
)

// TestKeyedMutex checks that turns of one key exclude each other (the race
// detector sees the unguarded counter otherwise), that a key held does not
// stop another key's turns, and that released keys leave nothing behind.
func TestKeyedMutex(t *testing.T) {
	k := newKeyedMutex()

	held := k.lock("tel:+1", "")
	other := make(chan struct{})
	go func() {
		// Another contact, and a session without a URN, while tel:+1 is held.
		k.lock("tel:+2", "").Unlock()
		k.lock("", "tel:+1").Unlock()
		close(other)
	}()
	<-other
	held.Unlock()

	var counts [3]int // each guarded by its key's lock alone
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				n := (g + i) % 3
				l := k.lock(fmt.Sprintf("tel:+%d", n), "")
				counts[n]++
				l.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := counts[0] + counts[1] + counts[2]; n != 8*500 {
		t.Errorf("%d increments, want %d", n, 8*500)
	}
	for i := range k.shards {
		if n := len(k.shards[i].held); n != 0 {
			t.Errorf("shard %d keeps %d released keys", i, n)
		}
	}
}
