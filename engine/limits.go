package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"
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

// DefaultMaxExprBytes is the default budget of what one evaluation of an
// expression makes with its functions and with + on text, counted in bytes
// as a value is (4 MiB): 64 values of the largest size, far more than a
// message or a webhook's body needs, while a loop such as
// map(1..10000, repeat("x", 60000)) stops long before it exhausts memory.
const DefaultMaxExprBytes = 4 << 20

// DefaultMaxExprItems is the default budget of items one evaluation of an
// expression builds (list items and map entries: 1..1000 is a thousand) and,
// separately, of items its loops (map, filter, count, ...) and in go over:
// a hundred thousand, far more than a conversation's lists hold, while the
// work of one evaluation stays bounded.
const DefaultMaxExprItems = 100_000

// DefaultMaxExprNodes is the most parts (numbers, names, operators, calls)
// an expression has: twenty times as many as the longest expression of the
// examples, and few enough that one round of a loop, which looks at the
// clock once, stays short.
const DefaultMaxExprNodes = 1000

// WithMaxExprBytes sets the budget, in bytes, of what one evaluation of an
// expression makes with its functions and + (default DefaultMaxExprBytes).
func WithMaxExprBytes(n int) Option { return func(e *Engine) { e.maxExprBytes = n } }

// WithMaxExprItems sets the budget of items one evaluation of an
// expression builds, and of items its loops go over (default
// DefaultMaxExprItems).
func WithMaxExprItems(n int) Option { return func(e *Engine) { e.maxExprItems = n } }

// limitKind tells which limit a valueTooLarge passed.
type limitKind uint8

const (
	limitValue   limitKind = iota // a value's size (--max-value)
	limitBytes                    // what an evaluation made (--max-expr-bytes)
	limitItems                    // items an evaluation built or went over (--max-expr-items)
	limitTimeout                  // the turn's deadline, reached while an expression ran
)

// valueTooLarge is a value over the engine's limit, found before it was
// made in full, or an expression stopped by its budget or the turn's
// deadline: either way the widget fails (see overLimit).
type valueTooLarge struct {
	what  string // what produced it: a template, a function, an expression
	size  int    // its size in bytes, or what it had reached when more
	more  bool   // size is a lower bound
	limit int
	kind  limitKind
	// field is the JSON path of the widget's field whose template it
	// was in (text, url, quick_replies[0]), when it was in one.
	field string
}

func (e *valueTooLarge) Error() string {
	if e.field != "" {
		return e.field + ": " + e.message()
	}
	return e.message()
}

func (e *valueTooLarge) message() string {
	more := ""
	if e.more {
		more = " or more"
	}
	switch e.kind {
	case limitBytes:
		return fmt.Sprintf("%s: what its functions and + made comes to %d bytes%s, over the %d-byte limit of an expression (--max-expr-bytes)", e.what, e.size, more, e.limit)
	case limitItems:
		return fmt.Sprintf("%s: it builds or goes over more than %d items (list items, map entries, items a loop takes), the limit of an expression (--max-expr-items)", e.what, e.limit)
	case limitTimeout:
		return fmt.Sprintf("%s: %v while it ran", e.what, flows.ErrTurnTimeout)
	}
	return fmt.Sprintf("%s is %d bytes%s, over the %d-byte limit of a value (--max-value)", e.what, e.size, more, e.limit)
}

// exprRun is the state of one evaluation of an expression, which every
// function it calls gets as its first argument (see meteredCalls): the
// bytes made and items gone over so far against their budgets, and the
// turn's deadline, checked every few calls. The items it builds are counted
// by expr-lang's memory budget, which vm is given.
type exprRun struct {
	vm           vm.VM
	bytes, items int
	calls        int
	rounds       int
	round        func() bool // countRound, made once
	deadline     time.Time
	parent       context.Context
	maxBytes     int
	maxItems     int
	// env is $env as the evaluation's expression sees it (envOfFlow),
	// made at its first read: a loop reads it once per round.
	env any
}

// checkEvery is how many function calls of an evaluation pass between two
// looks at the clock.
const checkEvery = 16

// start readies r for an evaluation in turn t.
func (r *exprRun) start(t *turn) {
	// calls goes on from the evaluation before in the turn, so that the
	// clock is looked at every checkEvery calls of the turn, not only of
	// evaluations that make as many.
	r.bytes, r.items, r.env = 0, 0, nil
	r.deadline, r.parent = t.deadline, t.parent
	r.maxBytes, r.maxItems = t.e.maxExprBytes, t.e.maxExprItems
	// The VM refuses at its budget, not past it: one more lets exactly
	// maxItems through, as the docs say.
	r.vm.MemoryBudget = uint(t.e.maxExprItems) + 1
}

// tick counts a call, and every checkEvery calls (or always) stops the
// evaluation when the turn is over its deadline or its caller gave up.
func (r *exprRun) tick(always bool) error {
	if r.calls++; r.calls%checkEvery != 0 && !always {
		return nil
	}
	if r.parent != nil && r.parent.Err() != nil {
		return context.Cause(r.parent)
	}
	if !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
		return &valueTooLarge{kind: limitTimeout}
	}
	return nil
}

// made counts the bytes of a value a function made.
func (r *exprRun) made(v any) error {
	var n int
	switch x := v.(type) {
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		return nil
	case string:
		n = len(x)
	default:
		n = textSize(v, r.maxBytes-r.bytes)
	}
	if r.bytes += n; r.bytes > r.maxBytes {
		return &valueTooLarge{size: r.bytes, more: true, limit: r.maxBytes, kind: limitBytes}
	}
	return nil
}

// isArgument tells whether out is text that is one of args as it is (the
// same bytes, not a copy): text(s), trim(s) or lower(s) of a text with
// nothing to change hand back what they were given, which they did not make.
func isArgument(out any, args []any) bool {
	s, ok := out.(string)
	if !ok || s == "" {
		return false
	}
	for _, a := range args {
		if t, ok := a.(string); ok && len(t) == len(s) && unsafe.StringData(t) == unsafe.StringData(s) {
			return true
		}
	}
	return false
}

// goesOver counts the items of a list a loop is about to go over.
func (r *exprRun) goesOver(list any) error {
	switch rv := reflect.ValueOf(list); rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		r.items += rv.Len()
	}
	if r.items > r.maxItems {
		return &valueTooLarge{limit: r.maxItems, kind: limitItems}
	}
	return nil
}

// unmade are the functions that return one of their arguments, a value
// already there (a member read) or the turn's time, nothing they made.
var unmade = map[string]bool{"default": true, listArgFunction: true, nowFunction: true, memberFunction: true, envFunction: true,
	inFunction: true, matchesFunction: true, matchTextFunction: true}

// metered wraps each function of an expression so that it takes the
// evaluation's exprRun first (see meteredCalls), counts its call and what it
// makes against the evaluation's budget, and stops at the turn's deadline.
func metered(c *conf.Config) {
	for name, f := range c.Functions {
		call, count := f.Func, !unmade[name]
		// A match looks at the clock before it runs: one alone may take
		// as long as maxMatchWork allows.
		always := name == matchesFunction || name == matchTextFunction
		g := *f
		g.Func = func(p ...any) (any, error) {
			r, ok := p[0].(*exprRun)
			if !ok {
				return nil, fmt.Errorf("%s: called outside an evaluation", name)
			}
			if err := r.tick(always); err != nil {
				return nil, err
			}
			if name == envFunction {
				// The variables do not change while the expression runs.
				if r.env == nil {
					env, err := call(p[1:]...)
					if err != nil {
						return nil, err
					}
					r.env = env
				}
				return r.env, nil
			}
			if name == inFunction && len(p) == 3 {
				// A list is gone over item by item (a map is not).
				if k := reflect.ValueOf(p[2]).Kind(); k == reflect.Slice || k == reflect.Array {
					if err := r.goesOver(p[2]); err != nil {
						return nil, err
					}
				}
			}
			out, err := call(p[1:]...)
			switch {
			case err != nil:
				return out, err
			case name == listArgFunction:
				err = r.goesOver(out)
			case count && !isArgument(out, p[1:]):
				err = r.made(out)
			}
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		c.Functions[name] = &g
	}
}

// envFunction is what $env calls (see meteredCalls), under a name no
// author can write: the variables without the engine's own, named as no
// author can write a name (runVar, roundVar, the turn's time of clock.go),
// which are the evaluation's, not the flow's.
const envFunction = "env()"

func envOfFlow(p ...any) (any, error) {
	env, ok := p[0].(map[string]any)
	if !ok {
		return p[0], nil
	}
	var out map[string]any
	for k := range env {
		if strings.HasSuffix(k, "()") {
			if out == nil {
				out = maps.Clone(env)
			}
			delete(out, k)
		}
	}
	if out == nil {
		return env, nil
	}
	return out, nil
}

// roundVar is the variable, under a name no author can write, holding
// the evaluation's exprRun.round, which each round of a loop calls (see
// meteredCalls).
const roundVar = "round()"

// roundsPerCheck is how many rounds of a loop pass between two looks at
// the clock. A round is bounded by the size of an expression: the slowest
// we found (240 comparisons of two 60,000-byte texts) takes about a
// millisecond, so a loop looks at the clock every 20 ms or so.
const roundsPerCheck = 16

// countRound counts a round of a loop and every roundsPerCheck rounds
// looks at the clock. It panics with what stops the evaluation: expr-lang
// recovers it as the error of the call, as it does a function's error.
func (r *exprRun) countRound() bool {
	if r.rounds++; r.rounds%roundsPerCheck == 0 {
		if err := r.tick(true); err != nil {
			panic(err)
		}
	}
	return true
}

// inFunction, matchesFunction and matchTextFunction are what a in b and a
// matches b call (see meteredCalls), under names no author can write: in
// goes over a list item by item, and matching takes time in proportion to
// the text's size times its pattern's program's, so one operator alone
// could take seconds.
const (
	inFunction        = "in()"
	matchesFunction   = "matches()"
	matchTextFunction = "match_text()"
)

// maxMatchWork is the most a match may do: the text's size in bytes times
// the instructions of the pattern's program (see patternSize). At the limit
// a match takes up to about 0.4 s (64 KiB against [^z]{250}z, on a 2-core
// AMD EPYC server), the longest an expression runs between two looks at
// the clock.
const maxMatchWork = 1 << 24

func in(p ...any) (any, error) { return runtime.In(p[0], p[1]), nil }

// matchText is the text of a matches with a constant pattern whose program
// has n instructions, refused when matching it would take too long.
func matchText(p ...any) (any, error) {
	s, _ := p[0].(string)
	n, _ := p[1].(int)
	if err := matchWork(len(s), n); err != nil {
		return nil, err
	}
	return p[0], nil
}

// matches is a matches b with a pattern made while the expression runs.
func matches(p ...any) (any, error) {
	if runtime.IsNil(p[0]) || runtime.IsNil(p[1]) {
		return false, nil // as expr-lang's matches
	}
	s, ok1 := p[0].(string)
	pattern, ok2 := p[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("matches takes text on both sides, not %s and %s", kindName(reflect.TypeOf(p[0]).String()), kindName(reflect.TypeOf(p[1]).String()))
	}
	re, n, err := runtimePatterns.get(pattern)
	if err != nil {
		return nil, fmt.Errorf("matches: %w", err)
	}
	if err := matchWork(len(s), n); err != nil {
		return nil, err
	}
	return re.MatchString(s), nil
}

// patternCache keeps the patterns matches made while expressions ran,
// compiled and sized, so that a pattern matched in a loop is compiled once,
// not twice each round. It holds at most maxCachedPatterns and starts
// again when full.
type patternCache struct {
	mu sync.Mutex
	m  map[string]cachedPattern
}

type cachedPattern struct {
	re   *regexp.Regexp
	size int
	err  error
}

const maxCachedPatterns = 256

var runtimePatterns = patternCache{m: map[string]cachedPattern{}}

func (c *patternCache) get(pattern string) (*regexp.Regexp, int, error) {
	c.mu.Lock()
	p, ok := c.m[pattern]
	c.mu.Unlock()
	if ok {
		return p.re, p.size, p.err
	}
	if p.size, p.err = patternSize(pattern); p.err == nil {
		p.re, p.err = regexp.Compile(pattern)
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedPatterns {
		clear(c.m)
	}
	c.m[pattern] = p
	c.mu.Unlock()
	return p.re, p.size, p.err
}

// patternSize is the number of instructions of a pattern's program, as
// regexp compiles it: what a match does at each byte of the text. It can be
// far more than the pattern's bytes (a{1000} is 7 bytes and 1,000
// instructions).
func patternSize(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

func matchWork(text, pattern int) error {
	if mulSize(text, max(pattern, 1)) > maxMatchWork {
		return fmt.Errorf("matches: a text of %d bytes against a pattern of %d instructions is more than one match may do (the text's bytes times the pattern's instructions, at most %d)", text, pattern, maxMatchWork)
	}
	return nil
}

// runVar is the variable, under a name no author can write, holding the
// evaluation's exprRun.
const runVar = "run()"

// meteredCalls gives each call of a function of the expression's (all of
// them Parley's or wrapped by it, see metered) the evaluation's exprRun as
// its first argument. It walks the tree once it is checked and optimized:
// the check has counted and typed the author's arguments, and the callee
// is made untyped so that the compiler passes the arguments as they are.
type meteredCalls struct{ functions map[string]*builtin.Function }

func (v meteredCalls) Visit(node *ast.Node) {
	if p, ok := (*node).(*ast.PredicateNode); ok {
		// Each round of a loop (the predicate of map, filter, count ...)
		// first calls the evaluation's exprRun.round, so that a loop whose
		// rounds call nothing else still stops at the turn's deadline. It
		// is a variable of type func() bool, which expr-lang calls as it
		// is: a function of the expression's would cost each round an
		// allocation of its arguments.
		round := &ast.IdentifierNode{Value: roundVar}
		round.SetType(reflect.TypeFor[func() bool]())
		p.Node = &ast.SequenceNode{Nodes: []ast.Node{&ast.CallNode{Callee: round}, p.Node}}
		return
	}
	if id, ok := (*node).(*ast.IdentifierNode); ok && id.Value == "$env" {
		// $env, the variables as a map, without the evaluation's own.
		*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: envFunction}, Arguments: []ast.Node{&ast.IdentifierNode{Value: runVar}, id}}
		(*node).SetLocation(id.Location())
		return
	}
	if b, ok := (*node).(*ast.BinaryNode); ok {
		run := &ast.IdentifierNode{Value: runVar}
		switch str, literal := b.Right.(*ast.StringNode); {
		case b.Operator == "in":
			*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: inFunction}, Arguments: []ast.Node{run, b.Left, b.Right}}
			(*node).SetLocation(b.Location()) // for its errors, as the operator's
		case b.Operator == "matches" && literal:
			// The pattern is compiled once, with the program (expr-lang
			// has checked it compiles), and so is its size.
			n, err := patternSize(str.Value)
			if err != nil {
				n = math.MaxInt
			}
			b.Left = &ast.CallNode{Callee: &ast.IdentifierNode{Value: matchTextFunction}, Arguments: []ast.Node{run, b.Left, &ast.IntegerNode{Value: n}}}
			b.Left.SetLocation(b.Location())
		case b.Operator == "matches":
			*node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: matchesFunction}, Arguments: []ast.Node{run, b.Left, b.Right}}
			(*node).SetLocation(b.Location())
		}
		return
	}
	c, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if _, ok := v.functions[id.Value]; !ok {
		return
	}
	c.Callee = &ast.IdentifierNode{Value: id.Value}
	c.Arguments = append([]ast.Node{&ast.IdentifierNode{Value: runVar}}, c.Arguments...)
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
	"toJSON":  indentedJSONSize,
	"concat":  argsSize,
	"flatten": argsSize,
	"upper":   argsSize,
	"lower":   argsSize,
	"title":   argsSize,
}

// indentedJSONSize is a lower bound of the size of toJSON's result:
// expr-lang indents it by two spaces a level, one item or field a line, so
// a deeply nested value is far larger written out than its text
// (repeat("[", 9999) + repeat("]", 9999), 20 KB, is some 160 MB).
func indentedJSONSize(args []any, limit int) int {
	if len(args) != 1 {
		return 0
	}
	n := 0
	var walk func(v any, depth int) bool
	walk = func(v any, depth int) bool {
		items := 0
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if !walk(e, depth+1) {
					return false
				}
			}
			items = len(x)
		case map[string]any:
			for k, e := range x {
				n += len(k) + 4 // "k": (quotes, colon, space)
				if !walk(e, depth+1) {
					return false
				}
			}
			items = len(x)
		case string:
			n += len(x) + 2 // its quotes
		case nil, bool:
			n += 4 // null, true, false
		case int, int64, float64:
			n++ // a digit at least
		default:
			n += textSize(v, limit-n)
		}
		if items > 0 {
			// The line end after the opening bracket; each item's line:
			// its indent, a comma (not after the last), the line end; the
			// closing bracket's indent ("[\n  a,\n  b\n]").
			n += 1 + items*(2*(depth+1)+2) - 1 + 2*depth
		}
		return n <= limit
	}
	walk(args[0], 0)
	return n
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
