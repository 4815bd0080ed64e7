package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/tidwall/gjson"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/delivery"
	"github.com/parleyhq/parley/flows"
)

// The /v1/webhooks API is a thin layer over delivery.Service: event
// subscriptions, their signing secrets and the deliveries log.

// withDelivery runs h with the event delivery service, or answers 501 when
// the server has none (a store other than the built-in one).
func (s *Server) withDelivery(h func(*fiber.Ctx, *delivery.Service) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deliv == nil {
			return apiErr(fiber.StatusNotImplemented, "not_available", "", "event delivery needs the built-in store")
		}
		return h(c, s.deliv)
	}
}

// deliveryErr maps delivery's errors to the API's.
func deliveryErr(err error) error {
	var ve *delivery.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return validationErr(ve)
	case errors.Is(err, delivery.ErrNotFound):
		return apiErr(fiber.StatusNotFound, CodeNotFound, "", "%v", err)
	case errors.Is(err, delivery.ErrInFlight):
		return apiErr(fiber.StatusConflict, CodeConflict, "", "%v", err)
	case errors.Is(err, delivery.ErrInvalid):
		return apiErr(fiber.StatusBadRequest, CodeBadRequest, "", "%v", err)
	}
	return err
}

// validationErr answers a subscription's problems as a webhook
// configuration's are: 400 bad_request when a required field is missing,
// else 422 invalid_field; the first (missing) field in field and message,
// and every problem in errors when there are several.
func validationErr(ve *delivery.ValidationError) *APIError {
	status, code := fiber.StatusUnprocessableEntity, CodeInvalidField
	if ve.Missing {
		status, code = fiber.StatusBadRequest, CodeBadRequest
	}
	e := apiErr(status, code, ve.Field, "%s", ve.Message)
	if len(ve.Problems) > 1 {
		msgs := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			msgs[i] = p.Message
			e.Details = append(e.Details, &flows.FieldError{Path: p.Field, Message: p.Message})
		}
		e.Message = fmt.Sprintf("%d problems: %s", len(msgs), strings.Join(msgs, "; "))
	}
	return e
}

// subscriptionView is a subscription as the API shows it: its auth
// password, token and client secret, secret-looking header values and the
// password and credential parameters of its URL and token URL read
// "[redacted]", as a
// configured webhook's do (redactConfig). The signing secrets are shown:
// the receiver needs them to check signatures (the list's are not,
// listedSubscriptionView).
//
// A signing secret past its expires_at is left out: it signs nothing
// again, and a receiver that took it for one to check with would accept
// what nobody signs with any more. It stays stored until the next change
// of the subscription (a PUT sending back what GET shows drops it).
func subscriptionView(sub *delivery.Subscription, now time.Time) *delivery.Subscription {
	red := redactConfig(&flows.WebhookConfig{URL: sub.URL, Auth: sub.Auth, Headers: sub.Headers})
	out := *sub
	out.URL, out.Auth, out.Headers = red.URL, red.Auth, red.Headers
	out.Secrets = slices.DeleteFunc(slices.Clone(sub.Secrets), func(s delivery.Secret) bool { return !s.ActiveAt(now) })
	return &out
}

// listedSubscriptionView is a subscription as the list shows it: as
// subscriptionView does, and with each signing secret "[redacted]", its
// dates shown, so that reading the list does not hand out every endpoint's
// signing secrets; GET /v1/webhooks/{id} shows one endpoint's.
func listedSubscriptionView(sub *delivery.Subscription, now time.Time) *delivery.Subscription {
	out := subscriptionView(sub, now)
	for i := range out.Secrets {
		out.Secrets[i].Secret = callout.Redacted
	}
	return out
}

// keepSubscriptionSecrets puts back the stored secrets a subscription sent
// back carries as "[redacted]", for the same address only (keepSecrets).
// A [redacted] left in the URL, which no stored secret fits, is refused. A
// signing secret read [redacted] from the list is the stored one created at
// the same time, wherever the endpoint goes: it signs, and is not sent.
func keepSubscriptionSecrets(in, stored *delivery.Subscription) error {
	cfg := &flows.WebhookConfig{URL: in.URL, Auth: in.Auth, Headers: in.Headers}
	var old *flows.WebhookConfig
	if stored != nil {
		old = &flows.WebhookConfig{URL: stored.URL, Auth: stored.Auth, Headers: stored.Headers}
	}
	if err := keepSecrets(cfg, old); err != nil {
		return err
	}
	in.URL = cfg.URL
	problems := leftRedacted(cfg, "subscription")
	// A [redacted] signing secret is a stored one with the same dates
	// (created_at and expires_at), as the list shows them, to the precision
	// they are sent back with: a client that keeps times in microseconds
	// (Python) or milliseconds (JavaScript) sends them so. A stored secret
	// whose dates are the very ones sent is taken before one only as near,
	// and a date that fits several stored secrets of other dates is
	// refused, as which one it stands for cannot be told. Secrets given
	// together share their dates; those sent back [redacted] take the
	// stored ones with their dates in order, as many as there are, and
	// fewer of them than are stored (one left out: which, the dates cannot
	// tell) are refused.
	dates := func(v delivery.Secret) string {
		k := v.CreatedAt.UTC().Format(time.RFC3339Nano)
		if v.ExpiresAt != nil {
			k += " " + v.ExpiresAt.UTC().Format(time.RFC3339Nano)
		}
		return k
	}
	// storedKey is the dates of the stored secrets v stands for: "" when
	// none fits, and ambiguous when those of several dates do.
	storedKey := func(v delivery.Secret) (key string, ambiguous bool) {
		if k := dates(v); slices.ContainsFunc(stored.Secrets, func(old delivery.Secret) bool { return dates(old) == k }) {
			return k, false
		}
		var keys []string
		for _, old := range stored.Secrets {
			if k := dates(old); sameDates(old, v) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		switch len(keys) {
		case 0:
			return "", false
		case 1:
			return keys[0], false
		}
		return "", true
	}
	keys := make([]string, len(in.Secrets))
	sent := map[string]int{}
	for i, v := range in.Secrets {
		field := fmt.Sprintf("secrets[%d].secret", i)
		switch {
		case v.Secret != callout.Redacted:
		case stored == nil:
			problems = append(problems, flows.Errorf(field, "%s stands for a stored signing secret, and a new subscription has none: give the secret itself, or leave secrets out for one to be generated", callout.Redacted))
		default:
			k, ambiguous := storedKey(v)
			if ambiguous {
				problems = append(problems, flows.Errorf(field, "%s stands for a stored signing secret created at %s, and several of this subscription's, of other dates, were created then to the precision sent: which one cannot be told; send the dates as GET /v1/webhooks shows them, to the nanosecond, or the secrets themselves",
					callout.Redacted, v.CreatedAt.Format(time.RFC3339Nano)))
				k = "?"
			}
			keys[i] = k
			sent[k]++
		}
	}
	taken := map[string]int{}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		k := keys[i]
		if s.Secret != callout.Redacted || stored == nil || k == "?" {
			continue
		}
		field := fmt.Sprintf("secrets[%d].secret", i)
		var same []delivery.Secret
		for _, old := range stored.Secrets {
			if k != "" && dates(old) == k {
				same = append(same, old)
			}
		}
		switch {
		case len(same) == 0 || taken[k] >= len(same):
			problems = append(problems, flows.Errorf(field, "%s stands for a stored signing secret created at %s, and this subscription has no other with those dates: give the secret itself, or leave secrets out to keep the stored ones",
				callout.Redacted, s.CreatedAt.Format(time.RFC3339Nano)))
		case sent[k] < len(same):
			problems = append(problems, flows.Errorf(field, "%s stands for one of the %d stored signing secrets with the dates of this one, and %d of them are sent back: which is left out cannot be told; give the secrets themselves (GET /v1/webhooks/{id} shows them), or leave secrets out to keep the stored ones",
				callout.Redacted, len(same), sent[k]))
		default:
			s.Secret = same[taken[k]].Secret
			s.CreatedAt, s.ExpiresAt = same[taken[k]].CreatedAt, same[taken[k]].ExpiresAt
			taken[k]++
		}
	}
	if len(problems) > 0 {
		fe := problems[0]
		return withProblems(&APIError{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidField, Field: fe.Path, Message: fe.Error()}, problems)
	}
	return nil
}

// sameDates says whether a stored secret has the dates sent: each the same
// to the precision it is sent with, as a client that keeps fewer digits
// truncates or rounds it, and an expiry on both or neither.
func sameDates(stored, sent delivery.Secret) bool {
	if (stored.ExpiresAt == nil) != (sent.ExpiresAt == nil) {
		return false
	}
	return nearTime(stored.CreatedAt, sent.CreatedAt) && (sent.ExpiresAt == nil || nearTime(*stored.ExpiresAt, *sent.ExpiresAt))
}

// nearTime says whether stored is sent to the precision of sent's digits:
// within one unit of its last digit, either way, whatever their number (a
// second for none, a millisecond for three, 100 ns for the seven .NET
// writes); to the nanosecond, equal.
func nearTime(stored, sent time.Time) bool {
	unit, ns := 1, sent.Nanosecond()
	for unit < int(time.Second) && ns%(unit*10) == 0 {
		unit *= 10
	}
	d := stored.Sub(sent)
	return d > -time.Duration(unit) && d < time.Duration(unit)
}

func (s *Server) createSubscription(c *fiber.Ctx, d *delivery.Service) error {
	var in delivery.Subscription
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	if err := keepSubscriptionSecrets(&in, nil); err != nil {
		return err
	}
	sub, err := d.Create(c.UserContext(), in)
	if err != nil {
		return deliveryErr(err)
	}
	return c.Status(fiber.StatusCreated).JSON(subscriptionView(sub, s.cfg.Now()))
}

func (s *Server) listSubscriptions(c *fiber.Ctx, d *delivery.Service) error {
	env := c.Query("environment")
	switch env {
	case "", flows.EnvLive, flows.EnvSandbox:
	default:
		return badRequest("environment", "environment is live or sandbox, not %q", env)
	}
	subs, err := d.List(c.UserContext(), strings.Clone(env))
	if err != nil {
		return deliveryErr(err)
	}
	out := make([]*delivery.Subscription, len(subs))
	for i, sub := range subs {
		out[i] = listedSubscriptionView(sub, s.cfg.Now())
	}
	return c.JSON(fiber.Map{"webhooks": out})
}

func (s *Server) getSubscription(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	sub, err := d.Get(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(subscriptionView(sub, s.cfg.Now()))
}

func (s *Server) updateSubscription(c *fiber.Ctx, d *delivery.Service) error {
	var in delivery.Subscription
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return badRequest("id", "the body's id %q differs from the URL's %q: leave it out or give the same", in.ID, id)
	}
	stored, err := d.Get(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	if v := gjson.GetBytes(c.Body(), "disabled"); !v.Exists() || v.Type == gjson.Null {
		// Left out, as secrets may be: a disabled endpoint stays disabled
		// through an edit of its settings, re-enabled only by
		// "disabled": false.
		in.Disabled = stored.Disabled
	}
	if err := keepSubscriptionSecrets(&in, stored); err != nil {
		return err
	}
	sub, err := d.Update(c.UserContext(), id, in)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(subscriptionView(sub, s.cfg.Now()))
}

func (s *Server) deleteSubscription(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	if err := d.Delete(c.UserContext(), id); err != nil {
		return deliveryErr(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// maxGraceSeconds is the longest grace a rotation gives the old secrets: a
// year, well inside what a time can be moved by.
const maxGraceSeconds = 365 * 24 * 60 * 60

type rotateBody struct {
	// GraceSeconds keeps the old secrets valid this long (default 24 h, at
	// most maxGraceSeconds).
	GraceSeconds *int `json:"grace_seconds"`
}

func (s *Server) rotateSecret(c *fiber.Ctx, d *delivery.Service) error {
	var b rotateBody
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decodeStrict(c.Body(), &b); err != nil {
			return err
		}
	}
	grace := 24 * time.Hour
	if b.GraceSeconds != nil {
		if *b.GraceSeconds < 0 || *b.GraceSeconds > maxGraceSeconds {
			return badRequest("grace_seconds", "grace_seconds must be from 0 to %d (a year), not %d", maxGraceSeconds, *b.GraceSeconds)
		}
		grace = time.Duration(*b.GraceSeconds) * time.Second
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	sub, err := d.RotateSecret(c.UserContext(), id, grace)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(subscriptionView(sub, s.cfg.Now()))
}

func (s *Server) pingSubscription(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	eventID, err := d.Ping(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"event_id": eventID})
}

func (s *Server) listDeliveries(c *fiber.Ctx, d *delivery.Service) error {
	limit, err := queryInt(c, "limit", 50, 1, 1000)
	if err != nil {
		return err
	}
	q := delivery.DeliveryQuery{Status: strings.Clone(c.Query("status")), Limit: limit, Cursor: strings.Clone(c.Query("cursor"))}
	switch q.Status {
	case "", delivery.StatusPending, delivery.StatusSucceeded, delivery.StatusFailed, delivery.StatusDisabled:
	default:
		return badRequest("status", "unknown status %q (pending, succeeded, failed, disabled)", q.Status)
	}
	if q.Since, err = timeQuery(c, "since"); err != nil {
		return err
	}
	if q.Until, err = timeQuery(c, "until"); err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := d.Get(c.UserContext(), id); err != nil {
		return deliveryErr(err)
	}
	page, err := d.ListDeliveries(c.UserContext(), id, q)
	if ve := (*delivery.ValidationError)(nil); errors.As(err, &ve) {
		// Its fields are this request's query parameters, named by its
		// message: "cursor must be ...".
		return badRequest(ve.Field, "%s", ve.Message)
	}
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(page)
}

func (s *Server) getDelivery(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	dl, err := d.GetDelivery(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	attempts, err := d.Attempts(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(fiber.Map{"delivery": dl, "attempts": attempts})
}

func (s *Server) retryDelivery(c *fiber.Ctx, d *delivery.Service) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	dl, err := d.Retry(c.UserContext(), id)
	if err != nil {
		return deliveryErr(err)
	}
	return c.JSON(dl)
}
