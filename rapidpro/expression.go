package rapidpro

import (
	"fmt"
	"strconv"
	"strings"
)

// RapidPro's legacy expressions (@(...)) are spreadsheet formulas: functions in
// any case, & for concatenation, = and <> for comparison, TRUE and FALSE. This
// file parses them and writes the equivalent expr-lang expression over
// Parley's variables, using the helper functions of engine/functions_rapidpro.go.

type tokKind int

const (
	tkEOF tokKind = iota
	tkNum
	tkStr
	tkName
	tkOp
)

type token struct {
	kind tokKind
	text string
}

func lexLegacy(src string) ([]token, error) {
	var out []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			out = append(out, token{tkNum, src[i:j]})
			i = j
		case c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, token{tkStr, b.String()})
			i = j
		case isWordStart(c):
			j := i
			for j < len(src) && (isWord(src[j]) || (src[j] == '.' && j+1 < len(src) && isWord(src[j+1]))) {
				j++
			}
			out = append(out, token{tkName, src[i:j]})
			i = j
		default:
			for _, op := range []string{"<=", ">=", "<>", "+", "-", "*", "/", "^", "&", "=", "<", ">", "(", ")", ","} {
				if strings.HasPrefix(src[i:], op) {
					out = append(out, token{tkOp, op})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("unexpected %q", string(c))
		next:
		}
	}
	return append(out, token{kind: tkEOF}), nil
}

type legacyParser struct {
	x    *xlate
	toks []token
	pos  int
	err  error
}

// expression translates the inside of @(...) into an expr-lang expression. ok
// is false when it could not be translated (the problem is recorded).
func (x *xlate) expression(src string) (string, bool) {
	toks, err := lexLegacy(src)
	if err != nil {
		x.errorf("@(%s): %v", src, err)
		return "", false
	}
	p := &legacyParser{x: x, toks: toks}
	code := p.comparison()
	if p.err == nil && p.peek().kind != tkEOF {
		p.err = fmt.Errorf("unexpected %q", p.peek().text)
	}
	if p.err != nil {
		x.errorf("@(%s): %v", src, p.err)
		return "", false
	}
	return code, true
}

func (p *legacyParser) peek() token { return p.toks[p.pos] }

func (p *legacyParser) take() token {
	t := p.toks[p.pos]
	if t.kind != tkEOF {
		p.pos++
	}
	return t
}

func (p *legacyParser) isOp(ops ...string) (string, bool) {
	t := p.peek()
	if t.kind != tkOp {
		return "", false
	}
	for _, o := range ops {
		if t.text == o {
			return o, true
		}
	}
	return "", false
}

func (p *legacyParser) fail(format string, args ...any) string {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
	return "nil"
}

func (p *legacyParser) comparison() string {
	left := p.concat()
	for p.err == nil {
		op, ok := p.isOp("=", "<>", "<", "<=", ">", ">=")
		if !ok {
			return left
		}
		p.take()
		right := p.concat()
		switch op {
		case "=":
			left = fmt.Sprintf("legacy_eq(%s, %s)", left, right)
		case "<>":
			left = fmt.Sprintf("!legacy_eq(%s, %s)", left, right)
		default:
			left = fmt.Sprintf("(legacy_cmp(%s, %s) %s 0)", left, right, op)
		}
	}
	return left
}

func (p *legacyParser) concat() string {
	left := p.additive()
	for p.err == nil {
		if _, ok := p.isOp("&"); !ok {
			return left
		}
		p.take()
		right := p.additive()
		left = fmt.Sprintf("(text(%s) + text(%s))", left, right)
	}
	return left
}

func (p *legacyParser) additive() string {
	left := p.multiplicative()
	for p.err == nil {
		op, ok := p.isOp("+", "-")
		if !ok {
			return left
		}
		p.take()
		right := p.multiplicative()
		if isNumber(left) && isNumber(right) {
			left = fmt.Sprintf("(%s %s %s)", left, op, right)
			continue
		}
		// RapidPro adds numbers, or a number of days to a date
		// (@(date.today + 7)): which one is known only when the flow runs.
		fn := "legacy_add"
		if op == "-" {
			fn = "legacy_sub"
		}
		left = fmt.Sprintf("%s(%s, %s)", fn, left, right)
	}
	return left
}

// isNumber reports whether code is a number literal.
func isNumber(code string) bool {
	_, err := strconv.ParseFloat(code, 64)
	return err == nil
}

func (p *legacyParser) multiplicative() string {
	left := p.power()
	for p.err == nil {
		op, ok := p.isOp("*", "/")
		if !ok {
			return left
		}
		p.take()
		right := p.power()
		left = fmt.Sprintf("(%s %s %s)", num(left), op, num(right))
	}
	return left
}

func (p *legacyParser) power() string {
	left := p.unary()
	for p.err == nil {
		if _, ok := p.isOp("^"); !ok {
			return left
		}
		p.take()
		right := p.unary()
		left = fmt.Sprintf("power(%s, %s)", left, right)
	}
	return left
}

func (p *legacyParser) unary() string {
	if _, ok := p.isOp("-"); ok {
		p.take()
		return fmt.Sprintf("(-%s)", num(p.unary()))
	}
	if _, ok := p.isOp("+"); ok {
		p.take()
		return num(p.unary())
	}
	return p.atom()
}

// num makes an operand numeric: literals stay, anything else goes through
// legacy_num, which reads numbers in text (contact fields are text).
func num(code string) string {
	if isNumber(code) {
		return code
	}
	return "legacy_num(" + code + ")"
}

func (p *legacyParser) atom() string {
	t := p.take()
	switch t.kind {
	case tkNum:
		return t.text
	case tkStr:
		return strconv.Quote(t.text)
	case tkOp:
		if t.text == "(" {
			inner := p.comparison()
			if _, ok := p.isOp(")"); !ok {
				return p.fail("missing )")
			}
			p.take()
			return "(" + inner + ")"
		}
		return p.fail("unexpected %q", t.text)
	case tkName:
		if _, ok := p.isOp("("); ok {
			p.take()
			var args []string
			if _, ok := p.isOp(")"); ok {
				p.take()
			} else {
				for p.err == nil {
					args = append(args, p.comparison())
					if _, ok := p.isOp(","); ok {
						p.take()
						continue
					}
					if _, ok := p.isOp(")"); !ok {
						return p.fail("missing ) after the arguments of %s", t.text)
					}
					p.take()
					break
				}
			}
			if p.err != nil {
				return "nil"
			}
			return p.call(strings.ToLower(t.text), args)
		}
		switch strings.ToLower(t.text) {
		case "true":
			return "true"
		case "false":
			return "false"
		}
		if !legacyTop[strings.ToLower(firstPart(t.text))] {
			return p.fail("unknown variable %q", t.text)
		}
		r := p.x.ref(t.text)
		if !r.ok {
			return p.fail("%s has no Parley equivalent", t.text)
		}
		if r.expr == "" {
			return p.fail("%s cannot be used inside an expression", t.text)
		}
		return r.expr
	}
	return p.fail("unexpected end of expression")
}

// call translates a function call; name is lower case.
func (p *legacyParser) call(name string, args []string) string {
	// The counts are those of RapidPro's functions (the expressions
	// library's excel.py and custom.py), optional arguments included.
	arity := func(lo, hi int) bool {
		if len(args) >= lo && (hi < 0 || len(args) <= hi) {
			return true
		}
		want := fmt.Sprintf("%d to %d arguments", lo, hi)
		switch {
		case hi < 0:
			want = fmt.Sprintf("at least %d argument%s", lo, plural(lo))
		case lo == hi:
			want = fmt.Sprintf("%d argument%s", lo, plural(lo))
		}
		p.fail("%s takes %s, got %d", strings.ToUpper(name), want, len(args))
		return false
	}
	texts := func() []string {
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = "text(" + a + ")"
		}
		return out
	}
	switch name {
	case "upper", "lower", "trim":
		if arity(1, 1) {
			return fmt.Sprintf("%s(text(%s))", name, args[0])
		}
	case "proper", "first_word", "remove_first_word":
		// As RapidPro split and capitalised words (engine/words.go).
		if arity(1, 1) {
			return fmt.Sprintf("legacy_%s(%s)", name, args[0])
		}
	case "len":
		if arity(1, 1) {
			return fmt.Sprintf("length(text(%s))", args[0])
		}
	case "clean", "read_digits", "code", "unicode", "datevalue":
		if arity(1, 1) {
			return fmt.Sprintf("%s(%s)", name, args[0])
		}
	case "word", "word_count", "word_slice":
		// Counted from 1, split at punctuation and spaces, or at spaces
		// only when by_spaces (the last argument) is true, as RapidPro
		// did (engine/words.go).
		lo, hi := 2, 3
		switch name {
		case "word_count":
			lo, hi = 1, 2
		case "word_slice":
			hi = 4
		}
		if arity(lo, hi) {
			return fmt.Sprintf("legacy_%s(%s)", name, strings.Join(args, ", "))
		}
	case "field":
		// The delimiter is a space when left out, as in RapidPro.
		if arity(2, 3) {
			if len(args) == 2 {
				args = append(args, `" "`)
			}
			return fmt.Sprintf("field(%s, %s, %s)", args[0], args[1], args[2])
		}
	case "left", "right", "substitute", "mid", "char", "unichar", "randbetween":
		lo, hi := 2, 2 // LEFT and RIGHT need the count, as RapidPro's did
		switch name {
		case "substitute":
			lo, hi = 3, 4 // SUBSTITUTE(text, old, new[, instance])
		case "mid":
			lo, hi = 3, 3
		case "char", "unichar":
			lo, hi = 1, 1
		}
		if arity(lo, hi) {
			return fmt.Sprintf("%s(%s)", name, strings.Join(args, ", "))
		}
	case "fixed":
		if arity(1, 3) {
			return fmt.Sprintf("legacy_fixed(%s)", strings.Join(args, ", "))
		}
	case "edate":
		if arity(2, 2) {
			return fmt.Sprintf("edate(%s, %s)", args[0], args[1])
		}
	case "rept":
		if arity(2, 2) {
			return fmt.Sprintf("repeat(text(%s), int(%s))", args[0], num(args[1]))
		}
	case "concatenate":
		if len(args) == 0 {
			return `""`
		}
		return "(" + strings.Join(texts(), " + ") + ")"
	case "if":
		// IF(test[, value_if_true[, value_if_false]]): 0 and FALSE
		// when left out, as in RapidPro.
		if arity(1, 3) {
			then, other := "0", "false"
			if len(args) >= 2 {
				then = args[1]
			}
			if len(args) == 3 {
				other = args[2]
			}
			return fmt.Sprintf("(legacy_bool(%s) ? %s : %s)", args[0], then, other)
		}
	case "true", "false":
		if arity(0, 0) {
			return name
		}
	case "and", "or":
		// Without arguments AND is true and OR false, as in RapidPro.
		if arity(0, -1) {
			if len(args) == 0 {
				return strconv.FormatBool(name == "and")
			}
			op := " && "
			if name == "or" {
				op = " || "
			}
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = "legacy_bool(" + a + ")"
			}
			return "(" + strings.Join(parts, op) + ")"
		}
	case "not":
		if arity(1, 1) {
			return fmt.Sprintf("!legacy_bool(%s)", args[0])
		}
	case "is_error":
		// A variable that is not set is RapidPro's typical error.
		if arity(1, 1) {
			return fmt.Sprintf("(%s == nil)", args[0])
		}
	case "rand", "now", "today":
		if arity(0, 0) {
			return name + "()"
		}
	case "abs":
		if arity(1, 1) {
			return fmt.Sprintf("abs(%s)", num(args[0]))
		}
	case "int":
		if arity(1, 1) {
			return fmt.Sprintf("floor(%s)", num(args[0]))
		}
	case "max", "min":
		if arity(1, -1) {
			n := make([]string, len(args))
			for i, a := range args {
				n[i] = num(a)
			}
			return fmt.Sprintf("%s(%s)", name, strings.Join(n, ", "))
		}
	case "sum":
		if arity(1, -1) {
			n := make([]string, len(args))
			for i, a := range args {
				n[i] = num(a)
			}
			return "(" + strings.Join(n, " + ") + ")"
		}
	case "round", "roundup", "rounddown":
		// Half away from zero, away from zero, toward zero; negative
		// places round left of the point. RapidPro's need the places.
		if arity(2, 2) {
			return fmt.Sprintf("legacy_%s(%s)", name, strings.Join(args, ", "))
		}
	case "power":
		if arity(2, 2) {
			return fmt.Sprintf("power(%s, %s)", args[0], args[1])
		}
	case "year", "month", "day", "weekday", "hour", "minute", "second":
		// WEEKDAY is 1 for Sunday to 7 for Saturday, as in RapidPro.
		if arity(1, 1) {
			return fmt.Sprintf("legacy_date_part(%s, %q)", args[0], name)
		}
	case "date":
		if arity(3, 3) {
			return fmt.Sprintf("legacy_date(%s)", strings.Join(args, ", "))
		}
	case "datedif":
		if arity(3, 3) {
			return fmt.Sprintf("legacy_datedif(%s)", strings.Join(args, ", "))
		}
	case "days":
		// DAYS(end, start): the end first, as in RapidPro.
		if arity(2, 2) {
			return fmt.Sprintf("legacy_datedif(%s, %s, \"d\")", args[1], args[0])
		}
	case "mod":
		if arity(2, 2) {
			return fmt.Sprintf("legacy_mod(%s, %s)", args[0], args[1])
		}
	case "trunc":
		// Toward zero, as ROUNDDOWN at no decimals.
		if arity(1, 1) {
			return fmt.Sprintf("legacy_rounddown(%s, 0)", args[0])
		}
	case "exp":
		if arity(1, 1) {
			return fmt.Sprintf("power(2.718281828459045, %s)", args[0])
		}
	case "average":
		if arity(1, -1) {
			n := make([]string, len(args))
			for i, a := range args {
				n[i] = num(a)
			}
			return fmt.Sprintf("((%s) / %d)", strings.Join(n, " + "), len(args))
		}
	case "percent":
		if arity(1, 1) {
			return fmt.Sprintf(`(text(round(%s * 100)) + "%%")`, num(args[0]))
		}
	default:
		hint, ok := unsupportedFunctions[name]
		if !ok {
			hint = "it is not one of the functions this importer translates (docs/rapidpro.md, Templates): replace it in RapidPro before exporting"
		}
		return p.fail("function %s has no Parley equivalent: %s", strings.ToUpper(name), hint)
	}
	return "nil"
}

// unsupportedFunctions says, for RapidPro's legacy functions that have no
// Parley form, what to write instead.
var unsupportedFunctions = map[string]string{
	"time":            "Parley has no time-of-day values to add to a date: compute the time in a webhook (an api action) and read its answer as @extra, before exporting",
	"timevalue":       "Parley has no time-of-day values: compare or show the text as it is, or compute it in a webhook (an api action), before exporting",
	"epoch":           "compute it in a webhook (an api action) and read its answer as @extra, before exporting",
	"format_date":     "Parley writes dates YYYY-MM-DD: in RapidPro, write the date itself, or its parts joined as wanted (@(DAY(x) & \"/\" & MONTH(x) & \"/\" & YEAR(x))), before exporting",
	"format_location": "locations need RapidPro's administrative boundaries, which Parley does not have: show the text the contact sent (@step.value) instead, before exporting",
	"regex_group":     "route with a regex rule (has_pattern) and take the part with FIELD, WORD or MID instead, before exporting",
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
