package rules

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/parleyhq/parley/flows"
)

// fakeTemplate renders as its literal source text, unless the run maps that
// source to a rendering (standing in for a variable such as @contact.fields.age).
type fakeTemplate struct{ src string }

func (t fakeTemplate) Source() string { return t.src }

type fakeExpression struct {
	src  string
	prog *vm.Program
}

func (e fakeExpression) Source() string { return e.src }

// fakeCompiler compiles templates (rejecting an unclosed "@(") and expr-lang
// expressions over a map environment.
type fakeCompiler struct{}

func (fakeCompiler) Template(field, src string) (flows.Template, error) {
	if i := strings.Index(src, "@("); i >= 0 && !strings.Contains(src[i:], ")") {
		return nil, &flows.FieldError{Path: field, Message: "unclosed @(", Err: flows.ErrBadTemplate}
	}
	return fakeTemplate{src}, nil
}

func (fakeCompiler) Expression(field, src string) (flows.Expression, error) {
	p, err := expr.Compile(src, expr.AllowUndefinedVariables())
	if err != nil {
		return nil, &flows.FieldError{Path: field, Message: err.Error(), Err: errors.Join(flows.ErrBadExpression, err)}
	}
	return fakeExpression{src, p}, nil
}

// fakeRun is the part of a run the rules use: a clock, a session, renderings
// from a map, expressions over a map, and the events emitted.
type fakeRun struct {
	now        time.Time
	sess       *flows.Session
	vars       map[string]string
	env        map[string]any
	events     []flows.Event
	dateFormat string
	country    string
}

func newRun() *fakeRun {
	return &fakeRun{
		now:  time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC),
		sess: &flows.Session{Frames: []*flows.Frame{{FlowID: "f", Results: map[string]*flows.Result{}}}},
		vars: map[string]string{},
		env:  map[string]any{},
	}
}

func (r *fakeRun) Context() context.Context { return context.Background() }
func (r *fakeRun) Session() *flows.Session  { return r.sess }
func (r *fakeRun) Flow() *flows.Flow        { return nil }
func (r *fakeRun) Now() time.Time           { return r.now }
func (r *fakeRun) Intn(n int) int           { return rand.Intn(n) }
func (r *fakeRun) Render(t flows.Template) string {
	if v, ok := r.vars[t.Source()]; ok {
		return v
	}
	return t.Source()
}
func (r *fakeRun) RenderURL(t flows.Template) string   { return r.Render(t) }
func (r *fakeRun) RenderJSON(t flows.Template) string  { return r.Render(t) }
func (r *fakeRun) RenderForm(t flows.Template) string  { return r.Render(t) }
func (r *fakeRun) RenderExact(t flows.Template) string { return r.Render(t) }
func (r *fakeRun) RenderFailed() error                 { return nil }
func (r *fakeRun) CompileTemplate(_, src string) (flows.Template, error) {
	return fakeTemplate{src: src}, nil
}
func (r *fakeRun) Eval(e flows.Expression) (any, error) {
	return expr.Run(e.(fakeExpression).prog, r.env)
}
func (r *fakeRun) Lookup(path string) (any, bool) { v, ok := r.env[path]; return v, ok }
func (r *fakeRun) Emit(e flows.Event)             { r.events = append(r.events, e) }
func (r *fakeRun) SaveResult(name, value, category, input string, raw json.RawMessage) {
}
func (r *fakeRun) SaveMatch(name, value, category, input string, extra map[string]string) {}
func (r *fakeRun) SetVariable(scope, name, value string) error                            { return nil }
func (r *fakeRun) SetExtra(raw json.RawMessage)                                           {}
func (r *fakeRun) Services() flows.Services                                               { return nil }
func (r *fakeRun) Flows() flows.FlowSource                                                { return nil }
func (r *fakeRun) DateFormat() string                                                     { return r.dateFormat }
func (r *fakeRun) DefaultCountry() string                                                 { return r.country }

var _ flows.Run = (*fakeRun)(nil)
