package rapidpro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

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
//	11.4  @flow.X.text of a result no wait saved becomes @step.value
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
}

// migrateFlow migrates one flow of an export (raw) from the version RapidPro
// would (see migrationVersion). read completes it once the flow is decoded.
func migrateFlow(raw, exportVersion json.RawMessage) (json.RawMessage, *migration) {
	major, minor, ok := migrationVersion(json.RawMessage(gjson.GetBytes(raw, "version").Raw), exportVersion)
	if !ok || before(major, minor, minMajor, 0) || !before(major, minor, maxMajor, maxMinor+1) {
		return raw, &migration{}
	}
	out, m := migrate(raw, major, minor)
	m.major, m.minor, m.versioned = major, minor, true
	return out, m
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
	return versionOf2(flowVersion, exportVersion)
}

// versionOf2 reads the flow's version, or the export's when the flow has none.
func versionOf2(flowVersion, exportVersion json.RawMessage) (int, int, bool) {
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

// migrate applies RapidPro's import migrations that a flow of version
// major.minor is due to its JSON (raw). It returns the migrated JSON, or raw
// itself when nothing applied or raw is not a JSON object.
func migrate(raw json.RawMessage, major, minor int) (json.RawMessage, *migration) {
	m := &migration{}
	if !before(major, minor, 11, 4) {
		return raw, m
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var flow map[string]any
	if dec.Decode(&flow) != nil || flow == nil {
		return raw, m
	}
	m.toV11_4(flow)
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
type change struct{ from, to string }

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
		parts = append(parts, fmt.Sprintf("%q is read as %q", c.from, c.to))
	}
	m.note(where, fmt.Sprintf("%s: %s (%s)", migrated(version), strings.Join(parts, ", "), why))
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
func rewriteMsg(a map[string]any, where string, fn func(s, path string) string) {
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
		rewriteMsg(a, where, func(s, path string) string {
			var changes []change
			out := re.ReplaceAllStringFunc(s, func(match string) string {
				changes = append(changes, change{match, "step.value"})
				return "step.value"
			})
			m.noteChanges(joinWhere(where, path), "11.4", changes, "the result of a ruleset that does not wait for a message: RapidPro reads its text as the last input")
			return out
		})
	})
}
