package flows

import "testing"

// plainWidget implements Widget alone.
type plainWidget struct{ WidgetBase }

func (w *plainWidget) Base() *WidgetBase       { return &w.WidgetBase }
func (w *plainWidget) Validate(Compiler) error { return nil }
func (w *plainWidget) ExitNames() []string     { return nil }
func (w *plainWidget) Execute(Run) Outcome     { return Outcome{} }

// enterer is a FlowEnterer.
type enterer struct {
	plainWidget
	flow string
}

func (w *enterer) EnteredFlow() string { return w.flow }

// wrapper wraps a widget and implements nothing else.
type wrapper struct{ inner Widget }

func (w *wrapper) Unwrap() Widget            { return w.inner }
func (w *wrapper) Base() *WidgetBase         { return w.inner.Base() }
func (w *wrapper) Validate(c Compiler) error { return w.inner.Validate(c) }
func (w *wrapper) ExitNames() []string       { return w.inner.ExitNames() }
func (w *wrapper) Execute(r Run) Outcome     { return w.inner.Execute(r) }

// enteringWrapper wraps a widget and enters a flow of its own.
type enteringWrapper struct{ wrapper }

func (w *enteringWrapper) EnteredFlow() string { return "wrapper's" }

// widgetAs finds an interface on a widget, else on the widget it wraps,
// one level down, the widget's own first.
func TestWidgetAs(t *testing.T) {
	inner := &enterer{flow: "inner's"}
	tests := []struct {
		name string
		w    Widget
		want string // the flow EnteredFlow gives; "" for not a FlowEnterer
	}{
		{name: "implements it", w: inner, want: "inner's"},
		{name: "implements nothing", w: &plainWidget{}},
		{name: "wraps one that implements it", w: &wrapper{inner: inner}, want: "inner's"},
		{name: "wraps one that does not", w: &wrapper{inner: &plainWidget{}}},
		{name: "implements it and wraps one that does", w: &enteringWrapper{wrapper{inner: inner}}, want: "wrapper's"},
		{name: "implements it and wraps one that does not", w: &enteringWrapper{wrapper{inner: &plainWidget{}}}, want: "wrapper's"},
		{name: "one level only", w: &wrapper{inner: &wrapper{inner: inner}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe, ok := widgetAs[FlowEnterer](tt.w)
			if ok != (tt.want != "") {
				t.Fatalf("widgetAs found a FlowEnterer: %v, want %v", ok, tt.want != "")
			}
			if ok && fe.EnteredFlow() != tt.want {
				t.Errorf("EnteredFlow() = %q, want %q", fe.EnteredFlow(), tt.want)
			}
			if got := EnteredFlow(tt.w); got != tt.want {
				t.Errorf("EnteredFlow(w) = %q, want %q", got, tt.want)
			}
		})
	}
}
