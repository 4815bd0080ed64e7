package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// timerBatch is how many due timers one scan takes; a full batch is followed
// at once by another scan.
const timerBatch = 200

// maxTimerBatch is the most due timers a scan reads, the store's largest
// page.
const maxTimerBatch = 1000

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
				level := slog.LevelError
				if writesFail(err) {
					level = slog.LevelDebug // the store logs that once
				}
				logFailure(ctx, s.log, level, "pruning "+what+" failed", err)
			}
			return
		}
		if n < batch {
			return
		}
	}
}

// timerConcurrency bounds the timer turns in flight at once. Turns of one
// contact are ordered by its lock; turns of different contacts run side by
// side, so one turn waiting for a slow webhook delays no other timeout.
const timerConcurrency = 16

// timerRetryMax caps the wait before a timer whose turn failed (a session
// record that does not decode) is tried again: the wait doubles from the
// scan interval at each failure, and each failure is logged once.
const timerRetryMax = 10 * time.Minute

// errContactBusy is a timer's turn not started because its contact's lock
// is held by another turn: the timer stays and a later scan fires it.
var errContactBusy = errors.New("contact busy")

// contactBusyError is errContactBusy with the contact whose lock was taken,
// so that later scans can see the contact is still busy without loading
// the session.
type contactBusyError struct{ urn string }

func (e *contactBusyError) Error() string        { return errContactBusy.Error() }
func (e *contactBusyError) Is(target error) bool { return target == errContactBusy }

// timerRunner keeps the timer turns in flight.
type timerRunner struct {
	// slots holds one token per turn in flight.
	slots chan struct{}
	// freed is signalled when a turn ends, so that a scanner that found
	// every slot taken scans again as soon as one is free; not by a turn
	// that found its contact busy, whose timer waits for the next interval.
	freed chan struct{}
	// inFlight waits for the turns started (shutdown waits for them).
	inFlight sync.WaitGroup

	// scanning is held by a scan from reading the due timers until it has
	// started their turns: a scan checks that a timer's turn is not
	// running and marks it firing in two steps, so two scans side by side
	// (the server's and one a test runs) would both start a turn for the
	// same timer; the one that found the contact busy would return while
	// the other's turn ran on, leaving the timer due.
	scanning sync.Mutex

	mu sync.Mutex
	// firing holds the sessions whose timer turn runs: a scan that meets
	// their timer again (it stays stored until the turn saves) skips it.
	firing map[string]bool
	// failing holds the sessions whose last timer turn failed.
	failing map[string]timerFailure
	// busy holds the sessions whose timer turn found their contact in
	// another turn. While that contact stays busy, scans skip the timer
	// without a slot and without loading its session: a timer left for a
	// later scan is no reason to scan again at once.
	busy map[string]busyTimer
	// scans counts the scans, to forget busy timers no scan meets.
	scans uint64
	// behindSince is the due time of the oldest due timer the latest scan
	// could not start (every turn slot taken, its contact busy); zero when
	// it started every due timer not already running or backing off.
	behindSince time.Time
	// warnedAt is when the scan was last logged as behind; warned is set
	// from then until it catches up.
	warnedAt time.Time
	warned   bool
}

// busyTimer is a timer whose contact was busy with another turn.
type busyTimer struct {
	// urn is the key of the lock that was taken: the contact's
	// (flows.Session.ContactKey, a test contact's under sim:).
	urn string
	// scan is the last scan that met the timer.
	scan uint64
}

// timersBehindWarn is how late the oldest due timer not yet started may be
// before the scan is logged as behind, at most once each
// timersBehindWarnEvery.
const (
	timersBehindWarn      = 5 * time.Second
	timersBehindWarnEvery = time.Minute
)

type timerFailure struct {
	failures int
	next     time.Time
}

func newTimerRunner() *timerRunner {
	return &timerRunner{
		slots:   make(chan struct{}, timerConcurrency),
		freed:   make(chan struct{}, 1),
		firing:  map[string]bool{},
		failing: map[string]timerFailure{},
		busy:    map[string]busyTimer{},
	}
}

// timerScan is what one scan did.
type timerScan struct {
	// due is how many due timers the scan read, of batch asked for.
	due, batch int
	// started is how many turns it started.
	started int
	// full is set when due timers were left because every slot was taken.
	full bool
	// running lists the sessions of due timers whose turn was already
	// running (started by another scan).
	running []string
}

// runTimers fires due wait timeouts and expiries until ctx ends. Their turns
// run with turns, which ending ctx does not cancel: a turn under way when the
// server shuts down finishes (a webhook it is calling is not cut off), no
// new one starts, and runTimers returns once those under way have ended.
// Timers live in the store, so those that fell due while the server was
// down fire on the first scan after a restart.
func (s *Service) runTimers(ctx, turns context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	defer s.timers.inFlight.Wait()
	for {
		r, err := s.startTimers(ctx, turns, every, nil)
		if err != nil && ctx.Err() == nil {
			logFailure(ctx, s.log, slog.LevelError, "timer scan failed", err)
		}
		var freed <-chan struct{}
		switch {
		case r.full:
			freed = s.timers.freed
		case r.due == r.batch && r.started > 0 && err == nil:
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-freed:
		}
	}
}

// scanTimers fires one batch of due timers, waits for their turns, and for
// those of due timers that the scanner was already running, and reports how
// many timers were due.
func (s *Service) scanTimers(ctx context.Context) (int, error) {
	var wg sync.WaitGroup
	r, err := s.startTimers(ctx, ctx, time.Second, &wg)
	wg.Wait()
	for _, id := range r.running {
		for s.timers.isFiring(id) {
			time.Sleep(time.Millisecond)
		}
	}
	return r.due, err
}

func (tr *timerRunner) isFiring(sessionID string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.firing[sessionID]
}

// startTimers reads one batch of due timers and starts the turn of each,
// in turns, up to timerConcurrency in flight; once ctx ends it starts no
// more. A timer whose turn is already running, whose contact is busy with
// another turn, or whose last turn failed less than its backoff ago is left
// for a later scan. A contact found busy once is checked again by its lock
// alone, so its timer takes neither a slot nor a session load until the
// contact is free. wg, when set, also counts the turns started.
func (s *Service) startTimers(ctx, turns context.Context, every time.Duration, wg *sync.WaitGroup) (timerScan, error) {
	tr := s.timers
	tr.scanning.Lock()
	defer tr.scanning.Unlock()
	if s.turnsHeld() {
		// The store's writes fail: the timers wait, rather than run turns
		// whose writes would fail. Once each write probe interval one scan
		// goes on, and its first turn finds out whether writes succeed again.
		return timerScan{}, nil
	}
	// The timers a scan passes over (running, busy, backing off) are read
	// on top of a batch, so that however many of them there are (a store
	// with hundreds of damaged sessions), the timers after them still fire.
	tr.mu.Lock()
	tr.scans++
	scan := tr.scans
	batch := min(timerBatch+len(tr.firing)+len(tr.busy)+len(tr.failing), maxTimerBatch)
	tr.mu.Unlock()
	due, err := s.store.DueTimers(ctx, s.now(), batch)
	r := timerScan{due: len(due), batch: batch}
	if err != nil {
		return r, err
	}
	// behind is the due time of the oldest due timer this scan leaves
	// for later though it could fire (its contact busy, every slot taken).
	// Due timers come oldest first.
	var behind time.Time
	for i, t := range due {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		tr.mu.Lock()
		f, failed := tr.failing[t.SessionID]
		running := tr.firing[t.SessionID]
		b, busy := tr.busy[t.SessionID]
		if busy {
			b.scan = scan
			tr.busy[t.SessionID] = b
		}
		tr.mu.Unlock()
		if running {
			r.running = append(r.running, t.SessionID)
			continue
		}
		if failed && s.now().Before(f.next) {
			continue
		}
		if busy && s.locks.held(b.urn, t.SessionID) {
			if behind.IsZero() {
				behind = t.At
			}
			continue
		}
		if s.turnsHeld() {
			return r, nil // a turn of this scan found that writes still fail
		}
		select {
		case tr.slots <- struct{}{}:
		default:
			r.full = true
			if behind.IsZero() {
				behind = t.At
			}
			s.timersBehind(behind, len(due)-i)
			return r, nil // the busy timers not met stay
		}
		tr.mu.Lock()
		tr.firing[t.SessionID] = true
		tr.mu.Unlock()
		r.started++
		tr.inFlight.Add(1)
		if wg != nil {
			wg.Add(1)
		}
		go func() {
			busy := false
			defer func() {
				tr.mu.Lock()
				delete(tr.firing, t.SessionID)
				tr.mu.Unlock()
				<-tr.slots
				if !busy {
					// A slot freed by a timer left for later is no reason
					// to scan before the next interval: the scan would
					// meet that timer again.
					select {
					case tr.freed <- struct{}{}:
					default:
					}
				}
				tr.inFlight.Done()
				if wg != nil {
					wg.Done()
				}
			}()
			busy = s.timerTurn(turns, t, every)
		}()
	}
	s.timersBehind(behind, 0)
	if len(due) < batch {
		// The scan met every due timer: a busy timer it did not meet has
		// fired or moved on with its session.
		tr.mu.Lock()
		for id, b := range tr.busy {
			if b.scan != scan {
				delete(tr.busy, id)
			}
		}
		tr.mu.Unlock()
	}
	return r, nil
}

// timersBehind records what a scan left: behind, the due time of the
// oldest due timer it could not start (zero: none), and left, how many due
// timers it did not reach because every turn slot was taken. The scan
// falling more than timersBehindWarn behind is logged at warn, at most once
// each timersBehindWarnEvery, and its catching up after that at info:
// timers that fire late are otherwise seen only by the contacts.
func (s *Service) timersBehind(behind time.Time, left int) {
	tr, now := s.timers, s.now()
	var lag time.Duration
	if !behind.IsZero() {
		lag = max(now.Sub(behind), 0)
	}
	tr.mu.Lock()
	tr.behindSince = behind
	warn := lag > timersBehindWarn && (tr.warnedAt.IsZero() || now.Sub(tr.warnedAt) >= timersBehindWarnEvery)
	if warn {
		tr.warnedAt, tr.warned = now, true
	}
	caughtUp := behind.IsZero() && tr.warned
	if caughtUp {
		tr.warned = false
	}
	running := len(tr.firing)
	tr.mu.Unlock()
	switch {
	case warn:
		s.log.Warn("timers behind: due wait timeouts and expiries wait for a turn slot or a busy contact",
			"behind_seconds", lag.Seconds(), "running", running, "not_reached", left, "concurrency", timerConcurrency)
	case caughtUp:
		s.log.Info("timers caught up")
	}
}

// timersLag is how long the oldest due timer that the latest scan could
// not start has been due (parley_timers_behind_seconds); 0 when that scan
// started every due timer it could.
func (s *Service) timersLag() time.Duration {
	tr := s.timers
	tr.mu.Lock()
	behind := tr.behindSince
	tr.mu.Unlock()
	if behind.IsZero() {
		return 0
	}
	return max(s.now().Sub(behind), 0)
}

// timerTurn fires one timer and notes how it went: a failure is logged and
// the timer tried again after a backoff. It reports whether the timer was
// left because its contact was busy.
func (s *Service) timerTurn(ctx context.Context, t store.Timer, every time.Duration) (busy bool) {
	err := s.fireTimer(ctx, t)
	tr := s.timers
	var cb *contactBusyError
	if errors.As(err, &cb) {
		tr.mu.Lock()
		tr.busy[t.SessionID] = busyTimer{urn: cb.urn, scan: tr.scans}
		tr.mu.Unlock()
		return true
	}
	if writesFail(err) {
		// Not run, or not saved, while the store's writes fail (logged
		// once by the store): the timer stays, and fires once they
		// succeed, without a failure counted against it.
		return true
	}
	tr.mu.Lock()
	delete(tr.busy, t.SessionID)
	tr.mu.Unlock()
	if err == nil || errors.Is(err, store.ErrNotFound) && s.sessionGone(ctx, t.SessionID) {
		if err != nil {
			// The session is gone: its timer can never fire.
			_ = s.store.RemoveTimer(ctx, t)
		}
		tr.mu.Lock()
		delete(tr.failing, t.SessionID)
		tr.mu.Unlock()
		return
	}
	if ctx.Err() != nil {
		return // cancelled by the shutdown: the timer stays for the next start
	}
	tr.mu.Lock()
	f := tr.failing[t.SessionID]
	wait := min(every<<min(f.failures, 30), timerRetryMax)
	f.failures++
	f.next = s.now().Add(wait)
	tr.failing[t.SessionID] = f
	tr.mu.Unlock()
	logFailure(ctx, s.log, slog.LevelError, "timer failed", err, "session", t.SessionID, "kind", t.Kind.String(),
		"failures", f.failures, "retry_in", wait.String())
	return false
}

// sessionGone reports whether a session is no longer stored. A timer's
// turn that fails with something not found is about a deleted session only
// when the session itself is not found: anything else its turn did not
// find (a flow) must not remove its timer unnoticed.
func (s *Service) sessionGone(ctx context.Context, id string) bool {
	_, err := s.store.LoadSession(ctx, id)
	return errors.Is(err, store.ErrNotFound)
}

// fireTimer runs the turn a timer stands for, if the session still needs it.
// It does not wait for a contact busy with another turn: it returns
// errContactBusy and the timer fires on a later scan.
func (s *Service) fireTimer(ctx context.Context, t store.Timer) error {
	unlock, sess, err := s.lockSessionWith(ctx, t.SessionID, true)
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
			if sess.ExpiresAt != nil && !sess.ExpiresAt.After(now) {
				// The session's expiry is due too (both fell due while
				// the server was down, or the scan is behind): it
				// expires, rather than run the Timeout path of a session
				// whose time is up.
				return s.guardTimerTurn(ctx, sess, store.TimerExpiry, func() error { return s.expireLoaded(ctx, sess) })
			}
			if state, held := heldForRecording(sess); held {
				// No recording came within the grace after the call's
				// end: the session ends as the call's end would have
				// ended it (holdForRecording).
				return s.guardTimerTurn(ctx, sess, t.Kind, func() error {
					_, err := s.endCallLocked(ctx, sess, state, false)
					return err
				})
			}
			return s.guardTimerTurn(ctx, sess, t.Kind, func() error {
				// On a call answered as TwiML, the call's next request
				// is answered with this turn's prompts, as TwiML.
				_, err := s.resume(ctx, sess, flows.Timeout(), resumeOpts{twiml: sess.CallTwiML})
				if errors.As(err, new(*expiredError)) {
					return nil // the expiry fell due meanwhile, and resume expired it
				}
				return err
			})
		}
	case store.TimerExpiry:
		if !sess.Status.Ended() && sess.ExpiresAt != nil && !sess.ExpiresAt.After(now) {
			return s.guardTimerTurn(ctx, sess, t.Kind, func() error { return s.expireLoaded(ctx, sess) })
		}
	}
	// The session moved on since the timer was set: nothing to do.
	return s.store.RemoveTimer(ctx, t)
}

// guardTimerTurn runs turn, the turn a timer fires on sess, whose lock is
// held. A panic in it (a bug in a widget) would end the whole process from
// the timer's goroutine, and end it again after every restart, the timer
// being still due; a request's turn that panics is only that request's 500
// (the recover middleware, handleBatched). So the panic is logged with the
// session, its flow and the widget that was running, and the session fails,
// which removes its timers: there is no one to answer, and the same turn
// would panic again.
func (s *Service) guardTimerTurn(ctx context.Context, sess *flows.Session, kind store.TimerKind, turn func() error) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		// What the turn had changed of sess is where it stopped.
		flowID, rev, widget := sess.FlowID, sess.Revision, ""
		if top := sess.Top(); top != nil {
			flowID, rev, widget = top.FlowID, top.Revision, top.Widget
		}
		s.log.Error("timer turn panicked", "session", sess.ID, "flow", flowID, "revision", rev, "widget", widget,
			"kind", kind.String(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		err = s.failPanicked(ctx, sess.ID, widget, p)
	}()
	return turn()
}

// failPanicked fails a session whose turn panicked in widget: it is read
// again, as stored before the turn, since the turn left its copy half done.
func (s *Service) failPanicked(ctx context.Context, id, widget string, p any) error {
	sess, err := s.store.LoadSession(ctx, id)
	if err != nil {
		return fmt.Errorf("session %s: a turn panicked (%v), and the session could not be read again to fail it: %w", id, p, err)
	}
	if sess.Status.Ended() {
		return nil
	}
	_, err = s.failLoaded(ctx, sess, fmt.Sprintf("internal error in widget %q: %v", widget, p), flows.Input{}, "")
	return err
}

func (s *Service) expireLoaded(ctx context.Context, sess *flows.Session) error {
	_, err := s.expireWith(ctx, sess, nil, false)
	return err
}

// expireWith expires a locked session; with read set, contact is the
// stored contact read with it (nil: none stored). It returns the turn's
// reply, as a resume's.
func (s *Service) expireWith(ctx context.Context, sess *flows.Session, contact *flows.Contact, read bool) (*TurnReply, error) {
	if err := s.tryTurn(); err != nil {
		return nil, err
	}
	saveContact := false
	if len(sess.Frames) > 1 {
		// The subflow expires and the flow that called it runs on: with
		// the contact as stored now, as any turn that runs widgets.
		var err error
		if saveContact, err = s.refreshContact(ctx, sess, contact, read); err != nil {
			return nil, err
		}
		// A calling flow deleted meanwhile cannot run on; nor can a
		// subflow deleted meanwhile expire into it: either fails the
		// session, saying so as a resume would (flowGone).
		_, err = s.flows.Flow(ctx, sess.FlowID, sess.Revision)
		why := flowGone("flow", sess.FlowID, sess.Revision, err)
		if top := sess.Top(); why == "" {
			_, err = s.flows.Flow(ctx, top.FlowID, top.Revision)
			why = flowGone("subflow", top.FlowID, top.Revision, err)
		}
		if why != "" {
			return s.failLoaded(ctx, sess, why, flows.Input{}, "")
		}
	}
	flow := s.flowOrStub(ctx, sess)
	prev := sess.UpdatedAt
	start := time.Now()
	events := s.eng.Expire(ctx, flow, sess)
	s.metrics.turn("expire", time.Since(start))
	return s.commit(ctx, commit{sess: sess, flow: flow, events: events, prev: prev, saveContact: saveContact, twiml: sess.CallTwiML})
}

// prune forgets inbound message ids older than the dedupe retention and
// the calls erased that can no longer be going on (callErased) and, when a
// session retention is set, deletes sessions that ended before it.
func (s *Service) prune(ctx context.Context) {
	now := s.now()
	cutoff := now.Add(-s.dedupeRetention)
	s.pruneLoop(ctx, "processed message ids", prunePerScan, pruneBatch, func() (int, error) {
		return s.store.PruneProcessed(ctx, cutoff, pruneBatch)
	})
	s.pruneLoop(ctx, "erased calls", prunePerScan, pruneBatch, func() (int, error) {
		return s.store.PruneErasedCalls(ctx, now, pruneBatch)
	})
	if s.sessionRetention > 0 {
		ended := now.Add(-s.sessionRetention)
		s.pruneLoop(ctx, "ended sessions", sessionPrunePerScan, sessionPruneBatch, func() (int, error) {
			return s.store.PruneEnded(ctx, ended, sessionPruneBatch)
		})
	}
}
