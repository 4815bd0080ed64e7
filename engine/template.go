package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/flows"
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
	text string // literal text, or the variable path ("flow.name.value")
	expr *expression
}

// template is a compiled template: literal text, variable paths and @(...) expressions.
type template struct {
	src  string
	segs []segment
	// static is set when the template has no variables: rendering returns src as is.
	static bool
}

func (t *template) Source() string { return t.src }

// compileTemplate parses text with @path, $flow.key.x / $user.key.x / $call.x and
// @(expression) references. "@@" is a literal "@".
func (e *Engine) compileTemplate(src string) (*template, error) {
	t := &template{src: src}
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
				return nil, fmt.Errorf("%w: %s at offset %d", flows.ErrBadTemplate, err.Error(), i)
			}
			x, err := e.compileExpr(src[i+2 : end])
			if err != nil {
				return nil, err
			}
			flush()
			t.segs = append(t.segs, segment{kind: segExpr, text: src[i+2 : end], expr: x})
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
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	// A template is static when rendering cannot differ from its source ("@@"
	// is not: it renders as "@").
	t.static = len(t.segs) == 0 || (len(t.segs) == 1 && t.segs[0].kind == segText && t.segs[0].text == src)
	return t, nil
}

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

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '-'
}

// scanPath reads a dotted path: identifiers (or array indexes) separated by dots.
// A trailing dot is punctuation, not part of the path ("Hi @contact.name.").
func scanPath(s string) (string, int) {
	if len(s) == 0 || !isIdentStart(s[0]) {
		return "", 0
	}
	i := 0
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	for i+1 < len(s) && s[i] == '.' && (isIdent(s[i+1])) {
		j := i + 1
		for j < len(s) && isIdent(s[j]) {
			j++
		}
		i = j
	}
	// Hyphens at the end belong to the text ("@flow.name-").
	for i > 0 && s[i-1] == '-' {
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

// render writes the template's text. Inserted values are plain text: they are
// never parsed as templates again.
func (t *turn) render(tp *template, escape func(string) string) string {
	if tp.static {
		return tp.src
	}
	if len(tp.segs) == 1 && tp.segs[0].kind == segText {
		return tp.segs[0].text
	}
	var b strings.Builder
	for i := range tp.segs {
		s := &tp.segs[i]
		switch s.kind {
		case segText:
			b.WriteString(s.text)
		case segPath:
			v, ok := t.lookup(s.text)
			if !ok {
				t.warn("unknown variable @" + s.text)
				continue
			}
			str := toText(v)
			if escape != nil {
				str = escape(str)
			}
			b.WriteString(str)
		case segExpr:
			v, err := t.evalExpr(s.expr)
			if err != nil {
				t.emit(flows.Event{Type: flows.EventError, Message: fmt.Sprintf("expression @(%s): %v", s.text, err)})
				continue
			}
			str := toText(v)
			if escape != nil {
				str = escape(str)
			}
			b.WriteString(str)
		}
	}
	return b.String()
}

// jsonEscape escapes text for the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
