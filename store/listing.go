package store

import (
	"bytes"
	"slices"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/tidwall/gjson"
	"go.etcd.io/bbolt"
)

func jsonUnmarshal(b []byte, v any) error { return jsonv1.Unmarshal(b, v) }

// topLevelFlow reads a session JSON's flow id without decoding the rest.
func topLevelFlow(js []byte) string { return gjson.GetBytes(js, "flow").String() }

// candidate is a session a listing source yields, in id order.
type candidate struct {
	id    string
	eid   []byte
	entry []byte // the session_ids value, when the source is that bucket
	seq   uint64
	known bool // seq is known without reading the id entry
}

// idSource yields candidates in ascending id (string) order, after the
// listing's cursor; ok is false at the end.
type idSource func() (c candidate, ok bool, err error)

// classCursor walks one kind of encoded id (UUID or other) under a prefix.
type classCursor struct {
	c      *bbolt.Cursor
	prefix []byte // bucket prefix + id tag
	plen   int    // length of the bucket prefix
	k, v   []byte
	id     string
	done   bool
}

func (cc *classCursor) load(k, v []byte) error {
	if k == nil || !bytes.HasPrefix(k, cc.prefix) {
		cc.done = true
		return nil
	}
	id, err := decodeID(k[cc.plen:])
	if err != nil {
		return err
	}
	cc.k, cc.v, cc.id = k, v, id
	return nil
}

// rangeSource lists the ids encoded after prefix in bk: the UUID range and
// the other-id range, each in string order, merged.
func rangeSource(bk *bbolt.Bucket, prefix []byte, after string) idSource {
	var classes [2]*classCursor
	var initErr error
	for i, tag := range []byte{idUUID, idOther} {
		cc := &classCursor{c: bk.Cursor(), prefix: append(bytes.Clone(prefix), tag), plen: len(prefix)}
		classes[i] = cc
		start := cc.prefix
		skipEqual := false
		switch {
		case after == "":
		case tag == idUUID:
			if _, ok := packUUID(after); ok {
				start, skipEqual = append(bytes.Clone(prefix), idKey(after)...), true
			} else if u, ok := nextUUIDAfter(after); ok {
				start = append(bytes.Clone(prefix), idKey(u)...)
			} else {
				cc.done = true
				continue
			}
		default:
			start, skipEqual = append(bytes.Clone(cc.prefix), after...), true
		}
		k, v := cc.c.Seek(start)
		if skipEqual && bytes.Equal(k, start) {
			k, v = cc.c.Next()
		}
		if err := cc.load(k, v); err != nil {
			initErr = err
		}
	}
	return func() (candidate, bool, error) {
		if initErr != nil {
			return candidate{}, false, initErr
		}
		var pick *classCursor
		for _, cc := range classes {
			if !cc.done && (pick == nil || cc.id < pick.id) {
				pick = cc
			}
		}
		if pick == nil {
			return candidate{}, false, nil
		}
		c := candidate{id: pick.id, eid: bytes.Clone(pick.k[pick.plen:])}
		if len(prefix) == 0 { // the session_ids bucket itself
			c.entry = pick.v
		}
		if err := pick.load(pick.c.Next()); err != nil {
			return candidate{}, false, err
		}
		return c, true, nil
	}
}

// rowSource lists a contact row's waiting and ended sessions after the
// cursor.
func rowSource(r *contactRow, after string) idSource {
	var cs []candidate
	fail := func(err error) idSource {
		return func() (candidate, bool, error) { return candidate{}, false, err }
	}
	for _, w := range r.waits {
		id, err := decodeID(w.eid)
		if err != nil {
			return fail(err)
		}
		if id > after {
			cs = append(cs, candidate{id: id, eid: w.eid, seq: w.seq, known: true})
		}
	}
	for _, eid := range r.ended {
		id, err := decodeID(eid)
		if err != nil {
			return fail(err)
		}
		if id > after {
			cs = append(cs, candidate{id: id, eid: eid})
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int { return strings.Compare(a.id, b.id) })
	return func() (candidate, bool, error) {
		if len(cs) == 0 {
			return candidate{}, false, nil
		}
		c := cs[0]
		cs = cs[1:]
		return c, true, nil
	}
}

// mergeSources merges two sources in id order.
func mergeSources(a, b idSource) idSource {
	type head struct {
		c    candidate
		ok   bool
		read bool
	}
	var ha, hb head
	fill := func(h *head, src idSource) error {
		if h.read {
			return nil
		}
		c, ok, err := src()
		*h = head{c: c, ok: ok, read: true}
		return err
	}
	return func() (candidate, bool, error) {
		if err := fill(&ha, a); err != nil {
			return candidate{}, false, err
		}
		if err := fill(&hb, b); err != nil {
			return candidate{}, false, err
		}
		switch {
		case ha.ok && (!hb.ok || ha.c.id <= hb.c.id):
			ha.read = false
			return ha.c, true, nil
		case hb.ok:
			hb.read = false
			return hb.c, true, nil
		}
		return candidate{}, false, nil
	}
}

// sortTimers orders timers as the timers bucket of layout 1 did: by time,
// then kind, then session id.
func sortTimers(ts []Timer) {
	slices.SortFunc(ts, func(a, b Timer) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
}
