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
		switch {
		case errors.Is(err, fasthttp.ErrBodyTooLarge) && fctx.Request.Header.ContentLength() > 0:
			// Refused by its Content-Length: the request's headers are kept.
		case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
			// Over --header-limit: not read (errorHandler).
		default:
			// fasthttp forgot the request (it empties one whose chunked
			// body is over the limit): it is read back from what the
			// connection kept of it, nothing when the connection lost
			// where it starts.
			if kc, ok := fctx.Conn().(*keptConn); ok {
				head = parseHead(kc.head)
			}
			if head.line {
				c.Locals(localHead, head.requestHead())
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

// readHead is what parseHead read of a request. Its slices point into what
// it read.
type readHead struct {
	method, path, rid []byte // path: the request target's, without its query
	line              bool   // the request line was read and parses
	complete          bool   // the end of the headers was read
	chunked           bool   // the body is sent chunked
	// length is the request's length as sent (line, headers and body), -1
	// when not known: the headers were not read whole, or the body is sent
	// chunked, whose length shows only as it is read.
	length int
	// problem says what in the line or headers does not parse, quoting
	// nothing of the request; "" when nothing does.
	problem string
}

// requestHead is what the error handler reports of a request refused before
// routing (localHead).
type requestHead struct{ method, path, rid string }

// requestHead is what the error handler reports of the request.
func (h readHead) requestHead() requestHead {
	return requestHead{method: string(h.method), path: string(h.path), rid: string(h.rid)}
}

// parseHead reads the request line and headers at the start of b, as far as
// b holds them, as fasthttp parses them. Only a request line that parses
// whole (a method, a space, a target, a space and HTTP/1.x) is taken for
// one: b may start in the middle of a request, whose header values must
// not be read as a method and path.
func parseHead(b []byte) readHead {
	h := readHead{length: -1}
	bodyLen := 0
	end := headLines(b, func(n int, line []byte) {
		switch {
		case n == 1:
			method, target, ok := requestLine(line)
			if !ok {
				h.problem = "malformed request line: expected a method, a path and the HTTP version (POST /v1/flows HTTP/1.1)"
				return
			}
			h.line, h.method, h.path = true, method, uriPath(target)
		case !h.line:
		case line[0] == ' ' || line[0] == '\t':
			// The value of the header above goes on.
		default:
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
				if h.problem == "" {
					h.problem = fmt.Sprintf("malformed header on line %d of the request: expected a name without spaces, a colon and the value", n)
				}
				return
			}
			name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
			switch {
			case bytes.EqualFold(name, []byte(headerRequestID)):
				if len(h.rid) == 0 {
					h.rid = value
				}
			case bytes.EqualFold(name, []byte(fiber.HeaderContentLength)) && !h.chunked:
				// After a chunked Transfer-Encoding fasthttp does not read it.
				if !isDigits(value) || len(value) > 18 {
					if h.problem == "" {
						h.problem = "malformed Content-Length header: expected the body's size, a whole number of bytes"
					}
					return
				}
				bodyLen = 0
				for _, d := range value {
					bodyLen = bodyLen*10 + int(d-'0')
				}
			case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
				// As fasthttp reads it: any value but exactly "identity"
				// makes the body chunked, whatever comes after.
				h.chunked = h.chunked || !bytes.Equal(value, []byte("identity"))
			}
		}
	})
	h.complete = h.line && end >= 0
	if h.complete && !h.chunked {
		h.length = end + bodyLen
	}
	return h
}

// headLines calls f with each line of the request line and headers at the
// start of b, without its line end, and its number in the request: 1 for
// the request line (blank lines before it are skipped, as fasthttp skips
// them). It returns the length of the line and headers with the blank line
// that ends them, or -1 when b does not hold them whole.
func headLines(b []byte, f func(n int, line []byte)) int {
	rest := b
	for n := 1; ; {
		line, r, ok := cutLine(rest)
		if !ok {
			return -1
		}
		rest = r
		switch {
		case len(line) > 0:
			f(n, line)
			n++
		case n > 1:
			return len(b) - len(rest)
		}
	}
}

// requestLine cuts a request line into its method and target; ok is false
// unless it is a method, a space, a target without spaces or control
// characters, a space and HTTP/1.x.
func requestLine(line []byte) (method, target []byte, ok bool) {
	method, rest, _ := bytes.Cut(line, []byte(" "))
	target, proto, _ := bytes.Cut(rest, []byte(" "))
	if !isToken(method) || len(target) == 0 || bytes.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) ||
		len(proto) != len("HTTP/1.1") || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || !isDigits(proto[7:]) {
		return nil, nil, false
	}
	return method, target, true
}

// cutLine cuts the line at the start of b, without its CR LF (or LF); ok is
// false when b holds no whole line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	line, rest, ok = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, ok
}

// uriPath is the path of a request's target, without its query: "/v1/flows"
// of "/v1/flows?x=1" and of "http://user:password@host/v1/flows"; "" of a
// target that is neither a path nor a URL with a scheme and a host.
func uriPath(uri []byte) []byte {
	if i := bytes.Index(uri, []byte("://")); i > 0 && isToken(uri[:i]) {
		uri = uri[i+3:]
		if j := bytes.IndexByte(uri, '/'); j >= 0 {
			uri = uri[j:]
		} else {
			uri = []byte("/")
		}
	}
	if len(uri) == 0 || uri[0] != '/' {
		return nil
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
