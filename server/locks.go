package server

import (
	"hash/maphash"
	"sync"
)

// lockShards is the number of mutexes turns are spread over. Two contacts
// share a shard only by hash collision, which costs them some parallelism
// and nothing else.
const lockShards = 512

// keyedMutex serializes turns per contact (or per session when there is no
// contact URN) without a global lock: a key always maps to the same shard.
type keyedMutex struct {
	seed   maphash.Seed
	shards [lockShards]sync.Mutex
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{seed: maphash.MakeSeed()} }

// lock takes the shard of everything a contact does (of the session when
// there is no contact URN) and returns it, locked. The key is hashed in
// place rather than built as a string: this runs for every message.
func (k *keyedMutex) lock(urn, sessionID string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(k.seed)
	if urn != "" {
		h.WriteString("urn:")
		h.WriteString(urn)
	} else {
		h.WriteString("session:")
		h.WriteString(sessionID)
	}
	m := &k.shards[h.Sum64()%lockShards]
	m.Lock()
	return m
}
