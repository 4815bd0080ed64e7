// Package jsontest fills values with random and odd contents, for tests
// that hold Parley's hand-written JSON encoders to the libraries' bytes.
package jsontest

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// OddStrings are strings whose encoding takes more than copying bytes.
var OddStrings = []string{
	"", "a", "kisumu", "What are your symptoms?", `quote " and backslash \`,
	"<b>bold</b> & co", "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f", "é ü ß 日本語 😀",
	"\u2028\u2029", "a\u2028b\u2029c", "\xff\xfe", "ok\xc3(", "\xe2\x80", "\xed\xa0\x80",
	"\ufffd", "\uffff", "+254700000001", "https://example.com/a?b=1&c=<2>",
	strings.Repeat("x", 300), "</script>", "\\u0041", "null",
}

// OddRaws are raw JSON values for Data fields, valid or not, some that the
// library reformats.
var OddRaws = []string{
	"", "null", "true", "1", "-0", "1.0e+00", `"s"`, `{"a":1}`, `{"a": 1}`, ` 1 `, "[1,2 ]",
	`{"b":1,"a":2,"a":3}`, `"a<b"`, `"a&b"`, `"\u0041\/"`, "\"\u2028\"", "\"\xff\"", "x", "\"\t\"",
	`{"session":"0b9a5a6e-55b7-4f57-8a36-1c6d4fd3b8f1"}`, `[{"x":[{"y":null}]}]`, `{"text":"é 😀"}`,
	`{`, `{"a":}`, `"\ud800"`, `"\u12"`, `01`, `{"a":1}{}`, "\"\xe2\x80\xa8\"", `"a\"b"`,
	strings.Repeat("[", 1001) + strings.Repeat("]", 1001), strings.Repeat("[", 999) + strings.Repeat("]", 999),
}

// OddTimes are times the JSON encoders write differently or refuse.
var OddTimes = []time.Time{
	{},
	time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	time.Date(2026, 3, 1, 12, 0, 0, 120000000, time.FixedZone("EAT", 3*3600)),
	time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("odd", -(3*3600+30*60+17))),
	time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("day", 24*3600)),
	time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("almost", 24*3600-1)),
	time.Now(), // with a monotonic reading
}

// Fill sets every field reachable from v (structs, pointers, slices, maps,
// strings, numbers, times, raw JSON) to a random value: each field set,
// unset or odd, as r picks when full is false; every field set to a plain
// value when full is true, so that a field the hand-written encoder does
// not write shows as a difference from the library.
func Fill(r *rand.Rand, v reflect.Value, full bool, depth int) {
	pick := func(n int) int {
		if full {
			return 1
		}
		return r.IntN(n)
	}
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		if full {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC)))
		} else {
			v.Set(reflect.ValueOf(OddTimes[r.IntN(len(OddTimes))]))
		}
		return
	case reflect.TypeFor[json.RawMessage]():
		switch pick(3) {
		case 0:
		case 1:
			if full {
				v.SetBytes([]byte(`{"a":[1,"b"]}`))
			} else {
				v.SetBytes([]byte(OddRaws[r.IntN(len(OddRaws))]))
			}
		default:
			v.SetBytes([]byte{})
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		switch {
		case full:
			v.SetString("v" + v.Type().Name())
		case r.IntN(2) == 0:
		case r.IntN(4) == 0:
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			v.SetString(string(b))
		default:
			v.SetString(OddStrings[r.IntN(len(OddStrings))])
		}
	case reflect.Int, reflect.Int64:
		switch pick(4) {
		case 0:
			v.SetInt(-int64(r.IntN(1 << 20)))
		case 1:
			v.SetInt(int64(1 + r.IntN(1<<30)))
		}
	case reflect.Bool:
		v.SetBool(pick(2) == 1)
	case reflect.Pointer:
		if depth > 4 || pick(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		Fill(r, p.Elem(), full, depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Fill(r, v.Field(i), full, depth+1)
			}
		}
	case reflect.Slice:
		n := 0
		switch pick(4) {
		case 0:
			return // nil
		case 1:
			n = 1 + r.IntN(3)
		}
		sl := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			Fill(r, sl.Index(i), full, depth+1)
		}
		v.Set(sl)
	case reflect.Map:
		if pick(4) == 0 {
			return // nil
		}
		m := reflect.MakeMapWithSize(v.Type(), 3)
		n := r.IntN(4)
		if full {
			n = 2
		}
		for i := range n {
			k := reflect.New(v.Type().Key()).Elem()
			if full {
				k.SetString(string(rune('b' - i)))
			} else {
				Fill(r, k, false, depth+1)
			}
			e := reflect.New(v.Type().Elem()).Elem()
			Fill(r, e, full, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		panic("jsontest.Fill: no value for " + v.Type().String())
	}
}

// CheckEncoder drives a test of a hand-written encoder for values of T:
// 50 values with every field set, each of which it must write by hand, then
// n values of random and odd contents, of which at least minHand it must.
// check compares one value's bytes with the library's (failing the test
// itself) and reports whether the hand-written encoder wrote it.
func CheckEncoder[T any](t *testing.T, r *rand.Rand, n, minHand int, check func(*T) bool) {
	t.Helper()
	for range 50 {
		var v T
		Fill(r, reflect.ValueOf(&v).Elem(), true, 0)
		if !check(&v) {
			t.Fatalf("a value with every field set was left to the library: %#v", v)
		}
	}
	hand := 0
	for range n {
		var v T
		Fill(r, reflect.ValueOf(&v).Elem(), false, 0)
		if check(&v) {
			hand++
		}
	}
	t.Logf("%d of %d random values written by hand", hand, n)
	if hand < minHand {
		t.Errorf("only %d of %d random values written by hand", hand, n)
	}
}
