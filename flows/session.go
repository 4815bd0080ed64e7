package flows

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Status is a session's state.
type Status string

// Session statuses.
const (
	StatusActive      Status = "active"
	StatusWaiting     Status = "waiting"
	StatusCompleted   Status = "completed"
	StatusExpired     Status = "expired"
	StatusFailed      Status = "failed"
	StatusInterrupted Status = "interrupted"
)

// Ended reports whether the status is final.
func (s Status) Ended() bool {
	switch s {
	case StatusCompleted, StatusExpired, StatusFailed, StatusInterrupted:
		return true
	}
	return false
}

// Environments: simulator sessions are sandbox sessions.
const (
	EnvLive    = "live"
	EnvSandbox = "sandbox"
)

// Session is one contact's run of a flow: plain data that round-trips through
// JSON, so a turn can end in one process and the next start in another.
type Session struct {
	ID          string  `json:"id"`
	FlowID      string  `json:"flow"`
	Revision    int     `json:"revision,omitempty"`
	Status      Status  `json:"status"`
	Environment string  `json:"env,omitempty"`
	Contact     Contact `json:"contact"`
	// SandboxContact marks a sandbox session's test contact (the web
	// simulator's, or an API start's with environment sandbox): the flow sees
	// its URN as given, while the store keeps it, its fields and its
	// sessions under ContactKey, apart from a live contact with that URN.
	SandboxContact bool     `json:"sandbox_contact,omitempty"`
	Channel        *Channel `json:"channel,omitempty"`
	Call           *Call    `json:"call,omitempty"`
	// CallTwiML marks a call whose requests come from Twilio's voice
	// webhook, whose turns are answered as TwiML: a turn the server runs
	// on its own (a wait's timeout it fires, an expiry) is later answered
	// as TwiML too, and warns of what that leaves out as theirs do.
	CallTwiML bool `json:"call_twiml,omitempty"`
	// Frames is the stack of running flows: Frames[0] is the flow the session
	// started on; a subflow pushes a frame and pops it when it ends.
	Frames []*Frame `json:"frames"`
	// Extra is the JSON answer of the last webhook call (@extra).
	Extra json.RawMessage `json:"extra,omitempty"`
	// Input is the last inbound text or digits (@input, @step.value); for
	// a message with attachments, its text then their URLs, one a line
	// (InputWithAttachments), as goflow's @input is.
	Input string `json:"input,omitempty"`
	// Attachments are the last inbound message's attachments
	// (@input.attachments), CONTENT-TYPE:URL each; nil for a message
	// without any.
	Attachments []string `json:"attachments,omitempty"`
	Wait        *Wait    `json:"wait,omitempty"`
	// Path is the widgets visited, oldest first: the latest ones, as many
	// as the engine keeps (engine.WithMaxPath).
	Path []Step `json:"path,omitempty"`
	// PathDropped counts the steps dropped from the start of Path to keep
	// it within the engine's limit: when it is not 0, Path is not complete.
	PathDropped int `json:"path_dropped,omitempty"`
	// LaunchID is the id of the request that launched the session, if any.
	LaunchID string `json:"launch_id,omitempty"`
	// Language is the session's language (ISO 639-3), for flows with translations.
	Language  string     `json:"lang,omitempty"`
	CreatedAt time.Time  `json:"created"`
	UpdatedAt time.Time  `json:"updated"`
	EndedAt   *time.Time `json:"ended,omitempty"`
	// ExpiresAt is when a waiting session expires if no input arrives.
	ExpiresAt *time.Time `json:"expires,omitempty"`
}

// Frame is one flow on a session's stack.
type Frame struct {
	FlowID   string `json:"flow"`
	Revision int    `json:"revision,omitempty"`
	// Widget is where the frame is: waiting there, or the subflow widget that
	// called the frame above it.
	Widget  string             `json:"widget,omitempty"`
	Results map[string]*Result `json:"results,omitempty"`
	// Child holds the results of the last subflow this frame ran (@child).
	Child map[string]*Result `json:"child,omitempty"`
}

// SandboxContactPrefix starts the key a simulator's test contact is stored
// under (ContactKey): tel:+12065551212 is kept as sim:tel:+12065551212.
const SandboxContactPrefix = "sim:"

// ContactKey is the key the session's contact is stored, indexed and locked
// under: its URN, or for a test contact (SandboxContact)
// SandboxContactPrefix + its URN, so that a simulation never reads or
// changes a live contact's fields, sessions or lock. Empty when the session
// has no contact.
func (s *Session) ContactKey() string {
	return ContactKey(s.Contact.URN, s.SandboxContact)
}

// ContactKey is the store key of a contact's URN; see Session.ContactKey.
func ContactKey(urn string, sandbox bool) string {
	if sandbox && urn != "" {
		return SandboxContactPrefix + urn
	}
	return urn
}

// Top returns the running frame.
func (s *Session) Top() *Frame {
	if len(s.Frames) == 0 {
		return nil
	}
	return s.Frames[len(s.Frames)-1]
}

// Results returns the results of the running frame (@flow).
func (s *Session) Results() map[string]*Result {
	if f := s.Top(); f != nil {
		return f.Results
	}
	return nil
}

// Contact is who the session is with. Fields are the per-contact user keys
// ($user.key.X, @contact.fields.X) that persist across sessions.
type Contact struct {
	URN      string            `json:"urn,omitempty"`
	Name     string            `json:"name,omitempty"`
	Language string            `json:"language,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	Groups   []string          `json:"groups,omitempty"`
}

// Channel is the channel a session runs on (@channel.*).
type Channel struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	Address string `json:"address,omitempty"`
}

// CallStart is the start of a call's session as a Call keeps it: t in UTC,
// to the second, as the flow sees it ($call.start renders to the second),
// so that the session the API shows and the simulator's variables say what
// the flow sees.
func CallStart(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// Call is the phone call of an IVR session ($call.*).
type Call struct {
	ID     string    `json:"id,omitempty"`
	CLI    string    `json:"cli,omitempty"`
	To     string    `json:"to,omitempty"`
	State  string    `json:"state,omitempty"`
	Start  time.Time `json:"start"`
	Digits string    `json:"digits,omitempty"`
}

// CallEnded reports whether a call state is one a call ends in (Twilio's
// CallStatus names, in any case). "cancelled" is one: the server keeps it as
// "canceled", and sessions stored by earlier versions may hold it.
func CallEnded(state string) bool {
	switch strings.ToLower(state) {
	case "completed", "busy", "failed", "no-answer", "canceled", "cancelled":
		return true
	}
	return false
}

// Result is a value a flow collected (@flow.KEY): value, category and the input
// it was taken from. Key is the snake_case form of Name.
type Result struct {
	Name     string          `json:"name"`
	Value    string          `json:"value"`
	Category string          `json:"category,omitempty"`
	Input    string          `json:"input,omitempty"`
	Widget   string          `json:"widget,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	At       time.Time       `json:"at"`
}

// Wait is what a session is waiting for.
type Wait struct {
	Widget string `json:"widget"`
	// Kind is "message", "digits", "recording" or "subflow".
	Kind string `json:"kind"`
	// Timeout in seconds (0: none); TimeoutAt is when it fires.
	Timeout   int        `json:"timeout,omitempty"`
	TimeoutAt *time.Time `json:"timeout_at,omitempty"`
	// For digit gathers: how many digits, and the key that ends input early.
	NumDigits int    `json:"num_digits,omitempty"`
	FinishKey string `json:"finish_key,omitempty"`
	// For recordings: the longest recording and the seconds of silence
	// that end it, in seconds, and whether no beep starts it (Timeout is
	// then the longest the whole recording may take).
	MaxLength int  `json:"max_length,omitempty"`
	Silence   int  `json:"silence,omitempty"`
	NoBeep    bool `json:"no_beep,omitempty"`
	// Counters widgets keep across re-prompts (no-input and no-match retries).
	NoInput int `json:"no_input,omitempty"`
	NoMatch int `json:"no_match,omitempty"`
}

// Ignores reports whether a session waiting so takes in as no answer at
// all: text or digits while a recording is waited for, or a recording
// while anything else is. Such an input is answered with a warning and
// changes nothing of the session: its input, its wait and its timers stay
// as they were.
func (w *Wait) Ignores(in Input) bool {
	switch in.Kind {
	case InputText, InputDigits:
		return w.Kind == WaitRecording
	case InputRecording:
		return w.Kind != WaitRecording
	}
	return false
}

// Wait kinds.
const (
	WaitMessage = "message"
	WaitDigits  = "digits"
	// WaitRecording waits for a recording of the caller (record_voice).
	WaitRecording = "recording"
	WaitSubflow   = "subflow"
)

// Step is one widget visited, with when, and the exit taken.
type Step struct {
	Widget string    `json:"w"`
	Flow   string    `json:"f,omitempty"`
	Exit   string    `json:"x,omitempty"`
	At     time.Time `json:"t"`
}

// InputKind says what resumed a session.
type InputKind string

// Input kinds.
const (
	InputText    InputKind = "text"
	InputDigits  InputKind = "digits"
	InputTimeout InputKind = "timeout"
	InputHangup  InputKind = "hangup"
	// InputRecording is a recording of the caller: Text is its URL ("" when
	// nothing was recorded), Duration its length in seconds.
	InputRecording InputKind = "recording"
	// InputSubflow resumes a subflow widget when its child flow has ended.
	InputSubflow InputKind = "subflow"
)

// Input resumes a waiting session.
type Input struct {
	Kind InputKind `json:"kind"`
	Text string    `json:"text,omitempty"`
	// Attachments of an inbound message, CONTENT-TYPE:URL each (image/jpeg:
	// https://..., geo:LAT,LNG for a location); a message may have them and
	// no text.
	Attachments []string `json:"attachments,omitempty"`
	// Status is the child's final status for InputSubflow.
	Status Status `json:"status,omitempty"`
	// Duration is a recording's length in seconds; DurationUnknown when
	// the telephony side did not say.
	Duration int `json:"duration,omitempty"`
}

// DurationUnknown is the Duration of a recording whose length is not known.
const DurationUnknown = -1

// Recording makes a recording input: its URL and its length in seconds
// (DurationUnknown when not known).
func Recording(url string, seconds int) Input {
	return Input{Kind: InputRecording, Text: url, Duration: seconds}
}

// RecordingURLOK reports whether raw can be a recording's URL: empty, for
// nothing recorded, or an absolute http or https URL, which a flow can play
// or hand to a webhook. The server's APIs, Twilio's RecordingUrl and the
// simulators check it alike.
func RecordingURLOK(raw string) bool {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// RecordingDuration is a recording's length as a flow reads it
// (@flow.NAME.extra.duration): its seconds, or "" when the telephony side
// did not give it, or nothing was recorded.
func (in Input) RecordingDuration() string {
	if in.Kind != InputRecording || in.Duration <= 0 {
		return ""
	}
	return strconv.Itoa(in.Duration)
}

// RecordingData is the data of a recording's message_in event: its
// duration, as the step's result has it.
func (in Input) RecordingData() json.RawMessage {
	b, _ := json.Marshal(map[string]string{"duration": in.RecordingDuration()})
	return b
}

// Recorded reports whether a recording input holds a recording: a URL, and
// a length that is not 0 seconds.
func (in Input) Recorded() bool {
	return in.Kind == InputRecording && strings.TrimSpace(in.Text) != "" && in.Duration != 0
}

// Text makes a text input.
func Text(s string) Input { return Input{Kind: InputText, Text: s} }

// Digits makes a digits input.
func Digits(s string) Input { return Input{Kind: InputDigits, Text: s} }

// Timeout makes a timeout input.
func Timeout() Input { return Input{Kind: InputTimeout} }

// Hangup makes a hang-up input.
func Hangup() Input { return Input{Kind: InputHangup} }

// Key returns the snake_case key of a result name: "Lookup Response" →
// "lookup_response". The name is read in NFC, so an accent written as a
// combining mark is its composed letter ("A\u0302ge" → "âge"), and a mark
// that follows a letter or digit stays with it, as the vowel signs and
// viramas of the Indic scripts do ("उम्र" is its own key); other characters
// separate the key's words. A key longer than 64 bytes is cut between
// characters, never before a mark.
func Key(name string) string {
	if isKey(name) {
		return name
	}
	var b strings.Builder
	under := false
	name = strings.TrimSpace(name)
	if hasNonASCII(name) {
		name = norm.NFC.String(name)
	}
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsMark(r) && b.Len() > 0 && !under:
			b.WriteRune(r)
		default:
			under = true
		}
	}
	return cutKey(b.String())
}

// cutKey cuts a key to 64 bytes, at the start of a character that is not a
// mark: a key stays valid UTF-8 and no letter loses its marks.
func cutKey(k string) string {
	if len(k) <= 64 {
		return k
	}
	n := 64
	for n > 0 {
		r, _ := utf8.DecodeRuneInString(k[n:])
		if utf8.RuneStart(k[n]) && !unicode.IsMark(r) {
			break
		}
		n--
	}
	return strings.TrimSuffix(k[:n], "_")
}

// OldKey is the key earlier versions gave name, which kept only letters and
// digits, so that a combining mark separated words ("उम्र" → "उम_र",
// "A\u0302ge" → "a_ge"); "" when it is Key's. Results saved and contact
// fields set by those versions are read by it (RekeyResults, LookupResult).
func OldKey(name string) string {
	if isKey(name) {
		return ""
	}
	var b strings.Builder
	under := false
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(unicode.ToLower(r))
		} else {
			under = true
		}
	}
	k := b.String()
	if len(k) > 64 {
		n := 64
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		k = strings.TrimSuffix(k[:n], "_")
	}
	if k == Key(name) {
		return ""
	}
	return k
}

// hasNonASCII reports whether s has a byte beyond ASCII: only such a name
// may have a key that changed (OldKey).
func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// RekeyResults stores each result of the session's frames under its name's
// Key, as it is saved now, where an earlier version saved it under its
// OldKey: a session waiting since then reads its results by their keys.
func (s *Session) RekeyResults() {
	for _, f := range s.Frames {
		rekey(f.Results)
		rekey(f.Child)
	}
}

func rekey(results map[string]*Result) {
	for k, r := range results {
		if r == nil || !hasNonASCII(k) && !hasNonASCII(r.Name) {
			continue
		}
		if key := keysOf(r.Name).key; key != "" && key != k {
			if _, taken := results[key]; !taken {
				delete(results, k)
				results[key] = r
			}
		}
	}
}

// LookupResult finds a result by its key or its name; in results an earlier
// version saved, under the key it gave the name (OldKey), by its key too; and
// by that old key, which flows written then name it by ("@flow.उम_र" for the
// result "उम्र").
func LookupResult(results map[string]*Result, name string) (*Result, bool) {
	if r, ok := results[name]; ok {
		return r, true
	}
	key := keysOf(name).key
	if r, ok := results[key]; ok {
		return r, true
	}
	if key == "" {
		return nil, false
	}
	for _, r := range results {
		if r == nil || !hasNonASCII(r.Name) {
			continue
		}
		if k := keysOf(r.Name); k.key == key || k.old == key {
			return r, true
		}
	}
	return nil, false
}

// resultKeys are a name's Key and OldKey.
type resultKeys struct{ key, old string }

// keyCache remembers the keys of the names that are not their own key:
// reading a name in NFC and writing its keys costs microseconds for a
// name in another script, and LookupResult and RekeyResults would pay it
// for every result on every lookup and every session load. A flow has few
// result names, so the cache stays small; it is emptied when it reaches
// keyCacheMax names, which bounds it whatever names it is given.
var keyCache struct {
	sync.RWMutex
	m map[string]resultKeys
}

const keyCacheMax = 4096

// keysOf is name's Key and OldKey, from keyCache when they are there.
// Keys returns name's Key and its OldKey ("" when it has none), from a
// small cache: templates and results read the same few names over and over.
func Keys(name string) (key, old string) {
	k := keysOf(name)
	return k.key, k.old
}

func keysOf(name string) resultKeys {
	if isKey(name) {
		return resultKeys{key: name}
	}
	keyCache.RLock()
	k, ok := keyCache.m[name]
	keyCache.RUnlock()
	if ok {
		return k
	}
	k = resultKeys{key: Key(name), old: OldKey(name)}
	keyCache.Lock()
	if keyCache.m == nil || len(keyCache.m) >= keyCacheMax {
		keyCache.m = make(map[string]resultKeys)
	}
	// The name may be part of a larger string (a decoded document): the
	// cache keeps a copy of it alone.
	keyCache.m[strings.Clone(name)] = k
	keyCache.Unlock()
	return k
}

// isKey tells whether name is its own key: lower-case ASCII letters and
// digits joined by single underscores, at most 64 bytes.
func isKey(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '_' || name[len(name)-1] == '_' {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && name[i-1] != '_':
		default:
			return false
		}
	}
	return true
}
