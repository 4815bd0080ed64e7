package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/syncbuf"
)

// buildServer builds the parley binary.
func buildServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command(goBin, "build", "-o", bin, "../cmd/parley")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	base   string
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, valid after done
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-p.done
	return p.err
}

// startServer runs `parley serve` (with extra flags) and waits until it answers /healthz.
func startServer(t *testing.T, bin, addr, dir string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--data", dir, "--log-format", "json"}, extra...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &proc{cmd: cmd, stderr: &syncbuf.Buffer{}, base: "http://" + addr, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("server exited before answering: %v\n%s", p.err, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *proc) post(path string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(p.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: %w", raw, err)
	}
	return resp.StatusCode, m, nil
}

// parallel runs fn(i) for i in [0,n) on a few workers.
func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// A thousand waiting sessions survive a SIGKILL: after a restart on the same
// data directory each resumes and completes with its own variables.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	const n = 1000
	bin := buildServer(t)
	dir := t.TempDir()
	addr := freePort(t)

	first := startServer(t, bin, addr, dir)
	if code, m, err := first.post("/v1/flows", json.RawMessage(askFlow)); err != nil || code != 201 {
		t.Fatalf("create flow: %d %v %v", code, m, err)
	}
	ids := make([]string, n)
	began := time.Now()
	parallel(n, 16, func(i int) {
		code, m, err := first.post("/v1/sessions", map[string]any{
			"flow": "ask", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1%06d", i)},
			"variables": map[string]any{"code": fmt.Sprint(i), "greeting": "g"},
		})
		if err != nil || code != 201 || m["status"] != "waiting" {
			t.Errorf("start %d: %d %v %v", i, code, m, err)
			return
		}
		ids[i] = m["id"].(string)
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("started %d sessions in %v", n, time.Since(began))
	_ = first.stop(t, syscall.SIGKILL)

	began = time.Now()
	second := startServer(t, bin, addr, dir)
	t.Logf("restarted in %v", time.Since(began))
	began = time.Now()
	var mu sync.Mutex
	failures := 0
	parallel(n, 16, func(i int) {
		code, m, err := second.post("/v1/sessions/"+ids[i]+"/resume", map[string]any{"text": fmt.Sprintf("name%d", i)})
		want := fmt.Sprintf("Bye name%d, code %d", i, i)
		if err != nil || code != 200 || m["status"] != "completed" || len(texts(m)) != 1 || texts(m)[0] != want {
			mu.Lock()
			failures++
			if failures <= 5 {
				t.Errorf("resume %d: %d %v %v, want %q", i, code, m, err, want)
			}
			mu.Unlock()
		}
	})
	t.Logf("resumed %d sessions in %v", n, time.Since(began))
	if failures > 0 {
		t.Fatalf("%d of %d sessions did not complete after the restart", failures, n)
	}

	// SIGTERM shuts down gracefully: exit status 0. Connections a client
	// opened and did not use are closed at once, not kept until they time
	// out, and the last line logged says the server has stopped, after its
	// store was closed.
	var unused []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		unused = append(unused, c)
	}
	if err := second.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, second.stderr.String())
	}
	for i, c := range unused {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 512)); n != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("unused connection %d after SIGTERM: read %d bytes, %v; want it closed without an answer", i, n, err)
		}
	}
	lines := strings.Split(strings.TrimSpace(second.stderr.String()), "\n")
	var msgs []string
	for _, l := range lines[max(0, len(lines)-3):] {
		var rec struct{ Msg string }
		_ = json.Unmarshal([]byte(l), &rec)
		msgs = append(msgs, rec.Msg)
	}
	if len(msgs) < 2 || msgs[len(msgs)-2] != "store closed" || msgs[len(msgs)-1] != "parley stopped" {
		t.Errorf("the log after SIGTERM ends with %q, want \"store closed\" then \"parley stopped\"", msgs)
	}
}
