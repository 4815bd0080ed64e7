package flows

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ValueText is how a value shows in text: strings as they are, numbers in
// plain decimal, times in RFC 3339, nil as "", anything else as JSON. Templates
// and set_variable use it, so an expression's value reads the same everywhere.
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
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.Format(time.RFC3339)
	case json.RawMessage:
		return string(x)
	case []byte:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
