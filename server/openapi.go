package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gofiber/fiber/v2"
)

// openAPIServed is the embedded OpenAPI document split around the value of
// its top-level "servers", which each answer fills with the URL this server
// is reached at (serveOpenAPI).
type openAPIServed struct {
	head, tail []byte
}

// openAPIParts is the embedded document, split once: it is part of the
// binary, so a document without "servers" fails every start (and test).
var openAPIParts = func() openAPIServed {
	p, err := splitOpenAPI(openAPI)
	if err != nil {
		panic(err)
	}
	return p
}()

// splitOpenAPI splits doc around the value of its top-level "servers".
func splitOpenAPI(doc []byte) (openAPIServed, error) {
	d := jsontext.NewDecoder(bytes.NewReader(doc))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return openAPIServed{}, fmt.Errorf("openapi.json is not a JSON object")
	}
	for d.PeekKind() == '"' {
		tok, err := d.ReadToken()
		if err != nil {
			return openAPIServed{}, fmt.Errorf("openapi.json: %w", err)
		}
		name := tok.String() // the token is voided by the next read
		v, err := d.ReadValue()
		if err != nil {
			return openAPIServed{}, fmt.Errorf("openapi.json: %q: %w", name, err)
		}
		if name == "servers" {
			end := int(d.InputOffset())
			start := end - len(v)
			return openAPIServed{head: doc[:start], tail: doc[end:]}, nil
		}
	}
	return openAPIServed{}, fmt.Errorf("openapi.json has no top-level \"servers\"")
}

// serveOpenAPI answers GET /openapi.json: the embedded document with its
// servers set to the URL a client reaches this server at, so that tools
// reading it (Swagger UI's "Try it out", client generators) call this
// server: the --public-url (without a user name and password) when one is
// given, else http:// and the host the request was sent to, as its Host
// header (or an absolute request line) names it, or the address it came to
// when it named none.
func (s *Server) serveOpenAPI(c *fiber.Ctx) error {
	base := strings.TrimSuffix(withoutUserInfo(s.cfg.PublicURL), "/")
	if base == "" {
		host := string(c.Request().Host())
		if host == "" {
			host = c.Context().LocalAddr().String()
		}
		base = (&url.URL{Scheme: "http", Host: host}).String()
	}
	servers, err := json.Marshal([]map[string]string{{"url": base}})
	if err != nil {
		return err
	}
	body := make([]byte, 0, len(openAPIParts.head)+len(servers)+len(openAPIParts.tail))
	body = append(append(append(body, openAPIParts.head...), servers...), openAPIParts.tail...)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}
