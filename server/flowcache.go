package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// flowCache compiles each flow revision once and shares it between sessions.
// Revisions never change once stored, so an entry is valid until its flow is
// deleted. It keeps the current revision of each flow it has loaded, which
// new sessions start on, and up to a bound (--flow-cache) of other revisions,
// least recently used dropped first: those that sessions still waiting in
// them need, older revisions of a flow edited many times (each simulator edit
// stores one) included. A revision dropped is loaded and compiled again from
// the store when a session needs it.
type flowCache struct {
	eng   *engine.Engine
	store store.FlowStore

	mu sync.RWMutex
	// flows holds each flow's current revision, compiled, once loaded.
	flows map[string]*flows.Flow
	// older holds other revisions (nil: none are kept).
	older *lru.Cache[flowKey, *flows.Flow]
	// current is the revision new sessions of each flow start on. The
	// server is the store's only writer and calls changed after every save,
	// publish or delete; gen counts those calls so that a lookup that raced
	// with one does not cache what it read before it.
	current map[string]int
	gen     uint64
}

type flowKey struct {
	id  string
	rev int
}

// newFlowCache keeps the current revision of each flow and up to older
// other revisions; older < 1 keeps none.
func newFlowCache(st store.FlowStore, older int) *flowCache {
	fc := &flowCache{store: st, flows: map[string]*flows.Flow{}, current: map[string]int{}}
	if older >= 1 {
		c, err := lru.New[flowKey, *flows.Flow](older)
		if err != nil {
			// Only a size below 1 fails, which was handled above.
			panic(err)
		}
		fc.older = c
	}
	return fc
}

// Flow implements flows.FlowSource: revision 0 is the flow's current revision
// (the published one, or the latest when none was published).
func (fc *flowCache) Flow(ctx context.Context, id string, rev int) (*flows.Flow, error) {
	if rev == 0 {
		r, err := fc.currentRevision(ctx, id)
		if err != nil {
			return nil, err
		}
		rev = r
	}
	k := flowKey{id, rev}
	if f := fc.cached(k); f != nil {
		return f, nil
	}
	fr, err := fc.store.GetFlow(ctx, id, rev)
	if err != nil {
		return nil, err
	}
	// A stored revision loads under the rules it was stored with: what a
	// check added since finds is a warning (flows.DecodeStored).
	f, err := fc.eng.LoadStored(fr.Definition)
	if err != nil {
		return nil, &flowLoadError{id: id, rev: rev, err: err}
	}
	f.ID, f.Revision = fr.ID, fr.Revision
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if prev := fc.cachedLocked(k); prev != nil {
		return prev, nil // another goroutine compiled it first; share theirs
	}
	if cur, ok := fc.current[id]; ok && cur == rev {
		fc.flows[id] = f
	} else if fc.older != nil {
		fc.older.Add(k, f)
	}
	return f, nil
}

// cached returns the compiled revision k, or nil.
func (fc *flowCache) cached(k flowKey) *flows.Flow {
	fc.mu.RLock()
	defer fc.mu.RUnlock()
	return fc.cachedLocked(k)
}

func (fc *flowCache) cachedLocked(k flowKey) *flows.Flow {
	if f := fc.flows[k.id]; f != nil && f.Revision == k.rev {
		return f
	}
	if fc.older == nil {
		return nil
	}
	f, _ := fc.older.Get(k)
	return f
}

// revisions counts the compiled revisions kept.
func (fc *flowCache) revisions() int {
	fc.mu.RLock()
	defer fc.mu.RUnlock()
	n := len(fc.flows)
	if fc.older != nil {
		n += fc.older.Len()
	}
	return n
}

// currentRevision returns the revision new sessions of a flow start on.
func (fc *flowCache) currentRevision(ctx context.Context, id string) (int, error) {
	fc.mu.RLock()
	rev, ok := fc.current[id]
	gen := fc.gen
	fc.mu.RUnlock()
	if ok {
		return rev, nil
	}
	rev, err := fc.readCurrent(ctx, id)
	if err != nil {
		return 0, err
	}
	fc.mu.Lock()
	if fc.gen == gen {
		fc.current[id] = rev
	}
	fc.mu.Unlock()
	return rev, nil
}

// readCurrent reads the published revision, or the latest when none is.
func (fc *flowCache) readCurrent(ctx context.Context, id string) (int, error) {
	fr, err := fc.store.PublishedFlow(ctx, id)
	if err == nil {
		return fr.Revision, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	latest, err := fc.store.GetFlow(ctx, id, 0)
	if err != nil {
		return 0, err
	}
	return latest.Revision, nil
}

// save stores a new revision of a flow. The server writes flows only through
// save, publish and remove, which keep the cache in step with the store.
func (fc *flowCache) save(ctx context.Context, nf store.NewFlow) (*store.FlowRevision, error) {
	defer fc.changed(nf.ID)
	return fc.store.SaveFlow(ctx, nf)
}

// saveAll stores a new revision of each flow in one transaction: all or
// none.
func (fc *flowCache) saveAll(ctx context.Context, nfs []store.NewFlow) ([]*store.FlowRevision, error) {
	defer func() {
		for _, nf := range nfs {
			fc.changed(nf.ID)
		}
	}()
	return fc.store.SaveFlows(ctx, nfs)
}

// publish makes a revision (0: the latest) the one new sessions start on.
func (fc *flowCache) publish(ctx context.Context, id string, rev int) (*store.FlowInfo, error) {
	defer fc.changed(id)
	return fc.store.Publish(ctx, id, rev)
}

// remove deletes a flow with all its revisions.
func (fc *flowCache) remove(ctx context.Context, id string) error {
	defer fc.forget(id)
	return fc.store.DeleteFlow(ctx, id)
}

// changed drops what is known of a flow's current revision; the revision
// that was current joins the older ones, which sessions waiting in it may
// still need.
func (fc *flowCache) changed(id string) {
	fc.mu.Lock()
	delete(fc.current, id)
	fc.gen++
	if f := fc.flows[id]; f != nil {
		delete(fc.flows, id)
		if fc.older != nil {
			fc.older.Add(flowKey{id, f.Revision}, f)
		}
	}
	fc.mu.Unlock()
}

// forget drops every cached revision of a deleted flow.
func (fc *flowCache) forget(id string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	delete(fc.current, id)
	fc.gen++
	delete(fc.flows, id)
	if fc.older == nil {
		return
	}
	for _, k := range fc.older.Keys() {
		if k.id == id {
			fc.older.Remove(k)
		}
	}
}

// warnStored logs one warning for each flow whose current revision loads
// only because it was stored before a check it fails was added, naming the
// problems, and for each that does not load at all. Sessions keep running
// such flows; a new revision must pass every check.
func (fc *flowCache) warnStored(ctx context.Context, log *slog.Logger) error {
	infos, err := fc.store.ListFlows(ctx)
	if err != nil {
		return err
	}
	for _, info := range infos {
		rev, err := fc.currentRevision(ctx, info.ID)
		if err != nil {
			return err
		}
		f, err := fc.Flow(ctx, info.ID, rev)
		var le *flowLoadError
		switch {
		case errors.As(err, &le):
			log.Warn("stored flow does not load: its sessions end with an error", "flow", info.ID, "revision", rev, "err", le.err)
			continue
		case err != nil:
			return err
		}
		var problems []string
		for _, w := range f.Warnings {
			if errors.Is(w, flows.ErrNewRule) {
				problems = append(problems, w.Error())
			}
		}
		if len(problems) > 0 {
			log.Warn("stored flow breaks checks added since it was saved; it runs as before, but saving it again needs them fixed",
				"flow", info.ID, "revision", rev, "problems", strings.Join(problems, "; "))
		}
	}
	return nil
}

// flowLoadError is a stored revision that does not load: the flow is at
// fault, not the request that needed it.
type flowLoadError struct {
	id  string
	rev int
	err error
}

func (e *flowLoadError) Error() string {
	return fmt.Sprintf("stored flow %q revision %d does not load: %v", e.id, e.rev, e.err)
}

func (e *flowLoadError) Unwrap() error { return e.err }

var _ flows.FlowSource = (*flowCache)(nil)

// exists reports whether a flow is stored (one that does not load is
// stored), for what names flows without running them: an event
// subscription's flows.
func (fc *flowCache) exists(ctx context.Context, id string) (bool, error) {
	_, err := fc.Flow(ctx, id, 0)
	var le *flowLoadError
	switch {
	case err == nil, errors.As(err, &le):
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}
