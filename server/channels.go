package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// Channel types.
const (
	ChannelAPI    = "api"
	ChannelTwilio = "twilio"
)

// Channel is a configured channel: where messages and calls come from and
// which flows answer them. It is stored as JSON in the store's channels
// collection.
type Channel struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	Address string `json:"address,omitempty"`
	// Scheme is the URN scheme given to senders that have none ("tel" by
	// default): "+15551234567" becomes "tel:+15551234567".
	Scheme string `json:"scheme,omitempty"`
	// Country (ISO 3166-1 alpha-2, as a RapidPro channel's) makes the
	// national numbers of its tel: senders E.164: with "US",
	// "(206) 555-1212" is tel:+12065551212. Without it a number without
	// '+' is kept as it is: no country is guessed.
	Country string `json:"country,omitempty"`
	// DefaultFlow starts for a message that matches no trigger.
	DefaultFlow string `json:"default_flow,omitempty"`
	// VoiceFlow answers calls (DefaultFlow when empty).
	VoiceFlow string `json:"voice_flow,omitempty"`
	// Triggers start a flow when a message's first word is the keyword.
	Triggers []Trigger `json:"triggers,omitempty"`
	// AuthToken is the Twilio auth token: when set, Twilio webhooks must carry
	// a valid X-Twilio-Signature. It is never returned by the API.
	AuthToken string `json:"auth_token,omitempty"`

	// storedScheme is Scheme as an earlier version stored it, in its own
	// case, which made the URNs of its senders (olderURNsOf).
	storedScheme string
}

// Trigger starts Flow when a message's first word is Keyword (case-insensitive).
type Trigger struct {
	Keyword string `json:"keyword"`
	Flow    string `json:"flow"`
}

// channelView is a channel as the API shows it: secrets replaced by a flag.
type channelView struct {
	Channel
	AuthToken    string `json:"auth_token,omitempty"`
	AuthTokenSet bool   `json:"auth_token_set"`
}

func (c *Channel) view() channelView {
	return channelView{Channel: *c, AuthTokenSet: c.AuthToken != ""}
}

func (c *Channel) flowsChannel() *flows.Channel {
	return &flows.Channel{ID: c.ID, Name: c.Name, Type: c.Type, Address: c.Address}
}

// urnOf makes a contact URN of a sender address: senderURN's, a national
// tel: number made E.164 in the channel's Country.
func (c *Channel) urnOf(from string) string {
	urn := senderURN(c.Scheme, from)
	if c.Country != "" {
		urn = e164URN(urn, c.Country)
	}
	return urn
}

// e164URN is a normal tel: URN whose number is only digits (a national
// number, without '+', extension or parameters) in E.164, read as a number of country, when it is a
// possible number there by its length (as has_phone reads one); any other
// URN as it is, without allocating.
func e164URN(urn, country string) string {
	number, ok := strings.CutPrefix(urn, "tel:")
	if !ok || number == "" || strings.Trim(number, "0123456789") != "" {
		// Not only digits: E.164 already ('+'), or a number with an
		// extension (;ext=9, ext77, x77), other parameters or letters,
		// which flows.E164 would read as the number without
		// them, another person's contact.
		return urn
	}
	e164, ok := flows.E164(number, country)
	if !ok {
		return urn
	}
	return "tel:" + e164
}

// countryProblem says why a channel's country cannot make numbers E.164,
// "" when it can (or is left out).
func countryProblem(country string) string {
	if country == "" || flows.KnownCountry(country) {
		return ""
	}
	return fmt.Sprintf("country %.70q is not an ISO 3166-1 alpha-2 code of a country whose phone numbers are known (US, GB, BR ...)", country)
}

// olderURN is a URN a sender may have been stored under before.
type olderURN struct {
	urn string
	// channelOnly is set on a national number that the channel's country
	// made E.164: contacts are stored once for all channels, and another
	// channel (of another country, or of none) may have stored another
	// person under it. Only a session waiting on the request's channel
	// there, and its contact, are the sender's.
	channelOnly bool
}

// olderURNsOf are the URNs a sender address on the channel, whose URN is
// now urn (urnOf), may have been stored under before: the one versions
// before URNs were normalised made of it, with the scheme as they stored
// it, and, when the channel's Country made it E.164, its URN without the
// country, as it was before the channel had one; both are then national
// numbers (channelOnly).
func (c *Channel) olderURNsOf(from, urn string) []olderURN {
	if c == nil {
		return []olderURN{{urn: legacySenderURN("", from)}}
	}
	scheme := c.Scheme
	if c.storedScheme != "" {
		scheme = c.storedScheme
	}
	national := false
	plain := urn
	if c.Country != "" {
		plain = senderURN(c.Scheme, from)
		national = plain != urn
	}
	if !national && isLegacySenderURN(scheme, from, urn) {
		return nil // the hot path: a sender written as its URN is
	}
	older := []olderURN{{urn: legacySenderURN(scheme, from), channelOnly: national}}
	if national {
		older = append(older, olderURN{urn: plain, channelOnly: true})
	}
	return older
}

// isLegacySenderURN reports whether legacySenderURN(scheme, from) is urn,
// without making it.
func isLegacySenderURN(scheme, from, urn string) bool {
	from = strings.TrimSpace(from)
	if strings.Contains(from, ":") {
		return from == urn
	}
	if scheme == "" {
		scheme = "tel"
	}
	return len(urn) == len(scheme)+1+len(from) && strings.HasPrefix(urn, scheme) &&
		urn[len(scheme)] == ':' && urn[len(scheme)+1:] == from
}

// callerOlderURNs is olderURNsOf of a caller's number: none for a
// withheld number, whose URN is of the call (callerURN).
func (c *Channel) callerOlderURNs(from, urn string) []olderURN {
	if withheldCaller(from) {
		return nil
	}
	return c.olderURNsOf(from, urn)
}

// callerCLI is $call.cli of a call from from, whose caller's URN is urn:
// the caller's number as Twilio's From gives it, the address of a tel:
// URN (" tel:+1 555 010 0100" is +15550100100); another URN as it is
// made (client:ada), the address of one the channel gave its scheme
// to; a withheld number as it was sent (Anonymous).
func callerCLI(from, urn string) string {
	if withheldCaller(from) {
		return from
	}
	if p, ok := strings.CutPrefix(urn, "tel:"); ok {
		return p
	}
	if !strings.Contains(flows.NormalURN(from), ":") {
		return flows.URNPath(urn) // a number the channel gave its scheme
	}
	return urn
}

// senderURN is a sender's URN, normal (flows.NormalURN): from's own when
// it has a scheme, else from in scheme ("tel" when blank). A from that is
// already a normal URN, as a channel's senders usually are, is returned
// as it is, without allocating.
func senderURN(scheme, from string) string {
	from = flows.NormalURN(from)
	if strings.IndexByte(from, ':') >= 0 {
		return from
	}
	if scheme == "" {
		scheme = "tel"
	}
	return flows.NormalURN(scheme + ":" + from)
}

// legacySenderURN is the URN versions before URNs were normalised made of
// a sender, the key a contact of theirs may still be stored under: from
// trimmed, with the channel's scheme when it has none, as given.
func legacySenderURN(scheme, from string) string {
	from = strings.TrimSpace(from)
	if strings.Contains(from, ":") {
		return from
	}
	if scheme == "" {
		scheme = "tel"
	}
	return scheme + ":" + from
}

// urnProblem says what is wrong with a contact's URN, "" when nothing: it
// is blank, has a ':' with no scheme before it or no address after it, or
// has the scheme of withheld callers (withheldScheme). A URN without a ':'
// (POST /v1/sessions keeps one as given when it names no channel) is not
// checked further.
func urnProblem(urn string) string {
	if strings.TrimSpace(urn) != "" && !withheldURN(urn) {
		if p := flows.URNProblem(urn); p != "" {
			return p
		}
	}
	return urnShapeProblem(urn)
}

// urnShapeProblem is urnProblem but for the characters a URN holds
// (flows.URNProblem), which checkURN words on its own.
func urnShapeProblem(urn string) string {
	if strings.TrimSpace(urn) == "" {
		return "is blank"
	}
	if withheldURN(urn) {
		return "has the " + withheldScheme + " scheme, kept for callers whose number is withheld, each call a contact of its own"
	}
	scheme, addr, ok := strings.Cut(urn, ":")
	switch {
	case !ok:
		return ""
	case strings.TrimSpace(scheme) == "":
		return "has no scheme before its ':'"
	case strings.TrimSpace(addr) == "":
		return "has no address after its scheme"
	}
	return ""
}

// flowFor picks the flow a message starts: a keyword trigger, else the
// default. field names the channel's field it came from.
func (c *Channel) flowFor(text string) (id, field string) {
	word := strings.ToLower(trimWord(firstWord(text)))
	if word != "" {
		for i, t := range c.Triggers {
			if strings.EqualFold(t.Keyword, word) {
				return t.Flow, fmt.Sprintf("triggers[%d].flow", i)
			}
		}
	}
	return c.DefaultFlow, "default_flow"
}

// trimWord drops what is not a letter or a digit from the ends of a word,
// "Join!" is "Join", "#stop" is "stop", keeping the marks that follow its
// last letter: the vowel signs that end Thai and Devanagari words
// ("สวัสดี", "नमस्ते") are part of them. An emoji's variation selector or
// keycap mark is not ("STOP✔️" is "STOP").
func trimWord(w string) string {
	letterOrDigit := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	w = strings.TrimLeftFunc(w, func(r rune) bool { return !letterOrDigit(r) })
	end := strings.LastIndexFunc(w, letterOrDigit)
	if end < 0 {
		return ""
	}
	_, size := utf8.DecodeRuneInString(w[end:])
	end += size
	for end < len(w) {
		r, size := utf8.DecodeRuneInString(w[end:])
		if !unicode.IsMark(r) || unicode.Is(unicode.Variation_Selector, r) || r == '\u20e3' {
			break
		}
		end += size
	}
	return w[:end]
}

// keywordProblem says why a trigger keyword could never match a message,
// "" when it can: it is one word, and starts and ends with a letter or
// digit, since flowFor compares it with a message's first word without
// the punctuation at the word's ends.
func keywordProblem(kw string) string {
	if strings.TrimSpace(kw) == "" || strings.ContainsFunc(kw, unicode.IsSpace) {
		return "a trigger keyword is one word"
	}
	if trimWord(kw) != kw {
		return fmt.Sprintf("trigger keyword %.70q can never match: a message's first word is compared without the punctuation and symbols at its ends (\"#join!\" as \"join\"), so a keyword starts and ends with a letter, a mark or a digit (punctuation inside, as in \"opt-in\", is kept)", kw)
	}
	return ""
}

// flowMissing is the error of a channel whose field names a flow that does
// not exist (deleted from the store under a channel stored before flows in
// use could not be deleted): the request is fine, the channel is not.
func flowMissing(channel, field, flowID string) *APIError {
	return apiErr(fiber.StatusUnprocessableEntity, CodeNoFlow, field,
		"channel %q: %s %q does not exist; set another with PUT /v1/channels/%s", channel, field, flowID, channel)
}

// firstWord is strings.Fields(s)[0] (or ""), without the slice of every word.
func firstWord(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		s = s[:i]
	}
	return s
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// schemePattern is a URN scheme, as RFC 3986 writes a URI's scheme: a
// letter, then letters, digits, '+', '-' or '.'; at most 64 characters.
var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,63}$`)

// validate checks a channel's own fields; flows are checked by the caller.
func (c *Channel) validate() error {
	if p := flows.IDProblem(c.ID); p != "" {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "id", "channel id %q %s", c.ID, p)
	}
	switch c.Type {
	case "":
		c.Type = ChannelAPI
	case ChannelAPI, ChannelTwilio:
	default:
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "type", "unknown channel type %q (api or twilio)", c.Type)
	}
	if p := schemeProblem(c.Scheme); p != "" {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "scheme", "%s", p)
	}
	// A URI's scheme is case-insensitive (RFC 3986), and a sender's URN
	// is kept with its scheme in lower case (flows.NormalURN): so is the
	// channel's.
	c.Scheme = strings.ToLower(c.Scheme)
	if sandboxScheme(c.Scheme + ":") {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "scheme", "scheme %q is refused: %s", c.Scheme, sandboxSchemeKept)
	}
	c.Country = strings.ToUpper(strings.TrimSpace(c.Country))
	if p := countryProblem(c.Country); p != "" {
		return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, "country", "%s", p)
	}
	for i, t := range c.Triggers {
		if p := keywordProblem(t.Keyword); p != "" {
			return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, fmt.Sprintf("triggers[%d].keyword", i), "%s", p)
		}
		if t.Flow == "" {
			return apiErr(fiber.StatusUnprocessableEntity, CodeInvalidField, fmt.Sprintf("triggers[%d].flow", i), "a trigger needs a flow")
		}
	}
	return nil
}

// flowRefs lists the flows a channel names, with the field naming each.
func (c *Channel) flowRefs() [][2]string {
	var out [][2]string
	if c.DefaultFlow != "" {
		out = append(out, [2]string{"default_flow", c.DefaultFlow})
	}
	if c.VoiceFlow != "" {
		out = append(out, [2]string{"voice_flow", c.VoiceFlow})
	}
	for i, t := range c.Triggers {
		out = append(out, [2]string{fmt.Sprintf("triggers[%d].flow", i), t.Flow})
	}
	return out
}

// channelSet caches the stored channels: they are read on every message and
// written rarely, through this type only.
type channelSet struct {
	store store.ConfigStore
	mu    sync.RWMutex
	byID  map[string]*Channel
}

// schemeProblem says why a channel's scheme is not a URN scheme, "" when it
// is one (or is left out).
func schemeProblem(scheme string) string {
	if scheme == "" || schemePattern.MatchString(scheme) {
		return ""
	}
	return fmt.Sprintf("scheme %.70q is not a URN scheme: a letter, then letters, digits, '+', '-' or '.', at most 64, without the ':' (\"tel\" makes +15551234567 tel:+15551234567)", scheme)
}

// sandboxSchemeKept says why a live contact's URN may not have the sim:
// scheme.
const sandboxSchemeKept = "the " + flows.SandboxContactPrefix + " scheme is kept for the simulator's test contacts"

// sandboxScheme reports whether a URN has the scheme under which the store
// keeps the simulator's test contacts (flows.ContactKey), in any case, as
// URN schemes are compared: a live contact with such a URN would be a test
// contact's twin, reading its fields and sharing its sessions and lock. A
// prefix comparison, cheap enough for every inbound message.
func sandboxScheme(urn string) bool {
	const p = flows.SandboxContactPrefix
	return len(urn) >= len(p) && strings.EqualFold(urn[:len(p)], p)
}

// loadChannels reads the stored channels. A channel stored before a check
// it fails (a trigger keyword that can never match, a scheme that is not
// one) loads as it is, with a warning: nothing stored is lost, and the next
// PUT of it must pass.
func loadChannels(ctx context.Context, st store.ConfigStore, log *slog.Logger) (*channelSet, error) {
	cs := &channelSet{store: st, byID: map[string]*Channel{}}
	recs, err := st.ListConfig(ctx, store.Channels)
	if err != nil {
		return nil, fmt.Errorf("load channels: %w", err)
	}
	for _, r := range recs {
		var c Channel
		if err := json.Unmarshal(r.Value, &c); err != nil {
			return nil, fmt.Errorf("stored channel %q: %w", r.ID, err)
		}
		if p := schemeProblem(c.Scheme); p != "" {
			log.Warn("stored channel has a scheme that is not a URN scheme; its senders' URNs are made with it as it is until PUT /v1/channels/"+c.ID+
				" sets another, and then a sender's next message starts a new session (one waiting under the old URN waits until it expires)",
				"channel", c.ID, "field", "scheme", "problem", p)
		}
		// Stored by a version that kept a scheme's case: its senders'
		// URNs are made in lower case, as every URN is kept now.
		c.storedScheme, c.Scheme = c.Scheme, strings.ToLower(c.Scheme)
		if sandboxScheme(c.Scheme + ":") {
			log.Warn("stored channel has the scheme "+c.Scheme+": "+sandboxSchemeKept+", so its senders without a scheme are refused until PUT /v1/channels/"+c.ID+" sets another",
				"channel", c.ID, "field", "scheme")
		}
		for i, t := range c.Triggers {
			if p := keywordProblem(t.Keyword); p != "" {
				log.Warn("stored channel has a trigger that no message can start; set another keyword with PUT /v1/channels/"+c.ID,
					"channel", c.ID, "field", fmt.Sprintf("triggers[%d].keyword", i), "problem", p)
			}
		}
		cs.byID[r.ID] = &c
	}
	return cs, nil
}

// get returns a copy of the stored channel, for callers that change it.
func (cs *channelSet) get(id string) (*Channel, error) {
	c, err := cs.peek(id)
	if err != nil {
		return nil, err
	}
	cp := *c
	return &cp, nil
}

// peek returns the stored channel itself, not a copy: callers only read it.
// put replaces a channel rather than changing it, so what peek returned
// stays as it was. It saves a copy on every inbound message.
func (cs *channelSet) peek(id string) (*Channel, error) {
	cs.mu.RLock()
	c, ok := cs.byID[id]
	cs.mu.RUnlock()
	if !ok {
		return nil, apiErr(fiber.StatusNotFound, CodeNotFound, "channel", "channel %q not found", id)
	}
	return c, nil
}

func (cs *channelSet) list() []*Channel {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	out := make([]*Channel, 0, len(cs.byID))
	for _, c := range cs.byID {
		cp := *c
		out = append(out, &cp)
	}
	sortChannels(out)
	return out
}

// put stores a channel, reporting whether it is new. An update that leaves
// auth_token out keeps the stored one, so a GET-edit-PUT round trip does not
// drop the secret; clearToken (auth_token null) drops it.
func (cs *channelSet) put(ctx context.Context, c *Channel, clearToken bool) (bool, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	old, existed := cs.byID[c.ID]
	if existed && c.AuthToken == "" && !clearToken {
		c.AuthToken = old.AuthToken
	}
	// A channel stored by a version that kept its scheme's case made its
	// senders' URNs in that case (olderURNsOf): the same scheme put again,
	// in whatever case, keeps it, stored as it was, so the contacts and
	// waiting sessions of those URNs are still found, after a restart too.
	// A scheme left out is tel, as a sender's URN is made with it: one
	// stored as "TEL" is kept, and shown as "tel".
	stored := *c
	if existed && old.storedScheme != old.Scheme && strings.EqualFold(old.storedScheme, cmp.Or(c.Scheme, "tel")) {
		c.Scheme = old.Scheme
		c.storedScheme, stored.Scheme = old.storedScheme, old.storedScheme
	}
	b, err := json.Marshal(&stored)
	if err != nil {
		return false, err
	}
	if err := cs.store.PutConfig(ctx, store.Channels, c.ID, b); err != nil {
		return false, err
	}
	cp := *c
	cs.byID[c.ID] = &cp
	return !existed, nil
}

// loaded adds a channel the store already holds (written by the seed).
func (cs *channelSet) loaded(c *Channel) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cp := *c
	cs.byID[c.ID] = &cp
}

func (cs *channelSet) delete(ctx context.Context, id string) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.byID[id]; !ok {
		return apiErr(fiber.StatusNotFound, CodeNotFound, "channel", "channel %q not found", id)
	}
	if err := cs.store.DeleteConfig(ctx, store.Channels, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	delete(cs.byID, id)
	return nil
}

// using lists the channels that name a flow, each with its field:
// `channel "sms" (default_flow)`.
func (cs *channelSet) using(flowID string) []string {
	var out []string
	for _, c := range cs.list() {
		for _, ref := range c.flowRefs() {
			if ref[1] == flowID {
				out = append(out, fmt.Sprintf("channel %q (%s)", c.ID, ref[0]))
			}
		}
	}
	return out
}

func sortChannels(cs []*Channel) {
	slices.SortFunc(cs, func(a, b *Channel) int { return strings.Compare(a.ID, b.ID) })
}
