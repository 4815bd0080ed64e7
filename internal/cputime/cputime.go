// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation: on a shared machine other work slows an
// operation down (ns/op) but does not add to what it costs.
package cputime

import "time"

// Process returns the user and system CPU time of the whole process (every
// thread) so far, or 0 where the system does not report it.
func Process() time.Duration { return process() }
