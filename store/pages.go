package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
)

// bbolt's page layout, as checkPages reads it (go.etcd.io/bbolt/internal/
// common): a 16-byte header (the page's id u64, flags u16, element count
// u16, overflow u32: the pages it spans after its first), then its
// elements, 16 bytes each, then their keys and values, all in the
// machine's byte order. A branch element is pos u32, ksize u32 and the
// child's page u64; a leaf element is flags u32, pos u32, ksize u32 and
// vsize u32, where pos counts from the element itself. A leaf element
// flagged as a bucket has a value that starts with the bucket's root page
// (0 for a bucket inline in the value) and its sequence, u64 each.
const (
	pageHeaderSize  = 16
	pageElementSize = 16
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	bucketValueSize = 16
)

// checkPages reads every branch and leaf page that the buckets of the
// store file at path reach, from the tree of the meta page that counts, in
// tree order, and returns an error wrapping ErrCorrupt, naming the page,
// for the first one that is not what bbolt takes it for: a page whose
// header does not carry its own id, that is neither a branch nor a leaf,
// that reaches past the file's last page, that two parents name, or whose
// elements, keys and values do not lie within it. These are what bbolt's
// rebuild of the list of free pages (and its consistency check) reads in a
// goroutine of its own, where a damaged page would fault or panic beyond
// recovery; they are read here in the calling goroutine, through a map of
// the file of its own (or with ReadAt where the platform has none), within
// the bounds checked first. A file without a valid meta page is left to
// bbolt.Open to report.
func checkPages(path string) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m, ok := readMeta(f)
	if !ok {
		return nil
	}
	w := &pageWalk{f: f, pageSize: int(m.pageSize), pages: m.pages, seen: make([]uint64, (m.pages+63)/64)}
	if fi, err := f.Stat(); err == nil && uint64(fi.Size()) >= m.pages*m.pageSize && m.pages*m.pageSize > 0 {
		if data, unmap, err := mapFile(f, int64(m.pages*m.pageSize)); err == nil {
			defer unmap()
			w.data = data
			// A file cut short meanwhile faults on the map.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					if !pageFault(r) {
						panic(r)
					}
					err = fmt.Errorf("%w: reading a page failed (%v)", ErrCorrupt, r)
				}
			}()
		}
	}
	if err := w.tree(m.root, 0); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// maxTreeDepth bounds the nesting of pages and buckets checkPages follows;
// bbolt's own trees are a few levels deep.
const maxTreeDepth = 128

// pageWalk is checkPages's walk through the file.
type pageWalk struct {
	f *os.File
	// data is the file mapped, when it could be; the pages are read from
	// f otherwise.
	data     []byte
	pageSize int
	pages    uint64
	seen     []uint64 // a bit per page reached
	bufs     [][]byte // a buffer per depth
}

// read returns the page id and the pages it spans, read into the buffer of
// depth.
func (w *pageWalk) read(id uint64, depth int) ([]byte, error) {
	if id < 2 || id >= w.pages {
		return nil, fmt.Errorf("page %d is named, beyond the file's %d pages", id, w.pages)
	}
	if w.data != nil {
		at := id * uint64(w.pageSize)
		overflow := uint64(binary.NativeEndian.Uint32(w.data[at+12:]))
		if err := w.reach(id, binary.NativeEndian.Uint64(w.data[at:]), overflow); err != nil {
			return nil, err
		}
		return w.data[at : at+(overflow+1)*uint64(w.pageSize)], nil
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.pageSize))
	}
	p := w.bufs[depth][:w.pageSize]
	if _, err := w.f.ReadAt(p, int64(id)*int64(w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	overflow := uint64(binary.NativeEndian.Uint32(p[12:]))
	if err := w.reach(id, binary.NativeEndian.Uint64(p), overflow); err != nil {
		return nil, err
	}
	if overflow > 0 {
		size := int(overflow+1) * w.pageSize
		if cap(w.bufs[depth]) < size {
			w.bufs[depth] = make([]byte, size)
		}
		p = w.bufs[depth][:size]
		if _, err := w.f.ReadAt(p[w.pageSize:], int64(id+1)*int64(w.pageSize)); err != nil {
			return nil, fmt.Errorf("page %d: %v", id, err)
		}
	}
	return p, nil
}

// reach checks the header of page id, which says it is page got spanning
// overflow more pages, and marks those pages reached.
func (w *pageWalk) reach(id, got, overflow uint64) error {
	if got != id {
		return fmt.Errorf("page %d reads as page %d", id, got)
	}
	if id+overflow >= w.pages {
		return fmt.Errorf("page %d spans %d more pages, beyond the file's %d", id, overflow, w.pages)
	}
	for i := id; i <= id+overflow; i++ {
		if w.seen[i/64]&(1<<(i%64)) != 0 {
			return fmt.Errorf("page %d is reached twice", i)
		}
		w.seen[i/64] |= 1 << (i % 64)
	}
	return nil
}

// tree checks the page id and the pages and buckets below it.
func (w *pageWalk) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d is more than %d levels deep", id, maxTreeDepth)
	}
	p, err := w.read(id, depth)
	if err != nil {
		return err
	}
	flags, count := binary.NativeEndian.Uint16(p[8:]), int(binary.NativeEndian.Uint16(p[10:]))
	if flags != branchPageFlag && flags != leafPageFlag {
		return fmt.Errorf("page %d is neither a branch nor a leaf (flags %#x)", id, flags)
	}
	if pageHeaderSize+count*pageElementSize > len(p) {
		return fmt.Errorf("page %d has %d elements, more than it holds", id, count)
	}
	// The children are read after the page's elements, into buffers of
	// deeper levels: p stays this page's.
	for i := range count {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		if flags == branchPageFlag {
			pos, ksize := uint64(binary.NativeEndian.Uint32(e)), uint64(binary.NativeEndian.Uint32(e[4:]))
			if uint64(at)+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("page %d: the key of element %d lies beyond the page", id, i)
			}
			if err := w.tree(binary.NativeEndian.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		eflags := binary.NativeEndian.Uint32(e)
		pos, ksize, vsize := uint64(binary.NativeEndian.Uint32(e[4:])), uint64(binary.NativeEndian.Uint32(e[8:])), uint64(binary.NativeEndian.Uint32(e[12:]))
		end := uint64(at) + pos + ksize + vsize
		if end > uint64(len(p)) {
			return fmt.Errorf("page %d: the key or value of element %d lies beyond the page", id, i)
		}
		if eflags&bucketLeafFlag == 0 {
			continue
		}
		if vsize < bucketValueSize {
			return fmt.Errorf("page %d: element %d is a bucket of %d bytes", id, i, vsize)
		}
		// An inline bucket (root 0) is in the value itself, which bbolt's
		// rebuild does not read.
		if root := binary.NativeEndian.Uint64(p[end-vsize:]); root != 0 {
			if err := w.tree(root, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
