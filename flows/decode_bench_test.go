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

// flowOfReads is a valid flow of n waits, each saving a result, and n
// messages, each reading one: the result saved when typo is false, else a
// misspelling of it, which no widget saves (a warning, with the name meant).
func flowOfReads(n int, typo bool) string {
	var b strings.Builder
	b.WriteString(`{"id": "reads", "widgets": [`)
	for i := range n {
		read := fmt.Sprintf("answer_%d", i)
		if typo {
			read = fmt.Sprintf("answr_%d", i)
		}
		next := ""
		if i+1 < n {
			next = fmt.Sprintf("w%d", i+1)
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"id": "w%d", "type": "wait_for_response", "result": "Answer %d", "exits": {"Next": "m%d"}},
 {"id": "m%d", "type": "send_message", "text": "You said @flow.%s (@(upper(flow.%s.category)))", "exits": {"Next": %q}}`, i, i, i, i, read, read, next)
	}
	b.WriteString("]}")
	return b.String()
}

// BenchmarkValidateReads validates a flow of about 1 MB (5,000 waits and
// 5,000 messages reading their results), its reads all of results saved,
// or all misspelt (5,000 warnings, each with the name meant, as far as the
// budget of suggestions goes).
func BenchmarkValidateReads(b *testing.B) {
	for _, typo := range []bool{false, true} {
		doc := flowOfReads(5000, typo)
		b.Run(fmt.Sprintf("typo=%v", typo), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := load(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
