package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// DeliveryQuery filters ListDeliveries.
type DeliveryQuery struct {
	// Status is pending, succeeded, failed or disabled; empty for all.
	Status string
	// Since and Until bound the creation time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Limit per page (default 50, at most 1000).
	Limit int
	// Cursor is a NextCursor from the previous page.
	Cursor string
}

// DeliveryPage is one page of deliveries, newest first. Payloads are left
// out; GetDelivery has them.
type DeliveryPage struct {
	Deliveries []*Delivery `json:"data"`
	// NextCursor is set when the page is full; the next page may be empty.
	NextCursor string `json:"next_cursor,omitempty"`
}

// GetDelivery returns one delivery with its payload.
func (s *Service) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	var d *Delivery
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		d, err = getDelivery(tx, id)
		if d != nil {
			d.Payload = bytes.Clone(tx.Bucket(bPayloads).Get([]byte(id)))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("delivery %q: %w", id, ErrNotFound)
	}
	return d, nil
}

// Attempts returns a delivery's attempts, first first.
func (s *Service) Attempts(ctx context.Context, deliveryID string) ([]*Attempt, error) {
	var out []*Attempt
	err := s.db.View(func(tx *bbolt.Tx) error {
		d, err := getDelivery(tx, deliveryID)
		if err != nil {
			return err
		}
		if d == nil {
			return fmt.Errorf("delivery %q: %w", deliveryID, ErrNotFound)
		}
		// The request body shown is the payload sent, with the
		// subscription's secrets redacted as in the rest of the attempt.
		payload := string(tx.Bucket(bPayloads).Get([]byte(deliveryID)))
		if sub := s.sub(d.EndpointID); sub != nil {
			payload = sub.endpoint().red.String(payload)
		}
		prefix := attemptPrefix(deliveryID)
		c := tx.Bucket(bAttempts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var a Attempt
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("delivery %s attempt: %w", deliveryID, err)
			}
			if a.Request.Body == "" {
				a.Request.Body = payload
			}
			out = append(out, &a)
		}
		return nil
	})
	return out, err
}

// ListDeliveries pages through one endpoint's deliveries, newest first.
func (s *Service) ListDeliveries(ctx context.Context, endpointID string, q DeliveryQuery) (*DeliveryPage, error) {
	switch q.Status {
	case "", StatusPending, StatusSucceeded, StatusFailed, StatusDisabled:
	default:
		return nil, &ValidationError{Field: "status", Message: fmt.Sprintf("status must be pending, succeeded, failed or disabled, got %q", q.Status)}
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 1000)
	prefix := endpointPrefix(endpointID)
	upper := append([]byte(endpointID), 1)
	if !q.Until.IsZero() {
		upper = endpointKey(endpointID, q.Until, "")
	}
	if q.Cursor != "" {
		k, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !bytes.HasPrefix(k, prefix) {
			return nil, &ValidationError{Field: "cursor", Message: fmt.Sprintf("cursor must be a next_cursor of this endpoint's deliveries, got %q", q.Cursor)}
		}
		upper = k
	}
	page := &DeliveryPage{Deliveries: []*Delivery{}}
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bByEndpoint).Cursor()
		k, v := c.Seek(upper)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if !q.Since.IsZero() && getTime(k[len(prefix):]).Before(q.Since) {
				break
			}
			if q.Status != "" && string(v) != q.Status {
				continue
			}
			d, err := getDelivery(tx, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if d == nil {
				continue
			}
			page.Deliveries = append(page.Deliveries, d)
			if len(page.Deliveries) == q.Limit {
				page.NextCursor = base64.RawURLEncoding.EncodeToString(k)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// Retry sends a delivery once more, now. A pending delivery just moves its
// next attempt to now; a finished one gets one attempt and, if that fails,
// returns to failed without a new schedule.
func (s *Service) Retry(ctx context.Context, id string) (*Delivery, error) {
	var out *Delivery
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if _, ok := s.inflight[id]; ok {
		return nil, fmt.Errorf("delivery %q: %w", id, ErrInFlight)
	}
	err := s.update(func(tx *bbolt.Tx) error {
		d, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if d == nil {
			return fmt.Errorf("delivery %q: %w", id, ErrNotFound)
		}
		if err := s.resendable(d.EndpointID); err != nil {
			return err
		}
		if err := s.requeueTx(tx, d, s.opts.Now().UTC()); err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.notifyAll()
	return out, nil
}

// Recover sends again every failed (or disabled) delivery of an endpoint
// created at or after since, once each, and returns how many it queued.
func (s *Service) Recover(ctx context.Context, endpointID string, since time.Time) (int, error) {
	if err := s.resendable(endpointID); err != nil {
		return 0, err
	}
	n := 0
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		now := s.opts.Now().UTC()
		prefix := endpointPrefix(endpointID)
		var ids []string
		c := tx.Bucket(bByEndpoint).Cursor()
		for k, v := c.Seek(endpointKey(endpointID, since, "")); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if st := string(v); st == StatusFailed || st == StatusDisabled {
				ids = append(ids, string(k[len(prefix)+8:]))
			}
		}
		for _, id := range ids {
			if _, ok := s.inflight[id]; ok {
				continue
			}
			d, err := getDelivery(tx, id)
			if err != nil {
				return err
			}
			if d == nil {
				continue
			}
			if err := s.requeueTx(tx, d, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.notifyAll()
	return n, nil
}

func (s *Service) resendable(endpointID string) error {
	sub := s.sub(endpointID)
	if sub == nil {
		return fmt.Errorf("subscription %q: %w", endpointID, ErrNotFound)
	}
	if sub.Disabled {
		return &ValidationError{Field: "endpoint_id", Message: fmt.Sprintf("subscription %s is disabled; enable it first", endpointID)}
	}
	return nil
}

func (s *Service) requeueTx(tx *bbolt.Tx, d *Delivery, now time.Time) error {
	old := d.Status
	if d.NextAttempt != nil {
		if err := deleteDue(tx, nil, d); err != nil {
			return err
		}
	} else {
		d.Manual = true
	}
	d.Status = StatusPending
	d.NextAttempt = &now
	if err := putDue(tx, nil, d); err != nil {
		return err
	}
	return saveDelivery(tx, nil, d, old)
}

// Prune deletes deliveries (and their attempts) created before the retention
// period, except those still pending, and returns how many it deleted.
func (s *Service) Prune(ctx context.Context) (int, error) {
	cutoff := s.opts.Now().Add(-s.opts.Retention)
	total := 0
	var from []byte // pending deliveries are kept: resume after them
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, more := 0, false
		var next []byte
		err := s.update(func(tx *bbolt.Tx) error {
			n, more, next = 0, false, nil
			byTime := tx.Bucket(bByTime)
			var keys [][]byte
			c := byTime.Cursor()
			k, _ := c.First()
			if from != nil {
				k, _ = c.Seek(from)
			}
			for ; k != nil && getTime(k).Before(cutoff); k, _ = c.Next() {
				if len(keys) == s.opts.BatchSize {
					more = true
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			if len(keys) > 0 {
				next = append(bytes.Clone(keys[len(keys)-1]), 0)
			}
			for _, k := range keys {
				id := string(k[8:])
				ep := string(byTime.Get(k))
				ek := endpointKey(ep, getTime(k), id)
				if string(tx.Bucket(bByEndpoint).Get(ek)) == StatusPending {
					continue
				}
				for _, del := range []struct {
					b []byte
					k []byte
				}{{bByTime, k}, {bByEndpoint, ek}, {bDeliveries, []byte(id)}, {bPayloads, []byte(id)}} {
					if err := tx.Bucket(del.b).Delete(del.k); err != nil {
						return err
					}
				}
				ac := tx.Bucket(bAttempts).Cursor()
				prefix := attemptPrefix(id)
				var aks [][]byte
				for ak, _ := ac.Seek(prefix); ak != nil && bytes.HasPrefix(ak, prefix); ak, _ = ac.Next() {
					aks = append(aks, bytes.Clone(ak))
				}
				for _, ak := range aks {
					if err := tx.Bucket(bAttempts).Delete(ak); err != nil {
						return err
					}
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || !more {
			return total, err
		}
		from = next
	}
}

func (s *Service) pruneLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.logError("webhook deliveries prune", err)
		} else if n > 0 {
			s.log.Info("webhook deliveries pruned", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
