package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/store"
)

// TestContactKeysEverySpelling: a contact lookup finds by seeks
// (keyPatterns) exactly the keys a read of every key finds, in each of
// the buckets contact keys are in, for every spelling earlier versions
// and POST /v1/sessions without a channel may have kept: the scheme in
// any case (a Kelvin sign's lower case is k), white space of any kind at
// the ends and after sim:, separators of every script between a number's
// digits but not in its parameters, a tel: number without a scheme; and
// never the keys of another person (other digits, a longer number, a
// national number, another scheme, a test contact for a live one).
func TestContactKeysEverySpelling(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))

	bases := []string{"tel:+15550100", "tel:+447700900123;ext=9", "whatsapp:+15550100", "mailto:ada@example.com",
		"kakao:ada", "x-chat.v1:Ada B", "sim:tel:+15550100", "sim:kakao:ada", "tel:5550100"}
	spaces := []string{" ", "\t", "\n", "\u0085", "\u00a0", "\u2028", "\u3000"}
	seps := []string{" ", "-", ".", "(", ")", "/", "\u00a0", "\u2009", "\u3000"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	anyCase := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == 'k' && rng.IntN(3) == 0:
				b.WriteRune('\u212a') // KELVIN SIGN, whose lower case is k
			case rng.IntN(2) == 0:
				b.WriteString(strings.ToUpper(string(r)))
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	spell := func(base string) string {
		var b strings.Builder
		for range rng.IntN(2) {
			b.WriteString(pick(spaces))
		}
		rest := base
		if strings.HasPrefix(rest, "sim:") {
			b.WriteString(anyCase("sim:"))
			rest = rest[4:]
			if rng.IntN(3) == 0 {
				b.WriteString(pick(spaces))
			}
		}
		scheme, path, _ := strings.Cut(rest, ":")
		if scheme != "tel" || rng.IntN(3) != 0 { // a tel: number may be kept without its scheme
			b.WriteString(anyCase(scheme) + ":")
		}
		if scheme == "tel" || scheme == "whatsapp" {
			number, params, _ := strings.Cut(path, ";")
			for _, r := range number {
				if rng.IntN(3) == 0 {
					b.WriteString(pick(seps))
				}
				b.WriteRune(r)
			}
			if rng.IntN(3) == 0 {
				b.WriteString(pick(seps))
			}
			if params != "" {
				b.WriteString(";" + params)
			}
		} else {
			b.WriteString(path)
		}
		for range rng.IntN(2) {
			b.WriteString(pick(spaces))
		}
		return b.String()
	}
	var keys []string
	for _, base := range bases {
		keys = append(keys, base)
		for range 40 {
			keys = append(keys, spell(base))
		}
	}
	// Other people's keys, near each spelling.
	keys = append(keys, "tel:+155501000", "tel:+1555010", "tel:+15550101", "tel:+1555 0101", "+1555 0101", "whatsapp:+15550101",
		"tel:+447700900123;ext=8", "tel:+447700900123;ext= 9", "tel:+447700900123", "tel:\t+15550100", "tel :+15550100",
		"mailto:Ada@example.com", "mailto: ada@example.com", "kakao:adb", "ka:ada", "x-chat.v1:Ada  B", "sim:tel:+15550101",
		"sim:", "tel:", ":+15550100", "tel:+1555\u200b0100", "+15550100x", "tel:+15550100/", "tel:+15550100\u00a0;ext=9")
	for range 300 {
		b := make([]byte, 1+rng.IntN(16))
		const alphabet = "tel:+15503 -.()/TEL\xc2\xa0\x85;x"
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}

	// Each key in the three buckets the keys of contacts are in: alone
	// in contact_rows, with an entry after it in the others.
	bolt := ts.srv.store.(*store.Bolt)
	err := bolt.Group(ctx, func(tx *bbolt.Tx) error {
		for i, k := range keys {
			if strings.ContainsRune(k, 0) {
				continue
			}
			var err error
			switch i % 3 {
			case 0:
				err = tx.Bucket([]byte("contact_rows")).Put([]byte(k), []byte{0})
			case 1:
				err = tx.Bucket([]byte("session_contacts")).Put([]byte(k+"\x00"+fmt.Sprintf("%016d", i)), nil)
			case 2:
				err = tx.Bucket([]byte("processed_index")).Put([]byte(k+"\x00"+fmt.Sprintf("%016d", i)), nil)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	found := 0
	for _, given := range keys {
		q, err := newContactQuery("urn", given)
		if err != nil {
			continue // a URN the API refuses
		}
		if q.patterns == nil {
			// Only a URN holding a byte that is not UTF-8 is read by
			// reading every key.
			if utf8.ValidString(q.normal) && !strings.ContainsRune(q.normal, utf8.RuneError) {
				t.Errorf("%q: no patterns for the normal URN %q", given, q.normal)
			}
			continue
		}
		fast, err := ts.srv.store.ContactKeys(ctx, q.patterns, q.match)
		if err != nil {
			t.Fatal(err)
		}
		all, err := ts.srv.store.ContactKeys(ctx, nil, q.match)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", fast) != fmt.Sprintf("%q", all) {
			t.Errorf("the keys of %q (%q) found by seeks:\n%q\nwant, as a read of every key finds them:\n%q", given, q.normal, fast, all)
		}
		found += len(fast)
	}
	if found < 40*len(bases) {
		t.Errorf("%d keys found for %d queries: the spellings were not found", found, len(keys))
	}
}
