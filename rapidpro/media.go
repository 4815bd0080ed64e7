package rapidpro

import (
	"fmt"
	"strings"
)

// mediaWaits are the rulesets that wait for a photo, a video, an audio
// message or a location, with what they wait for and the rule that routes
// on it.
var mediaWaits = map[string]struct{ what, rule string }{
	"wait_photo": {"a photo", "has_image"},
	"wait_video": {"a video", "has_video"},
	"wait_audio": {"an audio message", "has_audio"},
	"wait_gps":   {"a location", "has_location"},
}

// mediaWait notes how a media wait is converted: as goflow migrates it, a
// wait for the next message, whatever it holds, tested by the ruleset's
// rules (usually the one catch-all, "All Responses") on @input, which is
// the message's text and its attachments' URLs, one a line: the result's
// value is the photo's URL, or a location's "LATITUDE,LONGITUDE". Nothing
// for a wait_message.
func (c *flowConv) mediaWait(rs ruleSet, where string) {
	m, ok := mediaWaits[rs.Type]
	if !ok {
		return
	}
	c.add(levelInfo, where, fmt.Sprintf("%s: waits for the next message, as RapidPro's engine does: the answer, %s or not, is tested by the ruleset's rules on @input (its text, then each attachment's URL, one a line; a location's as LATITUDE,LONGITUDE), which the result saves; to route on %s alone, add a %s rule", rs.Type, m.what, m.what, m.rule))
}

// isWebhookRuleset tells whether a ruleset type calls a webhook and routes
// on its outcome (webhook_status rules).
func isWebhookRuleset(typ string) bool { return typ == "webhook" || typ == "resthook" }

// resthook converts a resthook ruleset into a webhook widget that calls the
// configured webhook named after the resthook's slug: a resthook's
// subscribers live in RapidPro, so the operator configures that webhook with
// the subscriber's URL (and its credentials). The call is a POST of
// RapidPro's legacy payload, as the resthook's was; its outcome is saved as
// a webhook ruleset's. Until the webhook is configured, the call fails
// (Failure) with an error naming it.
func (c *flowConv) resthook(rs ruleSet, cfg rulesetConfig, where string) map[string]any {
	slug := strings.TrimSpace(cfg.Resthook)
	if slug == "" {
		c.add(levelError, where+" config.resthook", "resthook ruleset names no resthook")
		return nil
	}
	out := c.rules(rs, where, false)
	w := c.newWidget(rs.UUID, "webhook")
	w["webhook"] = slug
	w["method"] = "POST"
	w["body_mode"] = "rapidpro"
	c.result(w, rs)
	c.outcomes(w, out, where, map[string]string{"success": "Success", "failure": "Failure"})
	c.webhookCategories(w, out)
	c.add(levelWarning, where+" config.resthook", fmt.Sprintf(
		"resthook %q: its subscribers are kept in RapidPro, so it calls the configured webhook %q instead (a POST of RapidPro's payload): configure a webhook of that name with the subscriber's URL (--webhooks FILE, or PUT /v1/webhook-configs/%s); until then the call fails (Failure) with the error `webhook %q is not configured`",
		slug, slug, slug, slug))
	return w
}
