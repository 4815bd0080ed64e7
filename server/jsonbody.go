package server

import (
	"bytes"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
)

// jsonBody prepares the body of a /v1 request, all of which take JSON: a
// UTF-8 byte-order mark before it is skipped, as flow documents always
// were, and a body that is not JSON sent as something else (a form, a
// multipart body, XML) is refused naming the Content-Type it needs.
//
// A JSON body sent with another Content-Type is read as JSON: curl -d,
// as the docs use it, sends application/x-www-form-urlencoded.
func (s *Server) jsonBody(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Next()
	}
	body := c.Body()
	if len(body) == 0 {
		return c.Next()
	}
	if trimmed := flows.TrimBOM(body); len(trimmed) != len(body) {
		// c.Body() has undone any Content-Encoding: the body set is plain.
		c.Request().SetBodyRaw(trimmed)
		c.Request().Header.Del(fiber.HeaderContentEncoding)
		body = trimmed
	}
	ctb := c.Request().Header.ContentType()
	if len(ctb) == 0 || bytes.EqualFold(ctb, jsonType) {
		// The common cases, without parsing the type (a turn's request).
		return c.Next()
	}
	ct := string(ctb)
	if isJSONType(ct) {
		return c.Next()
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] == '{' || t[0] == '[' {
		return c.Next()
	}
	return badRequest(fiber.HeaderContentType, "the body is not JSON and is sent as %.80q: this endpoint takes a JSON object, sent with Content-Type %s", ct, fiber.MIMEApplicationJSON)
}

var jsonType = []byte(fiber.MIMEApplicationJSON)

// isJSONType reports whether a Content-Type is JSON's or none: application/json
// with any parameters, or a +json type (application/merge-patch+json).
func isJSONType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	media, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return media == fiber.MIMEApplicationJSON || strings.HasSuffix(media, "+json")
}
