package flows_test

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestDeepJSONPathIsShortened: a document nested far too deep is refused
// with a path of a few segments and its depth, not one segment per level
// (30 KB of "[0]" for a flow 200,000 levels deep).
func TestDeepJSONPathIsShortened(t *testing.T) {
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	_, err := load(`{"id": "f", "widgets": ` + deep + `}`)
	if err == nil {
		t.Fatal("loaded")
	}
	errs := validationErrors(t, err)
	want := `$: malformed JSON at line 1, column 10023 (in widgets[0][0][0][0][0][0][0]…[0][0][0] (10000 levels deep)): exceeded max depth`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors %v, want %s", errs, want)
	}

	var doc struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	probs := flows.DecodeDocument([]byte(`{"webhooks": [{"a": `+deep[:20000]+deep[len(deep)-20000:]+`}]}`), &doc)
	if len(probs) != 1 || len(probs[0].Error()) > 200 || !strings.Contains(probs[0].Error(), `(in webhooks[0].a[0][0][0][0][0]…[0][0][0] (10000 levels deep))`) {
		t.Errorf("problems %v, want one with a short path", probs)
	}

	// Paths of a dozen segments or fewer are written in full.
	_, err = load(`{"id": "f", "widgets": [{"id": "a", "type": "send_message", "text": "x", "quick_replies": ` + "[[[[1]]]]" + `}]}`)
	if err == nil || !strings.Contains(err.Error(), "widgets[0].quick_replies[0]: expected a string") {
		t.Errorf("error %v", err)
	}
}
