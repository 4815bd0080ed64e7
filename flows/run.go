package flows

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Variable scopes for set_variable.
const (
	ScopeFlow = "flow"
	ScopeUser = "user"
	ScopeCall = "call"
	// ScopeContact sets the contact's name or language; update_groups
	// reports its groups under it too.
	ScopeContact = "contact"
)

// ErrTurnTimeout is the cause (context.Cause) of a turn's context that
// ended at the turn's time limit, so that what was cut off by it (a webhook
// call) says so rather than reporting a timeout of its own.
var ErrTurnTimeout = errors.New("the turn's time limit (--turn-timeout) was reached")

// Run is what a widget sees while it executes. The engine implements it; a Run is
// valid only during the Execute or Resume call it was passed to.
type Run interface {
	// Context is cancelled when the turn's deadline passes, with
	// ErrTurnTimeout as its cause.
	Context() context.Context
	Session() *Session
	Flow() *Flow
	Now() time.Time
	// Intn returns a random number in [0,n) from the session's (seedable) source.
	Intn(n int) int
	// Render renders a compiled template. Unknown variables render empty with a
	// warning event; inserted values are never evaluated again.
	Render(t Template) string
	// RenderExact renders a template for another program (a webhook's
	// headers): inserted numbers keep every digit (ExactText)
	// instead of the rounding text for people has (ValueText).
	RenderExact(t Template) string
	// RenderURL renders a template whose inserted values are URL-encoded,
	// numbers exact as RenderExact writes them.
	RenderURL(t Template) string
	// RenderForm renders a custom form body: inserted values are
	// form-encoded (a space as "+"), numbers exact as RenderExact writes them.
	RenderForm(t Template) string
	// RenderJSON renders a custom JSON body: a value inserted inside a
	// string of the template's text is escaped as the string's content, one
	// outside a string is written as JSON (a list or map as JSON, null or
	// nothing as null); numbers exact as RenderExact writes them.
	RenderJSON(t Template) string
	// RenderFailed is the error of the first @(...) that failed when the
	// running widget rendered its templates, nil when none has. The error
	// event is already recorded and the part rendered empty (null in a JSON
	// body): a widget with a Failure or Other exit takes it.
	RenderFailed() error
	// CompileTemplate compiles a template at run time, for text that lives
	// outside the flow (a configured webhook's URL); results are cached.
	// field names it in the errors of its @(...) as a flow's own field
	// names its template's ("url", "headers.X-Api-Key").
	CompileTemplate(field, src string) (Template, error)
	// Eval evaluates a compiled expression.
	Eval(e Expression) (any, error)
	// Lookup resolves a variable path such as "flow.name.value", "extra.a.b",
	// "contact.fields.age" or "call.cli".
	Lookup(path string) (any, bool)
	// Emit records an event; the engine fills in time, widget and flow.
	Emit(e Event)
	// SaveResult stores a result in the running frame and emits result_saved.
	SaveResult(name, value, category, input string, raw json.RawMessage)
	// SaveMatch is SaveResult for a value routed by rules; extra is the
	// matching rule's detail (has_pattern's groups, see rules.Match), kept as
	// the result's extra (@flow.NAME.extra.KEY) and sent as the result_saved
	// event's data. A nil extra saves as SaveResult does.
	SaveMatch(name, value, category, input string, extra map[string]string)
	// SetVariable sets a flow, user or call variable and emits variable_set.
	SetVariable(scope, name, value string) error
	// SetExtra replaces @extra.
	SetExtra(raw json.RawMessage)
	Services() Services
	// Flows loads another flow (for subflows); nil when none is available.
	Flows() FlowSource
}

// FlowSource loads flows by id for subflows and for resuming sessions on the
// revision they started with (revision 0: the current one).
type FlowSource interface {
	Flow(ctx context.Context, id string, revision int) (*Flow, error)
}
