package server

import (
	"reflect"
	"testing"
)

// messageBodies are channel message bodies on the edges of encoding/json's
// behaviour: name case and folding, duplicates, nulls, escapes, invalid
// UTF-8, unknown members and trailing data.
var messageBodies = []string{
	`{"from":"+1555","text":"hi","id":"m1"}`,
	` {"from":"+1555"} `,
	`{"FROM":"+1555","Text":"hi","ID":"m1"}`,
	`{"from":"a","from":"b"}`,
	`{"from":"a","From":"b"}`,
	`{"from":null,"text":null}`,
	`null`,
	`{"from":"\u00e9\ud83d\ude00","text":"a\"b\\c\n"}`,
	"{\"from\":\"\xff\xfe\",\"text\":\"ok\"}",
	"{\"fr\xc5\xbfom\":\"x\"}",
	"{\"\u017fext\":\"x\",\"from\":\"y\"}",
	`{"from":"a","extra":1}`,
	`{"from":"a"}{"from":"b"}`,
	`{"from":"a"} x`,
	`{"from":1}`,
	`{"from":["a"]}`,
	`{"from":"a",}`,
	`{"from":"a"`,
	`[]`,
	`"from"`,
	``,
	`   `,
	`{}`,
	`{"text":{"a":1}}`,
	`{"id":"1","from":"x","text":""}`,
}

// TestDecodeMessage checks that decodeMessage answers every body exactly as
// decodeStrict does: the same values, or the same error.
func TestDecodeMessage(t *testing.T) {
	for _, body := range messageBodies {
		checkDecodeMessage(t, []byte(body))
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, body := range messageBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeMessage(t, body) })
}

func checkDecodeMessage(t *testing.T, body []byte) {
	t.Helper()
	var fast, strict messageBody
	ferr := decodeMessage(body, &fast)
	serr := decodeStrict(body, &strict)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: decodeMessage error %v, decodeStrict error %v", body, ferr, serr)
	}
	if ferr != nil {
		fa, sa := ferr.(*APIError), serr.(*APIError)
		if fa.Status != sa.Status || fa.Code != sa.Code || fa.Field != sa.Field || fa.Message != sa.Message {
			t.Fatalf("%q: decodeMessage error %+v, decodeStrict error %+v", body, fa, sa)
		}
		return
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%q: decodeMessage %+v, decodeStrict %+v", body, fast, strict)
	}
}
