package engine

import (
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestExpressionsCompiledOnce: an expression written many times is compiled
// once and its program shared, a bad one reports its error each time, and
// the cache stays within its bound.
func TestExpressionsCompiledOnce(t *testing.T) {
	e := New(flows.NewRegistry())
	a, err1 := e.compileExpr("1 + 1")
	b, err2 := e.compileExpr("1 + 1")
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("compiled twice: %p %p (%v, %v)", a, b, err1, err2)
	}
	for range 2 {
		if _, err := e.compileExpr("uper(input)"); err == nil || !strings.Contains(err.Error(), "unknown function uper") {
			t.Errorf("error %v", err)
		}
	}
	long := strings.Repeat("1 + ", maxCachedSource) + "1"
	if x, _ := e.compileExpr(long); x == nil {
		t.Fatal("long expression did not compile")
	} else if y, _ := e.compileExpr(long); x == y {
		t.Error("a long expression was kept")
	}
	for i := range maxCachedExprs + 10 {
		if _, err := e.compileExpr(strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	e.exprCache.Range(func(any, any) bool { n++; return true })
	if n > maxCachedExprs {
		t.Errorf("%d expressions kept, more than %d", n, maxCachedExprs)
	}
}
