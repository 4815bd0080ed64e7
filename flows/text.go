package flows

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ValueText is how a value shows in text that people read (messages, say
// prompts, the text set_variable saves): strings as they are, numbers in plain
// decimal (a fraction rounded to 15 significant digits, see floatText), times
// in RFC 3339, nil as "", a list or map as JSON whose numbers and times read
// as they read alone. Templates and set_variable use it, so an expression's
// value reads the same everywhere.
func ValueText(v any) string { return valueText(v, floatText) }

// ExactText is ValueText for text sent to other programs (a webhook's URL,
// headers and body): numbers keep every digit they have (the shortest decimal
// that reads back as the same float64), so that a number passed on is the
// number received.
func ExactText(v any) string { return valueText(v, exactFloatText) }

// ExactJSON is v as JSON, written as ExactText writes a value in a list: a
// list or map as ExactText writes it, a number with every digit, and a
// string, a time, a duration or a time zone as a JSON string of its text.
func ExactJSON(v any) string {
	return string(appendJSON(nil, v, exactFloatText))
}

func valueText(v any, num func(float64) string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return num(x)
	case time.Time:
		return timeText(x)
	case json.RawMessage:
		return string(x)
	case []byte:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	if reflect.TypeOf(v).Kind() == reflect.Func {
		return "" // a method named without its call: no text, and never Go's
	}
	return string(appendJSON(nil, v, num))
}

func timeText(t time.Time) string { return t.Format(time.RFC3339) }

// appendJSON appends the JSON of a list or map to b, its numbers written by
// num and its times, durations and time zones as strings of the text they
// have alone, so that a value in a list reads as it reads alone; map keys
// are sorted, as encoding/json sorts them. A map whose keys are not text
// (groupBy's, by numbers) has them as text, as JSON requires. What has no
// JSON (a Go function) is null: Go's own text of a value never shows.
func appendJSON(b []byte, v any, num func(float64) string) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case float64:
		return append(b, num(x)...)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return strconv.AppendQuote(b, timeText(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, num)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			b = appendJSON(b, x[k], num)
		}
		return append(b, '}')
	case json.RawMessage:
		if json.Valid(x) {
			return append(b, x...)
		}
		return appendString(b, string(x))
	case fmt.Stringer:
		// A duration or a time zone reads as it reads alone ("1h0m0s",
		// "UTC"), a JSON string, not as encoding/json writes it (a
		// duration's nanoseconds).
		return appendString(b, x.String())
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Map:
		type entry struct {
			key string
			val any
		}
		entries := make([]entry, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			entries = append(entries, entry{valueText(it.Key().Interface(), num), it.Value().Interface()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		b = append(b, '{')
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, e.key), ':')
			b = appendJSON(b, e.val, num)
		}
		return append(b, '}')
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break // bytes, as encoding/json writes them
		}
		b = append(b, '[')
		for i := range rv.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, rv.Index(i).Interface(), num)
		}
		return append(b, ']')
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return append(b, "null"...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendString appends s as a JSON string, as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	j, _ := json.Marshal(s)
	return append(b, j...)
}

// floatText is x in plain decimal. A number with a fraction is rounded to 15
// significant digits first, the most a float64 holds exactly: the binary
// noise of its arithmetic goes (1.1*1.1 is 1.2100000000000002, 0.1+0.2 is
// 0.30000000000000004), and the text is what decimal arithmetic (RapidPro's)
// gives, 1.21 and 0.3. Whole numbers are written out as they are.
func floatText(x float64) string {
	return strconv.FormatFloat(round15(x), 'f', -1, 64)
}

// exactFloatText is x in plain decimal with every digit it has.
func exactFloatText(x float64) string {
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// round15 is x rounded to 15 significant digits when it has a fraction.
func round15(x float64) float64 {
	if x == math.Trunc(x) { // whole, or infinite
		return x
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
	if err != nil { // NaN
		return x
	}
	return r
}
