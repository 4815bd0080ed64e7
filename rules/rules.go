package rules

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
)

// Case is one rule as written in flow JSON:
//
//	{"type":"has_all_words","args":["the fox"],"category":"Fox"}
type Case struct {
	Type     string   `json:"type"`
	Args     []string `json:"args,omitempty"`
	Category string   `json:"category"`
}

// Match is the outcome of the first case that matched an operand.
type Match struct {
	// Index is the position of the matching case in the list.
	Index    int
	Category string
	// Value is what the rule extracted: the matching words, the number, the date...
	Value string
	// Extra holds rule-specific detail; has_pattern puts the captured groups here,
	// keyed "0" (whole match), "1", ... and by group name for named groups.
	Extra map[string]string
}

// Set is a compiled list of cases. It is immutable after Compile and safe for
// concurrent use by every session running the same flow revision.
type Set struct {
	field string
	rules []*rule
	cats  []string
	// regexes caches patterns whose source comes from a template, so a has_pattern
	// over @contact.fields.x is compiled once per distinct rendered value.
	regexes regexCache
}

// rule is one compiled case.
type rule struct {
	Case
	index int
	def   *typeDef
	args  []arg
	expr  flows.Expression

	// Pre-computed forms of static arguments, so the common case does no work
	// at match time that could have been done when the flow was loaded.
	words []string       // tokens of args[0] for the word rules
	re    *regexp.Regexp // has_pattern
	nums  [2]decimal     // number rules
	date  date           // date rules, when the argument is an ISO date
	dated bool           // date is set
	key   string         // has_category: the result key
}

// arg is one argument: a compiled template, or its text when it holds no variables.
type arg struct {
	tmpl   flows.Template
	text   string
	static bool
}

// argKind says how Compile checks a static argument.
type argKind int

const (
	argText argKind = iota
	argNonEmpty
	argNumber
	argDate
	argRegex
	argCountry
	argExpression
)

// typeDef describes one rule type.
type typeDef struct {
	name     string
	minArgs  int
	maxArgs  int // -1: no limit
	kinds    []argKind
	argNames []string
	// nfc: the rule compares the input's text with its argument, both read
	// in NFC (comparesText).
	nfc  bool
	test func(s *Set, rl *rule, r flows.Run, in string) (string, map[string]string, bool)
}

func (d *typeDef) kind(i int) argKind {
	if i < len(d.kinds) {
		return d.kinds[i]
	}
	return d.kinds[len(d.kinds)-1]
}

// TypeInfo describes a rule type for documentation and the JSON Schema.
type TypeInfo struct {
	Name string
	// Args names the arguments in order; a name ending in "..." repeats.
	Args    []string
	MinArgs int
	// MaxArgs is -1 when the last argument repeats.
	MaxArgs int
}

var types map[string]*typeDef

func init() {
	defs := []*typeDef{
		{name: "has_text", test: testHasText},
		{name: "has_only_text", minArgs: 1, maxArgs: 1, kinds: []argKind{argText}, argNames: []string{"text"}, test: testHasOnlyText},
		{name: "has_beginning", minArgs: 1, maxArgs: 1, kinds: []argKind{argNonEmpty}, argNames: []string{"beginning"}, test: testHasBeginning},
		{name: "has_all_words", minArgs: 1, maxArgs: 1, kinds: []argKind{argNonEmpty}, argNames: []string{"words"}, test: testHasAllWords},
		{name: "has_any_word", minArgs: 1, maxArgs: 1, kinds: []argKind{argNonEmpty}, argNames: []string{"words"}, test: testHasAnyWord},
		{name: "has_phrase", minArgs: 1, maxArgs: 1, kinds: []argKind{argText}, argNames: []string{"phrase"}, test: testHasPhrase},
		{name: "has_only_phrase", minArgs: 1, maxArgs: 1, kinds: []argKind{argText}, argNames: []string{"phrase"}, test: testHasOnlyPhrase},
		{name: "has_pattern", minArgs: 1, maxArgs: 1, kinds: []argKind{argRegex}, argNames: []string{"pattern"}, test: testHasPattern},
		{name: "has_number", test: numberTest(func(v, _, _ decimal) bool { return true })},
		{name: "has_number_between", minArgs: 2, maxArgs: 2, kinds: []argKind{argNumber}, argNames: []string{"min", "max"},
			test: numberTest(func(v, lo, hi decimal) bool { return v.cmp(lo) >= 0 && v.cmp(hi) <= 0 })},
		{name: "has_number_lt", minArgs: 1, maxArgs: 1, kinds: []argKind{argNumber}, argNames: []string{"max"},
			test: numberTest(func(v, n, _ decimal) bool { return v.cmp(n) < 0 })},
		{name: "has_number_lte", minArgs: 1, maxArgs: 1, kinds: []argKind{argNumber}, argNames: []string{"max"},
			test: numberTest(func(v, n, _ decimal) bool { return v.cmp(n) <= 0 })},
		{name: "has_number_eq", minArgs: 1, maxArgs: 1, kinds: []argKind{argNumber}, argNames: []string{"value"},
			test: numberTest(func(v, n, _ decimal) bool { return v.cmp(n) == 0 })},
		{name: "has_number_gte", minArgs: 1, maxArgs: 1, kinds: []argKind{argNumber}, argNames: []string{"min"},
			test: numberTest(func(v, n, _ decimal) bool { return v.cmp(n) >= 0 })},
		{name: "has_number_gt", minArgs: 1, maxArgs: 1, kinds: []argKind{argNumber}, argNames: []string{"min"},
			test: numberTest(func(v, n, _ decimal) bool { return v.cmp(n) > 0 })},
		{name: "has_date", test: dateTest(func(v, _ date) bool { return true })},
		{name: "has_date_lt", minArgs: 1, maxArgs: 1, kinds: []argKind{argDate}, argNames: []string{"max"},
			test: dateTest(func(v, d date) bool { return v.cmp(d) < 0 })},
		{name: "has_date_eq", minArgs: 1, maxArgs: 1, kinds: []argKind{argDate}, argNames: []string{"date"},
			test: dateTest(func(v, d date) bool { return v.cmp(d) == 0 })},
		{name: "has_date_gt", minArgs: 1, maxArgs: 1, kinds: []argKind{argDate}, argNames: []string{"min"},
			test: dateTest(func(v, d date) bool { return v.cmp(d) > 0 })},
		{name: "has_email", test: testHasEmail},
		{name: "has_phone", minArgs: 0, maxArgs: 1, kinds: []argKind{argCountry}, argNames: []string{"country"}, test: testHasPhone},
		{name: "has_category", minArgs: 2, maxArgs: -1, kinds: []argKind{argNonEmpty}, argNames: []string{"result", "categories..."}, test: testHasCategory},
		{name: "has_group", minArgs: 1, maxArgs: 2, kinds: []argKind{argNonEmpty}, argNames: []string{"group", "name"}, test: testHasGroup},
		{name: "has_image", test: mediaTest("image")},
		{name: "has_video", test: mediaTest("video")},
		{name: "has_audio", test: mediaTest("audio")},
		{name: "has_location", test: mediaTest(flows.GeoType)},
		{name: "expression", minArgs: 1, maxArgs: 1, kinds: []argKind{argExpression}, argNames: []string{"expression"}, test: testExpression},
	}
	types = make(map[string]*typeDef, len(defs))
	for _, d := range defs {
		if d.kinds == nil {
			d.kinds = []argKind{argText}
		}
		d.nfc = comparesText(d.name)
		types[d.name] = d
	}
}

// Types lists the supported rule types, sorted.
func Types() []string {
	out := make([]string, 0, len(types))
	for n := range types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Describe returns the argument signature of a rule type.
func Describe(typ string) (TypeInfo, bool) {
	d, ok := types[typ]
	if !ok {
		return TypeInfo{}, false
	}
	return TypeInfo{Name: d.name, Args: append([]string(nil), d.argNames...), MinArgs: d.minArgs, MaxArgs: d.maxArgs}, true
}

// Compile checks every case (known type, argument count and kind, regexes that
// compile when the argument has no template variables, expressions) and compiles
// argument templates with c.Template and expression rules with c.Expression.
// Errors are *flows.FieldError with Path relative to the widget, such as
// "rules[2].args[0]", joined with errors.Join. field is the JSON field holding
// the list ("rules"). When every error is one of a check added after flows
// were stored (flows.ErrNewRule), the set is returned with them, for a stored
// flow to run as before; so it is when they are advice (flows.ErrAdvice).
func Compile(c flows.Compiler, field string, cases []Case) (*Set, error) {
	s := &Set{field: field, rules: make([]*rule, 0, len(cases))}
	var errs []error
	seen := map[string]bool{}
	for i, cs := range cases {
		path := fmt.Sprintf("%s[%d]", field, i)
		rl, ruleErrs := compileRule(c, path, i, cs)
		errs = append(errs, ruleErrs...)
		if strings.TrimSpace(cs.Category) == "" {
			errs = append(errs, flows.Errorf(path+".category", "missing category"))
		} else if !seen[cs.Category] {
			seen[cs.Category] = true
			s.cats = append(s.cats, cs.Category)
		}
		if rl != nil {
			s.rules = append(s.rules, rl)
		}
	}
	if len(errs) > 0 {
		for _, err := range errs {
			if !errors.Is(err, flows.ErrNewRule) && !errors.Is(err, flows.ErrAdvice) {
				return nil, errors.Join(errs...)
			}
		}
		// Only checks added after flows were stored failed, or only advice
		// was found: a stored flow keeps its rules and runs them as it did,
		// and any flow those with advice, with warnings.
		return s, errors.Join(errs...)
	}
	return s, nil
}

func compileRule(c flows.Compiler, path string, index int, cs Case) (*rule, []error) {
	def, ok := types[cs.Type]
	if !ok {
		msg := fmt.Sprintf("unknown rule type %q", cs.Type)
		if cs.Type == "" {
			msg = "missing rule type"
		} else if cs.Type == "has_wait_timeout" || cs.Type == "has_timeout" {
			msg += " (a timeout is an exit of the waiting widget, not a rule)"
		} else {
			msg += flows.DidYouMean(flows.Suggestions(cs.Type, Types()))
		}
		return nil, []error{flows.Errorf(path+".type", "%s", msg)}
	}
	n := len(cs.Args)
	if n < def.minArgs || (def.maxArgs >= 0 && n > def.maxArgs) {
		return nil, []error{flows.Errorf(path+".args", "%s takes %s, got %d", def.name, arity(def), n)}
	}
	rl := &rule{Case: cs, index: index, def: def, args: make([]arg, n)}
	var errs []error
	for j, src := range cs.Args {
		apath := fmt.Sprintf("%s.args[%d]", path, j)
		kind := def.kind(j)
		if kind == argExpression {
			// An expression comes with an error marked flows.ErrNewRule
			// when a stored flow may keep it.
			e, err := c.Expression(apath, src)
			if err != nil {
				errs = append(errs, fieldError(apath, err, flows.ErrBadExpression))
			}
			rl.expr = e
			continue
		}
		t, err := c.Template(apath, src)
		if err != nil {
			errs = append(errs, fieldError(apath, err, flows.ErrBadTemplate))
			if t == nil {
				continue
			}
		}
		a := arg{tmpl: t, text: src, static: isStatic(src)}
		if a.static && def.nfc {
			a.text = nfc(src)
		}
		rl.args[j] = a
		if !a.static {
			continue
		}
		if err := rl.prepare(c, j, kind, a.text); err != nil {
			err.Path = apath
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && def.name == "has_number_between" && rl.args[0].static && rl.args[1].static && rl.nums[0].cmp(rl.nums[1]) > 0 {
		errs = append(errs, flows.Errorf(path+".args", "min %s is greater than max %s, so the rule can never match", rl.nums[0], rl.nums[1]))
	}
	return rl, errs
}

// prepare checks a static argument and keeps its parsed form.
func (rl *rule) prepare(c flows.Compiler, j int, kind argKind, src string) *flows.FieldError {
	switch kind {
	case argNonEmpty:
		if strings.TrimSpace(src) == "" {
			return &flows.FieldError{Message: rl.def.name + " needs a non-empty argument"}
		}
	case argNumber:
		d, ok := parseDecimal(src)
		if !ok {
			return &flows.FieldError{Message: fmt.Sprintf("expected a number, got %q", src)}
		}
		rl.nums[j] = d
	case argDate:
		// Relative dates ("today") depend on the run's clock and other written
		// dates on the run's date format, so only an ISO date is kept parsed.
		// The others are checked against the flow's format (the compiler's,
		// when it is a DateFormatter).
		if d, ok := parseISODate(src); ok {
			rl.date, rl.dated = d, true
		} else if !isRelativeDate(src) {
			if err := checkDateArg(src, dateFormatOf(c), clockOf(c)); err != nil {
				return err
			}
		}
	case argRegex:
		re, err := compilePattern(src)
		if err != nil {
			return &flows.FieldError{Message: fmt.Sprintf("invalid regular expression: %v", err), Err: fmt.Errorf("%w: %w", flows.ErrBadRegex, err)}
		}
		rl.re = re
	case argCountry:
		if strings.TrimSpace(src) != "" && !validCountry(src) {
			return &flows.FieldError{Message: fmt.Sprintf("unknown country code %q (expected ISO 3166-1 alpha-2, e.g. US)", src)}
		}
	}
	if j == 0 && rl.def.name == "has_category" {
		rl.key = flows.Key(src)
	}
	if j == 0 && isWordRule(rl.def.name) {
		rl.words = tokenWords(src)
		if len(rl.words) == 0 && kind == argNonEmpty {
			// has_all_words, has_any_word: "..." would never match (an
			// empty phrase, which always matches, is has_phrase's). Taken
			// once, with a warning at each run: a stored flow loads.
			return &flows.FieldError{Err: flows.ErrNewRule,
				Message: fmt.Sprintf("%s needs at least one word to look for, and %q has none: punctuation only separates words", rl.def.name, src)}
		}
	}
	return nil
}

// comparesText reports whether a rule compares its argument with the input's
// text, both read in NFC (nfc).
func comparesText(name string) bool {
	switch name {
	case "has_only_text", "has_beginning", "has_pattern":
		return true
	}
	return isWordRule(name)
}

func isWordRule(name string) bool {
	switch name {
	case "has_all_words", "has_any_word", "has_phrase", "has_only_phrase":
		return true
	}
	return false
}

func arity(d *typeDef) string {
	switch {
	case d.maxArgs < 0:
		return fmt.Sprintf("at least %d arguments (%s)", d.minArgs, strings.Join(d.argNames, ", "))
	case d.maxArgs == 0:
		return "no arguments"
	case d.minArgs == d.maxArgs && d.maxArgs == 1:
		return fmt.Sprintf("1 argument (%s)", d.argNames[0])
	case d.minArgs == d.maxArgs:
		return fmt.Sprintf("%d arguments (%s)", d.maxArgs, strings.Join(d.argNames, ", "))
	default:
		return fmt.Sprintf("%d to %d arguments (%s)", d.minArgs, d.maxArgs, strings.Join(d.argNames, ", "))
	}
}

// fieldError keeps a compiler's *flows.FieldError as it is and wraps anything
// else, so the path always names the argument.
func fieldError(path string, err error, sentinel error) error {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		// Several problems of one argument (a template's expressions): each its own.
		var errs []error
		for _, e := range multi.Unwrap() {
			errs = append(errs, fieldError(path, e, sentinel))
		}
		return errors.Join(errs...)
	}
	var fe *flows.FieldError
	if errors.As(err, &fe) {
		if fe.Path == "" {
			fe.Path = path
		}
		return fe
	}
	wrapped := err
	if !errors.Is(err, sentinel) {
		wrapped = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &flows.FieldError{Path: path, Message: err.Error(), Err: wrapped}
}

// isStatic reports whether a template source holds no variables, so that its
// rendering is its own text and it can be checked and parsed once. Any "@" (even
// in an e-mail address: the template engine decides what it means) or a "$"
// followed by a name makes it dynamic; a bare "$", such as a regex anchor, does not.
func isStatic(src string) bool {
	if strings.IndexByte(src, '@') >= 0 {
		return false
	}
	for i := 0; i < len(src); i++ {
		if src[i] != '$' || i+1 >= len(src) {
			continue
		}
		r, _ := utf8.DecodeRuneInString(src[i+1:])
		if unicode.IsLetter(r) || r == '_' || r == '(' || r == '{' {
			return false
		}
	}
	return true
}

// Categories returns the distinct categories in first-seen order.
func (s *Set) Categories() []string { return append([]string(nil), s.cats...) }

// Len returns the number of cases.
func (s *Set) Len() int { return len(s.rules) }

// Match tries the cases in order against operand; the first that matches wins.
// The rules that compare the operand's text with their argument
// (comparesText) read both in NFC (nfc), and save their value in that form;
// the operand is normalised once, for the first of them.
func (s *Set) Match(r flows.Run, operand string) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	composed, normalised := "", false
	for _, rl := range s.rules {
		in := operand
		if rl.def.nfc {
			if !normalised {
				composed, normalised = nfc(operand), true
			}
			in = composed
		}
		if v, extra, ok := rl.def.test(s, rl, r, in); ok {
			return Match{Index: rl.index, Category: rl.Category, Value: v, Extra: extra}, true
		}
	}
	return Match{}, false
}

// render returns argument j as text for this run.
func (rl *rule) render(r flows.Run, j int) string {
	a := &rl.args[j]
	if a.static || a.tmpl == nil {
		return a.text
	}
	return r.Render(a.tmpl)
}

// renderNFC is render in NFC (nfc), for the rules that compare the argument
// with the input's text; a static argument is stored so.
func (rl *rule) renderNFC(r flows.Run, j int) string {
	if rl.args[j].static {
		return rl.args[j].text
	}
	return nfc(rl.render(r, j))
}

// warn records why a rule could not be tested; the rule does not match.
func (s *Set) warn(r flows.Run, rl *rule, typ, format string, args ...any) {
	r.Emit(flows.Event{
		Type:    typ,
		Message: fmt.Sprintf("%s[%d] %s: %s", s.field, rl.index, rl.Type, fmt.Sprintf(format, args...)),
	})
}

// regexCache holds patterns compiled at match time. It is bounded so that a
// template fed by user input cannot grow it without limit.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexEntry
}

type regexEntry struct {
	re  *regexp.Regexp
	err error
}

const regexCacheMax = 256

func (c *regexCache) get(src string) (*regexp.Regexp, error) {
	c.mu.Lock()
	e, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	re, err := compilePattern(src)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*regexEntry{}
	}
	if len(c.m) < regexCacheMax {
		c.m[src] = &regexEntry{re: re, err: err}
	}
	c.mu.Unlock()
	return re, err
}
