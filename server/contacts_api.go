package server

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// contactView is a contact as GET /v1/contacts/{urn} shows it: what is
// stored under its key, with its sessions, and what is stored under the
// keys earlier versions made of its URN.
type contactView struct {
	contactFields
	// StoredUnder lists every key something of the contact is stored
	// under, its URN first when anything is stored there.
	StoredUnder []string `json:"stored_under"`
	// Older are the contacts stored under the other keys: a new session
	// of a contact not stored under its URN starts from one of them.
	Older    []contactFields  `json:"older,omitempty"`
	Sessions []sessionSummary `json:"sessions"`
}

// contactFields is a stored contact: its URN (the key it is stored under),
// name, language, fields and groups.
type contactFields struct {
	URN      string            `json:"urn"`
	Name     string            `json:"name"`
	Language string            `json:"language"`
	Fields   map[string]string `json:"fields"`
	Groups   []string          `json:"groups"`
}

func viewContact(urn string, c *flows.Contact) contactFields {
	v := contactFields{URN: urn, Fields: map[string]string{}, Groups: []string{}}
	if c != nil {
		v.Name, v.Language = c.Name, c.Language
		for k, val := range c.Fields {
			v.Fields[k] = val
		}
		v.Groups = append(v.Groups, c.Groups...)
	}
	return v
}

// contactParam reads the {urn} path parameter, path-escaped.
func contactParam(c *fiber.Ctx) (*contactQuery, error) {
	given, err := pathParam(c, "urn")
	if err != nil {
		return nil, err
	}
	return newContactQuery("urn", given)
}

func (s *Server) getContact(c *fiber.Ctx) error {
	q, err := contactParam(c)
	if err != nil {
		return err
	}
	stored, err := s.svc.ReadContact(c.UserContext(), q)
	if err != nil {
		return contactFailed("the contact was not read", err)
	}
	// The contact under its own key (the URN as a channel names it, tel:
	// added to one without a scheme), or else under the URN as given,
	// when one is stored there; then those under the other keys.
	main := ""
	for _, sc := range stored {
		if sc.contact != nil && (sc.key == q.normal || sc.key == q.urn) {
			main = sc.key // ReadContact puts q.normal first
			break
		}
	}
	v := contactView{contactFields: viewContact(q.normal, nil), StoredUnder: []string{}, Sessions: []sessionSummary{}}
	for _, sc := range stored {
		v.StoredUnder = append(v.StoredUnder, sc.key)
		switch {
		case sc.contact == nil:
		case sc.key == main:
			v.contactFields = viewContact(sc.key, sc.contact)
		default:
			v.Older = append(v.Older, viewContact(sc.key, sc.contact))
		}
		for _, sess := range sc.sessions {
			sum := sessionSummary{ID: sess.ID, Flow: sess.FlowID, Revision: sess.Revision, Status: sess.Status, Contact: sess.Contact.URN,
				Created: sess.CreatedAt, Updated: sess.UpdatedAt, Ended: sess.EndedAt}
			if sess.Channel != nil {
				sum.Channel = sess.Channel.ID
			}
			v.Sessions = append(v.Sessions, sum)
		}
	}
	slices.SortFunc(v.Sessions, func(a, b sessionSummary) int { return strings.Compare(a.ID, b.ID) })
	return c.JSON(v)
}

func (s *Server) deleteContact(c *fiber.Ctx) error {
	q, err := contactParam(c)
	if err != nil {
		return err
	}
	if _, err := s.svc.EraseContact(c.UserContext(), q); err != nil {
		return contactFailed("the contact was not erased", err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// contactFailed is the error a contact's read or erasure answers with. A
// failure of the server (5xx) is answered with what was not done and why,
// err's text with it, which may name the contact's URN and quote what is
// stored of it: the client asked about that contact. The log, which
// keeps no person's URN above the debug level, gets what was not done and
// the kind of failure only (privateError). A refusal (4xx) is as err
// says: its request line is logged with its code alone.
func contactFailed(notDone string, err error) error {
	ae := toAPIError(err)
	if ae.Status < fiber.StatusInternalServerError {
		return err
	}
	out := *ae
	if !errors.As(err, new(*store.WritesHeldError)) {
		// Refused while writes fail, the message already says what was not done.
		msg := ae.Message
		if ae.Code == CodeInternal {
			msg = err.Error() // "internal error" would tell the operator nothing
		}
		out.Message = notDone + ": " + msg
	}
	out.Err = &privateError{err: err, logged: notDone + ": " + failureKind(err)}
	return &out
}

// privateError is the error of a request whose text names a contact (its
// URN, what is stored of it): the reply says it to the client, and logs
// write logged above the debug level instead (errorHandler).
type privateError struct {
	err    error
	logged string
}

func (e *privateError) Error() string { return e.err.Error() }
func (e *privateError) Unwrap() error { return e.err }

// failureKind says what kind of failure err is, in words that name no
// contact: the cause of a store write that failed, a damaged store file,
// a server shutting down, a request cancelled, or else an internal error.
func failureKind(err error) string {
	switch c := storeWriteCause(err); {
	case c != nil:
		return c.cause
	case errors.Is(err, store.ErrCorrupt):
		return "the store file is damaged (the reply names the record; parley compact, with the server stopped, lists every damage)"
	case errors.Is(err, store.ErrClosed):
		return "the server is shutting down"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "the request timed out"
	}
	return "internal error (the reply says which, as does the log at the debug level)"
}
