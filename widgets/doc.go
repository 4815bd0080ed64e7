// Package widgets holds Parley's widget types, one file each. Every file
// registers its type in init(); Registered returns the full set for the binary to
// hand to the engine.
//
// A widget decodes from its JSON (the fields of flows.WidgetBase plus its own),
// validates and compiles its templates once when the flow loads, and then runs
// through flows.Run. Widget code starts no goroutines and reads time and
// randomness only through Run, so runs are deterministic under test.
package widgets
