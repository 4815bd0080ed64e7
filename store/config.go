package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// bucketOf maps a collection to its bucket, rejecting unknown names.
func bucketOf(c Collection) ([]byte, error) {
	switch c {
	case Channels:
		return bChannels, nil
	case APIKeys:
		return bAPIKeys, nil
	case Webhooks:
		return bWebhooks, nil
	}
	return nil, fmt.Errorf("config collection %q: %w", c, ErrInvalid)
}

// PutConfig creates or replaces a record. The value must be valid JSON; its
// shape is the server's business.
func (b *Bolt) PutConfig(ctx context.Context, c Collection, id string, value json.RawMessage) error {
	bk, err := bucketOf(c)
	if err != nil {
		return err
	}
	if err := checkID(string(c), id); err != nil {
		return err
	}
	if !json.Valid(value) {
		return fmt.Errorf("%s %q: value is not valid JSON: %w", c, id, ErrInvalid)
	}
	v := bytes.Clone(value)
	return b.update(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bk).Put([]byte(id), v) })
}

// GetConfig returns one record's JSON.
func (b *Bolt) GetConfig(ctx context.Context, c Collection, id string) (json.RawMessage, error) {
	bk, err := bucketOf(c)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bk).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%s %q: %w", c, id, ErrNotFound)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// ListConfig returns every record of a collection ordered by id.
// Configuration is small, so there is no paging.
func (b *Bolt) ListConfig(ctx context.Context, c Collection) ([]ConfigRecord, error) {
	bk, err := bucketOf(c)
	if err != nil {
		return nil, err
	}
	var out []ConfigRecord
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bk).ForEach(func(k, v []byte) error {
			out = append(out, ConfigRecord{ID: string(k), Value: bytes.Clone(v)})
			return nil
		})
	})
	return out, err
}

// DeleteConfig removes a record; ErrNotFound if there was none.
func (b *Bolt) DeleteConfig(ctx context.Context, c Collection, id string) error {
	bk, err := bucketOf(c)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		bkt := tx.Bucket(bk)
		if bkt.Get([]byte(id)) == nil {
			return fmt.Errorf("%s %q: %w", c, id, ErrNotFound)
		}
		return bkt.Delete([]byte(id))
	})
}
