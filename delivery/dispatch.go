package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"
)

// scanBudget bounds the due-index keys one schedule pass walks, so a huge
// backlog behind a slow endpoint cannot stall the loop.
const scanBudget = 65536

// Start runs the dispatcher in the background until ctx is cancelled: it
// moves outbox records to deliveries, sends due deliveries through a worker
// pool and records the results in batched transactions, and prunes old
// deliveries. Wait blocks until it has stopped.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("delivery: already started")
	}
	s.runCtx = ctx
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writer()
	}()
	loops := make(chan struct{}, 3)
	go func() { s.fanout(ctx); loops <- struct{}{} }()
	go func() { s.pump(ctx); loops <- struct{}{} }()
	go func() { s.pruneLoop(ctx); loops <- struct{}{} }()
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

// fanout moves outbox records to deliveries whenever woken, at most once
// per WriteInterval so that the records of many commits share a transaction.
func (s *Service) fanout(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	pause := time.NewTimer(time.Hour)
	defer pause.Stop()
	for ctx.Err() == nil {
		if err := s.drainOutbox(ctx); err != nil {
			s.log.Error("webhook outbox", "err", err)
		}
		pause.Reset(s.opts.WriteInterval)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kickOutbox:
		case <-t.C:
		}
	}
}

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

// drainOutbox turns outbox records into deliveries, BatchSize records per
// transaction, deleting each record in the transaction that fans it out.
func (s *Service) drainOutbox(ctx context.Context) error {
	for ctx.Err() == nil {
		// An empty write transaction still syncs to disk: look first.
		if s.empty(bOutbox) {
			return nil
		}
		n := 0
		created := 0
		err := s.db.Update(func(tx *bbolt.Tx) error {
			n, created = 0, 0
			ob := tx.Bucket(bOutbox)
			if ob == nil {
				return nil
			}
			now := s.opts.Now().UTC()
			subs := s.subList()
			var done [][]byte
			c := ob.Cursor()
			for k, v := c.First(); k != nil && n < s.opts.BatchSize; k, v = c.Next() {
				n++
				done = append(done, bytes.Clone(k))
				var ev Event
				if err := jsonv1.Unmarshal(v, &ev); err != nil || ev.ID == "" || ev.Type == "" {
					if err == nil {
						err = errors.New("missing id or type")
					}
					s.log.Error("webhook outbox: record rejected", "key", fmt.Sprintf("%x", k), "err", err)
					if err := tx.Bucket(bRejected).Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
						return err
					}
					continue
				}
				var targets []*Subscription
				for _, sub := range subs {
					if sub.matches(&ev) {
						targets = append(targets, sub)
					}
				}
				ds, err := s.fanoutTx(tx, &ev, targets, now)
				if err != nil {
					return fmt.Errorf("event %s: %w", ev.ID, err)
				}
				created += len(ds)
			}
			for _, k := range done {
				if err := ob.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if created > 0 {
			s.wake()
		}
		if n < s.opts.BatchSize {
			return nil
		}
	}
	return nil
}

// fanoutTx creates one pending delivery of ev per subscription in subs.
func (s *Service) fanoutTx(tx *bbolt.Tx, ev *Event, subs []*Subscription, now time.Time) ([]*Delivery, error) {
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
		if err := writeNewDelivery(tx, d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func writeNewDelivery(tx *bbolt.Tx, d *Delivery) error {
	if err := putDelivery(tx, d); err != nil {
		return err
	}
	pb := tx.Bucket(bPayloads)
	pb.FillPercent = 0.9
	if err := pb.Put([]byte(d.ID), d.Payload); err != nil {
		return err
	}
	if err := tx.Bucket(bByEndpoint).Put(endpointKey(d.EndpointID, d.CreatedAt, d.ID), []byte(d.Status)); err != nil {
		return err
	}
	if err := tx.Bucket(bByTime).Put(timeIDKey(d.CreatedAt, d.ID), []byte(d.EndpointID)); err != nil {
		return err
	}
	return putDue(tx, d)
}

func putDelivery(tx *bbolt.Tx, d *Delivery) error {
	c := *d
	c.Payload = nil
	raw, err := jsonv1.Marshal(&c)
	if err != nil {
		return err
	}
	b := tx.Bucket(bDeliveries)
	b.FillPercent = 0.9 // ids are time-ordered UUIDs: mostly appends
	return b.Put([]byte(d.ID), raw)
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

type job struct {
	d       *Delivery
	payload []byte
	sub     *Subscription
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
				d := &Delivery{ID: id, EndpointID: ep, MessageID: string(v), NextAttempt: &t}
				jobs = append(jobs, &job{d: d, payload: bytes.Clone(payloads.Get(k[sep+9:]))})
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
		j.sub = s.sub(j.d.EndpointID)
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
	// canceled results come from shutdown: nothing is recorded.
	canceled bool
}

func (s *Service) attempt(j *job) *result {
	r := &result{d: j.d}
	switch {
	case j.payload == nil:
		r.skip = "orphan"
		return r
	case j.sub == nil:
		r.skip, r.why = StatusDisabled, "subscription deleted"
		return r
	case j.sub.Disabled:
		r.skip, r.why = StatusDisabled, "endpoint disabled: "+j.sub.DisabledReason
		return r
	}
	ctx := s.runCtx
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		r.canceled = true
		return r
	}
	r.ex = s.send(ctx, j.sub, j.d.MessageID, j.payload)
	<-s.sem
	if ctx.Err() != nil && r.ex.status == 0 {
		r.canceled = true
	}
	return r
}

// writer records results, as many per transaction as have arrived. After a
// batch that was not full it waits WriteInterval, so that results arriving
// one by one share a transaction.
func (s *Service) writer() {
	batch := make([]*result, 0, s.opts.BatchSize)
	full := false
	for r := range s.results {
		if !full {
			time.Sleep(s.opts.WriteInterval)
		}
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.opts.BatchSize {
			select {
			case r, ok := <-s.results:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		full = len(batch) == s.opts.BatchSize
		s.commit(batch)
	}
}

type commitEffects struct {
	disabled []*Subscription
	outcomes []string
	lags     []time.Duration
	attempts []string
	kick     bool
}

func (s *Service) commit(batch []*result) {
	var fx commitEffects
	err := s.db.Update(func(tx *bbolt.Tx) error {
		fx = commitEffects{}
		now := s.opts.Now().UTC()
		states := map[string]*endpointState{}
		disabledNow := map[string]*Subscription{}
		for _, r := range batch {
			if r.canceled {
				continue
			}
			if err := s.apply(tx, r, now, states, disabledNow, &fx); err != nil {
				return err
			}
		}
		eb := tx.Bucket(bEndpoints)
		for id, st := range states {
			if s.sub(id) == nil {
				continue
			}
			raw, _ := json.Marshal(st)
			if err := eb.Put([]byte(id), raw); err != nil {
				return err
			}
		}
		for _, sub := range disabledNow {
			fx.disabled = append(fx.disabled, sub)
		}
		return nil
	})
	if err != nil {
		// Nothing was recorded: the deliveries are still due and go again.
		s.log.Error("webhook results not recorded", "count", len(batch), "err", err)
		fx = commitEffects{}
	}
	for _, sub := range fx.disabled {
		s.setSub(sub)
		s.log.Warn("webhook endpoint disabled", "subscription", sub.ID, "url", sub.URL, "reason", sub.DisabledReason)
	}
	s.m.record(&fx)
	s.schedMu.Lock()
	for _, r := range batch {
		delete(s.inflight, r.d.ID)
	}
	s.schedMu.Unlock()
	s.wake()
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
func (s *Service) apply(tx *bbolt.Tx, r *result, now time.Time, states map[string]*endpointState, disabledNow map[string]*Subscription, fx *commitEffects) error {
	d, err := getDelivery(tx, r.d.ID)
	if err != nil {
		return err
	}
	if d == nil {
		// Pruned or never written: drop the due entry that pointed at it.
		return deleteDue(tx, r.d)
	}
	oldStatus := d.Status
	if err := deleteDue(tx, d); err != nil {
		return err
	}
	d.NextAttempt = nil

	if r.skip != "" {
		d.Status, d.LastError, d.Manual = r.skip, r.why, false
		if r.skip == "orphan" {
			d.Status = StatusFailed
		}
		fx.outcomes = append(fx.outcomes, d.Status)
		return s.saveDelivery(tx, d, oldStatus)
	}

	ex := r.ex
	d.Attempts++
	att := ex.attempt
	att.DeliveryID, att.Number = d.ID, d.Attempts
	raw, err := json.Marshal(att)
	if err != nil {
		return err
	}
	ab := tx.Bucket(bAttempts)
	ab.FillPercent = 0.9
	if err := ab.Put(attemptKey(d.ID, d.Attempts), raw); err != nil {
		return err
	}
	fx.attempts = append(fx.attempts, att.Outcome)
	t := att.Time
	d.LastAttempt, d.LastStatus, d.LastError = &t, ex.status, att.Error
	st := s.state(tx, states, d.EndpointID)

	if ex.success() {
		d.Status, d.Manual = StatusSucceeded, false
		st.LastSuccess, st.ConsecutiveFailures, st.FailingSince = att.Time, 0, time.Time{}
		fx.outcomes = append(fx.outcomes, StatusSucceeded)
		fx.lags = append(fx.lags, now.Sub(d.EventTime))
		return s.saveDelivery(tx, d, oldStatus)
	}

	st.LastFailure = att.Time
	st.ConsecutiveFailures++
	if st.FailingSince.IsZero() {
		st.FailingSince = att.Time
	}
	reason := ""
	if ex.status == http.StatusGone {
		reason = "endpoint answered 410 Gone"
	} else if now.Sub(st.FailingSince) >= s.opts.DisableAfter {
		reason = fmt.Sprintf("no successful delivery since %s (%s)", st.FailingSince.Format(time.RFC3339), s.opts.DisableAfter)
	}
	if reason != "" {
		if err := s.disableTx(tx, d.EndpointID, reason, now, ex.status, disabledNow); err != nil {
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
		d.Status, d.Manual = StatusFailed, false
		fx.outcomes = append(fx.outcomes, StatusFailed)
		return s.saveDelivery(tx, d, oldStatus)
	}
	next := now.Add(retry)
	d.NextAttempt = &next
	d.Status = StatusPending
	if err := putDue(tx, d); err != nil {
		return err
	}
	return s.saveDelivery(tx, d, oldStatus)
}

func (s *Service) saveDelivery(tx *bbolt.Tx, d *Delivery, oldStatus string) error {
	return saveDeliveryTx(tx, d, oldStatus)
}

func saveDeliveryTx(tx *bbolt.Tx, d *Delivery, oldStatus string) error {
	if err := putDelivery(tx, d); err != nil {
		return err
	}
	if d.Status == oldStatus {
		return nil
	}
	return tx.Bucket(bByEndpoint).Put(endpointKey(d.EndpointID, d.CreatedAt, d.ID), []byte(d.Status))
}

// disableTx disables an endpoint and tells the other subscriptions with an
// endpoint.disabled event, in the transaction that recorded the failure.
func (s *Service) disableTx(tx *bbolt.Tx, id, reason string, now time.Time, status int, disabledNow map[string]*Subscription) error {
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
	if err := disablePendingTx(tx, id, "endpoint disabled: "+reason); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{
		"endpoint_id": sub.ID, "name": sub.Name, "url": redactURL(sub.URL, sub.secretValues()),
		"reason": reason, "last_status": status, "disabled_at": now,
	})
	ev := &Event{ID: newEventID(), Type: EventEndpointDisabled, Timestamp: now, Environment: sub.Environment, Data: data}
	var targets []*Subscription
	for _, o := range s.subList() {
		if o.ID != id && disabledNow[o.ID] == nil && o.matches(ev) {
			targets = append(targets, o)
		}
	}
	_, err := s.fanoutTx(tx, ev, targets, now)
	return err
}

// disablePendingTx marks an endpoint's pending deliveries disabled and takes
// them off the schedule. One already in flight is recorded as usual when its
// result arrives.
func disablePendingTx(tx *bbolt.Tx, endpointID, why string) error {
	prefix := endpointPrefix(endpointID)
	var ids []string
	c := tx.Bucket(bDue).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix)+8:]))
	}
	for _, id := range ids {
		d, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		if err := deleteDue(tx, d); err != nil {
			return err
		}
		old := d.Status
		d.Status, d.NextAttempt, d.LastError, d.Manual = StatusDisabled, nil, why, false
		if err := saveDeliveryTx(tx, d, old); err != nil {
			return err
		}
	}
	return nil
}
