package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/parleyhq/parley/engine"
)

// turnLimits holds the limits of a turn (and of a session's path) that
// `parley serve` sets with the same flags, so that a flow can be tried under
// a server's settings.
type turnLimits struct {
	maxSteps, maxValue, maxPath int
	maxExprBytes, maxExprItems  int
	turnTimeout                 time.Duration
}

func (l *turnLimits) register(fs *flag.FlagSet) {
	fs.IntVar(&l.maxSteps, "max-steps", engine.DefaultMaxSteps, "maximum widgets run in one turn, as on parley serve")
	fs.IntVar(&l.maxValue, "max-value", engine.DefaultMaxValueBytes, "largest value in `bytes` a template or an expression makes, as on parley serve")
	fs.IntVar(&l.maxExprBytes, "max-expr-bytes", engine.DefaultMaxExprBytes, "most `bytes` one evaluation of an expression makes with its functions and + in all, as on parley serve")
	fs.IntVar(&l.maxExprItems, "max-expr-items", engine.DefaultMaxExprItems, "most list items and map entries one evaluation of an expression builds, and most items its loops go over, as on parley serve")
	fs.IntVar(&l.maxPath, "max-path", engine.DefaultMaxPath, "most steps a session's path keeps (the latest), as on parley serve")
	fs.DurationVar(&l.turnTimeout, "turn-timeout", engine.DefaultTurnTimeout, "time limit of one turn, webhook calls included, as on parley serve")
}

// options checks the limits and gives them as engine options.
func (l *turnLimits) options() ([]engine.Option, error) {
	var errs []error
	if l.maxSteps <= 0 {
		errs = append(errs, fmt.Errorf("--max-steps: %d is not a positive number of steps", l.maxSteps))
	}
	if l.maxValue <= 0 {
		errs = append(errs, fmt.Errorf("--max-value: %d is not a positive number of bytes", l.maxValue))
	}
	if l.maxExprBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-expr-bytes: %d is not a positive number of bytes", l.maxExprBytes))
	}
	if l.maxExprItems <= 0 {
		errs = append(errs, fmt.Errorf("--max-expr-items: %d is not a positive number of items", l.maxExprItems))
	}
	if l.maxPath <= 0 {
		errs = append(errs, fmt.Errorf("--max-path: %d is not a positive number of steps", l.maxPath))
	}
	if l.turnTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--turn-timeout: %s is not a positive duration (30s, 5m)", l.turnTimeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return []engine.Option{engine.WithMaxSteps(l.maxSteps), engine.WithMaxValueBytes(l.maxValue), engine.WithMaxPath(l.maxPath),
		engine.WithMaxExprBytes(l.maxExprBytes), engine.WithMaxExprItems(l.maxExprItems), engine.WithTurnTimeout(l.turnTimeout)}, nil
}
