package store

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/jsonstr"
)

// A session's JSON is written by hand on every save, byte for byte as
// jsonv1.Marshal writes it (records.go says why and what goes to the
// library instead), since reflection over the session's structs, maps and
// times was half the cost of encoding and compressing it.
// session_json_test.go fills every field of the session's types by
// reflection, so a field added to flows.Session or the types in it and not
// written here fails the tests.

// appendSession appends s as jsonv1.Marshal does; false when it cannot.
func appendSession(b []byte, s *flows.Session) ([]byte, bool) {
	if !sessionTimesOK(s) {
		return nil, false
	}
	var ok bool
	b = append(b, `{"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"flow":`...)
	b = appendJSONString(b, s.FlowID)
	b = jsonstr.AppendOptInt(b, `,"revision":`, int64(s.Revision))
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(s.Status))
	b = appendOptString(b, `,"env":`, s.Environment)
	b = append(b, `,"contact":`...)
	if b, ok = appendContact(b, &s.Contact); !ok {
		return nil, false
	}
	if s.SandboxContact {
		b = append(b, `,"sandbox_contact":true`...)
	}
	if c := s.Channel; c != nil {
		b = append(b, `,"channel":{"id":`...)
		b = appendJSONString(b, c.ID)
		b = appendOptString(b, `,"name":`, c.Name)
		b = appendOptString(b, `,"type":`, c.Type)
		b = appendOptString(b, `,"address":`, c.Address)
		b = append(b, '}')
	}
	if c := s.Call; c != nil {
		b = append(b, `,"call":{`...)
		n := len(b)
		b = appendOptString(b, `,"id":`, c.ID)
		b = appendOptString(b, `,"cli":`, c.CLI)
		b = appendOptString(b, `,"to":`, c.To)
		b = appendOptString(b, `,"state":`, c.State)
		b = append(b, `,"start":`...)
		b = jsonstr.AppendTime(b, c.Start)
		b = appendOptString(b, `,"digits":`, c.Digits)
		b = append(b[:n], b[n+1:]...) // the first member's comma
		b = append(b, '}')
	}
	if s.CallTwiML {
		b = append(b, `,"call_twiml":true`...)
	}
	b = append(b, `,"frames":`...)
	if s.Frames == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range s.Frames {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendFrame(b, f); !ok {
				return nil, false
			}
		}
		b = append(b, ']')
	}
	if len(s.Extra) > 0 {
		b = append(b, `,"extra":`...)
		if b, ok = appendRaw(b, s.Extra); !ok {
			return nil, false
		}
	}
	b = appendOptString(b, `,"input":`, s.Input)
	b = appendOptStrings(b, `,"attachments":`, s.Attachments)
	if w := s.Wait; w != nil {
		b = append(b, `,"wait":{"widget":`...)
		b = appendJSONString(b, w.Widget)
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, w.Kind)
		b = jsonstr.AppendOptInt(b, `,"timeout":`, int64(w.Timeout))
		b = appendOptTime(b, `,"timeout_at":`, w.TimeoutAt)
		b = jsonstr.AppendOptInt(b, `,"num_digits":`, int64(w.NumDigits))
		b = appendOptString(b, `,"finish_key":`, w.FinishKey)
		b = jsonstr.AppendOptInt(b, `,"max_length":`, int64(w.MaxLength))
		b = jsonstr.AppendOptInt(b, `,"silence":`, int64(w.Silence))
		if w.NoBeep {
			b = append(b, `,"no_beep":true`...)
		}
		b = jsonstr.AppendOptInt(b, `,"no_input":`, int64(w.NoInput))
		b = jsonstr.AppendOptInt(b, `,"no_match":`, int64(w.NoMatch))
		b = append(b, '}')
	}
	if len(s.Path) > 0 {
		b = append(b, `,"path":[`...)
		for i := range s.Path {
			st := &s.Path[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"w":`...)
			b = appendJSONString(b, st.Widget)
			b = appendOptString(b, `,"f":`, st.Flow)
			b = appendOptString(b, `,"x":`, st.Exit)
			b = append(b, `,"t":`...)
			b = jsonstr.AppendTime(b, st.At)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = jsonstr.AppendOptInt(b, `,"path_dropped":`, int64(s.PathDropped))
	b = appendOptString(b, `,"launch_id":`, s.LaunchID)
	b = appendOptString(b, `,"lang":`, s.Language)
	b = append(b, `,"created":`...)
	b = jsonstr.AppendTime(b, s.CreatedAt)
	b = append(b, `,"updated":`...)
	b = jsonstr.AppendTime(b, s.UpdatedAt)
	b = appendOptTime(b, `,"ended":`, s.EndedAt)
	b = appendOptTime(b, `,"expires":`, s.ExpiresAt)
	return append(b, '}'), true
}

// sessionTimesOK reports whether every time in s passes jsonstr.TimeOK.
func sessionTimesOK(s *flows.Session) bool {
	if !jsonstr.TimeOK(s.CreatedAt) || !jsonstr.TimeOK(s.UpdatedAt) ||
		s.EndedAt != nil && !jsonstr.TimeOK(*s.EndedAt) || s.ExpiresAt != nil && !jsonstr.TimeOK(*s.ExpiresAt) ||
		s.Call != nil && !jsonstr.TimeOK(s.Call.Start) ||
		s.Wait != nil && s.Wait.TimeoutAt != nil && !jsonstr.TimeOK(*s.Wait.TimeoutAt) {
		return false
	}
	for i := range s.Path {
		if !jsonstr.TimeOK(s.Path[i].At) {
			return false
		}
	}
	return true
}

func appendContact(b []byte, c *flows.Contact) ([]byte, bool) {
	b = append(b, '{')
	n := len(b)
	b = appendOptString(b, `,"urn":`, c.URN)
	b = appendOptString(b, `,"name":`, c.Name)
	b = appendOptString(b, `,"language":`, c.Language)
	if len(c.Fields) > 0 {
		keys, ok := sortedKeys(c.Fields)
		if !ok {
			return nil, false
		}
		b = append(b, `,"fields":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, c.Fields[k])
		}
		b = append(b, '}')
	}
	b = appendOptStrings(b, `,"groups":`, c.Groups)
	if len(b) > n {
		b = append(b[:n], b[n+1:]...) // the first member's comma
	}
	return append(b, '}'), true
}

func appendFrame(b []byte, f *flows.Frame) ([]byte, bool) {
	if f == nil {
		return append(b, "null"...), true
	}
	b = append(b, `{"flow":`...)
	b = appendJSONString(b, f.FlowID)
	b = jsonstr.AppendOptInt(b, `,"revision":`, int64(f.Revision))
	b = appendOptString(b, `,"widget":`, f.Widget)
	var ok bool
	if len(f.Results) > 0 {
		if b, ok = appendResults(append(b, `,"results":`...), f.Results); !ok {
			return nil, false
		}
	}
	if len(f.Child) > 0 {
		if b, ok = appendResults(append(b, `,"child":`...), f.Child); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

func appendResults(b []byte, m map[string]*flows.Result) ([]byte, bool) {
	keys, ok := sortedKeys(m)
	if !ok {
		return nil, false
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		r := m[k]
		if r == nil {
			b = append(b, "null"...)
			continue
		}
		if !jsonstr.TimeOK(r.At) {
			return nil, false
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, r.Value)
		b = appendOptString(b, `,"category":`, r.Category)
		b = appendOptString(b, `,"input":`, r.Input)
		b = appendOptString(b, `,"widget":`, r.Widget)
		if len(r.JSON) > 0 {
			b = append(b, `,"json":`...)
			if b, ok = appendRaw(b, r.JSON); !ok {
				return nil, false
			}
		}
		b = append(b, `,"at":`...)
		b = jsonstr.AppendTime(b, r.At)
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// sortedKeys returns m's keys in the library's order (byte order of the
// keys, as the library sorts names); false when a key is not valid UTF-8,
// which the library would sort after replacing its bad bytes.
func sortedKeys[V any](m map[string]V) ([]string, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !utf8.ValidString(k) {
			return nil, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, true
}

func appendOptTime(b []byte, name string, t *time.Time) []byte {
	if t == nil {
		return b
	}
	b = append(b, name...)
	return jsonstr.AppendTime(b, *t)
}

// sessionJSONSize is a guess at a session's JSON length, enough for most.
func sessionJSONSize(s *flows.Session) int {
	n := 512 + len(s.Extra) + 80*len(s.Path)
	for _, f := range s.Frames {
		if f != nil {
			n += 160 * (len(f.Results) + len(f.Child))
		}
	}
	return n + 32*len(s.Contact.Fields)
}
