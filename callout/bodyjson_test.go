package callout

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/parleyhq/parley/flows"
)

// TestDefaultBodyEncoding holds the direct encoding of the default payload to
// the bytes the map gives.
func TestDefaultBodyEncoding(t *testing.T) {
	odd := "<b>&amp;</b> \"q\" \\ \x00\x01\b\f\n\r\t\x1f\x7f é 日本 \u2028\u2029 \xff\xfe bad \xe2\x82"
	sessions := map[string]func() (*flows.Session, *flows.Flow){
		"example": testSession,
		"odd strings": func() (*flows.Session, *flows.Flow) {
			sess, flow := testSession()
			sess.Input, sess.ID, sess.Contact.Name, sess.Contact.URN = odd, odd, odd, odd
			sess.Contact.Fields = map[string]string{odd: odd, "a": "", "Z": "z", "é": "1"}
			sess.Frames[0].Results = map[string]*flows.Result{
				odd: {Name: odd, Value: odd, Category: odd, Input: odd}, "b": {Name: "B"}, "a": {Value: "x"}, "nil": nil,
			}
			sess.Call.CLI, sess.Call.State = odd, odd
			flow.Name = odd
			return sess, flow
		},
		"bare": func() (*flows.Session, *flows.Flow) {
			return &flows.Session{FlowID: "f", Revision: -2}, nil
		},
		"no flow": func() (*flows.Session, *flows.Flow) {
			sess, _ := testSession()
			sess.Call.Start = sess.Call.Start.AddDate(0, 0, 0).Add(123456789)
			return sess, nil
		},
		"extra": func() (*flows.Session, *flows.Flow) {
			sess, flow := testSession()
			sess.Extra = json.RawMessage(` {"z":1.50,"a":[1e3,"<x>",null,true],"m":{"b":{},"a":"\u00e9\u2028"},"big":123456789012345678901234567890} `)
			return sess, flow
		},
		"extra invalid": func() (*flows.Session, *flows.Flow) {
			sess, flow := testSession()
			sess.Extra = json.RawMessage(`{"a":`)
			return sess, flow
		},
		"extra scalar": func() (*flows.Session, *flows.Flow) {
			sess, flow := testSession()
			sess.Extra = json.RawMessage(`"text"`)
			return sess, flow
		},
		"extra blank": func() (*flows.Session, *flows.Flow) {
			sess, flow := testSession()
			sess.Extra = json.RawMessage(" \n")
			return sess, flow
		},
	}
	groups := map[string]*flows.ParamGroups{
		"all": nil, "none": {}, "call": {Call: true}, "flow keys": {FlowKeys: true}, "user keys": {UserKeys: true},
	}
	for name, mk := range sessions {
		for gname, g := range groups {
			t.Run(name+"/"+gname, func(t *testing.T) {
				sess, flow := mk()
				want, err := marshal(DefaultBody(sess, flow, g))
				if err != nil {
					t.Fatal(err)
				}
				got, err := appendDefaultBody(nil, sess, flow, g)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("got  %s\nwant %s", got, want)
				}
				cfg := &flows.WebhookConfig{Method: "POST", Include: g}
				sent, ct, err := BuildBody(cfg, sess, flow, "", "")
				if err != nil || ct != MIMEJSON || !bytes.Equal(sent, want) {
					t.Errorf("BuildBody sent %s (%s, %v), want %s", sent, ct, err, want)
				}
			})
		}
	}
}

func FuzzDefaultBodyEncoding(f *testing.F) {
	f.Add("a-1001", "Ana", "order", "<&>", "\u2028\xff")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, input, name, key, value, extra string) {
		sess, flow := testSession()
		sess.Input, sess.Contact.Name = input, name
		sess.Frames[0].Results[key] = &flows.Result{Name: name, Value: value, Input: input}
		sess.Contact.Fields[value] = key
		sess.Extra = json.RawMessage(extra)
		want, err := marshal(DefaultBody(sess, flow, nil))
		if err != nil {
			t.Skip()
		}
		got, err := appendDefaultBody(nil, sess, flow, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}
