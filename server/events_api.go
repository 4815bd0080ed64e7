package server

import (
	"strings"
	"time"

	"github.com/parleyhq/parley/delivery"

	"github.com/gofiber/fiber/v2"
)

// eventRoutes adds the operations on event subscriptions beyond CRUD: a
// synchronous test, recovering failed deliveries, endpoint health; and the
// configured outgoing webhooks of the webhook widget.
func (s *Server) eventRoutes(v1 fiber.Router) {
	v1.Post("/webhooks/:id/test", s.withDelivery(s.testSubscription))
	v1.Post("/webhooks/:id/recover", s.withDelivery(s.recoverSubscription))
	v1.Get("/webhooks/:id/health", s.withDelivery(s.subscriptionHealth))

	v1.Post("/webhook-configs", s.createWebhookConfig)
	v1.Get("/webhook-configs", s.listWebhookConfigs)
	v1.Get("/webhook-configs/:name", s.getWebhookConfig)
	v1.Put("/webhook-configs/:name", s.putWebhookConfig)
	v1.Delete("/webhook-configs/:name", s.deleteWebhookConfig)
	v1.Post("/webhook-configs/:name/test", s.testWebhookConfig)
}

// testSubscription sends a sample webhook.ping now, signed and with the
// subscription's auth (OAuth 2.0 included), and answers with the request
// sent and the response received. Nothing is stored.
func (s *Server) testSubscription(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	res, err := d.Test(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(res)
}

type recoverBody struct {
	Since string `json:"since"`
}

// recoverSubscription queues again every failed (or disabled) delivery of an
// endpoint created at or after "since".
func (s *Server) recoverSubscription(c *fiber.Ctx, d *delivery.Service) error {
	var b recoverBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if b.Since == "" {
		return badRequest("since", "since is required: an RFC 3339 time such as 2026-03-01T00:00:00Z")
	}
	since, err := parseTime("since", b.Since)
	if err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	n, err := d.Recover(c.UserContext(), id, since)
	if err != nil {
		return deliveryErr(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"queued": n, "since": since})
}

func (s *Server) subscriptionHealth(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	h, err := d.Health(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(h)
}

// parseTime reads an RFC 3339 time of a query parameter or body field.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(field, "%s must be an RFC 3339 time such as 2026-03-01T00:00:00Z, got %q", field, v)
	}
	return t, nil
}

// timeQuery reads an optional RFC 3339 query parameter.
func timeQuery(c *fiber.Ctx, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	return parseTime(name, strings.Clone(v))
}
