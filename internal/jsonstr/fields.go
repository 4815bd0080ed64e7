package jsonstr

import (
	"strconv"
	"time"
)

// V1 is the escaping of go-json-experiment's v1 Marshal, which encodes
// stored sessions, events and replies: HTML characters escaped, invalid
// UTF-8 as the character U+FFFD.
const V1 = HTML | RawReplacement

// AppendOptString appends name (the key with its quotes and colon, and the
// comma before it) and s, unless s is empty: an omitempty string field.
func AppendOptString(b []byte, name, s string, m Mode) []byte {
	if s == "" {
		return b
	}
	b = append(b, name...)
	return Append(b, s, m)
}

// AppendOptInt appends name and v unless v is 0: an omitempty number field.
func AppendOptInt(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, name...)
	return strconv.AppendInt(b, v, 10)
}

// AppendOptStrings appends name and ss as an array unless ss is empty: an
// omitempty []string field.
func AppendOptStrings(b []byte, name string, ss []string, m Mode) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, name...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = Append(b, s, m)
	}
	return append(b, ']')
}

// TimeOK reports whether time.Time.MarshalJSON accepts t: a year in 0-9999
// and a zone offset under 24 hours.
func TimeOK(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off > -24*3600 && off < 24*3600
}

// AppendTime appends t as time.Time.MarshalJSON does; t must pass TimeOK.
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
