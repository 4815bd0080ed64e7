package callout

import "context"

// RequestContext is the context of one HTTP request to the server: a
// webhook call made while serving it logs its ID (request_id). It is one
// value, so that the server that gives each request an id makes no more
// for it than the id itself; the ID is read back with RequestID.
type RequestContext struct {
	context.Context
	ID string
}

type requestIDKey struct{}

// Value returns the RequestContext itself for its own key, and asks its
// parent for any other.
func (c *RequestContext) Value(key any) any {
	if key == (requestIDKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// RequestID is the id of the request ctx serves, "" when it serves none
// (a timer's turn, a command).
func RequestID(ctx context.Context) string {
	if rc, ok := ctx.Value(requestIDKey{}).(*RequestContext); ok {
		return rc.ID
	}
	return ""
}
