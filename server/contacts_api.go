package server

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
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
		return err
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
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
