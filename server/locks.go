package server

import (
	"hash/maphash"
	"sync"
)

// lockShards is the number of maps the held locks are spread over, so that
// taking a lock contends only with turns whose keys fall in the same shard,
// and only for the moment of a map lookup.
const lockShards = 64

// maxFreeLocks bounds the lock values a shard keeps for reuse.
const maxFreeLocks = 64

// keyedMutex serializes turns per contact (or per session when there is no
// contact URN) without a global lock. Each key that some turn holds or waits
// for has a mutex of its own, so two contacts never wait for each other: with
// a fixed set of mutexes chosen by hash, 256 busy contacts on 512 mutexes
// share one in about 64 pairs, and each of those turns waits for the other's
// whole turn, durable commit included.
type keyedMutex struct {
	seed   maphash.Seed
	shards [lockShards]lockShard
}

type lockShard struct {
	mu   sync.Mutex
	held map[lockKey]*keyMutex
	free []*keyMutex
}

// lockKey is a contact URN or, for sessions without one, a session id.
type lockKey struct{ urn, session string }

type keyMutex struct {
	mu sync.Mutex
	// users counts the turns holding or waiting for mu; the shard's mutex
	// guards it. The last one out removes the entry.
	users int
}

func newKeyedMutex() *keyedMutex {
	k := &keyedMutex{seed: maphash.MakeSeed()}
	for i := range k.shards {
		k.shards[i].held = map[lockKey]*keyMutex{}
	}
	return k
}

// heldLock is a lock lock took; Unlock releases it.
type heldLock struct {
	sh  *lockShard
	key lockKey
	m   *keyMutex
}

// lock takes the lock of everything a contact does (of the session when
// there is no contact URN).
func (k *keyedMutex) lock(urn, sessionID string) heldLock {
	sh, key := k.shard(urn, sessionID)
	sh.mu.Lock()
	m := sh.held[key]
	if m == nil {
		m = sh.take(key)
	}
	m.users++
	sh.mu.Unlock()
	m.mu.Lock()
	return heldLock{sh: sh, key: key, m: m}
}

// tryLock is lock without waiting: it takes the lock only when no other
// turn holds or waits for it.
func (k *keyedMutex) tryLock(urn, sessionID string) (heldLock, bool) {
	sh, key := k.shard(urn, sessionID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.held[key] != nil {
		return heldLock{}, false
	}
	m := sh.take(key)
	m.users++
	m.mu.Lock() // free: no one else can reach it before the shard is unlocked
	return heldLock{sh: sh, key: key, m: m}, true
}

// held reports whether a turn holds or waits for the lock, as tryLock would
// find it, without taking it.
func (k *keyedMutex) held(urn, sessionID string) bool {
	sh, key := k.shard(urn, sessionID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.held[key] != nil
}

// shard is the key of a contact's lock (its URN, or the session's id when
// it has none) and the shard that holds it.
func (k *keyedMutex) shard(urn, sessionID string) (*lockShard, lockKey) {
	key, h := lockKey{urn: urn}, urn
	if urn == "" {
		key, h = lockKey{session: sessionID}, sessionID
	}
	return &k.shards[maphash.String(k.seed, h)%lockShards], key
}

// take gives key a mutex, a freed one when there is one; sh.mu is held.
func (sh *lockShard) take(key lockKey) *keyMutex {
	var m *keyMutex
	if n := len(sh.free); n > 0 {
		m, sh.free = sh.free[n-1], sh.free[:n-1]
	} else {
		m = new(keyMutex)
	}
	sh.held[key] = m
	return m
}

// Unlock releases the lock.
func (h heldLock) Unlock() {
	h.m.mu.Unlock()
	sh := h.sh
	sh.mu.Lock()
	h.m.users--
	if h.m.users == 0 {
		delete(sh.held, h.key)
		if len(sh.free) < maxFreeLocks {
			sh.free = append(sh.free, h.m)
		}
	}
	sh.mu.Unlock()
}
