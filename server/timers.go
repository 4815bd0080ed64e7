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

// The records that make inbound message ids idempotent are pruned once
// older than Config.DedupeRetention every timer interval, in batches of
// pruneBatch, at most prunePerScan batches a scan: each batch joins one
// group commit, so pruning never holds the writer for long (a batch of
// 10,000 took 67 ms, one of 1,000 11 ms), and the pages it frees are
// reused within seconds instead of growing the list of free pages that
// every commit writes, as hourly pruning of an hour's ids did. 20 batches
// a second (the default scan) is more than the inbound messages the server
// can take.
const (
	pruneBatch   = 1000
	prunePerScan = 20
)

// Ended sessions older than Config.SessionRetention go the same way, in
// batches of sessionPruneBatch, at most sessionPrunePerScan batches an
// interval: a session is its record, its events and index entries, so a
// batch of 100 is about as many deletes as one of 1,000 message ids (1.7-2.6
// ms with its fsync, BenchmarkPruneEnded), and 10,000 sessions a second is
// more than the server can end.
const (
	sessionPruneBatch   = 100
	sessionPrunePerScan = 100
)

// runPruning prunes every interval until ctx ends, in a goroutine of its
// own so that a long pass never delays the timers. Each batch waits for the
// group commit it joins, so pruning adds at most one batch to a commit.
func (s *Service) runPruning(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneLoop runs a pruning step up to times times, while each takes a full
// batch.
func (s *Service) pruneLoop(ctx context.Context, what string, times, batch int, step func() (int, error)) {
	for range times {
		n, err := step()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("pruning "+what+" failed", "err", err)
			}
			return
		}
		if n < batch {
			return
		}
	}
}

// runTimers fires due wait timeouts and expiries until ctx ends. Their turns
// run with turns, which ending ctx does not cancel: a turn under way when the
// server shuts down finishes (a webhook it is calling is not cut off) and no
// new one starts. Timers live in the store, so those that fell due while the
// server was down fire on the first scan after a restart.
func (s *Service) runTimers(ctx, turns context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.scanTimersWith(ctx, turns)
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
	return s.scanTimersWith(ctx, ctx)
}

// scanTimersWith is scanTimers with the timers' turns run in turns: once ctx
// ends it starts no more of them.
func (s *Service) scanTimersWith(ctx, turns context.Context) (int, error) {
	due, err := s.store.DueTimers(ctx, s.now(), timerBatch)
	if err != nil {
		return 0, err
	}
	for _, t := range due {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := s.fireTimer(turns, t); err != nil {
			s.log.Error("timer failed", "session", t.SessionID, "kind", t.Kind.String(), "err", err)
			// Leave it to the next scan unless it can never succeed.
			if errors.Is(err, store.ErrNotFound) {
				_ = s.store.RemoveTimer(turns, t)
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

// prune forgets inbound message ids older than the dedupe retention and,
// when a session retention is set, deletes sessions that ended before it.
func (s *Service) prune(ctx context.Context) {
	now := s.now()
	cutoff := now.Add(-s.dedupeRetention)
	s.pruneLoop(ctx, "processed message ids", prunePerScan, pruneBatch, func() (int, error) {
		return s.store.PruneProcessed(ctx, cutoff, pruneBatch)
	})
	if s.sessionRetention > 0 {
		ended := now.Add(-s.sessionRetention)
		s.pruneLoop(ctx, "ended sessions", sessionPrunePerScan, sessionPruneBatch, func() (int, error) {
			return s.store.PruneEnded(ctx, ended, sessionPruneBatch)
		})
	}
}
