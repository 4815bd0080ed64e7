package flows

import (
	"fmt"
	"strings"
	"testing"
)

// The keys LookupResult and RekeyResults go by are Key's and OldKey's, read
// again or from the cache, and stay so when the cache fills and is emptied.
func TestKeysOfAsComputed(t *testing.T) {
	names := []string{"उम्र", "नाम", "पसंदीदा रंग", "A\u0302ge du Client", "Âge du Client", "நாடு", "名前",
		"Lookup Response", "tier", "  Order #  ", "!!!", "", strings.Repeat("कि", 21)}
	for i := range keyCacheMax + 10 {
		names = append(names, fmt.Sprintf("नाम %d", i))
	}
	for round := range 2 {
		for _, n := range names {
			if got, want := keysOf(n), (resultKeys{key: Key(n), old: OldKey(n)}); got != want {
				t.Fatalf("round %d: keysOf(%q) = %+v, want %+v", round, n, got, want)
			}
		}
	}
	keyCache.RLock()
	size := len(keyCache.m)
	keyCache.RUnlock()
	if size > keyCacheMax {
		t.Errorf("%d names cached, want at most %d", size, keyCacheMax)
	}
	// A result is found by its name, its key and its old key, and one not
	// set is not found, as often as asked.
	results := hindiResults()
	results["उम_र"] = results["उम्र"]
	delete(results, "उम्र")
	for range 2 {
		for _, n := range []string{"उम्र", "उम_र", "पसंदीदा रंग", "पसंदीदा_रंग"} {
			if _, ok := LookupResult(results, n); !ok {
				t.Errorf("LookupResult(%q): not found", n)
			}
		}
		if r, ok := LookupResult(results, "पिन कोड"); ok {
			t.Errorf("LookupResult(पिन कोड) = %+v, want none", r)
		}
	}
}
