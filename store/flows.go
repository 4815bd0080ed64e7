package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"go.etcd.io/bbolt"
)

// flowHead is the value in the flows bucket: one per flow, pointing at its
// latest and published revisions.
type flowHead struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind,omitempty"`
	Latest    int       `json:"latest"`
	Published int       `json:"published,omitempty"`
	CreatedAt time.Time `json:"created"`
	UpdatedAt time.Time `json:"updated"`
}

// revMeta is the JSON head of a flow_revisions value; the definition
// follows it verbatim (json.Marshal would re-format it).
type revMeta struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind,omitempty"`
	CreatedAt time.Time `json:"created"`
}

func encodeRev(m revMeta, def []byte) []byte {
	mj, _ := json.Marshal(m) // strings and a time: cannot fail
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen32+len(mj)+len(def)), uint64(len(mj)))
	b = append(b, mj...)
	return append(b, def...)
}

func decodeRev(id string, rev int, v []byte, withDef bool) (*FlowRevision, error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || uint64(len(v)-w) < n {
		return nil, fmt.Errorf("flow %q revision %d: corrupt record", id, rev)
	}
	var m revMeta
	if err := jsonv1.Unmarshal(v[w:w+int(n)], &m); err != nil {
		return nil, fmt.Errorf("flow %q revision %d: %w", id, rev, err)
	}
	fr := &FlowRevision{ID: id, Revision: rev, Name: m.Name, Kind: m.Kind, CreatedAt: m.CreatedAt}
	if withDef {
		fr.Definition = bytes.Clone(v[w+int(n):])
	}
	return fr, nil
}

func getHead(tx *bbolt.Tx, id string) (*flowHead, error) {
	v := tx.Bucket(bFlows).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("flow %q: %w", id, ErrNotFound)
	}
	h := new(flowHead)
	if err := jsonv1.Unmarshal(v, h); err != nil {
		return nil, fmt.Errorf("flow %q: %w", id, err)
	}
	return h, nil
}

func putHead(tx *bbolt.Tx, id string, h *flowHead) error {
	v, err := encodeJSON("flow", id, h)
	if err != nil {
		return err
	}
	return tx.Bucket(bFlows).Put([]byte(id), v)
}

func (h *flowHead) info(id string) *FlowInfo {
	return &FlowInfo{ID: id, Name: h.Name, Kind: h.Kind, Latest: h.Latest, Published: h.Published, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}
}

// SaveFlow stores f as the next revision of its flow. The definition must be
// valid JSON; validating it as a flow is the caller's job.
func (b *Bolt) SaveFlow(ctx context.Context, f NewFlow) (*FlowRevision, error) {
	revs, err := b.SaveFlows(ctx, []NewFlow{f})
	if err != nil {
		return nil, err
	}
	return revs[0], nil
}

// SaveFlows stores each flow of fs as the next revision of its flow, in one
// transaction: all of them or, when one cannot be stored, none.
func (b *Bolt) SaveFlows(ctx context.Context, fs []NewFlow) ([]*FlowRevision, error) {
	for _, f := range fs {
		if err := checkID("flow", f.ID); err != nil {
			return nil, err
		}
		if !json.Valid(f.Definition) {
			return nil, fmt.Errorf("flow %q: definition is not valid JSON: %w", f.ID, ErrInvalid)
		}
	}
	now := b.now().UTC()
	var out []*FlowRevision
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		out = out[:0]
		for _, f := range fs {
			rev, err := saveFlow(tx, f, now)
			if err != nil {
				return err
			}
			out = append(out, rev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// saveFlow stores f as the next revision of its flow in tx.
func saveFlow(tx *bbolt.Tx, f NewFlow, now time.Time) (*FlowRevision, error) {
	h, err := getHead(tx, f.ID)
	switch {
	case err == nil:
	case h == nil && isNotFound(err):
		// A flow id deleted before goes on from its last revision: a
		// session still on an old revision must not find another
		// definition under its number.
		h = &flowHead{CreatedAt: now, Latest: deletedLatest(tx, f.ID)}
		if err := addStat(tx, statFlows, 1); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	h.Latest++
	h.Name, h.Kind, h.UpdatedAt = f.Name, f.Kind, now
	if err := tx.Bucket(bFlowRevs).Put(revKey(f.ID, h.Latest), encodeRev(revMeta{Name: f.Name, Kind: f.Kind, CreatedAt: now}, f.Definition)); err != nil {
		return nil, err
	}
	if err := putHead(tx, f.ID, h); err != nil {
		return nil, err
	}
	return &FlowRevision{ID: f.ID, Revision: h.Latest, Name: f.Name, Kind: f.Kind, CreatedAt: now, Definition: bytes.Clone(f.Definition)}, nil
}

// GetFlow returns revision rev of flow id (0: the latest) with its definition.
func (b *Bolt) GetFlow(ctx context.Context, id string, rev int) (*FlowRevision, error) {
	return b.getFlow(ctx, id, rev, false)
}

// PublishedFlow returns the published revision of flow id, or ErrNotFound if
// none was published.
func (b *Bolt) PublishedFlow(ctx context.Context, id string) (*FlowRevision, error) {
	return b.getFlow(ctx, id, 0, true)
}

func (b *Bolt) getFlow(ctx context.Context, id string, rev int, published bool) (*FlowRevision, error) {
	if rev < 0 {
		return nil, fmt.Errorf("flow %q: revision %d: %w", id, rev, ErrInvalid)
	}
	var out *FlowRevision
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		h, err := getHead(tx, id)
		if err != nil {
			return err
		}
		named := published || rev == 0 // the revision is the head's
		switch {
		case published && h.Published == 0:
			return fmt.Errorf("flow %q: no published revision: %w", id, ErrNotFound)
		case published:
			rev = h.Published
		case rev == 0:
			rev = h.Latest
		}
		v := tx.Bucket(bFlowRevs).Get(revKey(id, rev))
		switch {
		case v == nil && named:
			// Revisions are removed only with their flow's head, so one
			// the head names is missing from a damaged page.
			return fmt.Errorf("%w: flow %q: revision %d, which its head names, is missing", ErrCorrupt, id, rev)
		case v == nil:
			return fmt.Errorf("flow %q revision %d: %w", id, rev, ErrNotFound)
		}
		out, err = decodeRev(id, rev, v, true)
		if err == nil {
			out.Published = rev == h.Published
		}
		return err
	})
	return out, err
}

// FlowRevisions lists the revisions of flow id, oldest first, without definitions.
func (b *Bolt) FlowRevisions(ctx context.Context, id string) ([]*FlowRevision, error) {
	var out []*FlowRevision
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		h, err := getHead(tx, id)
		if err != nil {
			return err
		}
		prefix := join(id, "")
		c := tx.Bucket(bFlowRevs).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			rev := int(binary.BigEndian.Uint32(k[len(prefix):]))
			fr, err := decodeRev(id, rev, v, false)
			if err != nil {
				return err
			}
			fr.Published = rev == h.Published
			out = append(out, fr)
		}
		return nil
	})
	return out, err
}

// ListFlows lists every flow ordered by id. Flows are few (hundreds), so this
// is one read of the flows bucket without paging.
func (b *Bolt) ListFlows(ctx context.Context) ([]*FlowInfo, error) {
	var out []*FlowInfo
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bFlows).ForEach(func(k, v []byte) error {
			var h flowHead
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("flow %q: %w", k, err)
			}
			out = append(out, h.info(string(k)))
			return nil
		})
	})
	return out, err
}

// Publish marks revision rev (0: the latest) of flow id as the published one.
func (b *Bolt) Publish(ctx context.Context, id string, rev int) (*FlowInfo, error) {
	if rev < 0 {
		return nil, fmt.Errorf("flow %q: revision %d: %w", id, rev, ErrInvalid)
	}
	now := b.now().UTC()
	var out *FlowInfo
	err := b.update(ctx, func(tx *bbolt.Tx) error {
		h, err := getHead(tx, id)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = h.Latest
		}
		if tx.Bucket(bFlowRevs).Get(revKey(id, rev)) == nil {
			return fmt.Errorf("flow %q revision %d: %w", id, rev, ErrNotFound)
		}
		h.Published, h.UpdatedAt = rev, now
		out = h.info(id)
		return putHead(tx, id, h)
	})
	return out, err
}

// DeleteFlow removes flow id and every revision in one transaction: a failure
// part-way rolls back, so no revision outlives its head. Sessions already
// running on the flow keep their own state. The last revision number stays
// in flows_deleted, so that a flow saved again under the id numbers its
// revisions on from it and never reuses one.
func (b *Bolt) DeleteFlow(ctx context.Context, id string) error {
	return b.update(ctx, func(tx *bbolt.Tx) error {
		h, err := getHead(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bFlowsDeleted).Put([]byte(id), binary.BigEndian.AppendUint32(nil, uint32(h.Latest))); err != nil {
			return err
		}
		if err := tx.Bucket(bFlows).Delete([]byte(id)); err != nil {
			return err
		}
		if _, err := deletePrefix(tx.Bucket(bFlowRevs), join(id, "")); err != nil {
			return err
		}
		return addStat(tx, statFlows, -1)
	})
}

// deletedLatest returns the last revision of flow id when it was deleted,
// 0 when it never was (or was deleted by a version that kept no record).
func deletedLatest(tx *bbolt.Tx, id string) int {
	if v := tx.Bucket(bFlowsDeleted).Get([]byte(id)); len(v) == 4 {
		return int(binary.BigEndian.Uint32(v))
	}
	return 0
}

// deletePrefix deletes every key starting with prefix and reports how many
// it deleted. Keys are collected first: deleting under a cursor can skip the
// next key.
func deletePrefix(bk *bbolt.Bucket, prefix []byte) (int, error) {
	var keys [][]byte
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for i, k := range keys {
		if err := bk.Delete(k); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}
