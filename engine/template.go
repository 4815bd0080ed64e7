package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// topLevel lists the names that start a variable after @. Anything else after an
// @ (an e-mail address, a handle) is literal text.
var topLevel = map[string]bool{
	"flow": true, "results": true, "extra": true, "step": true, "input": true,
	"contact": true, "call": true, "session": true, "channel": true,
	"child": true, "parent": true, "user": true, "webhook": true, "run": true,
}

type segKind uint8

const (
	segText segKind = iota
	segPath
	segExpr
)

type segment struct {
	kind segKind
	// quoted is set on a variable or expression that the literal text
	// before it leaves inside a JSON string ("name": "@contact.name"). A JSON
	// body escapes such an insert as the string's content and writes any
	// other as a JSON value (see jsonText).
	quoted bool
	text   string // literal text, or the variable path ("flow.name.value")
	expr   *expression
}

// template is a compiled template: literal text, variable paths and @(...) expressions.
type template struct {
	src string
	// field is the JSON path of the flow's field the template came from
	// ("text", "quick_replies[1]", "url"), or of a configured webhook's
	// compiled at run time, named by run-time errors.
	field string
	segs  []segment
	// static is set when the template has no variables: rendering returns text.
	static bool
	text   string
	// size is what rendering reserves: the literal text and a little for
	// each inserted value, so that most renders allocate their text once.
	size int
	// reads are the results of the flow the template reads by name
	// (@flow.NAME, $flow.key.NAME, flow.NAME in an @(...)), each once.
	reads []flows.ResultRead
}

// insertRoom is what render reserves for each inserted value.
const insertRoom = 16

func (t *template) Source() string { return t.src }

// compileTemplate parses text with @path, $flow.key.x / $user.key.x / $call.x and
// @(expression) references. "@@" is a literal "@", and "$$" a literal "$"
// before what would be a $ variable ("$$flow.key.x"). Every expression is
// compiled, so that each one's problem is reported: several come back as
// templateErrors. Errors all marked flows.ErrNewRule come with the compiled
// template (see compileExpr).
func (e *Engine) compileTemplate(src string) (*template, error) {
	t := &template{src: src}
	var errs templateErrors
	failed := false
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{kind: segText, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '@' && i+1 < len(src) && src[i+1] == '@':
			lit.WriteByte('@')
			i += 2
		case c == '@' && i+1 < len(src) && src[i+1] == '(':
			end, err := matchParen(src, i+1)
			if err != nil {
				// Where the expression ends is not known: nothing after it can be read.
				return nil, append(errs, fmt.Errorf("%w: %s at offset %d", flows.ErrBadTemplate, err.Error(), i)).err()
			}
			x, err := e.compileExpr(src[i+2 : end])
			if err != nil {
				errs = append(errs, err)
				failed = failed || x == nil
			}
			flush()
			t.segs = append(t.segs, segment{kind: segExpr, text: src[i+2 : end], expr: x})
			if x != nil {
				t.reads = append(t.reads, x.reads...)
			}
			i = end + 1
		case c == '@':
			path, n := scanPath(src[i+1:])
			if n == 0 || !topLevel[firstSegment(path)] {
				lit.WriteByte('@')
				i++
				continue
			}
			flush()
			t.segs = append(t.segs, segment{kind: segPath, text: path})
			t.reads = pathRead(t.reads, false, path)
			i += 1 + n
		case c == '$' && i+1 < len(src) && src[i+1] == '$':
			// "$$flow.key.x" is the text "$flow.key.x"; a "$$" before
			// anything else is two dollars, as it always was ("$$5").
			_, n := scanDollar(src[i+1:])
			if n == 0 {
				lit.WriteByte('$')
				i++
				continue
			}
			lit.WriteString(src[i+1 : i+1+n])
			i += 1 + n
		case c == '$':
			path, n := scanDollar(src[i:])
			if n == 0 {
				lit.WriteByte('$')
				i++
				continue
			}
			flush()
			t.segs = append(t.segs, segment{kind: segPath, text: path})
			t.reads = pathRead(t.reads, true, path)
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	t.reads = uniqueReads(t.reads)
	markQuoted(t.segs)
	for _, sg := range t.segs {
		if sg.kind == segText {
			t.size += len(sg.text)
		} else {
			t.size += insertRoom
		}
	}
	switch {
	case len(t.segs) == 0:
		t.static = true
	case len(t.segs) == 1 && t.segs[0].kind == segText:
		// The literal text, not src: "@@" has become "@".
		t.static, t.text = true, t.segs[0].text
	}
	if failed {
		return nil, errs.err()
	}
	return t, errs.err()
}

// pathRead adds to reads the result a variable's path reads, when it reads
// one: flow.NAME... or results.NAME... (a $flow.key.NAME, which scanDollar
// reads as flow.NAME, when dollar is set).
func pathRead(reads []flows.ResultRead, dollar bool, path string) []flows.ResultRead {
	head, rest, _ := strings.Cut(path, ".")
	if head != "flow" && head != "results" || rest == "" {
		return reads
	}
	name, _, _ := strings.Cut(rest, ".")
	prefix := "@flow."
	switch {
	case dollar:
		prefix = "$flow.key."
	case head == "results":
		prefix = "@results."
	}
	return append(reads, flows.ResultRead{Name: name, Prefix: prefix})
}

// uniqueReads is reads with the first read of each name only, in order.
func uniqueReads(reads []flows.ResultRead) []flows.ResultRead {
	if len(reads) < 2 {
		return reads
	}
	out := reads[:1]
	if len(reads) <= 16 {
	next:
		for _, r := range reads[1:] {
			for _, x := range out {
				if x.Name == r.Name {
					continue next
				}
			}
			out = append(out, r)
		}
		return out
	}
	seen := map[string]bool{reads[0].Name: true}
	for _, r := range reads[1:] {
		if !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r)
		}
	}
	return out
}

// markQuoted sets quoted on the inserts that the literal text before them
// leaves inside a JSON string. Only the literal text is read: an inserted
// value never opens or closes a string, whatever quotes it holds.
func markQuoted(segs []segment) {
	in, esc := false, false
	for i := range segs {
		s := &segs[i]
		if s.kind != segText {
			// A backslash just before an insert escapes the value's first character.
			s.quoted, esc = in, false
			continue
		}
		for j := 0; j < len(s.text); j++ {
			switch c := s.text[j]; {
			case !in:
				in = c == '"'
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				in = false
			}
		}
	}
}

// templateErrors are the problems of one template's expressions, in order.
type templateErrors []error

// err is nil for none, the one error alone, or all of them.
func (e templateErrors) err() error {
	switch len(e) {
	case 0:
		return nil
	case 1:
		return e[0]
	}
	return e
}

func (e templateErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e templateErrors) Unwrap() []error { return e }

// scanDollar recognises $flow.key.X, $user.key.X and $call.X and maps them onto
// the @ names: flow.X, contact.fields.X, call.X.
func scanDollar(s string) (string, int) {
	for _, p := range [...]struct{ prefix, to string }{
		{"$flow.key.", "flow."},
		{"$user.key.", "contact.fields."},
		{"$call.", "call."},
	} {
		if strings.HasPrefix(s, p.prefix) {
			rest, n := scanPath(s[len(p.prefix):])
			if n == 0 {
				return "", 0
			}
			return p.to + rest, len(p.prefix) + n
		}
	}
	return "", 0
}

// Identifiers are those of result keys (flows.Key): letters and digits of
// any script, "_" and "-", starting with a letter or "_" ("@flow.âge").
func isIdentStart(r rune) bool {
	return r == '_' || unicode.IsLetter(r)
}

// isIdent: a path goes on over the marks of a letter (the vowel signs and
// viramas of "@flow.उम्र", a combining accent), as a result's key keeps them.
func isIdent(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r) || r == '-' || unicode.IsMark(r)
}

// identLen is the length in bytes of the identifier characters s starts with.
func identLen(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isIdent(r) {
			break
		}
		i += n
	}
	return i
}

// hashSegment reports whether s starts with a "#" segment, gjson's count of an
// array (items.#) or its every element (items.#.sku): a "#" followed by the
// end, a dot or a character that cannot continue a path ("@x.items.#1" is
// the path @x.items then the text ".#1").
func hashSegment(s string) bool {
	if len(s) == 0 || s[0] != '#' {
		return false
	}
	if len(s) == 1 || s[1] == '.' {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[1:])
	return !isIdent(r) && r != '#'
}

// scanPath reads a dotted path: identifiers (or array indexes, or gjson's "#")
// separated by dots. A trailing dot is punctuation, not part of the path
// ("Hi @contact.name.").
func scanPath(s string) (string, int) {
	if r, _ := utf8.DecodeRuneInString(s); len(s) == 0 || !isIdentStart(r) {
		return "", 0
	}
	i := identLen(s)
	for i+1 < len(s) && s[i] == '.' {
		if hashSegment(s[i+1:]) {
			i += 2
			continue
		}
		n := identLen(s[i+1:])
		if n == 0 {
			break
		}
		i += 1 + n
	}
	// Hyphens at the end belong to the text ("@flow.name-").
	// So do dots they leave at the end ("@flow.name.-").
	for i > 0 && (s[i-1] == '-' || s[i-1] == '.') {
		i--
	}
	return s[:i], i
}

func firstSegment(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

// matchParen finds the parenthesis that closes the one at open, skipping quoted strings.
func matchParen(s string, open int) (int, error) {
	depth := 0
	var quote byte
	for i := open; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed @( expression")
}

// escaper escapes an inserted value; done is the text rendered before it.
type escaper func(done, value string) string

// renderMode is how a template's inserted values become text: for people
// (numbers rounded, see flows.ValueText) or for other programs (numbers
// exact, flows.ExactText), and how they are escaped.
type renderMode struct {
	escape escaper
	exact  bool
	// json is set for a JSON body: a value inserted outside a string is
	// written as JSON (jsonText), one inside a string is escaped.
	json bool
}

// render writes the template's text. Inserted values are plain text: they are
// never parsed as templates again.
//
// A text over the limit of a value is not made: render stops at the segment
// that passes it (each inserted value is itself a value, so the text never
// holds more than the limit and one segment) and returns "", and the widget
// fails (see overLimit).
func (t *turn) render(tp *template, mode renderMode) string {
	limit := t.e.maxValue
	if tp.static {
		if len(tp.text) > limit {
			t.overLimit(&valueTooLarge{what: fmt.Sprintf("the text %q", shorten(tp.src, 40)), size: len(tp.text), limit: limit, field: tp.field})
			return ""
		}
		return tp.text
	}
	var b strings.Builder
	b.Grow(min(tp.size, limit))
	escape, text := mode.escape, toText
	if mode.exact {
		text = toExactText
	}
	insert := func(str string) {
		if escape != nil {
			str = escape(b.String(), str)
		}
		b.WriteString(str)
	}
	over := t.tooLarge != nil // by another field before this one
	for i := range tp.segs {
		s := &tp.segs[i]
		// A value in a JSON body outside a string is a JSON value itself.
		value := mode.json && !s.quoted
		switch s.kind {
		case segText:
			b.WriteString(s.text)
		case segPath:
			if value {
				if str, ok := t.lookupJSON(s.text); ok {
					b.WriteString(str)
					break
				}
			} else if str, ok := t.lookupText(s.text, text); ok {
				insert(str)
				break
			}
			// "@flow.id.png": a last segment that is no field of a plain
			// value is text after the variable, like a trailing dot.
			// The variable must still be a field ("@contact.nme" is a typo,
			// not the contact's name and ".nme").
			if j := strings.LastIndexByte(s.text, '.'); j > 0 && (strings.IndexByte(s.text[:j], '.') > 0 || s.text[:j] == "input") {
				if v, ok := t.lookup(s.text[:j]); ok && isScalar(s.text[:j], v) {
					if value {
						b.WriteString(jsonText(v))
					} else {
						insert(text(v))
					}
					b.WriteString(s.text[j:])
					break
				}
			}
			t.warn("unknown variable @" + s.text)
			if value {
				b.WriteString("null")
			}
		case segExpr:
			v, err := t.evalExpr(s.expr)
			if err != nil {
				ferr := &renderError{field: tp.field, expr: s.text, err: err}
				t.emit(flows.Event{Type: flows.EventError, Message: ferr.Error()})
				if t.renderErr == nil {
					t.renderErr = ferr
				}
				if value {
					b.WriteString("null")
				}
				break
			}
			if value {
				b.WriteString(jsonText(v))
			} else {
				insert(text(v))
			}
		}
		if t.tooLarge != nil {
			if !over && t.tooLarge.field == "" {
				t.tooLarge.field = tp.field // an @(...) of this template
			}
			return ""
		}
		if b.Len() > limit {
			t.overLimit(&valueTooLarge{what: fmt.Sprintf("the template %q", shorten(tp.src, 40)), size: b.Len(), more: i < len(tp.segs)-1, limit: limit, field: tp.field})
			return ""
		}
	}
	return b.String()
}

// renderError is an @(...) of a template that failed when it ran: the
// widget's field it is in, the expression and why.
type renderError struct {
	field, expr string
	err         error
}

func (e *renderError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("expression @(%s): %v", e.expr, e.err)
	}
	return fmt.Sprintf("%s: expression @(%s): %v", e.field, e.expr, e.err)
}

func (e *renderError) Unwrap() error { return e.err }

// isScalar reports whether a looked-up value is a single value rather than an
// object or list (a webhook answer's object has fields, so a missing one is
// an unknown variable, not text). A whole JSON value that lookup gives as
// text (@flow.NAME.json, see wholeJSON) is read as the JSON it holds: a
// missing field of the answer must not print the whole answer.
func isScalar(path string, v any) bool {
	switch x := v.(type) {
	case gjson.Result:
		return !x.IsObject() && !x.IsArray()
	case string:
		if wholeJSON(path) {
			r := gjson.Parse(x)
			return !r.IsObject() && !r.IsArray()
		}
		return true
	case time.Time:
		return true
	}
	return false
}

// urlEscape escapes an inserted value for the part of the URL it lands in: a
// path segment before the "?", a query value after it. In the path a value
// made only of dots has them escaped too ("." → "%2E", ".." → "%2E%2E"): a
// contact's ".." must not become a dot segment, which a server or a proxy
// that normalises paths would resolve to another path
// (/customers/../orders → /orders).
func urlEscape(done, value string) string {
	if strings.ContainsRune(done, '?') {
		return url.QueryEscape(value)
	}
	if value != "" && strings.Trim(value, ".") == "" {
		return strings.ReplaceAll(value, ".", "%2E")
	}
	return url.PathEscape(value)
}

// formEscape encodes a value inserted into a form body
// (application/x-www-form-urlencoded): "Ann & Bob=1" is "Ann+%26+Bob%3D1",
// one field's value however many "&" and "=" it holds.
func formEscape(_, value string) string { return url.QueryEscape(value) }

// jsonEscape escapes text for the inside of a JSON string.
func jsonEscape(_, s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// jsonText is a value inserted into a JSON body outside a string, so that
// the body stays JSON: null for nil and for a value with no text, a list or
// a map as its JSON, and any other value that is no JSON number, boolean or
// text (a time, a duration, a time zone) as a JSON string of the text it has
// in a message, as in a list. Numbers and booleans are their text. A string
// is its text escaped as inside a string, as all inserts were before lists
// and maps were written as JSON here: "n": @extra.amount sends the number an
// answer gave as text ("12.50") as a number, as stored flows expect.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case gjson.Result:
		switch x.Type {
		case gjson.Null:
			return "null"
		case gjson.String:
			v = x.Str
		default:
			return x.Raw
		}
	case json.RawMessage:
		if len(x) == 0 {
			return "null"
		}
		return string(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "null" // JSON has no infinity (1/0)
		}
	case string, bool, int, int64:
	default:
		// As in a list.
		return flows.ExactJSON(v)
	}
	s := flows.ExactText(v)
	if s == "" {
		return "null"
	}
	return jsonEscape("", s)
}

// lookupJSON is the text of a variable inserted into a JSON body outside a
// string (jsonText); @extra and a result's .json (or .extra) alone are the
// JSON they hold.
func (t *turn) lookupJSON(path string) (string, bool) {
	v, ok := t.lookup(path)
	if !ok {
		return "", false
	}
	if s, isText := v.(string); isText && wholeJSON(path) {
		v = json.RawMessage(s)
	}
	return jsonText(v), true
}

// wholeJSON reports whether path names a whole JSON value that lookup gives
// as text: @extra, @webhook, @flow.NAME.json and @flow.NAME.extra.
func wholeJSON(path string) bool {
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "extra", "webhook":
		return rest == ""
	case "flow", "results", "child", "parent":
		_, field, _ := strings.Cut(rest, ".")
		return field == "json" || field == "extra"
	}
	return false
}
