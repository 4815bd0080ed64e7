package callout

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsonstr"
)

// appendDefaultBody appends the JSON encoding of DefaultBody(sess, flow,
// groups) to dst, byte for byte what marshal gives for the map (keys sorted,
// no HTML escaping) without building it: the default payload is what most
// webhook calls send, and the map and reflection cost more than the call's
// own bookkeeping. TestDefaultBodyEncoding holds the two to the same bytes.
func appendDefaultBody(dst []byte, sess *flows.Session, flow *flows.Flow, groups *flows.ParamGroups) ([]byte, error) {
	all := groups == nil
	results := sess.Results()
	keys := make([]string, 0, len(results))
	for k, r := range results {
		if r != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	dst = append(dst, '{')
	if len(sess.Attachments) > 0 {
		dst = append(dst, `"attachments":[`...)
		for i, a := range sess.Attachments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, a)
		}
		dst = append(dst, "],"...)
	}
	if c := sess.Call; c != nil && (all || groups.Call) {
		dst = append(dst, `"call":{"cli":`...)
		dst = appendString(dst, c.CLI)
		dst = append(dst, `,"id":`...)
		dst = appendString(dst, c.ID)
		dst = append(dst, `,"start":`...)
		dst = appendString(dst, secondStamp(c.Start))
		dst = append(dst, `,"state":`...)
		dst = appendString(dst, c.State)
		dst = append(dst, `,"to":`...)
		dst = appendString(dst, c.To)
		dst = append(dst, "},"...)
	}
	dst = append(dst, `"contact":{"name":`...)
	dst = appendString(dst, sess.Contact.Name)
	dst = append(dst, `,"urn":`...)
	dst = appendString(dst, sess.Contact.URN)
	dst = append(dst, `},"extra":`...)
	if len(bytes.TrimSpace(sess.Extra)) == 0 {
		dst = append(dst, "null"...)
	} else {
		// Whatever the session holds is decoded and encoded again, as the
		// map does: keys sorted, numbers as written, invalid JSON as null.
		b, err := marshal(decodeJSON(sess.Extra))
		if err != nil {
			return nil, err
		}
		dst = append(dst, b...)
	}
	id, name, rev := sess.FlowID, "", sess.Revision
	if top := sess.Top(); top != nil {
		id, rev = top.FlowID, top.Revision
	}
	if flow != nil {
		id, name, rev = flow.ID, flow.Name, flow.Revision
	}
	dst = append(dst, `,"flow":{"id":`...)
	dst = appendString(dst, id)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, name)
	dst = append(dst, `,"revision":`...)
	dst = strconv.AppendInt(dst, int64(rev), 10)
	dst = append(dst, '}')
	if all || groups.FlowKeys {
		dst = append(dst, `,"flow_keys":{`...)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, results[k].Value)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"results":{`...)
	for i, k := range keys {
		r := results[k]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, `:{"category":`...)
		dst = appendString(dst, r.Category)
		if d, ok := recordingDuration(flow, r); ok {
			dst = append(dst, `,"duration":`...)
			dst = appendString(dst, d)
		}
		dst = append(dst, `,"input":`...)
		dst = appendString(dst, r.Input)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, r.Name)
		dst = append(dst, `,"value":`...)
		dst = appendString(dst, r.Value)
		dst = append(dst, '}')
	}
	dst = append(dst, `},"session":`...)
	dst = appendString(dst, sess.ID)
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, sess.Input)
	if all || groups.UserKeys {
		dst = append(dst, `,"user_keys":{`...)
		fields := sess.Contact.Fields
		fk := make([]string, 0, len(fields))
		for k := range fields {
			fk = append(fk, k)
		}
		slices.Sort(fk)
		for i, k := range fk {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, fields[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendString appends s quoted as encoding/json does with HTML escaping
// off: invalid UTF-8 replaced by \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	return jsonstr.Append(dst, s, 0)
}
