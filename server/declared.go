package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/parleyhq/parley/flows"
)

// declaredOps holds, per /v1 operation of openapi.json, the query
// parameters it declares, so that the request of an operation is checked
// against what the operation reads: a query parameter it does not declare
// (?stauts=failed, ?limit=1 on a listing without one) is refused rather
// than ignored, which would answer as if it was not given (every session,
// every flow); one it declares, given twice, is refused rather than its
// first value taken and the others dropped.
type declaredOps struct {
	ops []declaredOp
	// bodyless are the method and last path segment (lower case; "" for
	// a parameter) of each operation that takes no body other than a
	// DELETE: few, so that a request is told apart from them without
	// looking through every operation (mayTakeNoBody).
	bodyless []struct{ method, last string }
}

type declaredOp struct {
	method string
	// route is the operation as the spec writes it: POST /v1/webhooks/{id}/ping.
	route string
	// segments are the path's, between slashes after the first: a
	// parameter's is "" (each takes a whole segment), any other is
	// compared without regard to case, as the router does.
	segments []string
	// params counts the path's parameters: of two operations matching a
	// path, the one with fewer is the route's (POST /v1/flows/validate,
	// not a POST /v1/flows/{id}).
	params int
	// query lists the query parameters, in the spec's order.
	query []string
	// body tells an operation that takes a request body from one that
	// takes none.
	body bool
}

// newDeclaredOps reads the /v1 operations of the document; a document
// that does not parse declares none, and nothing is checked.
func newDeclaredOps(doc []byte) declaredOps {
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return declaredOps{}
	}
	var out []declaredOp
	for p, item := range d.Paths {
		if !strings.HasPrefix(p, "/v1/") {
			continue
		}
		segments, params := strings.Split(strings.TrimPrefix(p, "/"), "/"), 0
		for i, seg := range segments {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				segments[i], params = "", params+1
			}
		}
		for m, raw := range item {
			var op struct {
				Parameters  []param         `json:"parameters"`
				RequestBody json.RawMessage `json:"requestBody"`
			}
			if m == "parameters" || json.Unmarshal(raw, &op) != nil {
				continue
			}
			o := declaredOp{method: strings.ToUpper(m), route: strings.ToUpper(m) + " " + p, segments: segments, params: params,
				body: len(op.RequestBody) > 0}
			for _, prm := range op.Parameters {
				if ref, ok := strings.CutPrefix(prm.Ref, "#/components/parameters/"); ok {
					prm = d.Components.Parameters[ref]
				}
				if prm.In == "query" {
					o.query = append(o.query, prm.Name)
				}
			}
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b declaredOp) int {
		if a.params != b.params {
			return a.params - b.params
		}
		return strings.Compare(a.route, b.route)
	})
	q := declaredOps{ops: out}
	for _, o := range out {
		if !o.body && o.method != fiber.MethodDelete && len(o.segments) > 0 {
			q.bodyless = append(q.bodyless, struct{ method, last string }{o.method, strings.ToLower(o.segments[len(o.segments)-1])})
		}
	}
	return q
}

// matches reports whether path is one of op's: as many non-empty
// segments, the literal ones equal but for case; one slash may end it.
func (op *declaredOp) matches(path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, "/")
	for i, want := range op.segments {
		seg, after, found := strings.Cut(rest, "/")
		if seg == "" || (want != "" && !strings.EqualFold(seg, want)) || found != (i < len(op.segments)-1) {
			return false
		}
		rest = after
	}
	return true
}

// find is the operation of method and path, nil for a request no
// operation takes (answered 404 or 405 by the routes).
// HEAD is GET's where the spec does not write it apart.
func (q declaredOps) find(method, path string) *declaredOp {
	for i := range q.ops {
		if q.ops[i].method == method && q.ops[i].matches(path) {
			return &q.ops[i]
		}
	}
	if method == fiber.MethodHead {
		return q.find(fiber.MethodGet, path)
	}
	return nil
}

// mayTakeNoBody reports whether path, sent with method, may be one of
// the operations that take no body: any DELETE, else one whose last
// segment is such an operation's (ping, interrupt ...). It is false for
// the paths of the operations that take one, found without looking
// through every operation.
func (q declaredOps) mayTakeNoBody(method, path string) bool {
	if method == fiber.MethodDelete {
		return true
	}
	path = strings.TrimSuffix(path, "/")
	last := path[strings.LastIndexByte(path, '/')+1:]
	for _, b := range q.bodyless {
		if b.method == method && (b.last == "" || strings.EqualFold(b.last, last)) {
			return true
		}
	}
	return false
}

// checkDeclared refuses, 400 naming it, a query parameter the request's
// operation does not declare, or declares and is given more than once,
// and a body sent to an operation that takes none, other than {} or null. A
// request no operation takes goes on to the routes' 404 or 405.
func (s *Server) checkDeclared(c *fiber.Ctx) error {
	args := c.Context().QueryArgs()
	withBody := len(c.Request().Body()) > 0 && c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead
	if args.Len() == 0 && (!withBody || !s.declaredOps.mayTakeNoBody(c.Method(), c.Path())) {
		// Most requests, an inbound message's among them: nothing to
		// check, and no operation to look for.
		return c.Next()
	}
	op := s.declaredOps.find(c.Method(), c.Path())
	if op == nil {
		return c.Next()
	}
	if err := op.checkQuery(args); err != nil {
		return err
	}
	if withBody && !op.body {
		if err := op.checkNoBody(c.Body()); err != nil {
			return err
		}
	}
	return c.Next()
}

// checkNoBody refuses the body of an operation that takes none, as an
// operation that takes one refuses a field it does not know: a field sent
// there would be ignored without a word. An empty body, {} or null, which
// clients that always send a JSON body send for none (a JSON encoder
// given nothing writes null), is taken: it carries nothing to ignore.
func (op *declaredOp) checkNoBody(body []byte) error {
	if t := bytes.TrimSpace(body); len(t) == 0 || string(t) == "null" {
		return nil
	}
	err := decodeStrict(body, &struct{}{})
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == CodeUnknownField {
		ae.Message = fmt.Sprintf("unknown field %.40q: %s takes no body; send none, or {}", ae.Field, op.route)
	}
	return err
}

// checkQuery refuses the first query parameter the operation does not
// declare, or declares and is given more than once.
func (op *declaredOp) checkQuery(args *fasthttp.Args) error {
	var err error
	seen := map[string]bool{}
	args.VisitAll(func(k, _ []byte) {
		name := string(k)
		switch {
		case err != nil:
		case !slices.Contains(op.query, name):
			err = op.unknownQuery(name)
		case seen[name]:
			vals := args.PeekMulti(name)
			quoted := make([]string, len(vals))
			for i, v := range vals {
				quoted[i] = fmt.Sprintf("%.40q", v)
			}
			err = badRequest(name, "%s is given %d times (%s): give it once; it takes one value", name, len(vals), strings.Join(quoted, ", "))
		}
		seen[name] = true
	})
	return err
}

// pageFields names, by a listing's cursor parameter, the field of a page
// that gives it for the next page: the sessions and events listings page
// with after and next, the deliveries listing with cursor and next_cursor.
var pageFields = map[string]string{"after": "next", "cursor": "next_cursor"}

// unknownQuery is the error of a query parameter the operation does not
// declare: it names the parameter, the nearest declared one and those the
// operation takes. The cursor parameter of another listing is answered
// with this one's, as a client paging with it would otherwise list the
// first page for ever.
func (op *declaredOp) unknownQuery(name string) error {
	if _, ok := pageFields[name]; ok {
		for other, next := range pageFields {
			if other != name && slices.Contains(op.query, other) {
				return badRequest(name, "unknown query parameter %q: this listing takes no %s: it pages with %s, the %s of the previous page given as it is", name, name, other, next)
			}
		}
	}
	takes := "takes no query parameters"
	if len(op.query) > 0 {
		takes = "takes " + strings.Join(op.query, ", ")
	}
	if name == "" {
		return badRequest("", "the query has a parameter without a name (=...): %s %s", op.route, takes)
	}
	if len(op.query) == 0 {
		return badRequest(name, "unknown query parameter %.40q: %s %s", name, op.route, takes)
	}
	hint := flows.DidYouMean(flows.Suggestions(name, op.query))
	return badRequest(name, "unknown query parameter %.40q%s: %s %s", name, hint, op.route, takes)
}
