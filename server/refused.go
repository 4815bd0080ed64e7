package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// CodeTimeout: the request was not received in full within the read
// timeout.
const CodeTimeout = "timeout"

// localHead holds the requestHead of a request refused before routing,
// read back from what the connection received (readFailed).
const localHead = "request_head"

// readFailed is the HTTP server's ErrorHandler: fasthttp calls it for a
// request it could not read whole, before any route. fasthttp's error texts
// quote the request as it was read, header values included (an API key in
// Authorization): neither the answer nor the log shows them. The answer
// says in words of its own what was wrong, and the request is reported by
// the method, path and X-Request-Id its line and headers gave, as far as
// they were read, since fasthttp forgets them.
func (s *Server) readFailed(app *fiber.App) func(*fasthttp.RequestCtx, error) {
	return func(fctx *fasthttp.RequestCtx, err error) {
		c := app.AcquireCtx(fctx)
		defer app.ReleaseCtx(c)
		var head readHead
		switch h, ok := s.chunked.take(&fctx.Request.Header); {
		case ok:
			// A chunked body over the limit: fasthttp emptied the request.
			head = readHead{requestHead: h, line: true, complete: true, chunked: true}
			c.Locals(localHead, h)
		case errors.Is(err, fasthttp.ErrBodyTooLarge):
			// Refused by its Content-Length: the request's headers are kept.
		case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
			// Over --header-limit: not read (errorHandler).
		default:
			if kc, ok := fctx.Conn().(*keptConn); ok {
				head = parseHead(kc.head)
			}
			if head.line {
				c.Locals(localHead, head.requestHead)
			} else {
				c.Locals(localUnread, true)
			}
		}
		if herr := s.errorHandler(c, readError(err, head, app.Server().ReadTimeout)); herr != nil {
			s.log.Error("error handler failed", "err", herr)
		}
	}
}

// readError is the answer to a request fasthttp could not read, err being
// fasthttp's error and head what was read of the request.
func readError(err error, head readHead, timeout time.Duration) error {
	var ne net.Error
	switch {
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		return fiber.ErrRequestHeaderFieldsTooLarge // errorHandler says which limit
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fiber.ErrRequestEntityTooLarge // errorHandler says which limit
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return apiErr(fiber.StatusRequestTimeout, CodeTimeout, "", "the request was not received in full within the %s read timeout", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the connection ended before the request was received in full")
	case errors.As(err, &ne):
		// The connection failed (reset by the client): no one reads the answer.
		return fiber.ErrBadGateway
	case head.problem != "":
		return badRequest("", "%s", head.problem)
	case head.complete && head.chunked:
		return badRequest("", "malformed chunked request body (Transfer-Encoding: chunked)")
	case head.complete:
		return badRequest("", "the request body could not be read")
	}
	return badRequest("", "malformed request line or headers")
}

// readHead is what parseHead read of a request.
type readHead struct {
	requestHead
	line     bool // the request line was read and parses
	complete bool // the end of the headers was read
	chunked  bool // the body is sent chunked
	// problem says what in the line or headers does not parse, quoting
	// nothing of the request; "" when nothing does.
	problem string
}

// parseHead reads the request line and headers at the start of b, as far as
// b holds them, as fasthttp parses them.
func parseHead(b []byte) (h readHead) {
	line, rest, ok := cutLine(b)
	if !ok {
		return h
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		h.problem = "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"
		return h
	}
	method, uri := line[:sp], line[sp+1:]
	if end := bytes.LastIndexByte(uri, ' '); end >= 0 {
		uri = uri[:end]
	}
	if len(uri) == 0 {
		h.problem = "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"
		return h
	}
	h.line, h.method, h.path = true, string(method), string(uriPath(uri))
	for n := 2; ; n++ {
		if line, rest, ok = cutLine(rest); !ok {
			return h
		}
		if len(line) == 0 {
			h.complete = true
			return h
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // the value of the header above goes on
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			if h.problem == "" {
				h.problem = fmt.Sprintf("malformed header on line %d of the request: expected a name without spaces, a colon and the value", n)
			}
			continue
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte(headerRequestID)):
			if h.rid == "" {
				h.rid = string(value)
			}
		case bytes.EqualFold(name, []byte(fiber.HeaderContentLength)):
			if !isDigits(value) || len(value) > 18 {
				if h.problem == "" {
					h.problem = "malformed Content-Length header: expected the body's size, a whole number of bytes"
				}
			}
		case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
			h.chunked = !bytes.EqualFold(value, []byte("identity"))
		}
	}
}

// cutLine cuts the line at the start of b, without its CR LF (or LF); ok is
// false when b holds no whole line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	line, rest, ok = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, ok
}

// uriPath is the path of a request's URI, without its query: "/v1/flows"
// of "/v1/flows?x=1" and of "http://host/v1/flows".
func uriPath(uri []byte) []byte {
	if i := bytes.Index(uri, []byte("://")); i > 0 && isToken(uri[:i]) {
		uri = uri[i+3:]
		if j := bytes.IndexByte(uri, '/'); j >= 0 {
			uri = uri[j:]
		} else {
			uri = []byte("/")
		}
	}
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// isDigits reports whether b is one or more decimal digits.
func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// isToken reports whether b is an HTTP token (a method, a header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}
