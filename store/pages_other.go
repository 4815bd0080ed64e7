//go:build !unix

package store

import (
	"errors"
	"os"

	"go.etcd.io/bbolt"
)

// mapFile is not used on this platform: checkPages reads the pages with
// ReadAt.
func mapFile(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}

// releaseMapped does nothing on this platform.
func releaseMapped(*bbolt.DB, int64) {}
