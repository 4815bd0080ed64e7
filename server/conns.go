package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/parleyhq/parley/internal/sockwrite"
)

// unusedConns keeps the connections on which the client has not sent a
// byte yet, so that a shutdown can close them at once. fasthttp's own
// shutdown closes the connections that are idle between two requests, but
// counts one that has not carried a request yet as busy from the moment it
// is accepted and waits for it until the read timeout (10 s). HTTP clients
// open such connections ahead of need (Go's transport keeps the ones it
// dialled and did not use), and a shutdown is not to wait for them.
type unusedConns struct {
	// down is set when the shutdown begins; requests read it without the
	// lock, add and listen under it.
	down  atomic.Bool
	mu    sync.Mutex
	lns   []*keptListener
	conns map[*keptConn]struct{}
}

// listen wraps ln so that its connections are kept until they are used,
// each keeping up to headLimit bytes of the request it is reading (see
// keptConn.head); ok is false once the shutdown has begun (ln is then
// closed).
func (u *unusedConns) listen(ln net.Listener, headLimit int) (_ net.Listener, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down.Load() {
		_ = ln.Close()
		return nil, false
	}
	kl := &keptListener{Listener: ln, u: u, headLimit: headLimit}
	u.lns = append(u.lns, kl)
	return kl, true
}

// shutdown stops the listeners, so that no connection comes after, and
// closes the connections no request has begun on; a client that sends its
// first request as it closes sees the connection closed before any answer,
// as on any keep-alive connection a server closes, and may send it again.
func (u *unusedConns) shutdown() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.down.Store(true)
	for _, l := range u.lns {
		_ = l.Close()
	}
	for c := range u.conns {
		c.closed = true
		_ = c.Conn.Close()
	}
	clear(u.conns)
}

// add keeps a new connection; false once the shutdown has begun.
func (u *unusedConns) add(c *keptConn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down.Load() {
		return false
	}
	if u.conns == nil {
		u.conns = map[*keptConn]struct{}{}
	}
	u.conns[c] = struct{}{}
	return true
}

// begin forgets c once a first byte has come: from then on it is fasthttp's
// to close. It is false when the shutdown closed c before.
func (u *unusedConns) begin(c *keptConn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.conns, c)
	return !c.closed
}

// keptListener registers the connections it accepts.
type keptListener struct {
	net.Listener
	u         *unusedConns
	headLimit int
	once      sync.Once
	err       error
}

func (l *keptListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		kc := &keptConn{Conn: c, u: l.u, headLimit: l.headLimit}
		if sc, ok := c.(syscall.Conn); ok && sockwrite.Supported {
			kc.raw, _ = sc.SyscallConn()
		}
		if l.u.add(kc) {
			return kc, nil
		}
		_ = c.Close() // accepted as the shutdown began
	}
}

// Close closes the listener once: both the shutdown and fasthttp's own
// close it, and fasthttp gives up its shutdown on an error from Close.
func (l *keptListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// keptConn is a connection kept in unusedConns until its first byte.
type keptConn struct {
	net.Conn
	u *unusedConns
	// used is set by the goroutine that reads the connection at its first
	// byte; closed is set and read under u.mu.
	used   atomic.Bool
	closed bool
	// head holds the first headLimit bytes of the request being read:
	// its line and headers, and the start of its body. fasthttp forgets a
	// request it refuses before routing it (headers that do not parse, a
	// body over the limit or that stalls past the read timeout), and the
	// error handler reports it from these (readFailed). A request line and
	// headers over headLimit are refused (431) anyway. read counts every
	// byte read of the request, beyond head too. Only the goroutine
	// serving the connection uses them: it reads, routes and answers in
	// turn.
	head      []byte
	read      int
	headLimit int
	// lost is set once the connection cannot tell where the request being
	// read starts: the next request came in the same read as the end of
	// a chunked one, or of one longer than head holds (pipelined). Its
	// bytes are then neither kept nor read back, for the rest of the
	// connection: taken from the middle of a request, a header's value
	// (an API key) would read as its method and path.
	lost bool

	// A reply is written by the read that waits for the next request
	// (replyLater). raw is the connection's descriptor (nil: replies are
	// written at once); later is set by tookRequest and cleared by the
	// next write. pending is a reply not written yet, set and taken under
	// mu, as Close, called by fasthttp's shutdown from another goroutine,
	// writes it too.
	raw     syscall.RawConn
	later   bool
	mu      sync.Mutex
	pending []byte
	// The state of one readReplied, used only by the goroutine serving the
	// connection: onReadable is writePending, bound once; sent counts the
	// bytes of pending written; locked is whether mu is still held; werr
	// is a write's error other than a full socket.
	onReadable func(fd uintptr) bool
	sent       int
	locked     bool
	werr       error
}

// keep adds what was read to head, up to headLimit.
func (c *keptConn) keep(b []byte) {
	c.read += len(b)
	if room := c.headLimit - len(c.head); room > 0 && len(b) > 0 && !c.lost {
		c.head = append(c.head, b[:min(room, len(b))]...)
	}
}

// tookRequest is called once the router has a request, read whole. What
// was read beyond it is the start of the connection's next request, sent
// before the answer (pipelined): it is kept as the start of head when head
// holds it and the request's length as sent is known, and the connection is
// lost otherwise. A head grown by a large request is let go, so an idle
// connection keeps little.
func (c *keptConn) tookRequest() {
	var next []byte
	switch n := parseHead(c.head).length; {
	case n == c.read: // nothing of the next request was read
	case n >= 0 && n < c.read && c.read <= len(c.head):
		next = c.head[n:c.read]
	default:
		c.lost = true
	}
	if cap(c.head) > keptHeadCap {
		c.head = append([]byte(nil), next...)
	} else {
		c.head = c.head[:copy(c.head, next)]
	}
	c.read = len(next)
	c.later = c.raw != nil
}

// keptHeadCap is the most a connection keeps of head between requests.
const keptHeadCap = 8 << 10

// replyLater is the most of a reply that waits for the next read: a
// reply fasthttp writes in one piece (its write buffer holds 4 KiB).
const replyLater = 16 << 10

// Write holds the first write of a reply, when the reply fits in one
// (replyLater), for the read that follows it. Once a request is answered,
// fasthttp reads the next one at once: a read from the socket that finds
// nothing, as the client has not had the reply, and then a wait for the
// socket. Each is a system call, among the costliest parts of a turn on a
// virtual machine, and the empty read is saved by writing the reply from
// inside that wait, after it has been readied and before it begins, where
// no wake-up is missed (readReplied). A reply written in several parts
// (a backup's stream) has its first part written with its second, and the
// rest at once; Close writes a reply still held.
func (c *keptConn) Write(b []byte) (int, error) {
	if !c.later {
		if err := c.writeHeld(); err != nil {
			return 0, err
		}
		return c.Conn.Write(b)
	}
	c.later = false
	if len(b) > replyLater {
		return c.Conn.Write(b)
	}
	c.mu.Lock()
	c.pending = append(c.pending[:0], b...)
	c.mu.Unlock()
	return len(b), nil
}

// writeHeld writes the reply Write held, if any.
func (c *keptConn) writeHeld() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.pending)
	c.pending = c.pending[:0]
	return err
}

// readReplied writes the reply Write held and reads the next request: the
// reply is written from the raw connection's read, once that has readied
// its wait for the socket, then the read waits for the socket to have
// something and reads it. A reply the socket does not take whole at once
// is finished by the connection's Write, which waits for room until the
// write deadline.
func (c *keptConn) readReplied(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return c.Conn.Read(p)
	}
	c.sent, c.locked, c.werr = 0, true, nil
	if c.onReadable == nil {
		c.onReadable = c.writePending
	}
	err := c.raw.Read(c.onReadable)
	if c.locked {
		// Not written whole: the socket's buffer was full, or the read
		// failed before the write was tried.
		werr := c.werr
		if werr == nil {
			_, werr = c.Conn.Write(c.pending[c.sent:])
		}
		c.pending = c.pending[:0]
		c.locked, c.werr = false, nil
		c.mu.Unlock()
		if werr != nil {
			return 0, werr
		}
	}
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// writePending is readReplied's function for the raw connection's Read,
// made once per connection (onReadable): it writes the pending reply,
// under mu, then lets the read wait. Its state is in sent, locked and werr.
func (c *keptConn) writePending(fd uintptr) bool {
	if !c.locked {
		return true // readable, or closed: Conn.Read tells which
	}
	for c.sent < len(c.pending) {
		n, err := sockwrite.Write(fd, c.pending[c.sent:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				c.werr = err
			}
			return true
		}
		c.sent += n
	}
	// Written: the lock is let go before the wait, so that a Close from
	// another goroutine does not wait for the next request. A large
	// reply's room is let go, so an idle connection keeps little.
	c.pending = c.pending[:0]
	if cap(c.pending) > keptHeadCap {
		c.pending = nil
	}
	c.locked = false
	c.mu.Unlock()
	return false
}

// Read reports a connection the shutdown closed before its first byte as
// ended by the client (io.EOF), which fasthttp drops without an answer or
// a log line; any other read error would be answered, and logged, as a
// failed request.
func (c *keptConn) Read(p []byte) (int, error) {
	if c.used.Load() {
		n, err := c.readReplied(p)
		c.keep(p[:n])
		return n, err
	}
	n, err := c.Conn.Read(p)
	if n == 0 && err == nil {
		return 0, nil
	}
	if !c.u.begin(c) {
		return 0, io.EOF
	}
	c.used.Store(true)
	if n > 0 && p[0] == tlsHandshake {
		// An https:// URL for this plain HTTP server. fasthttp would wait
		// for a request line until its read timeout and the client for its
		// handshake until its own; an answer in plain HTTP makes the client
		// fail at once (Go's: "server gave HTTP response to HTTPS client").
		_, _ = c.Conn.Write(tlsRefused)
		return 0, io.EOF
	}
	c.keep(p[:n])
	return n, err
}

// tlsHandshake is the first byte of a TLS connection (the record type of its
// ClientHello), which no HTTP request starts with.
const tlsHandshake = 0x16

var tlsRefused = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 76\r\n\r\n" +
	"This Parley server speaks plain HTTP: use http://, or a TLS proxy in front.\n")

func (c *keptConn) Close() error {
	if !c.used.Load() {
		c.u.begin(c) // forget it, closed by the client or fasthttp
	}
	// A reply held by Write is written first, unless the goroutine
	// serving the connection is writing it (the shutdown closes idle
	// connections from a goroutine of its own).
	if c.mu.TryLock() {
		if len(c.pending) > 0 {
			_, _ = c.Conn.Write(c.pending)
			c.pending = c.pending[:0]
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
}
