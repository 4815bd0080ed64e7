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
	// Prefix is what is written before the name: "@flow.", "@results.",
	// "$flow.key.", or "flow." or "results." in an expression.
	Prefix string
}

// Ref is the reference as written, up to the name: "@flow.agee",
// "$flow.key.agee", or "flow.agee" in an expression.
func (r ResultRead) Ref() string { return r.Prefix + r.Name }

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

// UnnamedResult is implemented by a ResultSaver that saves a result only
// when it is given a name for it (a split, a random, a subflow), unlike a
// wait, which saves one under its id: UnnamedResult is true when it has
// none, so that a read of its id can be told why it is empty.
type UnnamedResult interface {
	UnnamedResult() bool
}

// fieldReads are the results one field of a widget reads: the widget's
// id, its path and the field's, relative to it.
type fieldReads struct {
	widget, path, field string
	reads               []ResultRead
}

// unsetReads are warnings (ErrAdvice) for the results f's templates and
// expressions read (reads, in the document's order) that no widget of f
// saves: one for each name read in a field, at the field's path, with the
// saved result's key likely meant, or else where such a result is read
// (@child.NAME after a subflow, @parent.NAME in one). Such a read is empty
// when it runs (a warning event says so) unless the session was started
// with a variable of that name (POST /v1/sessions' variables, a test
// script's, the simulator's): the read is not an error. A calling flow's
// results (@parent.NAME) and a subflow's (@child.NAME) are not looked at:
// which flows those are is not known here. Looking for the name meant
// stops once it has cost budget (a name compared, or a pair of characters
// compared by edit distance): a large flow with many such reads is still
// told of each, past that without the name meant.
func unsetReads(f *Flow, reads []fieldReads, budget int) []*FieldError {
	if len(reads) == 0 {
		return nil
	}
	saved := map[string]bool{}
	var keys savedKeys
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
				keys.add(key)
			}
			if old != "" {
				// A result saved by an earlier version, read by the key
				// that version gave its name (see LookupResult).
				saved[old] = true
			}
		}
	}
	// The widgets that save no result for want of a name, by the key of
	// their id: a read of that key likely meant their result.
	unnamed := map[string]string{}
	for _, w := range f.Widgets {
		if u, ok := widgetAs[UnnamedResult](w); ok && u.UnnamedResult() {
			if id := w.Base().ID; Key(id) != "" && !saved[Key(id)] {
				unnamed[Key(id)] = id
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
			if id := unnamed[Key(r.Name)]; !done && id != "" {
				hint, done = fmt.Sprintf(` (widget %q saves a result only when it has a "result", the result's name)`, id), true
				suggestions[r.Name] = hint
			}
			if !done {
				hint = DidYouMean(keys.nearest(r.Name, &budget))
				suggestions[r.Name] = hint
			}
			switch {
			case hint != "":
			case entersSubflow:
				// Perhaps meant as a result of the subflow, which the
				// flow reads otherwise.
				hint = fmt.Sprintf(" (a subflow's results are %s)", otherRef(r, "child"))
			default:
				// Perhaps meant as a result of the flow that enters this
				// one as a subflow.
				hint = fmt.Sprintf(" (in a subflow, the calling flow's results are %s)", otherRef(r, "parent"))
			}
			out = append(out, &FieldError{Widget: fr.widget, Path: joinPath(fr.path, fr.field), Err: ErrAdvice,
				Message: fmt.Sprintf("%s: no widget of this flow saves a result %q, so it is empty unless the session starts with that variable%s", r.Ref(), r.Name, hint)})
		}
	}
	return out
}

// savedKeys are the keys of the results a flow saves, in the document's
// order, with what Nearest compares of each, made once when first needed.
type savedKeys struct {
	keys, lower, norm []string
}

func (s *savedKeys) add(key string) { s.keys = append(s.keys, key) }

// nearest is Suggestions(name, s.keys), but for a name so short that the
// keys it gives have nothing in common with it ("x" for "y"): none then. It
// takes what it costs from budget, and gives none when that runs out.
func (s *savedKeys) nearest(name string, budget *int) []string {
	if name == "" || *budget <= 0 {
		return nil
	}
	*budget -= len(s.keys)
	if s.lower == nil {
		s.lower, s.norm = make([]string, len(s.keys)), make([]string, len(s.keys))
		for i, k := range s.keys {
			s.lower[i], s.norm[i] = strings.ToLower(k), normalName(k)
		}
	}
	var out []string
	done := func() []string {
		if len(out) > maxSuggestions {
			return nil
		}
		return out
	}
	norm, lname := normalName(name), strings.ToLower(name)
	for i, k := range s.keys {
		if k != name && s.norm[i] == norm {
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return done()
	}
	bestDist := 2
	if len(name) > 4 {
		bestDist = 3
	}
	for i, k := range s.keys {
		l := s.lower[i]
		if k == name || len(l)-len(lname) > bestDist || len(lname)-len(l) > bestDist {
			continue // no closer than the length they differ by
		}
		if *budget -= (len(l) + 1) * (len(lname) + 1); *budget < 0 {
			return nil
		}
		switch d := editDistance(lname, l); {
		case d < bestDist:
			out, bestDist = append(out[:0], k), d
		case d == bestDist && len(out) > 0:
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		for _, k := range out {
			if bestDist >= min(len(lname), len(k)) {
				return nil
			}
		}
		return done()
	}
	if len(norm) < 3 {
		return nil
	}
	for i, k := range s.keys {
		if strings.HasPrefix(s.norm[i], norm) {
			out = append(out, k)
		}
	}
	return done()
}

// otherRef is r as the same name of other's results (child: a subflow's,
// parent: the calling flow's): @flow.x and $flow.key.x are @child.x,
// flow.x in an expression child.x.
func otherRef(r ResultRead, other string) string {
	if strings.HasPrefix(r.Prefix, "@") || strings.HasPrefix(r.Prefix, "$") {
		return "@" + other + "." + r.Name
	}
	return other + "." + r.Name
}
