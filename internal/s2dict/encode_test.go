package s2dict

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/s2"
)

// dictText is a small JSON dictionary like the store's session dictionary.
const dictText = `{"id":"","flow":{"uuid":"","name":""},"status":"waiting","contact":{"urn":"tel:+","name":"","fields":{}},` +
	`"results":{"name":{"value":"","category":"All Responses","input":"","created_on":"2026-"}},"path":[{"node":"","exit":"","arrived_on":"2026-"}],` +
	`"wait":{"type":"msg","timeout_on":"2026-"},"events":[{"type":"msg_created","msg":{"text":"","urn":"tel:+"}}]}`

func testDict(t testing.TB) *s2.Dict {
	d := s2.MakeDictManual([]byte(dictText), 0)
	if d == nil {
		t.Fatal("dictionary rejected")
	}
	return d
}

// inputs returns blocks of every kind the store can hand the encoder: JSON
// like the dictionary's, text with long runs, random bytes, and each size
// around the edges of the encoder's limits.
func inputs() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	in := map[string][]byte{"empty": nil}
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 64, 100, 1000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		in[fmt.Sprintf("random %d", n)] = b
		in[fmt.Sprintf("zeros %d", n)] = make([]byte, n)
	}
	var session strings.Builder
	for i := 0; session.Len() < 1500; i++ {
		fmt.Fprintf(&session, `{"id":"%08x-4c1e","flow":{"uuid":"%d","name":"Order status"},"status":"waiting",`+
			`"results":{"name":{"value":"Ann %d","category":"All Responses","input":"ann","created_on":"2026-12-06T05:%02d:00Z"}}}`,
			r.Uint32(), i, i, i%60)
	}
	in["session"] = []byte(session.String())
	in["dictionary itself"] = []byte(dictText)
	in["dictionary twice"] = []byte(dictText + dictText)
	in["long run"] = bytes.Repeat([]byte("abcdefgh"), 3000)
	in["run past 64"] = []byte(strings.Repeat("x", 200) + dictText + strings.Repeat("y", 70))
	big := bytes.Repeat([]byte(session.String()), 12)
	in["at MaxInput"] = big[:MaxInput]
	in["over MaxInput"] = big[:MaxInput+1]
	in["much over MaxInput"] = bytes.Repeat(big, 8)
	return in
}

func TestRoundTrip(t *testing.T) {
	d := testDict(t)
	e := New(d)
	for name, src := range inputs() {
		t.Run(name, func(t *testing.T) {
			z := e.Encode(nil, src)
			got, err := d.Decode(nil, z)
			if err != nil {
				t.Fatalf("decode %d bytes (from %d): %v", len(z), len(src), err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("round trip of %d bytes differs", len(src))
			}
		})
	}
}

// TestSizeLikeLibrary: the small tables cost at most a few bytes against the
// library's encoder, and the dictionary is used (the block is far smaller
// than without it).
func TestSizeLikeLibrary(t *testing.T) {
	d := testDict(t)
	e := New(d)
	for _, name := range []string{"session", "dictionary itself", "dictionary twice", "at MaxInput"} {
		src := inputs()[name]
		ours, lib := len(e.Encode(nil, src)), len(d.EncodeBetter(nil, src))
		plain := len(s2.EncodeBetter(nil, src))
		t.Logf("%s: %d bytes in, %d here, %d library, %d library without the dictionary", name, len(src), ours, lib, plain)
		if ours > lib+lib/50+4 {
			t.Errorf("%s: %d bytes, the library's encoder %d", name, ours, lib)
		}
		if name == "dictionary itself" && ours > 16 {
			t.Errorf("the dictionary's own text took %d bytes: the dictionary was not used", ours)
		}
	}
}

func TestDestination(t *testing.T) {
	d := testDict(t)
	e := New(d)
	src := inputs()["session"]
	dst := make([]byte, s2.MaxEncodedLen(len(src)))
	z := e.Encode(dst, src)
	if &z[0] != &dst[0] {
		t.Error("a long enough dst was not used")
	}
	short := make([]byte, 10)
	z = e.Encode(short, src)
	if &z[0] == &short[0] {
		t.Error("a short dst was written")
	}
	if got, err := d.Decode(nil, z); err != nil || !bytes.Equal(got, src) {
		t.Errorf("round trip: %v", err)
	}
}

// TestLargeDictionary: a dictionary that would put copy offsets at or past
// 64 KiB leaves every block to the library's encoder.
func TestLargeDictionary(t *testing.T) {
	big := bytes.Repeat([]byte(dictText), (60<<10)/len(dictText))
	d := s2.MakeDictManual(big, 0)
	e := New(d)
	if e.small {
		t.Fatalf("a %d-byte dictionary taken for a small one", len(big))
	}
	src := inputs()["session"]
	got, err := d.Decode(nil, e.Encode(nil, src))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	d := testDict(t)
	e := New(d)
	in := inputs()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				for name, src := range in {
					if got, err := d.Decode(nil, e.Encode(nil, src)); err != nil || !bytes.Equal(got, src) {
						errs <- fmt.Errorf("%s: %v", name, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func FuzzEncode(f *testing.F) {
	for _, src := range inputs() {
		if len(src) <= MaxInput {
			f.Add(src)
		}
	}
	d := testDict(f)
	e := New(d)
	f.Fuzz(func(t *testing.T, src []byte) {
		z := e.Encode(nil, src)
		got, err := d.Decode(nil, z)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !bytes.Equal(got, src) {
			t.Fatal("round trip differs")
		}
		if len(z) > s2.MaxEncodedLen(len(src)) {
			t.Fatalf("%d bytes encoded to %d, more than MaxEncodedLen", len(src), len(z))
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	d := testDict(b)
	e := New(d)
	src := inputs()["session"]
	dst := make([]byte, s2.MaxEncodedLen(len(src)))
	for _, c := range []struct {
		name string
		enc  func() []byte
	}{
		{"small-tables", func() []byte { return e.Encode(dst, src) }},
		{"library-better", func() []byte { return d.EncodeBetter(dst, src) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			n := len(c.enc())
			for b.Loop() {
				c.enc()
			}
			b.ReportMetric(float64(n), "out-bytes")
		})
	}
}
