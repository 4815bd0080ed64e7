package widgets

import (
	"fmt"
	"math"

	"github.com/parleyhq/parley/flows"
)

// TypeRandom picks one of its exits at random.
const TypeRandom = "random"

// MaxRandomWeight is the most a random widget's weights may add up to, and so
// the most any one of them may be: weights are proportions, and a billion
// parts is finer than any split needs, while the sum stays far from the
// range of an int. A flow stored with more loads with a warning and keeps
// its proportions.
const MaxRandomWeight = 1_000_000_000

// Random splits contacts at random between its buckets (each bucket is an exit),
// optionally weighted. The engine's seed makes the choice reproducible.
type Random struct {
	flows.WidgetBase
	Buckets []string `json:"buckets"`
	Weights []int    `json:"weights,omitempty"`
	// Result, when set, saves the chosen bucket as a result.
	Result string `json:"result,omitempty"`

	// picks are the weights a pick uses: Weights, or for a stored flow whose
	// weights add up past an int's range, the same proportions halved until
	// they fit; total is their sum.
	picks []int
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
		over := false
		for i, n := range w.Weights {
			switch {
			case n < 0:
				errs = append(errs, flows.Errorf(fmt.Sprintf("weights[%d]", i), "weight %d is negative", n))
			case n > MaxRandomWeight:
				errs = append(errs, newRule(flows.Errorf(fmt.Sprintf("weights[%d]", i), "weight %d is over %d, the most a weight may be", n, MaxRandomWeight)))
				over = true
			}
		}
		w.picks = w.Weights
		total, fits := sumWeights(w.picks)
		for !fits {
			// A stored flow's weights that add up past an int's range: the
			// same proportions in halves, until they fit.
			halved := make([]int, len(w.picks))
			for i, n := range w.picks {
				if n > 0 {
					halved[i] = max(n/2, 1)
				}
			}
			w.picks = halved
			total, fits = sumWeights(w.picks)
		}
		w.total = total
		switch {
		case over:
		case w.total > MaxRandomWeight:
			errs = append(errs, newRule(flows.Errorf("weights", "weights add up to more than %d, the most they may add up to", MaxRandomWeight)))
		case w.total == 0:
			errs = append(errs, flows.Errorf("weights", "weights add up to zero"))
		}
	}
	errs = append(errs, checkResult(&w.WidgetBase, w.Result, false))
	return joinErrs(errs)
}

// sumWeights adds up the weights that are not negative; fits is false when
// the sum would not fit in an int.
func sumWeights(weights []int) (total int, fits bool) {
	for _, n := range weights {
		if n <= 0 {
			continue
		}
		if total > math.MaxInt-n {
			return 0, false
		}
		total += n
	}
	return total, true
}

// ResultsSaved: the result, when the split has one.
func (w *Random) ResultsSaved() []string { return optResult(w.Result) }

// UnnamedResult: without a result name it saves none.
func (w *Random) UnnamedResult() bool { return w.Result == "" }

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
		for i, wt := range w.picks {
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
