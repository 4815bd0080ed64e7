package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A flow sent with "kind": "" is stored as it was written, byte for byte
// (its spacing, the order of its names, its "<", ">" and "&"), without the
// kind member alone.
func TestEmptyKindCutFromText(t *testing.T) {
	ts := newTestServer(t, nil)
	const sent = "{ \"widgets\" : [ {\"type\":\"send_message\",  \"id\":\"a\",\n\t\"text\":\"<b>Tom & Jerry</b>\"}],\n" +
		"  \"kind\" :\"\" ,\n  \"name\":\"K\",   \"id\": \"k\"\n}"
	const stored = "{ \"widgets\" : [ {\"type\":\"send_message\",  \"id\":\"a\",\n\t\"text\":\"<b>Tom & Jerry</b>\"}],\n" +
		"  \"name\":\"K\",   \"id\": \"k\"\n}"
	ts.must(201, "POST", "/v1/flows", sent)
	fr, err := ts.srv.store.GetFlow(context.Background(), "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(fr.Definition) != stored {
		t.Errorf("POST stored\n%s\nwant\n%s", fr.Definition, stored)
	}
	// A new revision, sent with kind last, the id given by the URL.
	ts.must(200, "PUT", "/v1/flows/k", "{\"name\" : \"K & co\",\"widgets\":[{\"id\":\"a\",\"type\":\"send_message\",\"text\":\"a<b\"}] , \"kind\":\"\"}")
	if fr, err = ts.srv.store.GetFlow(context.Background(), "k", 0); err != nil {
		t.Fatal(err)
	}
	if want := "{\"id\":\"k\",\"name\" : \"K & co\",\"widgets\":[{\"id\":\"a\",\"type\":\"send_message\",\"text\":\"a<b\"}]}"; string(fr.Definition) != want {
		t.Errorf("PUT stored\n%s\nwant\n%s", fr.Definition, want)
	}
}

func TestWithoutEmptyKind(t *testing.T) {
	for doc, want := range map[string]string{
		`{"kind":""}`:                          `{}`,
		` { "kind" : "" } `:                    ` {  } `,
		`{"kind":"","a":1}`:                    `{"a":1}`,
		`{"a":1, "kind":"" ,"b":2}`:            `{"a":1, "b":2}`,
		`{"a":1,"kind":""}`:                    `{"a":1}`,
		`{"a":1 ,"b":{"kind":""}, "kind" :""}`: `{"a":1 ,"b":{"kind":""}}`,
		`{"ki\u006ed":"","a":"<&>"}`:           `{"a":"<&>"}`,
		// Of a kind given twice, the last counts, as Load reads it.
		`{"kind":"voice","a":1,"kind":""}`: `{"a":1}`,
		`{"kind":"","kind":"voice"}`:       `{"kind":"","kind":"voice"}`,
		// Left as they are.
		`{"kind":"voice","a":"<"}`: `{"kind":"voice","a":"<"}`,
		`{"kind":null}`:            `{"kind":null}`,
		`{"a":{"kind":""}}`:        `{"a":{"kind":""}}`,
		`["kind",""]`:              `["kind",""]`,
	} {
		if got := string(withoutEmptyKind([]byte(doc))); got != want {
			t.Errorf("withoutEmptyKind(%s) = %s, want %s", doc, got, want)
		}
	}
}

// A flow sent with an id of "" gets one, written in place of the "" in the
// text as sent, the rest kept byte for byte; so does a flow with none,
// whose id goes first.
func TestGivenIDKeepsText(t *testing.T) {
	ts := newTestServer(t, nil)
	const sent = "{ \"widgets\" : [ {\"type\":\"send_message\",  \"id\":\"a\",\n\t\"text\":\"<b>Tom & Jerry</b>\"}],\n" +
		"  \"id\" :\"\" ,\n  \"name\":\"K\"\n}"
	id, _ := ts.must(201, "POST", "/v1/flows", sent)["id"].(string)
	if id == "" {
		t.Fatal("no id given")
	}
	fr, err := ts.srv.store.GetFlow(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(sent, `""`, strconv.Quote(id), 1); string(fr.Definition) != want {
		t.Errorf("stored\n%s\nwant\n%s", fr.Definition, want)
	}
	for doc, want := range map[string]string{
		`{"a":"<", "id" : null}`:    `{"a":"<", "id" : "x"}`,
		`{"id":"", "b":{"id":""}}`:  `{"id":"x", "b":{"id":""}}`,
		`{"id":"","a":1,"id":null}`: `{"id":"x","a":1,"id":"x"}`,
		`{"i\u0064":"","a":"&"}`:    `{"i\u0064":"x","a":"&"}`,
		` {"a":"&"} `:               `{"id":"x","a":"&"} `,
		` { } `:                     `{"id":"x" } `,
	} {
		got, err := withID([]byte(doc), "x")
		if err != nil || string(got) != want {
			t.Errorf("withID(%s) = %s, %v; want %s", doc, got, err, want)
		}
	}
}

// topMembers reads what withID and withoutEmptyKind edit: each member of
// the top level, in order, names unescaped and given twice as often, with
// the offsets of its name and of the end of its value in the text.
func TestTopMembers(t *testing.T) {
	type got struct {
		name       string
		start, end int
		raw        string
	}
	tests := []struct {
		doc  string
		want []got
	}{
		{`{}`, nil},
		{` { } `, nil},
		{`{"id":"","a":1}`, []got{{"id", 1, 8, `""`}, {"a", 9, 14, `1`}}},
		{` { "id" : null , "b" : {"id":""} } `, []got{{"id", 3, 14, `null`}, {"b", 17, 32, `{"id":""}`}}},
		{`{"ki\u006ed":"","kind":"voice"}`, []got{{"kind", 1, 15, `""`}, {"kind", 16, 30, `"voice"`}}},
		{`["kind",""]`, nil},
		{`"kind"`, nil},
		{`null`, nil},
	}
	for _, tt := range tests {
		var out []got
		for _, m := range topMembers([]byte(tt.doc)) {
			out = append(out, got{m.name.Str, m.start(), m.end(), m.value.Raw})
		}
		if !slices.Equal(out, tt.want) {
			t.Errorf("topMembers(%s) = %+v, want %+v", tt.doc, out, tt.want)
		}
		for _, m := range out {
			if !strings.HasSuffix(tt.doc[:m.end], m.raw) || !strings.HasPrefix(tt.doc[m.start:], `"`) {
				t.Errorf("topMembers(%s): %+v does not span its member", tt.doc, m)
			}
		}
	}
}
