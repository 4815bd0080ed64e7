package server

import (
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/internal/jsonstr"
)

// A turn's reply is written by hand, byte for byte as jsonv1.Marshal writes
// it (the replies' encoder, see routes.go), because encoding it by
// reflection was a few percent of a message's CPU. TestReplyJSONBytes holds
// the two to the same bytes, and fails when TurnReply, Message or
// WaitingFor gain a field this does not write.

// encodeReply returns r's JSON.
func encodeReply(r *TurnReply) ([]byte, error) {
	return appendReplyJSON(make([]byte, 0, replySize(r)), r)
}

// appendReplyJSON appends r's JSON to b.
func appendReplyJSON(b []byte, r *TurnReply) ([]byte, error) {
	if out, ok := appendReply(b, r); ok {
		return out, nil
	}
	v, err := jsonv1.Marshal(r)
	return append(b, v...), err
}

// replySize is a guess at a reply's JSON length, enough for most.
func replySize(r *TurnReply) int {
	n := 160 + len(r.ID) + len(r.Flow)
	for i := range r.Messages {
		n += 64 + len(r.Messages[i].Text) + len(r.Messages[i].URL)
	}
	return n
}

// appendReply appends r as jsonv1.Marshal does; false when it cannot (a
// wait timeout that time.Time.MarshalJSON would refuse), for the library to
// encode or report.
func appendReply(b []byte, r *TurnReply) ([]byte, bool) {
	const m = jsonstr.V1
	b = append(b, '{')
	start := len(b)
	b = jsonstr.AppendOptString(b, `,"id":`, r.ID, m)
	b = jsonstr.AppendOptString(b, `,"flow":`, r.Flow, m)
	b = jsonstr.AppendOptString(b, `,"status":`, string(r.Status), m)
	b = append(b, `,"messages":`...)
	if r.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Messages {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMessage(b, &r.Messages[i])
		}
		b = append(b, ']')
	}
	if w := r.WaitingFor; w != nil {
		b = append(b, `,"waiting_for":{"kind":`...)
		b = jsonstr.Append(b, w.Kind, m)
		b = jsonstr.AppendOptInt(b, `,"timeout":`, int64(w.Timeout))
		if w.TimeoutAt != nil {
			if !jsonstr.TimeOK(*w.TimeoutAt) {
				return nil, false
			}
			b = append(b, `,"timeout_at":`...)
			b = jsonstr.AppendTime(b, *w.TimeoutAt)
		}
		b = jsonstr.AppendOptInt(b, `,"num_digits":`, int64(w.NumDigits))
		b = jsonstr.AppendOptString(b, `,"finish_key":`, w.FinishKey, m)
		b = jsonstr.AppendOptInt(b, `,"max_length":`, int64(w.MaxLength))
		b = jsonstr.AppendOptInt(b, `,"silence_timeout":`, int64(w.SilenceTimeout))
		b = appendOptBool(b, `,"play_beep":`, w.PlayBeep)
		b = append(b, '}')
	}
	// Every field above starts with a comma; the first one does not.
	copy(b[start:], b[start+1:])
	b[len(b)-1] = '}'
	return b, true
}

func appendMessage(b []byte, msg *Message) []byte {
	const m = jsonstr.V1
	b = append(b, `{"type":`...)
	b = jsonstr.Append(b, msg.Type, m)
	b = jsonstr.AppendOptString(b, `,"widget":`, msg.Widget, m)
	b = jsonstr.AppendOptString(b, `,"text":`, msg.Text, m)
	b = jsonstr.AppendOptStrings(b, `,"quick_replies":`, msg.QuickReplies, m)
	b = jsonstr.AppendOptStrings(b, `,"attachments":`, msg.Attachments, m)
	b = jsonstr.AppendOptString(b, `,"url":`, msg.URL, m)
	b = jsonstr.AppendOptString(b, `,"voice":`, msg.Voice, m)
	b = jsonstr.AppendOptString(b, `,"language":`, msg.Language, m)
	b = jsonstr.AppendOptInt(b, `,"num_digits":`, int64(msg.NumDigits))
	b = jsonstr.AppendOptString(b, `,"finish_key":`, msg.FinishKey, m)
	b = jsonstr.AppendOptInt(b, `,"timeout":`, int64(msg.Timeout))
	b = jsonstr.AppendOptInt(b, `,"max_length":`, int64(msg.MaxLength))
	b = appendOptBool(b, `,"play_beep":`, msg.PlayBeep)
	return append(b, '}')
}

// appendOptBool appends key and *v, nothing when v is nil.
func appendOptBool(b []byte, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	b = append(b, key...)
	if *v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}
