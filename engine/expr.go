package engine

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/rules"
)

// expression is a compiled expr-lang program. Programs are shared by every
// session on the flow revision; each evaluation uses its own VM state.
type expression struct {
	src  string
	prog *vm.Program
	// method is what the check at compile time said of a method named
	// without its call (now.Year), in a stored flow that loads with it: the
	// expression fails with it when such a method is its result or
	// fails it.
	method string
	// reads are the results of the flow the expression reads by name
	// (flow.NAME, results.NAME), each once, but for those it reads only
	// where a fallback stands in for them (see callChecker.noteRead).
	reads []flows.ResultRead
}

func (x *expression) Source() string { return x.src }

// Functions are extra expression functions, by name, available in every @(...)
// and expression rule. expr-lang's own builtins (upper, lower, trim, len, split,
// join, replace, int, float, string, round, date, ...) are there too, and now()
// gives the turn's time (clock.go).
var Functions = map[string]func(params ...any) (any, error){
	// title(text): each word capitalised, the rest in lower case
	// (goflow's, see titleCase).
	"title": textFunction("title", titleCase),
	// first_word(text): the first word, as word(text, 0) splits words;
	// "" when there is none.
	"first_word": textFunction("first_word", firstWord),
	// remove_first_word(text): the text from its second word on, as written
	// (goflow's): remove_first_word("Hi there. I'm a flow!") is "there.
	// I'm a flow!".
	"remove_first_word": textFunction("remove_first_word", removeFirstWord),
	// word(text, n[, delimiters]): the nth word, counting from 0 (from the
	// end when negative), "" past the last. Words are split as goflow
	// splits them (engine/words.go), or at any of the delimiters'
	// characters.
	"word": func(p ...any) (any, error) {
		if len(p) != 2 && len(p) != 3 {
			return nil, fmt.Errorf("word(text, n[, delimiters]) takes 2 or 3 arguments, got %d", len(p))
		}
		n, ok := toInt(p[1]) // a fraction cut off, as goflow's
		if !ok {
			_, err := argWhole("word", 2, "n", p[1]) // says what is wrong
			return nil, err
		}
		w := words(toText(p[0]), optText(p, 2))
		if n < 0 {
			n += len(w)
		}
		if n < 0 || n >= len(w) {
			return "", nil
		}
		return w[n], nil
	},
	// default(value, fallback): fallback when value is empty or missing.
	"default": func(p ...any) (any, error) {
		if p[0] == nil || toText(p[0]) == "" {
			return p[1], nil
		}
		return p[0], nil
	},
	// number(text): the text as one number (rules.ParseNumber): digits of
	// any script, commas only between groups of three digits, a fraction;
	// an error for any other text ("1,5" included, which the number rules,
	// dropping every comma, read as 15).
	"number": func(p ...any) (any, error) {
		s, err := oneString("number", p)
		if err != nil {
			return nil, err
		}
		if p[0] == nil {
			return nil, argError("number", 1, "", "is not set")
		}
		d, ok := rules.ParseNumber(s)
		if !ok {
			return nil, argError("number", 1, "", "is "+strconv.Quote(s)+", not a number")
		}
		f, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return nil, argError("number", 1, "", "is "+strconv.Quote(s)+", too large")
		}
		return f, nil
	},
	"text": func(p ...any) (any, error) {
		return toText(p[0]), nil
	},
	// length(value): the number of items of a list or map, of characters of
	// anything else (as text).
	"length": func(p ...any) (any, error) {
		switch v := reflect.ValueOf(p[0]); v.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			return v.Len(), nil
		}
		return utf8.RuneCountInString(toText(p[0])), nil
	},
}

// arity is how many arguments a function of Functions takes. One table
// serves the check when an expression is compiled (callChecker) and when the
// function runs (withArity), so that a call that would fail on every run
// does not load.
type arity struct {
	sig      string // the signature, as errors show it
	min, max int
	// hidden is how many arguments clockCalls passes before the author's.
	hidden int
}

// arities are the functions of Functions by name. A function's own
// arguments (the author's) are counted, never the ones clockCalls adds.
var arities = map[string]arity{
	"title":                    {sig: "title(text)", min: 1, max: 1},
	"first_word":               {sig: "first_word(text)", min: 1, max: 1},
	"remove_first_word":        {sig: "remove_first_word(text)", min: 1, max: 1},
	"word":                     {sig: "word(text, n[, delimiters])", min: 2, max: 3},
	"default":                  {sig: "default(value, fallback)", min: 2, max: 2},
	"number":                   {sig: "number(text)", min: 1, max: 1},
	"text":                     {sig: "text(value)", min: 1, max: 1},
	"length":                   {sig: "length(value)", min: 1, max: 1},
	"format_tel":               {sig: "format_tel(urn)", min: 1, max: 1},
	"word_count":               {sig: "word_count(text[, delimiters])", min: 1, max: 2},
	"word_slice":               {sig: "word_slice(text, start[, stop[, delimiters]])", min: 2, max: 4},
	"field":                    {sig: "field(text, index, delimiter)", min: 3, max: 3},
	"left":                     {sig: "left(text, count)", min: 2, max: 2},
	"right":                    {sig: "right(text, count)", min: 2, max: 2},
	"mid":                      {sig: "mid(text, start, count)", min: 3, max: 3},
	"substitute":               {sig: "substitute(text, old, new[, instance])", min: 3, max: 4},
	"clean":                    {sig: "clean(text)", min: 1, max: 1},
	"char":                     {sig: "char(code)", min: 1, max: 1},
	"unichar":                  {sig: "unichar(code)", min: 1, max: 1},
	"code":                     {sig: "code(text)", min: 1, max: 1},
	"unicode":                  {sig: "unicode(text)", min: 1, max: 1},
	"power":                    {sig: "power(x, y)", min: 2, max: 2},
	"fixed":                    {sig: "fixed(number[, decimals[, no_commas]])", min: 1, max: 3},
	"legacy_fixed":             {sig: "legacy_fixed(number[, decimals[, no_commas]])", min: 1, max: 3},
	"legacy_round":             {sig: "legacy_round(number[, places])", min: 1, max: 2},
	"legacy_roundup":           {sig: "legacy_roundup(number[, places])", min: 1, max: 2},
	"legacy_rounddown":         {sig: "legacy_rounddown(number[, places])", min: 1, max: 2},
	"datevalue":                {sig: "datevalue(text)", min: 1, max: 1, hidden: 2},
	"legacy_add":               {sig: "legacy_add(a, b)", min: 2, max: 2, hidden: 2},
	"legacy_sub":               {sig: "legacy_sub(a, b)", min: 2, max: 2, hidden: 2},
	"edate":                    {sig: "edate(date, months)", min: 2, max: 2, hidden: 2},
	"today":                    {sig: "today()", min: 0, max: 0, hidden: 1},
	"legacy_date_part":         {sig: "legacy_date_part(date, part)", min: 2, max: 2, hidden: 2},
	"legacy_datedif":           {sig: "legacy_datedif(start, end, unit)", min: 3, max: 3, hidden: 2},
	"legacy_date":              {sig: "legacy_date(year, month, day)", min: 3, max: 3},
	"legacy_mod":               {sig: "legacy_mod(number, divisor)", min: 2, max: 2},
	"read_digits":              {sig: "read_digits(text)", min: 1, max: 1},
	"legacy_eq":                {sig: "legacy_eq(a, b)", min: 2, max: 2},
	"legacy_cmp":               {sig: "legacy_cmp(a, b)", min: 2, max: 2},
	"legacy_num":               {sig: "legacy_num(x)", min: 1, max: 1},
	"legacy_bool":              {sig: "legacy_bool(x)", min: 1, max: 1},
	"legacy_word":              {sig: "legacy_word(text, number[, by_spaces])", min: 2, max: 3},
	"legacy_word_count":        {sig: "legacy_word_count(text[, by_spaces])", min: 1, max: 2},
	"legacy_word_slice":        {sig: "legacy_word_slice(text, start[, stop[, by_spaces]])", min: 2, max: 4},
	"legacy_first_word":        {sig: "legacy_first_word(text)", min: 1, max: 1},
	"legacy_remove_first_word": {sig: "legacy_remove_first_word(text)", min: 1, max: 1},
	"legacy_proper":            {sig: "legacy_proper(text)", min: 1, max: 1},
	"rand":                     {sig: "rand()", min: 0, max: 0},
	"randbetween":              {sig: "randbetween(low, high)", min: 2, max: 2},
}

// check is what is wrong with a call of n arguments, or "".
func (a arity) check(n int) string {
	if n >= a.min && n <= a.max {
		return ""
	}
	var takes string
	switch {
	case a.max == 0:
		takes = "no arguments"
	case a.min == a.max && a.min == 1:
		takes = "1 argument"
	case a.min == a.max:
		takes = fmt.Sprintf("%d arguments", a.min)
	case a.max == a.min+1:
		takes = fmt.Sprintf("%d or %d arguments", a.min, a.max)
	default:
		takes = fmt.Sprintf("%d to %d arguments", a.min, a.max)
	}
	return fmt.Sprintf("%s takes %s, got %d", a.sig, takes, n)
}

// withArity checks the arguments of a call of the function name against
// arities before calling fn.
func withArity(name string, fn func(...any) (any, error)) func(...any) (any, error) {
	a, ok := arities[name]
	if !ok {
		panic("engine: expression function " + name + " has no arity")
	}
	return func(p ...any) (any, error) {
		if msg := a.check(len(p) - a.hidden); msg != "" {
			return nil, errors.New(msg)
		}
		return fn(p...)
	}
}

func oneString(name string, p []any) (string, error) {
	if len(p) != 1 {
		return "", fmt.Errorf("%s takes 1 argument, got %d", name, len(p))
	}
	return toText(p[0]), nil
}

// textFunction is the expression function name of one argument, read as
// text (oneString), whose result is f's of it.
func textFunction(name string, f func(string) string) func(...any) (any, error) {
	return func(p ...any) (any, error) {
		s, err := oneString(name, p)
		if err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

// optText is the text of the optional argument i, "" when it is left out.
func optText(p []any, i int) string {
	if i < len(p) {
		return toText(p[i])
	}
	return ""
}

// toInt reads v as a whole number, a fraction cut off; ok is false when it
// is not a number or out of the range of one (see inIntRange).
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if !inIntRange(x) {
			return 0, false
		}
		return int(x), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// inIntRange tells whether x, a fraction cut off, is a whole number Go's
// int holds: int(x) of any other (1e300, NaN) gives -9223372036854775808.
func inIntRange(x float64) bool {
	return x >= math.MinInt64 && x < math.MaxInt64
}

// typedVars are the variables of exprEnv whose type is the same in every
// turn, by a value of that type: an expression is checked against it when it
// compiles, so that now.Yeer() or now.Format() (a misspelt method, a wrong
// count of arguments) does not load, instead of failing on every run.
// input is the last inbound text or digits, text in every turn (an empty
// one before any): !input, input.Foo or input > 1 fail on every run.
var typedVars = map[string]any{"now": time.Time{}, "input": ""}

// resultTypes are the types of the functions of Functions whose result is
// always of one kind, for the check when an expression compiles: number()
// is a number, so number(x) + "a" does not load. Their arguments are any
// number of anything: arities and the functions themselves check those.
var resultTypes = map[string]any{
	"title": new(func(...any) string), "first_word": new(func(...any) string),
	"remove_first_word": new(func(...any) string), "word": new(func(...any) string),
	"text": new(func(...any) string), "number": new(func(...any) float64), "length": new(func(...any) int),
}

// modFunction is what a % of an operand that may not be a whole number
// calls (see floatMod), under a name no author can write.
const modFunction = "%"

func (e *Engine) exprOptions(env map[string]any) []expr.Option {
	// Without the types of typedVars, the functions' result types are not
	// given either: such a configuration compiles what earlier versions did.
	typed := len(env) > 0
	opts := []expr.Option{expr.Env(env), expr.AllowUndefinedVariables(), expr.Patch(inputMembers{}), expr.Patch(fieldKeys{}), expr.Patch(nilSafe{}),
		expr.DisableBuiltin("now")} // the machine's clock: now is the turn's (clock.go)
	random := randomFunctions(e.float, e.intn)
	for name, fn := range Functions {
		if own, ok := random[name]; ok {
			fn = withArity(name, own)
		}
		if t, ok := resultTypes[name]; ok && typed {
			opts = append(opts, expr.Function(name, e.limited(name, fn), t))
		} else {
			opts = append(opts, expr.Function(name, e.limited(name, fn)))
		}
	}
	opts = append(opts, expr.Function(modFunction, mod))
	opts = append(opts, expr.Function(plusFunction, e.plus), expr.Function(nowFunction, clockNow), expr.Function(listArgFunction, listArg),
		expr.Function(memberFunction, member), expr.Function(inFunction, in), expr.Function(envFunction, envOfFlow),
		expr.Function(matchesFunction, matches), expr.Function(matchTextFunction, matchText))
	return append(opts, e.wrapBuiltins, metered, expr.MaxNodes(DefaultMaxExprNodes))
}

// Builtins of expr-lang that take a value not set yet (nil: a result not
// collected, an unknown field) would fail with Go's own words ("interface
// conversion: interface {} is nil, not string", "reflect: call of
// reflect.Value.Type on zero Value"). textBuiltins read nil as empty text, as
// a template does; numberBuiltins refuse it in a sentence naming the function.
var (
	textBuiltins = []string{"upper", "lower", "trim", "trimPrefix", "trimSuffix", "split", "splitAfter",
		"replace", "indexOf", "lastIndexOf", "hasPrefix", "hasSuffix"}
	numberBuiltins = []string{"int", "float", "abs", "ceil", "floor", "round"}
	// timeBuiltins read text: date() takes a time as well (see dateOfTime).
	timeBuiltins = []string{"date", "duration", "timezone"}
	// sizedBuiltins make text or lists that can be larger than their
	// arguments: their results are checked against the limit of a value
	// (see limited), as those of the text builtins are.
	sizedBuiltins = []string{"repeat", "join", "string", "toJSON", "toBase64", "concat", "flatten"}
	// readBuiltins read a list, a map or text they cannot do without.
	readBuiltins = []string{"len", "max", "min", "mean", "median", "fromPairs", "toPairs", "reverse", "uniq",
		"take", "fromJSON", "fromBase64"}
	// notSetBuiltins refuse nil, in a sentence naming the function and the
	// argument, where Go's words would say it ("reflect: call of
	// reflect.Value.Len on zero Value", "invalid argument for len (type
	// <nil>)"); for join, only as its list.
	notSetBuiltins = map[string]bool{"len": true, "max": true, "min": true, "mean": true, "median": true,
		"fromPairs": true, "toPairs": true, "reverse": true, "uniq": true, "take": true, "fromJSON": true,
		"fromBase64": true, "join": true, "concat": true, "flatten": true, "keys": true, "values": true}
)

// wrapBuiltins replaces those builtins by functions (which expr-lang
// looks up before its builtins) that handle nil, then call the builtin, and
// refuse a result over the limit of a value; the builtin's signature is
// kept, so calls are checked at compile time as before.
func (e *Engine) wrapBuiltins(c *conf.Config) {
	wrap := func(name string, text, number bool) {
		b := builtin.Builtins[builtin.Index[name]]
		call := b.Func
		if call == nil && b.Safe != nil {
			// The size is checked against the limit of a value instead of
			// counted in expr-lang's memory budget.
			safe := b.Safe
			call = func(args ...any) (any, error) {
				out, _, err := safe(args...)
				return out, err
			}
		}
		if call == nil && b.Fast != nil {
			fast := b.Fast
			call = func(args ...any) (any, error) {
				if len(args) != 1 {
					return nil, fmt.Errorf("%s takes 1 argument, got %d", name, len(args))
				}
				return fast(args[0]), nil
			}
		}
		if call == nil {
			return
		}
		sized := e.limited(name, call)
		c.Functions[name] = &builtin.Function{Name: name, Types: b.Types, Validate: b.Validate, Deref: b.Deref,
			Func: func(args ...any) (out any, err error) {
				if name == "string" && len(args) == 1 {
					switch a := args[0].(type) {
					case nil:
						return "", nil // as a template renders nil
					case string:
						return a, nil // as it is, not a copy to count
					case time.Time:
						// As a template writes it (RFC 3339), not as Go's
						// String ("2026-05-04 10:00:00 +0000 UTC").
						return flows.ExactText(a), nil
					}
					switch reflect.ValueOf(args[0]).Kind() {
					case reflect.Map, reflect.Slice, reflect.Array, reflect.Func:
						// A list or map as JSON, as a template writes it,
						// not as Go's %v ("map[0:[2] 1:[1 3]]").
						return sized(flows.ExactText(args[0]))
					}
				}
				if name == "toJSON" && len(args) == 1 {
					if v, ok := textKeys(args[0]); ok {
						args = []any{v}
					}
				}
				cloned := false
				for i, a := range args {
					if a == nil && notSetBuiltins[name] && (i == 0 || name != "join") {
						return nil, argError(name, i+1, "", "is not set")
					}
					if a != nil || !text && !number {
						continue
					}
					if number {
						return nil, argError(name, i+1, "", "is not set")
					}
					if !cloned {
						args, cloned = slices.Clone(args), true
					}
					args[i] = ""
				}
				if number {
					if err := numberArgs(name, args); err != nil {
						return nil, err
					}
				}
				if name == "date" {
					if t, ok, err := dateOfTime(args); ok {
						return t, err
					}
				}
				if name == "date" || name == "timezone" {
					for _, a := range args {
						if s, ok := a.(string); ok && s == "Local" {
							return nil, errLocalZone(name)
						}
					}
				}
				defer func() {
					// A value of the wrong kind reaches the builtin when its
					// type was unknown at compile time.
					if r := recover(); r != nil {
						out, err = nil, kindError(name, r, args)
					}
				}()
				out, err = sized(args...)
				if err != nil {
					err = builtinError(name, args, err)
				}
				return out, err
			}}
	}
	for _, name := range textBuiltins {
		wrap(name, true, false)
	}
	for _, name := range numberBuiltins {
		wrap(name, false, true)
	}
	for _, name := range sizedBuiltins {
		wrap(name, false, false)
	}
	for _, name := range timeBuiltins {
		wrap(name, false, false)
	}
	for _, name := range readBuiltins {
		wrap(name, false, false)
	}
	// keys() and values() of a map (contact.fields, a webhook's answer)
	// come in the order of its keys, so that a flow says the same thing
	// every time, as a template's @(...) of the map does.
	for _, name := range []string{"keys", "values"} {
		b := builtin.Builtins[builtin.Index[name]]
		call := b.Func
		c.Functions[name] = &builtin.Function{Name: name, Types: b.Types, Validate: b.Validate, Deref: b.Deref,
			Func: func(args ...any) (any, error) {
				var m map[string]any
				if len(args) == 1 {
					if args[0] == nil {
						return nil, argError(name, 1, "", "is not set")
					}
					m, _ = args[0].(map[string]any)
				}
				if m == nil {
					return call(args...)
				}
				out := make([]any, 0, len(m))
				for _, k := range slices.Sorted(maps.Keys(m)) {
					if name == "keys" {
						out = append(out, k)
					} else {
						out = append(out, m[k])
					}
				}
				return out, nil
			}}
	}
}

// Expressions of up to maxCachedSource bytes are compiled once per engine,
// up to maxCachedExprs of them at a time: a flow that writes the same
// expression many times (@(1) 250,000 times in a 1 MB flow) shares one
// program, as sessions do. Programs are only read when they run.
const (
	maxCachedSource = 256
	maxCachedExprs  = 4096
)

// compiledExpr is an expression compiled, or the error it compiled with.
type compiledExpr struct {
	x   *expression
	err error
}

func (e *Engine) compileExpr(src string) (*expression, error) {
	if len(src) > maxCachedSource {
		return e.compileExprOnce(src)
	}
	if c, ok := e.exprCache.Load(src); ok {
		return c.(compiledExpr).x, c.(compiledExpr).err
	}
	x, err := e.compileExprOnce(src)
	if e.exprCount.Add(1) > maxCachedExprs {
		e.exprCache.Clear()
		e.exprCount.Store(1)
	}
	e.exprCache.Store(src, compiledExpr{x, err})
	return x, err
}

func (e *Engine) compileExprOnce(src string) (*expression, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%w: empty expression", flows.ErrBadExpression)
	}
	// The call check walks the tree as parsed: the optimizer may drop a
	// branch (false && uper(x)) that still holds the author's typo.
	calls := &callChecker{}
	prog, err := compileWith(src, e.exprConf, calls)
	if err != nil {
		cerr := fmt.Errorf("%w %q: %s", flows.ErrBadExpression, shorten(src, 60), compileError(src, err))
		// Without the types of typedVars, an expression stored before
		// they were checked may compile: its flow still loads
		// (flows.DecodeStored), and the expression fails when it runs, as
		// it did then.
		redeclared := strings.HasPrefix(err.Error(), "cannot redeclare ") // let now = 1, its own now
		calls = &callChecker{}
		if prog, err = compileWith(src, e.exprLoose(), calls); err != nil {
			return nil, cerr
		}
		if !redeclared {
			return &expression{src: src, prog: prog, reads: calls.resultReads()}, flows.NewRule(cerr)
		}
	}
	x := &expression{src: src, prog: prog, reads: calls.resultReads()}
	if err := calls.err(src); err != nil {
		// Flows stored before this check still load (flows.DecodeStored):
		// the expression is returned with the error, and the call fails
		// when it runs, as it did then.
		for _, b := range calls.bad {
			if b.method {
				x.method = b.msg
				break
			}
		}
		return x, flows.NewRule(fmt.Errorf("%w %q: %s", flows.ErrBadExpression, shorten(src, 60), firstLine(err.Error())))
	}
	return x, nil
}

// compileWith compiles src with a copy of base, calls checking its calls.
func compileWith(src string, base *conf.Config, calls *callChecker) (*vm.Program, error) {
	// clockCalls and limitedPlus come after the call check: the calls they
	// make are of no name an author could write.
	config := *base
	config.NtCache = nature.Cache{} // filled as the tree is checked
	config.Visitors = append(slices.Clip(config.Visitors), calls, clockCalls{}, limitedPlus{}, floatMod{}, listArgs{}, textMembers{})
	return compile(src, &config)
}

// compileError is what a compile error says: its first line, or for an
// expression over the limit of its size, that limit in words (expr-lang's
// words name none, and point at wherever the count passed it).
func compileError(src string, err error) string {
	msg := firstLine(err.Error())
	var fe *file.Error
	if errors.As(err, &fe) && strings.Contains(msg, " to call function ") {
		// A method's call, which expr-lang calls "function": name it.
		if name := calledMethod(src, fe.From, strings.HasPrefix(msg, "cannot use ")); name != "" {
			msg = strings.Replace(msg, " to call function ", " to call "+name+"() ", 1)
			msg = strings.Replace(msg, "  (", " (", 1)
		}
	}
	if strings.HasPrefix(msg, "unrecognized character: U+0040 '@'") {
		// An author who writes templates writes @flow.x in an expression
		// too: say how an expression names it.
		return msg + ": an expression names variables without @ (flow.age.value where a template writes @flow.age); @ and @(...) are for templates"
	}
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		return fmt.Sprintf("an expression has at most %d parts (numbers, names, operators, calls ...): this one has more", DefaultMaxExprNodes)
	}
	if m := textMember.FindStringSubmatch(msg); m != nil {
		// input, text when it compiles, as it fails when it runs.
		return fmt.Sprintf("text has no member %s: it has no members or methods; the text functions read it (upper(input), length(input))%s", m[2], m[3])
	}
	if m := noMethod.FindStringSubmatch(msg); m != nil {
		if t, ok := methodTypes[m[1]]; ok {
			names := make([]string, 0, t.NumMethod())
			for i := range t.NumMethod() {
				names = append(names, t.Method(i).Name)
			}
			if near := flows.Suggestions(m[2], names); len(near) > 0 {
				return fmt.Sprintf("%s has no method %s (did you mean %s?)%s", kindName(m[1]), m[2], flows.OrList(near), m[3])
			}
		}
	}
	return msg
}

// calledMethod is the name of the method whose call is at the rune offset
// at of src: the name there, or, for an argument (arg), the name before the
// parenthesis the argument is in.
func calledMethod(src string, at int, arg bool) string {
	rs := []rune(src)
	if at < 0 || at > len(rs) {
		return ""
	}
	if arg {
		depth := 0
		for at--; at >= 0; at-- {
			switch rs[at] {
			case ')', ']', '}':
				depth++
			case '(', '[', '{':
				depth--
			}
			if depth < 0 {
				break
			}
		}
		end := at
		for at > 0 && strings.ContainsRune(identChars, rs[at-1]) {
			at--
		}
		return string(rs[at:max(end, at)])
	}
	end := at
	for end < len(rs) && strings.ContainsRune(identChars, rs[end]) {
		end++
	}
	return string(rs[at:end])
}

// noMethod matches expr-lang's words for a method a type does not have.
var textMember = regexp.MustCompile(`^type string has no (field|method) (\S+)( \(\d+:\d+\))?$`)

var noMethod = regexp.MustCompile(`^type (\S+) has no method (\S+)( \(\d+:\d+\))?$`)

// methodTypes are the types whose methods an expression calls on values
// known when it compiles (now, date(), duration(), timezone()).
var methodTypes = map[string]reflect.Type{
	"time.Time":      reflect.TypeFor[time.Time](),
	"time.Duration":  reflect.TypeFor[time.Duration](),
	"*time.Location": reflect.TypeFor[*time.Location](),
}

// exprConfig is the configuration every expression of the engine is
// compiled with, made once: its tables of functions (some hundred closures)
// are only read while an expression compiles, and made anew for each one
// they were most of the time a flow of many expressions took to load.
func (e *Engine) exprConfig(env map[string]any) *conf.Config {
	config := conf.CreateNew()
	for _, op := range e.exprOptions(env) {
		op(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	return config
}

// compile is expr.Compile with one step more: once the tree is checked and
// optimized, meteredCalls gives each function call the evaluation's exprRun.
func compile(src string, config *conf.Config) (*vm.Program, error) {
	config.Check()
	tree, err := checker.ParseCheck(src, config)
	if err != nil {
		return nil, err
	}
	if config.Optimize {
		if err := optimizer.Optimize(&tree.Node, config); err != nil {
			var fileError *file.Error
			if errors.As(err, &fileError) {
				return nil, fileError.Bind(tree.Source)
			}
			return nil, err
		}
	}
	ast.Walk(&tree.Node, meteredCalls{config.Functions})
	return exprcompiler.Compile(tree, config)
}

// callChecker finds the calls of names that are no function. Undefined
// variables are allowed (a result not collected yet is nil), and expr-lang
// compiles an unknown function name as one of them: without this check
// uper(input) would compile and fail on every run with "cannot call nil".
// It also counts the arguments of Parley's own functions (arities) and of
// now() (clock.go), which would otherwise fail only when they run. As it
// goes over every part of the expression anyway, it also notes the results
// of the flow the expression reads (noteRead), for flows.ReadsReporter.
type callChecker struct {
	bad []badCall
	// reads are the results read, in the order met; guarded the names
	// read where a fallback stands in for them; shadowed is set when the
	// expression declares a variable flow or results of its own.
	reads    []flows.ResultRead
	guarded  map[string]bool
	shadowed bool
}

type badCall struct {
	at     ast.Node
	msg    string
	method bool // a method named without its call
}

// err names every bad call, in the order they are written.
func (v *callChecker) err(src string) error {
	if len(v.bad) == 0 {
		return nil
	}
	slices.SortStableFunc(v.bad, func(a, b badCall) int {
		return cmp.Or(cmp.Compare(a.at.Location().From, b.at.Location().From), cmp.Compare(a.at.Location().To, b.at.Location().To))
	})
	msgs := make([]string, len(v.bad))
	for i, b := range v.bad {
		// A file.Error gives the position as expr-lang's own errors do: (line:column).
		e := &file.Error{Location: b.at.Location(), Message: b.msg}
		msgs[i] = firstLine(e.Bind(file.NewSource(src)).Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (v *callChecker) Visit(node *ast.Node) {
	v.noteRead(*node)
	if m, ok := (*node).(*ast.MemberNode); ok {
		// A method named without its call (now.Year) is a Go function,
		// which no text can show.
		if t := m.Type(); !m.Method && t != nil && t.Kind() == reflect.Func {
			name := memberText(m)
			v.bad = append(v.bad, badCall{at: m, msg: fmt.Sprintf("%s is a method: call it as %s()", name, name), method: true})
		}
		return
	}
	c, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	callee := c.Callee
	if ch, ok := callee.(*ast.ChainNode); ok {
		callee = ch.Node // nilSafe's a?.b
	}
	if m, ok := callee.(*ast.MemberNode); ok {
		if p, ok := m.Property.(*ast.StringNode); ok && p.Value == "Local" && len(c.Arguments) == 0 {
			v.bad = append(v.bad, badCall{at: m, msg: "Local() is the server's time zone, which flows do not see (a turn's time is in UTC): use .In(timezone(\"America/New_York\")) or now(timezone(...))"})
		}
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if !isFunction(id.Value) {
		msg := fmt.Sprintf("unknown function %s", shorten(id.Value, 60))
		if near := nearestFunctions(id.Value); len(near) > 0 {
			msg += " (did you mean " + flows.OrList(near) + "?)"
		}
		v.bad = append(v.bad, badCall{at: id, msg: msg})
		return
	}
	if msg := clockArity(id.Value, len(c.Arguments)); msg != "" {
		v.bad = append(v.bad, badCall{at: id, msg: msg})
	} else if a, ok := arities[id.Value]; ok {
		if msg := a.check(len(c.Arguments)); msg != "" {
			v.bad = append(v.bad, badCall{at: id, msg: msg})
		}
	}
}

// noteRead notes a result of the flow that node reads by name (flow.NAME,
// results.NAME, flow["NAME"]), and the names read where a fallback stands
// in for a result not set, which the author expects may be missing: the
// first argument of default(), the left of ??, and what is compared with
// nil (flow.x == nil). The tree is walked children first, so a guard is met
// after the reads it guards.
func (v *callChecker) noteRead(node ast.Node) {
	switch n := node.(type) {
	case *ast.MemberNode:
		if name, head, ok := resultMember(n); ok {
			prefix := "flow."
			if head == "results" {
				prefix = "results."
			}
			v.reads = append(v.reads, flows.ResultRead{Name: name, Prefix: prefix})
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "default" && len(n.Arguments) > 0 {
			v.guard(n.Arguments[0])
		}
	case *ast.BinaryNode:
		switch {
		case n.Operator == "??":
			v.guard(n.Left)
		case n.Operator == "==" || n.Operator == "!=":
			if _, isNil := n.Right.(*ast.NilNode); isNil {
				v.guard(n.Left)
			}
			if _, isNil := n.Left.(*ast.NilNode); isNil {
				v.guard(n.Right)
			}
		}
	case *ast.VariableDeclaratorNode:
		v.shadowed = v.shadowed || n.Name == "flow" || n.Name == "results"
	}
}

// guard notes the names of the results node reads as read where a fallback
// stands in for them.
func (v *callChecker) guard(node ast.Node) {
	ast.Walk(&node, guardVisitor{v})
}

type guardVisitor struct{ v *callChecker }

func (g guardVisitor) Visit(node *ast.Node) {
	if m, ok := (*node).(*ast.MemberNode); ok {
		if name, _, ok := resultMember(m); ok {
			if g.v.guarded == nil {
				g.v.guarded = map[string]bool{}
			}
			g.v.guarded[name] = true
		}
	}
}

// resultMember reports whether m is flow.NAME or results.NAME (or the same
// with [...] and a text), and its NAME and head.
func resultMember(m *ast.MemberNode) (name, head string, ok bool) {
	inner := m.Node
	if c, isChain := inner.(*ast.ChainNode); isChain {
		inner = c.Node
	}
	id, isIdent := inner.(*ast.IdentifierNode)
	if !isIdent || id.Value != "flow" && id.Value != "results" {
		return "", "", false
	}
	p, isText := m.Property.(*ast.StringNode)
	if !isText || p.Value == "" {
		return "", "", false
	}
	return p.Value, id.Value, true
}

// resultReads are the results the expression reads, each name once, but
// for those read where a fallback stands in for them, and none when it
// declares its own flow or results.
func (v *callChecker) resultReads() []flows.ResultRead {
	if v.shadowed || len(v.reads) == 0 {
		return nil
	}
	out := v.reads[:0]
	for _, r := range uniqueReads(v.reads) {
		if !v.guarded[r.Name] {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// memberText is a member access as its author wrote it (now.Year), without
// the ?. that nilSafe makes of its dot.
func memberText(n ast.Node) string {
	switch x := n.(type) {
	case *ast.ChainNode:
		return memberText(x.Node)
	case *ast.IdentifierNode:
		return x.Value
	case *ast.MemberNode:
		if p, ok := x.Property.(*ast.StringNode); ok {
			return memberText(x.Node) + "." + p.Value
		}
		return memberText(x.Node) + "[" + x.Property.String() + "]"
	}
	return n.String()
}

// numberArgs refuses, in a sentence, the arguments of a number builtin that
// it would refuse in Go's words (int("1.5"): strconv.Atoi: parsing ...) or
// turn into another number (int(1e300) is -9223372036854775808).
func numberArgs(name string, args []any) error {
	for i, a := range args {
		switch x := a.(type) {
		case string:
			if name == "int" {
				if _, err := strconv.Atoi(x); err != nil {
					return argError(name, i+1, "", "is "+argText(a)+", not a whole number")
				}
			} else if _, err := toFloat(x); err != nil {
				return argError(name, i+1, "", "is "+argText(a)+", not a number")
			} else if name != "float" {
				// Results and contact fields are text, even "5".
				return argError(name, i+1, "", fmt.Sprintf("is text (%s), not a number: read it with number() first (%s(number(...)))", argText(a), name))
			}
		case float64:
			if name == "int" && !inIntRange(x) {
				return argError(name, i+1, "", "is "+argText(a)+", too large for a whole number")
			}
		case nil:
		default:
			switch reflect.ValueOf(a).Kind() {
			case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Bool, reflect.Pointer:
				return argError(name, i+1, "", "is "+kindName(reflect.TypeOf(a).String())+", not a number")
			}
		}
	}
	return nil
}

// textKeys is v with each map whose keys are not text (groupBy's) made a
// map of text keys, as JSON has them, for toJSON; ok is false when v holds
// none, and is then left as it is.
func textKeys(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, float64, int, bool:
		return v, false
	case []any:
		var out []any
		for i, e := range x {
			if ev, ok := textKeys(e); ok {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = ev
			}
		}
		return out, out != nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if ev, ok := textKeys(e); ok {
				if out == nil {
					out = maps.Clone(x)
				}
				out[k] = ev
			}
		}
		return out, out != nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() == reflect.String {
		return v, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		e := it.Value().Interface()
		if ev, ok := textKeys(e); ok {
			e = ev
		}
		out[flows.ExactText(it.Key().Interface())] = e
	}
	return out, true
}

// builtinError says in a sentence what Go's own words say of the argument
// of a builtin that reads text.
func builtinError(name string, args []any, err error) error {
	var corrupt base64.CorruptInputError
	var syntax *json.SyntaxError
	switch {
	case name == "duration" && len(args) == 1:
		return argError(name, 1, "", "is "+argText(args[0])+`, not a duration (numbers each with a unit, ns, us, ms, s, m or h: "1h30m")`)
	case name == "fromBase64" && errors.As(err, &corrupt):
		return argError(name, 1, "", fmt.Sprintf("is not base64: the character at byte %d is none of it", int64(corrupt)))
	case name == "fromJSON" && errors.As(err, &syntax):
		return argError(name, 1, "", fmt.Sprintf("is not JSON: %s (at byte %d)", syntax.Error(), syntax.Offset))
	case name == "repeat" && err.Error() == vmBudgetExceeded:
		// expr-lang's repeat refuses a count over a million, even of "".
		return argError(name, 2, "", "is over 1000000, the most times a text is repeated")
	case name == "fromJSON":
		return argError(name, 1, "", fmt.Sprintf("is not JSON: %v", err))
	}
	return err
}

// listArgFunction is the function, under a name no author can write, that
// listArgs puts around the list of a builtin that iterates over it.
const listArgFunction = "list()"

// iterating are expr-lang's builtins that go over a list with a predicate
// (count(list, # > 1)); they are no functions that wrapBuiltins could wrap.
var iterating = map[string]bool{"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"count": true, "sum": true, "find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"groupBy": true, "sortBy": true, "reduce": true}

// listArgs checks the list an iterating builtin goes over: nil would fail
// in Go's words ("reflect: call of reflect.Value.Len on zero Value").
type listArgs struct{}

func (listArgs) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BuiltinNode)
	if !ok || !iterating[b.Name] || len(b.Arguments) == 0 {
		return
	}
	switch a := b.Arguments[0].(type) {
	case *ast.ArrayNode:
		return // a list as written
	case *ast.CallNode:
		if id, ok := a.Callee.(*ast.IdentifierNode); ok && id.Value == listArgFunction {
			return
		}
	}
	b.Arguments[0] = &ast.CallNode{Callee: &ast.IdentifierNode{Value: listArgFunction},
		Arguments: []ast.Node{&ast.StringNode{Value: b.Name}, b.Arguments[0]}}
}

// listArg is what listArgs calls: the list, or an error naming the builtin.
func listArg(p ...any) (any, error) {
	name, _ := p[0].(string)
	v := p[1]
	if v == nil {
		return nil, argError(name, 1, "", "is not set")
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return v, nil
	}
	return nil, argError(name, 1, "", "is "+kindName(reflect.TypeOf(v).String())+", not a list")
}

// errLocalZone refuses the server's own time zone ("Local"), which would
// make a flow say different things on servers in different zones.
func errLocalZone(name string) error {
	return fmt.Errorf(`%s: "Local" is the server's time zone, which flows do not see (a turn's time is in UTC): name a zone, such as "America/New_York"`, name)
}

func isFunction(name string) bool {
	if _, ok := Functions[name]; ok {
		return true
	}
	_, ok := builtin.Index[name]
	return ok
}

// nearestFunctions are the functions name was most likely meant to be
// (flows.Suggestions over the functions in alphabetical order), or none.
func nearestFunctions(name string) []string {
	names := append(slices.Collect(maps.Keys(Functions)), builtin.Names...)
	slices.Sort(names)
	return flows.Suggestions(name, names)
}

// evalExpr runs an expression. A value over the limit, made inside it or
// returned by it, fails the running widget (see overLimit) as well as the
// expression.
func (t *turn) evalExpr(x *expression) (any, error) {
	if t.run == nil {
		t.run = new(exprRun)
		t.run.round = t.run.countRound
	}
	r := t.run
	r.start(t)
	env := t.exprEnv()
	env[runVar], env[roundVar] = r, r.round
	out, err := r.vm.Run(x.prog, env)
	if err != nil {
		if tl, ok := asTooLarge(err); ok {
			return nil, t.exprTooLarge(x, tl)
		}
		var fe *file.Error
		if errors.As(err, &fe) && fe.Message == vmBudgetExceeded && fe.Unwrap() == nil {
			return nil, t.exprTooLarge(x, &valueTooLarge{limit: r.maxItems, kind: limitItems})
		}
		if x.method != "" {
			// What the method named without its call made fail, rather
			// than the operation's words.
			return nil, errors.New(x.method)
		}
		if fe != nil {
			if msg := runError(x.src, fe); msg != "" {
				fe.Message = msg
			}
		}
		return nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	switch out.(type) {
	case nil, string, float64, int, bool, time.Time:
	default:
		if hasFunc(out) {
			if x.method != "" {
				return nil, errors.New(x.method)
			}
			return nil, errors.New("a method is named without its call (now.Year for now.Year()): call it")
		}
	}
	if n := textSize(out, t.e.maxValue); n > t.e.maxValue {
		return nil, t.exprTooLarge(x, &valueTooLarge{what: "its result", size: n, more: true, limit: t.e.maxValue})
	}
	return out, nil
}

// hasFunc tells whether v holds a Go function: a method named without its
// call whose type the check at compile time did not know, and member did
// not see. No text shows it but Go's own.
func hasFunc(v any) bool {
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, hasFunc)
	case map[string]any:
		for _, e := range x {
			if hasFunc(e) {
				return true
			}
		}
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Func:
		return true
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			if hasFunc(rv.Index(i).Interface()) {
				return true
			}
		}
	case reflect.Map:
		for it := rv.MapRange(); it.Next(); {
			if hasFunc(it.Value().Interface()) {
				return true
			}
		}
	}
	return false
}

// Go's words for an operator given values it does not take, which
// expr-lang's VM reports as they are.
var (
	notBool   = regexp.MustCompile(`^interface conversion: interface \{\} is (.+?), not bool$`)
	binaryOp  = regexp.MustCompile(`^invalid operation: (\S+) (\S+) (\S+)$`)
	unaryOp   = regexp.MustCompile(`^invalid operation: (\S+) (\S+)$`)
	convertOp = regexp.MustCompile(`^invalid operation: (int|float)\((.+)\)$`)
	callOfNil = "invalid operation: cannot call nil"
	// A method called with arguments of another kind or number, whose
	// type was not known when the expression compiled.
	reflectCall = regexp.MustCompile(`^reflect: Call using (.+) as type (.+)$`)
	argCount    = regexp.MustCompile(`^invalid number of arguments: expected (\d+), got (\d+)$`)
	identChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
)

// runError words an error of expr-lang's VM that speaks Go (an interface
// conversion, an operation on Go types, a call of nil) as Parley's other
// errors speak: what the operator needs and what it got. "" leaves the
// message as it is.
func runError(src string, fe *file.Error) string {
	at := ""
	if rs := []rune(src); fe.From >= 0 && fe.From < len(rs) {
		at = string(rs[fe.From:])
	}
	if m := reflectCall.FindStringSubmatch(fe.Message); m != nil {
		return fmt.Sprintf("%s(): an argument is %s, not %s", calledMethod(src, fe.From, false), kindName(m[1]), kindName(m[2]))
	}
	if m := argCount.FindStringSubmatch(fe.Message); m != nil {
		takes := m[1] + " arguments"
		if m[1] == "1" {
			takes = "1 argument"
		}
		return fmt.Sprintf("%s() takes %s, got %s", calledMethod(src, fe.From, false), takes, m[2])
	}
	if m := notBool.FindStringSubmatch(fe.Message); m != nil {
		op := "the condition before ?"
		switch {
		case strings.HasPrefix(at, "!"):
			op = "!"
		case wordAt(at, "not"), wordAt(at, "if"):
			op, _, _ = strings.Cut(at, " ")
		default:
			if i := strings.IndexByte(at, '('); i > 0 && iterating[at[:i]] {
				op = at[:i] + "'s condition"
			}
		}
		return op + " needs true or false, got " + gotKind(m[1])
	}
	if fe.Message == callOfNil {
		// The call's place is its method's name (nwo.Format): what is
		// before it is the value that is not set.
		before := src
		if rs := []rune(src); fe.From >= 0 && fe.From <= len(rs) {
			before = string(rs[:fe.From])
		}
		before = strings.TrimRight(before, ".?")
		i := len(before)
		for i > 0 && (strings.IndexByte(identChars, before[i-1]) >= 0 || before[i-1] == '.' || before[i-1] == '?') {
			i--
		}
		recv := strings.ReplaceAll(before[i:], "?.", ".")
		root, _, _ := strings.Cut(recv, ".")
		if root == "" {
			return ""
		}
		if !envVars[root] {
			msg := root + " is not a variable"
			if near := flows.Suggestions(root, slices.Sorted(maps.Keys(envVars))); len(near) > 0 {
				msg += " (did you mean " + flows.OrList(near) + "?)"
			}
			return msg
		}
		return recv + " is not set: it has no method to call"
	}
	if m := convertOp.FindStringSubmatch(fe.Message); m != nil {
		if m[1] == "int" {
			return "a range or an index needs a whole number, got " + gotKind(m[2])
		}
		return "** needs numbers, got " + gotKind(m[2])
	}
	if m := binaryOp.FindStringSubmatch(fe.Message); m != nil {
		msg := fmt.Sprintf("%s cannot take %s and %s", m[2], gotKind(m[1]), gotKind(m[3]))
		if isNumberType(m[1]) && m[3] == "string" || m[1] == "string" && isNumberType(m[3]) {
			msg += ": read text as a number with number() first"
		}
		return msg
	}
	if m := unaryOp.FindStringSubmatch(fe.Message); m != nil && (m[1] == "-" || m[1] == "+") {
		return fmt.Sprintf("%s needs a number, got %s", m[1], gotKind(m[2]))
	}
	return ""
}

// wordAt tells whether s starts with the word w.
func wordAt(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || strings.IndexByte(identChars, s[len(w)]) < 0)
}

// envVars are the variables of exprEnv and of an expression's own: any other
// name an expression reads is nil.
var envVars = map[string]bool{"flow": true, "results": true, "child": true, "parent": true, "input": true, "step": true,
	"contact": true, "user": true, "session": true, "now": true, "extra": true, "call": true, "channel": true}

func isNumberType(t string) bool {
	switch t {
	case "int", "int64", "float64":
		return true
	}
	return false
}

// gotKind names a value of the Go type t as what an operator got: "nothing"
// for nil, "text", "a number" ...
func gotKind(t string) string {
	if t == "nil" || t == "<nil>" {
		return "nothing (a value not set)"
	}
	return kindName(t)
}

// floatMod turns each a % b whose operands are not both known to be whole
// numbers when the expression compiles into a call of modFunction, which
// takes numbers with a fraction as well (number("4") % 2 is 0, 7.5 % 2 is
// 1.5): expr-lang's % takes whole numbers only, and number() gives a
// number with a fraction.
type floatMod struct{}

func (floatMod) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != "%" || isInt(n.Left) && isInt(n.Right) {
		return
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: modFunction}, Arguments: []ast.Node{n.Left, n.Right}}
	ast.Patch(node, call)
	call.SetLocation(n.Location()) // for its errors, as the operator's
}

// isInt tells whether n is known to be a whole number when it compiles.
func isInt(n ast.Node) bool {
	t := n.Type()
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// mod is a % b (floatMod): whole numbers as Go and expr-lang take them, a
// number with a fraction as math.Mod does; either way the result has the
// sign of a (-7 % 2 is -1).
func mod(p ...any) (any, error) {
	if len(p) != 2 {
		return nil, fmt.Errorf("%% takes 2 operands, got %d", len(p))
	}
	a, aInt := p[0].(int)
	b, bInt := p[1].(int)
	if aInt && bInt {
		if b == 0 {
			return nil, errors.New("% by zero")
		}
		return a % b, nil
	}
	var xs [2]float64
	for i, v := range p {
		switch x := v.(type) {
		case int:
			xs[i] = float64(x)
		case int64:
			xs[i] = float64(x)
		case float64:
			xs[i] = x
		default:
			msg := "% needs numbers, got " + gotKind(fmt.Sprintf("%T", v))
			if _, text := v.(string); text {
				msg += ": read text as a number with number() first"
			}
			return nil, errors.New(msg)
		}
	}
	if xs[1] == 0 {
		return nil, errors.New("% by zero")
	}
	return math.Mod(xs[0], xs[1]), nil
}

// vmBudgetExceeded is what expr-lang's VM says when the items an evaluation
// builds pass its memory budget (exprRun.vm.MemoryBudget).
const vmBudgetExceeded = "memory budget exceeded"

// exprTooLarge names the expression in a valueTooLarge and records it.
func (t *turn) exprTooLarge(x *expression, tl *valueTooLarge) error {
	what := fmt.Sprintf("@(%s)", shorten(x.src, 60))
	if tl.what != "" {
		what += ": " + tl.what
	}
	err := &valueTooLarge{what: what, size: tl.size, more: tl.more, limit: tl.limit, kind: tl.kind}
	t.overLimit(err)
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// fieldKeys reads a contact field named in an expression by its key, as
// templates do: contact.fields.Tier and user.key["Tier"] become
// contact.fields.tier, the one spelling the expression environment holds.
// Variables an expression reads for input.text and input.attachments
// (inputMembers), named so that no author can write them.
const (
	inputTextVar        = "input text"
	inputAttachmentsVar = "input attachments"
)

// inputMembers reads input.text and input.attachments, goflow's, from
// variables of their own: input is text in expressions (the last input with
// its attachments' URLs, as @input renders), which has no members.
type inputMembers struct{}

func (inputMembers) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, isStr := m.Property.(*ast.StringNode)
	if !ok || !isStr || id.Value != "input" {
		return
	}
	var name string
	switch prop.Value {
	case "text":
		name = inputTextVar
	case "attachments":
		name = inputAttachmentsVar
	default:
		return
	}
	n := &ast.IdentifierNode{Value: name}
	ast.Patch(node, n)
	n.SetLocation(m.Location())
}

type fieldKeys struct{}

func (fieldKeys) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok || !isFieldsMap(m.Node) {
		return
	}
	if key := flows.Key(prop.Value); key != "" {
		prop.Value = key
	}
}

// isFieldsMap tells whether n is contact.fields or user.key.
func isFieldsMap(n ast.Node) bool {
	if c, ok := n.(*ast.ChainNode); ok {
		n = c.Node
	}
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return false
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	return ok && (id.Value == "contact" && prop.Value == "fields" || id.Value == "user" && prop.Value == "key")
}

// nilSafe makes every member access optional (a?.b), so a variable that is not
// set yet (flow.age.value before the question was asked) evaluates to nil
// instead of failing the expression.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	if m, ok := (*node).(*ast.MemberNode); ok && !m.Optional {
		m.Optional = true
		ast.Patch(node, &ast.ChainNode{Node: m})
	}
}

// dateOfTime is date() of a time (date(now), date(tz, now)): the time itself,
// in the zone when one is given. ok is false when the date is text (or
// something else) for the builtin to read.
func dateOfTime(args []any) (any, bool, error) {
	tz, _ := args[0].(*time.Location)
	i := 0
	if tz != nil {
		i = 1
	}
	if i >= len(args) {
		return nil, false, nil
	}
	t, ok := args[i].(time.Time)
	if !ok {
		return nil, false, nil
	}
	if len(args) > i+1 {
		return nil, true, fmt.Errorf("date: argument %d is already a time: a layout reads text (date('2026-05-04', '2006-01-02'))", i+1)
	}
	if tz != nil {
		t = t.In(tz)
	}
	return t, true, nil
}

// typeAssertion matches Go's message for a value of the wrong type
// ("interface conversion: interface {} is time.Time, not string").
var typeAssertion = regexp.MustCompile(`^interface conversion: interface \{\} is (.+?), not (.+)$`)

// kindError is what a builtin that panicked on an argument of another kind
// reports: the function, the argument and its kind, and the kind it takes
// ("date: argument 1 is a time, not text"), in place of Go's own words.
func kindError(name string, r any, args []any) error {
	m := typeAssertion.FindStringSubmatch(fmt.Sprint(r))
	if m == nil {
		return fmt.Errorf("%s: %v", name, r)
	}
	for i, a := range args {
		if a == nil && m[1] == "nil" {
			return argError(name, i+1, "", "is not set")
		}
		if a != nil && reflect.TypeOf(a).String() == m[1] {
			return fmt.Errorf("%s: argument %d is %s, not %s", name, i+1, kindName(m[1]), kindName(m[2]))
		}
	}
	return fmt.Errorf("%s: an argument is %s, not %s", name, kindName(m[1]), kindName(m[2]))
}

// kindName names a Go type as a flow author knows it.
func kindName(goType string) string {
	switch goType {
	case "nil":
		return "not set (nil)"
	case "string":
		return "text"
	case "time.Time":
		return "a time"
	case "*time.Location":
		return "a time zone"
	case "time.Duration":
		return "a duration"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	case "[]interface {}":
		return "a list"
	case "map[string]interface {}":
		return "a map"
	}
	return "a " + goType
}
