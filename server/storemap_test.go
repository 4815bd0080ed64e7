package server

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/store"
)

// The server maps its store file with room to grow (store.ServingMmapSize),
// so that a backup's read transaction does not make commits wait for a
// remap; the map costs address space, not memory.
func TestServerMapsStoreWithRoom(t *testing.T) {
	ts := newTestServer(t, nil)
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps:", err)
	}
	path := filepath.Join(ts.srv.cfg.DataDir, DBFile)
	var size uint64
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != path {
			continue
		}
		from, to, _ := strings.Cut(f[0], "-")
		a, _ := strconv.ParseUint(from, 16, 64)
		b, _ := strconv.ParseUint(to, 16, 64)
		size += b - a
	}
	if size < store.MinServingMmap {
		t.Errorf("the store file %s is mapped with %d bytes, want at least %d", path, size, store.MinServingMmap)
	}
}
