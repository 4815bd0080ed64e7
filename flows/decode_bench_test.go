package flows_test

import (
	"fmt"
	"strings"
	"testing"
)

// largeFlowWithProblems is a flow of about size bytes with n unknown fields:
// at the top when top, or else in its one widget, whose text is large.
func largeFlowWithProblems(size, n int, top bool) string {
	var extra strings.Builder
	for i := range n {
		fmt.Fprintf(&extra, `"x%d": %d, `, i, i)
	}
	pad := strings.Repeat("a", size)
	if top {
		return `{"id": "big", ` + extra.String() + `"description": "` + pad + `", "widgets": [
 {"id": "hi", "type": "send_message", "text": "Hello", "exits": {"Next": ""}}]}`
	}
	return `{"id": "big", "widgets": [
 {"id": "hi", "type": "send_message", ` + extra.String() + `"text": "` + pad + `", "exits": {"Next": ""}}]}`
}

// BenchmarkValidateManyProblems validates a 1 MB flow with 60 problems, in
// the flow's own fields or in a widget's.
func BenchmarkValidateManyProblems(b *testing.B) {
	for _, top := range []bool{true, false} {
		doc := largeFlowWithProblems(1<<20, 60, top)
		b.Run(fmt.Sprintf("top=%v", top), func(b *testing.B) {
			for b.Loop() {
				if _, err := load(doc); err == nil {
					b.Fatal("the flow loads")
				}
			}
		})
	}
}
