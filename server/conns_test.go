//go:build unix

package server

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// connPair is a keptConn on the server's end of a loopback TCP connection,
// as the listener makes it once a request has been read, and the client's
// end.
func connPair(t *testing.T) (*keptConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	kc := &keptConn{Conn: c, u: &unusedConns{}, raw: raw}
	kc.used.Store(true)
	t.Cleanup(func() { kc.Close() })
	deadline := time.Now().Add(time.Minute)
	_ = c.SetDeadline(deadline)
	_ = client.SetDeadline(deadline)
	return kc, client.(*net.TCPConn)
}

// A reply held for the next read reaches the client before that read
// waits, and the read then returns what the client sends.
func TestHeldReplyWrittenByRead(t *testing.T) {
	kc, client := connPair(t)
	kc.later = true
	if n, err := kc.Write([]byte("reply one")); n != 9 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	read := make(chan string, 1)
	go func() {
		p := make([]byte, 64)
		n, err := kc.Read(p)
		if err != nil {
			read <- "error: " + err.Error()
			return
		}
		read <- string(p[:n])
	}()
	got := make([]byte, 9)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "reply one" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if _, err := client.Write([]byte("request two")); err != nil {
		t.Fatal(err)
	}
	if r := <-read; r != "request two" {
		t.Fatalf("server read %q", r)
	}
}

// A reply written in parts goes out in order: the held first part with the
// second, and one longer than replyLater at once.
func TestHeldReplyInParts(t *testing.T) {
	kc, client := connPair(t)
	kc.later = true
	for _, part := range []string{"first ", "second ", "third"} {
		if _, err := kc.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len("first second third"))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "first second third" {
		t.Fatalf("client read %q, %v", got, err)
	}

	kc.later = true
	long := bytes.Repeat([]byte("x"), replyLater+1)
	if _, err := kc.Write(long); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(long))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, long) {
		t.Fatalf("client read %d bytes, %v", len(got), err)
	}
}

// Close writes a held reply before the connection ends (a reply with
// Connection: close).
func TestHeldReplyWrittenByClose(t *testing.T) {
	kc, client := connPair(t)
	kc.later = true
	if _, err := kc.Write([]byte("last reply")); err != nil {
		t.Fatal(err)
	}
	if err := kc.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "last reply" {
		t.Fatalf("client read %q, %v", got, err)
	}
}

// A held reply the socket cannot take at once, its buffers full because
// the client has not read, is finished once the client reads, and in
// order.
func TestHeldReplyToFullSocket(t *testing.T) {
	kc, client := connPair(t)
	// Fill the socket's buffers with what the client does not read yet.
	var filled int
	if err := kc.raw.Write(func(fd uintptr) bool {
		chunk := bytes.Repeat([]byte("f"), 64<<10)
		for {
			n, err := syscall.Write(int(fd), chunk)
			if n > 0 {
				filled += n
			}
			if err != nil {
				return true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	kc.later = true
	reply := bytes.Repeat([]byte("r"), 8<<10)
	if _, err := kc.Write(reply); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		p := make([]byte, 64)
		n, err := kc.Read(p)
		if err == nil && string(p[:n]) != "next" {
			err = io.ErrUnexpectedEOF
		}
		read <- err
	}()
	got := make([]byte, filled+len(reply))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[filled:], reply) || bytes.IndexByte(got[:filled], 'r') >= 0 {
		t.Fatalf("the reply did not follow the %d bytes before it", filled)
	}
	if _, err := client.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("server read: %v", err)
	}
}
