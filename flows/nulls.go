package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// nullAt is a JSON null where the Go value that decodes it takes none: its
// path, relative to the document walked, and the type expected there.
type nullAt struct {
	path string
	t    reflect.Type
	// in is the path of the object or array the null is a member or an
	// element of ("" for the document's own members).
	in string
}

// message says what was expected, as a value of the wrong kind is said.
func (n nullAt) message() string {
	return fmt.Sprintf("expected %s, got JSON null", JSONKind(n.t))
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	jsonValueType  = reflect.TypeFor[jsontext.Value]()
)

// findNulls walks the well-formed document doc with the Go type t that
// decodes it, and returns each null, in document order, at a field, an
// element or a map value whose type is not raw JSON (a widget's position)
// nor an interface. The decoder leaves such a value at its zero value, as
// encoding/json did, so {"text": null} read as "" and a header given as
// null was sent empty; the schema refuses null there. A value of the wrong
// kind, or an unknown field, is not walked: decoding reports it. A name
// given twice in an object is judged by the value the decoder keeps, the
// last one's (see replaced): a null that a later value replaces is no null
// of the document read.
func findNulls(doc []byte, t reflect.Type) []nullAt {
	nulls, _ := scanDoc(doc, t, bytes.Contains(doc, []byte("null")), false)
	return nulls
}

// scanDoc walks the document doc once, read into a value of type t, for
// what decoding does not report: with nulls, its nulls (findNulls), which
// takes a walk of every value; with repeats, the names given twice in its
// headers objects (repeatedHeaders), which alone walks only the values
// that may hold one (see hasHeaders). A caller asks for what the document
// can hold (a widget without "null" has no null): with neither, nothing is
// walked, as for most widgets of a large flow. A document that is not
// well-formed has neither: CheckSyntax reports it.
func scanDoc(doc []byte, t reflect.Type, nulls, repeats bool) ([]nullAt, []*FieldError) {
	if !nulls && !repeats {
		return nil, nil
	}
	r := readers.Get().(*docReader)
	defer readers.Put(r)
	// A bytes.Buffer is read in place, without a copy.
	*r.buf = *bytes.NewBuffer(doc)
	r.dec.Reset(r.buf, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	defer func() {
		r.buf.Reset() // not to hold the document
		r.dec.Reset(r.buf)
	}()
	w := docWalk{dec: r.dec, nulls: nulls, repeats: repeats}
	if w.walk(t, "", "", false, false) != nil {
		return nil, nil
	}
	return w.nullsFound, w.repeatsFound
}

// docWalk is one walk of a document (scanDoc).
type docWalk struct {
	dec            *jsontext.Decoder
	nulls, repeats bool
	nullsFound     []nullAt
	repeatsFound   []*FieldError
}

// walk walks the value at path, of type t, in the object or array at in.
// again is true for an object the decoder merges into one given before for
// the same name (see replaced): each of its members replaces what that one
// gave for its name. headers is true for a headers object, whose names
// given twice are reported.
func (w *docWalk) walk(t reflect.Type, path, in string, again, headers bool) error {
	dec := w.dec
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t == jsonValueType || t.Kind() == reflect.Interface {
		return dec.SkipValue()
	}
	switch k := dec.PeekKind(); {
	case k == 'n' && w.nulls:
		w.nullsFound = append(w.nullsFound, nullAt{path, t, in})
		_, err := dec.ReadToken()
		return err
	case k == '{' && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		var seen map[string]bool // for nulls
		var count map[string]int // for repeats
		if headers && w.repeats {
			count = map[string]int{}
		}
		var buf []byte
		for dec.PeekKind() != '}' {
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			// The name as it is written, without a copy when it holds no
			// escape, as nearly every name; else unquoted. A null's path
			// names the member as the decoder reads it, each byte that is
			// not UTF-8 as U+FFFD (AllowInvalidUTF8).
			name := raw[1 : len(raw)-1]
			if bytes.IndexByte(name, '\\') >= 0 || w.nulls && !utf8.Valid(name) {
				if buf, err = jsontext.AppendUnquote(buf[:0], raw); err != nil && !w.nulls {
					return err
				}
				name = buf
			}
			var ft reflect.Type
			if fields != nil {
				ft = fields[string(name)]
			} else {
				ft = t.Elem()
			}
			if count != nil {
				if count[string(name)]++; count[string(name)] == 2 {
					w.repeatsFound = append(w.repeatsFound, &FieldError{Path: MemberPath(path, string(name)), Err: ErrRepeatedHeader,
						Message: fmt.Sprintf("the name %q is given twice in its object; give each name once", name)})
				}
			}
			if ft == nil {
				// Unknown: decoding reports it.
				if err := dec.SkipValue(); err != nil {
					return err
				}
				continue
			}
			isHeaders := false
			if w.repeats && fields != nil && string(name) == "headers" {
				et := ft
				for et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				isHeaders = et.Kind() == reflect.Map
			}
			if !w.nulls {
				if !isHeaders && !hasHeaders(ft, nil) {
					// A value that holds no headers object: a widget's
					// exits, its text, an auth.
					if err := dec.SkipValue(); err != nil {
						return err
					}
					continue
				}
				if err := w.walk(ft, MemberPath(path, string(name)), path, false, isHeaders); err != nil {
					return err
				}
				continue
			}
			key := string(name)
			mp := MemberPath(path, key)
			repeat := again || seen[key]
			merge := dec.PeekKind() == '{' && merges(ft)
			if repeat {
				w.nullsFound = replaced(w.nullsFound, mp, merge)
			}
			if !seen[key] {
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[key] = true
			}
			if err := w.walk(ft, mp, path, repeat && merge, isHeaders); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	case k == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			if err := w.walk(t.Elem(), joinPath(path, "["+strconv.Itoa(i)+"]"), path, false, false); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	}
	return dec.SkipValue()
}

// replaced drops from nulls those that a later occurrence of the member at
// path, in the same object, replaces: the decoder keeps the last value of
// a name given twice, so {"text": null, "text": "hi"} reads "hi". A later
// object decoded into a struct or a map is merged into the earlier value,
// member by member (merge): it replaces only a null given for the member
// itself, and those inside the earlier object stay unless it gives their
// names again. Any other later value replaces the earlier one whole.
func replaced(nulls []nullAt, path string, merge bool) []nullAt {
	return slices.DeleteFunc(nulls, func(n nullAt) bool {
		return n.path == path || !merge && isUnder(n.path, path)
	})
}

// merges reports whether the decoder merges a JSON object into a value of
// type t that holds one already: a struct or a map, or a pointer to one.
func merges(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

// fieldsOf caches jsonFields by type: the walks for nulls and repeated
// headers look a widget's fields up for every widget of a flow.
var fieldsOf sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of the fields of struct type t to their
// types, those of embedded structs included, as the decoder matches them.
// The map is shared: callers must not modify it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := structFields(t)
	fieldsOf.Store(t, m)
	return m
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		// A struct's own fields first: they hide an embedded one's.
		var embedded []reflect.Type
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			switch {
			case tag == "-" || (!sf.IsExported() && !sf.Anonymous):
			case sf.Anonymous && tag == "":
				et := sf.Type
				for et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					embedded = append(embedded, et)
				}
			case sf.IsExported():
				if tag == "" {
					tag = sf.Name
				}
				if _, ok := out[tag]; !ok {
					out[tag] = sf.Type
				}
			}
		}
		for _, et := range embedded {
			add(et)
		}
	}
	add(t)
	return out
}

// errNullHeader marks NullHeaders' problems: the rest of the document is
// read all the same (see Near).
var errNullHeader = errors.New("header given as null")

// NullHeaders reports each header given as null in the well-formed JSON
// document doc, read into a value of v's type (a pointer): a value of an
// object "headers" (a webhook's, a configured webhook's, an event
// endpoint's, a mock's answer) that the decoder would read as an empty
// header. Flows refuse it as they refuse any null (expected a string, got
// JSON null), and so do the other documents and bodies that give headers,
// at the same path: headers.X, webhooks[0].headers.X. A null that a later
// value for the same name replaces is no null, as in a flow.
func NullHeaders(doc []byte, v any) []*FieldError {
	t := reflect.TypeOf(v)
	if !hasHeaders(t, nil) {
		return nil // most request bodies: the walk is not needed
	}
	var out []*FieldError
	for _, n := range findNulls(TrimBOM(doc), t) {
		if n.in == "headers" || strings.HasSuffix(n.in, ".headers") {
			out = append(out, &FieldError{Path: n.path, Message: n.message(), Err: errNullHeader})
		}
	}
	return out
}

// NullElements reports each element of a list given as null in the
// well-formed JSON document doc, read into a value of v's type (a
// pointer), which the decoder would read as the element's zero value: a
// configured webhook's auth.scopes [null] as one empty scope. A flow
// refuses it as it refuses any null; a configured webhook, which reads a
// field given as null as not given, refuses it too, as no field.
func NullElements(doc []byte, v any) []*FieldError {
	var out []*FieldError
	for _, n := range findNulls(TrimBOM(doc), reflect.TypeOf(v)) {
		if strings.HasSuffix(n.path, "]") {
			out = append(out, &FieldError{Path: n.path, Message: n.message()})
		}
	}
	return out
}

// headersIn caches hasHeaders by type.
var headersIn sync.Map // reflect.Type → bool

// hasHeaders reports whether a value of type t can hold a field "headers"
// that is a map, at any depth. seen holds the types being looked at, for
// types that contain themselves.
func hasHeaders(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := headersIn.Load(t); ok {
		return v.(bool)
	}
	if seen[t] {
		return false
	}
	if seen == nil {
		seen = map[reflect.Type]bool{}
	}
	seen[t] = true
	found := false
	switch t.Kind() {
	case reflect.Struct:
		for name, ft := range jsonFields(t) {
			et := ft
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if name == "headers" && et.Kind() == reflect.Map || hasHeaders(ft, seen) {
				found = true
				break
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		found = hasHeaders(t.Elem(), seen)
	}
	headersIn.Store(t, found)
	return found
}

// ErrRepeatedHeader marks RepeatedHeaders' problems: a header whose name is
// given twice in one headers object, of which the decoder would keep the
// last value in silence.
var ErrRepeatedHeader = errors.New("header given twice")

// RepeatedHeaders reports each header whose name is given again in the same
// "headers" object of the well-formed JSON document doc, read into a value
// of v's type (a pointer): the decoder keeps the last value, so one of two
// credentials ({"Authorization": "a", "Authorization": "b"}) would be sent
// and the other dropped without a word. Each problem is at the header's
// path (headers.Authorization, webhooks[0].headers.Authorization), once
// however many times the name is given again, and says what an API
// request with a name given twice is told. Names that differ in case
// (Authorization, authorization) are a problem their validation reports.
func RepeatedHeaders(doc []byte, v any) []*FieldError {
	t := reflect.TypeOf(v)
	if !hasHeaders(t, nil) {
		return nil
	}
	return repeatedHeaders(TrimBOM(doc), t)
}

// repeatedHeaders is RepeatedHeaders for a value of type t.
func repeatedHeaders(doc []byte, t reflect.Type) []*FieldError {
	_, repeats := scanDoc(doc, t, false, bytes.Contains(doc, []byte(`"headers"`)))
	return repeats
}

// docReader is a decoder and the buffer it reads, kept for the next
// widget: a new decoder costs more than the walk of a small widget.
type docReader struct {
	buf *bytes.Buffer
	dec *jsontext.Decoder
}

var readers = sync.Pool{New: func() any {
	buf := new(bytes.Buffer)
	return &docReader{buf: buf, dec: jsontext.NewDecoder(buf)}
}}
