package main

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/parleyhq/parley/server"
)

// serverGCPercent is the garbage collector's target for the server unless
// GOGC is set: a turn allocates much short-lived memory while the live heap
// stays small (sessions live in the store), so collecting at 200% rather than
// Go's 100% costs a few more MiB and saves 6-9% of the CPU per message
// (docs/PERFORMANCE.md).
const serverGCPercent = 200

// serverRuntime applies the server's garbage collector target and number of
// Ps unless the operator chose them with GOGC and GOMAXPROCS.
func serverRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	cur := runtime.GOMAXPROCS(0)
	if n := serverProcs(os.Getenv("GOMAXPROCS"), cur, runtime.NumCPU()); n != cur {
		runtime.GOMAXPROCS(n)
	}
}

// serverProcs is the server's GOMAXPROCS: one more than the CPUs when Go's
// default is all of them. Turns wait for one goroutine, the store's
// committer, which spends much of its time in fdatasync and pwrite; coming
// back from them it needs a free P like any other goroutine, and with one P
// per CPU it often queues behind the turns it is to commit. With a spare P
// the kernel runs it as soon as it wakes: on two cores the turn latency's
// p99 at 2,500-4,000 messages/s was lower in 19 of 22 alternating pairs,
// throughput unchanged (docs/PERFORMANCE.md). Left alone when GOMAXPROCS is set, and when Go's
// default is below the CPU count (a container's CPU quota), where a P more
// than the quota would be throttled.
func serverProcs(env string, cur, ncpu int) int {
	if env != "" || cur != ncpu {
		return cur
	}
	return ncpu + 1
}

// serve runs the HTTP server; server.Main parses the flags (parley serve --help).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	serverRuntime()
	return server.Main(ctx, args, stdout, stderr)
}
