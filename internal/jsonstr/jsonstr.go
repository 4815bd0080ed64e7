// Package jsonstr appends JSON strings, omitempty fields, times, and the
// HTTP traces that several records embed, written exactly as the encoders
// whose output Parley's hand-written record encoders reproduce byte for
// byte (encoding/json for webhook bodies and delivery records,
// go-json-experiment's v1 API for sessions, events and replies).
package jsonstr

import "unicode/utf8"

// Mode picks the escaping of one encoder.
type Mode uint8

const (
	// HTML escapes <, > and & as \u003c, \u003e and \u0026, as
	// encoding/json does by default.
	HTML Mode = 1 << iota
	// RawReplacement writes each byte of invalid UTF-8 as the character
	// U+FFFD itself (go-json-experiment's v1 Marshal); without it, as the
	// escape \ufffd (encoding/json).
	RawReplacement
)

// Encoding/json's escaping by default: HTML characters escaped, invalid
// UTF-8 as \ufffd.
const EncodingJSON = HTML

const hexDigits = "0123456789abcdef"

// Append appends s as a quoted JSON string: quotes, backslashes and control
// characters escaped (\b \f \n \r \t by name, the rest as \u00XX), U+2028
// and U+2029 escaped, and the rest as m says.
func Append(dst []byte, s string, m Mode) []byte {
	html := m&HTML != 0
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if m&RawReplacement != 0 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
