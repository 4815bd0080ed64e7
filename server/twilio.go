package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/rivo/uniseg"
	"github.com/valyala/fasthttp"

	"github.com/parleyhq/parley/flows"
)

// TwilioSignatureHeader carries Twilio's request signature.
const TwilioSignatureHeader = "X-Twilio-Signature"

// TwilioIdempotencyHeader carries the token Twilio keeps the same on every
// retry of one webhook request.
const TwilioIdempotencyHeader = "I-Twilio-Idempotency-Token"

// TwilioSignature computes Twilio's signature of a request: HMAC-SHA1, keyed
// with the account's auth token, of the full URL followed by every POST
// parameter's name and value, sorted by name, base64-encoded. A parameter
// with several values adds each distinct value once, sorted: a value repeated
// counts once, as Twilio's own libraries (twilio-python, twilio-node) check it.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range slices.Compact(vals) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// twilioSigned checks a signature against the URL as received and, as
// Twilio's own libraries do (twilio-python's RequestValidator.validate,
// twilio-node's validateRequest), against the same URL without its port,
// whatever the port, or with the scheme's default port added when it has
// none: Twilio signs the URL as configured, which a proxy may have rewritten
// in that way.
func twilioSigned(token, fullURL string, params url.Values, got string) bool {
	for _, u := range twilioURLVariants(fullURL) {
		if hmac.Equal([]byte(got), []byte(TwilioSignature(token, u, params))) {
			return true
		}
	}
	return false
}

func twilioURLVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return out
	}
	v := *u
	if u.Port() != "" {
		v.Host = u.Hostname()
		if strings.Contains(v.Host, ":") {
			v.Host = "[" + v.Host + "]"
		}
		return append(out, v.String())
	}
	port := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if port == "" {
		return out
	}
	v.Host = strings.TrimSuffix(u.Host, ":") + ":" + port
	return append(out, v.String())
}

// twilioRequest copies a Twilio webhook's form and checks its signature when
// the channel has an auth token. Only channels of type twilio are served: an
// api channel is reached through /v1, with a key when the server has keys. A
// twilio channel without an auth token can only be used where anyone who can
// connect may use the API too, on a server without keys, and there not
// through the --public-url host, which a tunnel or proxy opens to the
// internet.
func (s *Server) twilioRequest(c *fiber.Ctx) (*Channel, url.Values, error) {
	channel, err := pathParam(c, "channel")
	if err != nil {
		return nil, nil, err
	}
	ch, err := s.svc.channels.get(channel)
	if err != nil {
		return nil, nil, err
	}
	if ch.Type != ChannelTwilio {
		return nil, nil, notFound("channel %q is of type %q: /twilio/ serves only channels of type twilio", ch.ID, ch.Type)
	}
	if ch.AuthToken == "" {
		if s.keys.configured() {
			return nil, nil, apiErr(fiber.StatusForbidden, CodeForbidden, "auth_token",
				"channel %q has no auth_token: a server with API keys takes Twilio webhooks only for a channel whose auth_token checks their signature", ch.ID)
		}
		if _, public := s.throughPublicHost(c); public {
			return nil, nil, apiErr(fiber.StatusForbidden, CodeForbidden, "auth_token",
				"channel %q has no auth_token: through the --public-url host a server without API keys takes Twilio webhooks only for a channel whose auth_token checks their signature", ch.ID)
		}
		s.reqLog(c).Warn("twilio webhook taken without a signature check: the channel has no auth_token", "channel", ch.ID)
	}
	params, err := twilioParams(c)
	if err != nil {
		return nil, nil, err
	}
	if ch.AuthToken != "" {
		// Twilio drops a user name and password from the URL before it
		// signs it: they are its HTTP basic auth, not part of what it signs.
		base := strings.TrimSuffix(withoutUserInfo(s.cfg.PublicURL), "/")
		if base == "" {
			base = c.BaseURL()
		}
		// RequestURI is the path and query even when the request line
		// carried an absolute URL, with the path decoded and escaped again.
		// Twilio signs the URL as configured, so the path as the request
		// line wrote it (/twilio/t%77/voice) is checked too.
		uri := c.Request().URI()
		signed := base + string(uri.RequestURI())
		raw := string(uri.PathOriginal())
		if q := uri.QueryString(); len(q) > 0 {
			raw += "?" + string(q)
		}
		got := c.Get(TwilioSignatureHeader)
		if got == "" || !twilioSigned(ch.AuthToken, signed, params, got) && (base+raw == signed || !twilioSigned(ch.AuthToken, base+raw, params, got)) {
			// Named as the request line wrote it: the URL as Twilio has it.
			return nil, nil, s.badSignature(c, ch.ID, base+raw, got == "")
		}
	}
	if err := plusInForm(c.Body()); err != nil {
		return nil, nil, err
	}
	return ch, params, nil
}

// twilioNumberParams are the parameters of Twilio's webhooks that hold a
// phone number, +15551234567 when it is one.
var twilioNumberParams = []string{"From", "To", "Caller"}

// plusInForm refuses a form body whose From, To or Caller is written with a
// bare "+" before its digits (From=+15551234567), as a request made by
// hand may write it: a form body, like a query string, reads a bare "+" as
// a space, so the number would be " 15551234567", the contact
// tel:15551234567, another contact than the sender's. Twilio writes it
// %2B. The body as sent is read, so a space written %20 is left alone.
func plusInForm(body []byte) error {
	if !bytes.Contains(body, []byte("=+")) {
		return nil // Twilio's own requests encode "+" as %2B
	}
	for part := range bytes.SplitSeq(body, []byte("&")) {
		key, raw, _ := bytes.Cut(part, []byte("="))
		if len(raw) < 2 || raw[0] != '+' || raw[1] < '0' || raw[1] > '9' {
			continue
		}
		name, err := url.QueryUnescape(string(key))
		if err != nil || !slices.Contains(twilioNumberParams, name) {
			continue
		}
		v, _ := url.QueryUnescape(string(raw))
		return badRequest(name, `%s: a "+" in a form body is read as a space (%.40q); write it as %%2B: %s=%.40s`,
			name, v, name, strings.ReplaceAll(string(raw), "+", "%2B"))
	}
	return nil
}

// withoutUserInfo is an absolute URL without the user name and password
// before its host, if any, and otherwise as it is written.
func withoutUserInfo(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return scheme + "://" + rest[at+1:]
	}
	return raw
}

// badSignature is the error of a Twilio request whose signature is missing
// or does not check against signed, the URL it was checked against. The
// most common cause is a URL other than the one Twilio signed (a proxy or
// tunnel in front of a server without --public-url), so the URL is logged
// at warn and named in the answer, which Twilio's debugger shows: without
// its query and any password, the token never.
func (s *Server) badSignature(c *fiber.Ctx, channel, signed string, missing bool) error {
	checked := signed
	if u, err := url.Parse(signed); err == nil {
		u.RawQuery, u.ForceQuery = "", false
		checked = u.Redacted()
	}
	s.reqLog(c).Warn("twilio signature does not check", "channel", channel, "url", checked,
		"signature_missing", missing, "public_url_set", s.cfg.PublicURL != "")
	what := "invalid"
	if missing {
		what = "missing"
	}
	hint := "the URL this request was sent to; behind a proxy or tunnel, set --public-url (" + EnvPublicURL + ") to the base URL Twilio calls"
	if s.cfg.PublicURL != "" {
		hint = "made of --public-url; Twilio must call that URL, signing with the channel's auth_token"
	}
	return apiErr(fiber.StatusForbidden, CodeBadSignature, TwilioSignatureHeader,
		"%s Twilio signature for channel %q: checked against %s, %s", what, channel, checked, hint)
}

// twilioParams copies the parameters of a Twilio webhook's form body. The
// Content-Type is matched as a media type: in any case, with parameters
// (Application/X-WWW-Form-Urlencoded; charset=utf-8), which fasthttp's
// PostArgs would not read.
func twilioParams(c *fiber.Ctx) (url.Values, error) {
	ct := string(c.Request().Header.ContentType())
	media, _, err := mime.ParseMediaType(ct)
	if err != nil || media != fiber.MIMEApplicationForm {
		got := "none"
		if ct != "" {
			got = fmt.Sprintf("%.80q", ct)
		}
		return nil, badRequest(fiber.HeaderContentType, "Twilio's webhooks send a form body (Content-Type %s); this request's Content-Type is %s", fiber.MIMEApplicationForm, got)
	}
	var args fasthttp.Args
	args.ParseBytes(c.Body())
	params := url.Values{}
	args.VisitAll(func(k, v []byte) {
		params.Add(string(k), string(v))
	})
	return params, nil
}

func (s *Server) twilioSMS(c *fiber.Ctx) error {
	ch, p, err := s.twilioRequest(c)
	if err != nil {
		return err
	}
	if twilioMessageStatusCallback(p) {
		return sendTwiML(c, xml.Header+"<Response/>")
	}
	if p.Get("From") == "" {
		return badRequest("From", "Twilio's From parameter is missing")
	}
	if err := twilioKeys(ch, "From", p.Get("From"), "MessageSid", "the message id", p.Get("MessageSid")); err != nil {
		return err
	}
	in := Inbound{Channel: ch.ID, From: p.Get("From"), Text: p.Get("Body"), ID: p.Get("MessageSid")}
	if err := twilioMedia(p, &in); err != nil {
		return err
	}
	reply, err := s.svc.HandleMessage(c.UserContext(), in)
	if err != nil {
		return err
	}
	return sendTwiML(c, smsTwiML(reply))
}

// twilioMessageStatusCallback tells a message status callback (Twilio's
// MessageStatus, or SmsStatus, queued, sent, delivered, failed, read ...)
// from an inbound message, whose status is received. Twilio posts one about
// each message it sends, the messages of Parley's TwiML included, to a
// Messaging Service's or a message's status callback URL: set to the
// messaging webhook, its From is the channel's own number and it has no
// Body, so taken as a message it would start the flow for that number.
func twilioMessageStatusCallback(p url.Values) bool {
	st := p.Get("MessageStatus")
	if st == "" {
		st = p.Get("SmsStatus")
	}
	return st != "" && !strings.EqualFold(st, "received") && !strings.EqualFold(st, "receiving")
}

// twilioMedia reads the media of an MMS or WhatsApp message (NumMedia,
// MediaUrlN with MediaContentTypeN) as attachments, CONTENT-TYPE:URL, and a
// WhatsApp location (Latitude, Longitude) as a geo:LAT,LNG attachment after
// them, as RapidPro's courier reads them. Each attachment's errors name the
// parameter it came from.
func twilioMedia(p url.Values, in *Inbound) error {
	var fields []string
	if v := p.Get("NumMedia"); v != "" && v != "0" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("NumMedia", "NumMedia %.20q is not a number of media", v)
		}
		// Each medium's parameters are read until one is missing: a body
		// holds only so many (--body-limit).
		for i := range n {
			u, t := p.Get(fmt.Sprintf("MediaUrl%d", i)), p.Get(fmt.Sprintf("MediaContentType%d", i))
			switch {
			case u == "":
				return badRequest(fmt.Sprintf("MediaUrl%d", i), "MediaUrl%d is missing: NumMedia is %d", i, n)
			case t == "":
				return badRequest(fmt.Sprintf("MediaContentType%d", i), "MediaContentType%d is missing: the content type of MediaUrl%d", i, i)
			}
			in.Attachments = append(in.Attachments, t+":"+u)
			fields = append(fields, fmt.Sprintf("MediaUrl%d", i))
		}
	}
	lat, lng := p.Get("Latitude"), p.Get("Longitude")
	if lat != "" || lng != "" {
		in.Attachments = append(in.Attachments, flows.GeoType+":"+lat+","+lng)
		fields = append(fields, "Latitude")
	}
	if fields != nil {
		in.AttachmentField = func(i int) string {
			if i < len(fields) {
				return fields[i]
			}
			return "NumMedia"
		}
	}
	return nil
}

// twilioKeys checks, as the service does, the sender (the person called on
// an outbound call, in fromParam) and the message or call id Twilio sent,
// naming Twilio's parameters. A hang-up without From has no sender to check.
func twilioKeys(ch *Channel, fromParam, from, idParam, what, id string) error {
	check := checkURN
	if from == "" {
		check = checkKey
	}
	if err := check(fromParam, "the sender's URN", ch.urnOf(from)); err != nil {
		return err
	}
	return checkKey(idParam, what, id)
}

// smsTwiML answers with one <Message> per message of the turn. A message
// with no text (only quick replies, which SMS cannot show) and no media is
// left out, as voiceTwiML leaves out a blank <Say>: an empty <Message> is
// an empty SMS. A message with media and no text is its media alone; a
// blank media URL (a template that rendered to nothing) is no media. A text
// longer than Twilio takes in one message is sent as several (smsParts), the
// media with the first.
func smsTwiML(r *TurnReply) string {
	var b strings.Builder
	b.WriteString(xml.Header + "<Response>")
	for _, m := range r.Messages {
		if m.Type != flows.EventMessageOut {
			continue
		}
		var parts []string
		if strings.TrimSpace(m.Text) != "" {
			parts = smsParts(m.Text, twilioSMSMax)
		}
		media := slices.ContainsFunc(m.Attachments, hasMediaURL)
		if media && len(parts) == 0 {
			parts = []string{""}
		}
		for i, text := range parts {
			if !media || i > 0 {
				fmt.Fprintf(&b, "<Message>%s</Message>", esc(text))
				continue
			}
			b.WriteString("<Message>")
			if text != "" {
				fmt.Fprintf(&b, "<Body>%s</Body>", esc(text))
			}
			for _, a := range m.Attachments {
				if hasMediaURL(a) {
					fmt.Fprintf(&b, "<Media>%s</Media>", esc(twimlURL(attachmentURL(a))))
				}
			}
			b.WriteString("</Message>")
		}
	}
	b.WriteString("</Response>")
	return b.String()
}

// twilioSMSMax is the longest body Twilio sends in one message, in
// characters; a longer <Message> fails with error 21617 and is not sent.
const twilioSMSMax = 1600

// smsParts splits text into parts of at most max characters, counted as
// UTF-16 code units: an emoji outside the Basic Multilingual Plane counts
// two, as Twilio counts characters of a higher byte count more than once,
// so a part is never longer for Twilio than for Parley. A part ends at the
// last whitespace that leaves it at least half of max long, the whitespace
// dropped; with none, at the last grapheme cluster that fits, so an accent,
// a flag or a skin tone is never cut from its letter; a single cluster
// longer than max, at the last code point that fits.
func smsParts(text string, max int) []string { return textParts(text, max, false) }

// textParts is smsParts; with sentences set, a part ends first at the last
// end of a sentence that leaves it at least half of max long, as a <Say> is
// best cut (sayParts): the whitespace after a sentenceEnd, or right after a
// closingSentenceEnd. Either way, the point right after a
// closingSentenceEnd is a place to cut as whitespace is, as the scripts
// that end a sentence with one (Chinese, Japanese) put no space after it.
func textParts(text string, max int, sentences bool) []string {
	var parts []string
	for utf16Len(text) > max {
		end, next := smsCut(text, max, sentences)
		if part := strings.TrimRightFunc(text[:end], unicode.IsSpace); part != "" {
			parts = append(parts, part)
		}
		text = strings.TrimLeftFunc(text[next:], unicode.IsSpace)
	}
	if text != "" {
		parts = append(parts, text)
	}
	return parts
}

// sentenceEnd holds the marks that end a sentence when whitespace follows
// them: the Latin script's, the full-width ones of Chinese and Japanese, the
// Devanagari danda and double danda (Hindi, Marathi, Nepali, Sanskrit), and the
// Arabic question mark and the Urdu full stop.
const sentenceEnd = ".!?…" + closingSentenceEnd

// closingSentenceEnd holds the marks of sentenceEnd that end a sentence with
// or without whitespace after them: none is ever inside a word or a number,
// as "." is ("3.5", "example.com"), and Chinese and Japanese put no space
// after theirs.
const closingSentenceEnd = "。！？｡।॥؟۔"

// smsCut is where the first part of text ends and the next begins; with
// sentences set, after a sentence when one ends in the second half.
func smsCut(text string, max int, sentences bool) (end, next int) {
	pos, units, space, sentence := 0, 0, -1, -1
	state := -1
	rest, prev := text, ""
	for rest != "" {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		n := utf16Len(c)
		if units+n > max {
			break
		}
		if strings.TrimSpace(c) == "" && units >= max/2 {
			space = pos
			if sentences && strings.ContainsAny(prev, sentenceEnd) {
				sentence = pos
			}
		}
		pos += len(c)
		units += n
		prev = c
		if units >= max/2 && strings.ContainsAny(c, closingSentenceEnd) {
			space = pos
			if sentences {
				sentence = pos
			}
		}
	}
	switch {
	case sentence >= 0:
		return sentence, sentence
	case space >= 0:
		return space, space
	case pos > 0:
		return pos, pos
	}
	// One cluster longer than max: cut it between code points, after the
	// first at least.
	units = 0
	for i, r := range text {
		if units+utf16.RuneLen(r) > max && i > 0 {
			return i, i
		}
		units += utf16.RuneLen(r)
	}
	return len(text), len(text)
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func hasMediaURL(a string) bool { return strings.TrimSpace(attachmentURL(a)) != "" }

// attachmentURL drops the content type of "image/jpeg:https://...". A URL
// alone keeps its scheme, in any case ("HTTPS://..." as "https://...").
func attachmentURL(a string) string {
	if i := strings.Index(a, ":"); i > 0 && !(len(a) >= 4 && strings.EqualFold(a[:4], "http")) {
		return a[i+1:]
	}
	return a
}

func (s *Server) twilioVoice(c *fiber.Ctx) error {
	ch, p, err := s.twilioRequest(c)
	if err != nil {
		return err
	}
	callID := p.Get("CallSid")
	if callID == "" {
		return badRequest("CallSid", "Twilio's CallSid parameter is missing")
	}
	state := p.Get("CallStatus")
	if err := checkTwilioCallStatus(state); err != nil {
		return err
	}
	// The contact is the person on the line: the caller of a call coming
	// in, the number called on a call Parley's number makes (Direction
	// outbound-api, or outbound-dial for a <Dial>'s leg), whose From is
	// the channel's own number.
	fromParam, from, to := "From", p.Get("From"), p.Get("To")
	if twilioOutbound(p.Get("Direction")) {
		fromParam, from, to = "To", to, from
	}
	if flows.CallEnded(state) {
		// A hang-up is applied to the call's session as it is found, by
		// its call id: a caller it cannot read does not keep it going.
		if urnProblem(ch.urnOf(from)) != "" {
			from = ""
		}
	} else if from == "" && fromParam == "To" {
		// Any other request may start the call, which needs the person
		// called. A call coming in without From is from a withheld
		// number, as one whose From is Anonymous (withheldCaller).
		return badRequest("To", "Twilio's To parameter is missing: the number an outbound call is made to, which the call needs")
	}
	if err := twilioKeys(ch, fromParam, from, "CallSid", "the call id", callID); err != nil {
		return err
	}
	// The action of a <Record>: the recording, its length, and in Digits
	// the key that ended it, or "hangup" when the caller hung up, whose
	// answer Twilio does not read.
	recording := p.Has("RecordingUrl") || p.Has("RecordingDuration") || p.Has("RecordingSid")
	duration := flows.DurationUnknown
	digits := p.Get("Digits")
	if recording {
		if d := p.Get("RecordingDuration"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 {
				return badRequest("RecordingDuration", "Twilio's RecordingDuration %.40q is not a whole number of seconds", d)
			}
			duration = n
		}
		if err := checkRecordingURL("RecordingUrl", p.Get("RecordingUrl")); err != nil {
			return err
		}
		if strings.EqualFold(digits, "hangup") && !flows.CallEnded(state) {
			state = "completed"
		}
		digits = ""
	}
	if p.Get("CallbackSource") != "" && !flows.CallEnded(state) {
		// A status callback of a call going on (ringing, in-progress)
		// carries no input, and Twilio does not read its answer.
		return sendTwiML(c, xml.Header+"<Response/>")
	}
	reply, err := s.svc.HandleCall(c.UserContext(), CallRequest{
		IncomingCall: IncomingCall{Channel: ch.ID, CallID: callID, From: from, To: to, State: state},
		Digits:       digits,
		Recording:    recording,
		RecordingURL: strings.TrimSpace(p.Get("RecordingUrl")),
		Duration:     duration,
		Timeout:      c.Query("timeout") != "",
		TimeoutOf:    strings.Clone(c.Query("wait")),
		RequestID:    strings.Clone(c.Get(TwilioIdempotencyHeader)),
		TwiML:        !flows.CallEnded(state),
		// Twilio requests a gather's or a recording's action only with
		// the input it took.
		MidCall: p.Has("Digits") || p.Has("SpeechResult") || recording,
	})
	if ae := (*APIError)(nil); errors.As(err, &ae) && ae.Code == CodeNoFlow {
		// A JSON error would have the caller hear Twilio's "application
		// error": say what is wrong and hang up, and warn whoever runs
		// the server.
		s.reqLog(c).Warn("twilio call answered without a flow: the channel has no usable voice flow", "channel", ch.ID, "call", callID, "err", ae.Message)
		return sendTwiML(c, xml.Header+"<Response><Say>"+esc(twilioNoFlowSay)+"</Say><Hangup/></Response>")
	}
	if err != nil {
		return err
	}
	if flows.CallEnded(state) {
		return sendTwiML(c, xml.Header+"<Response/>")
	}
	return sendTwiML(c, voiceTwiML(reply, s.twilioVoiceURL(ch.ID)))
}

// twilioNoFlowSay is what a caller hears on a channel without a usable
// voice flow, before Parley hangs up.
const twilioNoFlowSay = "Sorry, this number has no voice flow to answer calls with. Goodbye."

// twilioPostOnly refuses a Twilio webhook sent with another method than
// POST: a number configured for HTTP GET, whose parameters come in the query
// and whose signature Parley does not check. The answer has Allow: POST.
func (s *Server) twilioPostOnly(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodPost {
		return c.Next()
	}
	// Routes match without case and with a trailing slash, as POST does.
	_, hook, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(c.Path()), "/twilio/"), "/")
	if hook = strings.TrimSuffix(hook, "/"); hook != "sms" && hook != "voice" {
		return c.Next()
	}
	e := apiErr(fiber.StatusMethodNotAllowed, CodeMethodNotAllowed, "",
		"%s %s: Twilio's webhooks are taken with HTTP POST only; set the number's webhook (or the Messaging Service's) to HTTP POST", c.Method(), c.Path())
	e.Allow = fiber.MethodPost
	return e
}

// checkTwilioCallStatus refuses a CallStatus that is none of Twilio's, in
// any case, as the calls API refuses such a state: it would start a call
// with that $call.state, or keep one going that Twilio reports ended in a
// spelling Parley does not know.
func checkTwilioCallStatus(state string) error {
	if checkCallState("CallStatus", state) == nil {
		return nil
	}
	return badRequest("CallStatus", "Twilio's CallStatus %.40q is not a call state: Twilio sends one of %s", state, strings.Join(callStates, ", "))
}

// twilioOutbound tells whether a call's Direction is one Parley's number
// makes: outbound-api (a call made through Twilio's API) or outbound-dial
// (a leg a <Dial> makes).
func twilioOutbound(direction string) bool {
	return strings.HasPrefix(strings.ToLower(direction), "outbound")
}

// twilioVoiceURL is where a channel's voice requests go, for a Gather's
// action and a Redirect: under --public-url when it is set, since Twilio
// resolves a relative URL against the host of the URL it called and would
// lose the path a proxy serves Parley under; else the path alone, which
// Twilio resolves against the URL it called.
func (s *Server) twilioVoiceURL(channel string) string {
	path := "/twilio/" + url.PathEscape(channel) + "/voice"
	if base := strings.TrimSuffix(s.cfg.PublicURL, "/"); base != "" {
		return base + path
	}
	return path
}

func isNotFoundErr(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == fiber.StatusNotFound
}

// voiceTwiML turns a turn's prompts into TwiML. A session waiting for digits
// gets its prompts inside <Gather>, so callers can answer before a prompt
// ends, followed by a <Redirect> that reports a gather that timed out. One
// waiting for a recording gets its prompts, then <Record>, then the
// <Redirect> Twilio follows when nothing was recorded.
// Prompts over what Twilio takes in one answer are left out (voicePrompts).
func voiceTwiML(r *TurnReply, action string) string {
	waiting := r.WaitingFor != nil && r.Status == flows.StatusWaiting
	hangup := slices.ContainsFunc(r.Messages, func(m Message) bool { return m.Type == flows.EventHangup })
	prompts, first := twimlPrompts(r)
	var before, inside strings.Builder
	for _, p := range prompts {
		switch {
		case p.dropped:
		case p.msg >= first:
			inside.WriteString(p.xml)
		default:
			before.WriteString(p.xml)
		}
	}
	var b strings.Builder
	b.WriteString(xml.Header + "<Response>")
	b.WriteString(before.String())
	if w := r.WaitingFor; waiting && !hangup && w.Kind == flows.WaitRecording {
		// Prompts cannot go inside <Record>: they are said before it. Twilio
		// requests the action with the recording, or, when nothing was
		// recorded, goes on to the <Redirect>, which reports it as the
		// wait's timeout: No Input.
		b.WriteString(inside.String())
		fmt.Fprintf(&b, `<Record action="%s" method="POST" maxLength="%d" timeout="%d" finishOnKey="%s" playBeep="%t"/>`,
			esc(action), w.MaxLength, w.SilenceTimeout, esc(w.FinishKey), w.PlayBeep == nil || *w.PlayBeep)
		fmt.Fprintf(&b, `<Redirect method="POST">%s</Redirect>`, esc(timeoutRedirect(action, w)))
	} else if waiting && !hangup {
		w := r.WaitingFor
		timeout := w.Timeout
		if timeout <= 0 {
			timeout = 5
		}
		fmt.Fprintf(&b, `<Gather action="%s" method="POST" timeout="%d"`, esc(action), timeout)
		if w.NumDigits > 0 {
			fmt.Fprintf(&b, ` numDigits="%d"`, w.NumDigits)
		}
		// An empty finish key means none, which is also Twilio's meaning of "".
		fmt.Fprintf(&b, ` finishOnKey="%s">`, esc(w.FinishKey))
		b.WriteString(inside.String())
		b.WriteString("</Gather>")
		fmt.Fprintf(&b, `<Redirect method="POST">%s</Redirect>`, esc(timeoutRedirect(action, w)))
	} else {
		b.WriteString(inside.String())
		b.WriteString("<Hangup/>")
	}
	b.WriteString("</Response>")
	return b.String()
}

// timeoutRedirect is the URL of the <Redirect> that reports a wait's
// gather or recording timed out, with the wait it reports on: Twilio
// follows it only after the gather timed out (or nothing was recorded),
// which may be after another turn.
func timeoutRedirect(action string, w *WaitingFor) string {
	redirect := action + "?timeout=1"
	if w.mark != "" {
		redirect += "&wait=" + w.mark
	}
	return redirect
}

// twilioSayMax is the longest text Parley puts in one <Say>, in
// characters: Twilio says at most 4,096 with its basic voices and 3,000
// with Polly and neural ones (warning 13521), so a longer text is said by
// several <Say> verbs in a row.
const twilioSayMax = 3000

// twilioTwiMLMax is the largest TwiML document Twilio takes: 64 kB; a
// larger one fails the call's request (error 11750).
const twilioTwiMLMax = 64 * 1024

// twilioPromptsMax is what the prompts of one answer may take of
// twilioTwiMLMax, in bytes: the rest is kept for the document around them,
// whose <Gather> action and <Redirect> hold the channel's voice URL.
const twilioPromptsMax = twilioTwiMLMax - 4096

// twimlPrompts is a reply's messages as voiceTwiML says them
// (voicePrompts), rendered once for the reply, and the index of the first
// message said inside <Gather> (gatherPrompts; all of them when it waits
// for none).
func twimlPrompts(r *TurnReply) ([]voicePrompt, int) {
	first := len(r.Messages)
	if r.WaitingFor != nil && r.Status == flows.StatusWaiting {
		first = gatherPrompts(r.Messages)
	}
	if r.prompts == nil {
		r.prompts = voicePrompts(r.Messages, first)
	}
	return r.prompts, first
}

// voicePrompt is one TwiML verb of a turn's prompts: a <Say> of a message's
// text, or of one part of it, or a <Play>.
type voicePrompt struct {
	xml string
	// msg is the index of the message it comes from, chars the characters
	// of text it says.
	msg, chars int
	// dropped is set on a verb left out to keep the TwiML within
	// twilioTwiMLMax.
	dropped bool
}

// voicePrompts renders a turn's messages as TwiML verbs, in order: a blank
// text or audio URL is left out (Twilio warns of an empty <Say>, 13520, and
// an empty <Play> has nothing to play), and a text longer than twilioSayMax
// is said by several <Say> verbs, cut between sentences or words (sayParts).
// When they take more than twilioPromptsMax bytes, those of the messages
// from first (the gather's prompts) are kept first, then the others in order
// while they fit; the rest are marked dropped. It depends on the messages
// alone, so the warning recorded with the turn (twilioPromptsWarning) names
// what the TwiML leaves out.
func voicePrompts(msgs []Message, first int) []voicePrompt {
	var out []voicePrompt
	add := func(i int, xml string, chars int) {
		out = append(out, voicePrompt{xml: xml, msg: i, chars: chars})
	}
	size := 0
	for i, m := range msgs {
		n := len(out)
		switch m.Type {
		case flows.EventSay, flows.EventMessageOut:
			sayPrompts(i, m, add)
		case flows.EventPlay, flows.EventGather:
			if strings.TrimSpace(m.URL) != "" {
				add(i, "<Play>"+esc(twimlURL(m.URL))+"</Play>", 0)
			}
			if m.Type == flows.EventGather {
				sayPrompts(i, m, add)
			}
		}
		for _, p := range out[n:] {
			size += len(p.xml)
		}
	}
	if size <= twilioPromptsMax {
		return out
	}
	left := twilioPromptsMax
	for _, gather := range []bool{true, false} {
		full := false
		for i := range out {
			if p := &out[i]; (p.msg >= first) == gather {
				if full || len(p.xml) > left {
					p.dropped, full = true, true
					continue
				}
				left -= len(p.xml)
			}
		}
	}
	return out
}

// sayPrompts adds a message's text as <Say> verbs in its voice and
// language, nothing for a blank text.
func sayPrompts(i int, m Message, add func(int, string, int)) {
	if strings.TrimSpace(m.Text) == "" {
		return
	}
	var open strings.Builder
	open.WriteString("<Say")
	if m.Voice != "" {
		fmt.Fprintf(&open, ` voice="%s"`, esc(m.Voice))
	}
	if lang := twilioSayLanguage(m.Language); lang != "" {
		fmt.Fprintf(&open, ` language="%s"`, esc(lang))
	}
	open.WriteString(">")
	for _, part := range sayParts(m.Text) {
		add(i, open.String()+esc(part)+"</Say>", utf8.RuneCountInString(part))
	}
}

// sayParts is a text to say cut into parts of at most twilioSayMax
// characters, counted as smsParts counts them: at the end of a sentence in
// the second half of a part, else at a word, else between grapheme
// clusters. A text that fits is one part, as it is.
func sayParts(text string) []string {
	if utf16Len(text) <= twilioSayMax {
		return []string{text}
	}
	return textParts(text, twilioSayMax, true)
}

// twilioPromptsWarning is the warning event a turn answered as TwiML
// records when its reply's TwiML leaves prompts out to stay within
// twilioTwiMLMax (voicePrompts), saying which; nil when it leaves out none.
// The prompts it renders are kept with the reply for its TwiML.
func twilioPromptsWarning(r *TurnReply, now time.Time) *flows.Event {
	// Escaped, a character takes at most 6 bytes (&#34;), and a verb
	// some 100 more for its tags and attributes: most turns are known to
	// fit without rendering them.
	bound := 0
	for i := range r.Messages {
		m := &r.Messages[i]
		bound += 6*(len(m.Text)+len(m.URL)) + 100*(2+len(m.Text)/twilioSayMax)
	}
	if bound <= twilioPromptsMax {
		return nil
	}
	prompts, _ := twimlPrompts(r)
	var cut []string
	for i := 0; i < len(prompts); {
		m, chars, left, all := prompts[i].msg, 0, 0, true
		for ; i < len(prompts) && prompts[i].msg == m; i++ {
			chars += prompts[i].chars
			if prompts[i].dropped {
				left += prompts[i].chars
			} else {
				all = false
			}
		}
		if left == 0 && !all {
			continue
		}
		what := fmt.Sprintf("%s of widget %q", r.Messages[m].Type, r.Messages[m].Widget)
		switch {
		case chars == 0:
			what += " (audio)"
		case all:
			what += fmt.Sprintf(" (%d characters)", chars)
		default:
			what += fmt.Sprintf(" (its last %d of %d characters)", left, chars)
		}
		cut = append(cut, what)
	}
	if len(cut) == 0 {
		return nil
	}
	return &flows.Event{Type: flows.EventWarning, Time: now, Message: fmt.Sprintf(
		"the prompts of this turn are over what Twilio takes in one answer (TwiML of at most 64 kB; error 11750): left out of the call's TwiML: %s", strings.Join(cut, ", "))}
}

// gatherPrompts is the index of the first of the prompts that go inside
// <Gather>: those the widget that gathers sent last, after the last prompt
// of any other widget. What came before them (a greeting, a subflow's
// introduction) is said first and cannot be interrupted. A widget is told by
// its flow and id together, so a parent flow's widget with the id of a
// subflow's gather (ids such as "ask" are reused across flows) stays in its
// place. A wait without a gather (a messaging flow's wait_for_response on a
// call) has all the turn's prompts inside. A reply stored for a retry keeps
// no flows: a prompt of a widget of the same id right before the gather's
// then goes inside too, still in its place.
func gatherPrompts(msgs []Message) int {
	g := -1
	for i, m := range msgs {
		if m.Type == flows.EventGather {
			g = i
		}
	}
	if g < 0 {
		return 0
	}
	first := g
	for first > 0 && msgs[first-1].Widget == msgs[g].Widget && msgs[first-1].flow == msgs[g].flow {
		first--
	}
	return first
}

// twilioSayLocales maps the ISO 639-3 code of a language Twilio's <Say> speaks
// (https://www.twilio.com/docs/voice/twiml/say) to one locale of it that the
// language attribute takes: English is en-US, Portuguese pt-BR.
var twilioSayLocales = map[string]string{
	"afr": "af-ZA", "ara": "ar-AE", "arb": "arb", "ben": "bn-IN", "bul": "bg-BG", "cat": "ca-ES",
	"ces": "cs-CZ", "cmn": "cmn-CN", "cym": "cy-GB", "dan": "da-DK", "deu": "de-DE", "ell": "el-GR",
	"eng": "en-US", "eus": "eu-ES", "fil": "fil-PH", "fin": "fi-FI", "fra": "fr-FR", "glg": "gl-ES",
	"guj": "gu-IN", "heb": "he-IL", "hin": "hi-IN", "hun": "hu-HU", "ind": "id-ID", "isl": "is-IS",
	"ita": "it-IT", "jpn": "ja-JP", "kan": "kn-IN", "kor": "ko-KR", "lav": "lv-LV", "lit": "lt-LT",
	"mal": "ml-IN", "mar": "mr-IN", "msa": "ms-MY", "nld": "nl-NL", "nob": "nb-NO", "nor": "nb-NO",
	"pan": "pa-IN", "pol": "pl-PL", "por": "pt-BR", "ron": "ro-RO", "rus": "ru-RU", "slk": "sk-SK",
	"spa": "es-ES", "srp": "sr-RS", "swe": "sv-SE", "tam": "ta-IN", "tel": "te-IN", "tha": "th-TH",
	"tur": "tr-TR", "ukr": "uk-UA", "vie": "vi-VN", "yue": "yue-HK", "zho": "cmn-CN",
}

// twilioSayLanguage is the language attribute of a <Say> for a say or
// gather_digits widget's language, read as flows.VoiceLanguage reads it: a
// locale (fr-CA, pt_BR) in its usual form (pt-BR); an ISO 639-3 code (fra,
// as flows imported from RapidPro have) or a two-letter code (fr) as the
// locale Twilio speaks the language in (fr-FR); a locale of a region of
// digits (es-419, Latin American Spanish), which Twilio does not take, as
// its language's; "" for anything else (a code Twilio does not speak, a
// language a flow stored before it was checked has), so Twilio uses its
// default voice rather than refusing the TwiML.
func twilioSayLanguage(lang string) string {
	code, ok := flows.VoiceLanguage(strings.TrimSpace(lang))
	if !ok {
		return ""
	}
	base, region, hasRegion := strings.Cut(code, "-")
	if hasRegion && region[0] > '9' {
		return code
	}
	return twilioSayLocales[flows.LanguageCode(base)]
}

// twimlURL is an audio or media URL as TwiML gives it to Twilio, which
// fetches it: without the whitespace around it, and with the characters a
// URL cannot hold written as %XX escapes, as a browser sends them (a space
// as %20, a quote, <, >, a character outside ASCII as its UTF-8 bytes). A
// URL rendered from a template with a value holding a space
// ("https://cdn.example.com/Hold music.mp3") is otherwise an invalid URL
// for Twilio, which does not play it. A % is kept as it is, so a URL
// already escaped is not escaped twice.
func twimlURL(u string) string {
	u = strings.TrimSpace(u)
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func sendTwiML(c *fiber.Ctx, body string) error {
	c.Set(fiber.HeaderContentType, "application/xml; charset=utf-8")
	return c.SendString(body)
}
