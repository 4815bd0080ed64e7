package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/parleyhq/parley/store"
	"go.etcd.io/bbolt"
)

// scanBudget bounds the due-index keys one schedule pass walks, so a huge
// backlog behind a slow endpoint cannot stall the loop.
const scanBudget = 65536

// Start runs the dispatcher in the background until ctx is cancelled: it
// moves outbox records to deliveries, sends due deliveries through a worker
// pool and records the results, fan-out and results in the same batched
// transactions, prunes old deliveries and ends, in batches, the pending
// deliveries of disabled and deleted endpoints. Wait blocks until it has stopped.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("delivery: already started")
	}
	s.runCtx = ctx
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writer(ctx)
	}()
	loops := make(chan struct{}, 3)
	go func() { s.pump(ctx); loops <- struct{}{} }()
	go func() { s.pruneLoop(ctx); loops <- struct{}{} }()
	go func() { s.endingLoop(ctx); loops <- struct{}{} }()
	go func() {
		<-loops
		<-loops
		<-loops
		// The pump no longer starts workers, so Wait cannot race an Add.
		s.workers.Wait()
		close(s.results)
		<-writerDone
		close(s.done)
	}()
	return nil
}

// Wait blocks until a started Service has shut down after its context ended:
// requests under way were abandoned (they stay scheduled and are sent again
// after a restart) and every recorded result is committed.
func (s *Service) Wait() { <-s.done }

// pump hands due deliveries to the endpoint queues whenever woken, and at
// the earliest due time or the poll interval otherwise.
func (s *Service) pump(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		next, more := s.schedule()
		if more {
			continue
		}
		wait := s.opts.PollInterval
		if !next.IsZero() {
			if d := next.Sub(s.opts.Now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-timer.C:
		}
	}
}

// fanoutOutbox turns up to BatchSize outbox records into deliveries within
// tx, deleting each record in the transaction that fans it out. n is the
// number of records taken, created the number of deliveries; fx gets the
// outcome of those created disabled.
func (s *Service) fanoutOutbox(tx *bbolt.Tx, a *arena, fx *commitEffects) (n, created int, err error) {
	ob := tx.Bucket(bOutbox)
	if ob == nil {
		return 0, 0, nil
	}
	now := s.opts.Now().UTC()
	subs := s.subList()
	var targets []*Subscription
	c := ob.Cursor()
	for k, v := c.First(); k != nil && n < s.opts.BatchSize; k, v = c.First() {
		n++
		var ev Event
		if err := jsonv1.Unmarshal(v, &ev); err != nil || ev.ID == "" || ev.Type == "" {
			if err == nil {
				err = errors.New("missing id or type")
			}
			s.log.Error("webhook outbox: record rejected", "key", fmt.Sprintf("%x", k), "err", err)
			if err := tx.Bucket(bRejected).Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
				return n, created, err
			}
		} else {
			targets = targets[:0]
			at := ev.Timestamp
			if at.IsZero() {
				at = now // as fanoutTx stamps it
			}
			for _, sub := range subs {
				// A subscription takes the events that happened from its
				// creation on: one created after the event was committed,
				// before this fan-out, does not get it.
				if sub.matches(&ev) && !at.Before(sub.CreatedAt) {
					targets = append(targets, sub)
				}
			}
			ds, err := s.fanoutTx(tx, a, &ev, targets, now)
			if err != nil {
				return n, created, fmt.Errorf("event %s: %w", ev.ID, err)
			}
			created += len(ds)
			fx.created(ds)
		}
		// The cursor stays on the deleted record's neighbour: First again.
		if err := c.Delete(); err != nil {
			return n, created, err
		}
	}
	// The store counts the outbox's records: those fanned out are gone.
	return n, created, store.AddCounter(tx, store.CounterOutbox, -int64(n))
}

// fanoutTx creates one delivery of ev per subscription in subs: pending, or
// for a disabled subscription, disabled and never scheduled (as Svix does,
// the message exists and the endpoint is not called); recovering once the
// subscription is enabled again sends it.
func (s *Service) fanoutTx(tx *bbolt.Tx, a *arena, ev *Event, subs []*Subscription, now time.Time) ([]*Delivery, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = now
	}
	env := Envelope{Type: ev.Type, ID: ev.ID, Timestamp: ts.UTC(), Environment: ev.Environment, Data: ev.Data}
	if len(env.Data) == 0 {
		env.Data = json.RawMessage("{}")
	}
	plain, err := jsonv1.Marshal(env)
	if err != nil {
		return nil, err
	}
	first, _ := s.opts.retryDelay(1)
	next := now.Add(first)
	out := make([]*Delivery, 0, len(subs))
	for _, sub := range subs {
		payload := plain
		if len(sub.ExtraJSON) > 0 {
			e := env
			e.Extra = sub.ExtraJSON
			if payload, err = jsonv1.Marshal(e); err != nil {
				return nil, fmt.Errorf("subscription %s: extra_json: %w", sub.ID, err)
			}
		}
		n := next
		d := &Delivery{
			ID: newID(), EventID: ev.ID, EventType: ev.Type, Environment: ev.Environment, Flow: ev.FlowID,
			EndpointID: sub.ID, MessageID: ev.ID, Status: StatusPending,
			EventTime: ts.UTC(), CreatedAt: now, NextAttempt: &n, Payload: payload,
		}
		if sub.Disabled {
			d.Status, d.NextAttempt, d.LastError = StatusDisabled, nil, "endpoint disabled: "+sub.DisabledReason
		}
		if err := writeNewDelivery(tx, a, d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func writeNewDelivery(tx *bbolt.Tx, a *arena, d *Delivery) error {
	id := a.str(d.ID)
	if err := putDelivery(tx, a, id, d); err != nil {
		return err
	}
	pb := tx.Bucket(bPayloads)
	pb.FillPercent = 0.9
	if err := pb.Put(id, d.Payload); err != nil {
		return err
	}
	if err := tx.Bucket(bByEndpoint).Put(a.endpointKey(d.EndpointID, d.CreatedAt, d.ID), statusValue(d.Status)); err != nil {
		return err
	}
	if err := tx.Bucket(bByTime).Put(a.timeIDKey(d.CreatedAt, d.ID), a.str(d.EndpointID)); err != nil {
		return err
	}
	if d.NextAttempt == nil {
		return nil
	}
	return putDue(tx, a, d)
}

// putDelivery writes d, payload left out; id is d.ID as bytes, or nil.
func putDelivery(tx *bbolt.Tx, a *arena, id []byte, d *Delivery) error {
	raw, err := a.delivery(d)
	if err != nil {
		return err
	}
	if id == nil {
		id = a.str(d.ID)
	}
	b := tx.Bucket(bDeliveries)
	b.FillPercent = 0.9 // ids are time-ordered UUIDs: mostly appends
	return b.Put(id, raw)
}

func getDelivery(tx *bbolt.Tx, id string) (*Delivery, error) {
	raw := tx.Bucket(bDeliveries).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var d Delivery
	if err := jsonv1.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, err)
	}
	return &d, nil
}

// whySubscriptionDeleted is the last_error of the deliveries a deleted
// subscription left pending.
const whySubscriptionDeleted = "subscription deleted"

type job struct {
	d       *Delivery
	payload []byte
	// seq is endSeq before the schedule read the delivery as due.
	seq uint64
}

type endpointQueue struct {
	id      string
	pending []*job
	active  int
}

// schedule takes due deliveries that are not already in flight and queues
// them on their endpoints. next is the earliest future due time; more says
// the pass stopped early and should run again at once.
func (s *Service) schedule() (next time.Time, more bool) {
	now := s.opts.Now()
	backlog := 128 * s.opts.PerEndpoint
	var jobs []*job
	// Taken before the read: a transaction that ends deliveries and has
	// not committed when the read starts may end some the read sees due.
	s.sendMu.Lock()
	seq := s.endSeq
	s.sendMu.Unlock()
	s.schedMu.Lock()
	err := s.db.View(func(tx *bbolt.Tx) error {
		queued := map[string]int{}
		s.qMu.Lock()
		for id, q := range s.queues {
			queued[id] = len(q.pending)
		}
		s.qMu.Unlock()
		payloads := tx.Bucket(bPayloads)
		c := tx.Bucket(bDue).Cursor()
		scanned := 0
		k, v := c.First()
		for k != nil {
			sep := bytes.IndexByte(k, 0)
			if sep < 0 || len(k) < sep+9 {
				k, v = c.Next() // not a due key; never written by this package
				continue
			}
			ep := string(k[:sep])
			if sub := s.sub(ep); sub == nil || sub.Disabled {
				// Disabled or deleted: its pending deliveries are being
				// ended (endPending), not sent.
				k, v = c.Seek(append([]byte(ep), 1))
				continue
			}
			prefix := bytes.Clone(k[:sep+1])
			room := backlog - queued[ep]
			for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				t := getTime(k[sep+1:])
				if t.After(now) {
					if next.IsZero() || t.Before(next) {
						next = t
					}
					break
				}
				if room <= 0 {
					break // woken again when this endpoint's results commit
				}
				if len(s.inflight) >= s.opts.MaxInFlight {
					return nil
				}
				if scanned++; scanned > scanBudget {
					more = true
					return nil
				}
				id := string(k[sep+9:])
				if _, ok := s.inflight[id]; ok {
					continue
				}
				room--
				s.inflight[id] = struct{}{}
				msg, _, _ := parseDueValue(v)
				d := &Delivery{ID: id, EndpointID: ep, MessageID: string(msg), NextAttempt: &t}
				jobs = append(jobs, &job{d: d, payload: bytes.Clone(payloads.Get(k[sep+9:])), seq: seq})
			}
			k, v = c.Seek(append([]byte(ep), 1))
		}
		return nil
	})
	s.schedMu.Unlock()
	if err != nil {
		s.log.Error("webhook schedule", "err", err)
	}
	for _, j := range jobs {
		s.enqueue(j)
	}
	return next, more
}

func (s *Service) enqueue(j *job) {
	s.qMu.Lock()
	defer s.qMu.Unlock()
	q := s.queues[j.d.EndpointID]
	if q == nil {
		q = &endpointQueue{id: j.d.EndpointID}
		s.queues[q.id] = q
	}
	q.pending = append(q.pending, j)
	if q.active < s.opts.PerEndpoint {
		q.active++
		s.workers.Add(1)
		go s.work(q)
	}
}

// work sends one endpoint's queued deliveries; at most PerEndpoint run per
// endpoint, so a slow receiver holds only its own workers.
func (s *Service) work(q *endpointQueue) {
	defer s.workers.Done()
	for {
		s.qMu.Lock()
		if len(q.pending) == 0 || s.runCtx.Err() != nil {
			q.active--
			if q.active == 0 && s.queues[q.id] == q {
				delete(s.queues, q.id)
			}
			s.qMu.Unlock()
			return
		}
		j := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		s.qMu.Unlock()
		s.results <- s.attempt(j)
	}
}

type result struct {
	d    *Delivery
	skip string // a status to set without sending
	why  string
	ex   *exchange
	// canceled results come from shutdown, ended ones from a delivery not
	// sent because a transaction ended its endpoint's pending deliveries
	// since it was scheduled (that transaction recorded it; had it failed,
	// the delivery is still due and is scheduled again): nothing is
	// recorded.
	canceled, ended bool
}

// attempt sends one delivery, to its subscription as it is now. It looks
// at the subscription last, right before sending and holding sendMu, so
// that nothing is sent once its endpoint is disabled or deleted.
func (s *Service) attempt(j *job) *result {
	r := &result{d: j.d}
	if j.payload == nil {
		r.skip = "orphan"
		return r
	}
	ctx := s.runCtx
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		r.canceled = true
		return r
	}
	id, ep := j.d.ID, j.d.EndpointID
	s.sendMu.Lock()
	sub := s.sub(ep)
	switch {
	case s.ending[ep] > 0 || s.ended[ep] > j.seq:
		r.ended = true
	case sub == nil:
		r.skip, r.why = StatusDisabled, whySubscriptionDeleted
	case sub.Disabled:
		r.skip, r.why = StatusDisabled, "endpoint disabled: "+sub.DisabledReason
	default:
		s.sending[id] = j.d.Attempts
	}
	s.sendMu.Unlock()
	if r.ended || r.skip != "" {
		<-s.sem
		return r
	}
	r.ex = s.send(ctx, sub, j.d.MessageID, j.payload)
	<-s.sem
	if ctx.Err() != nil && r.ex.status == 0 {
		r.canceled = true
	}
	return r
}

// writer records results and fans out the outbox, both in one transaction
// per round: the results that have arrived and the outbox records waiting,
// up to BatchSize of each. After a round that filled neither batch it waits
// WriteInterval, so that results arriving one by one and commits notifying
// one by one share a transaction. The database has one writer: fewer, larger
// transactions leave it to the turns' commits more of the time. Once ctx
// ends it only records results, until the results channel is closed.
func (s *Service) writer(ctx context.Context) {
	var a arena
	batch := make([]*result, 0, s.opts.BatchSize)
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	outbox := true // records may have waited for a start
	full, closed := false, false
	for !closed {
		if !full {
			kick, poll := s.kickOutbox, tick.C
			if ctx.Err() != nil {
				kick, poll = nil, nil
			}
			if len(batch) == 0 && !outbox {
				select {
				case r, ok := <-s.results:
					if !ok {
						return
					}
					batch = append(batch, r)
				case <-kick:
					outbox = true
				case <-poll:
					outbox = true
				}
			}
			time.Sleep(s.opts.WriteInterval)
		}
	fill:
		for len(batch) < s.opts.BatchSize {
			select {
			case r, ok := <-s.results:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		select {
		case <-s.kickOutbox:
			outbox = true
		default:
		}
		if ctx.Err() != nil {
			outbox = false
		}
		// An empty write transaction still syncs to disk: look first.
		if outbox && len(batch) == 0 && s.empty(bOutbox) {
			outbox = false
		}
		if len(batch) == 0 && !outbox {
			full = false
			continue
		}
		moreOutbox := s.round(&a, batch, outbox)
		full = len(batch) == s.opts.BatchSize || moreOutbox
		outbox = moreOutbox
		clear(batch)
		batch = batch[:0]
	}
}

type commitEffects struct {
	disabled []*Subscription
	// health lists the attempts' results by endpoint, in order, for the
	// log lines of endpoints that begin to fail or deliver again.
	health   []healthChange
	outcomes []string
	lags     []time.Duration
	attempts []string
}

// disabledPending counts n pending deliveries that became disabled: their
// outcome is final unless they are recovered.
func (fx *commitEffects) disabledPending(n int) {
	for range n {
		fx.outcomes = append(fx.outcomes, StatusDisabled)
	}
}

// created counts the deliveries of ds created disabled: their outcome is
// final unless they are recovered.
func (fx *commitEffects) created(ds []*Delivery) {
	for _, d := range ds {
		if d.Status == StatusDisabled {
			fx.outcomes = append(fx.outcomes, StatusDisabled)
		}
	}
}

// round runs one transaction recording batch and, when outbox is set,
// fanning out the outbox; more says the outbox had more records than one
// transaction takes. Should it fail, the two parts are tried apart, so that
// neither holds back the other.
func (s *Service) round(a *arena, batch []*result, outbox bool) (more bool) {
	var fx commitEffects
	var taken, created int
	recorded := true
	err := s.update(func(tx *bbolt.Tx) error {
		fx, taken, created = commitEffects{}, 0, 0
		if err := s.recordTx(tx, a, batch, &fx); err != nil {
			return fmt.Errorf("recording %d results: %w", len(batch), err)
		}
		if outbox {
			var err error
			if taken, created, err = s.fanoutOutbox(tx, a, &fx); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
		}
		return nil
	})
	a.reset()
	if err != nil && len(batch) > 0 && outbox {
		s.logError("webhook writer: retrying results and outbox apart", err)
		err = s.update(func(tx *bbolt.Tx) error {
			fx = commitEffects{}
			return s.recordTx(tx, a, batch, &fx)
		})
		a.reset()
		if err != nil {
			s.logError("webhook results not recorded", err, "count", len(batch))
			fx = commitEffects{}
		}
		recorded = err == nil
		// An empty write transaction would still commit (and count as a
		// write that succeeded): look first.
		if !s.empty(bOutbox) {
			var ofx commitEffects
			err = s.update(func(tx *bbolt.Tx) (err error) {
				ofx = commitEffects{}
				taken, created, err = s.fanoutOutbox(tx, a, &ofx)
				return err
			})
			a.reset()
			if err != nil {
				s.logError("webhook outbox", err)
				taken, created = 0, 0
			} else {
				fx.outcomes = append(fx.outcomes, ofx.outcomes...)
			}
		}
	} else if err != nil {
		// Nothing was recorded: the deliveries are still due and go again,
		// after a wait.
		s.logError("webhook writer: nothing recorded", err, "results", len(batch))
		fx, taken, created = commitEffects{}, 0, 0
		recorded = false
	}
	s.afterRecord(batch, &fx, recorded)
	// Once the endpoints this round disabled are cached so.
	s.endWriterEnding()
	if len(fx.disabled) > 0 {
		s.kickEnding()
	}
	if (len(batch) > 0 && recorded) || created > 0 {
		// Freed room on an endpoint, new deliveries or new retry times.
		s.wake()
	}
	return taken == s.opts.BatchSize
}

// logError logs a write that failed at the error level, or at the debug
// level when its commit failed writing the store file (a full disk), which
// the store logs once for all (store.WriteFailedError), so that the
// writer's retries while the store's writes fail do not log an error each.
func (s *Service) logError(msg string, err error, args ...any) {
	level := slog.LevelError
	if errors.As(err, new(*store.WriteFailedError)) {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, msg, append(args, "err", err)...)
}

// update runs one of the service's write transactions (Options.Update).
func (s *Service) update(fn func(*bbolt.Tx) error) error {
	if s.opts.Update != nil {
		return s.opts.Update(fn)
	}
	return s.db.Update(fn)
}

// recordTx records the results of batch within tx.
func (s *Service) recordTx(tx *bbolt.Tx, a *arena, batch []*result, fx *commitEffects) error {
	if len(batch) == 0 {
		return nil
	}
	now := s.opts.Now().UTC()
	states := map[string]*endpointState{}
	disabledNow := map[string]*Subscription{}
	for _, r := range batch {
		if r.canceled || r.ended {
			continue
		}
		if err := s.apply(tx, a, r, now, states, disabledNow, fx); err != nil {
			return err
		}
	}
	eb := tx.Bucket(bEndpoints)
	for id, st := range states {
		if s.sub(id) == nil {
			continue
		}
		raw, err := a.endpointState(st)
		if err != nil {
			return err
		}
		if err := eb.Put(a.str(id), raw); err != nil {
			return err
		}
	}
	for _, sub := range disabledNow {
		fx.disabled = append(fx.disabled, sub)
	}
	return nil
}

// afterRecord applies what a committed batch changed outside the database
// and lets its deliveries be scheduled again.
func (s *Service) afterRecord(batch []*result, fx *commitEffects, recorded bool) {
	s.healthChanged(fx.health)
	for _, sub := range fx.disabled {
		s.setSub(sub)
		// The URL by scheme, host and port, as the failing line: its path
		// and query may be its secret.
		s.log.Warn("webhook endpoint disabled", "subscription", sub.ID, "url", urlHost(sub.URL), "reason", withoutURLPaths(sub.DisabledReason))
	}
	s.m.record(fx)
	if len(batch) == 0 {
		return
	}
	// Recorded or not, their requests are over.
	s.sendMu.Lock()
	for _, r := range batch {
		delete(s.sending, r.d.ID)
	}
	s.sendMu.Unlock()
	if recorded {
		for _, r := range batch {
			// Recorded as a retry, in flight when its endpoint was
			// disabled or deleted: the ending loop ends it now.
			if sub := s.sub(r.d.EndpointID); sub == nil || sub.Disabled {
				s.kickEnding()
				break
			}
		}
	}
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if recorded {
		for _, r := range batch {
			delete(s.inflight, r.d.ID)
		}
		// The store writes again: every count starts over, so an entry
		// of a delivery deleted while it waited does not stay behind.
		clear(s.held)
		return
	}
	// Their results are lost and they are still due: they stay in
	// inflight, so that the schedule does not send them again, until the
	// wait is over. Each delivery waits by its own attempts in a row whose
	// results were lost, whatever the other deliveries' were.
	waits := map[time.Duration][]string{}
	for _, r := range batch {
		n := s.held[r.d.ID] + 1
		s.held[r.d.ID] = n
		waits[holdDelay(n)] = append(waits[holdDelay(n)], r.d.ID)
	}
	for wait, ids := range waits {
		s.afterHold(wait, ids, func() {
			s.schedMu.Lock()
			for _, id := range ids {
				delete(s.inflight, id)
			}
			s.schedMu.Unlock()
			s.wake()
		})
	}
}

// holdDelay is how long a delivery whose result could not be recorded
// waits before it is sent again, after n such attempts of it in a row: a
// second, doubling up to a minute.
func holdDelay(n int) time.Duration {
	return min(time.Second<<min(n-1, 6), time.Minute)
}

func (s *Service) state(tx *bbolt.Tx, states map[string]*endpointState, id string) *endpointState {
	if st, ok := states[id]; ok {
		return st
	}
	st := &endpointState{}
	if raw := tx.Bucket(bEndpoints).Get([]byte(id)); raw != nil {
		_ = json.Unmarshal(raw, st)
	}
	states[id] = st
	return st
}

// apply records one result: the attempt, the delivery's new status and next
// attempt, the endpoint's health, and disabling when the rules say so.
func (s *Service) apply(tx *bbolt.Tx, a *arena, r *result, now time.Time, states map[string]*endpointState, disabledNow map[string]*Subscription, fx *commitEffects) error {
	d, err := getDelivery(tx, r.d.ID)
	if err != nil {
		return err
	}
	if d == nil {
		// Pruned or never written: drop the due entry that pointed at it.
		return deleteDue(tx, a, r.d)
	}
	oldStatus := d.Status
	if r.skip == StatusDisabled && oldStatus != StatusPending {
		// Ended by the disable or delete that made the worker skip it,
		// and counted then.
		return nil
	}
	if err := deleteDue(tx, a, d); err != nil {
		return err
	}
	d.NextAttempt = nil

	if r.skip != "" {
		d.Status, d.LastError, d.Manual = r.skip, r.why, false
		if r.skip == "orphan" {
			d.Status = StatusFailed
		}
		if d.Status == StatusDisabled {
			// Taken for sending before the endpoint was disabled, the
			// disable not committed yet: it is one the disable ended, and
			// no longer pending for it to find.
			s.state(tx, states, d.EndpointID).missed(d.CreatedAt)
		}
		fx.outcomes = append(fx.outcomes, d.Status)
		return saveDelivery(tx, a, d, oldStatus)
	}

	ex := r.ex
	d.Attempts++
	att := ex.attempt
	att.DeliveryID, att.Number = d.ID, d.Attempts
	raw, err := a.attempt(&att)
	if err != nil {
		return err
	}
	ab := tx.Bucket(bAttempts)
	ab.FillPercent = 0.9
	if err := ab.Put(a.attemptKey(d.ID, d.Attempts), raw); err != nil {
		return err
	}
	fx.attempts = append(fx.attempts, att.Outcome)
	t := att.Time
	d.LastAttempt, d.LastStatus, d.LastError = &t, ex.status, att.Error
	st := s.state(tx, states, d.EndpointID)

	fx.health = append(fx.health, healthChange{id: d.EndpointID, ok: ex.success(), status: ex.status, err: att.Error})
	if ex.success() {
		d.Status, d.Manual = StatusSucceeded, false
		st.LastSuccess, st.ConsecutiveFailures, st.FailingSince, st.StreakFrom = att.Time, 0, time.Time{}, time.Time{}
		fx.outcomes = append(fx.outcomes, StatusSucceeded)
		fx.lags = append(fx.lags, now.Sub(d.EventTime))
		return saveDelivery(tx, a, d, oldStatus)
	}

	st.failed(att.Time, d.CreatedAt)
	if why := s.endedWhy(d.EndpointID, disabledNow); why != "" {
		// Sent before its endpoint was disabled or its subscription
		// deleted, which left it to this answer: it ends disabled, one
		// the disable ended, and is not tried again.
		d.Status, d.LastError, d.Manual = StatusDisabled, why, false
		st.missed(d.CreatedAt)
		fx.outcomes = append(fx.outcomes, StatusDisabled)
		return saveDelivery(tx, a, d, oldStatus)
	}
	reason := ""
	if ex.status == http.StatusGone {
		reason = "endpoint answered 410 Gone"
	} else if now.Sub(st.FailingSince) >= s.opts.DisableAfter {
		reason = fmt.Sprintf("no successful delivery since %s (%s)", st.FailingSince.Format(time.RFC3339), s.opts.DisableAfter)
	}
	if reason != "" {
		if err := s.disableTx(tx, a, d.EndpointID, reason, now, ex.status, st, disabledNow, fx); err != nil {
			return err
		}
	}

	retry := time.Duration(-1)
	if reason == "" && !d.Manual {
		if delay, ok := s.opts.retryDelay(d.Attempts + 1); ok {
			if ex.retryAfter > delay {
				delay = min(ex.retryAfter, s.opts.MaxRetryAfter)
			}
			retry = delay
		}
	}
	if retry < 0 {
		if sub := disabledNow[d.EndpointID]; sub != nil || s.sub(d.EndpointID) == nil || s.sub(d.EndpointID).Disabled {
			// Ended while its endpoint is disabled: one the disable ended
			// (this delivery's 410 or last failure disabled it, or it was
			// in flight then).
			st.missed(d.CreatedAt)
		}
		d.Status, d.Manual = StatusFailed, false
		fx.outcomes = append(fx.outcomes, StatusFailed)
		return saveDelivery(tx, a, d, oldStatus)
	}
	next := now.Add(retry)
	d.NextAttempt = &next
	d.Status = StatusPending
	if err := putDue(tx, a, d); err != nil {
		return err
	}
	return saveDelivery(tx, a, d, oldStatus)
}

// endedWhy is the last_error of a delivery whose endpoint is disabled or
// deleted (disabledNow holds those this batch disabled), else "".
func (s *Service) endedWhy(endpointID string, disabledNow map[string]*Subscription) string {
	sub := disabledNow[endpointID]
	if sub == nil {
		sub = s.sub(endpointID)
	}
	switch {
	case sub == nil:
		return whySubscriptionDeleted
	case sub.Disabled:
		return "endpoint disabled: " + sub.DisabledReason
	}
	return ""
}

// saveDelivery writes d and, when its status changed, its by-endpoint entry.
func saveDelivery(tx *bbolt.Tx, a *arena, d *Delivery, oldStatus string) error {
	if err := putDelivery(tx, a, nil, d); err != nil {
		return err
	}
	if d.Status == oldStatus {
		return nil
	}
	return tx.Bucket(bByEndpoint).Put(a.endpointKey(d.EndpointID, d.CreatedAt, d.ID), statusValue(d.Status))
}

// disableTx disables an endpoint and tells the other subscriptions with an
// endpoint.disabled event, in the transaction that recorded the failure.
// st is the endpoint's state, which notes the disable; the endpoint's
// pending deliveries are ended after the commit (endPending).
func (s *Service) disableTx(tx *bbolt.Tx, a *arena, id, reason string, now time.Time, status int, st *endpointState, disabledNow map[string]*Subscription, fx *commitEffects) error {
	cur := s.sub(id)
	if cur == nil || cur.Disabled || disabledNow[id] != nil {
		return nil
	}
	sub := cur.clone()
	sub.Disabled, sub.DisabledReason, sub.DisabledAt, sub.UpdatedAt = true, reason, &now, now
	if err := putSub(tx, sub); err != nil {
		return err
	}
	disabledNow[id] = sub
	// Ended in memory at once: the writer's round ends it after the
	// commit, when the subscription is cached disabled.
	s.beginEnding(id)
	s.writerEnding = append(s.writerEnding, id)
	// Its pending deliveries are ended after the commit, in batches
	// (endPending), each lowering recover_since to its oldest.
	st.disabled(now, time.Time{})
	data, _ := json.Marshal(map[string]any{
		"endpoint_id": sub.ID, "name": sub.Name, "url": redactURL(sub.URL, sub.secretValues()),
		"reason": reason, "last_status": status, "disabled_at": now,
	})
	ev := &Event{ID: newEventID(), Type: EventEndpointDisabled, Timestamp: now, Environment: sub.Environment, Data: data}
	var targets []*Subscription
	for _, o := range s.subList() {
		if d := disabledNow[o.ID]; d != nil {
			o = d // disabled by this batch: not cached as such yet
		}
		if o.ID != id && o.matches(ev) {
			targets = append(targets, o)
		}
	}
	ds, err := s.fanoutTx(tx, a, ev, targets, now)
	fx.created(ds)
	return err
}

// beginEnding notes a transaction under way that ends the endpoint's
// pending deliveries: until endEnding, none of them is sent.
func (s *Service) beginEnding(endpointID string) {
	s.sendMu.Lock()
	s.ending[endpointID]++
	s.sendMu.Unlock()
}

// endEnding notes that the transaction begun with beginEnding returned,
// committed or not: deliveries scheduled before are not sent (had it
// failed, they are still due and are scheduled again). gone says the
// subscription was deleted, and need not be remembered.
func (s *Service) endEnding(endpointID string, gone bool) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.endSeq++
	if s.ending[endpointID]--; s.ending[endpointID] <= 0 {
		delete(s.ending, endpointID)
		if gone {
			delete(s.ended, endpointID)
			return
		}
	}
	s.ended[endpointID] = s.endSeq
}

// endWriterEnding ends the endings begun by the writer's last transaction.
func (s *Service) endWriterEnding() {
	for _, id := range s.writerEnding {
		s.endEnding(id, false)
	}
	clear(s.writerEnding)
	s.writerEnding = s.writerEnding[:0]
}
