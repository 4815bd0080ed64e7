// Package sockwrite writes to a socket's descriptor from inside
// syscall.RawConn's Read, where the server and the load generator write a
// reply or a request before waiting for the answer (see server/conns.go).
// Only Unix systems have a descriptor that a plain write(2) takes; elsewhere
// Supported is false and callers write through the net.Conn.
package sockwrite
