package flows

import (
	"fmt"
	"strings"
)

// ResultRead is a result of the running flow that a template or an
// expression reads by its name: @flow.NAME, @results.NAME and
// $flow.key.NAME in a template, flow.NAME and results.NAME in an
// expression, whatever follows (.value, .category, .json.PATH ...).
type ResultRead struct {
	// Name is the result's name as written ("agee" of @flow.agee.value).
	Name string
	// Ref is the reference as written, up to the name: "@flow.agee",
	// "$flow.key.agee", or "flow.agee" in an expression.
	Ref string
}

// ReadsReporter is implemented by a Compiler that can tell which results of
// the flow each template and expression it compiles reads (a ResultRead
// each). ReportingReads returns a Compiler like it, which also calls report
// with the field and the reads of each template or expression that
// compiles (each name once per field; none that is read only where a
// fallback stands in for it, as in default(flow.x.value, 0)). Decode reports
// through it the results a flow reads that none of its widgets saves.
type ReadsReporter interface {
	ReportingReads(report func(field string, reads []ResultRead)) Compiler
}

// ResultSaver is implemented by a widget that saves results of its flow,
// which @flow.NAME reads: ResultsSaved are their names as the widget gives
// them (a result's name, or the widget id it defaults to; a set_variable's
// name in scope flow; the variables of a webhook's mappings).
type ResultSaver interface {
	ResultsSaved() []string
}

// fieldReads are the results one field of a widget reads.
type fieldReads struct {
	widget, path string
	reads        []ResultRead
}

// unsetReads are warnings (ErrAdvice) for the results f's templates and
// expressions read (reads, in the document's order) that no widget of f
// saves: one for each name read in a field, at the field's path, with the
// saved result's key likely meant, or else where such a result is read
// (@child.NAME after a subflow, @parent.NAME in one). Such a read is
// empty when it runs (a
// warning event says so) unless the session was started with a variable of
// that name (POST /v1/sessions' variables, a test script's, the
// simulator's): the read is not an error. A calling flow's results
// (@parent.NAME) and a subflow's (@child.NAME) are not looked at: which
// flows those are is not known here.
// Suggestions stop once comparing names has cost budget (character pairs
// compared): a large flow with many such reads is still told of each.
func unsetReads(f *Flow, reads []fieldReads, budget int) []*FieldError {
	if len(reads) == 0 {
		return nil
	}
	saved := map[string]bool{}
	var keys []string // the saved results' keys, in the document's order
	for _, w := range f.Widgets {
		rs, ok := widgetAs[ResultSaver](w)
		if !ok {
			continue
		}
		for _, n := range rs.ResultsSaved() {
			key, old := Keys(n)
			if key == "" {
				continue
			}
			if !saved[key] {
				saved[key] = true
				keys = append(keys, key)
			}
			if old != "" {
				// A result saved by an earlier version, read by the key
				// that version gave its name (see LookupResult).
				saved[old] = true
			}
		}
	}
	entersSubflow := false
	for _, w := range f.Widgets {
		if EnteredFlow(w) != "" {
			entersSubflow = true
			break
		}
	}
	suggestions := map[string]string{}
	var out []*FieldError
	for _, fr := range reads {
		for _, r := range fr.reads {
			if saved[r.Name] || saved[Key(r.Name)] {
				continue
			}
			hint, done := suggestions[r.Name]
			if !done {
				work := 0
				for _, k := range keys {
					work += (len(r.Name) + 1) * (len(k) + 1)
				}
				if work <= budget {
					budget -= work
					hint = nearestResult(r.Name, keys)
				}
				suggestions[r.Name] = hint
			}
			switch {
			case hint != "":
			case entersSubflow:
				// Perhaps meant as a result of the subflow, which the
				// flow reads otherwise.
				hint = fmt.Sprintf(" (a subflow's results are %s)", otherRef(r.Ref, "child"))
			default:
				// Perhaps meant as a result of the flow that enters this
				// one as a subflow.
				hint = fmt.Sprintf(" (in a subflow, the calling flow's results are %s)", otherRef(r.Ref, "parent"))
			}
			out = append(out, &FieldError{Widget: fr.widget, Path: fr.path, Err: ErrAdvice,
				Message: fmt.Sprintf("%s: no widget of this flow saves a result %q, so it is empty unless the session starts with that variable%s", r.Ref, r.Name, hint)})
		}
	}
	return out
}

// nearestResult is didYouMean among the keys of the results saved, but
// for a name so short that the key suggested would have nothing in common
// with it ("x" for "y").
func nearestResult(name string, keys []string) string {
	n := Nearest(name, keys)
	if n == "" {
		return ""
	}
	if normalName(n) != normalName(name) && editDistance(strings.ToLower(name), strings.ToLower(n)) >= min(len(name), len(n)) {
		return ""
	}
	return ` (did you mean "` + n + `"?)`
}

// otherRef is ref as the same name of other's results (child: a
// subflow's, parent: the calling flow's): @flow.x and $flow.key.x are
// @child.x, flow.x in an expression child.x.
func otherRef(ref, other string) string {
	for _, p := range [...]string{"@flow.", "@results.", "$flow.key."} {
		if name, ok := strings.CutPrefix(ref, p); ok {
			return "@" + other + "." + name
		}
	}
	_, name, _ := strings.Cut(ref, ".")
	return other + "." + name
}
