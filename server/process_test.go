package server

import (
	"bytes"
	"encoding/json"
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
)

// buildServer builds the `parley serve` test binary.
func buildServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command(goBin, "build", "-o", bin, "./testdata/parleyserve")
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
	stderr *bytes.Buffer
	base   string
}

// startServer runs `parley serve` and waits until it answers /healthz.
func startServer(t *testing.T, bin, addr, dir string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", dir, "--log-format", "json")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &stderr, base: "http://" + addr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	exited := make(chan error, 1)
	go func() { exited <- nil }()
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if i > 600 {
			t.Fatalf("server did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
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
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()

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

	// SIGTERM shuts down gracefully: exit status 0.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, second.stderr.String())
	}
}
