package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/store"
)

// backupRoutes adds GET /v1/backup: a consistent copy of the store file,
// streamed while turns go on.
func (s *Server) backupRoutes(v1 fiber.Router) {
	v1.Get("/backup", s.backup)
}

// backup answers the store file as it is when the request comes, from one
// read transaction held while the copy streams (store.Snapshot). Its size
// is known first, so the answer has a Content-Length: a client that gets
// fewer bytes knows the copy is not whole. The copy is written after the
// handler returns, by fasthttp's stream writer, so a large file is never
// held in memory; a failure then can only cut the body short.
func (s *Server) backup(c *fiber.Ctx) error {
	b, ok := s.store.(*store.Bolt)
	if !ok {
		return apiErr(fiber.StatusNotImplemented, "not_available", "", "backups need the built-in store")
	}
	snap, err := b.Snapshot(c.UserContext())
	if err != nil {
		return apiErr(fiber.StatusServiceUnavailable, CodeUnavailable, "", "backup: %v", err)
	}
	size := snap.Size()
	name := "parley-" + s.cfg.Now().UTC().Format("20060102T150405Z") + ".db"
	c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	if c.Method() == fiber.MethodHead {
		_ = snap.Close()
		c.Response().Header.SetContentLength(int(size))
		c.Response().SkipBody = true
		return nil
	}

	run := s.backups.add(c.Context().Conn())
	log := s.reqLog(c)
	// The connection's write deadline (the server's WriteTimeout) is set
	// once for the whole answer; it is moved on before each part of the
	// copy, to BackupStall from then, so that a client that stops reading
	// is dropped that soon: until then, the snapshot's read transaction
	// holds up any commit that needs the file mapped larger.
	stall := s.cfg.BackupStall
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		start := time.Now()
		run.extend(time.Now().Add(stall))
		n, err := snap.Copy(run.ctx, &progressWriter{w: w, run: run, timeout: stall})
		if err == nil {
			err = w.Flush()
		}
		// Counted before the transaction ends, so that whoever sees it
		// ended sees the backup counted.
		if elapsed := time.Since(start); err != nil {
			err = run.cause(err, stall)
			s.metrics.backup("failed")
			log.Warn("backup not completed", "bytes", n, "size", size, "elapsed", elapsed, "err", err)
		} else {
			s.metrics.backup("ok")
			log.Info("backup", "bytes", n, "elapsed", elapsed, "file", name)
		}
		_ = snap.Close()
		s.backups.remove(run)
	})
	// SetBodyStreamWriter answers chunked; the size makes it a fixed
	// Content-Length.
	c.Response().Header.SetContentLength(int(size))
	return nil
}

// backupRuns are the backups whose copy is under way, so that a shutdown
// whose grace has run out can end them: the store waits for their read
// transactions before it closes.
type backupRuns struct {
	mu   sync.Mutex
	runs map[*backupRun]struct{}
}

type backupRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	conn   net.Conn

	mu       sync.Mutex
	ended    bool
	deadline time.Time // the connection's write deadline, as last moved
}

// cause says why a copy that failed ended, where the connection's error
// does not: the client took none of it for the stall timeout (the write
// deadline passed), or a shutdown ended it. A client that went away
// keeps the connection's own error.
func (run *backupRun) cause(err error, stall time.Duration) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	switch {
	case run.ended:
		return fmt.Errorf("the server's shutdown ended it: %w", err)
	case !run.deadline.IsZero() && !time.Now().Before(run.deadline):
		return fmt.Errorf("the client took none of the copy for %s (--backup-stall-timeout): %w", stall, err)
	}
	return err
}

func (r *backupRuns) add(conn net.Conn) *backupRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &backupRun{ctx: ctx, cancel: cancel, conn: conn}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[*backupRun]struct{}{}
	}
	r.runs[run] = struct{}{}
	return run
}

func (r *backupRuns) remove(run *backupRun) {
	run.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.runs, run)
}

// abort ends every backup under way: its copy fails at its next write,
// and a write waiting for a client that does not read fails at once.
func (r *backupRuns) abort() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for run := range r.runs {
		run.cancel()
		run.mu.Lock()
		run.ended = true
		if run.conn != nil {
			_ = run.conn.SetWriteDeadline(time.Now())
		}
		run.mu.Unlock()
	}
	return len(r.runs)
}

// extend moves the connection's write deadline to d, unless the backup
// was aborted.
func (run *backupRun) extend(d time.Time) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if !run.ended && run.conn != nil {
		_ = run.conn.SetWriteDeadline(d)
		run.deadline = d
	}
}

// progressWriter moves the write deadline of a backup's connection on
// before each part of the copy (bbolt writes 32 KiB at a time), to timeout
// from then: a write that waits longer for the client fails, and with it
// the copy.
type progressWriter struct {
	w       io.Writer
	run     *backupRun
	timeout time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if p.timeout > 0 {
		p.run.extend(time.Now().Add(p.timeout))
	}
	return p.w.Write(b)
}
