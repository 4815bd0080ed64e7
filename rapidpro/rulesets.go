package rapidpro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ruleCase is a Parley rule: {"type","args","category"}.
type ruleCase struct {
	Type     string   `json:"type"`
	Args     []string `json:"args,omitempty"`
	Category string   `json:"category"`
}

// neverCategory is the category of the rule that never matches, kept by a
// wait whose one rule was the catch-all so that it saves its result with
// the category Other: no answer takes its exit.
const neverCategory = "Never"

// rulesOut is what a ruleset's rules become: cases, an exit per category, and
// the special exits (Other, Timeout, webhook and subflow outcomes).
type rulesOut struct {
	cases    []ruleCase
	exits    map[string]string
	order    []string
	other    string
	hasOther bool
	// otherCat is the catch-all's category ("Other", "All Responses").
	otherCat    string
	timeout     int
	timeoutCat  string
	timeoutDest string
	hasTimeout  bool
	special     map[string]string
	specialSet  map[string]bool
	// specialCat are the categories of the outcome rules, by outcome.
	specialCat map[string]string
}

// testTypes maps legacy test types to Parley rule types.
var testTypes = map[string]string{
	"contains":             "has_all_words",
	"contains_any":         "has_any_word",
	"contains_phrase":      "has_phrase",
	"contains_only_phrase": "has_only_phrase",
	"starts":               "has_beginning",
	"regex":                "has_pattern",
	"number":               "has_number",
	"lt":                   "has_number_lt",
	"lte":                  "has_number_lte",
	"gt":                   "has_number_gt",
	"gte":                  "has_number_gte",
	"eq":                   "has_number_eq",
	"between":              "has_number_between",
	"date":                 "has_date",
	"date_before":          "has_date_lt",
	"date_equal":           "has_date_eq",
	"date_after":           "has_date_gt",
	"phone":                "has_phone",
	"has_email":            "has_email",
	"not_empty":            "has_text",
	"in_group":             "has_group",
}

// unsupportedTests explains the legacy tests Parley cannot evaluate.
var unsupportedTests = map[string]string{
	"district":           locationHint,
	"ward":               locationHint,
	"state":              locationHint,
	"airtime_status":     "airtime transfers are not supported: call your airtime provider with a webhook (an api action) and test its webhook_status instead, before exporting",
	"interrupted_status": "interrupted subflows are not a Parley outcome: remove the rule before exporting (a subflow's Complete and Expired exits are kept)",
	"and":                "a rule of several tests that must all match: test them in rulesets one after another before exporting",
}

// locationHint is what to do instead of a location rule.
const locationHint = "location rules need RapidPro's administrative boundaries, which Parley does not have: test the names with a contains_any rule (has_any_word) instead, before exporting"

// ruleSet converts one ruleset into a widget.
func (c *flowConv) ruleSet(rs ruleSet) {
	where := "ruleset " + rs.UUID
	var cfg rulesetConfig
	if len(bytes.TrimSpace(rs.Config)) > 0 && string(rs.Config) != "null" {
		if err := json.Unmarshal(rs.Config, &cfg); err != nil {
			c.add(levelError, where+" config", "unreadable config: "+err.Error())
			return
		}
	}
	var w map[string]any
	switch rs.Type {
	case "wait_message", "", "wait_photo", "wait_video", "wait_audio", "wait_gps":
		out := c.rules(rs, where, true)
		w = c.newWidget(rs.UUID, "wait_for_response")
		c.mediaWait(rs, where)
		// A wait whose one rule is the catch-all, named Other (or not at
		// all), has no rules left. Without a result to save, its one way on
		// is Next. With one, RapidPro saved it with the category Other,
		// which a wait saves when no rule matches: it keeps a rule that
		// never matches, so that every answer takes Other.
		otherExit := "Other"
		if len(out.cases) == 0 {
			if out.hasOther && strings.TrimSpace(rs.Label) != "" {
				out.cases = []ruleCase{{Type: "expression", Args: []string{"false"}, Category: neverCategory}}
				w["note"] = fmt.Sprintf("its rule never matches: every answer takes Other and is saved with the category %q, as RapidPro saved it", out.otherCat)
			} else {
				otherExit = "Next"
			}
		}
		c.routing(w, rs, out, where, otherExit)
		if out.hasTimeout {
			w["timeout"] = out.timeout
			c.setExit(w, "Timeout", c.timeoutResult(rs, out))
		}
	case "wait_digit", "wait_digits":
		out := c.rules(rs, where, false)
		w = c.newWidget(rs.UUID, "gather_digits")
		if rs.Type == "wait_digit" {
			w["num_digits"] = 1
		} else if rs.FinishedKey != "" {
			w["finish_key"] = rs.FinishedKey
		}
		// RapidPro did not re-prompt: no digits, or digits no rule matches,
		// follow the Other rule at once.
		w["max_no_input"] = 0
		w["max_no_match"] = 0
		c.routing(w, rs, out, where, "No Match")
		if out.hasOther {
			c.setExit(w, "No Input", c.noInputResult(rs, out))
			// Digits no other rule matches are saved with the catch-all's
			// category, as RapidPro saved them, not as "No Match".
			if _, ok := out.exits[out.otherCat]; !ok {
				w["rules"] = append(append([]ruleCase(nil), out.cases...), ruleCase{Type: "expression", Args: []string{"true"}, Category: out.otherCat})
				c.setExit(w, out.otherCat, out.other)
			}
		}
	case "expression", "flow_field", "contact_field", "form_field", "group":
		out := c.rules(rs, where, false)
		w = c.newWidget(rs.UUID, "split")
		operand := strings.TrimSpace(rs.Operand)
		switch {
		case rs.Type == "group":
			operand = ""
		case rs.Type == "form_field":
			x := c.xlate()
			r := x.ref(strings.TrimPrefix(operand, "@"))
			c.flush(x, where+" operand")
			if !r.ok || r.expr == "" {
				c.add(levelError, where+" operand", fmt.Sprintf("form field operand %q is not a variable", rs.Operand))
				return
			}
			delim := cfg.FieldDelimiter
			if delim == "" {
				delim = " "
			}
			operand = fmt.Sprintf("@(field(%s, %d, %s))", r.expr, cfg.FieldIndex+1, strconv.Quote(delim))
		default:
			if isInputOperand(operand) {
				operand = ""
			} else {
				operand = c.tmpl(operand, where+" operand")
			}
		}
		if operand != "" {
			w["operand"] = operand
		}
		c.routing(w, rs, out, where, "Other")
	case "webhook":
		url, method, headers := cfg.Webhook, cfg.WebhookAction, cfg.WebhookHeaders
		if url == "" {
			url, method = rs.Webhook, rs.WebhookAction
		}
		out := c.rules(rs, where, false)
		wh := c.webhook(url, method, headers, where)
		w = c.newWidget(rs.UUID, "webhook")
		for k, v := range wh {
			if k != "type" {
				w[k] = v
			}
		}
		c.result(w, rs)
		c.outcomes(w, out, where, map[string]string{"success": "Success", "failure": "Failure"})
		c.webhookCategories(w, out)
	case "subflow":
		if cfg.Flow == nil || cfg.Flow.UUID == "" {
			c.add(levelError, where+" config.flow", "subflow ruleset names no flow")
			return
		}
		c.checkFlowRef(cfg.Flow.UUID, cfg.Flow.Name, where+" config.flow")
		out := c.rules(rs, where, false)
		w = c.newWidget(rs.UUID, "subflow")
		w["flow"] = cfg.Flow.UUID
		c.result(w, rs)
		c.outcomes(w, out, where, map[string]string{"completed": "Complete", "expired": "Expired"})
		c.subflowCategories(w, rs, out)
	case "random":
		w = c.newWidget(rs.UUID, "random")
		c.random(w, rs, where)
	case "resthook":
		if w = c.resthook(rs, cfg, where); w == nil {
			return
		}
	case "airtime":
		c.add(levelError, where, "airtime transfers are not supported: call your airtime provider with a webhook ruleset instead, before exporting")
		return
	case "wait_recording":
		if w = c.waitRecording(rs, where); w == nil {
			return
		}
	default:
		c.add(levelError, where, fmt.Sprintf("ruleset type %q is not supported: replace it with one of the rulesets docs/rapidpro.md (Rulesets) lists before exporting", rs.Type))
		return
	}
	if w != nil {
		w["position"] = map[string]int{"x": int(rs.X), "y": int(rs.Y)}
		c.widgets = append(c.widgets, w)
	}
}

// timeoutResult returns where the wait's Timeout exit goes. RapidPro saved the
// result on a timeout too (empty value, the timeout rule's category), which a
// Parley wait does not: a split that always matches saves it, then goes on.
func (c *flowConv) timeoutResult(rs ruleSet, out rulesOut) string {
	if strings.TrimSpace(rs.Label) == "" {
		return out.timeoutDest
	}
	cat := out.timeoutCat
	if cat == "" {
		cat = "Timeout"
	}
	return c.saveResult(rs.UUID+"-timeout", rs.Label, "", cat, out.timeoutDest, "saves the timed-out result as RapidPro did")
}

// subflowCategories keeps the export's category names of a subflow
// ruleset's outcomes ("Completed", "Timed Out"), which RapidPro saved and
// @flow.NAME.category gives, where the subflow widget saves Complete or
// Expired: an outcome whose category is another name goes through a split
// that saves the result again with it.
func (c *flowConv) subflowCategories(w map[string]any, rs ruleSet, out rulesOut) {
	if strings.TrimSpace(rs.Label) == "" {
		return
	}
	exits, _ := w["exits"].(map[string]string)
	for _, o := range []struct{ key, exit string }{{"completed", "Complete"}, {"expired", "Expired"}} {
		cat, ok := out.specialCat[o.key]
		if !ok && out.hasOther {
			cat, ok = out.otherCat, true
		}
		if !ok || cat == "" || cat == o.exit {
			continue
		}
		exits[o.exit] = c.saveResult(rs.UUID+"-"+o.key, rs.Label, o.key, cat, exits[o.exit],
			fmt.Sprintf("saves the result with the export's category %q, as RapidPro did", cat))
	}
}

// webhookCategories keeps the export's category names of a webhook ruleset's
// outcomes (in the base language: "Succès", "Échec"), which RapidPro saved
// and @flow.NAME.category gives, as the webhook widget's categories.
func (c *flowConv) webhookCategories(w map[string]any, out rulesOut) {
	cats := map[string]string{}
	for _, o := range []struct{ key, exit string }{{"success", "Success"}, {"failure", "Failure"}} {
		cat, ok := out.specialCat[o.key]
		if !ok && out.hasOther {
			cat, ok = out.otherCat, true
		}
		if ok && strings.TrimSpace(cat) != "" && cat != o.exit {
			cats[o.exit] = cat
		}
	}
	if len(cats) > 0 {
		w["categories"] = cats
	}
}

// saveResult adds a split (id) that saves result name with value and
// category, then goes to dest, and returns its id.
func (c *flowConv) saveResult(id, name, value, cat, dest, note string) string {
	s := c.newWidget(id, "split")
	s["operand"] = fmt.Sprintf("@(%s)", strconv.Quote(value))
	s["rules"] = []ruleCase{{Type: "expression", Args: []string{"true"}, Category: cat}}
	if cat == "Other" {
		// The split's own exit, which no rule may name: it saves that
		// category when no rule matches, and a split needs a rule.
		s["rules"] = []ruleCase{{Type: "expression", Args: []string{"false"}, Category: neverCategory}}
	}
	s["result"] = name
	s["exits"] = map[string]string{}
	c.setExit(s, cat, dest)
	s["note"] = note
	c.widgets = append(c.widgets, s)
	return id
}

// noInputResult returns where a digits wait's No Input exit goes. RapidPro
// read a call's timeout as empty digits: its rules were tested on "", and
// the result saved with the category they gave (the catch-all's, unless a
// rule matches no text), not "No Input". A split with the same rules on ""
// saves it so, then goes on as they route.
func (c *flowConv) noInputResult(rs ruleSet, out rulesOut) string {
	// A rule named Other (not the catch-all) cannot be a split's: the
	// split's own exit has that name.
	if strings.TrimSpace(rs.Label) == "" || contains(out.order, "Other") {
		return out.other
	}
	id := rs.UUID + "-no-input"
	s := c.newWidget(id, "split")
	s["operand"] = `@("")`
	if len(out.cases) > 0 {
		s["rules"] = out.cases
	}
	s["result"] = rs.Label
	s["exits"] = map[string]string{}
	for _, cat := range out.order {
		c.setExit(s, cat, out.exits[cat])
	}
	c.setExit(s, "Other", out.other)
	s["note"] = "saves a call's timeout as RapidPro did: its rules tested on no digits"
	c.widgets = append(c.widgets, s)
	return id
}

func isInputOperand(op string) bool {
	switch strings.ToLower(strings.TrimSpace(op)) {
	case "", "@step.value", "@step", "@step.text":
		return true
	}
	return false
}

func (c *flowConv) result(w map[string]any, rs ruleSet) {
	if strings.TrimSpace(rs.Label) != "" {
		w["result"] = rs.Label
	}
}

func (c *flowConv) setExit(w map[string]any, name, dest string) {
	exits, _ := w["exits"].(map[string]string)
	if exits == nil {
		exits = map[string]string{}
		w["exits"] = exits
	}
	if dest != "" {
		exits[name] = dest
	}
}

// routing writes rules, result, operand and exits of a rule-routing widget;
// otherExit is the exit no match takes.
func (c *flowConv) routing(w map[string]any, rs ruleSet, out rulesOut, where, otherExit string) {
	c.result(w, rs)
	if len(out.cases) > 0 {
		w["rules"] = out.cases
	}
	if _, ok := w["operand"]; !ok && !isInputOperand(rs.Operand) && (rs.Type == "wait_message" || rs.Type == "") {
		w["operand"] = c.tmpl(rs.Operand, where+" operand")
	}
	w["exits"] = map[string]string{}
	for _, cat := range out.order {
		c.setExit(w, cat, out.exits[cat])
	}
	if out.hasOther {
		c.setExit(w, otherExit, out.other)
	}
}

// outcomes writes the exits of a webhook or subflow widget from rules that
// test its outcome (webhook_status, subflow) or catch everything (true).
func (c *flowConv) outcomes(w map[string]any, out rulesOut, where string, names map[string]string) {
	w["exits"] = map[string]string{}
	for _, key := range sortedKeys(names) {
		exit := names[key]
		switch {
		case out.specialSet[key]:
			c.setExit(w, exit, out.special[key])
		case out.hasOther:
			c.setExit(w, exit, out.other)
		}
	}
	for _, cat := range out.order {
		c.add(levelError, where, fmt.Sprintf("rule category %q tests the %s's answer, which Parley does not support here: route with a split after it", cat, w["type"]))
	}
}

// rules converts a ruleset's rules. wait says whether a timeout rule is allowed.
func (c *flowConv) rules(rs ruleSet, where string, wait bool) rulesOut {
	out := rulesOut{exits: map[string]string{}, special: map[string]string{}, specialSet: map[string]bool{}, specialCat: map[string]string{}}
	afterTrue := false
	for i, r := range rs.Rules {
		rw := fmt.Sprintf("%s rules[%d]", where, i)
		var t ruleTest
		if err := json.Unmarshal(r.Test, &t); err != nil {
			c.add(levelError, rw+".test", "unreadable test: "+string(r.Test))
			continue
		}
		cat := c.category(r.Category)
		dest := c.dest(r.Destination, rw+".destination")
		switch t.Type {
		case "true":
			if afterTrue {
				c.add(levelInfo, rw, fmt.Sprintf("second catch-all rule (category %q) never matches in RapidPro either: dropped", cat))
				continue
			}
			afterTrue = true
			out.otherCat = cat
			if out.otherCat == "" {
				out.otherCat = "Other"
			}
			if cat == "" || cat == "Other" || isWebhookRuleset(rs.Type) || rs.Type == "subflow" {
				out.other, out.hasOther = dest, true
				continue
			}
			c.addCase(&out, ruleCase{Type: "expression", Args: []string{"true"}, Category: cat}, dest, rw)
			out.other, out.hasOther = dest, true
			continue
		case "timeout":
			if !wait {
				c.add(levelError, rw+".test", "a timeout rule only works on a wait for a message")
				continue
			}
			if t.Minutes <= 0 {
				c.add(levelError, rw+".test.minutes", "timeout without minutes")
				continue
			}
			out.timeout, out.timeoutCat, out.timeoutDest, out.hasTimeout = t.Minutes*60, cat, dest, true
			if cat != "Timeout" {
				c.add(levelInfo, rw, fmt.Sprintf("the timeout (category %q) is the wait's Timeout exit", cat))
			}
			continue
		case "webhook_status":
			if !isWebhookRuleset(rs.Type) {
				c.add(levelError, rw+".test", "webhook_status test outside a webhook ruleset")
				continue
			}
			key := "failure"
			if t.Status == "success" {
				key = "success"
			}
			out.special[key], out.specialSet[key], out.specialCat[key] = dest, true, cat
			continue
		case "subflow":
			if rs.Type != "subflow" {
				c.add(levelError, rw+".test", "subflow test outside a subflow ruleset")
				continue
			}
			key := t.ExitType
			if key != "completed" && key != "expired" {
				c.add(levelError, rw+".test.exit_type", fmt.Sprintf("unknown subflow exit type %q", t.ExitType))
				continue
			}
			out.special[key], out.specialSet[key], out.specialCat[key] = dest, true, cat
			continue
		}
		if afterTrue {
			c.add(levelInfo, rw, fmt.Sprintf("rule (category %q) after the catch-all never matches in RapidPro either: dropped", cat))
			continue
		}
		if t.Type == "false" {
			c.add(levelInfo, rw, fmt.Sprintf("rule (category %q) with a false test never matches in RapidPro either: dropped", cat))
			continue
		}
		if isWebhookRuleset(rs.Type) || rs.Type == "subflow" {
			c.add(levelError, rw+".test", fmt.Sprintf("%s test on a %s ruleset is not supported: route with a split after it", t.Type, rs.Type))
			continue
		}
		if cat == "" {
			c.add(levelError, rw+".category", "rule without a category")
			continue
		}
		if t.Type == "or" {
			// Its tests become rules of its category, in its place and
			// order: the first that matches gives the value, as in RapidPro.
			cases, ok := c.orCases(t, rw)
			for _, rc := range cases {
				rc.Category = cat
				c.addCase(&out, rc, dest, rw)
			}
			if ok && len(cases) == 0 {
				c.add(levelInfo, rw, fmt.Sprintf("rule (category %q) whose tests are all false never matches in RapidPro either: dropped", cat))
			}
			continue
		}
		rc, ok := c.testCase(t, rw)
		if !ok {
			continue
		}
		rc.Category = cat
		c.addCase(&out, rc, dest, rw)
	}
	return out
}

func (c *flowConv) addCase(out *rulesOut, rc ruleCase, dest, where string) {
	if prev, ok := out.exits[rc.Category]; ok && prev != dest {
		c.add(levelError, where, fmt.Sprintf("category %q leads to %s here and to %s in an earlier rule: Parley routes by category", rc.Category, orEnd(dest), orEnd(prev)))
		return
	}
	if _, ok := out.exits[rc.Category]; !ok {
		out.order = append(out.order, rc.Category)
	}
	out.exits[rc.Category] = dest
	out.cases = append(out.cases, rc)
}

// orCases converts the tests of an "or" test (where names its rule) into
// rules without their category, nested "or" tests flattened. It reports
// false when one could not be converted.
func (c *flowConv) orCases(t ruleTest, where string) ([]ruleCase, bool) {
	if len(t.Tests) == 0 {
		c.add(levelError, where+".test.tests", "an or test without tests: give the rule a test, or remove it, before exporting")
		return nil, false
	}
	var cases []ruleCase
	ok := true
	for j, raw := range t.Tests {
		w := fmt.Sprintf("%s.test.tests[%d]", where, j)
		var st ruleTest
		if err := json.Unmarshal(raw, &st); err != nil {
			c.add(levelError, w, "unreadable test: "+string(raw))
			ok = false
			continue
		}
		switch st.Type {
		case "or":
			nested, nok := c.orCases(st, w)
			cases, ok = append(cases, nested...), ok && nok
		case "true":
			cases = append(cases, ruleCase{Type: "expression", Args: []string{"true"}})
		case "false":
			// Never matches: nothing to test.
		case "timeout", "webhook_status", "subflow":
			c.add(levelError, w+".type", fmt.Sprintf("a %s test inside an or test is not supported: give it a rule of its own before exporting", st.Type))
			ok = false
		default:
			rc, tok := c.testCase(st, w)
			if tok {
				cases = append(cases, rc)
			}
			ok = ok && tok
		}
	}
	return cases, ok
}

func orEnd(d string) string {
	if d == "" {
		return "the end of the flow"
	}
	return d
}

// testCase converts a legacy test into a rule (without its category); where
// names the rule.
func (c *flowConv) testCase(t ruleTest, where string) (ruleCase, bool) {
	if why, ok := unsupportedTests[t.Type]; ok {
		c.add(levelError, where+".test", fmt.Sprintf("%s test: %s", t.Type, why))
		return ruleCase{}, false
	}
	typ, ok := testTypes[t.Type]
	if !ok {
		c.add(levelError, where+".test", fmt.Sprintf("test type %q is not supported: replace it with one of the tests docs/rapidpro.md (Rules) lists before exporting", t.Type))
		return ruleCase{}, false
	}
	rc := ruleCase{Type: typ}
	switch t.Type {
	case "contains", "contains_any", "contains_phrase", "contains_only_phrase", "starts", "regex":
		tr, ok := readTranslations(t.Test)
		if !ok || len(tr) == 0 {
			c.add(levelError, where+".test", "missing test text")
			return rc, false
		}
		key, _ := c.langKey(tr, where+".test")
		arg := tr[key]
		var diff []string
		for _, k := range tr.langs() {
			if k != key && k != "" && !strings.EqualFold(strings.TrimSpace(tr[k]), strings.TrimSpace(arg)) {
				diff = append(diff, fmt.Sprintf("%s %q", k, tr[k]))
			}
		}
		if len(diff) > 0 {
			c.add(levelWarning, where+".test", fmt.Sprintf("the rule tests %q for every contact: its translations (%s) are not kept, as Parley rules have no translations", arg, strings.Join(diff, ", ")))
		}
		if strings.TrimSpace(arg) == "" {
			c.add(levelError, where+".test", "empty test text")
			return rc, false
		}
		rc.Args = []string{c.tmpl(arg, where+".test")}
	case "lt", "lte", "gt", "gte", "eq":
		s, ok := scalarText(t.Test)
		if !ok {
			c.add(levelError, where+".test", "missing number")
			return rc, false
		}
		rc.Args = []string{c.tmpl(s, where+".test")}
	case "between":
		lo, ok1 := scalarText(t.Min)
		hi, ok2 := scalarText(t.Max)
		if !ok1 || !ok2 {
			c.add(levelError, where, "between needs min and max")
			return rc, false
		}
		rc.Args = []string{c.tmpl(lo, where+".min"), c.tmpl(hi, where+".max")}
	case "date_before", "date_equal", "date_after":
		s, ok := scalarText(t.Test)
		if !ok {
			c.add(levelError, where+".test", "missing date")
			return rc, false
		}
		rc.Args = []string{c.tmpl(s, where+".test")}
	case "in_group":
		name, ok := groupName(t.Test)
		if !ok {
			c.add(levelError, where+".test", "missing group")
			return rc, false
		}
		rc.Args = []string{name}
	}
	return rc, true
}

// random converts a random ruleset. RapidPro's legacy random rulesets test
// @(RAND()), a number from 0 to 1, with a between rule per bucket: the
// legacy engine saved that number as the value and the bucket as the
// category, each bucket as likely as its range is wide. When every rule is
// such a range, the ruleset becomes a split doing the same on @(rand());
// otherwise a random widget, its buckets equally likely.
func (c *flowConv) random(w map[string]any, rs ruleSet, where string) {
	c.result(w, rs)
	// The legacy ranges, when every rule has one.
	ranges := len(rs.Rules) > 0
	bounds := make([][2]string, len(rs.Rules))
	for i, r := range rs.Rules {
		var t ruleTest
		_ = json.Unmarshal(r.Test, &t)
		lo, _ := scalarText(t.Min)
		hi, _ := scalarText(t.Max)
		a, err1 := strconv.ParseFloat(lo, 64)
		b, err2 := strconv.ParseFloat(hi, 64)
		if t.Type != "between" || err1 != nil || err2 != nil || b < a {
			ranges = false
		}
		bounds[i] = [2]string{lo, hi}
	}
	exits := map[string]string{}
	var buckets []string
	var cases []ruleCase
	for i, r := range rs.Rules {
		rw := fmt.Sprintf("%s rules[%d]", where, i)
		cat := c.category(r.Category)
		if cat == "" {
			cat = fmt.Sprintf("Bucket %d", i+1)
		}
		name := cat
		// A split's rule cannot be named Other, its own exit.
		for n := 2; exits[name] != "" || contains(buckets, name) || ranges && name == "Other"; n++ {
			name = fmt.Sprintf("%s %d", cat, n)
		}
		if name != cat {
			c.add(levelWarning, rw, fmt.Sprintf("bucket %q is saved and routed as %q: its name is another bucket's or the split's own Other exit", cat, name))
		}
		buckets = append(buckets, name)
		if d := c.dest(r.Destination, rw+".destination"); d != "" {
			exits[name] = d
		}
		cases = append(cases, ruleCase{Type: "has_number_between", Args: bounds[i][:], Category: name})
	}
	if len(buckets) < 2 {
		c.add(levelError, where, "a random split needs at least two buckets")
		return
	}
	w["exits"] = exits
	if ranges {
		w["type"] = "split"
		w["operand"] = "@(rand())"
		w["rules"] = cases
		return
	}
	w["buckets"] = buckets
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
