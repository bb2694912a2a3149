// Package runtime starts targets: as local processes (local.go) or, later,
// as containers. Both give the rest of the pipeline the same Instance.
package runtimes

import (
	"context"
	"errors"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/targets"
)

// Spec is how one target is started.
type Spec struct {
	Plan        cpuset.Plan
	QuotaPeriod time.Duration
	MemoryBytes int64
	// LogPath receives the build's and the server's output.
	LogPath string
	// Name makes cgroup and container names unique to the run.
	Name string
	// Env is the scenario's environment for the target (scenario.Env), on
	// top of the manifest's; PORT, HOST and VCPUS are the runtime's.
	Env map[string]string
}

// Instance is a started target.
type Instance interface {
	// URL is the base URL on loopback, e.g. http://127.0.0.1:41234.
	URL() string
	// Usage reads the target's CPU and memory.
	Usage() sample.Source
	// Done is closed when the target exits; Err then says how.
	Done() <-chan struct{}
	Err() error
	// Pinning says how the CPU budget is enforced, for the record.
	Pinning() string
	// Stop ends the target and everything it started.
	Stop(ctx context.Context) error
}

// HarnessURL is where the harness itself reaches inst for what it asks a
// target directly (the contract check, the GC figures): inst's URL, or,
// for an instance whose URL is only reachable by the loader inside a
// cluster, the local URL it offers.
func HarnessURL(inst Instance) string {
	if l, ok := inst.(interface{ LocalURL() string }); ok {
		return l.LocalURL()
	}
	return inst.URL()
}

// Unpinned reports whether inst runs without the CPU budget it was meant
// to get (a fractional budget with no cgroup to enforce it): figures divided
// by that budget are then per vCPU of nothing. Only the local runtime can
// fail so; a container's budget is the engine's, an external server's is
// what it already has.
func Unpinned(inst Instance) bool {
	u, ok := inst.(interface{ Unpinned() bool })
	return ok && u.Unpinned()
}

// Runtime builds and starts targets.
type Runtime interface {
	Name() string
	// Prepare makes the target runnable (toolchain, build). It returns a
	// *SkipError when the machine lacks what the target needs.
	Prepare(ctx context.Context, m *targets.Manifest, logPath string) error
	Start(ctx context.Context, m *targets.Manifest, spec Spec) (Instance, error)
}

// SkipError marks a target that cannot run here, with the fix.
type SkipError struct{ Missing targets.Missing }

func (e *SkipError) Error() string { return e.Missing.String() }

// IsSkip reports whether err says the target was skipped.
func IsSkip(err error) (*SkipError, bool) {
	var s *SkipError
	ok := errors.As(err, &s)
	return s, ok
}
