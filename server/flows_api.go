package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/tidwall/gjson"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// flowDoc is a flow as GET /v1/flows/{id} answers it.
type flowDoc struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind,omitempty"`
	Revision   int             `json:"revision"`
	Published  bool            `json:"published"`
	Created    time.Time       `json:"created"`
	Definition json.RawMessage `json:"definition"`
}

type savedFlow struct {
	ID       string              `json:"id"`
	Revision int                 `json:"revision"`
	Name     string              `json:"name,omitempty"`
	Warnings []*flows.FieldError `json:"warnings,omitempty"`
}

// validateFlow answers 200 with every problem found, valid or not. An export
// that POST /v1/flows would import is checked as it would be imported: each
// flow that does not convert is an error, and each that does is validated.
func (s *Server) validateFlow(c *fiber.Ctx) error {
	body := flows.TrimBOM(c.Body())
	if flows.CheckSyntax(body) == nil {
		for _, imp := range s.cfg.Importers {
			if imp.Detect(body) {
				return s.validateImport(c, imp, body)
			}
		}
	}
	// Checked as POST /v1/flows would store it: a flow without an id gets
	// one there, so needs no name for one to name it.
	doc := body
	if idAbsent(body) {
		if d, err := withID(body, uuid.NewString()); err == nil {
			doc = d
		}
	}
	f, err := s.eng.Load(doc)
	out := fiber.Map{"valid": err == nil, "errors": []*flows.FieldError{}, "warnings": []*flows.FieldError{}}
	var ve *flows.ValidationError
	switch {
	case err == nil:
		warns, err := s.withSubflowWarnings(c.UserContext(), f, nil)
		if err != nil {
			return err
		}
		if warns != nil {
			out["warnings"] = warns
		}
	case errors.As(err, &ve):
		out["errors"] = ve.Errors
	default:
		return err
	}
	return c.JSON(out)
}

func (s *Server) validateImport(c *fiber.Ctx, imp Importer, body []byte) error {
	errs, warns := []*flows.FieldError{}, []*flows.FieldError{}
	res, err := imp.Convert(body)
	if err != nil {
		errs = append(errs, &flows.FieldError{Path: "$", Message: "import: " + err.Error()})
		return c.JSON(fiber.Map{"valid": false, "errors": errs, "warnings": warns})
	}
	for _, msg := range res.Failed {
		errs = append(errs, &flows.FieldError{Path: "$", Message: msg})
	}
	// A converted flow's problems are named by the flow, then by the path in
	// the converted document.
	named := func(f string, fes []*flows.FieldError) []*flows.FieldError {
		out := make([]*flows.FieldError, len(fes))
		for i, fe := range fes {
			cp := *fe
			cp.Message = fmt.Sprintf("imported flow %q: %s", f, fe.Message)
			out[i] = &cp
		}
		return out
	}
	for _, doc := range res.Flows {
		f, err := s.eng.Load(doc)
		var ve *flows.ValidationError
		switch {
		case err == nil:
			warns = append(warns, named(nameOf(f), f.Warnings)...)
		case errors.As(err, &ve):
			errs = append(errs, named(gjson.GetBytes(doc, "name").String(), ve.Errors)...)
		default:
			return err
		}
	}
	return c.JSON(fiber.Map{"valid": len(errs) == 0, "errors": errs, "warnings": warns, "report": reportOf(res)})
}

// createFlow stores revision 1 of a new flow (or of each flow of an import).
// With ?replace=true a flow that exists gets a new revision instead, as PUT
// would store it, so an export can be imported again.
func (s *Server) createFlow(c *fiber.Ctx) error {
	replace := false
	switch q := c.Query("replace"); q {
	case "", "false":
	case "true":
		replace = true
	default:
		return badRequest("replace", "replace must be true or false, got %q", q)
	}
	body := flows.TrimBOM(bytes.Clone(c.Body()))
	if err := checkFlowSyntax(body); err != nil {
		return err
	}
	for _, imp := range s.cfg.Importers {
		if !imp.Detect(body) {
			continue
		}
		res, err := imp.Convert(body)
		if err != nil {
			return apiErr(fiber.StatusUnprocessableEntity, "import_failed", "", "import: %v", err)
		}
		if len(res.Flows) == 0 {
			e := apiErr(fiber.StatusUnprocessableEntity, "import_failed", "", "no flow of the export could be converted: %s", strings.Join(res.Failed, "; "))
			for _, msg := range res.Failed {
				// Listed one by one, as validate lists them.
				e.Details = append(e.Details, &flows.FieldError{Path: "$", Message: msg})
			}
			return e
		}
		saved, err := s.createFlows(c.UserContext(), res.Flows, replace, true)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"flows": saved, "report": reportOf(res)})
	}
	saved, err := s.createFlows(c.UserContext(), [][]byte{body}, replace, false)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(saved[0])
}

// createFlows validates every document first and stores them in one
// transaction, so an import stores all of its flows or none. A flow that
// exists is a conflict unless replace, which stores a new revision of it;
// export says the documents are an import's, for the conflict's message.
func (s *Server) createFlows(ctx context.Context, docs [][]byte, replace, export bool) ([]savedFlow, error) {
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	type prepared struct {
		nf       store.NewFlow
		warnings []*flows.FieldError
		flow     *flows.Flow
	}
	var todo []prepared
	given := map[string]bool{}
	for _, doc := range docs {
		if err := checkFlowSyntax(doc); err != nil {
			return nil, err
		}
		// The id is assigned before the flow is checked: a flow without
		// one needs no name either, as the id names it.
		if idAbsent(doc) {
			var err error
			if doc, err = withID(doc, uuid.NewString()); err != nil {
				return nil, err
			}
		}
		doc = withoutEmptyKind(doc)
		f, err := s.eng.Load(doc)
		if err != nil {
			return nil, invalidFlow(err)
		}
		id := f.ID
		if given[id] {
			return nil, apiErr(fiber.StatusUnprocessableEntity, "import_failed", "id", "flow %q is given twice in the export", id)
		}
		given[id] = true
		_, err = s.store.GetFlow(ctx, id, 0)
		switch {
		case err == nil && replace:
		case err == nil && export:
			return nil, apiErr(fiber.StatusConflict, CodeConflict, "id", "flow %q (%s) already exists; POST /v1/flows?replace=true imports the export again, storing a new revision of each of its flows that exists", id, nameOf(f))
		case err == nil:
			return nil, apiErr(fiber.StatusConflict, CodeConflict, "id", "flow %q already exists; PUT /v1/flows/%s stores a new revision", id, id)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		todo = append(todo, prepared{nf: store.NewFlow{ID: id, Name: nameOf(f), Kind: f.Kind, Definition: doc}, warnings: f.Warnings, flow: f})
	}
	// A subflow stored with the flow, in the same import, is there.
	batch := make([]string, len(todo))
	for i, p := range todo {
		batch[i] = p.nf.ID
	}
	for i, p := range todo {
		warns, err := s.withSubflowWarnings(ctx, p.flow, batch)
		if err != nil {
			return nil, err
		}
		todo[i].warnings = warns
	}
	nfs := make([]store.NewFlow, len(todo))
	for i, p := range todo {
		nfs[i] = p.nf
	}
	revs, err := s.svc.flows.saveAll(ctx, nfs)
	if err != nil {
		return nil, err
	}
	out := make([]savedFlow, len(revs))
	for i, rev := range revs {
		out[i] = savedFlow{ID: rev.ID, Revision: rev.Revision, Name: rev.Name, Warnings: todo[i].warnings}
	}
	return out, nil
}

func nameOf(f *flows.Flow) string {
	if f.Name != "" {
		return f.Name
	}
	return f.ID
}

// malformedFlow is the error for a flow body that json.Valid refuses: where
// it breaks, or the byte-order mark that json.Valid does not skip.
func malformedFlow(doc []byte) error {
	if err := checkFlowSyntax(doc); err != nil {
		return err
	}
	return apiErr(fiber.StatusBadRequest, CodeMalformedJSON, "", "malformed JSON at line 1, column 1: a byte-order mark where the JSON should start")
}

// checkFlowSyntax answers 400 malformed_json for a flow body that is not one
// JSON document, saying where it breaks as parley validate does: line and
// column, in characters from 1.
func checkFlowSyntax(doc []byte) error {
	if fe := flows.CheckSyntax(doc); fe != nil {
		return &APIError{Status: fiber.StatusBadRequest, Code: CodeMalformedJSON, Message: fe.Message, Err: fe}
	}
	return nil
}

// idAbsent reports whether a flow document gives no id: none, "" or null,
// read as Load reads it (of a name given twice, the last). An id of
// another kind is given, and Load reports it.
func idAbsent(doc []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil || m == nil {
		return false // not an object (null too): the flow's check says so
	}
	raw, ok := m["id"]
	return !ok || string(raw) == `""` || string(raw) == "null"
}

// withoutEmptyKind drops a "kind" of "" from a flow document: it reads as
// no kind, a messaging flow, and a stored flow is answered with its kind
// messaging or voice, or none. The member is cut out of the text, with the
// comma that separated it from its neighbour: the rest of the document is
// kept byte for byte, as written (its spacing, the order of its names, its
// escapes). A kind given twice is read as Load reads it, the last one: when
// that is "", every kind member goes.
func withoutEmptyKind(doc []byte) []byte {
	for {
		span, last := kindMember(doc)
		if last.Type != gjson.String || last.Str != "" {
			return doc
		}
		doc = append(doc[:span[0]:span[0]], doc[span[1]:]...)
	}
}

// kindMember finds the members named "kind" of the JSON object doc: the
// value of the last one (none when there is none), and the bytes to cut to
// remove the first one with its comma: from its name to the next member's
// name, or, when it is the last member of several, from the end of the
// member before it.
func kindMember(doc []byte) (span [2]int, last gjson.Result) {
	members := topMembers(doc)
	first := -1
	for i, m := range members {
		if m.name.Str == "kind" {
			last = m.value
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return span, last
	}
	switch m := members[first]; {
	case first+1 < len(members):
		span = [2]int{m.start(), members[first+1].start()}
	case first > 0:
		span = [2]int{members[first-1].end(), m.end()}
	default:
		span = [2]int{m.start(), m.end()}
	}
	return span, last
}

// withID sets a flow document's id, keeping the rest of the text as it was:
// the value of its id member ("" or null) is replaced in the text, that of
// each when the name is given twice, or a member is put first.
func withID(doc []byte, id string) ([]byte, error) {
	idJSON, _ := json.Marshal(id)
	var values []gjson.Result
	for _, m := range topMembers(doc) {
		if m.name.Str == "id" {
			values = append(values, m.value)
		}
	}
	if len(values) > 0 {
		if !json.Valid(doc) {
			var m map[string]json.RawMessage
			return nil, jsonAPIError(json.Unmarshal(doc, &m))
		}
		out := make([]byte, 0, len(doc)+len(idJSON))
		at := 0
		for _, v := range values {
			out = append(append(out, doc[at:v.Index]...), idJSON...)
			at = v.Index + len(v.Raw)
		}
		return append(out, doc[at:]...), nil
	}
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, apiErr(fiber.StatusBadRequest, CodeMalformedJSON, "", "a flow is a JSON object")
	}
	out := make([]byte, 0, len(doc)+len(idJSON)+8)
	out = append(out, `{"id":`...)
	out = append(out, idJSON...)
	rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, trimmed[1:]...), nil
}

// member is a member of a JSON object's text: its name and its value, each
// with its Index, its offset in the text.
type member struct{ name, value gjson.Result }

// start is the offset of the member's name, end that just past its value.
func (m member) start() int { return m.name.Index }
func (m member) end() int   { return m.value.Index + len(m.value.Raw) }

// topMembers lists the members of the JSON object doc, in the order of the
// text, a name given twice as often as it is given, with their names
// unescaped ("ki\u006ed" is kind); none when doc is not an object. The
// text is not checked here.
func topMembers(doc []byte) []member {
	var members []member
	// A Result over the whole text, not gjson.Parse's, which starts at the
	// first brace: ForEach gives indexes in doc itself.
	gjson.Result{Type: gjson.JSON, Raw: string(doc)}.ForEach(func(k, v gjson.Result) bool {
		if k.Type != gjson.String {
			return false // an array's element: doc is not an object
		}
		members = append(members, member{name: k, value: v})
		return true
	})
	return members
}

func (s *Server) listFlows(c *fiber.Ctx) error {
	infos, err := s.store.ListFlows(c.UserContext())
	if err != nil {
		return err
	}
	if infos == nil {
		infos = []*store.FlowInfo{}
	}
	return c.JSON(fiber.Map{"flows": infos})
}

func (s *Server) getFlow(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	rev := 0
	if q := c.Query("revision"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			return badRequest("revision", "revision must be a positive integer, got %q", q)
		}
		rev = n
	}
	fr, err := s.store.GetFlow(c.UserContext(), id, rev)
	if err != nil {
		return s.flowNotFound(c.UserContext(), err, id, rev)
	}
	return c.JSON(flowDoc{ID: fr.ID, Name: fr.Name, Kind: fr.Kind, Revision: fr.Revision, Published: fr.Published, Created: fr.CreatedAt, Definition: fr.Definition})
}

// flowNotFound is the answer to a flow or revision the store has not: a
// revision asked of a flow never stored (or deleted) is the flow's
// absence, not the revision's.
func (s *Server) flowNotFound(ctx context.Context, err error, id string, rev int) error {
	if errors.Is(err, store.ErrNotFound) {
		if rev > 0 {
			if _, ferr := s.store.GetFlow(ctx, id, 0); ferr == nil {
				return apiErr(fiber.StatusNotFound, CodeNotFound, "revision", "flow %q has no revision %d", id, rev)
			} else if !errors.Is(ferr, store.ErrNotFound) {
				return ferr
			}
		}
		return notFound("flow %q not found", id)
	}
	return err
}

// updateFlow stores a new revision; sessions already running stay on theirs.
func (s *Server) updateFlow(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	doc := flows.TrimBOM(bytes.Clone(c.Body()))
	if err := checkFlowSyntax(doc); err != nil {
		return err
	}
	// The URL's id is the flow's before it is checked, as it would be in
	// the document: a body without one needs no name either.
	if idAbsent(doc) {
		if doc, err = withID(doc, id); err != nil {
			return err
		}
	}
	doc = withoutEmptyKind(doc)
	f, err := s.eng.Load(doc)
	if err != nil {
		return invalidFlow(err)
	}
	if f.ID != id {
		return badRequest("id", "the document's id %q differs from the URL's %q: leave it out or give the same", f.ID, id)
	}
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	if _, err := s.store.GetFlow(c.UserContext(), id, 0); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("flow %q not found: PUT adds a revision to a stored flow; store a new one with POST /v1/flows", id)
		}
		return err
	}
	rev, err := s.svc.flows.save(c.UserContext(), store.NewFlow{ID: id, Name: nameOf(f), Kind: f.Kind, Definition: doc})
	if err != nil {
		return err
	}
	warns, err := s.withSubflowWarnings(c.UserContext(), f, nil)
	if err != nil {
		return err
	}
	return c.JSON(savedFlow{ID: rev.ID, Revision: rev.Revision, Name: rev.Name, Warnings: warns})
}

// withSubflowWarnings is f's warnings and one for each of its subflow
// widgets that enters a flow neither stored nor among also (flows stored
// with it), naming the stored flow likely meant: a flow may be stored before
// its subflow, but a typo in a subflow's id would otherwise show only when a
// session fails there.
func (s *Server) withSubflowWarnings(ctx context.Context, f *flows.Flow, also []string) ([]*flows.FieldError, error) {
	hasSubflow := false
	for _, w := range f.Widgets {
		if flows.EnteredFlow(w) != "" {
			hasSubflow = true
			break
		}
	}
	if !hasSubflow {
		return f.Warnings, nil
	}
	infos, err := s.store.ListFlows(ctx)
	if err != nil {
		return nil, err
	}
	known := slices.Clone(also)
	for _, fi := range infos {
		known = append(known, fi.ID)
	}
	return append(slices.Clone(f.Warnings), flows.MissingSubflows(f, known)...), nil
}

func (s *Server) deleteFlow(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	if uses := s.svc.channels.using(id); len(uses) > 0 {
		return apiErr(fiber.StatusConflict, CodeConflict, "id", "flow %q is in use by %s: point them at another flow or delete them first",
			id, strings.Join(uses, ", "))
	}
	if err := s.svc.flows.remove(c.UserContext(), id); err != nil {
		return s.flowNotFound(c.UserContext(), err, id, 0)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type publishBody struct {
	// Revision is nil when the body leaves it out: the latest.
	Revision *int `json:"revision"`
}

// publishFlow makes a revision (the latest by default) the one new sessions start on.
func (s *Server) publishFlow(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	var b publishBody
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeStrict(c.Body(), &b); err != nil {
			return err
		}
	}
	rev := 0 // the latest
	if b.Revision != nil {
		if *b.Revision < 1 {
			return badRequest("revision", "revision must be a positive integer, got %d (leave it out for the latest)", *b.Revision)
		}
		rev = *b.Revision
	}
	info, err := s.svc.flows.publish(c.UserContext(), id, rev)
	if err != nil {
		return s.flowNotFound(c.UserContext(), err, id, rev)
	}
	return c.JSON(info)
}
