package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ValueText is how a value shows in text: strings as they are, numbers in
// plain decimal (a fraction rounded to 15 significant digits, see floatText),
// times in RFC 3339, nil as "", anything else as JSON. Templates and
// set_variable use it, so an expression's value reads the same everywhere.
func ValueText(v any) string {
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
		return floatText(x)
	case time.Time:
		return x.Format(time.RFC3339)
	case json.RawMessage:
		return string(x)
	case []byte:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(roundFloats(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// floatText is x in plain decimal. A number with a fraction is rounded to 15
// significant digits first, the most a float64 holds exactly: the binary
// noise of its arithmetic goes (1.1*1.1 is 1.2100000000000002, 0.1+0.2 is
// 0.30000000000000004), and the text is what decimal arithmetic (RapidPro's)
// gives, 1.21 and 0.3. Whole numbers are written out as they are.
func floatText(x float64) string {
	return strconv.FormatFloat(round15(x), 'f', -1, 64)
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

// roundFloats is v with the numbers of its lists and maps rounded as
// floatText rounds them, for its JSON; v itself when none changes.
func roundFloats(v any) any {
	r, _ := rounded(v)
	return r
}

// rounded is roundFloats(v), and whether it differs from v (a copy).
func rounded(v any) (any, bool) {
	switch x := v.(type) {
	case float64:
		r := round15(x)
		return r, r != x && x == x // NaN stays as it is
	case []any:
		var out []any
		for i, e := range x {
			r, changed := rounded(e)
			if changed && out == nil {
				out = make([]any, len(x))
				copy(out, x)
			}
			if out != nil {
				out[i] = r
			}
		}
		if out != nil {
			return out, true
		}
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			r, changed := rounded(e)
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = r
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}
