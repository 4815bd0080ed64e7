//go:build unix

package sockwrite

import "syscall"

// Supported reports whether Write can be used on this system.
const Supported = true

// Write writes b to the non-blocking descriptor fd: it returns
// syscall.EAGAIN when the socket's buffer is full.
func Write(fd uintptr, b []byte) (int, error) {
	return syscall.Write(int(fd), b)
}
