package jsonstr

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// AppendTrace appends t as its JSON encoder would with strings escaped as m
// says: method, url, status, headers (names sorted), body and truncated, the
// empty ones left out. With RawReplacement (go-json-experiment's engine) it
// returns false when a header name is not ASCII: that engine sorts such
// names after replacing invalid UTF-8, not by their bytes, so the caller
// falls back to the library.
func AppendTrace(b []byte, t *flows.HTTPTrace, m Mode) ([]byte, bool) {
	b = append(b, '{')
	start := len(b)
	comma := func(b []byte) []byte {
		if len(b) > start {
			b = append(b, ',')
		}
		return b
	}
	if t.Method != "" {
		b = append(comma(b), `"method":`...)
		b = Append(b, t.Method, m)
	}
	if t.URL != "" {
		b = append(comma(b), `"url":`...)
		b = Append(b, t.URL, m)
	}
	if t.Status != 0 {
		b = append(comma(b), `"status":`...)
		b = strconv.AppendInt(b, int64(t.Status), 10)
	}
	if len(t.Headers) > 0 {
		var arr [16]string
		names := arr[:0]
		for k := range t.Headers {
			if m&RawReplacement != 0 {
				for i := 0; i < len(k); i++ {
					if k[i] >= utf8.RuneSelf {
						return nil, false
					}
				}
			}
			names = append(names, k)
		}
		slices.Sort(names)
		b = append(comma(b), `"headers":{`...)
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = Append(b, k, m)
			b = append(b, ':')
			b = Append(b, t.Headers[k], m)
		}
		b = append(b, '}')
	}
	if t.Body != "" {
		b = append(comma(b), `"body":`...)
		b = Append(b, t.Body, m)
	}
	if t.Truncated {
		b = append(comma(b), `"truncated":true`...)
	}
	return append(b, '}'), true
}
