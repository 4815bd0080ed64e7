package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FormatVersion is the current flow format version. Flows carry it in "version";
// a flow without one is taken to be this version.
const FormatVersion = "1.0"

// Flow kinds.
const (
	KindMessaging = "messaging"
	KindVoice     = "voice"
)

// Standard exit names shared by several widgets.
const (
	ExitOther    = "Other"
	ExitSuccess  = "Success"
	ExitFailure  = "Failure"
	ExitTimeout  = "Timeout"
	ExitComplete = "Complete"
	ExitExpired  = "Expired"
	ExitNoInput  = "No Input"
	ExitNoMatch  = "No Match"
	ExitHangup   = "Hangup"
)

// MaxTimeoutSeconds is the longest timeout a wait may have (the timeout of
// a wait_for_response or a gather_digits): a year, 31,536,000 seconds. It
// keeps the time the wait ends within what a time.Duration holds; a flow
// stored with a longer timeout loads with a warning and waits this long.
const MaxTimeoutSeconds = 365 * 24 * 60 * 60

// MaxExpireMinutes is the most a flow's expire_minutes may be: a year,
// 525,600 minutes, as MaxTimeoutSeconds is for a wait. A flow stored with
// more loads with a warning and expires its sessions after a year.
const MaxExpireMinutes = 365 * 24 * 60

// Flow is a decoded, validated flow definition. Once loaded it is immutable and
// shared by every session on the same revision.
type Flow struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Revision int    `json:"revision,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Language string `json:"language,omitempty"`
	// Start is the id of the first widget; empty means the first widget listed.
	Start string `json:"start,omitempty"`
	// ExpireMinutes ends a waiting session after this long without input (0: the server default).
	ExpireMinutes int `json:"expire_minutes,omitempty"`
	// Environment sets how the flow reads phone numbers and dates (nil: the engine's defaults).
	Environment *Environment `json:"environment,omitempty"`

	Widgets []Widget `json:"-"`
	index   map[string]int
	// Warnings are non-fatal findings from validation (e.g. unreachable widgets).
	Warnings []*FieldError `json:"-"`
	// Source is the JSON the flow was decoded from.
	Source json.RawMessage `json:"-"`
}

// Widget returns the widget with the given id, or nil.
func (f *Flow) Widget(id string) Widget {
	if i, ok := f.index[id]; ok && i >= 0 {
		return f.Widgets[i]
	}
	return nil
}

// StartWidget returns the id of the widget a session starts at.
func (f *Flow) StartWidget() string {
	if f.Start != "" {
		return f.Start
	}
	if len(f.Widgets) > 0 {
		return f.Widgets[0].Base().ID
	}
	return ""
}

// IsVoice reports whether the flow is an IVR flow.
func (f *Flow) IsVoice() bool { return f.Kind == KindVoice }

// WidgetBase holds the fields every widget has. Widget structs embed it.
type WidgetBase struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Exits maps an exit (category) name to the id of the next widget. An exit that
	// is absent or empty ends the flow when taken.
	Exits map[string]string `json:"exits,omitempty"`
	// Note and Position are for editors; the engine ignores them.
	Note     string          `json:"note,omitempty"`
	Position json.RawMessage `json:"position,omitempty"`

	// cleared holds the paths of the values Decode left out (see Decoded).
	cleared map[string]bool
}

// Base returns the widget's common fields; embedding WidgetBase gives every widget this method.
func (b *WidgetBase) Base() *WidgetBase { return b }

// Decoded reports whether the widget's field (a path relative to the widget,
// as Errorf takes it: "webhook", "rules[0].category") was read from the flow:
// false when it, a value inside it or the value it is in had the wrong kind
// of JSON and was left at its zero value, a problem Decode has already
// reported. Validate
// asks it before a check that reads one field to judge another ("url is
// required unless webhook names a configured one"), which the zero value
// would make fail falsely. A widget not decoded by Decode has every field.
func (b *WidgetBase) Decoded(field string) bool {
	for c := range b.cleared {
		if c == field || isUnder(c, field) || isUnder(field, c) {
			return false
		}
	}
	return true
}

// Next returns the destination of an exit ("" ends the flow).
func (b *WidgetBase) Next(exit string) string { return b.Exits[exit] }

// Widget is one node of a flow. Implementations are one file each in package widgets.
type Widget interface {
	// Base returns the common fields (id, type, exits).
	Base() *WidgetBase
	// Validate checks the widget's own fields and compiles its templates and
	// expressions with c. Errors should be *FieldError values (see Errorf).
	Validate(c Compiler) error
	// ExitNames lists every exit the widget can take, in display order.
	ExitNames() []string
	// Execute runs the widget when a session arrives at it.
	Execute(r Run) Outcome
}

// ExitsFrom is implemented by a widget whose exits depend on its own fields
// (the categories of its rules, its buckets): ExitFields names those fields,
// as paths relative to the widget. When one of them was not read (see
// WidgetBase.Decoded), which exits the widget has is not known, and Decode
// does not report its exits as unknown; where they lead is still checked.
type ExitsFrom interface {
	ExitFields() []string
}

// UnreadExits is implemented by an ExitsFrom widget whose exits may be
// unknown although every field they come from was read: ExitsUnread
// reports, after Validate, that one of them was read without what names an
// exit (a rule without a category, reported missing), and Decode then does
// not report the widget's exits as unknown either.
type UnreadExits interface {
	ExitsUnread() bool
}

// ExplainedExits is implemented by a widget whose Validate can report a
// problem that explains why an exit it is given is unknown: a rule
// category named like one of the widget's own exits (Other), whose exit is
// then given under the name the author meant the category to have
// (Valid). ExplainedExits, after Validate, lists such exits; a flow being
// written is not told of them again as unknown exits.
type ExplainedExits interface {
	ExplainedExits() []string
}

// ExitHinter is implemented by a widget that can say why a name is not one
// of its exits though the widget may have it (a wait's Timeout exit, which
// it has only with a timeout): ExitHint returns that, or "".
type ExitHinter interface {
	ExitHint(name string) string
}

// KindChecker is implemented by a widget that does not belong in every kind
// of flow (a voice widget in a messaging flow says nothing to anyone):
// CheckKind reports, as Validate does, what is wrong with the widget in a
// flow of kind, as the flow gives it: KindMessaging, KindVoice, or "" when
// the flow sets no kind and is a messaging flow (so that a message can say
// the kind is the default). Decode reports each problem
// wrapping ErrWrongKind and ErrNewRule, so flows stored before the check
// still load, with a warning.
type KindChecker interface {
	CheckKind(kind string) error
}

// FlowEnterer is implemented by a widget that enters another flow as a
// subflow (widgets.Subflow): EnteredFlow is that flow's id, "" when it
// names none. What runs on a call is checked through it (Flow.CallProblem).
type FlowEnterer interface {
	EnteredFlow() string
}

// Resumer is implemented by widgets that wait (for a message, digits, a subflow):
// Resume is called with the input that ends the wait.
type Resumer interface {
	Resume(r Run, in Input) Outcome
}

// Outcome is what a widget tells the engine to do next.
type Outcome struct {
	// Exit is the exit to follow (when Wait, Subflow and End are all unset).
	Exit string
	// Wait, when set, suspends the session at this widget until input arrives.
	Wait *Wait
	// Subflow, when set, starts that flow; the widget is resumed with an
	// InputSubflow input when it ends.
	Subflow *SubflowCall
	// End ends the session now with the given status (e.g. hangup, end widget).
	End Status
}

// SubflowCall asks the engine to run another flow for the same contact.
type SubflowCall struct {
	FlowID string `json:"flow"`
}

// Factory makes a zero widget of one type, ready to be decoded into.
type Factory func() Widget

// Registry maps widget type names to factories.
type Registry struct {
	types map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]Factory{}} }

// Register adds a widget type. Registering a name twice panics.
func (r *Registry) Register(name string, f Factory) {
	if _, dup := r.types[name]; dup {
		panic(fmt.Sprintf("flows: widget type %q registered twice", name))
	}
	r.types[name] = f
}

// Lookup returns the factory for a type name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	f, ok := r.types[name]
	return f, ok
}

// Names lists the registered type names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Subset returns a registry with only the named types (for tests).
func (r *Registry) Subset(names ...string) *Registry {
	s := NewRegistry()
	for _, n := range names {
		if f, ok := r.types[n]; ok {
			s.types[n] = f
		}
	}
	return s
}

// MaxIDLen is the length of the longest flow id.
const MaxIDLen = 128

// IDRule is the rule for a flow id (and for the ids of the server's
// channels and webhook configurations), as IDProblem checks it.
const IDRule = "an id is 1 to 128 characters, each an ASCII letter, a digit, '.', '_' or '-', the first a letter or digit"

// IDProblem says what is wrong with id against IDRule, starting with a verb
// ("has '/' at character 2: ..."), or "" when it follows the rule.
func IDProblem(id string) string {
	if id == "" {
		return "is empty: " + IDRule
	}
	for i, r := range id {
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		if i > 0 && (r == '.' || r == '_' || r == '-') {
			ok = true
		}
		if !ok {
			return fmt.Sprintf("has %q at character %d: %s", r, utf8.RuneCountInString(id[:i])+1, IDRule)
		}
	}
	if len(id) > MaxIDLen {
		return fmt.Sprintf("is %d characters long: %s", len(id), IDRule)
	}
	return ""
}

// FieldError is a validation finding that names where it is: the widget id and
// the JSON path in the flow document.
type FieldError struct {
	Widget  string `json:"widget,omitempty"`
	Path    string `json:"path"`
	Message string `json:"message"`
	Err     error  `json:"-"`
}

func (e *FieldError) Error() string {
	if e.Widget != "" {
		return fmt.Sprintf("widget %q: %s: %s", e.Widget, e.Path, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Message)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errorf makes a FieldError for a field of a widget; path is relative to the
// widget (e.g. "rules[0].args[1]"); the decoder prefixes the widget's own path.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Path: field, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors callers can test with errors.Is.
var (
	ErrInvalidFlow   = errors.New("invalid flow")
	ErrUnknownType   = errors.New("unknown widget type")
	ErrDanglingExit  = errors.New("exit points to no widget")
	ErrDuplicateID   = errors.New("duplicate widget id")
	ErrMissingStart  = errors.New("missing start widget")
	ErrBadExpression = errors.New("bad expression")
	ErrBadTemplate   = errors.New("bad template")
	ErrBadRegex      = errors.New("bad regular expression")
	ErrUnknownField  = errors.New("unknown field")
	ErrUnknownExit   = errors.New("unknown exit")
	// ErrWrongKind: a widget that does not work in the flow's kind (a say in
	// a messaging flow); see KindChecker.
	ErrWrongKind = errors.New("widget does not belong in this kind of flow")
	// ErrSyntax: the document is not well-formed JSON; nothing else of it is checked.
	ErrSyntax = errors.New("malformed JSON")
	// ErrNewRule marks a problem that a rule added in a later version
	// reports: a flow being written must not have it, but a flow stored
	// before the rule still loads (DecodeStored), with the problem as a
	// warning.
	ErrNewRule = errors.New("rule newer than the stored flow")
	// ErrAdvice marks a finding that refuses no flow, new or stored: the
	// flow loads, and the finding is among its warnings (something that
	// works as written, but perhaps not as meant).
	ErrAdvice = errors.New("advice")
	// ErrMoreProblems marks the last entry of a listing of problems that
	// stopped before the end (a large flow with many problems): more
	// follow, or may (see MoreProblems). It is no problem of the flow itself.
	ErrMoreProblems = errors.New("more problems may follow")
	// ErrMoreFound marks, besides ErrMoreProblems, the last entry of a
	// listing that stopped with a further problem found: more follow.
	ErrMoreFound = errors.New("more problems follow")
)

// NewRule marks err as reported by a rule added in a later version (see
// ErrNewRule); its message is err's.
func NewRule(err error) error { return newRuleError{err} }

type newRuleError struct{ err error }

func (e newRuleError) Error() string   { return e.err.Error() }
func (e newRuleError) Unwrap() []error { return []error{e.err, ErrNewRule} }

// ValidationError collects every problem found in a flow.
type ValidationError struct {
	Errors []*FieldError
}

func (v *ValidationError) Error() string {
	msgs := make([]string, len(v.Errors))
	for i, e := range v.Errors {
		msgs[i] = e.Error()
	}
	return "invalid flow: " + strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrInvalidFlow) true, and true for any sentinel one of
// the collected errors wraps.
func (v *ValidationError) Is(target error) bool {
	if target == ErrInvalidFlow {
		return true
	}
	for _, e := range v.Errors {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

// Compiler compiles the templates and expressions of a widget once, when the flow
// is loaded. The engine implements it.
type Compiler interface {
	// Template compiles text that may contain @variables, $variables and @(...).
	Template(field, src string) (Template, error)
	// Expression compiles an expr-lang expression over the flow's variables.
	Expression(field, src string) (Expression, error)
}

// Template is a compiled text template. Render it with Run.Render.
type Template interface{ Source() string }

// Expression is a compiled expression. Evaluate it with Run.Eval.
type Expression interface{ Source() string }

type rawFlow struct {
	ID            string           `json:"id"`
	Name          string           `json:"name"`
	Version       string           `json:"version"`
	Revision      int              `json:"revision"`
	Kind          string           `json:"kind"`
	Language      string           `json:"language"`
	Start         string           `json:"start"`
	ExpireMinutes int              `json:"expire_minutes"`
	Environment   *Environment     `json:"environment"`
	Widgets       []jsontext.Value `json:"widgets"`
	Schema        string           `json:"$schema"`
	Description   string           `json:"description"`
}

// Decode parses flow JSON into a Flow using the registry, checks the graph
// (unknown types and fields, duplicate ids, dangling exits, missing start) and
// calls each widget's Validate with c. All problems are returned together as a
// *ValidationError; unreachable widgets become Flow.Warnings. A syntax error
// is reported alone; otherwise every field problem is reported, and the
// widget and graph checks still run on what could be decoded. Decode is for
// flows being written: see DecodeStored for flows already stored.
func Decode(data []byte, reg *Registry, c Compiler) (*Flow, error) {
	return decode(data, reg, c, false)
}

// DecodeStored is Decode for a flow stored by this or an earlier version: a
// problem only a rule added since reports (one wrapping ErrNewRule, or a
// field name in another case, which earlier versions matched) is a warning
// in Flow.Warnings, and the flow loads as those versions loaded it.
func DecodeStored(data []byte, reg *Registry, c Compiler) (*Flow, error) {
	return decode(data, reg, c, true)
}

// TrimBOM removes a UTF-8 byte-order mark from the start of data; editors
// on some systems write one, and it is no part of the JSON.
func TrimBOM(data []byte) []byte { return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) }

// CheckSyntax reports the first syntax error of a flow document (a
// byte-order mark at its start is skipped), or text after its one value,
// with the line and column, counted in characters from 1. A doc that is
// well-formed gives nil.
func CheckSyntax(data []byte) *FieldError {
	data = TrimBOM(data)
	dec := jsontext.NewDecoder(bytes.NewReader(data), decodeOptions)
	if _, err := dec.ReadValue(); err != nil {
		return jsonError(data, "", err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		// A second document, or the rest of a bad edit: either way not one document.
		line, col := LineColumn(data, int64(len(data)-len(rest)))
		return &FieldError{Path: "$", Err: ErrSyntax,
			Message: fmt.Sprintf("text after the flow's JSON at line %d, column %d: a flow document is one JSON object", line, col)}
	}
	return nil
}

// DecodeDocument decodes a JSON document other than a flow (a webhooks
// file, a mocks file, a test script) into v, a pointer, as flows are
// decoded: names match exactly, an unknown field is an error, and each
// problem is a FieldError at its JSON path, array indices included
// (webhooks[1].timeout), saying in JSON's terms what was expected. A syntax
// error is the one problem, with its line and column; otherwise every
// problem is returned, and v holds what could be decoded; a header given
// as null is one (NullHeaders), after those of decoding. At most
// MaxProblems are listed, and the search for them stops once it has read
// and written a few times the document's size (half a megabyte for a
// small one), as DecodeFields' does: a list cut for either ends with an
// entry at path "$" wrapping ErrMoreProblems (MoreProblems: "and more: ..."
// when a problem past the 50th was found, "and perhaps more: ..." when the
// budget stopped the search),
// and v then holds only what was read before the last of them, so a caller
// checks nothing more of it (what follows would seem missing). A UTF-8
// byte-order mark at the start is skipped.
func DecodeDocument(data []byte, v any) []*FieldError {
	data = TrimBOM(data)
	dec := jsontext.NewDecoder(bytes.NewReader(data), decodeOptions)
	if _, err := dec.ReadValue(); err != nil {
		return []*FieldError{documentError(data, "", err, "")}
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		line, col := LineColumn(data, int64(len(data)-len(rest)))
		return []*FieldError{{Path: "$", Err: ErrSyntax,
			Message: fmt.Sprintf("text after the JSON document at line %d, column %d: the file is one JSON value", line, col)}}
	}
	rv := reflect.ValueOf(v).Elem()
	// On the budget of a request's body (see DecodeFields): a large
	// document with many problems costs a few decodings to explain, not
	// fifty.
	budget := max(fieldsWorkFactor*len(data), fieldsWorkFloor)
	d := unmarshalAllWith(data, "", func() any { rv.SetZero(); return v }, "", decodeOptions, budget)
	switch {
	case d.stopped:
		return append(d.problems, MoreProblems("the document is too large to list every problem of it at once", len(d.problems), false))
	case d.capped:
		return append(d.problems, MoreProblems(fmt.Sprintf("at most %d problems are listed at once", maxProblems), len(d.problems), true))
	case d.failed:
		return d.problems
	}
	// A header given as null, or twice, is refused, as in a flow, after
	// the problems of decoding.
	return append(append(d.problems, NullHeaders(data, v)...), RepeatedHeaders(data, v)...)
}

// NullAbsent is implemented by a widget some of whose fields read a JSON
// null as the field not given (the webhook widget's, as a configured
// webhook's do), where a flow's other fields refuse it.
type NullAbsent interface {
	// NullAbsent reports whether a null at path, relative to the widget
	// ("timeout", "auth.token"), is read as the field not given.
	NullAbsent(path string) bool
}

// Wrapper is implemented by a widget that wraps another (to change how it
// runs): Decode decodes the flow's JSON into the wrapped widget, so that
// wrapping changes nothing of what a flow may contain or how it is checked.
type Wrapper interface {
	Unwrap() Widget
}

func decode(data []byte, reg *Registry, c Compiler, stored bool) (*Flow, error) {
	data = TrimBOM(data)
	if fe := CheckSyntax(data); fe != nil {
		return nil, &ValidationError{Errors: []*FieldError{fe}}
	}
	if string(bytes.TrimSpace(data)) == "null" {
		// Not a flow at all, as an array or a string is not one.
		return nil, &ValidationError{Errors: []*FieldError{{Path: "$", Message: "expected a JSON object, got JSON null"}}}
	}
	var errs, warns []*FieldError
	add := func(e *FieldError) {
		if errors.Is(e, ErrAdvice) || stored && errors.Is(e, ErrNewRule) {
			warns = append(warns, e)
		} else {
			errs = append(errs, e)
		}
	}
	// A flow being written is decoded on a budget of work, as DecodeFields
	// decodes a request's body: each problem found costs a decoding and a
	// rewriting of the document (or of its widget), and a large one with
	// many problems would otherwise cost fifty of them. The first decoding of
	// the flow and of each widget is always made; past the budget the rest
	// of their problems are not looked for, and the listing ends saying so.
	// A stored flow is decoded whole: what it decodes past is only warnings.
	remaining, stopped := -1, false
	if !stored {
		remaining = max(flowWorkFactor*len(data), fieldsWorkFloor)
	}
	decodeAll := func(doc []byte, prefix string, mk func() any) decoded {
		if remaining < 0 {
			return unmarshalAll(doc, prefix, mk)
		}
		d := unmarshalAllWith(doc, prefix, mk, "flow ", decodeOptions, max(remaining, 1))
		remaining = max(remaining-d.work, 0)
		stopped = stopped || d.stopped
		return d
	}
	var raw rawFlow
	res := decodeAll(data, "", func() any { raw = rawFlow{}; return &raw })
	if res.failed && len(res.problems) == 1 {
		// Not a flow at all (an array, a string): the rest would only repeat it.
		return nil, &ValidationError{Errors: res.problems}
	}
	if res.stopped || res.capped {
		// What the flow holds is not all read: its checks would report
		// what decoding did not get to (no widgets, no name).
		why := tooLarge
		if !res.stopped {
			why = fmt.Sprintf("at most %d problems of the flow's own fields are listed at once", maxProblems)
		}
		return nil, &ValidationError{Errors: append(res.problems, MoreProblems(why, len(res.problems), res.capped))}
	}
	for _, fe := range res.problems {
		add(fe)
	}
	// A null where the schema takes none: earlier versions read it as the
	// field's zero value, as a stored flow still reads it, with a warning.
	// In a flow being written it is left out as a value of the wrong kind is,
	// so that what it leaves empty is not reported again.
	for _, n := range findNulls(data, reflect.TypeFor[rawFlow]()) {
		if n.path == "id" {
			// No id, as "" is: the server assigns one, a file's name gives one.
			continue
		}
		add(&FieldError{Path: n.path, Message: n.message(), Err: ErrNewRule})
		if !stored {
			res.clear(n.path)
		}
	}
	f := &Flow{
		ID: raw.ID, Name: raw.Name, Version: raw.Version, Revision: raw.Revision,
		Kind: raw.Kind, Language: raw.Language, Start: raw.Start, ExpireMinutes: raw.ExpireMinutes,
		Environment: raw.Environment,
		index:       map[string]int{}, Source: append(json.RawMessage(nil), data...),
	}
	for _, e := range f.Environment.Check("environment") {
		add(e)
	}
	if f.Version == "" {
		f.Version = FormatVersion
	} else if f.Version != FormatVersion {
		add(&FieldError{Path: "version", Message: fmt.Sprintf("unsupported format version %q (this Parley reads %q)", f.Version, FormatVersion)})
	}
	kindAsWritten := f.Kind // "" when not set: the checkers' messages say so
	switch f.Kind {
	case "":
		f.Kind = KindMessaging
	case KindMessaging, KindVoice:
	default:
		add(&FieldError{Path: "kind", Message: fmt.Sprintf("unknown kind %q (messaging or voice)%s", f.Kind, didYouMean(f.Kind, []string{KindMessaging, KindVoice}))})
	}
	switch {
	case f.ExpireMinutes < 0:
		add(&FieldError{Path: "expire_minutes", Message: fmt.Sprintf("expire_minutes is %d; it must be 0 (the server default) or more", f.ExpireMinutes), Err: ErrNewRule})
		if stored {
			f.ExpireMinutes = 0 // as earlier versions took it: the server default
		}
	case f.ExpireMinutes > MaxExpireMinutes:
		add(&FieldError{Path: "expire_minutes", Message: fmt.Sprintf("expire_minutes is %d, over %d (365 days), the most it may be", f.ExpireMinutes, MaxExpireMinutes), Err: ErrNewRule})
		if stored {
			f.ExpireMinutes = MaxExpireMinutes // past that the expiry time would wrap around
		}
	}
	if f.Revision < 0 {
		// Earlier versions took any; the server numbers revisions itself.
		add(&FieldError{Path: "revision", Message: fmt.Sprintf("revision is %d; it must be 0 or more (the server numbers the revisions it stores, whatever this one says)", f.Revision), Err: ErrNewRule})
	}
	if fe := CheckLanguage("language", "language", f.Language); fe != nil {
		add(fe)
	}
	if f.Name == "" && f.ID == "" && !res.cleared["name"] {
		add(&FieldError{Path: "name", Message: "a flow needs a name or an id"})
	}
	if f.ID != "" {
		if p := IDProblem(f.ID); p != "" {
			// The server always refused such an id; a stored flow has none.
			add(&FieldError{Path: "id", Message: fmt.Sprintf("flow id %q %s", f.ID, p), Err: ErrNewRule})
		}
	}
	if len(raw.Widgets) == 0 && !res.cleared["widgets"] {
		add(&FieldError{Path: "widgets", Message: "a flow needs at least one widget", Err: ErrMissingStart})
	}
	headOpts := jsonv2.JoinOptions(decodeOptions, jsonv2.RejectUnknownMembers(false), jsonv2.MatchCaseInsensitiveNames(stored))
	// paths holds each widget id's JSON path (its first occurrence).
	paths := map[string]string{}
	// graph holds the widgets whose exits are checked, in document order:
	// those decoded, and those of an unknown type (w nil) by their exits.
	type node struct {
		w    Widget
		base *WidgetBase
		// id and path name the widget in errors: its id as decoding the
		// widget's head read it, and its place in the document.
		id, path string
		// nulls holds the exits given as null, which decode as "".
		nulls map[string]bool
	}
	var graph []node
	// reads are the results the widgets' templates and expressions read,
	// in the document's order, when c can tell them (ReadsReporter): those
	// that no widget saves are warned of once the flow is valid.
	var reads []fieldReads
	wc := c
	readerID, readerPath := "", ""
	if rr, ok := c.(ReadsReporter); ok {
		wc = rr.ReportingReads(func(field string, rs []ResultRead) {
			if len(rs) > 0 {
				reads = append(reads, fieldReads{widget: readerID, path: readerPath, field: field, reads: rs})
			}
		})
	}
	// capped is the first widget whose JSON had more problems than are
	// listed of one widget (maxProblems): the listing ends saying so.
	capped := ""
	for i, w := range raw.Widgets {
		path := fmt.Sprintf("widgets[%d]", i)
		head, headProblems, ok := readHead(w, path, headOpts)
		// badID and badType: the id or type is of the wrong kind, a problem
		// reported here and not again by what follows.
		badID, badType := false, false
		for _, fe := range headProblems {
			fe.Widget = head.ID
			badID = badID || fe.Path == path+".id"
			badType = badType || fe.Path == path+".type"
			add(fe)
		}
		if !ok {
			continue
		}
		factory, known := reg.Lookup(head.Type)
		// The nulls of the widget, of its type's fields or, when its type
		// is not known, of those every widget has. Those of its exits are
		// reported with its exits, below.
		wt := reflect.TypeFor[WidgetBase]()
		var absent NullAbsent
		if known {
			proto := unwrapped(factory())
			wt = reflect.TypeOf(proto)
			absent, _ = proto.(NullAbsent)
		}
		// One walk of the widget finds its nulls and the headers given
		// twice in it.
		found, repeats := scanDoc(w, wt, bytes.Contains(w, []byte("null")), bytes.Contains(w, []byte(`"headers"`)))
		var nulls map[string]bool
		for _, n := range found {
			if isUnder(n.path, "exits") || absent != nil && absent.NullAbsent(n.path) {
				continue
			}
			fe := &FieldError{Widget: head.ID, Path: joinPath(path, n.path), Message: n.message(), Err: ErrNewRule}
			switch n.path {
			case "", "id", "type":
				// The widget, its id or its type, read as "" or as one
				// without either, which no version took: not missing, but
				// null.
				fe.Err = nil
				badID = badID || n.path != "type"
				badType = badType || n.path != "id"
			default:
				if stored {
					break
				}
				if nulls == nil {
					nulls = map[string]bool{}
				}
				nulls[n.path] = true
			}
			add(fe)
		}
		// A header given twice in the widget's headers: the last would go,
		// as earlier versions sent it, and the other be dropped in silence.
		for _, fe := range repeats {
			fe.Widget, fe.Path = head.ID, joinPath(path, fe.Path)
			fe.Err = errors.Join(ErrRepeatedHeader, ErrNewRule)
			add(fe)
		}
		// A widget without an id, or with the id of one before it, is
		// checked all the same, for its other problems and where its exits
		// lead; it is no widget of the flow, so no exit leads to it.
		indexed := true
		// idKey is a key that is "id" but for case, already named in the
		// missing id's error: it is not also reported as an unknown field.
		idKey := ""
		if head.ID == "" {
			indexed = false
			if !badID {
				idKey = caseKey(w, "id")
				add(&FieldError{Path: path + ".id", Message: "missing widget id" + caseHint(w, "id")})
			}
		} else {
			if _, seen := paths[head.ID]; !seen {
				paths[head.ID] = path
			}
			if _, dup := f.index[head.ID]; dup {
				indexed = false
				add(&FieldError{Widget: head.ID, Path: path + ".id", Message: fmt.Sprintf("duplicate widget id: %s has it too", paths[head.ID]), Err: ErrDuplicateID})
			}
		}
		if !known {
			msg := fmt.Sprintf("unknown widget type %q", head.Type) + didYouMean(head.Type, reg.Names())
			if head.Type == "" {
				msg = "missing widget type" + caseHint(w, "type")
			}
			if !badType {
				add(&FieldError{Widget: head.ID, Path: path + ".type", Message: msg, Err: ErrUnknownType})
			}
			if indexed {
				f.index[head.ID] = -1
			}
			// Its exits are read all the same, for where they lead.
			var ex struct {
				Exits map[string]string `json:"exits"`
			}
			if jsonv2.Unmarshal(w, &ex, headOpts) == nil {
				graph = append(graph, node{base: &WidgetBase{ID: head.ID, Exits: ex.Exits}, id: head.ID, path: path, nulls: nullExits(w)})
			}
			continue
		}
		var wg Widget
		res := decodeAll(w, path, func() any {
			wg = factory()
			return unwrapped(wg)
		})
		for p := range nulls {
			res.clear(p)
		}
		for _, fe := range res.problems {
			if idKey != "" && errors.Is(fe, ErrUnknownField) && fe.Path == MemberPath(path, idKey) ||
				badID && fe.Path == path+".id" {
				continue
			}
			fe.Widget = head.ID
			add(fe)
		}
		if res.capped && capped == "" {
			capped = fmt.Sprintf("widget %q", head.ID)
			if head.ID == "" {
				capped = path
			}
		}
		if res.failed || res.stopped {
			// Not decoded (stopped or capped: not to its end): its checks
			// would report what decoding did not get past.
			if indexed {
				f.index[head.ID] = -1
			}
			continue
		}
		if indexed {
			f.index[head.ID] = len(f.Widgets)
			f.Widgets = append(f.Widgets, wg)
		}
		graph = append(graph, node{wg, wg.Base(), head.ID, path, nullExits(w)})
		// A value left out for being of the wrong kind is at its zero value:
		// the widget's other checks run, but what they find at, in or around
		// it would only repeat that problem or report the value missing.
		wg.Base().cleared = res.cleared
		kindErrs := checkKind(wg, kindAsWritten)
		if c != nil {
			readerID, readerPath = head.ID, path
			if err := wg.Validate(wc); err != nil {
				for _, fe := range flatten(err) {
					if clearedNear(res.cleared, fe.Path) {
						continue
					}
					fe.Widget = head.ID
					fe.Path = joinPath(path, fe.Path)
					add(fe)
				}
			}
		}
		for _, fe := range kindErrs {
			if clearedNear(res.cleared, fe.Path) {
				continue
			}
			fe.Widget = head.ID
			fe.Path = joinPath(path, fe.Path)
			fe.Err = errors.Join(ErrWrongKind, ErrNewRule)
			add(fe)
		}
	}
	// ids are the widgets' ids in order, for the id an exit or the start
	// that names none was likely meant to name; suggested for the first
	// maxSuggested such names only, each looked for among every id.
	var ids []string
	for _, nd := range graph {
		if nd.id != "" {
			ids = append(ids, nd.id)
		}
	}
	suggested := 0
	nearestID := func(dest string) string {
		if suggested == maxSuggested {
			return ""
		}
		suggested++
		return didYouMean(dest, ids)
	}
	for _, nd := range graph {
		w, b := nd.w, nd.base
		// A widget of an unknown type has no exit names to check them against.
		checkNames := w != nil && exitsKnown(w)
		known := map[string]bool{}
		if checkNames {
			for _, n := range w.ExitNames() {
				known[n] = true
			}
		}
		// Exits another problem of the widget explains (see
		// ExplainedExits) are not reported again, in a flow being written:
		// that problem is a warning only in a stored one.
		var explained []string
		if ee, ok := widgetAs[ExplainedExits](w); ok && checkNames && !stored {
			explained = ee.ExplainedExits()
		}
		names := make([]string, 0, len(b.Exits))
		for n := range b.Exits {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := MemberPath(nd.path+".exits", n)
			if nd.nulls[n] {
				// Earlier versions read null as "", ending the flow there.
				add(&FieldError{Widget: nd.id, Path: p, Message: `expected a string, got JSON null: an exit is the id of the next widget, or "" to end the flow there`, Err: ErrNewRule})
			}
			if checkNames && !known[n] && !slices.Contains(explained, n) {
				msg := fmt.Sprintf("unknown exit %q (this widget has %s)", n, quoteList(w.ExitNames()))
				if h, ok := widgetAs[ExitHinter](w); ok {
					if hint := h.ExitHint(n); hint != "" {
						msg += ": " + hint
					}
				}
				add(&FieldError{Widget: nd.id, Path: p, Message: msg, Err: ErrUnknownExit})
			}
			if fe := danglingExit(f, nd.id, p, n, b.Exits[n]); fe != nil {
				fe.Message += nearestID(b.Exits[n])
				add(fe)
			}
		}
	}
	if f.Start != "" {
		if _, ok := f.index[f.Start]; !ok {
			add(&FieldError{Path: "start", Message: fmt.Sprintf("start widget %q does not exist%s", f.Start, nearestID(f.Start)), Err: ErrMissingStart})
		}
	}
	if len(errs) > 0 {
		switch {
		case stopped:
			// A widget capped before the budget ran out has more, found.
			errs = append(errs, MoreProblems(tooLarge, len(errs), capped != ""))
		case capped != "":
			errs = append(errs, MoreProblems(fmt.Sprintf("at most %d problems of one widget are listed at once, and %s has more", maxProblems, capped), len(errs), true))
		}
		return nil, &ValidationError{Errors: errs}
	}
	f.Warnings = append(warns, unreachable(f, paths)...)
	// Looking for the names meant costs at most about one reading of the
	// flow, whatever its reads.
	f.Warnings = append(f.Warnings, unsetReads(f, reads, max(len(data), fieldsWorkFloor))...)
	return f, nil
}

// maxSuggested is the most names of widgets that do not exist (an exit's
// destination, the start) for which a flow's validation looks for the id
// likely meant: each is compared with every widget's id.
const maxSuggested = 50

// tooLarge is why the listing of a flow whose decoding stopped for its
// budget ends short.
const tooLarge = "the flow is too large to list every problem of it at once"

// MoreProblems ends a listing of problems that stopped short (why: for its
// budget, or at MaxProblems problems of one document or part of it), after
// the first n problems: a flow's, another document's, a request body's.
// found says whether a problem past the last one listed was found (the
// listing stopped at MaxProblems when a further one failed the decoding):
// then there are more, and the entry says so plainly (and wraps
// ErrMoreFound); a search stopped for its budget did not look, and there
// may be more or not.
func MoreProblems(why string, n int, found bool) *FieldError {
	more, err := "and perhaps more", ErrMoreProblems
	if found {
		more, err = "and more", errors.Join(ErrMoreProblems, ErrMoreFound)
	}
	return &FieldError{Path: "$", Err: err,
		Message: fmt.Sprintf("%s: %s; these are the first %d", more, why, n)}
}

// widgetHead is what a widget is: its id and type, read before the rest.
type widgetHead struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// readHead reads the id and type of the widget doc w, at path. An id or a
// type of the wrong kind of JSON is a problem, and is read as "". ok is
// false when w cannot be read at all (it is not an object), a problem too.
func readHead(w []byte, path string, opts jsonv2.Options) (head widgetHead, problems []*FieldError, ok bool) {
	for range 3 {
		head = widgetHead{}
		err := jsonv2.Unmarshal(w, &head, opts)
		if err == nil {
			return head, problems, true
		}
		problems = append(problems, jsonError(w, path, err))
		var se *jsonv2.SemanticError
		if !errors.As(err, &se) || !(strings.EqualFold(string(se.JSONPointer), "/id") || strings.EqualFold(string(se.JSONPointer), "/type")) {
			return head, problems, false
		}
		if w = editJSON(w, se.JSONPointer, editNull, ""); w == nil {
			return head, problems, false
		}
	}
	return head, problems, false
}

// nullExits returns the exits of the widget doc w given as null, or nil.
func nullExits(w []byte) map[string]bool {
	var ex struct {
		Exits map[string]jsontext.Value `json:"exits"`
	}
	if jsonv2.Unmarshal(w, &ex, decodeOptions, jsonv2.RejectUnknownMembers(false)) != nil {
		return nil
	}
	var out map[string]bool
	for n, v := range ex.Exits {
		if v.Kind() == 'n' {
			if out == nil {
				out = map[string]bool{}
			}
			out[n] = true
		}
	}
	return out
}

// checkKind asks a widget that implements KindChecker (or wraps one)
// whether it belongs in a flow of kind, as written ("" when not set); a flow
// of an unknown kind, already reported, is not checked.
func checkKind(w Widget, kind string) []*FieldError {
	if kind != "" && kind != KindMessaging && kind != KindVoice {
		return nil
	}
	kc, ok := widgetAs[KindChecker](w)
	if !ok {
		return nil
	}
	if err := kc.CheckKind(kind); err != nil {
		return flatten(err)
	}
	return nil
}

// KindProblem is what the first of f's widgets that does not work in a flow
// of kind reports (KindChecker), with the widget's id and path, nil when
// every widget works there: a messaging flow that runs on a call is checked
// as a voice flow would be.
func (f *Flow) KindProblem(kind string) *FieldError {
	for i, w := range f.Widgets {
		if errs := checkKind(w, kind); len(errs) > 0 {
			fe := *errs[0]
			fe.Widget = w.Base().ID
			fe.Path = joinPath(fmt.Sprintf("widgets[%d]", i), fe.Path)
			fe.Err = ErrWrongKind
			return &fe
		}
	}
	return nil
}

// CallProblem reports why f cannot run on a call, nil when it can: a
// messaging flow runs on a call as a voice flow would, so it must pass a
// voice flow's checks (OwnCallProblem); a wait_for_response without a
// timeout would keep the caller waiting in silence forever. So must a
// voice flow stored before those checks, which loads with a warning; and
// so must every subflow f can enter, directly or through other subflows
// (those of a voice flow too), loaded from src as the engine enters them,
// at their current revision: the error then names the subflows that lead
// to it, each with the widget that enters it, before the subflow's own
// problem (its id, the widget and the field). Each flow is checked once,
// so subflows that enter each other, or f, are no loop; one that src does
// not give (not stored, or it does not load) is passed over: entering it
// fails the session anyway. With src nil only f's own widgets are checked.
// The error wraps the widget's FieldError. POST /v1/sessions, the
// simulator and parley simulate and test with a call all refuse such a
// start with this message, and saving a channel refuses such a
// voice_flow; the engine checks each subflow again as a call enters it.
func (f *Flow) CallProblem(ctx context.Context, src FlowSource) error {
	return f.subflowProblem(ctx, src, (*Flow).OwnCallProblem)
}

// MessageProblem reports why f cannot run without a call (on messages),
// nil when it can: a voice flow's prompts would reach no one, so f must
// not be one, nor any subflow f can enter, directly or through other
// subflows, loaded from src as the engine enters them. The error names the
// subflows that lead to the voice flow, each with the widget that enters
// it, as CallProblem's does; subflows that src does not give are passed
// over. POST /v1/sessions, the simulator and parley simulate and test
// without a call all refuse such a start with this message; the engine
// checks each subflow again as a session without a call enters it.
func (f *Flow) MessageProblem(ctx context.Context, src FlowSource) error {
	return f.subflowProblem(ctx, src, (*Flow).OwnMessageProblem)
}

// OwnMessageProblem is MessageProblem for f alone, not its subflows. The
// error is ErrWrongKind (errors.Is).
func (f *Flow) OwnMessageProblem() error {
	if f.IsVoice() {
		return wrongKindError(fmt.Sprintf("flow %q is a voice flow, which runs only on a call: over messages no one would hear its prompts", f.ID))
	}
	return nil
}

// wrongKindError is a message that is ErrWrongKind, without its words.
type wrongKindError string

func (e wrongKindError) Error() string        { return string(e) }
func (e wrongKindError) Is(target error) bool { return target == ErrWrongKind }

// subflowProblem is the first problem own finds in f or in a subflow f can
// enter (see CallProblem), with the subflows on the way to it.
func (f *Flow) subflowProblem(ctx context.Context, src FlowSource, own func(*Flow) error) error {
	seen := map[string]bool{f.ID: true}
	var via []string // the subflows entered, and where, down to g
	var walk func(g *Flow) error
	walk = func(g *Flow) error {
		if err := own(g); err != nil {
			if len(via) == 0 {
				return err
			}
			return fmt.Errorf("flow %q enters %s: %w", f.ID, strings.Join(via, ", which enters "), err)
		}
		if src == nil {
			return nil
		}
		for _, w := range g.Widgets {
			id := EnteredFlow(w)
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			sub, err := src.Flow(ctx, id, 0)
			if err != nil {
				continue
			}
			via = append(via, fmt.Sprintf("subflow %q (widget %q)", id, w.Base().ID))
			if err := walk(sub); err != nil {
				return err
			}
			via = via[:len(via)-1]
		}
		return nil
	}
	return walk(f)
}

// OwnCallProblem is CallProblem for f's own widgets alone, not those of
// its subflows: the engine asks it of each subflow a call enters, so a
// subflow changed since the session started cannot keep the caller
// waiting in silence. A voice flow is checked too: one stored before a
// check it fails (a wait_for_response without a timeout) loads with a
// warning, and would keep the caller waiting all the same.
func (f *Flow) OwnCallProblem() error {
	fe := f.KindProblem(KindVoice)
	switch {
	case fe == nil:
		return nil
	case f.IsVoice():
		return fmt.Errorf("flow %q: %w", f.ID, fe)
	}
	return fmt.Errorf("flow %q is a messaging flow, which a call runs as a voice flow: %w", f.ID, fe)
}

// EnteredFlow is the id of the flow w enters as a subflow (FlowEnterer,
// or the widget it wraps), "" for none.
func EnteredFlow(w Widget) string {
	fe, ok := widgetAs[FlowEnterer](w)
	if !ok {
		return ""
	}
	return fe.EnteredFlow()
}

// danglingExit reports the exit name (at path p) of the widget id when its
// destination is no widget of f.
func danglingExit(f *Flow, id, p, name, dest string) *FieldError {
	if dest == "" {
		return nil
	}
	if _, ok := f.index[dest]; ok {
		return nil
	}
	return &FieldError{Widget: id, Path: p, Message: fmt.Sprintf("exit %q points to unknown widget %q", name, dest), Err: ErrDanglingExit}
}

// exitsKnown reports whether w's exits are known: not when a field they
// depend on (ExitsFrom) was left out for being of the wrong kind.
func exitsKnown(w Widget) bool {
	ef, ok := widgetAs[ExitsFrom](w)
	if !ok {
		return true
	}
	for _, field := range ef.ExitFields() {
		if !w.Base().Decoded(field) {
			return false
		}
	}
	if ue, ok := ef.(UnreadExits); ok && ue.ExitsUnread() {
		return false
	}
	return true
}

// isUnder reports whether path p is inside the value at path parent
// ("rules[0].args" is inside "rules").
func isUnder(p, parent string) bool {
	return parent != "" && len(p) > len(parent) && strings.HasPrefix(p, parent) &&
		(p[len(parent)] == '.' || p[len(parent)] == '[')
}

// MemberPath is the path of the member key of the object at path parent
// ("" for the document), as decoding problems write it: mocks.u, or
// mocks["http://x/"] for a key that is not a plain name.
func MemberPath(parent, key string) string {
	if isName(key) {
		return joinPath(parent, key)
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// Near reports whether the problem fe is at, inside or around path, and
// left the value there unread or read under another name: a value of the
// wrong kind, or a field named but for case as a known one. A check of the
// value at path would only repeat it, or judge a zero value; an unknown
// field that is no known one's leaves the rest as it was.
func Near(fe *FieldError, path string) bool {
	if errors.Is(fe, ErrUnknownField) && !errors.Is(fe, ErrNewRule) || errors.Is(fe, errNullHeader) {
		// The rest is read all the same; a null header is read as "".
		return false
	}
	return fe.Path == path || isUnder(fe.Path, path) || isUnder(path, fe.Path)
}

// clearedNear reports whether a problem Validate found at path p (relative
// to the widget) is at, inside or around a value left out for being of the
// wrong kind: it would only repeat that problem, or come of the zero value.
func clearedNear(cleared map[string]bool, p string) bool {
	for c := range cleared {
		if c == p || isUnder(p, c) || isUnder(c, p) {
			return true
		}
	}
	return false
}

// decoded is what unmarshalAll found.
type decoded struct {
	problems []*FieldError
	// cleared holds the paths (relative to the document) of values left out
	// for being of the wrong kind.
	cleared map[string]bool
	// failed is set when the last problem could not be got past (the
	// document is not an object): nothing was decoded.
	failed bool
	// stopped is set when decoding stopped for its budget (see
	// unmarshalAllWith) with problems perhaps left to find.
	stopped bool
	// capped is set when decoding stopped after maxProblems problems, for
	// finding one more: the rest are not looked for.
	capped bool
	// work is the bytes read and written, counted against the budget.
	work int
}

// maxProblems bounds the problems one document's decoding reports.
const maxProblems = 50

// clear marks the value at path p as left out (see decoded.cleared).
func (d *decoded) clear(p string) {
	if d.cleared == nil {
		d.cleared = map[string]bool{}
	}
	d.cleared[p] = true
}

// widgetAs is w as a T (an interface a widget may implement), or, when w
// is not one, the widget it wraps (Wrapper) as one: wrapping changes how a
// widget runs, not what it is.
func widgetAs[T any](w Widget) (T, bool) {
	t, ok := w.(T)
	if wr, wraps := w.(Wrapper); !ok && wraps {
		t, ok = wr.Unwrap().(T)
	}
	return t, ok
}

// unwrapped is the widget Decode decodes a widget's JSON into: w, or the
// widget it wraps (Wrapper).
func unwrapped(w Widget) Widget {
	if wr, ok := w.(Wrapper); ok {
		return wr.Unwrap()
	}
	return w
}

// unmarshalAll decodes doc (the flow, or the widget at path prefix) into the
// value mk makes, going on past each problem to report them all: an unknown
// field is left out, a value of the wrong kind is decoded as null, and a
// field named as a known one but for case is read as that one, with an error
// wrapping ErrNewRule (earlier versions matched names in any case). Each
// attempt decodes into a new value from mk. doc must be well-formed.
func unmarshalAll(doc []byte, prefix string, mk func() any) decoded {
	return unmarshalAllAs(doc, prefix, mk, "flow ")
}

func unmarshalAllAs(doc []byte, prefix string, mk func() any, what string) decoded {
	return unmarshalAllWith(doc, prefix, mk, what, decodeOptions, 0)
}

// Each problem found past the first costs a decoding of the whole document
// and a rewriting of it; DecodeFields stops looking once the bytes so read
// and written reach fieldsWorkFactor times the document's size, or
// fieldsWorkFloor for a small one, so that a large body with many problems
// costs a few decodings to explain, not fifty.
const (
	fieldsWorkFactor = 4
	fieldsWorkFloor  = 512 << 10
	// flowWorkFactor is fieldsWorkFactor for a flow being written, whose
	// widgets are decoded one by one after the flow: a large flow with a
	// problem or two in each widget is still listed to its end.
	flowWorkFactor = 8
)

// DecodeFields decodes the well-formed JSON document data into v, a
// pointer, with opts, going on past each problem as DecodeDocument does, and
// returns the problems at their JSON paths, in the document's order: every
// one of them (at most 50) unless cut reports that it stopped before the
// end, which it does once the work reaches a few times data's size (or
// half a megabyte for a small document, which lets a body of a few
// kilobytes be read to its end).
// opts must reject unknown members and report errors as encoding/json/v2
// does, with the JSON pointer of the value at fault (not encoding/json's
// legacy errors). It is for documents read with options of their own, such
// as the bodies of the server's requests: a caller that finds one does not
// decode lists what is wrong with it at once.
func DecodeFields(data []byte, v any, opts jsonv2.Options) (problems []*FieldError, cut Cut) {
	rv := reflect.ValueOf(v).Elem()
	budget := max(fieldsWorkFactor*len(data), fieldsWorkFloor)
	d := unmarshalAllWith(data, "", func() any { rv.SetZero(); return v }, "", opts, budget)
	switch {
	case d.stopped:
		return d.problems, CutForBudget
	case d.capped:
		return d.problems, CutAtMost
	}
	return d.problems, NotCut
}

// Cut says whether, and why, a listing of problems ended before the end of
// its document.
type Cut int

const (
	// NotCut: every problem is listed.
	NotCut Cut = iota
	// CutForBudget: the search stopped for its budget; more problems may
	// follow, or none.
	CutForBudget
	// CutAtMost: MaxProblems are listed and a further one was found.
	CutAtMost
)

// MaxProblems is the most problems DecodeFields lists of one document.
const MaxProblems = maxProblems

// unmarshalAllWith is unmarshalAll with opts. With budget > 0 it stops,
// setting stopped, before a decoding that would bring the bytes read and
// written past budget; the first decoding is always made.
func unmarshalAllWith(doc []byte, prefix string, mk func() any, what string, opts jsonv2.Options, budget int) decoded {
	var out decoded
	for {
		if budget > 0 && out.work > 0 && out.work+len(doc) > budget {
			out.stopped = true
			return out
		}
		out.work += len(doc)
		err := jsonv2.Unmarshal(doc, mk(), opts)
		if err == nil {
			return out
		}
		if len(out.problems) == maxProblems {
			// A problem past the last one listed: the list ends saying
			// there are more, and what follows is not looked for. With
			// exactly maxProblems, the decoding after the last succeeds
			// and the list is whole.
			out.failed, out.capped = true, true
			return out
		}
		fe := documentError(doc, prefix, err, what)
		out.problems = append(out.problems, fe)
		var se *jsonv2.SemanticError
		if !errors.As(err, &se) || se.JSONPointer == "" {
			out.failed = true
			return out
		}
		var fixed []byte
		if errors.Is(se.Err, jsonv2.ErrUnknownName) {
			known := fieldNamed(se.GoType, se.JSONPointer.LastToken())
			if known != "" {
				fe.Err = errors.Join(ErrUnknownField, ErrNewRule)
			}
			fixed = editJSON(doc, se.JSONPointer, editMember, known)
		} else {
			if out.cleared == nil {
				out.cleared = map[string]bool{}
			}
			out.cleared[pointerPath(doc, se.JSONPointer)] = true
			fixed = editJSON(doc, se.JSONPointer, editNull, "")
		}
		if fixed == nil || bytes.Equal(fixed, doc) {
			out.failed = true
			return out
		}
		out.work += len(doc) + len(fixed)
		doc = fixed
	}
}

type editKind int

const (
	editMember editKind = iota // rename the member at the pointer, or drop it when the name is ""
	editNull                   // replace the value at the pointer with null
)

// editJSON rewrites the well-formed document doc with one change at ptr, or
// returns nil when it cannot.
func editJSON(doc []byte, ptr jsontext.Pointer, kind editKind, name string) []byte {
	opts := jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	dec := jsontext.NewDecoder(bytes.NewReader(doc), opts)
	var buf bytes.Buffer
	enc := jsontext.NewEncoder(&buf, opts)
	if copyEdited(dec, enc, "", string(ptr), kind, name) != nil {
		return nil
	}
	return buf.Bytes()
}

func copyEdited(dec *jsontext.Decoder, enc *jsontext.Encoder, at, target string, kind editKind, name string) error {
	if kind == editNull && at == target {
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return enc.WriteToken(jsontext.Null)
	}
	if !strings.HasPrefix(target, at) {
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		return enc.WriteValue(v)
	}
	switch dec.PeekKind() {
	case '{':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := enc.WriteToken(tok); err != nil {
			return err
		}
		for dec.PeekKind() != '}' {
			nameTok, err := dec.ReadToken()
			if err != nil {
				return err
			}
			p := at + "/" + escapePointer(nameTok.String())
			if kind == editMember && p == target {
				if name == "" {
					if err := dec.SkipValue(); err != nil {
						return err
					}
					continue
				}
				nameTok = jsontext.String(name)
			}
			if err := enc.WriteToken(nameTok); err != nil {
				return err
			}
			if err := copyEdited(dec, enc, p, target, kind, name); err != nil {
				return err
			}
		}
	case '[':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := enc.WriteToken(tok); err != nil {
			return err
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			if err := copyEdited(dec, enc, at+"/"+strconv.Itoa(i), target, kind, name); err != nil {
				return err
			}
		}
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		return enc.WriteValue(v)
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	return enc.WriteToken(tok)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unreachable(f *Flow, paths map[string]string) []*FieldError {
	seen := map[string]bool{}
	stack := []string{f.StartWidget()}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if w := f.Widget(id); w != nil {
			for _, d := range w.Base().Exits {
				stack = append(stack, d)
			}
		}
	}
	var out []*FieldError
	for _, w := range f.Widgets {
		if id := w.Base().ID; !seen[id] {
			out = append(out, &FieldError{Widget: id, Path: paths[id], Message: "widget is unreachable from the start"})
		}
	}
	return out
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no exits"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func joinPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	default:
		return prefix + "." + p
	}
}

// flatten turns an error from Validate into field errors.
func flatten(err error) []*FieldError {
	// A FieldError is one finding even when it wraps several errors (a
	// sentinel and a cause): only a join is split.
	if fe, ok := err.(*FieldError); ok {
		return []*FieldError{fe}
	}
	var out []*FieldError
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range multi.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Message: err.Error(), Err: err}}
}

// decodeOptions are the options every part of a flow is decoded with: names
// match exactly, as the schema has them, and an unknown field is an error.
// Duplicate names and invalid UTF-8 are accepted, as encoding/json accepted
// them, so flows stored before keep loading.
var decodeOptions = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// jsonError turns an error decoding doc (the flow, or the widget at path
// prefix) into a FieldError at the path in the flow where it happened.
func jsonError(doc []byte, prefix string, err error) *FieldError {
	return documentError(doc, prefix, err, "flow ")
}

// documentError is jsonError for a document that what ("flow ", or "")
// names.
func documentError(doc []byte, prefix string, err error, what string) *FieldError {
	var se *jsonv2.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		path := joinPath(prefix, pointerPath(doc, se.JSONPointer))
		if errors.Is(se.Err, jsonv2.ErrUnknownName) {
			name := se.JSONPointer.LastToken()
			msg := "unknown field " + strconv.Quote(name)
			if known := fieldNamed(se.GoType, name); known != "" {
				msg += fmt.Sprintf(" (did you mean %q? field names are case-sensitive)", known)
			} else {
				msg += didYouMean(name, fieldNames(se.GoType))
			}
			return &FieldError{Path: path, Message: msg, Err: ErrUnknownField}
		}
		if path == "" {
			path = "$"
		}
		if se.GoType != nil && se.JSONKind != 0 {
			msg := fmt.Sprintf("expected %s, got JSON %s", JSONKind(se.GoType), kindName(se.JSONKind))
			if isInteger(se.GoType) && se.JSONKind == '0' && bytes.ContainsAny(se.JSONValue, ".eE") {
				// 30.0 is a whole number to whoever wrote it: say what is wrong with it.
				msg += fmt.Sprintf(" %s: write a whole number without a decimal point or exponent", se.JSONValue)
			} else if isInteger(se.GoType) && se.JSONKind == '0' && len(se.JSONValue) > 0 && (se.JSONValue[0] != '-' || !isUnsigned(se.GoType)) {
				// A whole number the field's integer cannot hold.
				if se.JSONValue[0] == '-' {
					msg = fmt.Sprintf("%s is out of range: the field holds a whole number of at least %d", se.JSONValue, -int64(maxOfInt(se.GoType))-1)
				} else {
					msg = fmt.Sprintf("%s is out of range: the field holds a whole number of at most %d", se.JSONValue, maxOfInt(se.GoType))
				}
			}
			return &FieldError{Path: path, Message: msg, Err: err}
		}
		msg := err.Error()
		if se.Err != nil {
			msg = se.Err.Error()
		}
		return &FieldError{Path: path, Message: msg, Err: err}
	case errors.As(err, &sy):
		line, col := LineColumn(doc, sy.ByteOffset)
		where := ""
		if p := pointerPath(nil, sy.JSONPointer); p != "" {
			where = " (in " + joinPath(prefix, p) + ")"
		}
		syntax := errors.Join(ErrSyntax, err)
		if errors.Is(sy.Err, io.ErrUnexpectedEOF) {
			return &FieldError{Path: "$", Message: fmt.Sprintf("%sJSON ends early at line %d, column %d%s", what, line, col, where), Err: syntax}
		}
		if sy.ByteOffset == 0 && bytes.HasPrefix(doc, []byte("\xef\xbb\xbf")) {
			return &FieldError{Path: "$", Message: "malformed JSON at line 1, column 1: a byte-order mark where the JSON should start", Err: syntax}
		}
		return &FieldError{Path: "$", Message: fmt.Sprintf("malformed JSON at line %d, column %d%s: %v", line, col, where, sy.Err), Err: syntax}
	case errors.Is(err, io.EOF) && len(bytes.Trim(doc, " \t\r\n")) == 0:
		return &FieldError{Path: "$", Message: "empty " + what + "document", Err: errors.Join(ErrSyntax, err)}
	}
	if prefix == "" {
		prefix = "$"
	}
	return &FieldError{Path: prefix, Message: err.Error(), Err: err}
}

// fieldNamed returns the JSON name of a field of struct type t that is name
// but for case, or "".
func fieldNamed(t reflect.Type, name string) string {
	for _, n := range fieldNames(t) {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return ""
}

// fieldNames lists the JSON names of the fields of struct type t, those of
// embedded structs included.
func fieldNames(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case tag == "-" || (!sf.IsExported() && !sf.Anonymous):
		case sf.Anonymous && tag == "":
			out = append(out, fieldNames(sf.Type)...)
		case sf.IsExported():
			if tag == "" {
				tag = sf.Name
			}
			out = append(out, tag)
		}
	}
	return out
}

// caseHint points out a key of the object doc that is name but for case.
func caseHint(doc []byte, name string) string {
	if k := caseKey(doc, name); k != "" {
		return fmt.Sprintf(" (%q is not %q: field names are case-sensitive)", k, name)
	}
	return ""
}

// caseKey returns a key of the object doc that is name but for case, or "".
func caseKey(doc []byte, name string) string {
	var obj map[string]jsontext.Value
	if jsonv2.Unmarshal(doc, &obj, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)) != nil {
		return ""
	}
	for k := range obj {
		if k != name && strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

// JSONKind says in JSON's terms what a Go type decodes from ("a JSON
// object", "an array of strings"), for errors that must not show Go's type
// names to the people who write the JSON.
func JSONKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer from 0 up"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		elem := t.Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		switch elem.Kind() {
		case reflect.Struct, reflect.Map:
			return "an array of JSON objects"
		case reflect.String:
			return "an array of strings"
		}
		return "a JSON array"
	}
	return "a JSON value"
}

// isInteger reports whether t (or what it points to) is an integer type.
func isInteger(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return k.String()
}

// pointerPath writes a JSON pointer (/rules/0/args/1) as a flow path
// (rules[0].args[1]). doc, the document the pointer is into, tells an array
// index from an object key made of digits; without it (a document that does
// not parse) a token of digits is taken to be an index. A key that is not a
// plain name is written as ["key"]. A path deeper than maxPathSegments is
// shortened (see shortPath).
func pointerPath(doc []byte, ptr jsontext.Pointer) string {
	var cur any
	walk := doc != nil && jsonv2.Unmarshal(doc, &cur, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)) == nil
	var segs []string
	for tok := range ptr.Tokens() {
		index := isDigits(tok)
		if walk {
			switch x := cur.(type) {
			case []any:
				n, err := strconv.Atoi(tok)
				index = err == nil
				if index && n < len(x) {
					cur = x[n]
				} else {
					cur = nil
				}
			case map[string]any:
				index = false
				cur = x[tok]
			default:
				cur = nil
			}
		}
		switch {
		case index:
			segs = append(segs, "["+tok+"]")
		case isName(tok):
			segs = append(segs, "."+tok)
		default:
			segs = append(segs, "["+strconv.Quote(tok)+"]")
		}
	}
	return shortPath(segs)
}

// maxPathSegments is the most segments a path in an error message has
// before it is shortened.
const maxPathSegments = 12

// shortPath joins a path's segments ("[0]", ".name", `["a b"]`). One of
// more than maxPathSegments (a document nested thousands of levels deep,
// whose path would be longer than the document) keeps its first 8 and last
// 3 segments around "…" and says how many there are:
// widgets[0][0][0][0][0][0][0]…[0][0][0] (10000 levels deep).
func shortPath(segs []string) string {
	var b strings.Builder
	write := func(segs []string) {
		for _, sg := range segs {
			if b.Len() == 0 {
				sg = strings.TrimPrefix(sg, ".")
			}
			b.WriteString(sg)
		}
	}
	if len(segs) <= maxPathSegments {
		write(segs)
		return b.String()
	}
	write(segs[:8])
	b.WriteString("…")
	write(segs[len(segs)-3:])
	fmt.Fprintf(&b, " (%d levels deep)", len(segs))
	return b.String()
}

// LineColumn gives the line and column (from 1, in characters) of a byte
// offset in data: how every JSON syntax error Parley reports is placed.
func LineColumn(data []byte, offset int64) (line, col int) {
	before := data[:min(offset, int64(len(data)))]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return line, col
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// isName reports whether a key can be written after a dot: letters, digits,
// '_' and '-', not starting with a digit.
func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || r == '-'))) {
			return false
		}
	}
	return s != ""
}

// maxOfInt is the largest value an integer type t holds.
func maxOfInt(t reflect.Type) uint64 {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bits := t.Bits()
	if isUnsigned(t) {
		return 1<<bits - 1
	}
	return 1<<(bits-1) - 1
}

// isUnsigned reports whether t (or what it points to) is an unsigned integer.
func isUnsigned(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// MissingSubflows are warnings for the subflow widgets of f that enter a
// flow that is not among known (the ids of the flows there are: stored, or
// beside f's file), each at the widget's flow field with the id it likely
// means: a session fails at such a widget until that flow exists. f
// itself is known. f is a flow that loaded, whose widgets are at their
// index in the document.
func MissingSubflows(f *Flow, known []string) []*FieldError {
	var out []*FieldError
	for i, w := range f.Widgets {
		id := EnteredFlow(w)
		if id == "" || id == f.ID || slices.Contains(known, id) {
			continue
		}
		out = append(out, &FieldError{Widget: w.Base().ID, Path: fmt.Sprintf("widgets[%d].flow", i),
			Message: fmt.Sprintf("subflow %q: no flow has that id, so a session fails here until one does%s", id, didYouMean(id, known))})
	}
	return out
}

// EachNamed prefixes every problem of err (one, or several joined with
// errors.Join, at any depth) with where ("webhooks file w.json"), so that
// each line of a listing names it, not only the first.
func EachNamed(where string, err error) error {
	var errs []error
	var each func(error)
	each = func(err error) {
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				each(e)
			}
			return
		}
		errs = append(errs, fmt.Errorf("%s: %w", where, err))
	}
	each(err)
	return errors.Join(errs...)
}
