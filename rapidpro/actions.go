package rapidpro

import (
	"encoding/json"
	"fmt"
	"strings"
)

// step is a widget made from an action, with the exits that continue to the
// next action (none for a terminal one, such as starting another flow).
type step struct {
	w    map[string]any
	cont []string
	// terminal: the flow ends after this widget, whatever follows.
	terminal bool
	// action is the index of the action it was made from in its action set.
	action int
}

// actionSet turns an action set into a chain of widgets. The first widget
// takes the action set's uuid, so rules and the entry can point at it.
func (c *flowConv) actionSet(si int, as actionSet) {
	var steps []step
	for i, a := range as.Actions {
		where := actionWhere(as.UUID, i, a.UUID, a.Type)
		c.apiResult = ""
		if c.mig != nil {
			c.apiResult = c.mig.apiResults[[2]int{si, i}] // RapidPro's 11.7 migration (migrate.go)
		}
		st := c.action(a, where)
		if st == nil {
			continue
		}
		if len(steps) > 0 && steps[len(steps)-1].terminal {
			c.add(levelWarning, where, "never runs: an earlier action of this action set starts another flow, which ends this one (as in RapidPro)")
			continue
		}
		st.action = i
		steps = append(steps, *st)
	}
	if len(steps) == 0 {
		c.alias[as.UUID] = c.dest(as.Destination, "action_set "+as.UUID+" destination")
		return
	}
	for i := range steps {
		id := as.UUID
		if i > 0 {
			id = fmt.Sprintf("%s-%d", as.UUID, i)
			// The action's own uuid: actions dropped before it (an empty
			// message) make no widget.
			if a := as.Actions[steps[i].action]; a.UUID != "" && !c.ids[a.UUID] && !c.nodes[a.UUID] {
				id = a.UUID
			}
			for c.ids[id] {
				id += "'"
			}
		}
		steps[i].w["id"] = id
		c.ids[id] = true
		if i == 0 {
			steps[i].w["position"] = map[string]int{"x": int(as.X), "y": int(as.Y)}
		}
	}
	last := steps[len(steps)-1]
	if last.terminal && as.Destination != "" {
		c.add(levelWarning, "action_set "+as.UUID+" destination", "never followed: the action set starts another flow, which ends this one (as in RapidPro)")
	}
	for i, st := range steps {
		next := ""
		if i+1 < len(steps) {
			next = steps[i+1].w["id"].(string)
		} else {
			next = c.dest(as.Destination, "action_set "+as.UUID+" destination")
		}
		exits := map[string]string{}
		if next != "" {
			for _, e := range st.cont {
				exits[e] = next
			}
		}
		st.w["exits"] = exits
		c.widgets = append(c.widgets, st.w)
	}
}

// action converts one action; nil when it makes no widget.
func (c *flowConv) action(a action, where string) *step {
	next := []string{"Next"}
	switch a.Type {
	case "reply", "send":
		if a.Type == "send" && !sendsToContact(a) {
			c.add(levelWarning, where, "not delivered: sending to other contacts or groups is not supported (a Parley session has one contact); recorded as an action_recorded event")
			return c.record(a, where, "send", map[string]string{"text": c.msgText(a, where)})
		}
		if a.SendAll {
			c.add(levelInfo, where, "send_all: the message goes to the session's URN only")
		}
		w := c.sendMessage(a, where)
		if w == nil {
			return nil
		}
		return &step{w: w, cont: next}
	case "say":
		return c.say(a, where)
	case "play":
		w := map[string]any{"type": "play", "url": c.tmpl(a.URL, where+" url")}
		return &step{w: w, cont: next}
	case "save":
		return c.save(a, where)
	case "add_group", "del_group":
		var names []string
		for i, g := range a.Groups {
			name, ok := groupName(g)
			if !ok {
				c.add(levelError, fmt.Sprintf("%s groups[%d]", where, i), "unreadable group reference "+string(g))
				continue
			}
			names = append(names, c.tmpl(name, fmt.Sprintf("%s groups[%d]", where, i)))
		}
		w := map[string]any{"type": "update_groups"}
		switch {
		case a.Type == "add_group":
			if len(names) == 0 {
				c.add(levelInfo, where, "adds no group: dropped")
				return nil
			}
			w["add"] = names
		case len(names) == 0:
			w["remove_all"] = true
		default:
			w["remove"] = names
		}
		return &step{w: w, cont: next}
	case "lang":
		if a.Lang == "" {
			c.add(levelError, where+" lang", "no language given")
			return nil
		}
		w := map[string]any{"type": "set_variable", "scope": "contact", "name": "language", "value": normLang(a.Lang)}
		return &step{w: w, cont: []string{"Next", "Failure"}}
	case "channel":
		c.add(levelWarning, where, fmt.Sprintf("not applied: Parley sessions stay on the channel they started on (RapidPro would switch the contact to channel %s %q); recorded as an action_recorded event", a.Channel, a.Name))
		return c.record(a, where, "channel", map[string]string{"channel": a.Channel, "name": a.Name})
	case "email":
		var body string
		_ = json.Unmarshal(a.Msg, &body)
		addrs := make([]string, len(a.Emails))
		for i, e := range a.Emails {
			addrs[i] = e
		}
		c.add(levelWarning, where, "not delivered: Parley sends no e-mail; the rendered e-mail is recorded as an action_recorded event")
		return c.record(a, where, "email", map[string]string{
			"to":      c.tmpl(strings.Join(addrs, ", "), where+" emails"),
			"subject": c.tmpl(a.Subject, where+" subject"),
			"body":    c.tmpl(body, where+" msg"),
		})
	case "add_label":
		var names []string
		for _, l := range a.Labels {
			if n, ok := groupName(l); ok {
				names = append(names, n)
			}
		}
		c.add(levelWarning, where, "not delivered: Parley has no message labels; recorded as an action_recorded event")
		return c.record(a, where, "add_label", map[string]string{"labels": c.tmpl(strings.Join(names, ", "), where+" labels")})
	case "flow":
		if a.Flow.UUID == "" {
			c.add(levelError, where+" flow", "no flow to start")
			return nil
		}
		c.checkFlowRef(a.Flow.UUID, a.Flow.Name, where+" flow")
		w := map[string]any{"type": "subflow", "flow": a.Flow.UUID}
		return &step{w: w, terminal: true}
	case "trigger-flow":
		if sendsToContact(a) {
			c.add(levelWarning, where, fmt.Sprintf("not started: starting flow %q for the contact in a session of its own is not supported (a Parley session runs one flow and its subflows); recorded as an action_recorded event", a.Flow.Name))
		} else {
			c.add(levelWarning, where, fmt.Sprintf("not started: starting flow %q for other contacts or groups is not supported (a Parley session has one contact); recorded as an action_recorded event", a.Flow.Name))
		}
		return c.record(a, where, "trigger_flow", map[string]string{"flow": a.Flow.UUID, "name": a.Flow.Name})
	case "api":
		w := c.webhook(a.Webhook, a.Action, a.WebhookHeaders, where)
		w["result"] = "webhook"
		if c.apiResult != "" {
			w["result"] = c.apiResult
		}
		return &step{w: w, cont: []string{"Success", "Failure"}}
	case "":
		c.add(levelError, where, "action without a type")
		return nil
	}
	c.add(levelError, where, fmt.Sprintf("action type %q is not supported: replace it with one of the actions docs/rapidpro.md (Actions) lists before exporting", a.Type))
	return nil
}

// sendsToContact reports whether a "send" action only addresses the contact
// the flow runs for.
func sendsToContact(a action) bool {
	if len(a.Contacts) > 0 || len(a.Groups) > 0 || len(a.Variables) == 0 {
		return false
	}
	for _, v := range a.Variables {
		switch strings.ToLower(v.ID) {
		case "@contact", "@step.contact", "@contact.uuid", "@step.contact.uuid":
		default:
			return false
		}
	}
	return true
}

func (c *flowConv) msgText(a action, where string) string {
	t, ok := readTranslations(a.Msg)
	if !ok {
		c.add(levelError, where+" msg", "unreadable message "+string(a.Msg))
		return ""
	}
	text, _ := c.pick(t, where+" msg")
	return c.tmpl(text, where+" msg")
}

func (c *flowConv) record(a action, where, kind string, fields map[string]string) *step {
	return &step{w: map[string]any{"type": "record", "action": kind, "fields": fields}, cont: []string{"Next"}}
}

// sendMessage builds a send_message widget with its translations.
func (c *flowConv) sendMessage(a action, where string) map[string]any {
	msg, ok := readTranslations(a.Msg)
	if !ok {
		c.add(levelError, where+" msg", "unreadable message "+string(a.Msg))
		return nil
	}
	media, ok := readTranslations(a.Media)
	if !ok {
		c.add(levelError, where+" media", "unreadable media "+string(a.Media))
		return nil
	}
	var qrs []translations
	if len(a.QuickReplies) > 0 && string(a.QuickReplies) != "null" {
		var raws []json.RawMessage
		if err := json.Unmarshal(a.QuickReplies, &raws); err != nil {
			c.add(levelError, where+" quick_replies", "unreadable quick replies "+string(a.QuickReplies))
			return nil
		}
		for _, r := range raws {
			t, ok := readTranslations(r)
			if !ok {
				c.add(levelError, where+" quick_replies", "unreadable quick reply "+string(r))
				continue
			}
			qrs = append(qrs, t)
		}
	}
	text, others := c.pick(msg, where+" msg")
	w := map[string]any{"type": "send_message"}
	if text != "" {
		w["text"] = c.tmpl(text, where+" msg")
	}
	if m, mo := c.pick(media, where+" media"); m != "" {
		w["attachments"] = []string{c.tmpl(m, where+" media")}
		for l := range mo {
			if _, ok := others[l]; !ok {
				others[l] = "" // a language with only media still gets a translation
			}
		}
	}
	var replies []string
	for i, q := range qrs {
		r, qo := c.pick(q, fmt.Sprintf("%s quick_replies[%d]", where, i))
		if r != "" {
			replies = append(replies, c.tmpl(r, fmt.Sprintf("%s quick_replies[%d]", where, i)))
		}
		for l := range qo {
			if _, ok := others[l]; !ok {
				others[l] = ""
			}
		}
	}
	if len(replies) > 0 {
		w["quick_replies"] = replies
	}
	if w["text"] == nil && w["attachments"] == nil {
		c.add(levelWarning, where, "empty message: dropped")
		return nil
	}
	trs := map[string]any{}
	for _, l := range sortedKeys(others) {
		tr := map[string]any{}
		if others[l] != "" {
			tr["text"] = c.tmpl(others[l], where+" msg."+l)
		}
		if k := findLang(media, l); k != "" && media[k] != "" {
			tr["attachments"] = []string{c.tmpl(media[k], where+" media."+l)}
		}
		// Like RapidPro, a translation lists only the quick replies
		// translated into its language.
		var lr []string
		for i, q := range qrs {
			if k := findLang(q, l); k != "" && q[k] != "" {
				lr = append(lr, c.tmpl(q[k], fmt.Sprintf("%s quick_replies[%d].%s", where, i, l)))
			}
		}
		if len(lr) > 0 {
			tr["quick_replies"] = lr
		}
		if tr["text"] == nil && tr["attachments"] == nil {
			continue
		}
		trs[l] = tr
	}
	if len(trs) > 0 {
		w["translations"] = trs
	}
	return w
}

func findLang(t translations, code string) string {
	for k := range t {
		if k != "" && normLang(k) == code {
			return k
		}
	}
	return ""
}

func (c *flowConv) say(a action, where string) *step {
	msg, ok := readTranslations(a.Msg)
	if !ok {
		c.add(levelError, where+" msg", "unreadable text "+string(a.Msg))
		return nil
	}
	text, others := c.pick(msg, where+" msg")
	// The language the text is said in: the chosen one, or the one it fell
	// back to.
	lang := c.target
	if c.pickedKey != "" {
		lang = normLang(c.pickedKey)
	}
	if rec, ok := readTranslations(a.Recording); ok && len(rec) > 0 {
		if url, ro := c.pick(rec, where+" recording"); url != "" {
			if len(ro) > 0 {
				c.add(levelWarning, where+" recording", fmt.Sprintf("recordings in %s dropped: Parley's play widget has no translations", strings.Join(sortedKeys(ro), ", ")))
			}
			return &step{w: map[string]any{"type": "play", "url": c.tmpl(url, where+" recording")}, cont: []string{"Next"}}
		}
	}
	if text == "" {
		c.add(levelWarning, where, "nothing to say: dropped")
		return nil
	}
	if len(others) > 0 {
		c.add(levelWarning, where+" msg", fmt.Sprintf("translations into %s dropped: Parley's say widget has no translations", strings.Join(sortedKeys(others), ", ")))
	}
	w := map[string]any{"type": "say", "text": c.tmpl(text, where+" msg")}
	if lang != "base" && lang != "" {
		w["language"] = lang
	}
	return &step{w: w, cont: []string{"Next"}}
}

func (c *flowConv) save(a action, where string) *step {
	field := strings.ToLower(strings.TrimSpace(a.Field))
	cont := []string{"Next", "Failure"}
	switch {
	case field == "":
		c.add(levelError, where+" field", "no field to save to")
		return nil
	case field == "name", field == "first_name":
		return &step{w: c.saveName(a.Value, field == "first_name", where+" value"), cont: cont}
	case field == "tel_e164" || field == "tel" || urnSchemes[field]:
		c.add(levelError, where+" field", fmt.Sprintf("adding a %s URN to the contact is not supported: a Parley contact has one URN; save the value to a contact field instead (such as %q) before exporting", field, field+"_urn"))
		return nil
	}
	return &step{w: c.saveField(field, a.Value, where+" value"), cont: cont}
}

// saveField sets a contact field to a template's text, trimmed as goflow's
// set_contact_field trims it.
func (c *flowConv) saveField(field, src, where string) map[string]any {
	w := map[string]any{"type": "set_variable", "scope": "user", "name": field}
	x := c.xlate()
	tmpl, expr, ok := x.translate(src)
	c.flush(x, where)
	if ok {
		w["expression"] = fmt.Sprintf("trim(%s)", expr)
	} else {
		// A variable with no expression form (@flow): the template,
		// without the spaces written around it.
		w["value"] = strings.TrimSpace(tmpl)
	}
	return w
}

// saveName sets the contact's name to a template's text, trimmed as RapidPro
// trimmed it; firstName keeps the rest of the name (the family name), as
// RapidPro's first_name did, so "John" with no family name is "John", not
// "John ".
func (c *flowConv) saveName(src string, firstName bool, where string) map[string]any {
	w := map[string]any{"type": "set_variable", "scope": "contact", "name": "name"}
	x := c.xlate()
	tmpl, expr, ok := x.translate(src)
	c.flush(x, where)
	// The name's second and later words, split at white space as
	// RapidPro's set_first_name did.
	rest := "legacy_word_slice(contact.name, 2, 0, true)"
	switch {
	case ok && firstName:
		w["expression"] = fmt.Sprintf(`trim(trim(%s) + " " + %s)`, expr, rest)
	case ok:
		w["expression"] = fmt.Sprintf("trim(%s)", expr)
	case firstName:
		// A variable with no expression form (@flow): the template, and a
		// space only before a family name.
		w["value"] = fmt.Sprintf(`%s@(%s == "" ? "" : " " + %s)`, strings.TrimSpace(tmpl), rest, rest)
	default:
		w["value"] = tmpl
	}
	return w
}

// checkFlowRef reports a subflow that is not in the export, and keeps one
// that is (refs): whether it imports is known once every flow converted.
func (c *flowConv) checkFlowRef(uuid, name, where string) {
	if _, ok := c.known[uuid]; !ok {
		c.add(levelWarning, where, fmt.Sprintf("flow %s (%q) is not in this export: import it with id %s for the subflow to run", uuid, name, uuid))
		return
	}
	c.refs = append(c.refs, flowRef{uuid, where})
}

// flowRef is a subflow of the export a flow starts, and where.
type flowRef struct{ uuid, where string }

// webhook builds a webhook widget from a legacy webhook (ruleset or api action).
func (c *flowConv) webhook(url, method string, headers []webhookHeader, where string) map[string]any {
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" {
		method = "POST"
	}
	if url == "" {
		c.add(levelError, where+" webhook", "no webhook URL")
	}
	// RapidPro sent its legacy payload (as JSON) with POST only; a GET
	// has no body.
	body := "rapidpro"
	if method != "POST" {
		body = "none"
	}
	w := map[string]any{
		"type":      "webhook",
		"url":       c.tmpl(c.rewriteURL(url, where+" webhook"), where+" webhook"),
		"method":    method,
		"body_mode": body,
	}
	if len(headers) > 0 {
		h := map[string]string{}
		for i, hd := range headers {
			if strings.TrimSpace(hd.Name) == "" {
				// A blank row (the legacy editor kept one last) carries
				// nothing; a value without a name (not quoted: it may be
				// a credential) is a header that is not sent.
				at := fmt.Sprintf("%s webhook_headers[%d]", where, i)
				if strings.TrimSpace(hd.Value) == "" {
					c.add(levelInfo, at, "header without a name or a value: dropped")
				} else {
					c.add(levelWarning, at, "header with a value but no name: dropped, the webhook is called without it")
				}
				continue
			}
			h[hd.Name] = c.tmpl(hd.Value, fmt.Sprintf("%s webhook_headers[%d]", where, i))
		}
		if len(h) > 0 {
			w["headers"] = h
		}
	}
	return w
}
