package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/internal/smalldisk"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
)

const backupTestKey = "backup-key-0123456789"

// backupTarget starts a server with an API key on a loopback port, as
// parley serve runs one (it opens its store in its data directory), and
// returns its URL. It stops at the end of the test.
func backupTarget(t *testing.T) string {
	t.Helper()
	return serveForTest(t, server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		APIKeys: []server.APIKey{{Name: "ops", Key: backupTestKey}},
	})
}

// startConversation sends "hi" from urn to the demo channel of the server
// at base and returns the session id.
func startConversation(t *testing.T, base, from string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/channels/demo/messages", strings.NewReader(`{"from":"`+from+`","text":"hi"}`))
	req.Header.Set("Authorization", "Bearer "+backupTestKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("message: %d %s", resp.StatusCode, raw)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(string(raw), `{"id":"`), `"`)
	return id
}

// parley backup downloads a running server's store to --out, checked, and
// leaves no partial file; the copy opens as a store with the server's
// sessions. An existing --out is replaced only with --force.
func TestBackupCommand(t *testing.T) {
	base := backupTarget(t)
	ids := []string{startConversation(t, base, "+15550001"), startConversation(t, base, "+15550002")}
	out := filepath.Join(t.TempDir(), "parley.db")
	code, stdout, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, out+": ") || !strings.Contains(stdout, "2 sessions") {
		t.Errorf("output %q", stdout)
	}
	if left, _ := filepath.Glob(out + "*.partial"); len(left) > 0 {
		t.Errorf("partial files left: %v", left)
	}
	st, err := store.Open(out, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := st.LoadSession(context.Background(), id); err != nil {
			t.Errorf("session %s: %v", id, err)
		}
	}
	st.Close()
	before, _ := os.ReadFile(out)

	code, _, stderr = runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", out)
	if code != 2 || !strings.Contains(stderr, out+" exists") || !strings.Contains(stderr, "--force") {
		t.Errorf("existing --out: exit %d, %q", code, stderr)
	}
	if now, _ := os.ReadFile(out); string(now) != string(before) {
		t.Errorf("an existing --out was changed without --force")
	}
	startConversation(t, base, "+15550003")
	code, stdout, stderr = runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", out, "--force")
	if code != 0 || !strings.Contains(stdout, "3 sessions") {
		t.Errorf("--force: exit %d, %q %q", code, stdout, stderr)
	}
}

// An --out that is a symbolic link is followed, as parley compact follows
// its store's: with --force the copy replaces the file the link leads to, in
// that file's directory, and the link stays a link. A link that leads to no
// file is refused, naming it and where it leads.
func TestBackupThroughLink(t *testing.T) {
	base := backupTarget(t)
	startConversation(t, base, "+15550001")
	far, near := t.TempDir(), t.TempDir()
	target := filepath.Join(far, "parley.db")
	if err := os.WriteFile(target, []byte("old copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(near, "parley.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", link, "--force")
	if code != 0 || !strings.HasPrefix(stdout, link+": ") {
		t.Fatalf("exit %d, %q %q", code, stdout, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("--out %s is no longer a link: %v %v", link, fi.Mode(), err)
	}
	if dest, _ := os.Readlink(link); dest != target {
		t.Errorf("the link leads to %q, want %q", dest, target)
	}
	st, err := store.Open(target, store.Options{})
	if err != nil {
		t.Fatalf("the file the link leads to is not the copy: %v", err)
	}
	st.Close()
	for _, dir := range []string{far, near} {
		if left, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(left) > 0 {
			t.Errorf("partial files left: %v", left)
		}
	}

	dangling := filepath.Join(near, "gone.db")
	nowhere := filepath.Join(far, "missing.db")
	if err := os.Symlink(nowhere, dangling); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", dangling)
	want := "parley backup: --out: " + dangling + " is a symbolic link to " + nowhere + ", which does not exist"
	if code != 2 || !strings.HasPrefix(stderr, want) {
		t.Errorf("a link to nothing: exit %d, %q; want exit 2 and %q", code, stderr, want)
	}
	if _, err := os.Lstat(nowhere); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was made: %v", nowhere, err)
	}
}

// The copy of a store whose commits do not write bbolt's list of free pages
// (a file with many of them) carries the list, so that a server restored
// from it starts without reading the whole file to rebuild the list.
func TestBackupCarriesFreeList(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, server.DBFile), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A value of store.FragmentedFreePages pages, deleted: as many free
	// pages, from which commits no longer write the list.
	big := make([]byte, store.FragmentedFreePages*4096)
	for _, del := range []bool{false, true} {
		err := st.DB().Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("test-free-pages"))
			if err != nil || del {
				return errors.Join(err, tx.DeleteBucket([]byte("test-free-pages")))
			}
			return bk.Put([]byte("big"), big)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	base := serveForTest(t, server.Config{
		Addr: "127.0.0.1:0", DataDir: dir, Store: st, Logger: slog.New(slog.DiscardHandler),
		APIKeys: []server.APIKey{{Name: "ops", Key: backupTestKey}},
	})
	id := startConversation(t, base, "+15550001")
	out := filepath.Join(t.TempDir(), "parley.db")
	if code, stdout, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	var logs strings.Builder
	restored, err := store.Open(out, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if strings.Contains(logs.String(), "rebuilt") {
		t.Errorf("the backup's copy opened without its list of free pages:\n%s", logs.String())
	}
	if fs := restored.FileStats(); fs.FreeBytes < store.FragmentedFreePages*4096 {
		t.Errorf("the copy has %d free bytes, want the %d of the deleted value", fs.FreeBytes, store.FragmentedFreePages*4096)
	}
	if _, err := restored.LoadSession(context.Background(), id); err != nil {
		t.Errorf("session %s in the copy: %v", id, err)
	}
}

// Each way parley backup cannot be run or cannot finish is named: the
// flag, the URL, the file, the server's answer; usage errors exit 2,
// failures 1, and no partial file is left.
func TestBackupCommandRefuses(t *testing.T) {
	base := backupTarget(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "b.db")
	junkBody := strings.Repeat("not a store file ", 1000)
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(junkBody)))
		_, _ = w.Write([]byte(junkBody))
	}))
	defer junk.Close()
	// An answer cut short: fewer bytes than its Content-Length.
	short := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n0123456789")
		_ = buf.Flush()
	}))
	defer short.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html></html>"))
	}))
	defer page.Close()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"--out", out}, 2, "--url URL is required"},
		{"no out", []string{"--url", base}, 2, "--out FILE is required"},
		{"argument", []string{"--url", base, "--out", out, "extra"}, 2, `unexpected argument "extra"`},
		{"bad scheme", []string{"--url", "ftp://127.0.0.1:8080", "--out", out}, 2, `--url: "ftp://127.0.0.1:8080": the scheme is ftp`},
		{"not a url", []string{"--url", "127.0.0.1:8080", "--out", out}, 2, "--url:"},
		// A password is not shown.
		{"user and password", []string{"--url", "http://u:secretpw@127.0.0.1:8080", "--out", out}, 2, `--url: "http://u:[redacted]@127.0.0.1:8080": give the server's URL without user`},
		{"password, bad scheme", []string{"--url", "ftp://u:secretpw@127.0.0.1:8080", "--out", out}, 2, `--url: "ftp://u:[redacted]@127.0.0.1:8080": the scheme is ftp`},
		{"password, not a url", []string{"--url", "http://u:secretpw@127.0.0.1:8080 x", "--out", out}, 2, `--url: "http://u:[redacted]@127.0.0.1:8080 x" is not a server URL`},
		{"password, no scheme", []string{"--url", "u:secretpw@127.0.0.1:8080", "--out", out}, 2, `--url: "u:[redacted]@127.0.0.1:8080" is not a server URL`},
		{"missing directory", []string{"--url", base, "--out", filepath.Join(dir, "nope", "b.db")}, 2, "the directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"out is a directory", []string{"--url", base, "--out", dir}, 2, dir + " is a directory"},
		{"unknown server", []string{"--url", "http://127.0.0.1:1", "--out", out}, 1, "GET http://127.0.0.1:1/v1/backup: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"no key", []string{"--url", base, "--out", out}, 1, "401 Unauthorized: an API key is required"},
		{"wrong key", []string{"--url", base, "--api-key", "wrong-key-0123456789", "--out", out}, 1, "401 Unauthorized: unknown API key (the server does not know the key given with --api-key)"},
		{"not a store", []string{"--url", junk.URL, "--out", out}, 1, "does not check"},
		{"cut short", []string{"--url", short.URL, "--out", out}, 1, "the download ended after 10 of 100000 bytes: unexpected EOF"},
		{"not parley", []string{"--url", page.URL, "--out", out}, 1, `answered "text/html", not a store file`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "", append([]string{"backup"}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "secretpw") {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if c.code == 2 && !strings.Contains(stderr, "Usage: parley backup") && !strings.HasPrefix(stderr, "parley backup: --") {
				t.Errorf("a usage error without the usage or the flag: %q", stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s is left: %v", out, err)
			}
			if left, _ := filepath.Glob(out + "*.partial"); len(left) > 0 {
				t.Errorf("partial files left: %v", left)
			}
		})
	}
}

// --force does not replace the store file of a running server, which would
// go on writing to the replaced file and lose every later write.
func TestBackupRefusesRunningStore(t *testing.T) {
	dir := t.TempDir()
	base := serveForTest(t, server.Config{
		Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		APIKeys: []server.APIKey{{Name: "ops", Key: backupTestKey}},
	})
	live := filepath.Join(dir, "parley.db")
	before, err := os.Stat(live)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", live, "--force")
	if code != 2 || !strings.Contains(stderr, live+" is the store of a running parley serve") || stdout != "" {
		t.Errorf("--out the running store: exit %d, %q %q", code, stdout, stderr)
	}
	if after, err := os.Stat(live); err != nil || !os.SameFile(before, after) {
		t.Errorf("the running store was replaced: %v", err)
	}
	if left, _ := filepath.Glob(live + "*.partial"); len(left) > 0 {
		t.Errorf("partial files left: %v", left)
	}
	// A store no process has open is replaced, as any file with --force.
	idle := filepath.Join(t.TempDir(), "idle.db")
	st, err := store.Open(idle, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, _, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", idle, "--force"); code != 0 {
		t.Errorf("--force over a closed store: exit %d, %q", code, stderr)
	}
}

// A failed run removes only the partial file it made: a FILE.partial that
// was there before (another program's, or a file of that name) is kept.
func TestBackupKeepsOthersPartialFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "imp.db")
	if err := os.WriteFile(out+".partial", []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	code, _, stderr := runCmd(t, "", "backup", "--url", down.URL, "--out", out)
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if b, err := os.ReadFile(out + ".partial"); err != nil || string(b) != "precious" {
		t.Errorf("the file that was there: %q, %v", b, err)
	}
	if left, _ := filepath.Glob(out + ".*.partial"); len(left) > 0 {
		t.Errorf("partial files left: %v", left)
	}
}

// A copy that the local disk has no room for is reported as that, naming
// --out, the system's error and how much was written, not as a download
// that ended; the partial file is removed.
func TestBackupFullDisk(t *testing.T) {
	base := backupTarget(t)
	disk := smalldisk.Mount(t, 1<<20)
	disk.Fill(16 << 10)
	out := filepath.Join(disk.Dir, "x.db")
	code, stdout, stderr := runCmd(t, "", "backup", "--url", base, "--api-key", backupTestKey, "--out", out)
	want := regexp.MustCompile(`^parley backup: cannot write the backup to ` + regexp.QuoteMeta(out) +
		`: no space left on device \(\d{1,3}(,\d{3})* of \d{1,3}(,\d{3})* bytes written\); the partial file was removed\n$`)
	if code != 1 || stdout != "" || !want.MatchString(stderr) {
		t.Errorf("backup to a full disk: exit %d, stdout %q, stderr %q; want exit 1 and %s", code, stdout, stderr, want)
	}
	if left, _ := filepath.Glob(out + "*"); len(left) > 0 {
		t.Errorf("files left: %v", left)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1024000: "1,024,000", 169885696: "169,885,696", -12345: "-12,345"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
