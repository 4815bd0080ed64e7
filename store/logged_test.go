package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLoggedTextKeepsNoURN: the text of a damaged contact's row or dedupe
// entry, as a request or timer that met it fails with it, is logged above
// debug naming the value and its bucket, without the URN or a key that
// holds it; other errors are left as they are.
func TestLoggedTextKeepsNoURN(t *testing.T) {
	const urn = "tel:+15550100"
	key := append([]byte(urn), 0, 1, 2)
	cases := []struct {
		err  error
		want string
	}{
		{corruptFile("/d/parley.db", damagedContact(urn, errors.New("corrupt stored row"))),
			"a contact's row (bucket contact_rows): corrupt stored row"},
		{fmt.Errorf("save turn of session s1: %w", corruptFile("/d/parley.db", damagedDedupe(bProcessedIndex, fmt.Sprintf("dedupe entry %x of contact %q", key, urn), "3 bytes, not 33"))),
			"a contact's dedupe entry (bucket processed_index): 3 bytes, not 33"},
		{damagedDedupe(bProcessedLog, fmt.Sprintf("dedupe record %x", key), "its key does not hold a time"),
			"a dedupe record (bucket processed_log)"},
	}
	for _, tc := range cases {
		text, ok := LoggedText(tc.err)
		if !ok || !strings.Contains(text, tc.want) || strings.Contains(text, "15550100") || strings.Contains(text, hex.EncodeToString([]byte(urn))) {
			t.Errorf("LoggedText(%v) = %q, %v; want it to hold %q and no URN", tc.err, text, ok, tc.want)
		}
	}
	other := damagedSession("s1", errors.New("decode"))
	if text, ok := LoggedText(other); ok || text != other.Error() {
		t.Errorf("LoggedText of a damaged session: %q, %v; want its own text", text, ok)
	}
}
