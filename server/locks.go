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

// lock takes the key's shard and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	m := &k.shards[maphash.String(k.seed, key)%lockShards]
	m.Lock()
	return m.Unlock
}

// contactKey is the lock key of everything a contact does.
func contactKey(urn, sessionID string) string {
	if urn != "" {
		return "urn:" + urn
	}
	return "session:" + sessionID
}
