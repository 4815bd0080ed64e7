package widgets_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/widgets"
)

// flowOfWebhooks is a valid flow of n webhook widgets, each with three
// headers and an auth, calling the next.
func flowOfWebhooks(n int) string {
	var b strings.Builder
	b.WriteString(`{"id": "hooks", "widgets": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		next := ""
		if i+1 < n {
			next = fmt.Sprintf("h%d", i+1)
		}
		fmt.Fprintf(&b, `{"id": "h%d", "type": "webhook", "url": "https://api.example.com/orders/@flow.order.value", "method": "GET",
 "headers": {"X-Tenant": "acme", "X-Request": "@contact.urn", "Accept": "application/json"},
 "auth": {"type": "bearer", "token": "s3cret"}, "timeout": 5, "exits": {"Success": %q, "Failure": %q}}`, i, next, next)
	}
	b.WriteString("]}")
	return b.String()
}

// BenchmarkLoadWebhooks validates a flow of 2,000 webhook widgets (about
// 600 KB), the checks of their headers and nulls included.
func BenchmarkLoadWebhooks(b *testing.B) {
	doc := []byte(flowOfWebhooks(2000))
	e := engine.New(widgets.Registered())
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := e.Load(doc); err != nil {
			b.Fatal(err)
		}
	}
}
