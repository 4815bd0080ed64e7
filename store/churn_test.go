package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"go.etcd.io/bbolt"
)

// churn drives a store as a server with retentions set does: every round
// (one second of its clock) writers start and end sessions (each turn a
// new completed session with its events, contact and message id), then the
// server's pruning deletes, through the group commit, the sessions and
// message ids older than the retention. The live data so stays about
// retention rounds' worth, and a file that reuses its free pages stops
// growing.
type churn struct {
	st        *Bolt
	clk       *clock
	path      string
	writers   int
	perRound  int // turns a round, over all writers
	retention int // rounds
	contacts  int // distinct contacts the sessions cycle through
	next      int

	// meta polling: commits seen, and those whose freelist was written
	// at or past the end the file had before them.
	mu           sync.Mutex
	commits      int
	listPastEnd  int
	listPages    int // pages of the latest freelist
	grownForList int64
	grown        int64
}

// churnSample is the state of the file after a round.
type churnSample struct {
	round              int
	fileBytes          int64
	freePages, pending int
	listPages          int
	commits, pastEnd   int
}

func newChurn(t testing.TB, opts Options, holes int) *churn {
	t.Helper()
	c := &churn{clk: &clock{now: t0}, writers: 16, perRound: 400, retention: 10, contacts: 2000}
	c.path = filepath.Join(t.TempDir(), "parley.db")
	opts.Now = c.clk.Now
	st, err := Open(c.path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	if holes > 0 {
		punchHoles(t, st.DB(), holes)
	}
	return c
}

// round runs one second of traffic and pruning.
func (c *churn) round(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	now := c.clk.Now().Add(time.Second)
	c.clk.Set(now)
	base := c.next
	c.next += c.perRound
	inParallel(t, c.writers, func(w int) error {
		for i := w; i < c.perRound; i += c.writers {
			n := base + i
			s := SampleSession(n, now)
			s.Contact.URN = fmt.Sprintf("tel:+1666%07d", n%c.contacts)
			s.Status, s.Wait = flows.StatusCompleted, nil
			s.UpdatedAt = now
			ct := s.Contact
			evs := make([]flows.Event, 8)
			for k := range evs {
				evs[k] = flows.Event{Type: flows.EventMessageIn, Time: now, Text: "kisumu"}
			}
			err := c.st.SaveTurn(ctx, &Turn{
				Session: s, Contact: &ct, Channel: "sample", Events: evs,
				MessageID: fmt.Sprintf("m%d", n), Reply: []byte(`{"messages":[{"text":"Thank you, we will call you back."}]}`),
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	cutoff := now.Add(-time.Duration(c.retention) * time.Second)
	for {
		n, err := c.st.PruneEnded(ctx, cutoff, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n < 100 {
			break
		}
	}
	for {
		n, err := c.st.PruneProcessed(ctx, cutoff, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1000 {
			break
		}
	}
}

func (c *churn) sample(round int) churnSample {
	fs := c.st.db.Stats()
	s := churnSample{round: round, freePages: fs.FreePageN, pending: fs.PendingPageN}
	if fi, err := os.Stat(c.path); err == nil {
		s.fileBytes = fi.Size()
	}
	c.mu.Lock()
	s.listPages, s.commits, s.pastEnd = c.listPages, c.commits, c.listPastEnd
	c.mu.Unlock()
	return s
}

// watchMeta reads the file's meta pages until stop is closed and counts,
// for each commit it sees, whether the commit wrote the freelist at or past
// the end of the file as it was before the commit: the pages bbolt took
// for the list were not found among the free ones.
func (c *churn) watchMeta(t testing.TB, stop <-chan struct{}) {
	f, err := os.Open(c.path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	ps := c.st.pageSize
	buf := make([]byte, 2*ps)
	read := func() (txid, list, hwm uint64, ok bool) {
		if _, err := f.ReadAt(buf, 0); err != nil {
			return 0, 0, 0, false
		}
		for i := range 2 {
			m := buf[int64(i)*ps+16:]
			if tx := binary.NativeEndian.Uint64(m[48:]); tx > txid {
				txid, list, hwm = tx, binary.NativeEndian.Uint64(m[32:]), binary.NativeEndian.Uint64(m[40:])
			}
		}
		return txid, list, hwm, true
	}
	lastTx, _, lastHwm, _ := read()
	hdr := make([]byte, 16)
	for {
		select {
		case <-stop:
			return
		default:
		}
		txid, list, hwm, ok := read()
		if !ok || txid == lastTx {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		pages := 0
		if _, err := f.ReadAt(hdr, int64(list)*ps); err == nil && binary.NativeEndian.Uint64(hdr) == list {
			pages = int(binary.NativeEndian.Uint32(hdr[12:])) + 1
		}
		c.mu.Lock()
		c.commits += int(txid - lastTx)
		c.listPages = pages
		if hwm > lastHwm {
			c.grown += int64(hwm - lastHwm)
		}
		if txid == lastTx+1 && list+uint64(pages) > lastHwm && list != ^uint64(0) {
			c.listPastEnd++
			c.grownForList += int64(list + uint64(pages) - max(list, lastHwm))
		}
		c.mu.Unlock()
		lastTx, lastHwm = txid, hwm
	}
}

// BenchmarkChurnFragmented runs rounds of churn on a fragmented file
// (PARLEY_BENCH_ROUNDS, default 200) and logs the file every 10 rounds:
// size, free and pending pages, the freelist's pages, commits and those
// whose freelist went past the file's end.
func BenchmarkChurnFragmented(b *testing.B) {
	for _, sync := range []bool{true, false} {
		holes := 20_000
		b.Run(fmt.Sprintf("holes=%d/sync-freelist=%t", holes, sync), func(b *testing.B) {
			rounds := 200
			if v, err := strconv.Atoi(os.Getenv("PARLEY_BENCH_ROUNDS")); err == nil {
				rounds = v
			}
			for range b.N {
				c := newChurn(b, Options{SyncFreelist: sync}, holes)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { c.watchMeta(b, stop); close(done) }()
				s0 := c.sample(0)
				b.Logf("start: %d MB, %d free pages", s0.fileBytes>>20, s0.freePages)
				var reader *bbolt.Tx
				for r := 1; r <= rounds; r++ {
					// A backup: a read transaction held for 2 rounds of
					// every 6.
					if r%6 == 1 {
						var err error
						if reader, err = c.st.DB().Begin(false); err != nil {
							b.Fatal(err)
						}
					}
					c.round(b)
					if r%6 == 2 && reader != nil {
						reader.Rollback()
						reader = nil
					}
					if r%10 == 0 {
						s := c.sample(r)
						b.Logf("round %d: file %d MB, free %d pending %d, list %d pages, commits %d, list past end %d",
							r, s.fileBytes>>20, s.freePages, s.pending, s.listPages, s.commits, s.pastEnd)
					}
				}
				close(stop)
				<-done
				b.Logf("grown %d pages, %d of them for the freelist", c.grown, c.grownForList)
				b.ReportMetric(float64(c.grown), "pages_grown")
				b.ReportMetric(float64(c.grownForList), "pages_grown_for_list")
			}
		})
	}
}

// TestChurnReusesFreePages: traffic with its pruning on a file with free
// pages scattered through it, a backup's read transaction among them,
// takes for its data the free pages no reader holds and grows the file
// only for what it writes while the reader holds them all. With bbolt's
// list of free pages written on every commit, each commit also needed a run
// of free pages as long as the list, found none while the reader held the
// scattered pages and took it at the end of the file: the file grew several
// times as much (14,659-15,301 pages against 2,897-4,098 here), by the
// list's length on every such commit.
func TestChurnReusesFreePages(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 360 MB file")
	}
	c := newChurn(t, Options{NoSync: true, SyncFreelist: os.Getenv("PARLEY_TEST_SYNC_FREELIST") != ""}, 20_000)
	pages := func() uint64 {
		f, err := os.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, ok := readMeta(f)
		if !ok {
			t.Fatal("no valid meta page")
		}
		return m.pages
	}
	before := pages()
	// The backup starts right after the deletes that left the free pages,
	// before a commit has released them: it holds every one of them.
	reader, err := c.st.DB().Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c.round(t)
	}
	reader.Rollback()
	held := pages()
	// Then it ends, and traffic and pruning go on with the pages free.
	for r := 0; r < 14; r++ {
		c.round(t)
	}
	after, st := pages(), c.st.DB().Stats()
	t.Logf("file pages %d, %d with the backup, %d after; %d free and %d pending", before, held, after, st.FreePageN, st.PendingPageN)
	if held-before > 8000 {
		t.Errorf("the file grew by %d pages while a reader held the free pages (3,000-4,000 for the data)", held-before)
	}
	if after != held {
		t.Errorf("the file grew by %d pages while %d were free", after-held, st.FreePageN)
	}
}

// TestWarnsFreeWhileOpen: a store whose free pages pass
// FragmentedFreePages while it is open warns, naming parley compact, at the
// first commit a FreeCheckInterval later, and then at most once every
// FreeWarnInterval; and Close writes the list of free pages, so the next
// Open reads it instead of reading the whole file.
func TestWarnsFreeWhileOpen(t *testing.T) {
	var logs syncBuilder
	clk := &clock{now: t0}
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := Open(path, Options{NoSync: true, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	warnings := func() int { return strings.Count(logs.String(), "parley compact") }
	name := []byte("scratch")
	err = st.Group(context.Background(), func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucket(name)
		if err != nil {
			return err
		}
		val := make([]byte, 5000)
		for i := range FragmentedFreePages {
			if err := bk.Put([]byte(strconv.Itoa(i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Group(context.Background(), func(tx *bbolt.Tx) error { return tx.DeleteBucket(name) }); err != nil {
		t.Fatal(err)
	}
	commit := func(after time.Duration) {
		t.Helper()
		clk.Set(clk.Now().Add(after))
		if err := st.Group(context.Background(), func(*bbolt.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	commit(FreeCheckInterval / 2)
	if n := warnings(); n != 0 {
		t.Fatalf("warned before a check was due:\n%s", logs.String())
	}
	commit(FreeCheckInterval)
	if n := warnings(); n != 1 || !strings.Contains(logs.String(), "free_bytes=") {
		t.Fatalf("%d warnings of free pages, want 1:\n%s", n, logs.String())
	}
	commit(FreeWarnInterval - 2*FreeCheckInterval)
	if n := warnings(); n != 1 {
		t.Fatalf("warned again within %v:\n%s", FreeWarnInterval, logs.String())
	}
	commit(2 * FreeCheckInterval)
	if n := warnings(); n != 2 {
		t.Fatalf("%d warnings an hour later, want 2:\n%s", n, logs.String())
	}

	if freelistOnFile(path) {
		t.Error("the list of free pages is on file while the store is open")
	}
	st.Close()
	if !freelistOnFile(path) {
		t.Fatal("Close did not write the list of free pages")
	}
	logs.Reset()
	st2, err := Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if strings.Contains(logs.String(), "rebuilt") {
		t.Errorf("Open after Close rebuilt the list of free pages:\n%s", logs.String())
	}
	if fs := st2.FileStats(); fs.FreeBytes < FragmentedFreePages*4096 {
		t.Errorf("free bytes %d after Open, want the %d pages freed", fs.FreeBytes, FragmentedFreePages)
	}
}

// TestOpenRebuildsFreelist: a file left without its list of free pages (a
// server stopped without Close) opens with the list rebuilt from the pages
// the file's buckets do not use, and says so.
func TestOpenRebuildsFreelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	st, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutConfig(context.Background(), Channels, "c", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	free := st.DB().Stats().FreePageN
	st.Close()
	// As a process that ends without Close leaves a file with many free
	// pages.
	stripFreelist(t, path)
	var logs syncBuilder
	st, err = Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !strings.Contains(logs.String(), "rebuilt") {
		t.Errorf("Open did not say it rebuilt the list:\n%s", logs.String())
	}
	if got := st.DB().Stats().FreePageN; got < free {
		t.Errorf("%d free pages after the rebuild, %d before", got, free)
	}
	if _, err := st.GetConfig(context.Background(), Channels, "c"); err != nil {
		t.Fatal(err)
	}
}

// stripFreelist commits once without the list of free pages, as a store
// that was not closed leaves its file.
func stripFreelist(t testing.TB, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(*bbolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if freelistOnFile(path) {
		t.Fatal("the list of free pages is still on file")
	}
}

// syncBuilder is a strings.Builder safe for a logger's concurrent writes.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuilder) Reset() {
	s.mu.Lock()
	s.b.Reset()
	s.mu.Unlock()
}

// TestOpenDamagedWithoutFreelist: a damaged file without its list of free
// pages (a backup's copy, or a file a crash left) is refused as corrupt by
// Open and Compact, as a damaged file with the list is: bbolt's rebuild of
// the list, which reads every page in a goroutine of its own, is not
// reached with the damage.
func TestOpenDamagedWithoutFreelist(t *testing.T) {
	ctx := context.Background()
	b, _ := openTest(t)
	b.unsyncFrom = 0 // commits write no list, as in a file with many free pages
	if err := SeedWaiting(ctx, b, 0, 500, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Group(ctx, func(*bbolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	if _, err := b.Backup(ctx, &whole); err != nil {
		t.Fatal(err)
	}
	damaged := whole.Bytes()
	for i := len(damaged) / 4; i < len(damaged)*3/4; i++ {
		damaged[i] = 0xAB
	}
	path := filepath.Join(t.TempDir(), "parley.db")
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if freelistOnFile(path) {
		t.Fatal("the backup's copy has a list of free pages")
	}
	if st, err := Open(path, Options{NoSync: true, LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			st.Close()
		}
		t.Errorf("Open: %v, want ErrCorrupt", err)
	}
	if _, err := Compact(ctx, path, CompactOptions{NoBackup: true, LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Compact: %v, want ErrCorrupt", err)
	}
	if _, err := WriteFreelist(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("WriteFreelist: %v, want ErrCorrupt", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, damaged) {
		t.Errorf("the damaged file was changed (%v)", err)
	}
}

// A file without its list of free pages whose page has an element pointing
// out of the page (its header intact: the page still says what it is) is
// refused as corrupt by Open and Verify, naming the page, and left as it
// was: bbolt's rebuild of the list compares every key, in a goroutine of
// its own, and reading such a key ended the process.
func TestOpenWildElementWithoutFreelist(t *testing.T) {
	full, _ := compactFixture(t, 300)
	inUse := pagesInUse(t, full)
	stripFreelist(t, full)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	kinds := map[uint16]string{branchPageFlag: "branch", leafPageFlag: "leaf"}
	tried := map[string]bool{}
	for _, id := range inUse {
		p := data[id*ps:]
		kind := kinds[binary.NativeEndian.Uint16(p[8:])]
		if kind == "" || tried[kind] || binary.NativeEndian.Uint64(p) != uint64(id) || binary.NativeEndian.Uint16(p[10:]) < 2 {
			continue
		}
		tried[kind] = true
		t.Run(kind, func(t *testing.T) {
			damaged := bytes.Clone(data)
			// The second element's key: a branch element's pos is its first
			// field, a leaf element's its second.
			at := id*ps + pageHeaderSize + pageElementSize
			if kind == "leaf" {
				at += 4
			}
			binary.NativeEndian.PutUint32(damaged[at:], 0x7FFFFF00)
			path := filepath.Join(t.TempDir(), "parley.db")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("page %d: the key", id)
			st, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
			if err == nil {
				st.Close()
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Errorf("Open: %v, want ErrCorrupt naming %q", err, want)
			}
			if _, err := Verify(context.Background(), path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Errorf("Verify: %v, want ErrCorrupt naming %q", err, want)
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, damaged) {
				t.Errorf("the damaged file was changed (%v)", err)
			}
		})
	}
	if len(tried) != 2 {
		t.Fatalf("damaged %v pages, want a branch and a leaf", tried)
	}
}
