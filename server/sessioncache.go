package server

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/parleyhq/parley/flows"
)

// sessionCache keeps the latest committed version of sessions that wait for
// a contact on a channel, keyed like the store's waiting index (channel and
// URN), so the next message of a conversation does not read and decode its
// session again.
//
// An entry is only a candidate: the store confirms it is still the stored
// version (same id and update time) in the same read that looks up the
// waiting session, so a session changed by any other path is decoded afresh.
// A turn takes its entry out while it runs and puts the session back only
// after the turn is committed, so no two turns share a session and a failed
// turn leaves nothing half-changed behind. Turns of one contact are already
// serialized by the service's per-contact lock.
type sessionCache struct {
	lru *lru.Cache[cacheKey, *flows.Session] // nil: caching is off
}

// newSessionCache keeps up to size sessions; size < 1 turns caching off.
func newSessionCache(size int) *sessionCache {
	if size < 1 {
		return &sessionCache{}
	}
	c, err := lru.New[cacheKey, *flows.Session](size)
	if err != nil {
		// Only a size below 1 fails, which was handled above.
		panic(err)
	}
	return &sessionCache{lru: c}
}

// cacheKey is a channel and a contact URN; a struct rather than one joined
// string, so a lookup allocates nothing.
type cacheKey struct{ channel, urn string }

// take removes and returns the cached session for a contact on a channel.
func (c *sessionCache) take(channel, urn string) *flows.Session {
	if c.lru == nil || channel == "" || urn == "" {
		return nil
	}
	k := cacheKey{channel, urn}
	s, ok := c.lru.Peek(k)
	if !ok {
		return nil
	}
	c.lru.Remove(k)
	return s
}

// committed records the session a turn just wrote: kept while it waits on a
// channel, forgotten once it does not. A call's session is neither: it is
// never the contact's waiting session on the channel (the store finds it by
// its id), so it must not take or drop that session's entry; nor is a test
// contact's (flows.Session.SandboxContact), which no message resumes.
func (c *sessionCache) committed(channel string, s *flows.Session) {
	if c.lru == nil || channel == "" || s.Contact.URN == "" || s.Call != nil || s.SandboxContact {
		return
	}
	k := cacheKey{channel, s.Contact.URN}
	if s.Status == flows.StatusWaiting {
		c.lru.Add(k, s)
		return
	}
	c.lru.Remove(k)
}

// len is the number of cached sessions.
func (c *sessionCache) len() int {
	if c.lru == nil {
		return 0
	}
	return c.lru.Len()
}
