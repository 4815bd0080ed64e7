package rapidpro

import (
	"fmt"
	"strconv"
	"strings"
)

// legacyTop lists the names that start a variable after @ in RapidPro's legacy
// templates. Anything else after an @ is literal text there.
var legacyTop = map[string]bool{
	"contact": true, "child": true, "parent": true, "flow": true, "step": true,
	"extra": true, "date": true, "channel": true,
}

// urnSchemes are the contact URN schemes @contact.SCHEME named in RapidPro.
var urnSchemes = map[string]bool{
	"twitter": true, "twitterid": true, "mailto": true, "facebook": true, "telegram": true,
	"whatsapp": true, "ext": true, "viber": true, "line": true, "fcm": true, "jiochat": true,
	"wechat": true, "external": true,
}

// legacyFilters maps the filters of RapidPro's oldest template syntax
// (@flow.color|lower_case) to expression functions, as RapidPro rewrote
// them: title_case and capitalize to PROPER, first_word to FIRST_WORD,
// remove_first_word to REMOVE_FIRST_WORD.
var legacyFilters = map[string]string{
	"upper_case":        "upper",
	"lower_case":        "lower",
	"title_case":        "legacy_proper",
	"capitalize":        "legacy_proper",
	"first_word":        "legacy_first_word",
	"remove_first_word": "legacy_remove_first_word",
	"read_digits":       "read_digits",
}

// problem is a template construct that could not be translated; the caller
// turns it into a report line with its location.
type problem struct {
	level string
	msg   string
}

// xlate translates RapidPro templates and expressions into Parley's. Problems
// found are collected in probs.
type xlate struct {
	probs []problem
	// extraResults maps @extra.X to the key of the webhook result whose
	// answer it is (RapidPro's 11.5 migration, see migrate.go).
	extraResults map[string]string
}

func (x *xlate) errorf(format string, args ...any) {
	x.probs = append(x.probs, problem{levelError, fmt.Sprintf(format, args...)})
}

func (x *xlate) warnf(format string, args ...any) {
	x.probs = append(x.probs, problem{levelWarning, fmt.Sprintf(format, args...)})
}

// template translates a legacy template. Literal @ signs are doubled (Parley
// would otherwise read "@input" or "@session" in literal text as variables) and
// a literal "$flow.key." style sequence is protected.
func (x *xlate) template(src string) string {
	t, _, _ := x.translate(src)
	return t
}

// translated collects a translated template and the same as an expression.
type translated struct {
	b     strings.Builder // the Parley template
	parts []string        // the expression's parts, joined with +
	lit   strings.Builder // literal text not yet in parts
	ok    bool            // every part has an expression
}

// literal adds text that renders as itself, written tmpl in the template.
func (t *translated) literal(text, tmpl string) {
	t.b.WriteString(tmpl)
	t.lit.WriteString(text)
}

// code adds a value: tmpl in the template, expr ("" for none) in the
// expression.
func (t *translated) code(tmpl, expr string) {
	t.b.WriteString(tmpl)
	if expr == "" {
		t.ok = false
		return
	}
	t.flush()
	t.parts = append(t.parts, "text("+expr+")")
}

func (t *translated) flush() {
	if t.lit.Len() > 0 {
		t.parts = append(t.parts, strconv.Quote(t.lit.String()))
		t.lit.Reset()
	}
}

func (t *translated) expr() string {
	t.flush()
	switch len(t.parts) {
	case 0:
		return `""`
	case 1:
		return t.parts[0]
	}
	return "(" + strings.Join(t.parts, " + ") + ")"
}

// translate translates a legacy template into a Parley template and into an
// expression giving the same text (exprOK false when it has none).
func (x *xlate) translate(src string) (tmpl, expr string, exprOK bool) {
	out := &translated{ok: true}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '@' && i+1 < len(src) && src[i+1] == '@':
			out.literal("@", literalAt(src[i+2:]))
			i += 2
		case c == '@' && i+1 < len(src) && src[i+1] == '(':
			end := legacyParen(src, i+1)
			if end < 0 {
				// RapidPro leaves an unclosed expression as text.
				out.literal("@", literalAt(src[i+1:]))
				i++
				continue
			}
			inner := src[i+2 : end]
			if code, ok := x.expression(inner); ok {
				out.code("@("+code+")", code)
			} else {
				out.literal(src[i:end+1], escapeLiteral(src[i:end+1]))
			}
			i = end + 1
		case c == '@':
			path, n := legacyPath(src[i+1:])
			if n == 0 || !legacyTop[strings.ToLower(firstPart(path))] {
				out.literal("@", literalAt(src[i+1:]))
				i++
				continue
			}
			j := i + 1 + n
			var filters []string
			for j < len(src) && src[j] == '|' {
				name, m := legacyIdent(src[j+1:])
				if m == 0 {
					break
				}
				filters = append(filters, strings.ToLower(name))
				j += 1 + m
			}
			next := byte(0)
			if j < len(src) {
				next = src[j]
			}
			t, e, lit := x.variable(path, filters, next)
			if lit {
				out.literal("@"+path, t)
			} else {
				out.code(t, e)
			}
			i = j
		case c == '$' && (strings.HasPrefix(src[i:], "$flow.key.") || strings.HasPrefix(src[i:], "$user.key.") || strings.HasPrefix(src[i:], "$call.")):
			out.literal("$", `@("$")`)
			i++
		default:
			out.literal(src[i:i+1], src[i:i+1])
			i++
		}
	}
	return out.b.String(), out.expr(), out.ok
}

// parleyTop lists the names Parley reads as a variable after @.
var parleyTop = map[string]bool{
	"flow": true, "results": true, "extra": true, "step": true, "input": true,
	"contact": true, "call": true, "session": true, "channel": true,
	"child": true, "parent": true, "user": true, "webhook": true, "run": true,
}

// literalAt writes a literal @ that rest follows. Parley would read "@(",
// "@@" or "@input" as more than an @, so those are written as the expression
// @("@"), which renders an @. (Not "@@": a template with no variable is
// returned as written, so "@@" would stay doubled.)
func literalAt(rest string) string {
	if rest == "" {
		return "@"
	}
	if rest[0] == '(' || rest[0] == '@' {
		return `@("@")`
	}
	name, n := legacyIdent(rest)
	if n > 0 && parleyTop[strings.ToLower(name)] && isWordStart(rest[0]) {
		return `@("@")`
	}
	return "@"
}

// escapeLiteral writes legacy text that is to stay literal.
func escapeLiteral(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			b.WriteString(literalAt(s[i+1:]))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// variable translates one @path (with legacy filters) into Parley template
// text, and into an expression ("" when it has none). lit says the path
// stays literal text (@path, escaped), as RapidPro left a variable it did not
// know. next is the source byte that follows, to avoid a Parley path
// swallowing it.
func (x *xlate) variable(path string, filters []string, next byte) (tmpl, expr string, lit bool) {
	r := x.ref(path)
	if !r.ok {
		return escapeLiteral("@" + path), "", true
	}
	if len(filters) == 0 && r.path != "" && !extendsPath(next) {
		return "@" + r.path, r.expr, false
	}
	if r.expr == "" {
		x.errorf("@%s cannot be used with filters or before %q", path, string(next))
		return escapeLiteral("@" + path), "", true
	}
	code := r.expr
	for _, f := range filters {
		fn, ok := legacyFilters[f]
		if !ok {
			x.errorf("filter |%s on @%s has no Parley equivalent", f, path)
			return escapeLiteral("@" + path), "", true
		}
		code = fmt.Sprintf("%s(text(%s))", fn, code)
	}
	return "@(" + code + ")", code, false
}

// extendsPath reports whether c, written right after a Parley @path, would be
// read as part of it.
func extendsPath(c byte) bool {
	return c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// refOut is a translated variable: its Parley template path and/or expression.
type refOut struct {
	path string // for @path in templates ("" when only an expression can say it)
	expr string // for @(...) and expressions ("" when only a path can say it)
	ok   bool
}

// ref translates a legacy variable path ("flow.color.category", "step.value",
// "contact.tel", "extra.order.id").
func (x *xlate) ref(path string) refOut {
	parts := strings.Split(path, ".")
	top := strings.ToLower(parts[0])
	rest := parts[1:]
	lower := make([]string, len(rest))
	for i, p := range rest {
		lower[i] = strings.ToLower(p)
	}
	switch top {
	case "flow", "child", "parent":
		if top == "parent" && len(lower) > 0 && lower[0] == "contact" {
			c := x.contactRef(lower[1:], path)
			if !c.ok {
				return c
			}
			// Outside a subflow there is no parent: RapidPro's is_error() is true.
			return refOut{expr: fmt.Sprintf("(parent == nil ? nil : %s)", c.expr), ok: c.expr != ""}
		}
		if top != "flow" && len(lower) > 0 && lower[0] == "contact" {
			return x.contactRef(lower[1:], path)
		}
		return x.resultRef(top, lower, path)
	case "step":
		if len(lower) == 0 || (len(lower) == 1 && (lower[0] == "value" || lower[0] == "text")) {
			return refOut{path: "input", expr: "input", ok: true}
		}
		if lower[0] == "contact" {
			return x.contactRef(lower[1:], path)
		}
		if n, err := strconv.Atoi(strings.Join(lower[1:], "")); err == nil && lower[0] == "attachments" && len(lower) == 2 && n >= 0 && n < 1000 {
			// RapidPro's @step.attachments.N is the URL of the last input's
			// attachment N (from 0), without its content type; a location's
			// latitude,longitude; empty when there is none.
			return refOut{expr: fmt.Sprintf(`(len(input.attachments) > %d ? split(input.attachments[%d], ":", 2)[1] : "")`, n, n), ok: true}
		}
		switch lower[0] {
		case "time":
			x.errorf("@%s has no Parley equivalent (only @step, @step.value, @step.attachments.N and @step.contact): use the time of the result saved at that input, @flow.NAME.time, before exporting", path)
		case "attachments":
			x.errorf("@%s has no Parley equivalent (only @step, @step.value, @step.attachments.N and @step.contact): use @step.attachments.0, @step.attachments.1 ..., or @flow.NAME of a media wait, whose value is the attachment's URL, before exporting", path)
		default:
			x.errorf("@%s has no Parley equivalent (only @step, @step.value, @step.attachments.N and @step.contact)", path)
		}
		return refOut{}
	case "contact":
		return x.contactRef(lower, path)
	case "extra":
		if len(rest) == 0 {
			return refOut{path: "extra", ok: true}
		}
		if key, ok := x.extraResults[lower[0]]; ok && len(rest) == 1 {
			// The expression only: a template path flow.KEY.json would print
			// the result's value and ".json" when the answer was not JSON
			// (a failed call), where RapidPro's @extra.KEY is empty.
			return refOut{expr: "text(flow" + member(key) + "?.json)", ok: true}
		}
		var e strings.Builder
		e.WriteString("extra")
		for _, p := range rest {
			if n, err := strconv.Atoi(p); err == nil {
				fmt.Fprintf(&e, "[%d]", n)
			} else {
				fmt.Fprintf(&e, "[%s]", strconv.Quote(p))
			}
		}
		return refOut{path: "extra." + strings.Join(rest, "."), expr: e.String(), ok: true}
	case "date":
		switch strings.Join(lower, ".") {
		case "", "now":
			return refOut{expr: "now()", ok: true}
		case "today":
			return refOut{expr: "today()", ok: true}
		case "tomorrow":
			return refOut{expr: "legacy_add(today(), 1)", ok: true}
		case "yesterday":
			return refOut{expr: "legacy_sub(today(), 1)", ok: true}
		}
		x.errorf("@%s has no Parley equivalent (only @date, @date.now, @date.today, @date.tomorrow and @date.yesterday)", path)
		return refOut{}
	case "channel":
		switch strings.Join(lower, ".") {
		case "", "tel", "tel_e164", "address":
			return refOut{path: "channel.address", expr: "channel.address", ok: true}
		case "name":
			return refOut{path: "channel.name", expr: "channel.name", ok: true}
		}
		x.errorf("@%s has no Parley equivalent", path)
		return refOut{}
	}
	return refOut{}
}

func (x *xlate) resultRef(top string, rest []string, path string) refOut {
	if len(rest) == 0 {
		return refOut{path: top, ok: true}
	}
	key := rest[0]
	field := ""
	if len(rest) > 1 {
		field = strings.Join(rest[1:], ".")
	}
	base := top + "." + key
	eb := top + member(key)
	switch field {
	case "", "value":
		return refOut{path: base, expr: eb + ".value", ok: true}
	case "category":
		return refOut{path: base + ".category", expr: eb + ".category", ok: true}
	case "text":
		return refOut{path: base + ".input", expr: eb + ".input", ok: true}
	case "time":
		return refOut{path: base + ".time", ok: true}
	}
	x.errorf("@%s: results have no %q (value, category, text and time only)", path, field)
	return refOut{}
}

func (x *xlate) contactRef(rest []string, path string) refOut {
	if len(rest) == 0 {
		return refOut{path: "contact.name", expr: "contact.name", ok: true}
	}
	if len(rest) > 1 {
		x.errorf("@%s has no Parley equivalent", path)
		return refOut{}
	}
	switch f := rest[0]; {
	case f == "name", f == "language":
		return refOut{path: "contact." + f, expr: "contact." + f, ok: true}
	case f == "first_name":
		// RapidPro's first name is the name's first word as split at
		// white space ("Mary-Jane" of "Mary-Jane Smith").
		return refOut{expr: "legacy_word(contact.name, 1, true)", ok: true}
	case f == "groups":
		return refOut{path: "contact.groups", expr: `join(contact.groups, ", ")`, ok: true}
	case f == "tel":
		// RapidPro shows the number in its country's national format,
		// and nothing for a contact without a tel: URN.
		return refOut{expr: "format_tel(contact.tel)", ok: true}
	case f == "tel_e164":
		// The number of a tel: URN, in a template and in an expression
		// alike: a whatsapp: contact has none, as in RapidPro.
		return refOut{path: "contact.tel", expr: "contact.tel", ok: true}
	case f == "uuid", f == "id":
		x.warnf("@%s: Parley contacts have no %s; the contact's URN is used instead", path, f)
		return refOut{path: "contact.urn", expr: "contact.urn", ok: true}
	case f == "created_on":
		// Not a field in RapidPro: the time the contact was created.
		x.warnf("@%s: Parley keeps no time a contact was created, so this reads the contact field created_on, empty unless the flow or the session's start sets it", path)
		return refOut{path: "contact.fields.created_on", expr: "contact.fields.created_on", ok: true}
	case urnSchemes[f]:
		x.warnf("@%s: the contact's URN (any scheme) is used, as Parley contacts have one URN", path)
		return refOut{path: "contact.urn", expr: "contact.urn", ok: true}
	default:
		return refOut{path: "contact.fields." + f, expr: "contact.fields" + member(f), ok: true}
	}
}

// member returns an expr-lang member access for a name: ".name", or ["name"]
// when the name is not an identifier.
func member(s string) string {
	for i := 0; i < len(s); i++ {
		if !isWordStart(s[i]) && !(i > 0 && s[i] >= '0' && s[i] <= '9') {
			return "[" + strconv.Quote(s) + "]"
		}
	}
	return "." + s
}

// legacyPath scans a RapidPro variable path: word characters separated by dots;
// a trailing dot is punctuation.
func legacyPath(s string) (string, int) {
	i := 0
	for i < len(s) && isWord(s[i]) {
		i++
	}
	if i == 0 || !isWordStart(s[0]) {
		return "", 0
	}
	for i+1 < len(s) && s[i] == '.' && isWord(s[i+1]) {
		j := i + 1
		for j < len(s) && isWord(s[j]) {
			j++
		}
		i = j
	}
	return s[:i], i
}

func legacyIdent(s string) (string, int) {
	i := 0
	for i < len(s) && isWord(s[i]) {
		i++
	}
	return s[:i], i
}

func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isWord(c byte) bool { return isWordStart(c) || (c >= '0' && c <= '9') }

func firstPart(p string) string {
	if i := strings.IndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return p
}

// legacyParen finds the parenthesis closing the one at open, skipping strings
// ("..." with "" as an escaped quote). It returns -1 when there is none.
func legacyParen(s string, open int) int {
	depth := 0
	inStr := false
	for i := open; i < len(s); i++ {
		c := s[i]
		if inStr {
			if c == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					i++
				} else {
					inStr = false
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
