package engine

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// memberFunction is the function textMembers makes a member access call: a
// name no author can write.
const memberFunction = "."

// textMembers turns each member access (a.b, a[i]) of a value whose kind is
// known only when the expression runs into a call of memberFunction, which
// refuses text in a sentence: expr-lang reads "abc".y as an index it cannot
// make ("invalid operation: int(string)") and "héllo"[1] as the byte 195.
// The maps Parley gives (flow, flow.NAME, contact, contact.fields ...) hold
// no text to index, so theirs are left to expr-lang, as are method calls
// (now.Hour()) and accesses of a value known to be text when the flow loads
// ("abc"[0]), which expr-lang refuses then.
type textMembers struct{}

func (textMembers) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method || knownMap(m.Node) {
		return
	}
	if t := m.Node.Type(); t != nil && t.Kind() != reflect.Interface {
		return
	}
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: memberFunction}, Arguments: []ast.Node{m.Node, m.Property}})
}

// mapRoots are the variables that are maps of Parley's (exprEnv); results
// holds maps too (flow.NAME).
var mapRoots = map[string]bool{
	"flow": true, "results": true, "child": true, "parent": true, "contact": true, "user": true,
	"session": true, "step": true, "call": true, "channel": true,
}

// knownMap tells whether n is one of the maps exprEnv builds: a root
// variable, a result (flow.NAME), contact.fields or user.key.
func knownMap(n ast.Node) bool {
	if c, ok := n.(*ast.ChainNode); ok {
		n = c.Node
	}
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return mapRoots[x.Value]
	case *ast.MemberNode:
		if isFieldsMap(n) {
			return true
		}
		id, ok := x.Node.(*ast.IdentifierNode)
		return ok && (id.Value == "flow" || id.Value == "results" || id.Value == "child" || id.Value == "parent")
	}
	return false
}

// member is a.b or a[i] (textMembers): nil of nil, as every member access
// is nil-safe (nilSafe); an error for text and for a list's named member;
// otherwise what expr-lang would give.
func member(p ...any) (any, error) {
	if len(p) != 2 {
		return nil, fmt.Errorf("member access takes 2 operands, got %d", len(p))
	}
	switch obj := p[0].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if k, ok := p[1].(string); ok {
			return obj[k], nil
		}
	case string:
		if k, ok := p[1].(string); ok {
			return nil, fmt.Errorf("text has no member %s", k)
		}
		return nil, fmt.Errorf("text cannot be indexed ([%v]): mid(text, start, count) gives its characters, counted from 1, and left and right its first and last", p[1])
	case []any:
		if k, ok := p[1].(string); ok {
			return nil, fmt.Errorf("a list has no member %s (its items are read by their number, from 0: [0])", k)
		}
	case float64, int, bool:
		return nil, fmt.Errorf("%s has no member %v", kindName(reflect.TypeOf(obj).String()), p[1])
	}
	out := runtime.Fetch(p[0], p[1])
	if k, ok := p[1].(string); ok && out != nil && reflect.TypeOf(out).Kind() == reflect.Func {
		// A method named without its call, of a value whose type the
		// check at compile time did not know.
		return nil, fmt.Errorf("%s is a method of %s: call it as %s()", k, kindName(reflect.TypeOf(p[0]).String()), k)
	}
	return out, nil
}
