package server

import (
	"bytes"
	"encoding/binary"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
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
	return jsonObjectReply(http.Post(p.base+path, "application/json", bytes.NewReader(b)))
}

func (p *proc) get(path string) (int, map[string]any, error) {
	return jsonObjectReply(http.Get(p.base + path))
}

// jsonObjectReply reads resp's status and JSON object.
func jsonObjectReply(resp *http.Response, err error) (int, map[string]any, error) {
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

// flowVar is the value of the flow variable name in a session as GET
// /v1/sessions/{id} shows it.
func flowVar(session map[string]any, name string) any {
	vars, _ := session["variables"].(map[string]any)
	fl, _ := vars["flow"].(map[string]any)
	v, _ := fl[name].(map[string]any)
	return v["value"]
}

// freePages makes the store file in dir have more free pages than
// store.FragmentedFreePages, as deleting and pruning much data leaves it,
// so that the server's commits do not write bbolt's list of free pages
// and a stop without closing the store leaves none on file.
func freePages(t *testing.T, dir string) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, DBFile), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	filler := []byte("filler")
	value := bytes.Repeat([]byte{'x'}, 3800) // one page each
	pages := store.FragmentedFreePages * 5 / 4
	for i := 0; i < pages; i += 2000 {
		err := st.DB().Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(filler)
			if err != nil {
				return err
			}
			bk.FillPercent = 1
			for j := i; j < min(i+2000, pages); j++ {
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, uint64(j)), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DB().Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(filler) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkStoreFile runs parley compact on a copy of the store file in dir,
// which must report no damage: no page, session, event log value or
// contact that does not read.
func checkStoreFile(t *testing.T, bin, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	if err := os.WriteFile(filepath.Join(cp, DBFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "compact", "--data", cp, "--no-backup").CombinedOutput(); err != nil {
		t.Errorf("parley compact of the file the server left: %v\n%s", err, out)
	}
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

// SIGTERM while sessions start and answer: the server finishes the turns
// under way, closes the store and exits 0; every turn it answered is
// stored. Its store file has many free pages, so its commits did not write
// bbolt's list of them: the stop writes it, and the restart does not
// rebuild it by reading the whole file.
func TestTermUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	freePages(t, dir)
	addr := freePort(t)

	first := startServer(t, bin, addr, dir)
	if code, m, err := first.post("/v1/flows", json.RawMessage(askFlow)); err != nil || code != 201 {
		t.Fatalf("create flow: %d %v %v", code, m, err)
	}
	if free := metric(t, first, "parley_store_free_bytes"); free < store.FragmentedFreePages*4096 {
		t.Fatalf("the store has %v free bytes, want %d free pages or more for commits that do not write their list", free, store.FragmentedFreePages)
	}

	// Each worker starts sessions and answers them until the server stops
	// answering; the SIGTERM comes after 400 answers.
	type answer struct {
		id, status, name string
	}
	var (
		mu      sync.Mutex
		answers []answer
		n       atomic.Int64
		term    sync.Once
		wg      sync.WaitGroup
	)
	answered := func(a answer) {
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
		if n.Add(1) == 400 {
			term.Do(func() { _ = first.cmd.Process.Signal(syscall.SIGTERM) })
		}
	}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				name := fmt.Sprintf("w%d-%d", w, k)
				code, m, err := first.post("/v1/sessions", map[string]any{
					"flow": "ask", "contact": map[string]any{"urn": fmt.Sprintf("tel:+1%03d%06d", w, k)},
				})
				if err != nil || code != 201 {
					return
				}
				id, _ := m["id"].(string)
				answered(answer{id: id, status: "waiting"})
				code, m, err = first.post("/v1/sessions/"+id+"/resume", map[string]any{"text": name})
				if err != nil || code != 200 {
					return
				}
				if m["status"] != "completed" {
					t.Errorf("resume of %s: %v", id, m)
					return
				}
				answered(answer{id: id, status: "completed", name: name})
			}
		}()
	}
	wg.Wait()
	<-first.done
	if first.err != nil {
		t.Errorf("after SIGTERM under load: %v\n%s", first.err, first.stderr.String())
	}
	if log := first.stderr.String(); !strings.Contains(log, `"msg":"store closed"`) || strings.Contains(log, "shutdown grace ended") {
		t.Errorf("the server did not drain and close its store:\n%s", log)
	}
	t.Logf("SIGTERM after 400 answers, %d answered in all", len(answers))

	second := startServer(t, bin, addr, dir)
	if strings.Contains(second.stderr.String(), "rebuilt by reading the file") {
		t.Errorf("the restart after SIGTERM rebuilt the list of free pages:\n%s", second.stderr.String())
	}
	lost := 0
	for _, a := range answers {
		code, m, err := second.get("/v1/sessions/" + a.id)
		ok := err == nil && code == 200 && (m["status"] == a.status || a.status == "waiting" && m["status"] == "completed")
		if ok && a.status == "completed" {
			ok = flowVar(m, "name") == a.name
		}
		if !ok {
			if lost++; lost <= 5 {
				t.Errorf("session %s, answered %s before the SIGTERM: %d %v %v", a.id, a.status, code, m, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d answered turns were not stored", lost, len(answers))
	}
}

// metric reads one unlabelled series of the server's /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
