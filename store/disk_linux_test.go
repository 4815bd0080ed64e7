package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkPageWrites measures the disk under the store rather than the
// store: what a commit of n pages costs when they lie next to each other in
// the file and when they are scattered, written page by page with pwrite and
// synced with fdatasync as bbolt does, then the one-page meta write and sync
// that follows. It reports µs per commit. The file is preallocated, so the
// syncs write data, not file metadata. Run it on the disk the data
// directory is on (TMPDIR):
//
//	go test ./store -run X -bench PageWrites -benchtime 200x
func BenchmarkPageWrites(b *testing.B) {
	const page, filePages = 4096, 60_000
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "pages"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, page*200)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for off := int64(0); off < filePages*page; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	sync := func() {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	sync()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 10, 30, 60, 100} {
		for _, scattered := range []bool{false, true} {
			name := fmt.Sprintf("pages=%d/contiguous", n)
			if scattered {
				name = fmt.Sprintf("pages=%d/scattered", n)
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					start := 2 + r.Int64N(filePages-int64(n)-2)
					for i := range int64(n) {
						p := start + i
						if scattered {
							p = 2 + r.Int64N(filePages-2)
						}
						if _, err := f.WriteAt(buf[i*page:(i+1)*page], p*page); err != nil {
							b.Fatal(err)
						}
					}
					sync()
					if _, err := f.WriteAt(buf[:page], 0); err != nil {
						b.Fatal(err)
					}
					sync()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/commit")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkOpenCold is BenchmarkOpen's not-closed case with the file out of
// the page cache (posix_fadvise DONTNEED once it is synced): a start after
// a crash on a machine that has not read the file since, as after a reboot.
// PARLEY_BENCH_SESSIONS sets the sessions (default 100,000).
func BenchmarkOpenCold(b *testing.B) {
	n := benchSessions(b, 100_000)
	path := filepath.Join(b.TempDir(), "bench.db")
	st, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := SeedWaiting(context.Background(), st, 0, n, 0, nil); err != nil {
		b.Fatal(err)
	}
	st.Close()
	b.ResetTimer() // the seeding is not the start measured
	openWithoutList(b, path, func() { dropCache(b, path) })
	b.ReportMetric(float64(fileSize(b, path))/1e6, "file_MB")
}

// dropCache syncs the file at path and asks the kernel to drop its pages
// from the page cache.
func dropCache(b testing.TB, path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	const fadvDontNeed = 4
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		b.Fatal(e)
	}
}
