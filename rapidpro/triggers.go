package rapidpro

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// An export carries, beside its flows, the workspace's triggers (what starts
// each flow: a keyword, a missed call, a schedule) and campaigns (flows and
// messages sent relative to a contact's date field). Parley keeps what starts
// a flow in its channels and has no campaigns, so none of them is imported:
// each gets a warning line saying what RapidPro did and how to do it in
// Parley, under the name of the flow it starts, so that --flow keeps it.

// exportFlow is what the trigger lines need of a converted flow.
type exportFlow struct {
	id, name string
	voice    bool
	failed   bool
}

// triggerKinds names the trigger types RapidPro has and Parley does not.
var triggerKinds = map[string]string{
	"M": "missed call",
	"N": "new conversation",
	"R": "referral",
	"T": "closed ticket",
	"I": "opt-in",
	"O": "opt-out",
	"U": "USSD pull",
	"F": "follow",
}

// exportTriggers adds the report lines of the export's triggers and
// campaigns; byUUID are the export's flows by their uuid.
func exportTriggers(doc gjson.Result, byUUID map[string]exportFlow, rep *Report) {
	flowOf := func(ref gjson.Result, where string) (exportFlow, string) {
		uuid, name := ref.Get("uuid").String(), ref.Get("name").String()
		if f, ok := byUUID[uuid]; ok && uuid != "" {
			switch {
			case f.failed:
				return f, fmt.Sprintf(" (flow %q did not import: import it first)", f.name)
			}
			return f, ""
		}
		if name == "" {
			name = where
		}
		return exportFlow{id: uuid, name: name}, fmt.Sprintf(" (flow %s %q is not in this export: import it with id %s first)", uuid, name, uuid)
	}
	add := func(flow, where, msg string) {
		rep.Lines = append(rep.Lines, ReportLine{Flow: flow, Where: where, Level: levelWarning, Message: msg})
	}
	doc.Get("triggers").ForEach(func(k, t gjson.Result) bool {
		where := fmt.Sprintf("triggers[%d]", k.Int())
		f, missing := flowOf(t.Get("flow"), where)
		typ := t.Get("trigger_type").String()
		switch typ {
		case "K":
			var words []string
			if kw := strings.TrimSpace(t.Get("keyword").String()); kw != "" {
				words = append(words, kw)
			}
			t.Get("keywords").ForEach(func(_, kw gjson.Result) bool {
				if s := strings.TrimSpace(kw.String()); s != "" {
					words = append(words, s)
				}
				return true
			})
			if len(words) == 0 {
				add(f.name, where, "keyword trigger without a keyword: not carried over")
				return true
			}
			if f.voice {
				add(f.name, where, fmt.Sprintf("keyword trigger %s started this voice flow by calling the contact: Parley's keyword triggers start messaging flows only, so start the call with POST /v1/sessions (with a \"call\") when the keyword arrives%s", quoteAll(words), missing))
				return true
			}
			snippets := make([]string, len(words))
			for i, w := range words {
				b, _ := json.Marshal(struct {
					Keyword string `json:"keyword"`
					Flow    string `json:"flow"`
				}{strings.ToLower(w), f.id})
				snippets[i] = string(b)
			}
			msg := fmt.Sprintf("keyword trigger %s: RapidPro started this flow for a message whose first word is the keyword; Parley starts flows by keyword from a channel's triggers: add %s to the channel's \"triggers\" (PUT /v1/channels/CHANNEL)", quoteAll(words), strings.Join(snippets, ", "))
			if t.Get("match_type").String() == "O" {
				msg += "; RapidPro matched only a message of the keyword alone, a Parley trigger matches the first word of any message"
			}
			msg += groupsNote(t)
			add(f.name, where, msg+missing)
		case "C":
			add(f.name, where, fmt.Sprintf("catch-all trigger: RapidPro started this flow for a message no keyword matched; in Parley set the channel's \"default_flow\" to %q (PUT /v1/channels/CHANNEL)%s%s", f.id, groupsNote(t), missing))
		case "V":
			add(f.name, where, fmt.Sprintf("inbound call trigger: RapidPro answered calls with this flow; in Parley set the channel's \"voice_flow\" to %q (PUT /v1/channels/CHANNEL)%s%s", f.id, groupsNote(t), missing))
		case "S":
			add(f.name, where, fmt.Sprintf("schedule trigger: Parley does not schedule flows: start this flow from a scheduler of yours (cron) with POST /v1/sessions {\"flow\": %q, \"contact\": ...} for each contact it was sent to%s", f.id, missing))
		default:
			kind, ok := triggerKinds[typ]
			if !ok {
				add(f.name, where, fmt.Sprintf("trigger type %q is not known: not carried over%s", typ, missing))
				return true
			}
			add(f.name, where, fmt.Sprintf("%s trigger: Parley has no %s trigger, so nothing starts this flow on that event: start it with POST /v1/sessions {\"flow\": %q, \"contact\": ...} when it happens%s", kind, kind, f.id, missing))
		}
		return true
	})
	doc.Get("campaigns").ForEach(func(ck, c gjson.Result) bool {
		name := c.Get("name").String()
		group := c.Get("group.name").String()
		c.Get("events").ForEach(func(ek, e gjson.Result) bool {
			where := fmt.Sprintf("campaigns[%d].events[%d]", ck.Int(), ek.Int())
			off, side := e.Get("offset").Int(), "after"
			if off < 0 {
				off, side = -off, "before"
			}
			when := fmt.Sprintf("%d %s %s", off, campaignUnit(e.Get("unit").String(), off), side)
			if h := e.Get("delivery_hour"); h.Exists() && h.Int() >= 0 {
				when = fmt.Sprintf("at %02d:00, %s", h.Int(), when)
			}
			rel := e.Get("relative_to.key").String()
			if rel == "" {
				rel = e.Get("relative_to.label").String()
			}
			sched := fmt.Sprintf("campaign %q: RapidPro %%s each contact of group %q %s the date in their field %q", name, group, when, rel)
			todo := "Parley has no campaigns: start it from a scheduler of yours with POST /v1/sessions at those times"
			if e.Get("event_type").String() == "M" {
				text := e.Get("message").String()
				if m := e.Get("message"); m.IsObject() {
					text = m.Get(gjson.Escape(e.Get("base_language").String())).String()
					if text == "" {
						m.ForEach(func(_, v gjson.Result) bool { text = v.String(); return false })
					}
				}
				add(name, where, fmt.Sprintf(sched, fmt.Sprintf("sent the message %q to", text))+"; Parley has no campaigns: send it from a scheduler of yours with POST /v1/sessions of a flow with one send_message widget, at those times")
				return true
			}
			f, missing := flowOf(e.Get("flow"), where)
			add(f.name, where, fmt.Sprintf(sched, "started this flow for")+"; "+strings.Replace(todo, "start it", fmt.Sprintf("start flow %q", f.id), 1)+missing)
			return true
		})
		return true
	})
}

// groupsNote says which contacts a trigger was limited to, which a Parley
// trigger is not.
func groupsNote(t gjson.Result) string {
	var in, out []string
	for _, g := range t.Get("groups").Array() {
		in = append(in, g.Get("name").String())
	}
	for _, g := range t.Get("exclude_groups").Array() {
		out = append(out, g.Get("name").String())
	}
	var b strings.Builder
	if len(in) > 0 {
		fmt.Fprintf(&b, "; RapidPro started it only for contacts in %s", quoteAll(in))
	}
	if len(out) > 0 {
		fmt.Fprintf(&b, "; RapidPro did not start it for contacts in %s", quoteAll(out))
	}
	if b.Len() > 0 {
		b.WriteString(": a Parley trigger starts it for everyone, so route on has_group at the flow's start to keep that")
	}
	if ch := t.Get("channel.name").String(); ch != "" {
		fmt.Fprintf(&b, "; RapidPro limited it to channel %q: configure that channel", ch)
	}
	return b.String()
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// campaignUnit names a campaign event's unit of offset, for n of them.
func campaignUnit(u string, n int64) string {
	name, ok := map[string]string{"M": "minute", "H": "hour", "D": "day", "W": "week"}[u]
	if !ok {
		return fmt.Sprintf("(unit %q)", u)
	}
	if n != 1 {
		name += "s"
	}
	return name
}
