//go:build !unix

package store

import (
	"errors"
	"os"
)

// mapFile is not used on this platform: checkPages reads the pages with
// ReadAt.
func mapFile(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}
