package server

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// timerBatch is how many due timers one scan takes; a full batch is followed
// at once by another scan.
const timerBatch = 200

// How often, and in batches of how many, the records that make inbound
// message ids idempotent are pruned once older than Config.DedupeRetention.
const (
	pruneEvery = time.Hour
	pruneBatch = 10000
)

// runTimers fires due wait timeouts and expiries until ctx ends. Timers live
// in the store, so those that fell due while the server was down fire on the
// first scan after a restart.
func (s *Service) runTimers(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var pruned time.Time
	for {
		if now := time.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			s.pruneProcessed(ctx)
		}
		n, err := s.scanTimers(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("timer scan failed", "err", err)
		}
		if n == timerBatch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scanTimers fires one batch of due timers and reports how many it took.
func (s *Service) scanTimers(ctx context.Context) (int, error) {
	due, err := s.store.DueTimers(ctx, s.now(), timerBatch)
	if err != nil {
		return 0, err
	}
	for _, t := range due {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := s.fireTimer(ctx, t); err != nil {
			s.log.Error("timer failed", "session", t.SessionID, "kind", t.Kind.String(), "err", err)
			// Leave it to the next scan unless it can never succeed.
			if errors.Is(err, store.ErrNotFound) {
				_ = s.store.RemoveTimer(ctx, t)
			}
		}
	}
	return len(due), nil
}

// fireTimer runs the turn a timer stands for, if the session still needs it.
func (s *Service) fireTimer(ctx context.Context, t store.Timer) error {
	unlock, sess, err := s.lockSession(ctx, t.SessionID)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return s.store.RemoveTimer(ctx, t)
		}
		return err
	}
	defer unlock()
	now := s.now()
	switch t.Kind {
	case store.TimerWaitTimeout:
		w := sess.Wait
		if sess.Status == flows.StatusWaiting && w != nil && w.TimeoutAt != nil && !w.TimeoutAt.After(now) {
			_, err := s.resumeLoaded(ctx, sess, flows.Timeout(), "")
			return err
		}
	case store.TimerExpiry:
		if !sess.Status.Ended() && sess.ExpiresAt != nil && !sess.ExpiresAt.After(now) {
			return s.expireLoaded(ctx, sess)
		}
	}
	// The session moved on since the timer was set: nothing to do.
	return s.store.RemoveTimer(ctx, t)
}

func (s *Service) expireLoaded(ctx context.Context, sess *flows.Session) error {
	flow := s.flowOrStub(ctx, sess)
	prev := sess.UpdatedAt
	start := time.Now()
	events := s.eng.Expire(ctx, flow, sess)
	s.metrics.turn("expire", time.Since(start))
	_, err := s.commit(ctx, commit{sess: sess, flow: flow, events: events, prev: prev})
	return err
}

// pruneProcessed forgets inbound message ids older than the retention.
func (s *Service) pruneProcessed(ctx context.Context) {
	cutoff := s.now().Add(-s.dedupeRetention)
	for ctx.Err() == nil {
		n, err := s.store.PruneProcessed(ctx, cutoff, pruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("pruning processed message ids failed", "err", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}
