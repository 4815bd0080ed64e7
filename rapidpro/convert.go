package rapidpro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/parleyhq/parley/engine"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/widgets"
	"github.com/tidwall/gjson"
)

// Options tune an import.
type Options struct {
	// Lang is the language (ISO 639-3, or a legacy code such as "fre") the
	// widgets' texts are taken from; the default is each flow's base language.
	// The other languages are kept as translations.
	Lang string
	// RewriteURLs rewrites webhook URL prefixes, longest prefix first:
	// "https://textit.in/demo/status/" -> "http://127.0.0.1:8080/demo/order-status".
	RewriteURLs map[string]string
	// Environment, when set, is written into every converted flow: the
	// workspace's settings a legacy export does not hold, the order of
	// day, month and year in dates ("MM-DD-YYYY") and the country of
	// phone numbers written without a country code.
	Environment *flows.Environment
}

// Result is what Convert produced: one Flow per flow of the export, in export
// order, and the report.
type Result struct {
	Flows  []Flow
	Report Report
}

// Flow is one converted flow. ID is the RapidPro flow uuid (subflows refer to
// it). JSON is the Parley flow document; it is nil when Failed, and the report
// then has at least one error line for the flow.
type Flow struct {
	ID, Name string
	// UUID is the flow's uuid in the export, "" when it has none (ID is
	// then made of its name).
	UUID   string
	JSON   []byte
	Failed bool
	// Errors are the report's error lines of the flow: why it did not
	// import, when Failed.
	Errors []ReportLine
}

// Supported export versions.
const (
	minMajor = 7
	maxMajor = 11
	maxMinor = 12
)

// ErrNotExport is returned by Convert for JSON that is not a legacy export.
var ErrNotExport = errors.New("not a RapidPro legacy flow export (expected \"flows\" with action_sets/rule_sets)")

// IsExport reports whether data looks like a RapidPro legacy export: a
// document with "flows" holding action_sets or rule_sets, or a single legacy
// flow.
func IsExport(data []byte) bool {
	return exportHas(data, func(f gjson.Result) bool {
		return f.Get("action_sets").IsArray() || f.Get("rule_sets").IsArray()
	})
}

// IsNewFormat reports whether data is a RapidPro export (or a single flow) of
// the new format, whose flows have "nodes": Convert reports each of its flows
// as an error, since this importer reads legacy exports only.
func IsNewFormat(data []byte) bool {
	return exportHas(data, func(f gjson.Result) bool {
		return f.Get("nodes").IsArray() && !f.Get("widgets").Exists()
	})
}

// exportHas reports whether data is a JSON object whose "flows" hold a flow
// for which is returns true, or, without "flows", is itself such a flow.
func exportHas(data []byte, is func(flow gjson.Result) bool) bool {
	if !gjson.ValidBytes(data) {
		return false
	}
	doc := gjson.ParseBytes(data)
	if !doc.IsObject() {
		return false
	}
	if fl := doc.Get("flows"); fl.IsArray() {
		found := false
		fl.ForEach(func(_, f gjson.Result) bool {
			found = is(f)
			return !found
		})
		return found
	}
	return is(doc)
}

// newFormat is the result of converting a new-format export: every flow
// failed, each with an error line.
func newFormat(data []byte) *Result {
	doc := gjson.ParseBytes(data)
	fl := doc.Get("flows").Array()
	if !doc.Get("flows").IsArray() {
		fl = []gjson.Result{doc}
	}
	res := &Result{}
	for i, f := range fl {
		name := f.Get("name").String()
		if name == "" {
			name = fmt.Sprintf("flow %d", i+1)
		}
		version := f.Get("spec_version").String()
		if version == "" {
			version = doc.Get("version").String()
		}
		msg := "new-format flow (with \"nodes\")"
		if version != "" {
			msg = fmt.Sprintf("new-format flow (spec version %s, with \"nodes\")", version)
		}
		if !f.Get("nodes").IsArray() {
			msg = "flow without \"nodes\" in a new-format export"
		}
		res.Report.Lines = append(res.Report.Lines, ReportLine{Flow: name, Where: fmt.Sprintf("flows[%d]", i), Level: levelError,
			Message: msg + " is not supported: this importer reads legacy exports (flow versions 7 to 11.12, with action_sets and rule_sets)"})
		res.Flows = append(res.Flows, Flow{ID: f.Get("uuid").String(), Name: name, Failed: true})
	}
	return res
}

// syntaxError describes where data stops being JSON, by line and column.
func syntaxError(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("rapidpro: export is not valid JSON: %v", err)
	}
	// Offset counts the bytes read, the offending one included; JSON that
	// ends early breaks just after its last byte, where validation puts
	// it too.
	at := max(se.Offset-1, 0)
	if se.Offset >= int64(len(data)) && strings.Contains(err.Error(), "unexpected end") {
		at = int64(len(data))
	}
	line, col := flows.LineColumn(data, at)
	return fmt.Errorf("rapidpro: export is not valid JSON: line %d, column %d: %v", line, col, err)
}

// Convert turns every flow of a RapidPro export into Parley flow JSON. A flow
// that cannot run as it ran in RapidPro is marked Failed, with error lines in
// the report saying why and where; the others convert, with warning lines for
// every difference. The error is for input that is not an export at all.
func Convert(data []byte, o Options) (*Result, error) {
	if err := syntaxError(data); err != nil {
		return nil, err
	}
	if IsNewFormat(data) {
		return newFormat(data), nil
	}
	if !IsExport(data) {
		return nil, ErrNotExport
	}
	var raws []json.RawMessage
	var exportVersion json.RawMessage
	doc := gjson.ParseBytes(data)
	inExport := doc.Get("flows").IsArray()
	if inExport {
		var ex legacyExport
		if err := json.Unmarshal(data, &ex); err != nil {
			return nil, fmt.Errorf("rapidpro: reading export: %w", err)
		}
		raws, exportVersion = ex.Flows, ex.Version
	} else {
		raws = []json.RawMessage{data}
	}

	res := &Result{}
	// First pass: names and ids, so subflow references can be checked.
	type pending struct {
		f     *legacyFlow
		id    string
		name  string
		err   error
		mig   *migration
		probs []jsonProblem
	}
	var all []pending
	known := map[string]string{}
	// idOwner is the flow an id was given to.
	type idOwner struct {
		index int
		name  string
	}
	seenIDs := map[string]*idOwner{}
	types := exportFlowTypes(raws)
	for i, raw := range raws {
		var f legacyFlow
		// A field of another type is skipped by Unmarshal, which reads
		// the rest (the name, for the report): checkFlowJSON says where,
		// in the export as written, before it is migrated.
		prefix := ""
		if inExport {
			prefix = fmt.Sprintf("flows[%d]", i)
		}
		probs := checkFlowJSON(raw, prefix)
		raw, mig := migrateFlow(raw, exportVersion, types)
		err := json.Unmarshal(raw, &f)
		if err == nil {
			mig.read(&f)
		}
		name := f.Metadata.Name
		if name == "" {
			name = fmt.Sprintf("flow %d", i+1)
		}
		// The id is the uuid, or the key of the name; one another flow of
		// the export has already gets a suffix, so that it does not clash
		// with the ids of other imports either.
		base := f.Metadata.UUID
		if base == "" {
			base = flows.Key(name)
		}
		if base == "" {
			base = fmt.Sprintf("flow-%d", i+1)
		}
		id := base
		for n := 2; seenIDs[id] != nil; n++ {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		if first := seenIDs[base]; first != nil && id != base {
			where, msg := prefix+".metadata.uuid", fmt.Sprintf("flow %q (flows[%d]) has the same uuid %s: this flow is imported with id %s, and a subflow that names %s starts %q",
				first.name, first.index, base, id, base, first.name)
			if f.Metadata.UUID == "" {
				where, msg = prefix+".metadata.name", fmt.Sprintf("flow %q (flows[%d]), without a uuid too, has the same id %s from its name: this flow is imported with id %s",
					first.name, first.index, base, id)
			}
			probs = append(probs, jsonProblem{levelWarning, strings.TrimPrefix(where, "."), msg})
		}
		seenIDs[id] = &idOwner{i, name}
		if _, dup := known[f.Metadata.UUID]; err == nil && f.Metadata.UUID != "" && !dup {
			known[f.Metadata.UUID] = name
		}
		all = append(all, pending{&f, id, name, err, mig, probs})
	}
	eng := engine.New(widgets.Registered())
	convs := make([]*flowConv, len(all))
	for i, p := range all {
		out := Flow{ID: p.id, Name: p.name, UUID: p.f.Metadata.UUID}
		first := len(res.Report.Lines)
		c := &flowConv{o: o, rep: &res.Report, flowName: p.name, id: p.id, f: p.f, known: known, mig: p.mig}
		for _, pr := range p.probs {
			c.add(pr.level, pr.where, pr.msg)
		}
		switch {
		case c.failed:
		case p.err != nil:
			c.add(levelError, fmt.Sprintf("flows[%d]", i), "cannot read the flow: "+p.err.Error())
		default:
			for _, l := range p.mig.lines {
				c.add(levelInfo, l.where, l.msg)
			}
			version := p.f.Version
			if len(version) == 0 {
				version = exportVersion
			}
			out.JSON = c.convert(version)
		}
		if !c.failed && out.JSON != nil {
			if _, err := eng.Load(out.JSON); err != nil {
				c.loadErrors(err)
			}
		}
		if c.failed {
			out.Failed = true
			out.JSON = nil
			for _, l := range res.Report.Lines[first:] {
				if l.Level == levelError {
					out.Errors = append(out.Errors, l)
				}
			}
		}
		res.Flows = append(res.Flows, out)
		convs[i] = c
	}
	// A subflow of the export that did not import is not there to start.
	failed := map[string]string{}
	for i, p := range all {
		if res.Flows[i].Failed && p.f.Metadata.UUID != "" {
			failed[p.f.Metadata.UUID] = p.name
		}
	}
	for i, c := range convs {
		if res.Flows[i].Failed {
			continue
		}
		for _, r := range c.refs {
			if name, ok := failed[r.uuid]; ok && known[r.uuid] == name {
				c.add(levelWarning, r.where, fmt.Sprintf("flow %s (%q) did not import: the subflow does not run until it is imported with id %s", r.uuid, name, r.uuid))
			}
		}
	}
	if inExport {
		byUUID := map[string]exportFlow{}
		for i, p := range all {
			if u := p.f.Metadata.UUID; u != "" {
				if _, dup := byUUID[u]; !dup {
					byUUID[u] = exportFlow{id: res.Flows[i].ID, name: p.name, voice: p.f.FlowType == "V", failed: res.Flows[i].Failed}
				}
			}
		}
		exportTriggers(doc, byUUID, &res.Report)
	}
	return res, nil
}

// flowConv converts one flow.
type flowConv struct {
	o        Options
	rep      *Report
	flowName string
	id       string
	f        *legacyFlow
	known    map[string]string
	refs     []flowRef  // the subflows of the export it starts
	mig      *migration // what RapidPro's import migrations changed (migrate.go)
	// apiResult is the result name 11.7 gives the webhook action being
	// converted, "" for none.
	apiResult string

	base    string // the legacy base language key ("base", "eng", "fre")
	target  string // ISO 639-3 code of the chosen language, or "base"
	failed  bool
	widgets []map[string]any
	ids     map[string]bool
	nodes   map[string]bool
	alias   map[string]string
	renamed map[string]bool

	// langFound counts the texts found in the chosen language; fallbacks
	// are those taken from another.
	langFound int
	fallbacks []fallback
	langs     map[string]bool // the language keys of the flow's texts
	pickedKey string          // the key of the text pick chose last

	// catDropped lists the category names whose translations were dropped,
	// each with them; catSeen holds the names listed.
	catDropped []string
	catSeen    map[string]bool
}

func (c *flowConv) add(level, where, msg string) {
	if level == levelError {
		c.failed = true
	}
	c.rep.Lines = append(c.rep.Lines, ReportLine{Flow: c.flowName, Where: where, Level: level, Message: msg})
}

func (c *flowConv) loadErrors(err error) {
	var ve *flows.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			where := fe.Path
			if fe.Widget != "" {
				where = "widget " + fe.Widget + " " + fe.Path
			}
			c.add(levelError, where, "the converted flow does not load: "+fe.Message)
		}
		return
	}
	c.add(levelError, "", "the converted flow does not load: "+err.Error())
}

func (c *flowConv) convert(version json.RawMessage) []byte {
	major, minor, vtext, ok := versionOf(version)
	switch {
	case !ok:
		c.add(levelError, "version", fmt.Sprintf("unknown flow version %s (this importer reads versions 7 to 11.12)", string(version)))
		return nil
	case major < minMajor || major > maxMajor || (major == maxMajor && minor > maxMinor):
		c.add(levelError, "version", fmt.Sprintf("flow version %s is not supported (this importer reads legacy versions 7 to 11.12; export newer flows from RapidPro's legacy editor or convert older ones there first)", vtext))
		return nil
	}
	f := c.f
	c.base = f.BaseLanguage
	if c.base == "" {
		c.base = "base"
	}
	c.target = normLang(c.base)
	if c.o.Lang != "" {
		c.target = normLang(c.o.Lang)
	}
	c.ids = map[string]bool{}
	c.nodes = map[string]bool{}
	c.alias = map[string]string{}
	c.renamed = map[string]bool{}
	for _, as := range f.ActionSets {
		c.nodes[as.UUID] = true
	}
	for _, rs := range f.RuleSets {
		c.nodes[rs.UUID] = true
	}

	kind := flows.KindMessaging
	switch f.FlowType {
	case "V":
		kind = flows.KindVoice
	case "", "F", "M":
	case "S":
		c.add(levelInfo, "flow_type", "Surveyor flow imported as a messaging flow")
	case "U":
		c.add(levelWarning, "flow_type", "USSD flow imported as a messaging flow: Parley has no USSD sessions")
	default:
		c.add(levelWarning, "flow_type", fmt.Sprintf("unknown flow type %q imported as a messaging flow", f.FlowType))
	}

	for i, as := range f.ActionSets {
		c.actionSet(i, as)
	}
	for _, rs := range f.RuleSets {
		c.ruleSet(rs)
	}
	c.reportCategories()
	c.reportLanguage()
	// Empty action sets were skipped: point exits at where they led.
	for _, w := range c.widgets {
		exits, _ := w["exits"].(map[string]string)
		for k, v := range exits {
			if r := c.resolve(v); r != v {
				if r == "" {
					delete(exits, k)
				} else {
					exits[k] = r
				}
			}
		}
	}
	start := c.resolve(f.Entry)
	if f.Entry == "" || (start == "" && len(c.widgets) > 0) {
		c.add(levelError, "entry", "the flow has no entry point")
		return nil
	}
	if len(c.widgets) == 0 {
		// When what the flow had was refused, the errors above say why.
		if !c.failed {
			c.add(levelError, "", "the flow has nothing to run (no actions or rulesets)")
		}
		return nil
	}
	if !c.ids[start] {
		c.add(levelError, "entry", fmt.Sprintf("entry %s names no action set or ruleset", f.Entry))
		return nil
	}

	doc := map[string]any{
		"id":      c.id,
		"name":    c.flowName,
		"version": flows.FormatVersion,
		"kind":    kind,
		"start":   start,
		"widgets": c.widgets,
	}
	if c.target != "base" && c.target != "" {
		doc["language"] = c.target
	}
	if f.Metadata.Expires > 0 {
		doc["expire_minutes"] = f.Metadata.Expires
	}
	if env := c.o.Environment; env != nil && (env.DateFormat != "" || env.DefaultCountry != "") {
		doc["environment"] = env
	}
	var notes []string
	for _, n := range f.Metadata.Notes {
		notes = append(notes, strings.TrimSpace(strings.TrimSpace(n.Title)+"\n"+n.Body))
	}
	if len(notes) > 0 {
		doc["description"] = strings.Join(notes, "\n\n")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		c.add(levelError, "", "encoding the flow: "+err.Error())
		return nil
	}
	return buf.Bytes()
}

// resolve follows skipped (empty) action sets to a widget id.
func (c *flowConv) resolve(id string) string {
	for i := 0; i < 1000 && id != ""; i++ {
		next, ok := c.alias[id]
		if !ok {
			return id
		}
		id = next
	}
	return ""
}

// dest checks a destination uuid; a dangling one ends the flow, reported.
func (c *flowConv) dest(uuid, where string) string {
	if uuid == "" {
		return ""
	}
	if !c.nodes[uuid] {
		c.add(levelWarning, where, fmt.Sprintf("destination %s is not in the flow: that exit ends the flow", uuid))
		return ""
	}
	return uuid
}

// xlate returns a translator for the flow's templates and expressions,
// which knows what the flow's migrations changed.
func (c *flowConv) xlate() *xlate {
	x := &xlate{}
	if c.mig != nil {
		x.extraResults = c.mig.extraResults
	}
	return x
}

// tmpl translates a template, reporting problems at where.
func (c *flowConv) tmpl(src, where string) string {
	x := c.xlate()
	out := x.template(src)
	c.flush(x, where)
	return out
}

func (c *flowConv) flush(x *xlate, where string) {
	for _, p := range x.probs {
		c.add(p.level, where, p.msg)
	}
}

// langKey returns the key of t holding the chosen language's text, falling
// back to the base language (as RapidPro did for contacts in other languages);
// a text taken from another language than the chosen one is noted, at where,
// for the report (see reportLanguage).
func (c *flowConv) langKey(t translations, where string) (string, bool) {
	if _, ok := t[""]; ok {
		return "", true
	}
	if c.langs == nil {
		c.langs = map[string]bool{}
	}
	for k := range t {
		c.langs[k] = true
	}
	for _, k := range t.langs() {
		if normLang(k) == c.target {
			c.langFound++
			return k, true
		}
	}
	key := ""
	if _, ok := t[c.base]; ok {
		key = c.base
	} else if ls := t.langs(); len(ls) > 0 {
		key = ls[0]
	} else {
		return "", false
	}
	c.fallbacks = append(c.fallbacks, fallback{where, key})
	return key, true
}

// fallback is a text taken from another language (key) than the chosen one.
type fallback struct{ where, key string }

// reportLanguage adds the lines about texts not in the chosen language: with
// --lang, one line when the flow has no text in it at all (its texts are then
// all in the base language, which the flow's language says); otherwise one
// line per text taken from another language.
func (c *flowConv) reportLanguage() {
	if len(c.fallbacks) == 0 {
		return
	}
	if c.o.Lang != "" && c.langFound == 0 {
		var langs []string
		for _, k := range sortedKeys(c.langs) {
			langs = append(langs, fmt.Sprintf("%q", k))
		}
		c.add(levelWarning, "language", fmt.Sprintf("--lang %q: the flow has no text in that language (its texts are in %s): they are taken from %s",
			c.o.Lang, strings.Join(langs, ", "), c.langName(c.base)))
		c.target = normLang(c.base)
		return
	}
	for _, fb := range c.fallbacks {
		msg := fmt.Sprintf("no %q translation: %s is used", c.target, c.langName(fb.key))
		if fb.key == c.base {
			msg += ", as RapidPro used it for contacts of that language"
		}
		c.add(levelInfo, fb.where, msg)
	}
}

// langName names a legacy language key in a report line.
func (c *flowConv) langName(key string) string {
	switch {
	case key == "base":
		return "the base language (which has no language code)"
	case key == c.base:
		return fmt.Sprintf("the base language %q", normLang(key))
	}
	return fmt.Sprintf("%q", normLang(key))
}

// pick returns the chosen language's text of t and the texts of every other
// language keyed by ISO 639-3 code.
func (c *flowConv) pick(t translations, where string) (string, map[string]string) {
	others := map[string]string{}
	key, ok := c.langKey(t, where)
	c.pickedKey = key
	if !ok {
		return "", others
	}
	text := t[key]
	for _, k := range t.langs() {
		if k == key || k == "" {
			continue
		}
		code := normLang(k)
		if code == "base" {
			c.add(levelWarning, where, fmt.Sprintf("the base-language text %q has no language code and cannot be kept as a translation", t[k]))
			continue
		}
		if code != k && !c.renamed[k] {
			c.renamed[k] = true
			msg := fmt.Sprintf("language %q is written %q (ISO 639-3)", k, code)
			// Of three letters, only an ISO 639-2/B code is written anew.
			if lk := strings.ToLower(strings.TrimSpace(k)); len(lk) == 3 && lk != code {
				msg += ", as RapidPro renamed it in version 11.1"
			}
			c.add(levelInfo, where, msg)
		}
		others[code] = t[k]
	}
	return text, others
}

// category returns a rule's category name in the base language: categories
// are the names results are saved with, whatever the contact's language.
// Its translations, which Parley has no place for, are noted for the report.
func (c *flowConv) category(raw json.RawMessage) string {
	t, _ := readTranslations(raw)
	if s, ok := t[""]; ok {
		return s
	}
	for _, k := range []string{c.base, "base"} {
		if s, ok := t[k]; ok {
			c.categoryTranslations(s, k, t)
			return s
		}
	}
	if ls := t.langs(); len(ls) > 0 {
		c.categoryTranslations(t[ls[0]], ls[0], t)
		return t[ls[0]]
	}
	return ""
}

// categoryTranslations notes the translations of category name (the text of
// t under key) that differ from it, once per name.
func (c *flowConv) categoryTranslations(name, key string, t translations) {
	var diff []string
	for _, k := range t.langs() {
		if k != key && k != "" && strings.TrimSpace(t[k]) != "" && t[k] != name {
			diff = append(diff, fmt.Sprintf("%s %q", normLang(k), t[k]))
		}
	}
	if len(diff) == 0 || c.catSeen[name] {
		return
	}
	if c.catSeen == nil {
		c.catSeen = map[string]bool{}
	}
	c.catSeen[name] = true
	c.catDropped = append(c.catDropped, fmt.Sprintf("%q (%s)", name, strings.Join(diff, ", ")))
}

// reportCategories adds the flow's one line about translated category names.
func (c *flowConv) reportCategories() {
	if len(c.catDropped) == 0 {
		return
	}
	c.add(levelWarning, "categories", fmt.Sprintf("category names are kept in the base language only, their translations dropped: %s; "+
		"results and @flow.NAME.category give every contact the base-language name, where RapidPro gave the name in the contact's language",
		strings.Join(c.catDropped, ", ")))
}

// newWidget registers a widget and returns it.
func (c *flowConv) newWidget(id, typ string) map[string]any {
	w := map[string]any{"id": id, "type": typ}
	c.ids[id] = true
	return w
}

// rewriteURL applies the longest matching Options.RewriteURLs prefix.
func (c *flowConv) rewriteURL(u, where string) string {
	best := ""
	for from := range c.o.RewriteURLs {
		if strings.HasPrefix(u, from) && len(from) > len(best) {
			best = from
		}
	}
	if best == "" {
		return u
	}
	out := c.o.RewriteURLs[best] + u[len(best):]
	c.add(levelInfo, where, fmt.Sprintf("webhook URL %s rewritten to %s", u, out))
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
