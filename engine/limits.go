package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// DefaultMaxValueBytes is the default limit of a value a template or an
// expression produces (64 KiB): a hundred times RapidPro's limit of a result
// or contact field (640 characters), and room for any message a channel takes,
// while a loop that doubles a value stops long before it can exhaust memory.
const DefaultMaxValueBytes = 64 << 10

// WithMaxValueBytes sets the largest value, in bytes, that a rendered
// template, an expression's result or any value inside it, and a value
// set_variable stores may have (default DefaultMaxValueBytes). A widget whose
// value goes over it fails (see turn.overLimit).
func WithMaxValueBytes(n int) Option { return func(e *Engine) { e.maxValue = n } }

// valueTooLarge is a value over the engine's limit, found before it was
// made in full.
type valueTooLarge struct {
	what  string // what produced it: a template, a function, an expression
	size  int    // its size in bytes, or what it had reached when more
	more  bool   // size is a lower bound
	limit int
}

func (e *valueTooLarge) Error() string {
	more := ""
	if e.more {
		more = " or more"
	}
	return fmt.Sprintf("%s is %d bytes%s, over the %d-byte limit of a value (--max-value)", e.what, e.size, more, e.limit)
}

// overLimit records that the running widget produced a value over the limit.
// From then on the widget's events and writes to the session are dropped and
// its context is cancelled (a webhook is not called with a cut value); when
// the widget returns, the engine reports the error and takes the widget's
// Failure exit, or fails the session (see settle).
func (t *turn) overLimit(err *valueTooLarge) {
	if t.tooLarge == nil {
		t.tooLarge = err
	}
}

// settle applies a value over the limit to what the widget returned.
func (t *turn) settle(w flows.Widget, out flows.Outcome) flows.Outcome {
	err := t.tooLarge
	if err == nil {
		return out
	}
	t.tooLarge = nil
	b := w.Base()
	msg := fmt.Sprintf("%s %q: %v", b.Type, b.ID, err)
	if _, listed := b.Exits[flows.ExitFailure]; listed && slices.Contains(w.ExitNames(), flows.ExitFailure) {
		t.emit(flows.Event{Type: flows.EventError, Message: msg})
		return flows.Outcome{Exit: flows.ExitFailure}
	}
	t.fail(msg)
	return flows.Outcome{End: flows.StatusFailed}
}

// cancelledContext is the context of a widget that went over the limit.
func (t *turn) cancelledContext() context.Context {
	ctx, cancel := context.WithCancelCause(t.parent)
	cancel(t.tooLarge)
	return ctx
}

// shorten cuts text for an error message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// textSize is the size of v as text, counted until it passes limit: a
// string's bytes, a list's or a map's items with a byte for each separator.
// Walking stops there, so a list that holds the same list many times over is
// not walked (nor written out) in full.
func textSize(v any, limit int) int {
	n := 0
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case nil:
		case string:
			n += len(x)
		case gjson.Result:
			n += len(x.Raw)
		case []byte:
			n += len(x)
		case []any:
			n += 2
			for _, e := range x {
				n++
				if !walk(e) {
					return false
				}
			}
		case []string:
			n += 2
			for _, e := range x {
				n += len(e) + 1
				if n > limit {
					return false
				}
			}
		case map[string]any:
			n += 2
			for k, e := range x {
				n += len(k) + 2
				if !walk(e) {
					return false
				}
			}
		default:
			rv := reflect.ValueOf(v)
			switch rv.Kind() {
			case reflect.Slice, reflect.Array:
				n += 2
				for i := range rv.Len() {
					n++
					if !walk(rv.Index(i).Interface()) {
						return false
					}
				}
			case reflect.Map:
				n += 2
				for it := rv.MapRange(); it.Next(); {
					n += 2
					if !walk(it.Key().Interface()) || !walk(it.Value().Interface()) {
						return false
					}
				}
			default:
				n += 8 // a number, a time, a bool
			}
		}
		return n <= limit
	}
	walk(v)
	return n
}

// growth estimates, before a function runs, the size of what it would
// make, for the functions whose result can be much larger than their
// arguments, without making it: the size itself (exactGrowth) or, counted
// until it passes limit, a lower bound.
var growth = map[string]func(args []any, limit int) int{
	"replace":    replaceSize,
	"substitute": replaceSize,
	"repeat": func(args []any, limit int) int {
		if len(args) != 2 {
			return 0
		}
		s, _ := args[0].(string)
		n, ok := toInt(args[1])
		if !ok || n <= 0 {
			return 0
		}
		return mulSize(len(s), n)
	},
	"join": func(args []any, limit int) int {
		if len(args) == 0 {
			return 0
		}
		glue := ""
		if len(args) == 2 {
			glue = toText(args[1])
		}
		n, items := 0, 0
		rv := reflect.ValueOf(args[0])
		if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
			return 0
		}
		for i := range rv.Len() {
			if items++; items > 1 {
				n += len(glue)
			}
			n += textSize(rv.Index(i).Interface(), limit)
			if n > limit {
				break
			}
		}
		return n
	},
	"fixed": func(args []any, limit int) int {
		if len(args) < 2 {
			return 0
		}
		d, _ := toInt(args[1])
		// The decimals, and room for the digits before the point.
		return addSize(max(d, 0), 24)
	},
	"legacy_fixed": func(args []any, limit int) int {
		if len(args) < 2 {
			return 0
		}
		d, _ := toInt(args[1])
		// The decimals, and room for the digits before the point.
		return addSize(max(d, 0), 32) // commas too
	},
	"read_digits": func(args []any, limit int) int {
		if len(args) != 1 {
			return 0
		}
		return readDigitsSize(toText(args[0]))
	},
	// Functions that write their arguments out as text or join lists: the
	// arguments' size is a lower bound of the result's.
	"string":  argsSize,
	"text":    argsSize,
	"toJSON":  argsSize,
	"concat":  argsSize,
	"flatten": argsSize,
	"upper":   argsSize,
	"lower":   argsSize,
	"title":   argsSize,
}

// argsSize is the size of the arguments' text, each measured as it is (the
// argument list itself adds nothing to the result).
func argsSize(args []any, limit int) int {
	n := 0
	for _, a := range args {
		if n += textSize(a, limit-n); n > limit {
			break
		}
	}
	return n
}

// replaceSize is the size of replace(text, old, new[, n]) and
// substitute(text, old, new).
func replaceSize(args []any, limit int) int {
	if len(args) < 3 {
		return 0
	}
	s, old, with := toText(args[0]), toText(args[1]), toText(args[2])
	if len(with) <= len(old) {
		return len(s)
	}
	count := strings.Count(s, old)
	if len(args) == 4 {
		if n, ok := toInt(args[3]); ok && n >= 0 {
			count = min(count, n)
		}
	}
	return addSize(len(s), mulSize(count, len(with)-len(old)))
}

// mulSize and addSize compute sizes, math.MaxInt when too large for an int.
func mulSize(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

func addSize(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// exactGrowth are the functions whose growth is their result's very size
// (unless math.MaxInt); the others' is a lower bound.
var exactGrowth = map[string]bool{"replace": true, "substitute": true, "repeat": true, "read_digits": true}

// limited wraps an expression function so that a result over the limit is
// refused: before the function runs when growth can tell its size, else
// once it returns.
func (e *Engine) limited(name string, call func(...any) (any, error)) func(...any) (any, error) {
	limit := e.maxValue
	grow := growth[name]
	return func(args ...any) (any, error) {
		if grow != nil {
			if n := grow(args, limit); n > limit {
				return nil, &valueTooLarge{what: name + "()'s result", size: n, more: !exactGrowth[name] || n == math.MaxInt, limit: limit}
			}
		}
		out, err := call(args...)
		if err != nil || name == "default" {
			// default returns one of its arguments, made elsewhere.
			return out, err
		}
		if n := textSize(out, limit); n > limit {
			return nil, &valueTooLarge{what: name + "()'s result", size: n, more: true, limit: limit}
		}
		return out, nil
	}
}

// plusFunction is what a + whose operands may be text calls (see
// limitedPlus): a + b as expr-lang adds them, with the limit on joined text.
const plusFunction = "+"

func (e *Engine) plus(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("+ takes 2 operands, got %d", len(args))
	}
	a, aText := args[0].(string)
	b, bText := args[1].(string)
	if aText && bText && len(a)+len(b) > e.maxValue {
		return nil, &valueTooLarge{what: "text joined with +", size: len(a) + len(b), limit: e.maxValue}
	}
	return runtime.Add(args[0], args[1]), nil
}

// limitedPlus turns each a + b whose operands may both be text into a call
// of plusFunction, which checks the size of joined text before joining it:
// "let b = a + a; let c = b + b ..." would otherwise double a text at each
// step. A + with an operand known to be something else (a number, a time)
// is left to expr-lang, which checks its types when it compiles.
type limitedPlus struct{}

func (limitedPlus) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != "+" || !maybeText(n.Left) || !maybeText(n.Right) {
		return
	}
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: plusFunction}, Arguments: []ast.Node{n.Left, n.Right}})
}

// maybeText tells whether a node may be text when the expression runs: it
// is text, or its type is not known before.
func maybeText(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// asTooLarge finds a valueTooLarge in err.
func asTooLarge(err error) (*valueTooLarge, bool) {
	var tl *valueTooLarge
	ok := errors.As(err, &tl)
	return tl, ok
}
