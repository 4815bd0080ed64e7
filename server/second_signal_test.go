//go:build unix

package server

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// TestSecondSignalEndsTheGrace: parley serve stopped with SIGTERM (or
// Ctrl-C) waits for the turns in flight and answers them; a second signal
// ends that wait at once, as an operator who does not want to wait for a
// stuck webhook expects: the request still running is cut short, the store
// is closed and the exit status is 1, the log saying why. The context
// given to Main ends with the first signal, as parley's main gives it.
func TestSecondSignalEndsTheGrace(t *testing.T) {
	for _, signals := range []int{1, 2} {
		t.Run(strings.Repeat("SIGTERM ", signals), func(t *testing.T) {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			st := startBusy(t, ctx)
			logs, code, waitLog, busy, release := st.logs, st.code, st.waitLog, st.busy, st.release

			if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitLog(regexp.MustCompile(`shutting down: finishing turns in flight`))
			if signals == 1 {
				close(release) // the webhook answers: the turn finishes and is answered
				answer, err := http.ReadResponse(bufio.NewReader(busy), nil)
				if err != nil || answer.StatusCode != http.StatusCreated {
					t.Errorf("the request in flight at the signal: %v %v, want its answer, 201", answer, err)
				}
				if c := <-code; c != 0 || strings.Contains(logs.String(), "second signal") {
					t.Errorf("exit status %d after one signal, want 0 and no cut:\n%s", c, logs.String())
				}
				return
			}
			defer close(release)
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if c := <-code; c != 1 {
				t.Errorf("exit status %d after a second signal cut a request short, want 1", c)
			}
			l := logs.String()
			for _, want := range []string{`msg="second signal: the shutdown ends now`, `requests=1`, `msg="store closed"`, `requests still running were cut short`} {
				if !strings.Contains(l, want) {
					t.Errorf("the log has no %s:\n%s", want, l)
				}
			}
		})
	}
}

// TestShutdownGraceCoversTheTurnTimeout: with a --turn-timeout longer than
// the 30 s a stop waits at least, a turn whose webhook answers after those
// 30 s, within its turn timeout, still finishes at a stop and is answered:
// the grace is the turn timeout and 5 s more, as the shutting down line
// says. The 30 s are made short here, so that the test need not wait them.
func TestShutdownGraceCoversTheTurnTimeout(t *testing.T) {
	defer func(d time.Duration) { minShutdownGrace = d }(minShutdownGrace)
	minShutdownGrace = 100 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	st := startBusy(t, ctx, "--turn-timeout", "1m", "--webhook-timeout", "1m")
	logs, code, waitLog, busy, release := st.logs, st.code, st.waitLog, st.busy, st.release

	stop() // as SIGTERM does
	if m := waitLog(regexp.MustCompile(`shutting down: finishing turns in flight.* grace=(\S+)`)); m[1] != "1m5s" {
		t.Errorf("the shutting down line gives grace=%s, want 1m5s (--turn-timeout 1m and 5 s)", m[1])
	}
	// Past the shortened minimum: a grace of that alone would have cut
	// the request short by now.
	time.Sleep(time.Second)
	close(release)
	_ = busy.SetReadDeadline(time.Now().Add(30 * time.Second))
	answer, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || answer.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight at the stop: %v %v, want its answer, 201", answer, err)
	}
	if c := <-code; c != 0 || strings.Contains(logs.String(), "shutdown grace ended") {
		t.Errorf("exit status %d, want 0 and no request cut short:\n%s", c, logs.String())
	}
}

// busyServer is a server run by Main with one request in flight, its turn
// waiting for a webhook until release is closed.
type busyServer struct {
	logs    *syncbuf.Buffer
	code    chan int // Main's exit status
	busy    net.Conn // the connection of the request in flight
	release chan struct{}
	waitLog func(*regexp.Regexp) []string
}

// startBusy runs Main until ctx ends, with extra flags, and starts a
// session whose first turn calls a webhook that answers only once release
// is closed; it returns once that call is made.
func startBusy(t *testing.T, ctx context.Context, extra ...string) *busyServer {
	t.Helper()
	url, _, called, release := blockingHook(t)
	b := &busyServer{logs: &syncbuf.Buffer{}, code: make(chan int, 1), release: release}
	args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--allow-cidr", "127.0.0.1/32"}, extra...)
	go func() { b.code <- Main(ctx, args, &bytes.Buffer{}, b.logs) }()
	b.waitLog = func(re *regexp.Regexp) []string {
		t.Helper()
		for range 1000 {
			if m := re.FindStringSubmatch(b.logs.String()); m != nil {
				return m
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("the log has no %s:\n%s", re, b.logs.String())
		return nil
	}
	addr := b.waitLog(regexp.MustCompile(`parley listening.* addr=(\S+)`))[1]
	resp, err := http.Post("http://"+addr+"/v1/flows", "application/json", strings.NewReader(hookNowFlow(url)))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/flows: %v %v", resp, err)
	}
	resp.Body.Close()
	b.busy = dialer(t, addr)()
	rawRequest(t, b.busy, "POST", "/v1/sessions", `{"flow":"hook-now","contact":{"urn":"tel:+15555550100"}}`)
	<-called // the turn waits for the webhook
	return b
}
