package rapidpro

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/flows"
	"github.com/tidwall/gjson"
)

// coord is a position on RapidPro's canvas (x, y). It only places the widget
// in an editor, so a value that is not a number is read as 0 (checkFlowJSON
// reports it as a warning) rather than failing the flow.
type coord int

// UnmarshalJSON reads a number, rounded; anything else is 0.
func (c *coord) UnmarshalJSON(data []byte) error {
	var f float64
	if json.Unmarshal(data, &f) != nil || math.IsNaN(f) || math.Abs(f) > 1e9 {
		*c = 0
		return nil
	}
	*c = coord(math.Round(f))
	return nil
}

// jsonProblem is a field of a legacy flow whose JSON is not of the type the
// importer reads; where is its JSON path (flows[0].action_sets[2].actions[0].groups).
type jsonProblem struct {
	level, where, msg string
}

var (
	rawType   = reflect.TypeOf(json.RawMessage(nil))
	coordType = reflect.TypeOf(coord(0))
	// fieldTypes are the types of fields kept raw in the structs and read
	// later: they are checked as what they are read as.
	fieldTypes = map[reflect.Type]map[string]reflect.Type{
		reflect.TypeOf(ruleSet{}): {"config": reflect.TypeOf(rulesetConfig{})},
		reflect.TypeOf(rule{}):    {"test": reflect.TypeOf(ruleTest{})},
	}
)

// checkFlowJSON lists the fields of a legacy flow whose JSON is of another
// type than the importer reads, each with its JSON path under prefix
// ("flows[0]", or "" for a single flow), the action or ruleset it is in and
// what was expected. Positions (x, y) are warnings: they only place widgets
// in an editor.
func checkFlowJSON(raw []byte, prefix string) []jsonProblem {
	var probs []jsonProblem
	v := gjson.ParseBytes(raw)
	if !v.IsObject() {
		// A flow that is not an object (null in an export's list) is no
		// flow at all, where null in a field is the field left out.
		where := prefix
		if where == "" {
			where = "flow"
		}
		return []jsonProblem{{levelError, where, fmt.Sprintf("expected a flow, a JSON object, got JSON %s", jsonKind(v))}}
	}
	checkJSON(v, reflect.TypeOf(legacyFlow{}), prefix, "", &probs)
	return probs
}

// checkJSON checks v against t as encoding/json decodes it: null is any
// type's zero value, unknown keys are ignored, keys match fields in any case.
// owner names the action or ruleset v is in ("action 5c1f... (add_group): ").
func checkJSON(v gjson.Result, t reflect.Type, path, owner string, probs *[]jsonProblem) {
	if v.Type == gjson.Null || t == rawType {
		return
	}
	if t == coordType {
		if v.Type != gjson.Number {
			*probs = append(*probs, jsonProblem{levelWarning, path, fmt.Sprintf("%sthe position is ignored: expected a number, got JSON %s", owner, jsonKind(v))})
		}
		return
	}
	ok := true
	switch t.Kind() {
	case reflect.String:
		ok = v.Type == gjson.String
	case reflect.Bool:
		ok = v.Type == gjson.True || v.Type == gjson.False
	case reflect.Int:
		_, err := strconv.ParseInt(v.Raw, 10, strconv.IntSize)
		ok = v.Type == gjson.Number && err == nil
	case reflect.Slice:
		ok = v.IsArray()
	case reflect.Struct, reflect.Map:
		ok = v.IsObject()
	}
	if !ok {
		*probs = append(*probs, jsonProblem{levelError, path, fmt.Sprintf("%sexpected %s, got JSON %s", owner, flows.JSONKind(t), jsonKind(v))})
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		for i, e := range v.Array() {
			checkJSON(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ownerOf(e, t.Elem(), owner), probs)
		}
	case reflect.Struct:
		v.ForEach(func(k, e gjson.Result) bool {
			if f, ok := fieldOf(t, k.String()); ok {
				ft := f.Type
				if o, ok := fieldTypes[t][strings.ToLower(k.String())]; ok {
					ft = o
				}
				checkJSON(e, ft, joinJSONPath(path, k.String()), owner, probs)
			}
			return true
		})
	}
}

// ownerOf names the action, action set or ruleset v is, for the problems in
// it, or returns owner.
func ownerOf(v gjson.Result, t reflect.Type, owner string) string {
	uuid := v.Get("uuid")
	if uuid.Type != gjson.String || uuid.Str == "" {
		return owner
	}
	switch t {
	case reflect.TypeOf(action{}):
		if typ := v.Get("type"); typ.Type == gjson.String {
			return fmt.Sprintf("action %s (%s): ", uuid.Str, typ.Str)
		}
		return fmt.Sprintf("action %s: ", uuid.Str)
	case reflect.TypeOf(actionSet{}):
		return fmt.Sprintf("action_set %s: ", uuid.Str)
	case reflect.TypeOf(ruleSet{}):
		return fmt.Sprintf("ruleset %s: ", uuid.Str)
	}
	return owner
}

// fieldOf finds the field of struct t that JSON key name fills, as
// encoding/json does: by its json tag or name, in any case.
func fieldOf(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
			if tag == "-" {
				continue
			}
			key = tag
		}
		if strings.EqualFold(key, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// joinJSONPath adds a key to a path: a.b, or a["not a name"].
func joinJSONPath(path, key string) string {
	plain := key != ""
	for i, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			plain = false
		}
	}
	switch {
	case !plain:
		return fmt.Sprintf("%s[%s]", path, strconv.Quote(key))
	case path == "":
		return key
	}
	return path + "." + key
}

func jsonKind(v gjson.Result) string {
	switch {
	case v.Type == gjson.String:
		return "string"
	case v.Type == gjson.Number:
		return "number"
	case v.Type == gjson.True || v.Type == gjson.False:
		return "boolean"
	case v.IsArray():
		return "array"
	case v.IsObject():
		return "object"
	}
	return "null"
}
