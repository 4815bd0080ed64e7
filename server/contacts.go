package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// contactQuery is a contact as a request about it names it: the key it
// is stored under now, and which stored keys are its own.
type contactQuery struct {
	// urn is the contact's URN as every entry point makes it
	// (flows.NormalURN), the key it is stored and locked under; a test
	// contact's (sim:...) is its key, the sim: prefix and the normal URN.
	urn string
	// normal is the URN a channel makes of it (lookupKeyOf): urn, with
	// tel: for one without a scheme. What is stored under it is the
	// contact's own record, and a stored key is the contact's when it
	// makes the same (match).
	normal string
	// patterns spell the keys that may make normal (keyPatterns), for
	// the store to find them without reading every key.
	patterns []store.KeyPattern
}

// contactKeyOf is the key of a stored contact's URN made normal as the
// entry points make one: flows.NormalURN, and for a test contact's key
// (sim:...) the sim: prefix and the normal URN after it.
func contactKeyOf(urn string) string {
	urn = strings.TrimSpace(urn)
	if sandboxScheme(urn) {
		return flows.SandboxContactPrefix + flows.NormalURN(urn[len(flows.SandboxContactPrefix):])
	}
	return flows.NormalURN(urn)
}

// lookupKeyOf is a stored key, or a URN the contacts API is given, made
// normal as a channel names its sender: contactKeyOf, with tel: for a URN
// without a scheme (senderURN). So every key one number is stored under,
// the forms earlier versions kept (tel:+1 555-010-0100, TEL:+15550100100)
// and one kept without a scheme by POST /v1/sessions without a channel
// (+1 555 010 0100), makes the same; another scheme (whatsapp:), other
// digits or a national number make another.
func lookupKeyOf(key string) string {
	key = contactKeyOf(key)
	prefix, shape := "", key
	if sandboxScheme(key) {
		prefix, shape = flows.SandboxContactPrefix, key[len(flows.SandboxContactPrefix):]
	}
	if strings.Contains(shape, ":") {
		return key
	}
	return prefix + senderURN("", shape)
}

// newContactQuery reads a contact's URN as the contacts API is given it,
// refusing one that could name no contact; field names the parameter.
func newContactQuery(field, given string) (*contactQuery, error) {
	urn := contactKeyOf(given)
	if err := checkKey(field, "the contact's URN", urn); err != nil {
		return nil, err
	}
	if p := flows.URNProblem(urn); p != "" {
		return nil, apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: the contact's URN %.40q %s", field, urn, p)
	}
	shape := urn
	if sandboxScheme(urn) {
		shape = urn[len(flows.SandboxContactPrefix):]
	}
	if p := urnShapeProblem(shape); p != "" {
		return nil, apiErr(fiber.StatusBadRequest, CodeInvalidField, field, "%s: the contact's URN %.40q %s: give a URN with its address (tel:+15551234567)", field, urn, p)
	}
	normal := lookupKeyOf(urn)
	return &contactQuery{urn: urn, normal: normal, patterns: keyPatterns(normal)}, nil
}

// match reports whether a stored key is one of the contact's: whether it
// names the same URN once both are made normal, with tel: for one without
// a scheme.
func (q *contactQuery) match(key string) bool { return lookupKeyOf(key) == q.normal }

// storedContact is what is stored under one of a contact's keys.
type storedContact struct {
	key      string
	contact  *flows.Contact // nil when none is stored there
	sessions []*flows.Session
}

// ReadContact returns what is stored for a contact under each of its keys
// (contactQuery), the contact's own key first, then the URN as given when
// that is another: not found when nothing is.
func (s *Service) ReadContact(ctx context.Context, q *contactQuery) ([]storedContact, error) {
	keys, err := s.store.ContactKeys(ctx, q.patterns, q.match)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, notFound("contact %q not found", q.urn)
	}
	rank := func(k string) int {
		switch k {
		case q.normal:
			return 0
		case q.urn:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	out := make([]storedContact, 0, len(keys))
	for _, k := range keys {
		sc := storedContact{key: k}
		if sc.contact, err = s.store.Contact(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		page := store.Page{Limit: 1000}
		for {
			list, next, err := s.store.ListSessions(ctx, store.SessionFilter{Contact: k}, page)
			if err != nil {
				return nil, err
			}
			sc.sessions = append(sc.sessions, list...)
			if next == "" {
				break
			}
			page.After = next
		}
		out = append(out, sc)
	}
	return out, nil
}

// callLifetime is longer than a call can last: Twilio ends a call after
// 24 hours at most.
const callLifetime = 24 * time.Hour

// erasedCallUntil is until when the call of a session an erasure ends,
// which began at start, is remembered as ended (store.ErasedCall): a
// request of such a call (Twilio resending its first request, as it does
// on its fallback URL) finds no session and would start the call again as
// a new one, greeting a caller who was erased while still on the line. The
// store keeps it, so a restart does not forget it.
func erasedCallUntil(start, now time.Time) time.Time {
	if start.IsZero() || start.After(now) {
		start = now
	}
	return start.Add(callLifetime)
}

// callErased reports whether the call of session id was ended by its
// contact's erasure and could still be going on.
func (s *Service) callErased(ctx context.Context, id string) (bool, error) {
	return s.store.CallErased(ctx, id, s.now())
}

// eraseLockTries bounds how often EraseContact looks for the contact's
// keys again when keys appeared while it took their locks.
const eraseLockTries = 3

// EraseContact deletes everything stored for a contact, under each of its
// keys, in one store transaction (store.Bolt.EraseContact). It holds the
// locks of all those keys, as turns take them (lockContact), so a turn of
// the contact runs wholly before the erasure or after it, on a contact
// that is no longer stored. A session that has not ended is interrupted
// first, as POST /v1/sessions/{id}/interrupt ends one (its session.finished
// event included), in the same transaction. While the store's writes fail
// it is refused before it runs, as turns are (tryTurn).
func (s *Service) EraseContact(ctx context.Context, q *contactQuery) (store.ContactErasure, error) {
	keys, err := s.store.ContactKeys(ctx, q.patterns, q.match)
	if err != nil {
		return store.ContactErasure{}, err
	}
	var unlock func()
	for try := 1; ; try++ {
		locked := append([]string{q.urn}, keys...)
		older := make([]olderKey, 0, len(keys))
		for _, k := range keys {
			older = append(older, olderKey{key: k})
		}
		unlock = s.lockContact(q.urn, "", older)
		// Read again under the locks: a key none of them covers (stored
		// meanwhile by a turn holding only its own) is locked next time.
		again, err := s.store.ContactKeys(ctx, q.patterns, q.match)
		if err != nil {
			unlock()
			return store.ContactErasure{}, err
		}
		keys = again
		if !slices.ContainsFunc(again, func(k string) bool { return !slices.Contains(locked, k) }) {
			break
		}
		unlock()
		if try == eraseLockTries {
			return store.ContactErasure{}, apiErr(fiber.StatusConflict, CodeConflict, "urn",
				"contact %q: keys of it were stored while its erasure took their locks, %d times; retry", q.urn, try)
		}
	}
	defer unlock()
	if len(keys) == 0 {
		return store.ContactErasure{}, notFound("contact %q not found", q.urn)
	}
	if err := s.tryTurn(); err != nil {
		// As a turn is refused: the erasure was not tried.
		return store.ContactErasure{}, writesHeldFor(err, "the contact was not erased")
	}
	type ended struct {
		sess    *flows.Session
		events  []flows.Event
		channel string
	}
	var ends []ended
	var turns []*store.Turn
	var calls []store.ErasedCall
	for _, k := range keys {
		page := store.Page{Limit: 1000}
		for {
			list, next, err := s.store.ListSessions(ctx, store.SessionFilter{Contact: k, Status: flows.StatusWaiting}, page)
			if err != nil {
				return store.ContactErasure{}, err
			}
			for _, sess := range list {
				_, prev, events := s.interruptTurn(ctx, sess)
				turns = append(turns, &store.Turn{Session: sess, Events: events, PrevUpdated: prev,
					Outbox: outboxRecords(sess, events, "", s.wanted)})
				e := ended{sess: sess, events: events}
				if sess.Channel != nil {
					e.channel = sess.Channel.ID
				}
				ends = append(ends, e)
				if sess.Call != nil {
					calls = append(calls, store.ErasedCall{SessionID: sess.ID, Until: erasedCallUntil(sess.Call.Start, s.now())})
				}
			}
			if next == "" {
				break
			}
			page.After = next
		}
	}
	// The calls ended are recorded in the erasure's transaction, under the
	// locks: a request of such a call waiting for them finds it ended.
	res, err := s.store.EraseContact(ctx, keys, turns, calls)
	if err != nil {
		return res, fmt.Errorf("erase contact %q: %w", q.urn, err)
	}
	outbox := false
	for i, e := range ends {
		// The interrupted session leaves the cache, as any ended one.
		s.cache.committed(e.channel, e.sess)
		s.metrics.observeEvents(e.sess, e.events)
		outbox = outbox || len(turns[i].Outbox) > 0
		if s.sandboxEnded != nil && e.sess.Environment == flows.EnvSandbox {
			s.sandboxEnded(e.sess.ID)
		}
	}
	if outbox && s.notify != nil {
		s.notify()
	}
	return res, nil
}
