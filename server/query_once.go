package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// queryParams holds, per operation of openapi.json, the query parameters
// it declares, so that one given twice is refused by the operation that
// reads it: the handlers read the first value only, and a second one
// (?status=waiting&status=failed, meant as either) would be dropped
// without a word.
type queryParams []queryOp

type queryOp struct {
	method string
	path   *regexp.Regexp
	names  map[string]bool
}

// newQueryParams reads the query parameters of each operation of the
// document; a document that does not parse declares none.
func newQueryParams(doc []byte) queryParams {
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
		return nil
	}
	var out queryParams
	for p, item := range d.Paths {
		parts := specParamRE.Split(p, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("(?i)^" + strings.Join(parts, "[^/]+") + "/?$")
		for m, raw := range item {
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if m == "parameters" || json.Unmarshal(raw, &op) != nil {
				continue
			}
			names := map[string]bool{}
			for _, prm := range op.Parameters {
				if ref, ok := strings.CutPrefix(prm.Ref, "#/components/parameters/"); ok {
					prm = d.Components.Parameters[ref]
				}
				if prm.In == "query" {
					names[prm.Name] = true
				}
			}
			if len(names) > 0 {
				out = append(out, queryOp{method: strings.ToUpper(m), path: re, names: names})
			}
		}
	}
	return out
}

// specParamRE matches a path parameter as OpenAPI writes it ({id}).
var specParamRE = regexp.MustCompile(`\{[^}]+\}`)

// declared reports whether the operation of method and path declares the
// query parameter name.
func (q queryParams) declared(method, path, name string) bool {
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	for _, op := range q {
		if op.method == method && op.names[name] && op.path.MatchString(path) {
			return true
		}
	}
	return false
}

// queryOnce refuses a query parameter of the operation given more than
// once, 400 naming it, rather than taking its first value.
func (s *Server) queryOnce(c *fiber.Ctx) error {
	args := c.Context().QueryArgs()
	if args.Len() < 2 {
		return c.Next()
	}
	var err error
	seen := map[string]bool{}
	args.VisitAll(func(k, _ []byte) {
		name := string(k)
		if err != nil || !seen[name] {
			seen[name] = true
			return
		}
		if s.queryParams.declared(c.Method(), c.Path(), name) {
			vals := args.PeekMulti(name)
			quoted := make([]string, len(vals))
			for i, v := range vals {
				quoted[i] = fmt.Sprintf("%.40q", v)
			}
			err = badRequest(name, "%s is given %d times (%s): give it once; it takes one value", name, len(vals), strings.Join(quoted, ", "))
		}
	})
	if err != nil {
		return err
	}
	return c.Next()
}
