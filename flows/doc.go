// Package flows is Parley's flow model: the types decoded from a flow's JSON, the
// session that runs it, the events a turn produces, and the small interfaces that
// connect the engine to the widgets and to outside services.
//
// A Flow is a graph of widgets joined by named exits. Each widget type lives in
// package widgets and registers itself in a Registry; the engine takes the
// registry as a value and never imports the widget implementations.
//
// The main types:
//   - Flow, WidgetBase, Widget, Resumer: the graph and what a widget must implement.
//   - Registry: widget types by name; Decode turns flow JSON into a Flow, checking
//     it by every rule; DecodeStored loads a flow stored by an earlier version,
//     what only later rules find (ErrNewRule) becoming warnings. DecodeDocument
//     reads other JSON files (webhooks, mocks, test scripts) the same way. A
//     field of the wrong kind is reported and left at its zero value; the
//     widget's Validate still runs, asking WidgetBase.Decoded before a check
//     that value would fail falsely, and a widget whose exits come from such
//     a field (ExitsFrom) has its exit names left unchecked. A widget that
//     belongs in only some kinds of flow (a voice widget) says so with
//     KindChecker; an unknown type or field close to a known one is named
//     with it (Nearest). A field given as JSON null is an error, except
//     where a widget reads it as not given (NullAbsent); a header given as
//     null (NullHeaders) or twice in one object (RepeatedHeaders) is one
//     in every document. A Compiler that implements ReadsReporter tells
//     Decode which results each template and expression reads, and widgets
//     that save results say which (ResultSaver): a read that no widget of
//     the flow saves is a warning (ErrAdvice), since the session's start
//     may give it.
//   - Session, Contact, Call, Result, Frame, Wait, Input: a run's state, plain data
//     that round-trips through JSON so it can be stored and resumed elsewhere.
//   - Event: what a turn did (messages out, results saved, webhook calls, errors).
//   - Run: what a widget sees while it executes (templates, variables, events).
//   - Services: outside calls (webhooks), injected so tests can fake them.
//
// This package imports nothing else of Parley's.
package flows
