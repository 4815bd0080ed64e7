package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Error codes of the API's one error shape.
const (
	CodeBadRequest    = "bad_request"
	CodeMalformedJSON = "malformed_json"
	CodeUnknownField  = "unknown_field"
	CodeInvalidField  = "invalid_field"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	CodeTooLarge      = "body_too_large"
	// CodeHeadersTooLarge: the request line and headers are over
	// --header-limit.
	CodeHeadersTooLarge = "headers_too_large"
	CodeInvalidFlow     = "invalid_flow"
	CodeNotWaiting      = "not_waiting"
	CodeNoFlow          = "no_flow"
	CodeInternal        = "internal"
	CodeUnavailable     = "unavailable"
	CodeBadSignature    = "bad_signature"
	// CodeMethodNotAllowed: a route served with another method only.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeDiskFull: the store has no room for the write (its disk is
	// full, its quota used up, its file at the file size limit); the write
	// was not made.
	CodeDiskFull = "insufficient_storage"
)

// APIError is an error with the HTTP status and the body it is answered with:
// {"error":{"code","message","field"}}. Details carries every problem
// found: of a flow, a webhook configuration, a request body's fields.
type APIError struct {
	Status  int                 `json:"-"`
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Field   string              `json:"field,omitempty"`
	Details []*flows.FieldError `json:"errors,omitempty"`
	Err     error               `json:"-"`
	// RetryAfter, when set, is sent as the Retry-After header, in whole
	// seconds.
	RetryAfter time.Duration `json:"-"`
	// Allow, when set, is sent as the Allow header of a 405: the methods
	// the route takes.
	Allow string `json:"-"`
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

func (e *APIError) Unwrap() error { return e.Err }

func apiErr(status int, code, field, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(field, format string, args ...any) *APIError {
	return apiErr(fiber.StatusBadRequest, CodeBadRequest, field, format, args...)
}

func notFound(format string, args ...any) *APIError {
	return apiErr(fiber.StatusNotFound, CodeNotFound, "", format, args...)
}

// invalidFlow turns a flow validation error into a 422 listing every problem.
func invalidFlow(err error) *APIError {
	var ve *flows.ValidationError
	if !errors.As(err, &ve) {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidFlow, "", "%v", err)
	}
	e := &APIError{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidFlow, Details: ve.Errors, Err: err}
	e.Message = fmt.Sprintf("the flow has %d error(s)", len(ve.Errors))
	if n := len(ve.Errors); n > 1 && errors.Is(ve.Errors[n-1], flows.ErrMoreProblems) {
		// The listing stopped short: its last entry says so, and is no error.
		e.Message = fmt.Sprintf("the flow has at least %d error(s)", n-1)
		if errors.Is(ve.Errors[n-1], flows.ErrMoreFound) {
			e.Message = fmt.Sprintf("the flow has more than %d errors", n-1)
		}
	}
	if len(ve.Errors) > 0 {
		e.Field = ve.Errors[0].Path
		e.Message += ": " + ve.Errors[0].Error()
	}
	return e
}

// toAPIError maps any error a handler returns to the API shape.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.Status == 0 {
			ae.Status = fiber.StatusInternalServerError
		}
		return ae
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code := CodeBadRequest
		switch fe.Code {
		case fiber.StatusNotFound:
			code = CodeNotFound
		case fiber.StatusRequestEntityTooLarge:
			code = CodeTooLarge
		case fiber.StatusRequestHeaderFieldsTooLarge:
			code = CodeHeadersTooLarge
		case fiber.StatusMethodNotAllowed:
			code = CodeMethodNotAllowed
		case fiber.StatusUnauthorized:
			code = CodeUnauthorized
		case fiber.StatusForbidden:
			code = CodeForbidden
		case fiber.StatusRequestTimeout:
			code = CodeTimeout
		case fiber.StatusServiceUnavailable:
			code = CodeUnavailable
		default:
			if fe.Code >= 500 {
				code = CodeInternal
			}
		}
		return &APIError{Status: fe.Code, Code: code, Message: fe.Message, Err: err}
	}
	var ve *flows.ValidationError
	var le *flowLoadError
	switch {
	case errors.As(err, &le):
		// The stored flow's problems, not the request's: no field is named.
		return &APIError{Status: fiber.StatusInternalServerError, Code: CodeInvalidFlow, Message: le.Error(), Err: err}
	case errors.As(err, &ve):
		return invalidFlow(err)
	case errors.Is(err, store.ErrNotFound):
		return &APIError{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: err.Error(), Err: err}
	case errors.Is(err, store.ErrConflict):
		return &APIError{Status: fiber.StatusConflict, Code: CodeConflict, Message: err.Error(), Err: err}
	case errors.Is(err, store.ErrInvalid):
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeBadRequest, Message: err.Error(), Err: err}
	case errors.Is(err, engine.ErrEnded), errors.Is(err, engine.ErrNotWaiting):
		return &APIError{Status: fiber.StatusConflict, Code: CodeNotWaiting, Message: err.Error(), Err: err}
	case errors.As(err, new(*store.WritesHeldError)):
		return writesHeld(err)
	case storeWriteCause(err) != nil:
		// The file's path stays in the log: the client learns the cause.
		c := storeWriteCause(err)
		// Its Retry-After, the write probe interval, is the server's
		// (Server.errorHandler).
		return &APIError{Status: c.status, Code: c.code, Message: c.cause + "; " + c.written + ", " + c.retry, Err: err}
	case errors.Is(err, store.ErrClosed):
		return &APIError{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the server is shutting down", Err: err}
	}
	return &APIError{Status: fiber.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// writeCause is how a client is told of a store write that failed for a
// known cause: the status and code of the answer, the cause, what was
// written and when to retry.
type writeCause struct {
	err                   error
	status                int
	code                  string
	cause, written, retry string
	// restart: no write succeeds before the server is restarted, so the
	// answer has no Retry-After, which would invite retries that fail.
	restart bool
}

// writeCauses: a lack of room (space, quota, file size) is 507, which a
// retry meets until the operator makes room; a file system that cannot be
// written at all is 503. A commit failing for these causes is rolled back
// before its meta page is written, so nothing of it is in the store, but
// for an I/O error, which can also fail the sync after the meta page.
var writeCauses = []writeCause{
	{store.ErrDiskFull, fiber.StatusInsufficientStorage, CodeDiskFull,
		"the store's disk is full: no space left on device", nothingWritten, "retry once there is room", false},
	{store.ErrDiskQuota, fiber.StatusInsufficientStorage, CodeDiskFull,
		"the store's disk quota is used up: disk quota exceeded", nothingWritten, "retry once the quota allows it", false},
	{store.ErrFileTooLarge, fiber.StatusInsufficientStorage, CodeDiskFull,
		"the store file has reached the file size limit (ulimit -f, or the file system's largest file): file too large", nothingWritten,
		"retry once the limit is raised", false},
	{store.ErrReadOnly, fiber.StatusServiceUnavailable, CodeUnavailable,
		"the store's file system is read-only: read-only file system", nothingWritten, "retry once it is writable again", false},
	{store.ErrDiskIO, fiber.StatusServiceUnavailable, CodeUnavailable,
		"the store's disk failed the write: input/output error", "the write may be partly on the disk, which needs checking",
		"retry once it is repaired", false},
	{store.ErrFileReplaced, fiber.StatusServiceUnavailable, CodeUnavailable,
		"the store file was replaced or overwritten while the server had it open (a backup restored onto the running server?): " +
			"the server writes nothing more to it until it is restarted, then serves the file now in place", nothingWritten,
		"retry once the server is restarted", true},
}

const nothingWritten = "nothing was written"

// storeWriteCause is the cause of a store write that failed for one of
// writeCauses, nil for any other error.
func storeWriteCause(err error) *writeCause {
	for i := range writeCauses {
		if errors.Is(err, writeCauses[i].err) {
			return &writeCauses[i]
		}
	}
	return nil
}

// writesFail reports whether err is a turn refused while the store's writes
// fail (store.WritesHeldError) or a write whose commit failed writing the
// store file (store.WriteFailedError): the store logs those failures once,
// when writes begin to fail.
func writesFail(err error) bool {
	return errors.As(err, new(*store.WritesHeldError)) || errors.As(err, new(*store.WriteFailedError))
}

// writesHeld answers a turn refused before it ran because the store's
// writes fail (store.WritesHeldError): with the status and cause of the
// failure, and a Retry-After of the time until the store lets a write
// through again.
func writesHeld(err error) *APIError {
	return writesHeldFor(err, "the turn was not run")
}

// writesHeldFor is writesHeld for a request other than a turn, which says
// what was not done.
func writesHeldFor(err error, notDone string) *APIError {
	var h *store.WritesHeldError
	errors.As(err, &h)
	since := h.Failure.Since.UTC().Format(time.RFC3339)
	e := &APIError{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Err: err,
		RetryAfter: h.RetryAfter,
		Message:    fmt.Sprintf("the store's writes fail since %s (the server's log says why), so %s and nothing was written; retry later", since, notDone)}
	if c := storeWriteCause(err); c != nil {
		e.Status, e.Code = c.status, c.code
		e.Message = fmt.Sprintf("%s; the store's writes fail since %s, so %s and nothing was written; %s", c.cause, since, notDone, c.retry)
	}
	return e
}

// errorHandler is the app's one ErrorHandler: every failed request, including
// fiber's own (unknown route, oversized body), is answered here, after
// discarding whatever a handler may have started to write.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	// A request the HTTP server refused before routing it (a body over
	// the limit, headers that do not parse) comes here from readFailed
	// without passing requestContext: it gets its id here, and is counted
	// and logged once answered.
	rid, routed := requestIDOf(c)
	if !routed {
		start := time.Now()
		if h, ok := c.Locals(localHead).(requestHead); ok {
			// Read back by readFailed: fasthttp emptied the request.
			c.Method(h.method)
			c.Path(h.path)
			c.Request().Header.Set(headerRequestID, h.rid)
		}
		rid = setRequestID(c)
		defer func() { s.requestDone(c, rid, s.routeTable.match(c), start) }()
	}
	ae := toAPIError(err)
	defer c.Locals(localAPIError, ae)
	if wc := storeWriteCause(err); ae.RetryAfter == 0 && wc != nil && !wc.restart {
		// A write that failed: the store lets the next turn through once
		// the write probe interval has passed. None is let through, and
		// no Retry-After given, when the store file was replaced.
		ae.RetryAfter = s.cfg.WriteProbeInterval
	}
	if ae.Status == fiber.StatusRequestEntityTooLarge && ae.Code == CodeTooLarge {
		ae.Message = fmt.Sprintf("request body over the %d-byte limit (--body-limit, %s)", s.cfg.BodyLimit, EnvBodyLimit)
	}
	if ae.Code == CodeHeadersTooLarge {
		// Not read: the X-Request-Id, method and path are unknown.
		c.Locals(localUnread, true)
		ae.Message = fmt.Sprintf("request line and headers over the %d-byte limit (--header-limit, %s)", s.cfg.HeaderLimit, EnvHeaderLimit)
	}
	log := s.reqLog(c)
	if writesFail(err) || c.Locals(localHeld) != nil {
		// Refused or failed as the store's writes fail (a turn let
		// through to find out whether they succeed again, a /healthz that
		// says they fail): that is logged once, when they begin to fail,
		// not on every request meanwhile.
		log.Debug("request not served while the store's writes fail", "status", ae.Status, "code", ae.Code, "err", err)
		c.Locals(localHeld, true)
	} else if pe := (*privateError)(nil); ae.Status >= 500 && errors.As(err, &pe) {
		// Its text names a contact: in full at debug only.
		log.Error("request failed", "status", ae.Status, "code", ae.Code, "err", pe.logged)
		log.Debug("request failed, the error in full", "status", ae.Status, "code", ae.Code, "err", err)
	} else if text, private := store.LoggedText(err); ae.Status >= 500 && private {
		// A damaged value named by a contact's URN: in full at debug only.
		log.Error("request failed", "status", ae.Status, "code", ae.Code, "err", text)
		log.Debug("request failed, the error in full", "status", ae.Status, "code", ae.Code, "err", err)
	} else if ae.Status >= 500 {
		log.Error("request failed", "status", ae.Status, "code", ae.Code, "err", err)
	} else {
		if log.Enabled(c.UserContext(), slog.LevelDebug) {
			log.Debug("request rejected", "status", ae.Status, "code", ae.Code, "err", loggedText(ae.Error()))
		}
	}
	c.Response().Reset()
	c.Set(headerRequestID, rid)
	if strings.HasPrefix(c.Path(), "/twilio/") {
		// Twilio shows the body of a failed webhook in its debugger; keep it TwiML-free JSON.
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	if ae.Allow != "" {
		c.Set(fiber.HeaderAllow, ae.Allow)
	}
	if ae.Status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="parley"`)
	}
	if ae.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(ae.RetryAfter)))
	}
	return c.Status(ae.Status).JSON(fiber.Map{"error": ae})
}

// apiDecoding is how request bodies are decoded: as encoding/json decodes
// them (jsonv1.DefaultOptionsV1), on the faster encoding/json/v2 engine,
// rejecting unknown fields, except that a member's name must be its
// field's exactly, as in flow documents (encoding/json ignores case, so
// "From" replaced "from"), and a name may appear once in an object
// (encoding/json kept the last).
var apiDecoding = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.RejectUnknownMembers(true),
	jsonv2.MatchCaseInsensitiveNames(false), jsontext.AllowDuplicateNames(false))

// decodeStrict decodes a JSON request body into v, rejecting unknown fields,
// names in another case than their field's, names given twice, trailing
// data and type mismatches with a 400 that names the field. A body that
// decodes pays for one decoding; only a bad one is looked at again, to
// explain it.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apiErr(fiber.StatusBadRequest, CodeMalformedJSON, "", "the request body is empty; a JSON object is expected")
	}
	if err := nullBody(body); err != nil {
		return err
	}
	err := jsonv2.Unmarshal(body, v, apiDecoding)
	if err == nil {
		return nullHeaders(body, v)
	}
	typ := reflect.TypeOf(v).Elem()
	// apiDecoding's errors are encoding/json's, without the place; the
	// same decoding with encoding/json/v2's own errors says where.
	var syn *jsontext.SyntacticError
	exact := jsonv2.Unmarshal(body, reflect.New(typ).Interface(), jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true))
	if errors.As(exact, &syn) && errors.Is(exact, jsontext.ErrDuplicateName) && inRawValue(typ, syn.JSONPointer.Parent()) {
		// A name given twice inside a value the body carries as it is (a
		// flow definition, a mock's body, a variable's JSON) is that
		// value's business: flow documents take repeated names.
		reflect.ValueOf(v).Elem().SetZero()
		if err = jsonv2.Unmarshal(body, v, apiDecoding, jsontext.AllowDuplicateNames(true)); err == nil {
			if dup := duplicateOutsideRaw(body, typ); dup != "" {
				reflect.ValueOf(v).Elem().SetZero()
				field := pointerField(dup)
				return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Field: field,
					Message: fmt.Sprintf("%s: the name %q is given twice in its object; give each name once", field, jsontext.Pointer(dup).LastToken())}
			}
			return nullHeaders(body, v)
		}
	}
	return decodeError(body, typ, err)
}

// nullBody refuses a body that is JSON null, which decodes into an object
// as {} would: a body of null would be taken for one that gives no field
// ("flow is required"), while an array or a string is refused as not an
// object. It is refused as they are, a value of the wrong kind at "$".
func nullBody(body []byte) error {
	if !bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil
	}
	return &APIError{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "$",
		Message: "$: expected a JSON object, got JSON null"}
}

// nullHeaders refuses a body that decoded into v with a header given as
// null (an event endpoint's headers, a mock's answer), which would be read
// as an empty header: a 400 naming it, as in a flow or a configured
// webhook, listing every such header.
func nullHeaders(body []byte, v any) error {
	problems := flows.NullHeaders(body, v)
	if len(problems) == 0 {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	for _, p := range problems {
		p.Path = fieldPath(p.Path)
	}
	fe := problems[0]
	return withProblems(&APIError{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: fe.Path, Message: fe.Error(), Err: fe}, problems)
}

// nullAttachments is, for each message of a request body decoded into v, the
// error of its first attachment given as null, by the path before
// "attachments" ("" for the body's own, "messages[2]." in a batch): the
// decoder reads null as "", which would be reported as an attachment "",
// while null is a value of the wrong kind, reported as decodeStrict reports
// one.
func nullAttachments(body []byte, v any) map[string]*APIError {
	var out map[string]*APIError
	for _, fe := range flows.NullElements(body, v) {
		i := strings.LastIndex(fe.Path, "attachments[")
		if i < 0 || strings.Contains(fe.Path[i:], ".") {
			continue
		}
		prefix := fe.Path[:i]
		if prefix != "" && !strings.HasSuffix(prefix, ".") {
			continue
		}
		if out == nil {
			out = map[string]*APIError{}
		}
		if _, ok := out[prefix]; !ok {
			at := fe.Path[i:]
			out[prefix] = &APIError{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: at, Message: at + ": " + fe.Message, Err: fe}
		}
	}
	return out
}

// duplicateOutsideRaw is the JSON pointer of the first name given twice in
// body's objects outside its json.RawMessage values (see inRawValue), "" for
// none. body is valid JSON.
func duplicateOutsideRaw(body []byte, typ reflect.Type) string {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	type object struct{ names map[string]bool }
	var stack []*object // nil entries: arrays
	for {
		ptr := dec.StackPointer()
		kind := dec.PeekKind()
		if kind == 0 {
			return ""
		}
		k, n := dec.StackIndex(dec.StackDepth())
		inName := k == '{' && n%2 == 0
		if !inName && kind != ']' && kind != '}' && inRawValue(typ, ptr) && ptr != "" {
			if err := dec.SkipValue(); err != nil {
				return ""
			}
			continue
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return ""
		}
		switch tok.Kind() {
		case '{':
			stack = append(stack, &object{names: map[string]bool{}})
		case '[':
			stack = append(stack, nil)
		case '}', ']':
			stack = stack[:len(stack)-1]
		case '"':
			if inName {
				o := stack[len(stack)-1]
				if o.names[tok.String()] {
					return string(dec.StackPointer())
				}
				o.names[tok.String()] = true
			}
		}
	}
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// inRawValue reports whether ptr, an object in a body decoded into a value
// of type typ, is a json.RawMessage field (or map or list element) or
// inside one.
func inRawValue(typ reflect.Type, ptr jsontext.Pointer) bool {
	for tok := range ptr.Tokens() {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ == rawMessageType {
			return true
		}
		switch typ.Kind() {
		case reflect.Struct:
			f, ok := fieldNamed(typ, tok)
			if !ok {
				return false
			}
			typ = f.Type
		case reflect.Slice, reflect.Array, reflect.Map:
			typ = typ.Elem()
		default:
			return false
		}
	}
	return typ == rawMessageType
}

// decodeError explains why body does not decode into a value of type typ
// (err is apiDecoding's error), as firstDecodeError does, and, when that is
// a field's problem (an unknown field, a value of the wrong kind), lists in
// the error's errors every such problem of the body, the first one first:
// a body with three misspelt names is told of the three at once. The
// error's code, field and message stay the first problem's.
func decodeError(body []byte, typ reflect.Type, err error) error {
	first := firstDecodeError(body, typ, err)
	var ae *APIError
	if errors.As(first, &ae) && ae.Field != "" && (ae.Code == CodeUnknownField || ae.Code == CodeInvalidField) {
		withEveryProblem(ae, body, typ)
	}
	return first
}

// problemDecoding is apiDecoding going on past names given twice, which
// firstDecodeError reports before any field's problem, and reporting
// encoding/json/v2's own errors, which say where each problem is.
var problemDecoding = jsonv2.JoinOptions(apiDecoding, jsontext.AllowDuplicateNames(true),
	jsonv1.ReportErrorsWithLegacySemantics(false))

// withEveryProblem lists in ae's errors every field problem of body, which
// does not decode into a value of type typ for ae's problem, when there are
// several: ae's own first, as it names it. Looking for them costs a few
// decodings of body at most (see flows.DecodeFields): when the search
// stopped before the end, the last entry says that more may follow, at
// path "$" (the body).
func withEveryProblem(ae *APIError, body []byte, typ reflect.Type) {
	problems, cut := flows.DecodeFields(body, reflect.New(typ).Interface(), problemDecoding)
	// Data after the object, which encoding/json reads only once the
	// object has decoded, is no field's problem.
	problems = slices.DeleteFunc(problems, func(p *flows.FieldError) bool { return errors.Is(p, flows.ErrSyntax) })
	for _, p := range problems {
		p.Path = fieldPath(p.Path)
	}
	i := slices.IndexFunc(problems, func(p *flows.FieldError) bool { return p.Path == ae.Field })
	switch {
	case i > 0:
		first := problems[i]
		problems = slices.Insert(slices.Delete(problems, i, i+1), 0, first)
	case i < 0:
		message, _ := strings.CutPrefix(ae.Message, ae.Field+": ")
		problems = slices.Insert(problems, 0, &flows.FieldError{Path: ae.Field, Message: message})
	}
	if m := problems[0].Message; len(m) > len(ae.Message) && strings.HasPrefix(m, ae.Message) {
		// The list's words for the same problem may say more ("(did
		// you mean "urn"?)"): the message says them too.
		ae.Message = m
	}
	switch cut {
	case flows.CutForBudget:
		problems = append(problems, flows.MoreProblems("the body is too large to list every problem of it at once", len(problems), false))
	case flows.CutAtMost:
		problems = append(problems, flows.MoreProblems(fmt.Sprintf("at most %d problems are listed at once", flows.MaxProblems), len(problems), true))
	}
	if len(problems) > 1 {
		ae.Details = problems
	}
}

// fieldPath writes a path as decoding a document writes it
// (contact.fields["x y"], a key that is not a plain name quoted) as the API
// names fields, as pointerField does (contact.fields.x y).
func fieldPath(p string) string {
	if !strings.Contains(p, `["`) {
		return p
	}
	var b strings.Builder
	for {
		i := strings.Index(p, `["`)
		if i < 0 {
			break
		}
		key, err := strconv.QuotedPrefix(p[i+1:])
		end := i + 1 + len(key)
		if err != nil || !strings.HasPrefix(p[end:], "]") {
			b.WriteString(p[:i+2])
			p = p[i+2:]
			continue
		}
		name, _ := strconv.Unquote(key)
		b.WriteString(p[:i])
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(name)
		p = p[end+1:]
	}
	b.WriteString(p)
	return b.String()
}

// firstDecodeError explains why body does not decode into a value of type
// typ (err is apiDecoding's error): with encoding/json's error, as the API
// has always answered, or, for a body encoding/json takes, with what
// apiDecoding refuses in it, a name in another case than its field's or a
// name given twice.
func firstDecodeError(body []byte, typ reflect.Type, err error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(reflect.New(typ).Interface()); err != nil {
		return withFieldPath(jsonAPIError(err), body, typ)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiErr(fiber.StatusBadRequest, CodeMalformedJSON, "", "unexpected data after the JSON object")
	}
	// encoding/json/v2's own errors carry the member's JSON pointer. A name
	// given twice inside a value carried as it is (see decodeStrict) is not
	// the body's mistake: look past it for the one that is.
	exact := jsonv2.Unmarshal(body, reflect.New(typ).Interface(), jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true))
	var dup *jsontext.SyntacticError
	if errors.As(exact, &dup) && errors.Is(exact, jsontext.ErrDuplicateName) && inRawValue(typ, dup.JSONPointer.Parent()) {
		exact = jsonv2.Unmarshal(body, reflect.New(typ).Interface(), jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	}
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.As(exact, &syn) && errors.Is(exact, jsontext.ErrDuplicateName):
		field := pointerField(string(syn.JSONPointer))
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Field: field, Err: exact,
			Message: fmt.Sprintf("%s: the name %q is given twice in its object; give each name once", field, syn.JSONPointer.LastToken())}
	case errors.As(exact, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		name := sem.JSONPointer.LastToken()
		hint := flows.DidYouMean(flows.Suggestions(name, memberNames(typ, sem.JSONPointer.Parent())))
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeUnknownField, Field: pointerField(string(sem.JSONPointer)), Err: exact,
			Message: fmt.Sprintf("unknown field %q: field names are case-sensitive%s", name, hint)}
	}
	return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: "malformed JSON: " + err.Error(), Err: err}
}

// memberNames lists the JSON names of the fields of the object at ptr in
// a value of type typ, nil when that is not a struct.
func memberNames(typ reflect.Type, ptr jsontext.Pointer) []string {
	for tok := range ptr.Tokens() {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch typ.Kind() {
		case reflect.Struct:
			f, ok := fieldNamed(typ, tok)
			if !ok {
				return nil
			}
			typ = f.Type
		case reflect.Slice, reflect.Array, reflect.Map:
			typ = typ.Elem()
		default:
			return nil
		}
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for _, f := range reflect.VisibleFields(typ) {
		if name, ok := jsonName(f); ok {
			names = append(names, name)
		}
	}
	return names
}

// fieldNamed is the field of struct type typ whose JSON name is name.
func fieldNamed(typ reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range reflect.VisibleFields(typ) {
		if n, ok := jsonName(f); ok && n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is the name a struct field has in JSON; false for a field JSON
// leaves out, or an embedded struct, whose fields stand for it.
func jsonName(f reflect.StructField) (string, bool) {
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch {
	case tag == "-" || !f.IsExported():
		return "", false
	case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
		return "", false
	case tag == "":
		return f.Name, true
	}
	return tag, true
}

// withFieldPath names ae's field by its place in the body
// ("messages[2].txt", "triggers[0].flow"), which encoding/json's errors
// leave out: encoding/json/v2 decodes the body again into a new value of
// v's type and reports the path. The path is used only when it ends in the
// field encoding/json named (v2 matches names exactly where encoding/json
// ignores case, so it may stop elsewhere first). Only bad bodies pay for it.
func withFieldPath(ae *APIError, body []byte, typ reflect.Type) *APIError {
	if ae.Field == "" {
		return ae
	}
	fresh := reflect.New(typ).Interface()
	var se *jsonv2.SemanticError
	if errors.As(jsonv2.Unmarshal(body, fresh, jsonv2.RejectUnknownMembers(true)), &se) {
		ptr := string(se.JSONPointer)
		name := ae.Field[strings.LastIndexByte(ae.Field, '.')+1:]
		if strings.HasSuffix(ptr, "/"+name) || inElementOf(ptr, name) {
			path := pointerField(ptr)
			if rest, ok := strings.CutPrefix(ae.Message, ae.Field+":"); ok {
				ae.Message = path + ":" + rest
			}
			ae.Field = path
		}
	}
	return ae
}

// inElementOf reports whether a JSON pointer is an element or key of the
// member name (/messages/0 of messages, /contact/fields/a of fields), where
// encoding/json names only the member.
func inElementOf(ptr, name string) bool {
	i := strings.LastIndex(ptr, "/"+name+"/")
	return i >= 0 && !strings.Contains(ptr[i+len(name)+2:], "/")
}

// pointerField writes a JSON pointer (/messages/2/txt) as the API names
// fields (messages[2].txt).
func pointerField(ptr string) string {
	var f strings.Builder
	for i, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if _, err := strconv.Atoi(tok); err == nil && i > 0 {
			f.WriteString("[" + tok + "]")
			continue
		}
		if i > 0 {
			f.WriteByte('.')
		}
		f.WriteString(tok)
	}
	return f.String()
}

func jsonAPIError(err error) *APIError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se), Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: "malformed JSON: unexpected end of input", Err: err}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "$"
		}
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf("%s: expected %s, got JSON %s", field, jsonKind(te.Type), te.Value), Err: err}
	case strings.HasPrefix(msg, "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeUnknownField, Field: name, Message: fmt.Sprintf("unknown field %q", name), Err: err}
	}
	return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: "malformed JSON: " + msg, Err: err}
}

// jsonNames names the body types whose arrays read better by what they hold.
var jsonNames = map[reflect.Type]string{reflect.TypeFor[messageBody](): "messages"}

// jsonKind is flows.JSONKind, with arrays of a request body's own types named
// by what they hold ("an array of messages").
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if k := t.Kind(); k == reflect.Slice || k == reflect.Array {
		if name, ok := jsonNames[t.Elem()]; ok {
			return "an array of " + name
		}
	}
	return flows.JSONKind(t)
}

// discardLogger is used where no logger was configured.
var discardLogger = slog.New(slog.DiscardHandler)

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// retryAfterSeconds is a wait in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// logFailure logs msg at level with err and attrs: err's text without a
// contact's URN above the debug level when it names a damaged value by one
// (store.LoggedText), and then in full in a line of its own at debug.
func logFailure(ctx context.Context, log *slog.Logger, level slog.Level, msg string, err error, attrs ...any) {
	text, private := store.LoggedText(err)
	if !private || level <= slog.LevelDebug {
		log.Log(ctx, level, msg, append(attrs, "err", err)...)
		return
	}
	log.Log(ctx, level, msg, append(attrs, "err", text)...)
	log.Log(ctx, slog.LevelDebug, msg+", the error in full", append(attrs, "err", err)...)
}
