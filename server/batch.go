package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/gofiber/fiber/v2"
)

// batchBody is POST /v1/channels/{id}/messages/batch: several inbound
// messages in one request, for channels that receive them in batches.
type batchBody struct {
	Messages []messageBody `json:"messages"`
}

// batchItem is one message's outcome.
type batchItem struct {
	reply *TurnReply
	err   error
}

// channelMessages handles a batch of inbound messages on a channel. Each
// message is handled as POST .../messages handles one: its own turn, dedupe
// by id and reply. Messages from one contact are handled in the order given,
// one after the other; those of different contacts at the same time, so
// their turns share group commits. The answer lists one reply per message,
// in order: the turn's reply, or {"error": ...} with the HTTP status that
// message alone would have got. Only a malformed batch, an unknown channel
// or too many messages fail the whole request.
func (s *Server) channelMessages(c *fiber.Ctx) error {
	var b batchBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	switch limit := s.cfg.BatchLimit; {
	case len(b.Messages) == 0:
		return badRequest("messages", "messages is empty: give 1 to %d messages", limit)
	case len(b.Messages) > limit:
		return badRequest("messages", "%d messages: a batch takes at most %d (--batch-limit, PARLEY_BATCH_LIMIT)", len(b.Messages), limit)
	}
	channel, err := pathParam(c, "channel")
	if err != nil {
		return err
	}
	ch, err := s.svc.channels.peek(channel)
	if err != nil {
		return err
	}
	items := make([]batchItem, len(b.Messages))
	nulls := nullAttachments(c.Body(), &b)
	// Each contact's messages, in order, by the URN the channel makes of
	// their sender.
	var contacts [][]int
	byURN := make(map[string]int, len(b.Messages))
	for i, m := range b.Messages {
		if strings.TrimSpace(m.From) == "" {
			items[i].err = badRequest("from", "from is required: the sender's address or URN")
			continue
		}
		if err := nulls[fmt.Sprintf("messages[%d].", i)]; err != nil {
			items[i].err = err
			continue
		}
		urn := ch.urnOf(m.From)
		k, ok := byURN[urn]
		if !ok {
			k = len(contacts)
			byURN[urn] = k
			contacts = append(contacts, nil)
		}
		contacts[k] = append(contacts[k], i)
	}
	ctx := c.UserContext()
	var wg sync.WaitGroup
	for _, idx := range contacts {
		wg.Go(func() {
			for _, i := range idx {
				items[i].reply, items[i].err = s.handleBatched(ctx, channel, &b.Messages[i])
			}
		})
	}
	wg.Wait()

	out := make([]byte, 0, 256*len(items))
	out = append(out, `{"replies":[`...)
	for i := range items {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = s.appendBatchItem(c, out, i, &items[i]); err != nil {
			return err
		}
	}
	out = append(out, "]}"...)
	c.Response().SetBodyRaw(out)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// handleBatched handles one message of a batch. A panic in its turn
// becomes that message's 500, as the recover middleware makes it of a
// single message, instead of ending the process from this goroutine.
func (s *Server) handleBatched(ctx context.Context, channel string, m *messageBody) (r *TurnReply, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic handling a batched message: %v\n%s", p, debug.Stack())
		}
	}()
	return s.svc.HandleMessage(ctx, Inbound{Channel: channel, From: m.From, Text: m.Text, Attachments: m.Attachments, ID: m.ID})
}

// batchError is a failed message's entry in a batch answer.
type batchError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (s *Server) appendBatchItem(c *fiber.Ctx, out []byte, i int, it *batchItem) ([]byte, error) {
	if it.err == nil {
		if it.reply.encoded != nil {
			return append(out, it.reply.encoded...), nil
		}
		return appendReplyJSON(out, it.reply)
	}
	ae := toAPIError(it.err)
	switch {
	case writesFail(it.err):
		// Logged once by the store, when its writes began to fail.
		s.reqLog(c).Debug("batch message not served while the store's writes fail", "index", i, "status", ae.Status, "code", ae.Code, "err", it.err)
	case ae.Status >= 500:
		s.reqLog(c).Error("batch message failed", "index", i, "status", ae.Status, "code", ae.Code, "err", it.err)
	}
	field := fmt.Sprintf("messages[%d]", i)
	switch {
	case ae.Code == CodeNoFlow:
		// The channel is at fault, not the message: its field is named as
		// the single-message endpoint names it (default_flow,
		// triggers[0].flow).
		field = ae.Field
	case ae.Field != "":
		field += "." + ae.Field
	}
	b, err := jsonv1.Marshal(struct {
		Error batchError `json:"error"`
	}{batchError{Status: ae.Status, Code: ae.Code, Message: ae.Message, Field: field}})
	return append(out, b...), err
}
