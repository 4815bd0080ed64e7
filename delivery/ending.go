package delivery

import (
	"bytes"
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// Disabling or deleting an endpoint commits in one small transaction: the
// subscription, disabled or gone, is cached first, so from then on no
// worker sends to it and no event is fanned out to it as pending. Its
// pending deliveries, which may number hundreds of thousands behind an
// endpoint that always failed, are ended afterwards in transactions of
// Options.BatchSize through Options.Update, as pruning deletes, so that
// the turns' commits go on between them and no transaction grows with the
// backlog. A disabled or deleted endpoint with pending deliveries left (the
// server stopped meanwhile, a write failed) is finished by the ending loop
// when the service starts and at each sweep.

// endPending ends the pending deliveries of a disabled or deleted endpoint,
// a batch per transaction, until none is left but those whose request is in
// flight (their answers settle them). It returns how many it ended.
func (s *Service) endPending(ctx context.Context, endpointID string) (int, error) {
	total := 0
	for {
		n, more, err := s.endBatch(endpointID)
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// endBatch ends up to BatchSize pending deliveries of an endpoint that is
// disabled (last_error "endpoint disabled: REASON", and the endpoint's
// recover_since lowered to the oldest of them) or deleted ("subscription
// deleted"), in one transaction; more says there may be more. An endpoint
// enabled again is left alone: enabling finishes its ending first.
func (s *Service) endBatch(endpointID string) (n int, more bool, err error) {
	s.endMu.Lock()
	defer s.endMu.Unlock()
	s.sendMu.Lock()
	changing := s.ending[endpointID] > 0
	s.sendMu.Unlock()
	sub := s.sub(endpointID)
	if changing || (sub != nil && !sub.Disabled) {
		// A disable or delete under way: the call making it finishes it.
		return 0, false, nil
	}
	why := whySubscriptionDeleted
	if sub != nil {
		why = "endpoint disabled: " + sub.DisabledReason
	}
	prefix := endpointPrefix(endpointID)
	// The due entries are read before the write transaction, which then
	// only writes; it checks each again, as the writer may have settled
	// some since.
	var keys [][]byte
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bDue).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) < len(prefix)+8 {
				continue
			}
			d, err := getDelivery(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if d != nil && s.inFlight(d) {
				continue
			}
			if len(keys) == s.opts.BatchSize {
				more = true
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, false, err
	}
	var fx commitEffects
	err = s.update(func(tx *bbolt.Tx) error {
		n, fx = 0, commitEffects{}
		due := tx.Bucket(bDue)
		var st *endpointState
		if sub != nil && s.sub(endpointID) != nil {
			// Not deleted since: a deleted endpoint keeps no state.
			st = s.state(tx, map[string]*endpointState{}, endpointID)
		}
		for _, k := range keys {
			if due.Get(k) == nil {
				continue // settled or ended since it was read
			}
			id := string(k[len(prefix)+8:])
			d, err := getDelivery(tx, id)
			if err != nil {
				return err
			}
			if d == nil {
				if err := deleteDueKey(tx, k); err != nil {
					return err
				}
				continue
			}
			if s.inFlight(d) {
				continue
			}
			if err := deleteDueKey(tx, k); err != nil {
				return err
			}
			old := d.Status
			d.Status, d.NextAttempt, d.LastError, d.Manual = StatusDisabled, nil, why, false
			if err := saveDelivery(tx, nil, d, old); err != nil {
				return err
			}
			n++
			if st != nil {
				st.missed(d.CreatedAt)
			}
		}
		fx.disabledPending(n)
		if st == nil || n == 0 {
			return nil
		}
		return putEndpointState(tx, endpointID, st)
	})
	if err != nil {
		return 0, false, err
	}
	s.m.record(&fx)
	return n, more, nil
}

// inFlight reports that d's request was sent and its result is not
// recorded (the stored delivery has the attempts it was sent with): its
// answer settles it. One whose result a commit recorded as a retry is
// pending again, even before the writer lets go of it.
func (s *Service) inFlight(d *Delivery) bool {
	s.sendMu.Lock()
	before, sent := s.sending[d.ID]
	s.sendMu.Unlock()
	return sent && d.Attempts <= before
}

// finishEnding ends what is left pending of an endpoint disabled or
// deleted by a call, before the call returns. Should a write fail, the
// ending loop finishes it later: the disable or delete itself committed.
func (s *Service) finishEnding(endpointID string) {
	if _, err := s.endPending(context.Background(), endpointID); err != nil {
		s.logError("webhook endpoint: pending deliveries not all ended yet", err, "subscription", endpointID)
		s.kickEnding()
	}
}

// kickEnding wakes the ending loop.
func (s *Service) kickEnding() {
	select {
	case s.kickEnd <- struct{}{}:
	default:
	}
}

// endingLoop ends the pending deliveries of disabled and deleted endpoints:
// at start, whenever the writer disables an endpoint, and at each sweep
// (PruneInterval), which finishes what a failed write left.
func (s *Service) endingLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		for _, id := range s.endedWithPending() {
			if ctx.Err() != nil {
				return
			}
			if n, err := s.endPending(ctx, id); err != nil && ctx.Err() == nil {
				s.logError("webhook endpoint: ending pending deliveries", err, "subscription", id)
			} else if n > 0 {
				s.log.Info("webhook endpoint: pending deliveries ended", "subscription", id, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kickEnd:
		case <-t.C:
		}
	}
}

// endedWithPending lists the endpoints, disabled or deleted, that still
// have deliveries in the due index; one seek per endpoint.
func (s *Service) endedWithPending() []string {
	var ids []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bDue).Cursor()
		for k, _ := c.First(); k != nil; {
			sep := bytes.IndexByte(k, 0)
			if sep < 0 {
				k, _ = c.Next()
				continue
			}
			ep := string(k[:sep])
			if sub := s.sub(ep); sub == nil || sub.Disabled {
				ids = append(ids, ep)
			}
			k, _ = c.Seek(append([]byte(ep), 1))
		}
		return nil
	})
	if err != nil {
		s.log.Error("webhook endpoints: looking for pending deliveries to end", "err", err)
	}
	return ids
}
