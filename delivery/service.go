package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/store"
)

// Service manages subscriptions and delivers events to them. One Service
// owns the delivery state of a database: do not run two on the same *bbolt.DB.
type Service struct {
	db   *bbolt.DB
	opts Options
	log  *slog.Logger

	// transport sends deliveries: guarded dialer, no proxy. Requests go to
	// it directly (see roundTrip): no redirects are followed.
	transport http.RoundTripper
	// guard is the transport's address guard (RefuseOwn).
	guard *callout.Guard
	// tokens obtains and caches OAuth 2.0 access tokens the way webhook
	// calls do (form or JSON token requests, through the same guard).
	tokens *callout.Service

	subMu sync.RWMutex
	subs  map[string]*Subscription // immutable snapshots, replaced on change

	kick       chan struct{} // wakes the schedule loop
	kickOutbox chan struct{} // wakes the outbox loop

	// schedMu guards inflight and orders removal from it after a result
	// commits, so a schedule scan never sees a stale due entry as free.
	schedMu  sync.Mutex
	inflight map[string]struct{}
	// held counts, per delivery, its attempts in a row whose results could
	// not be recorded (a full disk); the delivery stays in inflight for a
	// wait that doubles with it (holdDelay), so that it is not sent again
	// at once, attempt after attempt. The counts start over once any
	// result is recorded.
	held map[string]int
	// afterHold runs f once the wait of the deliveries ids is over
	// (time.AfterFunc).
	afterHold func(wait time.Duration, ids []string, f func())

	// sendMu orders a worker's last look before it sends a delivery
	// against disabling or deleting the delivery's endpoint: either the
	// worker sees the endpoint disabled, gone or being ended and does not
	// send, or the disable sees the delivery in sending and leaves it to its
	// result. Never held while taking schedMu or the database.
	sendMu sync.Mutex
	// sending holds the deliveries whose request was sent and whose result
	// is not committed yet, each with its attempts before the send: once
	// the stored delivery has more, its result is recorded, and it is
	// pending again, not in flight.
	sending map[string]int
	// ending counts, per endpoint, the transactions under way that end its
	// pending deliveries; ended is the value of endSeq when the last one
	// returned. A delivery taken from the schedule before that (its job's
	// seq) may have been ended meanwhile: it is not sent.
	ending map[string]int
	ended  map[string]uint64
	endSeq uint64
	// writerEnding lists the endpoints the writer's transaction under way
	// disabled; only the writer uses it.
	writerEnding []string

	// endMu runs one batch at a time of ending the pending deliveries of
	// disabled and deleted endpoints (endBatch); kickEnd wakes the loop
	// that ends them.
	endMu   sync.Mutex
	kickEnd chan struct{}

	qMu    sync.Mutex
	queues map[string]*endpointQueue
	sem    chan struct{}

	results chan *result
	workers sync.WaitGroup

	started atomic.Bool
	runCtx  context.Context
	done    chan struct{}

	m *metrics
	// failing holds the endpoints whose last attempt failed, as far as
	// this process has seen: their state changes are logged.
	failing failingSet
}

// New opens the delivery buckets in db (creating them, and the outbox, when
// missing) and loads the subscriptions. Call Start to begin delivering.
func New(db *bbolt.DB, opts Options) (*Service, error) {
	if db == nil {
		return nil, errors.New("delivery: nil database")
	}
	opts = opts.withDefaults()
	s := &Service{
		db:         db,
		opts:       opts,
		log:        opts.Logger,
		subs:       map[string]*Subscription{},
		kick:       make(chan struct{}, 1),
		kickOutbox: make(chan struct{}, 1),
		kickEnd:    make(chan struct{}, 1),
		inflight:   map[string]struct{}{},
		held:       map[string]int{},
		afterHold:  func(wait time.Duration, _ []string, f func()) { time.AfterFunc(wait, f) },
		sending:    map[string]int{},
		ending:     map[string]int{},
		ended:      map[string]uint64{},
		queues:     map[string]*endpointQueue{},
		sem:        make(chan struct{}, opts.Workers),
		results:    make(chan *result, 4*opts.BatchSize),
		done:       make(chan struct{}),
	}
	s.guard = callout.NewGuard(opts.AllowedCIDRs)
	s.transport = newTransport(opts, s.guard)
	s.tokens = callout.New(callout.Options{AllowCIDRs: opts.AllowedCIDRs, Logger: opts.Logger, Now: opts.Now, DefaultTimeout: opts.Timeout})
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		// The counters of the outbox and the due index, which the store
		// counted when it opened the file; a file opened without the store
		// is counted here.
		if _, _, err := store.EnsureDeliveryCounters(tx); err != nil {
			return err
		}
		return tx.Bucket(bSubs).ForEach(func(k, v []byte) error {
			var sub Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("subscription %s: %w", k, err)
			}
			// An earlier version stored auth.encoding as sent.
			sub.Auth = callout.NormalizeAuth(sub.Auth)
			sub.ep = newEndpoint(&sub)
			s.subs[sub.ID] = &sub
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	s.m = newMetrics(s)
	return s, nil
}

// newTransport builds the delivery transport. Its dialer runs callout's
// address guard, which judges the resolved address, so DNS cannot smuggle
// in a private one. Idle connections are kept per endpoint for as many
// requests as PerEndpoint lets run at once, and then some.
func newTransport(o Options, guard *callout.Guard) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guard.Control}
	return &http.Transport{
		Proxy:                  nil, // a proxy would dial for us and bypass the guard
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4 * o.Workers,
		MaxIdleConnsPerHost:    2 * o.PerEndpoint,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: int64(o.MaxResponseHeaderBytes),
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func newEventID() string { return "evt_" + uuid.NewString() }

// RefuseOwn makes deliveries, and the token requests of OAuth
// subscriptions, refuse the addresses the server listens on, whatever
// AllowedCIDRs allows (callout.Guard.RefuseOwn): a subscription must not post
// to the server's own /v1.
func (s *Service) RefuseOwn(listen ...netip.AddrPort) {
	s.guard.RefuseOwn(listen...)
	s.tokens.Guard().RefuseOwn(listen...)
}

// Notify wakes the dispatcher: call it after committing outbox records.
// The fan-out that follows wakes the schedule in turn.
func (s *Service) Notify() {
	select {
	case s.kickOutbox <- struct{}{}:
	default:
	}
}

// notifyAll wakes the fan-out and the schedule, after a change made here
// that may have scheduled deliveries.
func (s *Service) notifyAll() {
	s.Notify()
	s.wake()
}

// wake makes the schedule loop look at the due index again.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) sub(id string) *Subscription {
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	return s.subs[id]
}

// subList returns the subscriptions ordered by creation, for stable fan-out.
func (s *Service) subList() []*Subscription {
	s.subMu.RLock()
	out := make([]*Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub)
	}
	s.subMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// setSub caches sub, which must not change afterwards, as the current
// snapshot of its subscription.
func (s *Service) setSub(sub *Subscription) {
	if sub.ep == nil {
		sub.ep = newEndpoint(sub)
	}
	s.subMu.Lock()
	s.subs[sub.ID] = sub
	s.subMu.Unlock()
	if sub.Disabled {
		// Counted as disabled; enabled again, its first failure is logged.
		s.failing.forget(sub.ID)
	}
}

func (s *Service) dropSub(id string) {
	s.subMu.Lock()
	delete(s.subs, id)
	s.subMu.Unlock()
	s.failing.forget(id)
}

func (sub *Subscription) clone() *Subscription {
	c := *sub
	c.ep = nil // worked out again when the clone is cached
	c.Secrets = slices.Clone(sub.Secrets)
	for i, sec := range c.Secrets {
		if sec.ExpiresAt != nil {
			t := *sec.ExpiresAt
			c.Secrets[i].ExpiresAt = &t
		}
	}
	c.Events = slices.Clone(sub.Events)
	c.Flows = slices.Clone(sub.Flows)
	c.Headers = maps.Clone(sub.Headers)
	c.ExtraJSON = slices.Clone(sub.ExtraJSON)
	if sub.Auth != nil {
		a := *sub.Auth
		a.Scopes = slices.Clone(sub.Auth.Scopes)
		c.Auth = &a
	}
	if sub.DisabledAt != nil {
		t := *sub.DisabledAt
		c.DisabledAt = &t
	}
	return &c
}

func putSub(tx *bbolt.Tx, sub *Subscription) error {
	raw, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	return tx.Bucket(bSubs).Put([]byte(sub.ID), raw)
}

// reasonByUser is the DisabledReason of a subscription its owner disabled
// without giving one.
const reasonByUser = "disabled by user"

// Create validates and stores a subscription, generating its id (and a
// signing secret when it has none), and queues a webhook.ping to it. One
// created Disabled is disabled at its creation (its DisabledReason, else
// "disabled by user"), is sent no ping, and has the events meanwhile
// recorded as disabled deliveries, to recover once it is enabled.
func (s *Service) Create(ctx context.Context, in Subscription) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	sub := in.clone()
	sub.ID = uuid.NewString()
	sub.CreatedAt, sub.UpdatedAt = now, now
	if sub.Disabled {
		// Created disabled: disabled now, by its owner, as by an Update
		// that disables it; a disabled_at given is not the server's.
		sub.DisabledAt = nil
		if sub.DisabledReason == "" {
			sub.DisabledReason = reasonByUser
		}
	}
	if err := sub.normalize(now, nil, s.flowExists(ctx)); err != nil {
		return nil, err
	}
	// Cached before the commit so the dispatcher never meets a delivery
	// whose subscription it does not know yet.
	s.setSub(sub)
	err := s.update(func(tx *bbolt.Tx) error {
		if err := putSub(tx, sub); err != nil {
			return err
		}
		if sub.Disabled {
			// The health says when it was disabled and from when to
			// recover what it missed once enabled: the events recorded
			// for it as disabled deliveries from its creation on.
			st := &endpointState{}
			st.disabled(now, time.Time{})
			return putEndpointState(tx, sub.ID, st)
		}
		_, err := s.fanoutTx(tx, nil, pingEvent(sub, now), []*Subscription{sub}, now)
		return err
	})
	if err != nil {
		s.dropSub(sub.ID)
		return nil, fmt.Errorf("subscription %s: %w", sub.ID, err)
	}
	s.notifyAll()
	return sub.clone(), nil
}

// flowExists is Options.FlowExists for ctx, nil when none is set.
func (s *Service) flowExists(ctx context.Context) func(id string) (bool, error) {
	if s.opts.FlowExists == nil {
		return nil
	}
	return func(id string) (bool, error) { return s.opts.FlowExists(ctx, id) }
}

// Get returns one subscription.
func (s *Service) Get(ctx context.Context, id string) (*Subscription, error) {
	sub := s.sub(id)
	if sub == nil {
		return nil, fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	return sub.clone(), nil
}

// List returns the subscriptions, oldest first; env filters by environment
// when not empty.
func (s *Service) List(ctx context.Context, env string) ([]*Subscription, error) {
	var out []*Subscription
	for _, sub := range s.subList() {
		if env == "" || sub.Environment == env {
			out = append(out, sub.clone())
		}
	}
	return out, nil
}

// Update replaces a subscription's settings. Nil Secrets keeps the current
// secrets. Setting Disabled to false re-enables a disabled endpoint and
// clears its failure history. Setting it to true ends the pending
// deliveries as Delete does, disabled with "endpoint disabled: REASON".
func (s *Service) Update(ctx context.Context, id string, in Subscription) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	old := s.sub(id)
	if old == nil {
		return nil, fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	now := s.opts.Now().UTC()
	sub := in.clone()
	sub.ID, sub.CreatedAt, sub.UpdatedAt = id, old.CreatedAt, now
	if sub.Secrets == nil {
		sub.Secrets = slices.Clone(old.Secrets)
	}
	if sub.Disabled && old.Disabled {
		if sub.DisabledReason == "" {
			sub.DisabledReason = old.DisabledReason
		}
		sub.DisabledAt = old.DisabledAt
	}
	if sub.Disabled && !old.Disabled {
		sub.DisabledAt = nil
		if sub.DisabledReason == "" {
			sub.DisabledReason = reasonByUser
		}
	}
	if err := sub.normalize(now, old, s.flowExists(ctx)); err != nil {
		return nil, err
	}
	disabling := sub.Disabled && !old.Disabled
	if old.Disabled && !sub.Disabled {
		// What the disable ended stays ended: the deliveries it left
		// pending (the ending loop had not reached them) are ended first.
		s.finishEnding(id)
	}
	if disabling {
		s.beginEnding(id)
	}
	s.setSub(sub)
	var fx commitEffects
	err := s.update(func(tx *bbolt.Tx) error {
		fx = commitEffects{}
		if old.Disabled && !sub.Disabled {
			// The failing streak goes; the last success and failure, when
			// the endpoint was disabled and from when to recover what it
			// missed stay.
			st := s.state(tx, map[string]*endpointState{}, id)
			kept := endpointState{LastSuccess: st.LastSuccess, LastFailure: st.LastFailure,
				LastDisabledAt: st.LastDisabledAt, RecoverSince: st.RecoverSince}
			if err := putEndpointState(tx, id, &kept); err != nil {
				return err
			}
		}
		if disabling {
			// The pending deliveries are ended after the commit, in
			// batches (endPending), each lowering recover_since to its
			// oldest.
			st := s.state(tx, map[string]*endpointState{}, id)
			st.disabled(now, time.Time{})
			if err := putEndpointState(tx, id, st); err != nil {
				return err
			}
		}
		return putSub(tx, sub)
	})
	if err != nil {
		s.setSub(old)
	}
	if disabling {
		s.endEnding(id, false)
	}
	if err != nil {
		return nil, fmt.Errorf("subscription %s: %w", id, err)
	}
	s.m.record(&fx)
	if disabling {
		s.finishEnding(id)
	}
	s.notifyAll()
	return sub.clone(), nil
}

// Delete removes a subscription. Its deliveries stay in the log until
// retention prunes them; pending ones, those queued in memory included, are
// not sent from then on and become disabled ("subscription deleted") in
// batches before Delete returns. One whose request was already sent is
// recorded when its answer comes, succeeded or else disabled; it is not
// tried again.
func (s *Service) Delete(ctx context.Context, id string) error {
	old := s.sub(id)
	if old == nil {
		return fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	if old.Disabled {
		// What its disable left pending ends as that disable says.
		s.finishEnding(id)
	}
	s.beginEnding(id)
	s.dropSub(id)
	err := s.update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bSubs).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bEndpoints).Delete([]byte(id))
	})
	if err != nil {
		s.setSub(old)
	}
	s.endEnding(id, err == nil)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", id, err)
	}
	s.finishEnding(id)
	s.notifyAll()
	return nil
}

// RotateSecret adds a new signing secret and lets the current ones expire
// after grace, so receivers can switch without dropping a message: until
// then every delivery carries one signature per active secret.
func (s *Service) RotateSecret(ctx context.Context, id string, grace time.Duration) (*Subscription, error) {
	old := s.sub(id)
	if old == nil {
		return nil, fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	now := s.opts.Now().UTC()
	next := old.clone()
	expires := now.Add(grace)
	kept := next.Secrets[:0]
	for _, sec := range next.Secrets {
		if !sec.ActiveAt(now) {
			continue
		}
		if sec.ExpiresAt == nil || sec.ExpiresAt.After(expires) {
			sec.ExpiresAt = &expires
		}
		kept = append(kept, sec)
	}
	next.Secrets = append(kept, Secret{Secret: NewSecret(), CreatedAt: now})
	return s.Update(ctx, id, *next)
}

// Ping queues a webhook.ping event to one subscription and returns its id.
func (s *Service) Ping(ctx context.Context, id string) (string, error) {
	sub := s.sub(id)
	if sub == nil {
		return "", fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	if sub.Disabled {
		return "", &ValidationError{Field: "endpoint_id", Message: fmt.Sprintf("subscription %s is disabled; enable it first", id)}
	}
	now := s.opts.Now().UTC()
	ev := pingEvent(sub, now)
	err := s.update(func(tx *bbolt.Tx) error {
		_, err := s.fanoutTx(tx, nil, ev, []*Subscription{sub}, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("subscription %s: ping: %w", id, err)
	}
	s.notifyAll()
	return ev.ID, nil
}

func pingEvent(sub *Subscription, now time.Time) *Event {
	data, _ := json.Marshal(map[string]any{"subscription_id": sub.ID, "name": sub.Name, "url": redactURL(sub.URL, sub.secretValues())})
	return &Event{ID: newEventID(), Type: EventWebhookPing, Timestamp: now, Environment: sub.Environment, Data: data}
}

// Enqueue adds events to the outbox, as the store does, and wakes the
// dispatcher. It is for callers without a store transaction of their own.
func (s *Service) Enqueue(ctx context.Context, events ...Event) error {
	err := s.update(func(tx *bbolt.Tx) error { return EnqueueTx(tx, events...) })
	if err != nil {
		return err
	}
	s.Notify()
	return nil
}

// EnqueueTx writes events to the outbox within tx, keyed by the bucket's
// sequence, so they commit with whatever else tx changes.
func EnqueueTx(tx *bbolt.Tx, events ...Event) error {
	b, err := tx.CreateBucketIfNotExists(bOutbox)
	if err != nil {
		return err
	}
	// The outbox's records are counted (store.CounterOutbox): in a file
	// not counted yet, first those already there.
	if _, _, err := store.EnsureDeliveryCounters(tx); err != nil {
		return err
	}
	for i := range events {
		ev := &events[i]
		if ev.ID == "" {
			ev.ID = newEventID()
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		putUint64(k[:], seq)
		if err := b.Put(k[:], raw); err != nil {
			return err
		}
	}
	return store.AddCounter(tx, store.CounterOutbox, int64(len(events)))
}
