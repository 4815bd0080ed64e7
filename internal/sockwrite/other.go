//go:build !unix

package sockwrite

import "errors"

// Supported reports whether Write can be used on this system.
const Supported = false

// Write is not used where Supported is false.
func Write(fd uintptr, b []byte) (int, error) {
	return 0, errors.ErrUnsupported
}
