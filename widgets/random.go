package widgets

import (
	"fmt"

	"github.com/parleyhq/parley/flows"
)

// TypeRandom picks one of its exits at random.
const TypeRandom = "random"

// Random splits contacts at random between its buckets (each bucket is an exit),
// optionally weighted. The engine's seed makes the choice reproducible.
type Random struct {
	flows.WidgetBase
	Buckets []string `json:"buckets"`
	Weights []int    `json:"weights,omitempty"`
	// Result, when set, saves the chosen bucket as a result.
	Result string `json:"result,omitempty"`

	total int
}

func init() { register(TypeRandom, func() flows.Widget { return &Random{} }) }

// Validate checks buckets and weights.
func (w *Random) Validate(flows.Compiler) error {
	var errs []error
	if len(w.Buckets) < 2 {
		errs = append(errs, flows.Errorf("buckets", "random needs at least two buckets"))
	}
	seen := map[string]bool{}
	for i, b := range w.Buckets {
		if b == "" {
			errs = append(errs, flows.Errorf(fmt.Sprintf("buckets[%d]", i), "bucket %d has no name", i))
			continue
		}
		if seen[b] {
			errs = append(errs, flows.Errorf(fmt.Sprintf("buckets[%d]", i), "bucket %q appears twice", b))
		}
		seen[b] = true
	}
	w.total = len(w.Buckets)
	if len(w.Weights) > 0 {
		if len(w.Weights) != len(w.Buckets) && w.Decoded("buckets") {
			errs = append(errs, flows.Errorf("weights", "%d weights for %d buckets", len(w.Weights), len(w.Buckets)))
		}
		w.total = 0
		for i, n := range w.Weights {
			if n < 0 {
				errs = append(errs, flows.Errorf(fmt.Sprintf("weights[%d]", i), "weight %d is negative", n))
				continue
			}
			w.total += n
		}
		if w.total == 0 {
			errs = append(errs, flows.Errorf("weights", "weights add up to zero"))
		}
	}
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, false))
	return joinErrs(errs)
}

// ExitNames are the buckets.
func (w *Random) ExitNames() []string { return w.Buckets }

// ExitFields: the buckets.
func (w *Random) ExitFields() []string { return []string{"buckets"} }

// Execute picks a bucket.
func (w *Random) Execute(r flows.Run) flows.Outcome {
	n := r.Intn(w.total)
	pick := w.Buckets[len(w.Buckets)-1]
	if len(w.Weights) == 0 {
		pick = w.Buckets[n]
	} else {
		for i, wt := range w.Weights {
			if n < wt {
				pick = w.Buckets[i]
				break
			}
			n -= wt
		}
	}
	if w.Result != "" {
		r.SaveResult(w.Result, pick, pick, "", nil)
	}
	return flows.Outcome{Exit: pick}
}

var (
	_ flows.Widget    = (*Random)(nil)
	_ flows.ExitsFrom = (*Random)(nil)
)
