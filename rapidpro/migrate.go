package rapidpro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// RapidPro does not run an older legacy export as it was written: on import it
// first migrates it to its last legacy version, 11.12 (its
// temba/flows/legacy/migrations.py), and its engine runs the result. Most of
// those steps change nothing a flow does here (uuids, references looked up in
// the workspace, language codes normLang reads either way); the ones below
// change what the flow sends or saves, and are applied to the flow's JSON,
// according to the export's version, before it is converted:
//
//	8     =expressions and |filters of version 7 templates become @(...)
//	9     @extra.flow and @extra.contact (a subflow's parent) become @parent
//	10    a webhook ruleset's rules become Success and Failure, both leading
//	      where its first rule led
//	11.4  @flow.X.text of a result no wait saved becomes @step.value
//	11.5  @flow.X and @flow.X.value of a webhook result become its answer
//	11.7  webhook actions become webhook rulesets: their result is saved as
//	      "Migrated Webhook N"
//	11.10 starting a flow of the export of another kind (voice, messaging)
//	      becomes a trigger-flow action
//
// Each change is an info line of the report, at the action or ruleset it was
// made in.

// migration is what migrating one flow left for its conversion: the report
// lines, and what the converted widgets read differently.
type migration struct {
	// major, minor: the version the flow was migrated from (versioned).
	major, minor int
	versioned    bool
	lines        []migrationLine
	// extraResults maps the slug of each webhook result whose @flow.X RapidPro
	// rewrote as @extra.X in version 11.5 to the result's key: @extra.X is
	// that result's answer.
	extraResults map[string]string
	// apiResults names the result of each webhook action (11.7), keyed by
	// the index of its action set and its own (not its uuid, which an
	// edited export may repeat).
	apiResults map[[2]int]string
}

// migrateFlow migrates one flow of an export (raw) from the version RapidPro
// would (see migrationVersion). read completes it once the flow is decoded.
func migrateFlow(raw, exportVersion json.RawMessage, types flowTypes) (json.RawMessage, *migration) {
	major, minor, ok := migrationVersion(json.RawMessage(gjson.GetBytes(raw, "version").Raw), exportVersion)
	if !ok || before(major, minor, minMajor, 0) || !before(major, minor, maxMajor, maxMinor+1) {
		return raw, &migration{}
	}
	out, m := migrate(raw, major, minor, types)
	m.major, m.minor, m.versioned = major, minor, true
	return out, m
}

// read finds what the migrations make of the decoded flow f.
func (m *migration) read(f *legacyFlow) {
	if m.versioned && before(m.major, m.minor, 11, 7) {
		m.apiResults = apiResults(f, m)
	}
}

type migrationLine struct{ where, msg string }

// migrationVersion is the version a flow is migrated from. RapidPro migrates
// an export by its own version, and each flow by the flow's version only when
// the export is at the last legacy version already (or, here, has none).
func migrationVersion(flowVersion, exportVersion json.RawMessage) (major, minor int, ok bool) {
	major, minor, _, ok = versionOf(exportVersion)
	if ok && before(major, minor, maxMajor, maxMinor) {
		return major, minor, true
	}
	return ownVersion(flowVersion, exportVersion)
}

// ownVersion reads the flow's version, or the export's when the flow has none.
func ownVersion(flowVersion, exportVersion json.RawMessage) (int, int, bool) {
	if len(bytes.TrimSpace(flowVersion)) == 0 {
		flowVersion = exportVersion
	}
	major, minor, _, ok := versionOf(flowVersion)
	return major, minor, ok
}

// before reports whether version major.minor is older than m.n.
func before(major, minor, m, n int) bool {
	return major < m || (major == m && minor < n)
}

// flowTypes maps the uuid of each flow of an export to its flow_type.
type flowTypes map[string]string

// exportFlowTypes reads the flow types of an export's flows.
func exportFlowTypes(raws []json.RawMessage) flowTypes {
	types := flowTypes{}
	for _, raw := range raws {
		if uuid := gjson.GetBytes(raw, "metadata.uuid").String(); uuid != "" {
			types[uuid] = gjson.GetBytes(raw, "flow_type").String()
		}
	}
	return types
}

// migrate applies RapidPro's import migrations that a flow of version
// major.minor is due to its JSON (raw). It returns the migrated JSON, or raw
// itself when nothing applied or raw is not a JSON object.
func migrate(raw json.RawMessage, major, minor int, types flowTypes) (json.RawMessage, *migration) {
	m := &migration{}
	if !before(major, minor, 11, 10) {
		return raw, m
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var flow map[string]any
	if dec.Decode(&flow) != nil || flow == nil {
		return raw, m
	}
	if before(major, minor, 8, 0) {
		m.toV8(flow)
	}
	if before(major, minor, 9, 0) {
		m.toV9(flow)
	}
	if before(major, minor, 10, 0) {
		m.toV10(flow)
	}
	if before(major, minor, 11, 4) {
		m.toV11_4(flow)
	}
	if before(major, minor, 11, 5) {
		m.toV11_5(flow)
	}
	m.toV11_10(flow, types)
	out, err := json.Marshal(flow)
	if err != nil {
		return raw, m
	}
	return out, m
}

// migrated starts the report line of a migration.
func migrated(version string) string {
	return fmt.Sprintf("migrated as RapidPro migrates a flow older than version %s on import", version)
}

func (m *migration) note(where, msg string) {
	m.lines = append(m.lines, migrationLine{where, msg})
}

// change is one rewritten piece of text.
type change struct {
	from, to string
	note     string // why, when the change is not the plain one
}

// noteChanges adds one line for the changes made in one field.
func (m *migration) noteChanges(where, version string, changes []change, why string) {
	if len(changes) == 0 {
		return
	}
	var parts []string
	seen := map[change]bool{}
	for _, c := range changes {
		if seen[c] {
			continue
		}
		seen[c] = true
		part := fmt.Sprintf("%q is read as %q", c.from, c.to)
		if c.note != "" {
			part += " (" + c.note + ")"
		}
		parts = append(parts, part)
	}
	m.note(where, fmt.Sprintf("%s: %s (%s)", migrated(version), strings.Join(parts, ", "), why))
}

// isWordRune is a regular expression's \w as Python reads it in Unicode text.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// Walking the flow's JSON.

func objects(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, x := range list {
		if o, ok := x.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func str(o map[string]any, key string) string {
	s, _ := o[key].(string)
	return s
}

// actionWhere names an action in the report as actionSet does.
func actionWhere(setUUID string, i int, uuid, typ string) string {
	if uuid != "" {
		return fmt.Sprintf("action %s (%s)", uuid, typ)
	}
	return fmt.Sprintf("action_set %s actions[%d]", setUUID, i)
}

// eachAction calls fn with every action of the flow and where it is.
func eachAction(flow map[string]any, fn func(a map[string]any, where string)) {
	for _, as := range objects(flow["action_sets"]) {
		list, _ := as["actions"].([]any)
		for i, x := range list {
			if a, ok := x.(map[string]any); ok {
				fn(a, actionWhere(str(as, "uuid"), i, str(a, "uuid"), str(a, "type")))
			}
		}
	}
}

// rewriteStrings replaces every string in v (recursively) by fn's result;
// path is v's JSON path below its action or ruleset, which fn is given.
func rewriteStrings(v any, path string, fn func(s, path string) string) any {
	switch x := v.(type) {
	case string:
		return fn(x, path)
	case []any:
		for i := range x {
			x[i] = rewriteStrings(x[i], fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			x[k] = rewriteStrings(x[k], p, fn)
		}
	}
	return v
}

// joinWhere appends a field to a node's report location.
func joinWhere(where, field string) string {
	if field == "" {
		return where
	}
	return where + " " + field
}

// Version 8: version 7's =expressions and |filters.

// toV8 migrates the templates of version 7 (=UPPER(contact.name),
// @contact.name|upper_case) to @(...) expressions wherever RapidPro did: every
// text of an action, rule tests, operands and a ruleset's webhook URL.
func (m *migration) toV8(flow map[string]any) {
	fix := func(where string) func(s, path string) string {
		return func(s, path string) string {
			out, changes := migrateV7Template(s)
			m.noteChanges(joinWhere(where, path), "8", changes, "version 7's template syntax")
			return out
		}
	}
	for _, rs := range objects(flow["rule_sets"]) {
		where := "ruleset " + str(rs, "uuid")
		for i, r := range objects(rs["rules"]) {
			if t, ok := r["test"]; ok {
				r["test"] = rewriteStrings(t, fmt.Sprintf("rules[%d].test", i), fix(where))
			}
		}
		for _, k := range []string{"operand", "webhook"} {
			if s, ok := rs[k].(string); ok && s != "" {
				rs[k] = fix(where)(s, k)
			}
		}
	}
	eachAction(flow, func(a map[string]any, where string) {
		rewriteStrings(a, "", fix(where))
	})
}

// v7TopLevels are the names a version 7 template could read.
var v7TopLevels = []string{"channel", "contact", "date", "extra", "flow", "step", "parent", "child"}

func isV7TopLevel(s string) bool {
	for _, t := range v7TopLevels {
		if s == t {
			return true
		}
	}
	return false
}

// v7Filters are version 7's template filters as expressions ({0} the value,
// {1} the filter's argument).
var v7Filters = map[string]string{
	"lower_case":        "LOWER({0})",
	"upper_case":        "UPPER({0})",
	"capitalize":        "PROPER({0})",
	"title_case":        "PROPER({0})",
	"first_word":        "FIRST_WORD({0})",
	"remove_first_word": "REMOVE_FIRST_WORD({0})",
	"read_digits":       "READ_DIGITS({0})",
	"time_delta":        "{0} + {1}",
}

// migrateV7Template rewrites a version 7 template as RapidPro's
// migrate_v7_template does: =expressions first, then |filters. It returns
// the text and what changed.
func migrateV7Template(s string) (string, []change) {
	out := s
	var changes []change
	if strings.Contains(out, "=") {
		out = replaceEqualsStyle(out, &changes)
	}
	if strings.Contains(out, "@") && strings.Contains(out, "|") {
		out = replaceFilterStyle(out, &changes)
	}
	return out, changes
}

// v7FilterExpr matches, after an @, a version 7 variable with filters: a
// dotted name (with a quoted argument to its last filter), or a top-level
// name followed by filters.
var v7FilterExpr = regexp.MustCompile(`^@([\p{L}\p{N}_]+[.][\p{L}\p{N}_.|]*[\p{L}\p{N}_](?::(?:"[^"\n]*"|'[^'\n]*'))?|(?:` +
	strings.Join(v7TopLevels, `|`) + `)[|\p{L}\p{N}_]*)`)

// replaceFilterStyle rewrites @contact.name|upper_case as @(UPPER(contact.name)).
func replaceFilterStyle(s string, changes *[]change) string {
	var b strings.Builder
	prevWord := false
	for i := 0; i < len(s); {
		if s[i] == '@' && !prevWord {
			if loc := v7FilterExpr.FindStringSubmatchIndex(s[i:]); loc != nil {
				expr := s[i+loc[2] : i+loc[3]]
				repl := convertFilterStyle(expr)
				if strings.Contains(expr, "|") {
					repl = "(" + repl + ")"
					*changes = append(*changes, change{from: "@" + expr, to: "@" + repl})
				}
				b.WriteString("@" + repl)
				i += loc[1]
				r, _ := utf8.DecodeLastRuneInString(s[:i])
				prevWord = isWordRune(r)
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+n])
		prevWord = isWordRune(r)
		i += n
	}
	return b.String()
}

// convertFilterStyle turns contact.name|upper_case into UPPER(contact.name);
// filters it does not know are dropped, as RapidPro dropped them.
func convertFilterStyle(expr string) string {
	if !strings.Contains(expr, "|") {
		return expr
	}
	parts := strings.Split(expr, "|")
	out := parts[0]
	for _, f := range parts[1:] {
		name, param := f, ""
		if i := strings.Index(f, ":"); i >= 0 {
			name, param = f[:i], f[i+1:]
			if len(param) >= 2 && (param[0] == '"' || param[0] == '\'') {
				param = param[1 : len(param)-1]
			}
		}
		if r, ok := v7Filters[strings.ToLower(name)]; ok {
			out = strings.ReplaceAll(strings.ReplaceAll(r, "{0}", out), "{1}", param)
		}
	}
	return strings.ReplaceAll(out, "+ -", "- ")
}

// v7Embedded is an @variable (maybe quoted) inside a version 7 =expression.
var v7Embedded = regexp.MustCompile(`"?@((?:` + strings.Join(v7TopLevels, `|`) + `)[.\p{L}\p{N}_|]*)`)

// convertEqualsStyle turns the body of =UPPER(contact) into (UPPER(contact)).
func convertEqualsStyle(expr string) string {
	if !strings.Contains(expr, "(") {
		return expr
	}
	// An @variable inside an =expression worked in version 7 (templates were
	// evaluated twice): it becomes the variable, its quotes dropped.
	var b strings.Builder
	last := 0
	for _, loc := range v7Embedded.FindAllStringSubmatchIndex(expr, -1) {
		b.WriteString(expr[last:loc[0]])
		b.WriteString(convertFilterStyle(expr[loc[2]:loc[3]]))
		last = loc[1]
		if expr[loc[0]] == '"' && last < len(expr) && expr[last] == '"' {
			last++
		}
	}
	b.WriteString(expr[last:])
	out := b.String()
	if !strings.HasPrefix(out, "(") {
		out = "(" + out + ")"
	}
	return out
}

// replaceEqualsStyle rewrites =UPPER(contact.name), =contact.name and
// =(1 + 2) as @(UPPER(contact.name)), @contact.name and @(1 + 2), scanning
// as RapidPro's _replace_equals_style does (an expression still open at the
// end of the text is dropped, as there).
func replaceEqualsStyle(s string, changes *[]change) string {
	const (
		body = iota
		prefix
		identifier
		balanced
		literal
	)
	in := []rune(s)
	var out, cur []rune
	state, depth := body, 0
	isWord := func(i int) bool { return i < len(in) && isWordRune(in[i]) }
	for pos, ch := range in {
		terminated := false
		switch state {
		case body:
			if ch == '=' && (isWord(pos+1) || (pos+1 < len(in) && in[pos+1] == '(')) {
				state = prefix
				cur = []rune{ch}
			} else {
				out = append(out, ch)
			}
		case prefix:
			if isWordRune(ch) {
				state = identifier
			} else if ch == '(' {
				state = balanced
				depth++
			}
			cur = append(cur, ch)
		case identifier:
			if ch == '(' {
				state = balanced
				depth++
			}
			cur = append(cur, ch)
		case balanced:
			switch ch {
			case '(':
				depth++
			case ')':
				depth--
			case '"':
				state = literal
			}
			cur = append(cur, ch)
			if depth == 0 {
				terminated = true
			}
		case literal:
			if ch == '"' {
				state = balanced
			}
			cur = append(cur, ch)
		}
		if state == identifier {
			next := pos + 1
			if next >= len(in) || (!isWord(next) && in[next] != '.' && in[next] != '(') || (in[next] == '.' && !isWord(next+1)) {
				terminated = true
			}
		}
		if terminated {
			expr := string(cur)
			repl := expr
			inner := expr[1:]
			if strings.HasSuffix(inner, ")") || isV7TopLevel(strings.ToLower(strings.SplitN(inner, ".", 2)[0])) {
				repl = "@" + convertEqualsStyle(inner)
				*changes = append(*changes, change{from: expr, to: repl})
			}
			out = append(out, []rune(repl)...)
			cur = nil
			state = body
		}
	}
	if len(cur) > 0 {
		*changes = append(*changes, change{from: string(cur), to: ""})
	}
	return string(out)
}

// Version 9: the parent's values.

var (
	v9ExtraFlow        = regexp.MustCompile(`@extra\.flow`)
	v9ExtraFlowExpr    = regexp.MustCompile(`(?s)(@\(.*?)extra\.flow(.*?\))`)
	v9ExtraContact     = regexp.MustCompile(`@extra\.contact`)
	v9ExtraContactExpr = regexp.MustCompile(`(?s)(@\(.*?)extra\.contact(.*?\))`)
)

// replaceAll replaces until nothing matches, as RapidPro's migration does.
func replaceAll(re *regexp.Regexp, s, repl string) string {
	for i := 0; i < 100 && re.MatchString(s); i++ {
		next := re.ReplaceAllString(s, repl)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// toV9 rewrites @extra.flow (the values a parent flow passed to a subflow) as
// @parent, and @extra.contact as @parent.contact, in every text of the flow.
func (m *migration) toV9(flow map[string]any) {
	fix := func(where string) func(s, path string) string {
		return func(s, path string) string {
			if !strings.Contains(s, "extra.") {
				return s
			}
			out := replaceAll(v9ExtraFlow, s, "@parent")
			out = replaceAll(v9ExtraFlowExpr, out, "${1}parent${2}")
			out = replaceAll(v9ExtraContact, out, "@parent.contact")
			out = replaceAll(v9ExtraContactExpr, out, "${1}parent.contact${2}")
			if out != s {
				m.note(joinWhere(where, path), fmt.Sprintf("%s: %q is read as %q (@extra.flow is the parent flow's results, @parent, and @extra.contact its contact, @parent.contact)", migrated("9"), s, out))
			}
			return out
		}
	}
	for _, rs := range objects(flow["rule_sets"]) {
		rewriteStrings(rs, "", fix("ruleset "+str(rs, "uuid")))
	}
	eachAction(flow, func(a map[string]any, where string) {
		rewriteStrings(a, "", fix(where))
	})
}

// Version 10: webhook outcomes.

// toV10 gives each webhook ruleset the rules RapidPro's version 10 gave it:
// Success and Failure, both leading where its first rule led. Before 10 a
// webhook ruleset did not route by what the webhook answered.
func (m *migration) toV10(flow map[string]any) {
	base := str(flow, "base_language")
	if base == "" {
		base = "base"
	}
	for _, rs := range objects(flow["rule_sets"]) {
		if str(rs, "ruleset_type") != "webhook" {
			continue
		}
		cfg, _ := rs["config"].(map[string]any)
		if cfg == nil {
			cfg = map[string]any{}
			rs["config"] = cfg
		}
		for _, k := range []string{"webhook", "webhook_action"} {
			if v, ok := rs[k]; ok {
				cfg[k] = v
				delete(rs, k)
			}
		}
		rules := objects(rs["rules"])
		if len(rules) == 0 {
			continue
		}
		dest := rules[0]["destination"]
		var dropped []string
		for i, r := range rules {
			t, _ := r["test"].(map[string]any)
			if i > 0 || str(t, "type") != "true" {
				dropped = append(dropped, fmt.Sprintf("rules[%d] (%s)", i, str(t, "type")))
			}
		}
		newRules := []any{}
		for _, status := range []string{"success", "failure"} {
			r := map[string]any{
				"test":        map[string]any{"type": "webhook_status", "status": status},
				"category":    map[string]any{base: strings.ToUpper(status[:1]) + status[1:]},
				"destination": dest,
			}
			if status == "success" {
				r["uuid"] = rules[0]["uuid"]
			}
			newRules = append(newRules, r)
		}
		rs["rules"] = newRules
		msg := fmt.Sprintf("%s: the webhook's rules are Success and Failure, both leading where its first rule led", migrated("10"))
		if len(dropped) > 0 {
			msg += fmt.Sprintf("; %s, which did not route by the webhook's outcome, dropped", strings.Join(dropped, ", "))
		}
		m.note("ruleset "+str(rs, "uuid")+" rules", msg)
	}
}

// Version 11.4: the text of a result no wait saved.

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

// labelSlug is a result name as RapidPro's legacy @flow.X reads it.
func labelSlug(label string) string {
	return notSlug.ReplaceAllString(strings.ToLower(label), "_")
}

// slugPattern is an alternation of slugs, longest first.
func slugPattern(slugs map[string]bool) string {
	list := sortedKeys(slugs)
	sort.SliceStable(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	return strings.Join(list, "|")
}

// msgActions are the actions whose msg RapidPro's template migrations rewrite.
var msgActions = map[string]bool{"reply": true, "send": true, "say": true, "email": true}

// rewriteMsg applies fn to an action's msg, a text or one per language.
func rewriteMsg(a map[string]any, fn func(s, path string) string) {
	switch msg := a["msg"].(type) {
	case string:
		a["msg"] = fn(msg, "msg")
	case map[string]any:
		for _, k := range sortedKeys(msg) {
			if s, ok := msg[k].(string); ok {
				msg[k] = fn(s, "msg."+k)
			}
		}
	}
}

// toV11_4 rewrites @flow.X.text as @step.value in messages where X is the
// result of a ruleset that does not wait (a split, a webhook, a random
// split): RapidPro's engine reads .text of a result as the input of the
// ruleset that saved it, and 11.4 kept such flows sending the last input.
func (m *migration) toV11_4(flow map[string]any) {
	slugs := map[string]bool{}
	for _, rs := range objects(flow["rule_sets"]) {
		typ := str(rs, "ruleset_type")
		if s := labelSlug(str(rs, "label")); s != "" && typ != "" && !strings.HasPrefix(typ, "wait_") {
			slugs[s] = true
		}
	}
	if len(slugs) == 0 {
		return
	}
	re := regexp.MustCompile(`(?i)flow\.(?:` + slugPattern(slugs) + `)\.text`)
	eachAction(flow, func(a map[string]any, where string) {
		if !msgActions[str(a, "type")] {
			return
		}
		rewriteMsg(a, func(s, path string) string {
			var changes []change
			out := re.ReplaceAllStringFunc(s, func(match string) string {
				changes = append(changes, change{from: match, to: "step.value"})
				return "step.value"
			})
			m.noteChanges(joinWhere(where, path), "11.4", changes, "the result of a ruleset that does not wait for a message: RapidPro reads its text as the last input")
			return out
		})
	})
}

// Version 11.5: a webhook result is its answer.

// toV11_5 rewrites @flow.X and @flow.X.value as @extra.X where X is the
// result of a webhook or resthook ruleset (and of no other ruleset) in
// messages, saved values, webhook URLs, operands and rule tests. RapidPro's
// engine reads @extra.X as the JSON that webhook answered, so
// m.extraResults maps X to the result whose answer @extra.X is here.
func (m *migration) toV11_5(flow map[string]any) {
	hooks, others := map[string]string{}, map[string]bool{}
	for _, rs := range objects(flow["rule_sets"]) {
		label := str(rs, "label")
		s := labelSlug(label)
		if s == "" {
			continue
		}
		switch str(rs, "ruleset_type") {
		case "webhook", "resthook":
			hooks[s] = flows.Key(label)
		default:
			others[s] = true
		}
	}
	slugs := map[string]bool{}
	for s, key := range hooks {
		if others[s] {
			continue
		}
		slugs[s] = true
		if m.extraResults == nil {
			m.extraResults = map[string]string{}
		}
		m.extraResults[s] = key
	}
	if len(slugs) == 0 {
		return
	}
	list := sortedKeys(slugs)
	sort.SliceStable(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	fix := func(where string) func(s, path string) string {
		return func(s, path string) string {
			out, changes := replaceWebhookResults(s, list)
			m.noteChanges(joinWhere(where, path), "11.5", changes, "the result of a webhook: RapidPro reads it as the JSON the webhook answered, not its status")
			return out
		}
	}
	eachAction(flow, func(a map[string]any, where string) {
		typ := str(a, "type")
		switch {
		case msgActions[typ]:
			rewriteMsg(a, fix(where))
		case typ == "save":
			if s, ok := a["value"].(string); ok {
				a["value"] = fix(where)(s, "value")
			}
		case typ == "api":
			if s, ok := a["webhook"].(string); ok {
				a["webhook"] = fix(where)(s, "webhook")
			}
		}
	})
	for _, rs := range objects(flow["rule_sets"]) {
		where := "ruleset " + str(rs, "uuid")
		if op, ok := rs["operand"].(string); ok {
			rs["operand"] = fix(where)(op, "operand")
			if rs["operand"] != op && str(rs, "ruleset_type") == "flow_field" {
				rs["ruleset_type"] = "expression"
			}
			for i, r := range objects(rs["rules"]) {
				t, _ := r["test"].(map[string]any)
				if tt, ok := t["test"].(map[string]any); ok {
					for _, k := range sortedKeys(tt) {
						if s, ok := tt[k].(string); ok {
							tt[k] = fix(where)(s, fmt.Sprintf("rules[%d].test.%s", i, k))
						}
					}
				}
			}
		}
		if cfg, ok := rs["config"].(map[string]any); ok {
			if s, ok := cfg["webhook"].(string); ok {
				cfg["webhook"] = fix(where)(s, "config.webhook")
			}
		}
	}
}

// replaceWebhookResults rewrites flow.X and flow.X.value as extra.X for the
// slugs X (longest first), except where a further .name follows (.category,
// .time), as RapidPro's flow\.(X)(\.value)?(?!\.\w) does.
func replaceWebhookResults(s string, slugs []string) (string, []change) {
	if !strings.Contains(strings.ToLower(s), "flow.") {
		return s, nil
	}
	// prefix reports whether p (ASCII) starts s[i:], in any case.
	prefix := func(i int, p string) bool {
		return len(s)-i >= len(p) && strings.EqualFold(s[i:i+len(p)], p)
	}
	followedByName := func(end int) bool {
		if end+1 >= len(s) || s[end] != '.' {
			return false
		}
		r, _ := utf8.DecodeRuneInString(s[end+1:])
		return isWordRune(r)
	}
	var b strings.Builder
	var changes []change
	for i := 0; i < len(s); {
		if prefix(i, "flow.") {
			start := i + len("flow.")
			matched := false
			for _, slug := range slugs {
				if !prefix(start, slug) {
					continue
				}
				end := start + len(slug)
				ends := []int{end}
				if prefix(end, ".value") {
					ends = []int{end + len(".value"), end}
				}
				for _, e := range ends {
					if followedByName(e) {
						continue
					}
					repl := "extra." + s[start:end]
					// RapidPro's pattern has no boundary after the name:
					// a longer name that starts with it (flow.order_number
					// for order) is rewritten too. Name it whole.
					tail := e
					for tail < len(s) {
						r, size := utf8.DecodeRuneInString(s[tail:])
						if !isWordRune(r) {
							break
						}
						tail += size
					}
					if tail > e {
						changes = append(changes, change{s[i:tail], repl + s[e:tail],
							fmt.Sprintf("a longer name that starts with the webhook's %q: RapidPro's migration rewrites it too, so it no longer reads that result", s[start:end])})
					} else {
						changes = append(changes, change{from: s[i:e], to: repl})
					}
					b.WriteString(repl)
					i = e
					matched = true
					break
				}
				if matched {
					break
				}
			}
			if matched {
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), changes
}

// Version 11.7: webhook actions are webhook rulesets.

// apiResults names the result each webhook action of a flow older than 11.7
// saves, keyed by the index of its action set and its own: RapidPro's 11.7
// migration made each a webhook ruleset labelled "Migrated Webhook N",
// numbered through the flow's action sets in order and, within one, from its
// last webhook action up.
func apiResults(f *legacyFlow, m *migration) map[[2]int]string {
	out := map[[2]int]string{}
	n := 0
	for si, as := range f.ActionSets {
		var found []int
		for i, a := range as.Actions {
			if a.Type == "api" {
				found = append(found, i)
			}
		}
		for j := len(found) - 1; j >= 0; j-- {
			n++
			name := fmt.Sprintf("Migrated Webhook %d", n)
			i := found[j]
			out[[2]int{si, i}] = name
			a := as.Actions[i]
			m.note(actionWhere(as.UUID, i, a.UUID, a.Type), fmt.Sprintf("%s: the webhook action is a webhook ruleset labelled %q, so its result is saved as %q", migrated("11.7"), name, name))
		}
	}
	return out
}

// Version 11.10: flows of another kind.

// sameKind reports whether flows of types a and b can start one another as
// subflows (F and M are both messaging).
func sameKind(a, b string) bool {
	msg := func(t string) bool { return t == "F" || t == "M" }
	return a == b || (msg(a) && msg(b))
}

// kindName names a flow type in a report line.
func kindName(t string) string {
	switch t {
	case "F", "M":
		return "a messaging flow"
	case "V":
		return "a voice flow"
	case "S":
		return "a Surveyor flow"
	case "U":
		return "a USSD flow"
	}
	return fmt.Sprintf("a flow of type %q", t)
}

// toV11_10 turns the start of a flow of the export of another kind (a voice
// flow from a messaging one, say) into a trigger-flow action for the contact,
// as RapidPro's 11.10 migration does: a flow action becomes one, and a
// subflow ruleset an action set with one, leading where the ruleset's first
// rule led. A flow without a type is a messaging flow.
func (m *migration) toV11_10(flow map[string]any, types flowTypes) {
	if str(flow, "flow_type") == "" {
		flow["flow_type"] = "M"
	}
	own := str(flow, "flow_type")
	why := func(ref map[string]any) string {
		return fmt.Sprintf("%s: flow %q is %s and this one %s, so starting it is a trigger-flow action, which starts it for the contact apart from this flow",
			migrated("11.10"), str(ref, "name"), kindName(types[str(ref, "uuid")]), kindName(own))
	}
	other := func(ref map[string]any) bool {
		t := types[str(ref, "uuid")]
		return ref != nil && t != "" && !sameKind(t, own)
	}
	eachAction(flow, func(a map[string]any, where string) {
		ref, _ := a["flow"].(map[string]any)
		if str(a, "type") != "flow" || !other(ref) {
			return
		}
		a["type"] = "trigger-flow"
		a["contacts"], a["groups"], a["urns"] = []any{}, []any{}, []any{}
		a["variables"] = []any{map[string]any{"id": "@contact.uuid"}}
		m.note(where, why(ref))
	})
	var keep []any
	for _, rs := range objects(flow["rule_sets"]) {
		cfg, _ := rs["config"].(map[string]any)
		ref, _ := cfg["flow"].(map[string]any)
		if str(rs, "ruleset_type") != "subflow" || !other(ref) {
			keep = append(keep, rs)
			continue
		}
		var dest any
		if rules := objects(rs["rules"]); len(rules) > 0 {
			dest = rules[0]["destination"]
		}
		sets, _ := flow["action_sets"].([]any)
		flow["action_sets"] = append(sets, map[string]any{
			"uuid": rs["uuid"], "x": rs["x"], "y": rs["y"], "destination": dest,
			"actions": []any{map[string]any{"type": "trigger-flow", "flow": ref, "contacts": []any{}, "groups": []any{},
				"urns": []any{}, "variables": []any{map[string]any{"id": "@contact.uuid"}}}},
		})
		m.note("ruleset "+str(rs, "uuid"), why(ref)+"; the ruleset is an action set with that action, leading where its first rule led")
	}
	if keep == nil {
		keep = []any{}
	}
	if _, ok := flow["rule_sets"]; ok || len(keep) > 0 {
		flow["rule_sets"] = keep
	}
}
