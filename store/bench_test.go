package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/cputime"
)

// openBench opens a durable (fsync on commit) store unless noSync, with the
// list of free pages written on every commit when
// PARLEY_BENCH_SYNC_FREELIST is set.
func openBench(b *testing.B, noSync bool) *Bolt {
	b.Helper()
	st, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: noSync, SyncFreelist: os.Getenv("PARLEY_BENCH_SYNC_FREELIST") != ""})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// openSeeded opens a bench store holding n waiting sample sessions and
// returns it with the time they were built at.
func openSeeded(b *testing.B, noSync bool, n int) (*Bolt, time.Time) {
	b.Helper()
	st := openBench(b, noSync)
	now := time.Now()
	if err := SeedWaiting(context.Background(), st, 0, n, 0, func(i int) *flows.Session { return SampleSession(i, now) }); err != nil {
		b.Fatal(err)
	}
	return st, now
}

// benchTurn is a typical resumed turn: the session waits again with a new
// timeout, three events, one outbox record, the contact and a dedupe record.
func benchTurn(i, n int, now time.Time) *Turn {
	s := SampleSession(i, now)
	c := s.Contact
	return &Turn{
		Session: s, Contact: &c, Channel: "sample",
		MessageID: fmt.Sprintf("msg-%d-%d", i, n),
		Reply:     []byte(`{"messages":[{"text":"What are your symptoms?"}]}`),
		Events: []flows.Event{
			{Type: flows.EventMessageIn, Time: now, Text: "kisumu"},
			{Type: flows.EventResultSaved, Time: now, Name: "District", Value: "Kisumu", Category: "Known"},
			{Type: flows.EventMessageOut, Time: now, Text: "What are your symptoms?"},
		},
		Outbox: []OutboxRecord{{Type: "session.waiting", Environment: flows.EnvLive, FlowID: s.FlowID, Data: json.RawMessage(`{"session":"` + s.ID + `"}`)}},
	}
}

// BenchmarkSaveTurn is one writer: every turn waits for its own fsync.
func BenchmarkSaveTurn(b *testing.B) {
	st := openBench(b, false)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if err := st.SaveTurn(ctx, benchTurn(n%1000, n, now.Add(time.Duration(n)))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveTurnParallel has many writers (writers = parallelism x
// GOMAXPROCS): group commit lets one fsync carry many turns, so turns/s
// grows with concurrency.
func BenchmarkSaveTurnParallel(b *testing.B) {
	for _, par := range []int{1, 4, 32} {
		b.Run(fmt.Sprintf("writers=%d", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			st := openBench(b, false)
			ctx := context.Background()
			now := time.Now()
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(next.Add(1))
					if err := st.SaveTurn(ctx, benchTurn(n%10_000, n, now.Add(time.Duration(n)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
		})
	}
}

// BenchmarkSaveTurnSeeded is the HTTP load test's write pattern without
// HTTP: 256 concurrent writers resuming 10,000 stored waiting sessions with
// benchTurn, durably. Besides turns/s it reports what a group commit costs:
// pages allocated (dirty pages, freelist included) and pwrite calls per
// commit, turns per commit, and the committer's apply time per turn (the
// part of a commit spent running the turns' writes, before bbolt's own
// commit work).
func BenchmarkSaveTurnSeeded(b *testing.B) {
	const sessions, writers = 10_000, 256
	st, now := openSeeded(b, false, sessions)
	b.ReportAllocs()
	runSeededTurns(b, st, sessions, writers, now)
}

// runSeededTurns saves b.N turns of benchTurn from writers goroutines on
// the sessions seeded at now, and reports the group commit's figures.
func runSeededTurns(b *testing.B, st *Bolt, sessions, writers int, now time.Time) {
	ctx := context.Background()
	var next atomic.Int64
	next.Store(int64(sessions))
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	tx0, cs0 := st.DB().Stats().TxStats, st.CommitStats()
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(next.Add(1))
			if err := st.SaveTurn(ctx, benchTurn(n%sessions, n, now.Add(time.Duration(n)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu.report(b, b.N)
	tx1, cs1 := st.DB().Stats().TxStats, st.CommitStats()
	commits := float64(cs1.Commits - cs0.Commits)
	turns := float64(cs1.Turns - cs0.Turns)
	pages := float64(tx1.GetPageCount() - tx0.GetPageCount())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
	b.ReportMetric(pages/commits, "pages/commit")
	b.ReportMetric(float64(tx1.GetWrite()-tx0.GetWrite())/commits, "writes/commit")
	b.ReportMetric(turns/commits, "turns/commit")
	b.ReportMetric(pages/turns, "pages/turn")
	b.ReportMetric(float64((cs1.Apply-cs0.Apply).Microseconds())/turns, "apply_µs/turn")
}

// BenchmarkSaveTurnFragmented is BenchmarkSaveTurnSeeded on a file with
// free pages scattered through it, as deletes and pruning leave them. With
// bbolt's list of free pages (8 bytes each) written on every commit
// (PARLEY_BENCH_SYNC_FREELIST=1, as the store did before) the cost of a
// commit grows with it until `parley compact` (the "compacted" case) gives
// the pages back.
func BenchmarkSaveTurnFragmented(b *testing.B) {
	for _, c := range []struct {
		name    string
		holes   int
		compact bool
	}{{"free=none", 0, false}, {"holes=20000", 20_000, false}, {"holes=100000", 100_000, false}, {"holes=100000/compacted", 100_000, true}} {
		b.Run(c.name, func(b *testing.B) {
			const sessions, writers = 10_000, 256
			path := filepath.Join(b.TempDir(), "bench.db")
			opts := Options{SyncFreelist: os.Getenv("PARLEY_BENCH_SYNC_FREELIST") != ""}
			st, err := Open(path, opts)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			if err := SeedWaiting(context.Background(), st, 0, sessions, 0, func(i int) *flows.Session { return SampleSession(i, now) }); err != nil {
				b.Fatal(err)
			}
			if c.holes > 0 {
				punchHoles(b, st.DB(), c.holes)
			}
			if c.compact {
				st.Close()
				if _, err := Compact(context.Background(), path, CompactOptions{NoBackup: true}); err != nil {
					b.Fatal(err)
				}
				if st, err = Open(path, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.Cleanup(func() { st.Close() })
			st0 := st.DB().Stats()
			b.ReportMetric(float64(st0.FreePageN+st0.PendingPageN), "free_pages")
			runSeededTurns(b, st, sessions, writers, now)
		})
	}
}

// punchHoles leaves about 2*n free pages scattered through the file: n
// two-page values with a kept one between each pair, the others deleted.
func punchHoles(b testing.TB, db *bbolt.DB, n int) {
	b.Helper()
	val := make([]byte, 5000)
	name := []byte("bench-holes")
	for _, del := range []bool{false, true} {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			for i := range 2 * n {
				k := binary.BigEndian.AppendUint64(nil, uint64(i))
				switch {
				case !del:
					err = bk.Put(k, val)
				case i%2 == 0:
					err = bk.Delete(k)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadSession(b *testing.B) {
	for _, uncompressed := range []bool{false, true} {
		b.Run(fmt.Sprintf("uncompressed=%v", uncompressed), func(b *testing.B) {
			st, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true, Uncompressed: uncompressed})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			const n = 10_000
			if err := SeedWaiting(ctx, st, 0, n, 0, nil); err != nil {
				b.Fatal(err)
			}
			ids := make([]string, n)
			for i := range ids {
				ids[i] = sampleID(i)
			}
			b.ReportAllocs()
			cpu := startCPU()
			i := 0
			for b.Loop() {
				i++
				if _, err := st.LoadSession(ctx, ids[(i*7919)%n]); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b, b.N)
		})
	}
}

// BenchmarkWaitingSessionBytes seeds b.N waiting sessions (with contacts,
// waiting entries and a timer record carrying two timers each) and reports the database bytes
// they take per session, and the stored session value alone. Use a large
// -benchtime, e.g. -benchtime=100000x, for a stable figure.
func BenchmarkWaitingSessionBytes(b *testing.B) {
	for _, tc := range []struct {
		order        string
		uncompressed bool
		pageSize     int
	}{{"sequential", false, 0}, {"random", false, 0}, {"random", true, 0}, {"random", false, 16384}} {
		uncompressed := tc.uncompressed
		name := fmt.Sprintf("order=%s/uncompressed=%v", tc.order, uncompressed)
		if tc.pageSize != 0 {
			name += fmt.Sprintf("/page=%d", tc.pageSize)
		}
		b.Run(name, func(b *testing.B) {
			st, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true, Uncompressed: uncompressed, PageSize: tc.pageSize})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			base := usedBytes(st.DB())
			b.ResetTimer()
			// Sequential ids and URNs append to every bucket (the densest
			// case for ids that sort by time, such as UUIDv7); random order
			// is what random (v4) ids and URNs of real contacts do.
			var gen func(int) *flows.Session
			if tc.order == "random" {
				perm := rand.New(rand.NewPCG(1, 2)).Perm(b.N)
				now := time.Now()
				gen = func(i int) *flows.Session { return SampleSession(perm[i], now) }
			}
			if err := SeedWaiting(context.Background(), st, 0, b.N, 0, gen); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			used := usedBytes(st.DB()) - base
			var values, jsonBytes int64
			st.DB().View(func(tx *bbolt.Tx) error {
				return tx.Bucket(bRecords).ForEach(func(k, v []byte) error {
					if len(k) == 8 { // session records, not events
						values += int64(len(v))
					}
					return nil
				})
			})
			js, _ := json.Marshal(SampleSession(0, time.Now()))
			jsonBytes = int64(len(js))
			n := float64(b.N)
			b.ReportMetric(float64(used)/n, "db_B/session")
			b.ReportMetric(float64(values)/n, "value_B/session")
			b.ReportMetric(float64(jsonBytes), "json_B/session")
			if b.N >= 10_000 {
				st.DB().View(func(tx *bbolt.Tx) error {
					for _, name := range [][]byte{bRecords, bIDs, bByStatus, bByContact, bContacts, bTimers} {
						s := tx.Bucket(name).Stats()
						b.Logf("%-20s %7.1f B/session in pages (%d keys)", name, float64((s.BranchPageN+s.LeafPageN+s.BranchOverflowN+s.LeafOverflowN)*tx.DB().Info().PageSize)/n, s.KeyN)
					}
					return nil
				})
			}
		})
	}
}

// usedBytes is the database size up to its high-water mark, less free pages.
func usedBytes(db *bbolt.DB) int64 {
	var size int64
	db.View(func(tx *bbolt.Tx) error {
		size = tx.Size()
		return nil
	})
	s := db.Stats()
	return size - int64(s.FreePageN+s.PendingPageN)*int64(db.Info().PageSize)
}

// BenchmarkOpen measures start-up with many waiting sessions on file. Open
// reads no sessions, so its time should not grow with their number. The
// number defaults to 100,000; set PARLEY_BENCH_SESSIONS=1000000 for the
// full-size measurement (seeding takes a while).
func BenchmarkOpen(b *testing.B) {
	n := benchSessions(b, 100_000)
	for _, size := range []int{1_000, n} {
		b.Run(fmt.Sprintf("sessions=%d", size), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			st, err := Open(path, Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := SeedWaiting(context.Background(), st, 0, size, 0, nil); err != nil {
				b.Fatal(err)
			}
			st.Close()
			b.Run("closed", func(b *testing.B) {
				for b.Loop() {
					st, err := Open(path, Options{})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := st.Stats(context.Background()); err != nil {
						b.Fatal(err)
					}
					st.Close()
				}
			})
			// After a stop without Close, Open rebuilds the list of free
			// pages by reading the whole file.
			b.Run("not-closed", func(b *testing.B) {
				openWithoutList(b, path, nil)
			})
		})
	}
}

// benchSessions is PARLEY_BENCH_SESSIONS, else def.
func benchSessions(b *testing.B, def int) int {
	v := os.Getenv("PARLEY_BENCH_SESSIONS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("PARLEY_BENCH_SESSIONS=%q: %v", v, err)
	}
	return n
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkCommitGroup is the committer's share of a turn alone: groups of
// 100 prepared benchTurns (on 10,000 seeded waiting sessions) run through
// commit, without fsync; preparing the turns is not timed. cpu-ns/op is the
// process's CPU per turn in commit.
func BenchmarkCommitGroup(b *testing.B) {
	const sessions, group = 10_000, 100
	st, now := openSeeded(b, true, sessions)
	ctx := context.Background()
	b.ReportAllocs()
	var cpu time.Duration
	n := sessions
	for b.Loop() {
		b.StopTimer()
		batch := make([]*writeReq, group)
		for i := range batch {
			n++
			p, err := st.prepareTurn(benchTurn(n%sessions, n, now.Add(time.Duration(n))))
			if err != nil {
				b.Fatal(err)
			}
			batch[i] = &writeReq{ctx: ctx, fn: p.apply, done: make(chan struct{})}
		}
		b.StartTimer()
		c0 := cputime.Process()
		st.commit(batch)
		cpu += cputime.Process() - c0
		for _, r := range batch {
			if r.err != nil {
				b.Fatal(r.err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/turn")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*group), "cpu-ns/turn")
}

// BenchmarkApplyGroup is the committer's apply work alone, the part of a
// commit that runs the turns' writes: the same group of 100 prepared
// benchTurns (on 10,000 seeded waiting sessions) applied in a write
// transaction that is then rolled back, so every iteration does the same
// work. cpu-ns/turn is the process's CPU per turn.
func BenchmarkApplyGroup(b *testing.B) {
	const sessions, group = 10_000, 100
	st, now := openSeeded(b, true, sessions)
	turns := make([]*preparedTurn, group)
	for i := range turns {
		p, err := st.prepareTurn(benchTurn(i*97%sessions, i, now.Add(time.Duration(i))))
		if err != nil {
			b.Fatal(err)
		}
		turns[i] = p
	}
	var batch statBatch
	b.ReportAllocs()
	c0 := cputime.Process()
	for b.Loop() {
		tx, err := st.DB().Begin(true)
		if err != nil {
			b.Fatal(err)
		}
		batch.reset()
		for _, p := range turns {
			if err := p.apply(tx, &batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.flush(tx); err != nil {
			b.Fatal(err)
		}
		tx.Rollback()
	}
	b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/float64(b.N*group), "cpu-ns/turn")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/turn")
}

// BenchmarkInbound is the read of an inbound message (dedupe record, waiting
// session, contact) on 10,000 seeded waiting sessions: with the caller's copy
// of the session current (known, the usual case with the server's session
// cache) and without one (decoded). cpu-ns/op is the process's CPU per read.
func BenchmarkInbound(b *testing.B) {
	const n = 10_000
	st := openBench(b, true)
	ctx := context.Background()
	now := time.Now()
	if err := SeedWaiting(ctx, st, 0, n, 0, func(i int) *flows.Session { return SampleSession(i, now) }); err != nil {
		b.Fatal(err)
	}
	for _, known := range []bool{true, false} {
		name := "decoded"
		if known {
			name = "known"
		}
		b.Run(name, func(b *testing.B) {
			sessions := make([]*flows.Session, n)
			for i := range sessions {
				sessions[i] = SampleSession(i, now)
			}
			b.ReportAllocs()
			cpu := startCPU()
			i := 0
			for b.Loop() {
				i++
				s := sessions[(i*7919)%n]
				q := InboundQuery{Channel: "sample", URN: s.Contact.URN, MessageID: "m-" + strconv.Itoa(i)}
				if known {
					q.Known = s
				}
				got, err := st.Inbound(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if got.Session == nil || got.Current != known {
					b.Fatalf("inbound %d: session %v, current %v", i, got.Session != nil, got.Current)
				}
			}
			cpu.report(b, b.N)
		})
	}
}

// BenchmarkPruneEnded deletes b.N completed sample sessions, each with eight
// events and its contact, in PruneEnded's batches of 100 (fsync on), as the
// server's session retention does. Run it with -benchtime=20000x.
func BenchmarkPruneEnded(b *testing.B) {
	ctx := context.Background()
	st := openBench(b, false)
	now := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= b.N; i = int(next.Add(1)) {
				s := SampleSession(i, now)
				s.Status, s.Wait = flows.StatusCompleted, nil
				s.UpdatedAt = now.Add(time.Duration(i))
				c := s.Contact
				evs := make([]flows.Event, 8)
				for k := range evs {
					evs[k] = flows.Event{Type: flows.EventMessageIn, Time: now, Text: "kisumu"}
				}
				if err := st.SaveTurn(ctx, &Turn{Session: s, Contact: &c, Channel: "sample", Events: evs}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	tx0 := st.DB().Stats().TxStats
	b.ResetTimer()
	cpu := startCPU()
	cutoff, done, batches := now.Add(time.Hour), 0, 0
	for done < b.N {
		n, err := st.PruneEnded(ctx, cutoff, 100)
		if err != nil || n == 0 {
			b.Fatalf("PruneEnded = %d, %v after %d", n, err, done)
		}
		done += n
		batches++
	}
	b.StopTimer()
	cpu.report(b, b.N)
	tx1 := st.DB().Stats().TxStats
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(batches), "ms/batch")
	b.ReportMetric(float64(tx1.GetPageCount()-tx0.GetPageCount())/float64(b.N), "pages/session")
	if got := stats(b, st).Sessions[flows.StatusCompleted]; got != 0 {
		b.Fatalf("%d completed sessions left", got)
	}
}

// openWithoutList times b.N opens of the store file at path with its list
// of free pages taken out first, as a stop without Close leaves it,
// then before called, when not nil (to drop the file from the page cache).
func openWithoutList(b *testing.B, path string, before func()) {
	for range b.N {
		b.StopTimer()
		stripFreelist(b, path)
		if before != nil {
			before()
		}
		b.StartTimer()
		st, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
